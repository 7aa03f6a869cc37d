"""Secret Handshake v1 over a Trio stream, and session keys bound to its whole transcript.

The four messages are SHS v1's, byte for byte (see docs/design/link-protocol.md), so that
independent SHS implementations can check ours (tests/vectors/shs1.json). Each step is also a
pure function (:func:`msg1` … :func:`verify_msg4`, :func:`session_keys`) that tests and vectors
drive without sockets; :func:`client_handshake` and :func:`server_handshake` run them over a
stream. Names follow SHS: ``a``/``b`` are the initiator's and responder's ephemeral X25519 keys,
``A``/``B`` their long-term Ed25519 keys, and the three Diffie-Hellman results are
``ee`` = DH(a, b), ``es`` = DH(a, B), ``se`` = DH(A, b).

Every failure, whatever raised it, leaves as one :class:`HandshakeError`; the stream is then
closed. Deadlines are the caller's: wrap a handshake in ``trio.fail_after(HANDSHAKE_TIMEOUT)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable, Iterator

import attrs
import nacl.bindings
import nacl.exceptions
import nacl.public
import trio

from .._logging import logger
from ._errors import HandshakeError
from ._identity import Identity, NodeId

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "MSG1_BYTES",
    "MSG2_BYTES",
    "MSG3_BYTES",
    "MSG4_BYTES",
    "HandshakeSecrets",
    "SessionKeys",
    "agree",
    "client_handshake",
    "msg1",
    "msg2",
    "msg3",
    "msg4",
    "server_handshake",
    "session_keys",
    "verify_msg1",
    "verify_msg2",
    "verify_msg3",
    "verify_msg4",
]

#: The default deadline, in seconds, that a caller should give one whole handshake.
HANDSHAKE_TIMEOUT = 10.0

MSG1_BYTES = 64  # hmac_K(a) ‖ a
MSG2_BYTES = 64  # hmac_K(b) ‖ b
MSG3_BYTES = 112  # box(sigA ‖ A): 16 + 64 + 32
MSG4_BYTES = 80  # box(sigB): 16 + 64
_KEY_BYTES = 32
_SIGNATURE_BYTES = 64
_ZERO_NONCE = bytes(24)  # every box key is used for exactly one box
_TRANSCRIPT_BYTES = MSG1_BYTES + MSG2_BYTES + MSG3_BYTES + MSG4_BYTES
_PERSON_I2R = b"actorkit-i2r"
_PERSON_R2I = b"actorkit-r2i"

# PyNaCl's errors subclass CryptoError, but some bindings raise the builtin ValueError or
# TypeError for bad lengths: all of them mean "the peer sent garbage".
_CRYPTO_FAILURES = (nacl.exceptions.CryptoError, ValueError, TypeError, RuntimeError)


@contextlib.contextmanager
def _failures_become(reason: str, peer: NodeId | None = None) -> Iterator[None]:
    try:
        yield
    except _CRYPTO_FAILURES as exc:
        raise HandshakeError(f"{reason} ({type(exc).__name__})", peer) from exc


def _hmac(key: bytes, message: bytes) -> bytes:
    # libsodium's crypto_auth: HMAC-SHA-512 truncated to 32 bytes.
    return hmac.new(key, message, hashlib.sha512).digest()[:32]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _check_key(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != _KEY_BYTES:
        raise HandshakeError(f"{name} must be {_KEY_BYTES} bytes")


@attrs.frozen(repr=False, eq=False)
class SessionKeys:
    """The two secretstream keys of a link, from one side's point of view; repr hides them.

    ``tx`` encrypts what this side sends, ``rx`` decrypts what it receives: the initiator's
    ``tx`` is the responder's ``rx``.
    """

    tx: bytes
    rx: bytes

    def __repr__(self) -> str:
        return "SessionKeys(<secret>)"


@attrs.frozen(repr=False, eq=False)
class HandshakeSecrets:
    """What both sides know once msg3 is through: both keys, the DH results, the client's proof.

    Secret: its repr names only the two fingerprints.
    """

    network_key: bytes
    client_id: NodeId
    server_id: NodeId
    ee: bytes
    es: bytes
    se: bytes
    client_signature: bytes

    @property
    def msg3_key(self) -> bytes:
        """SHS's box key for msg3: sha256(K ‖ ab ‖ aB)."""
        return _sha256(self.network_key + self.ee + self.es)

    @property
    def msg4_key(self) -> bytes:
        """SHS's box key for msg4: sha256(K ‖ ab ‖ aB ‖ Ab)."""
        return _sha256(self.network_key + self.ee + self.es + self.se)

    def __repr__(self) -> str:
        return (
            f"HandshakeSecrets(client={self.client_id.fingerprint}, "
            f"server={self.server_id.fingerprint})"
        )


