"""Who a node is, and who it trusts: Ed25519 identities, the cluster key, key files, known_peers.

A node's identity is an Ed25519 signing key; its public key, a :class:`NodeId`, *is* its name on
the wire (a known_peers name is only a label). The cluster key is a shared 32-byte secret from
which the handshake's network key is derived. Secrets never appear in a ``repr`` or a log: key
objects show a short fingerprint, as OpenSSH does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import os
import re
import stat
from collections.abc import Callable, Iterator

import attrs
import nacl.bindings
import nacl.exceptions
import nacl.signing

from ._errors import KeyFileError

__all__ = [
    "ClusterKey",
    "DialAddress",
    "Identity",
    "KnownPeers",
    "NodeId",
    "Peer",
    "load_cluster_key",
    "load_identity",
    "parse_dial_address",
    "write_cluster_key",
    "write_identity",
]

KEY_BYTES = 32
_NODE_ID_PREFIX = "ed25519:"
_BASE64URL_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
_FINGERPRINT_BYTES = 12  # 96 bits, 16 base64 characters: for people to compare, not an identity
_NETWORK_KEY_SALT = b"link-v1"  # hashlib zero-pads a salt shorter than 16 bytes
_NETWORK_KEY_PERSON = b"actorkit-netkey"
_MAX_KEY_FILE_BYTES = 4096
_MAX_KNOWN_PEERS_BYTES = 16 * 1024 * 1024


def _fingerprint(raw: bytes) -> str:
    digest = hashlib.sha256(raw).digest()[:_FINGERPRINT_BYTES]
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


@attrs.frozen(order=True, repr=False)
class NodeId:
    """A node's identity on the wire: its 32-byte Ed25519 public key.

    ``str(node_id)`` is ``ed25519:<base64url, no padding>``, the form used in known_peers and dial
    addresses; :meth:`parse` reads it back. ``repr`` and logs show only :attr:`fingerprint`.
    Node ids are ordered by their bytes (the smaller key keeps a link both nodes dialled).

    Raises:
        ValueError: ``raw`` is not 32 bytes, or not a usable Ed25519 public key (a small-order
            or off-curve point, which no honest node has).
    """

    raw: bytes = attrs.field()
    _x25519: bytes = attrs.field(init=False, eq=False, order=False, hash=False)

    @raw.validator
    def _check_raw(self, _attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if not isinstance(value, bytes) or len(value) != KEY_BYTES:
            raise ValueError(f"a NodeId is {KEY_BYTES} bytes of Ed25519 public key")

    def __attrs_post_init__(self) -> None:
        try:
            x25519 = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(self.raw)
        except nacl.exceptions.CryptoError:
            raise ValueError(
                "not a usable Ed25519 public key (small-order or not on the curve)"
            ) from None
        object.__setattr__(self, "_x25519", x25519)

    @classmethod
    def parse(cls, text: str) -> NodeId:
        """Read a node id from its ``ed25519:<base64url>`` text.

        Raises:
            ValueError: the text is not ``ed25519:`` followed by 43 base64url characters that
                encode a usable Ed25519 public key.
        """
        if not isinstance(text, str) or not text.startswith(_NODE_ID_PREFIX):
            raise ValueError(
                f"a node id looks like 'ed25519:<43 base64url characters>', not {text!r}"
            )
        body = text[len(_NODE_ID_PREFIX) :]
        if not _BASE64URL_KEY.fullmatch(body):
            raise ValueError(
                f"a node id has 43 base64url characters (A-Z a-z 0-9 - _) after 'ed25519:', "
                f"not {body!r}"
            )
        raw = base64.urlsafe_b64decode(body + "=")
        if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != body:
            raise ValueError(f"{text!r} is not the canonical base64url form of a node id")
        return cls(raw)

    @property
    def fingerprint(self) -> str:
        """A short ``SHA256:<base64>`` digest of the key, for logs and for people to compare."""
        return _fingerprint(self.raw)

    @property
    def x25519(self) -> bytes:
        """This key converted to X25519 (``crypto_sign_ed25519_pk_to_curve25519``), for DH."""
        return self._x25519

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            nacl.signing.VerifyKey(self.raw).verify(message, signature)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            return False
        return True

    def __str__(self) -> str:
        return _NODE_ID_PREFIX + base64.urlsafe_b64encode(self.raw).decode("ascii").rstrip("=")

    def __repr__(self) -> str:
        return f"NodeId({self.fingerprint})"


class Identity:
    """A node's long-term Ed25519 signing key; :attr:`public` is its :class:`NodeId`.

    Make one with :meth:`generate`, keep it with :func:`write_identity` and read it back with
    :func:`load_identity`. The secret never leaves the object except into its key file.
    """

    __slots__ = ("_public", "_signing_key", "_x25519_secret")

    def __init__(self, seed: bytes) -> None:
        """Build the identity whose Ed25519 seed is ``seed`` (32 bytes)."""
        if not isinstance(seed, bytes) or len(seed) != KEY_BYTES:
            raise ValueError(f"an identity seed is {KEY_BYTES} bytes")
        self._signing_key = nacl.signing.SigningKey(seed)
        self._public = NodeId(bytes(self._signing_key.verify_key))
        self._x25519_secret = bytes(self._signing_key.to_curve25519_private_key())

    @classmethod
    def generate(cls) -> Identity:
        """A new random identity."""
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public(self) -> NodeId:
        """The public half: this node's id."""
        return self._public

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of ``message``."""
        return self._signing_key.sign(message).signature

    def exchange(self, peer_x25519: bytes) -> bytes:
        """X25519 of this key (as ``crypto_sign_ed25519_sk_to_curve25519``) with a peer's point.

        Raises:
            nacl.exceptions.CryptoError: the point is of small order (the result would be 0).
        """
        return nacl.bindings.crypto_scalarmult(self._x25519_secret, peer_x25519)

    def _seed(self) -> bytes:
        return bytes(self._signing_key)

    def __repr__(self) -> str:
        return f"Identity({self._public.fingerprint})"


class ClusterKey:
    """The cluster's shared secret S (32 random bytes): only nodes holding it can even connect.

    The handshake uses :attr:`network_key`, K = BLAKE2b-256(key=S, salt="link-v1",
    person="actorkit-netkey"), which binds the protocol version into K.
    """

    __slots__ = ("_network_key", "_secret")

    def __init__(self, secret: bytes) -> None:
        """Wrap the 32-byte cluster secret ``secret``."""
        if not isinstance(secret, bytes) or len(secret) != KEY_BYTES:
            raise ValueError(f"a cluster key is {KEY_BYTES} bytes")
        self._secret = secret
        self._network_key = hashlib.blake2b(
            b"", digest_size=32, key=secret, salt=_NETWORK_KEY_SALT, person=_NETWORK_KEY_PERSON
        ).digest()

    @classmethod
    def generate(cls) -> ClusterKey:
        """A new random cluster key."""
        return cls(os.urandom(KEY_BYTES))

    @property
    def network_key(self) -> bytes:
        """K, the 32-byte network key the handshake MACs with (secret: never log it)."""
        return self._network_key

    def __repr__(self) -> str:
        return "ClusterKey(<secret>)"


# Key files ---------------------------------------------------------------------------------


def _write_secret(path: str | os.PathLike[str], raw: bytes) -> None:
    shown = os.fspath(path)
    try:
        fd = os.open(shown, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise KeyFileError(
            f"{shown} already exists; refusing to overwrite a key (remove it first, or choose "
            "another path)",
            shown,
        ) from None
    except OSError as exc:
        raise KeyFileError(f"cannot create {shown}: {exc.strerror}", shown) from exc
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(base64.b64encode(raw) + b"\n")
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(shown)
        raise


def _check_opened(fd: int, shown: str, what: str, forbidden: int, rule: str, fix: str) -> None:
    """Refuse an opened ``what`` file that is not a regular file, or whose mode has any of the
    ``forbidden`` bits. (The open file is checked, not the path: the file checked is the file
    read.)"""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"the {what} file {shown} is not a regular file", shown)
    mode = stat.S_IMODE(info.st_mode)
    if mode & forbidden:
        raise KeyFileError(
            f"permissions {mode:04o} for the {what} file {shown} are too open: it must not be "
            f"{rule}; run `{fix} {shown}`",
            shown,
        )


def _read_secret(path: str | os.PathLike[str], what: str) -> bytes:
    shown = os.fspath(path)
    try:
        fd = os.open(shown, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"no {what} file at {shown}", shown) from None
    except OSError as exc:
        raise KeyFileError(f"cannot open the {what} file {shown}: {exc.strerror}", shown) from exc
    try:
        _check_opened(fd, shown, what, 0o077, "accessible by group or others", "chmod 600")
        data = b""
        while len(data) <= _MAX_KEY_FILE_BYTES and (chunk := os.read(fd, 1024)):
            data += chunk
    finally:
        os.close(fd)
    malformed = KeyFileError(
        f"the {what} file {shown} is malformed: it must hold one base64 line of {KEY_BYTES} bytes",
        shown,
    )
    lines = data.splitlines()
    if len(data) > _MAX_KEY_FILE_BYTES or len(lines) != 1:
        raise malformed
    try:
        raw = base64.b64decode(lines[0].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise malformed from None
    if len(raw) != KEY_BYTES:
        raise malformed
    return raw


def write_identity(path: str | os.PathLike[str], identity: Identity | None = None) -> Identity:
    """Write ``identity`` (a new one by default) to a new key file at ``path``, mode 0600.

    The file holds the Ed25519 seed as one base64 line. It is created with ``O_CREAT|O_EXCL``,
    so an existing file, or a symlink, is never overwritten.

    Raises:
        KeyFileError: ``path`` exists, or cannot be created.
    """
    identity = Identity.generate() if identity is None else identity
    _write_secret(path, identity._seed())
    return identity


def load_identity(path: str | os.PathLike[str]) -> Identity:
    """Read the identity written by :func:`write_identity`.

    Raises:
        KeyFileError: the file is missing, not a regular file, readable or writable by group or
            others (the message says which ``chmod`` fixes it), or not one base64 line of 32 bytes.
    """
    return Identity(_read_secret(path, "identity"))


def write_cluster_key(path: str | os.PathLike[str], key: ClusterKey | None = None) -> ClusterKey:
    """Write ``key`` (a new random one by default) to a new key file at ``path``, mode 0600.

    Raises:
        KeyFileError: ``path`` exists, or cannot be created.
    """
    key = ClusterKey.generate() if key is None else key
    _write_secret(path, key._secret)
    return key


def load_cluster_key(path: str | os.PathLike[str]) -> ClusterKey:
    """Read the cluster key written by :func:`write_cluster_key`.

    Raises:
        KeyFileError: as :func:`load_identity`.
    """
    return ClusterKey(_read_secret(path, "cluster key"))


# Addresses ---------------------------------------------------------------------------------

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})")


def _parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` to ``(host, port)``; an IPv6 host is written in brackets, ``[::1]:80``."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError(f"expected [IPV6]:PORT, not {text!r}")
        host, port_text = text[1:end], text[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in {text!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"expected HOST:PORT, not {text!r}")
        if ":" in host:
            raise ValueError(f"an IPv6 host goes in brackets, as in [::1]:PORT, not {text!r}")
        if not _HOSTNAME.fullmatch(host):
            raise ValueError(f"{host!r} in {text!r} is not a host name or IPv4 address")
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"the port in {text!r} must be a number from 1 to 65535")
    return host, int(port_text)


def _format_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@attrs.frozen
class DialAddress:
    """Where to reach a node and which key it must prove it holds: ``tcp://host:port#ed25519:KEY``."""

    host: str
    port: int
    node_id: NodeId

    def __str__(self) -> str:
        return f"tcp://{_format_host_port(self.host, self.port)}#{self.node_id}"