# The steps, as pure functions --------------------------------------------------------------


def _challenge(network_key: bytes, ephemeral_public: bytes) -> bytes:
    _check_key("the network key", network_key)
    _check_key("an ephemeral public key", ephemeral_public)
    return _hmac(network_key, ephemeral_public) + ephemeral_public


def _open_challenge(network_key: bytes, message: bytes, which: str) -> bytes:
    _check_key("the network key", network_key)
    if not isinstance(message, bytes) or len(message) != MSG1_BYTES:
        raise HandshakeError(f"{which} must be {MSG1_BYTES} bytes")
    mac, ephemeral_public = message[:32], message[32:]
    if not hmac.compare_digest(mac, _hmac(network_key, ephemeral_public)):
        raise HandshakeError(f"{which} has a bad MAC (a different network key, or not a peer)")
    return ephemeral_public


def msg1(network_key: bytes, ephemeral_public: bytes) -> bytes:
    """The initiator's hello, ``hmac_K(a) ‖ a`` (64 bytes)."""
    return _challenge(network_key, ephemeral_public)


def verify_msg1(network_key: bytes, message: bytes) -> bytes:
    """Check msg1's MAC and return the initiator's ephemeral public key ``a``.

    This is all a stranger can make the responder do: one HMAC, before any key is made.

    Raises:
        HandshakeError: the MAC does not match (another network key), or the length is wrong.
    """
    return _open_challenge(network_key, message, "msg1")


def msg2(network_key: bytes, ephemeral_public: bytes) -> bytes:
    """The responder's hello, ``hmac_K(b) ‖ b`` (64 bytes)."""
    return _challenge(network_key, ephemeral_public)


def verify_msg2(network_key: bytes, message: bytes) -> bytes:
    """Check msg2's MAC and return the responder's ephemeral public key ``b``.

    Raises:
        HandshakeError: as :func:`verify_msg1`.
    """
    return _open_challenge(network_key, message, "msg2")


def agree(ephemeral: nacl.public.PrivateKey, peer_ephemeral: bytes) -> bytes:
    """``ee`` = DH(own ephemeral, peer's ephemeral).

    Raises:
        HandshakeError: the peer's key is of small order (the result would be all zeros), or it
            is our own key echoed back.
    """
    own = ephemeral.public_key.encode()
    if hmac.compare_digest(own, peer_ephemeral):
        raise HandshakeError("the peer echoed our own ephemeral key")
    with _failures_become("the peer's ephemeral key is unusable (small order?)"):
        return nacl.bindings.crypto_scalarmult(ephemeral.encode(), peer_ephemeral)


def _client_proof(network_key: bytes, server_id: NodeId, ee: bytes) -> bytes:
    return network_key + server_id.raw + _sha256(ee)


def _server_proof(network_key: bytes, signature: bytes, client_id: NodeId, ee: bytes) -> bytes:
    return network_key + signature + client_id.raw + _sha256(ee)


def msg3(
    network_key: bytes,
    identity: Identity,
    server_id: NodeId,
    ephemeral: nacl.public.PrivateKey,
    server_ephemeral: bytes,
    ee: bytes,
) -> tuple[bytes, HandshakeSecrets]:
    """The initiator's proof, ``box[sha256(K‖ab‖aB)](sign_A(K ‖ B ‖ sha256(ab)) ‖ A)``.

    Returns msg3 (112 bytes) and the secrets :func:`verify_msg4` and :func:`session_keys` need.

    Raises:
        HandshakeError: a DH result is unusable.
    """
    with _failures_become("cannot agree with the server's keys"):
        es = nacl.bindings.crypto_scalarmult(ephemeral.encode(), server_id.x25519)
        se = identity.exchange(server_ephemeral)
    signature = identity.sign(_client_proof(network_key, server_id, ee))
    secrets = HandshakeSecrets(network_key, identity.public, server_id, ee, es, se, signature)
    box = nacl.bindings.crypto_secretbox(
        signature + identity.public.raw, _ZERO_NONCE, secrets.msg3_key
    )
    return box, secrets


def verify_msg3(
    network_key: bytes,
    identity: Identity,
    ephemeral: nacl.public.PrivateKey,
    client_ephemeral: bytes,
    ee: bytes,
    message: bytes,
) -> HandshakeSecrets:
    """Open msg3 and check the initiator's signature; ``client_id`` of the result is who it is.

    Whether that key is *allowed* is the caller's check, made next.

    Raises:
        HandshakeError: the box does not open (not for us, or tampered), the key is unusable,
            or the signature is wrong.
    """
    if not isinstance(message, bytes) or len(message) != MSG3_BYTES:
        raise HandshakeError(f"msg3 must be {MSG3_BYTES} bytes")
    with _failures_become("msg3 does not open (tampered, or meant for another server key)"):
        es = identity.exchange(client_ephemeral)
        key = _sha256(network_key + ee + es)
        hello = nacl.bindings.crypto_secretbox_open(message, _ZERO_NONCE, key)
    signature, client_key = hello[:_SIGNATURE_BYTES], hello[_SIGNATURE_BYTES:]
    with _failures_become("msg3 carries an unusable client key"):
        client_id = NodeId(client_key)
    if not client_id.verify(_client_proof(network_key, identity.public, ee), signature):
        raise HandshakeError("msg3's signature does not verify", client_id)
    with _failures_become("the client's key is unusable", client_id):
        se = nacl.bindings.crypto_scalarmult(ephemeral.encode(), client_id.x25519)
    return HandshakeSecrets(network_key, client_id, identity.public, ee, es, se, signature)


def msg4(identity: Identity, secrets: HandshakeSecrets) -> bytes:
    """The responder's proof, ``box[sha256(K‖ab‖aB‖Ab)](sign_B(K ‖ sigA ‖ A ‖ sha256(ab)))``."""
    signature = identity.sign(
        _server_proof(secrets.network_key, secrets.client_signature, secrets.client_id, secrets.ee)
    )
    return nacl.bindings.crypto_secretbox(signature, _ZERO_NONCE, secrets.msg4_key)


def verify_msg4(secrets: HandshakeSecrets, message: bytes) -> None:
    """Open msg4 and check that the expected server signed this handshake.

    Raises:
        HandshakeError: the box does not open or the signature is wrong: the other side does
            not hold the key we dialled.
    """
    if not isinstance(message, bytes) or len(message) != MSG4_BYTES:
        raise HandshakeError(f"msg4 must be {MSG4_BYTES} bytes")
    with _failures_become("msg4 does not open (wrong server key, or tampered)"):
        signature = nacl.bindings.crypto_secretbox_open(message, _ZERO_NONCE, secrets.msg4_key)
    proof = _server_proof(
        secrets.network_key, secrets.client_signature, secrets.client_id, secrets.ee
    )
    if not secrets.server_id.verify(proof, signature):
        raise HandshakeError("msg4's signature does not verify", secrets.server_id)


def session_keys(secrets: HandshakeSecrets, transcript: bytes, *, initiator: bool) -> SessionKeys:
    """The link's keys, bound to the whole transcript ``m1‖m2‖m3‖m4`` and both public keys.

    th = BLAKE2b-512(transcript); ms = BLAKE2b-256(th ‖ A ‖ B, key=sha256(sha256(K‖ab‖aB‖Ab)));
    k_i2r / k_r2i = BLAKE2b-256("i2r" / "r2i", key=ms), each personalised. Binding the
    transcript closes SHS v1's malleability (X25519 ignores a public key's top bit).
    """
    if len(transcript) != _TRANSCRIPT_BYTES:
        raise HandshakeError(f"the transcript must be {_TRANSCRIPT_BYTES} bytes")
    th = hashlib.blake2b(transcript, digest_size=64).digest()
    master = hashlib.blake2b(
        th + secrets.client_id.raw + secrets.server_id.raw,
        digest_size=32,
        key=_sha256(secrets.msg4_key),
    ).digest()
    i2r = hashlib.blake2b(b"i2r", digest_size=32, key=master, person=_PERSON_I2R).digest()
    r2i = hashlib.blake2b(b"r2i", digest_size=32, key=master, person=_PERSON_R2I).digest()
    return SessionKeys(tx=i2r, rx=r2i) if initiator else SessionKeys(tx=r2i, rx=i2r)


# Over a stream ---------------------------------------------------------------------------------


async def _send(stream: trio.abc.Stream, data: bytes, what: str) -> None:
    try:
        await stream.send_all(data)
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        raise HandshakeError(f"the connection broke while sending {what}") from exc


async def _receive_exactly(stream: trio.abc.Stream, count: int, what: str) -> bytes:
    # Ask for no more than is missing, so bytes after the handshake stay in the stream.
    data = bytearray()
    while len(data) < count:
        try:
            chunk = await stream.receive_some(count - len(data))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise HandshakeError(f"the connection broke while receiving {what}") from exc
        if not chunk:
            raise HandshakeError(
                f"the peer closed the connection during {what} ({len(data)} of {count} bytes)"
            )
        data += chunk
    return bytes(data)