def parse_dial_address(text: str) -> DialAddress:
    """Read a dial address, ``tcp://HOST:PORT#ed25519:KEY`` (``tcp://[::1]:7000#...`` for IPv6).

    Raises:
        ValueError: the text is not of that form; the message says which part is wrong.
    """
    scheme, sep, rest = text.partition("://")
    if not sep or scheme != "tcp":
        raise ValueError(f"a dial address looks like tcp://HOST:PORT#ed25519:KEY, not {text!r}")
    where, sep, key = rest.partition("#")
    if not sep:
        raise ValueError(
            f"the dial address {text!r} has no '#ed25519:KEY': it must name the node's key"
        )
    host, port = _parse_host_port(where)
    return DialAddress(host, port, NodeId.parse(key))


# known_peers -------------------------------------------------------------------------------

_PEER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_EXPOSED_NAME = re.compile(r"[^\s,#=]+")


@attrs.frozen
class Peer:
    """One known_peers entry: a label, the key that is the peer, its address, what it may reach.

    ``addr`` is ``(host, port)`` or ``None``; ``expose`` is the set of actor names this node
    exports to that peer.
    """

    name: str
    node_id: NodeId
    addr: tuple[str, int] | None = None
    expose: frozenset[str] = frozenset()


@attrs.frozen
class KnownPeers:
    """The allowlist: the peers this node accepts, and the keys it refuses (``@revoked``).

    The file has one entry a line, ``#`` starting a comment::

        # NAME   KEY                       options
        billing  ed25519:3q2-7w...         addr=10.0.0.7:7000 expose=invoices,ledger
        @revoked ed25519:Zm9vYmFy...

    A revoked key is never returned by :meth:`get`, even if a peer line also lists it.
    """

    peers: tuple[Peer, ...] = ()
    revoked: frozenset[NodeId] = frozenset()
    _by_id: dict[NodeId, Peer] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        by_id = {peer.node_id: peer for peer in self.peers if peer.node_id not in self.revoked}
        object.__setattr__(self, "_by_id", by_id)

    @classmethod
    def parse(cls, text: str, *, source: str = "<known_peers>") -> KnownPeers:
        """Read known_peers text; ``source`` names it in error messages.

        Raises:
            KeyFileError: a line is malformed or repeats a key or a name; the message gives the
                line number.
        """
        peers: list[Peer] = []
        revoked: set[NodeId] = set()
        key_lines: dict[NodeId, int] = {}
        name_lines: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            tokens = line.split()
            for index, token in enumerate(tokens):
                if token.startswith("#"):
                    del tokens[index:]
                    break
            if not tokens:
                continue

            def fail(problem: str, number: int = number) -> KeyFileError:
                return KeyFileError(f"{source} line {number}: {problem}", source)

            if tokens[0].startswith("@"):
                if tokens[0] != "@revoked" or len(tokens) != 2:
                    raise fail(f"expected '@revoked ed25519:KEY', not {line.strip()!r}")
                revoked.add(_parse_key(tokens[1], fail))
                continue
            if len(tokens) < 2:
                raise fail("expected 'NAME ed25519:KEY [addr=HOST:PORT] [expose=A,B]'")
            name = tokens[0]
            if not _PEER_NAME.fullmatch(name):
                raise fail(
                    f"the peer name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit"
                )
            node_id = _parse_key(tokens[1], fail)
            options: dict[str, str] = {}
            for token in tokens[2:]:
                option, sep, value = token.partition("=")
                if not sep or option not in {"addr", "expose"}:
                    raise fail(f"unknown option {token!r}; the options are addr= and expose=")
                if option in options:
                    raise fail(f"{option}= is given twice")
                options[option] = value
            addr = None
            if "addr" in options:
                try:
                    addr = _parse_host_port(options["addr"])
                except ValueError as exc:
                    raise fail(f"bad addr=: {exc}") from None
            expose: frozenset[str] = frozenset()
            if "expose" in options:
                names = options["expose"].split(",")
                if not all(_EXPOSED_NAME.fullmatch(item) for item in names):
                    raise fail(
                        f"expose= wants comma-separated actor names, not {options['expose']!r}"
                    )
                expose = frozenset(names)
            if node_id in key_lines:
                raise fail(f"this key is already listed on line {key_lines[node_id]}")
            if name in name_lines:
                raise fail(f"the name {name!r} is already used on line {name_lines[name]}")
            key_lines[node_id] = name_lines[name] = number
            peers.append(Peer(name, node_id, addr, expose))
        return cls(tuple(peers), frozenset(revoked))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KnownPeers:
        """Read a known_peers file.

        Raises:
            KeyFileError: the file is missing, writable by group or others (anyone who can edit
                it can add a peer; the message gives the ``chmod``), or malformed.
        """
        shown = os.fspath(path)
        try:
            with open(shown, "rb") as file:
                _check_opened(
                    file.fileno(),
                    shown,
                    "known_peers",
                    0o022,
                    "writable by group or others",
                    "chmod go-w",
                )
                data = file.read(_MAX_KNOWN_PEERS_BYTES + 1)
        except FileNotFoundError:
            raise KeyFileError(f"no known_peers file at {shown}", shown) from None
        except OSError as exc:
            raise KeyFileError(
                f"cannot read the known_peers file {shown}: {exc.strerror}", shown
            ) from exc
        if len(data) > _MAX_KNOWN_PEERS_BYTES:
            raise KeyFileError(f"the known_peers file {shown} is larger than 16 MiB", shown)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFileError(f"the known_peers file {shown} is not UTF-8 text", shown) from None
        return cls.parse(text, source=shown)

    def get(self, node_id: NodeId) -> Peer | None:
        """The peer whose key is ``node_id``, or ``None`` if it is unknown or revoked."""
        return self._by_id.get(node_id)

    def is_allowed(self, node_id: NodeId) -> bool:
        """Whether ``node_id`` may connect: listed, and not revoked (fits ``server_handshake``)."""
        return node_id in self._by_id

    def is_revoked(self, node_id: NodeId) -> bool:
        """Whether ``node_id`` is on an ``@revoked`` line."""
        return node_id in self.revoked

    def by_name(self, name: str) -> Peer | None:
        """The allowed peer labelled ``name``, or ``None``."""
        return next((peer for peer in self._by_id.values() if peer.name == name), None)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._by_id

    def __iter__(self) -> Iterator[Peer]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def _parse_key(token: str, fail: Callable[[str], KeyFileError]) -> NodeId:
    try:
        return NodeId.parse(token)
    except ValueError as exc:
        raise fail(str(exc)) from None