def _check_allowed(is_allowed: Callable[[NodeId], bool], peer: NodeId) -> None:
    try:
        allowed = is_allowed(peer)
    except Exception as exc:  # a broken allowlist must not kill the listener
        raise HandshakeError("is_allowed raised an exception", peer) from exc
    if not allowed:
        raise HandshakeError("the client's key is not allowed", peer)


def _check_network_key(network_key: bytes) -> None:
    if not isinstance(network_key, bytes) or len(network_key) != _KEY_BYTES:
        raise ValueError("network_key must be the 32-byte ClusterKey.network_key")


async def client_handshake(
    stream: trio.abc.Stream, identity: Identity, server_id: NodeId, network_key: bytes
) -> SessionKeys:
    """Run the initiator's side of the handshake on ``stream``, dialling the node ``server_id``.

    ``network_key`` is :attr:`ClusterKey.network_key`. The handshake sets no deadline of its
    own: the caller gives one, as in ``with trio.fail_after(HANDSHAKE_TIMEOUT): ...``. On any
    failure or cancellation the stream is closed. Exactly the handshake's bytes are read, so
    the stream is ready for a :class:`FramedChannel` afterwards.

    Raises:
        HandshakeError: the server is not on our network, is not ``server_id``, refused us,
            sent garbage, or the connection broke.
    """
    _check_network_key(network_key)
    try:
        ephemeral = nacl.public.PrivateKey.generate()
        m1 = msg1(network_key, ephemeral.public_key.encode())
        await _send(stream, m1, "msg1")
        m2 = await _receive_exactly(stream, MSG2_BYTES, "msg2")
        server_ephemeral = verify_msg2(network_key, m2)
        ee = agree(ephemeral, server_ephemeral)
        m3, secrets = msg3(network_key, identity, server_id, ephemeral, server_ephemeral, ee)
        await _send(stream, m3, "msg3")
        m4 = await _receive_exactly(stream, MSG4_BYTES, "msg4")
        verify_msg4(secrets, m4)
        keys = session_keys(secrets, m1 + m2 + m3 + m4, initiator=True)
    except BaseException as exc:
        await trio.aclose_forcefully(stream)
        if isinstance(exc, HandshakeError):
            logger.debug(
                "handshake_failed", role="initiator", peer=server_id.fingerprint, reason=exc.reason
            )
        raise
    logger.debug("handshake_completed", role="initiator", peer=server_id.fingerprint)
    return keys


async def server_handshake(
    stream: trio.abc.Stream,
    identity: Identity,
    network_key: bytes,
    is_allowed: Callable[[NodeId], bool],
) -> tuple[NodeId, SessionKeys]:
    """Run the responder's side of the handshake on ``stream``; return who connected, and keys.

    ``is_allowed`` decides, once the client has proved its key, whether it may connect (for
    example :meth:`KnownPeers.is_allowed`). A stranger without the network key gets no byte in
    reply, and the ephemeral key is made only after its MAC checks out. A client that is not
    allowed is cut off after msg3 without msg4; ``HandshakeError.peer`` then names it, for the
    listener's (rate-limited) warning. The deadline is the caller's, as for
    :func:`client_handshake`; on any failure or cancellation the stream is closed.

    Raises:
        HandshakeError: for every failure, including an exception raised by ``is_allowed``.
    """
    _check_network_key(network_key)
    peer: NodeId | None = None
    try:
        m1 = await _receive_exactly(stream, MSG1_BYTES, "msg1")
        client_ephemeral = verify_msg1(network_key, m1)
        ephemeral = nacl.public.PrivateKey.generate()
        ee = agree(ephemeral, client_ephemeral)
        m2 = msg2(network_key, ephemeral.public_key.encode())
        await _send(stream, m2, "msg2")
        m3 = await _receive_exactly(stream, MSG3_BYTES, "msg3")
        secrets = verify_msg3(network_key, identity, ephemeral, client_ephemeral, ee, m3)
        peer = secrets.client_id
        _check_allowed(is_allowed, peer)
        m4 = msg4(identity, secrets)
        await _send(stream, m4, "msg4")
        keys = session_keys(secrets, m1 + m2 + m3 + m4, initiator=False)
    except BaseException as exc:
        await trio.aclose_forcefully(stream)
        if isinstance(exc, HandshakeError):
            logger.debug(
                "handshake_failed",
                role="responder",
                peer=exc.peer.fingerprint if exc.peer else None,
                reason=exc.reason,
            )
        raise
    logger.debug("handshake_completed", role="responder", peer=peer.fingerprint)
    return peer, keys
