"""Node identities, the cluster key, key files, known_peers and dial addresses."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actorkit import ActorkitError
from actorkit.net import (
    ClusterKey,
    DialAddress,
    Identity,
    KeyFileError,
    KnownPeers,
    LinkError,
    NodeId,
    Peer,
    load_cluster_key,
    load_identity,
    parse_dial_address,
    write_cluster_key,
    write_identity,
)

SEED = bytes(range(32))
# Small-order Ed25519 points and an off-curve encoding: no honest node has such a key.
BAD_KEYS = [
    bytes(32),  # y = 0: order 4
    b"\x01" + bytes(31),  # the identity point
    b"\xec" + b"\xff" * 30 + b"\x7f",  # y = -1: order 2
    b"\x02" + bytes(31),  # not on the curve
]


def node_id(label: str) -> NodeId:
    """The public key of an identity made from ``label``."""
    return Identity(hashlib.sha256(label.encode()).digest()).public


# -- NodeId ----------------------------------------------------------------------------------


def test_node_id_text_is_ed25519_base64url_without_padding() -> None:
    """str(NodeId) is 'ed25519:' and 43 base64url characters encoding the key."""
    identity = Identity(SEED)
    text = str(identity.public)
    assert text.startswith("ed25519:")
    assert 43 == len(text) - len("ed25519:")
    assert "=" not in text
    assert identity.public.raw == base64.urlsafe_b64decode(text[len("ed25519:") :] + "=")


def test_node_id_parse_round_trips() -> None:
    """NodeId.parse reads back what str() writes, equal and with the same hash."""
    original = node_id("alice")
    parsed = NodeId.parse(str(original))
    assert original == parsed
    assert hash(original) == hash(parsed)


def test_node_id_fingerprint_is_short_sha256_base64() -> None:
    """The fingerprint is 'SHA256:' and base64 of the first 12 bytes of the key's SHA-256."""
    key = node_id("alice")
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(key.raw).digest()[:12]).decode()
    assert expected == key.fingerprint
    assert 16 == len(key.fingerprint) - len("SHA256:")


def test_node_id_repr_shows_only_the_fingerprint() -> None:
    """repr(NodeId) holds the fingerprint and neither the key text nor its bytes."""
    key = node_id("alice")
    assert f"NodeId({key.fingerprint})" == repr(key)
    assert str(key)[8:] not in repr(key)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ed25519:",
        "ssh-ed25519 AAAA",
        "ED25519:" + "A" * 43,
        "ed25519:" + "A" * 42,
        "ed25519:" + "A" * 44,
        "ed25519:" + "A" * 42 + "=",
        "ed25519:" + "+" * 43,
        "ed25519:" + "A" * 42 + "B",  # non-canonical: the last character's spare bits set
        " ed25519:" + "A" * 43,
    ],
)
def test_node_id_parse_rejects_malformed_text(text: str) -> None:
    """Malformed node id text raises ValueError saying what a node id looks like."""
    with pytest.raises(ValueError, match="node id"):
        NodeId.parse(text)


@pytest.mark.parametrize("raw", BAD_KEYS)
def test_node_id_rejects_small_order_and_off_curve_keys(raw: bytes) -> None:
    """A small-order or off-curve point is not a usable node id, as bytes or as text."""
    with pytest.raises(ValueError, match="not a usable Ed25519 public key"):
        NodeId(raw)
    text = "ed25519:" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(ValueError, match="not a usable Ed25519 public key"):
        NodeId.parse(text)


@pytest.mark.parametrize("raw", [b"", bytes(31), bytes(33)])
def test_node_id_needs_32_bytes(raw: bytes) -> None:
    """A NodeId is exactly 32 bytes."""
    with pytest.raises(ValueError, match="32 bytes"):
        NodeId(raw)


def test_node_ids_are_ordered_by_their_bytes() -> None:
    """Node ids sort by their raw bytes (the smaller key keeps a doubly dialled link)."""
    keys = [node_id(label) for label in "abcdef"]
    assert sorted(key.raw for key in keys) == [key.raw for key in sorted(keys)]


@settings(max_examples=50, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32))
def test_node_id_text_round_trips_for_any_key(seed: bytes) -> None:
    """Every identity's node id survives str() and parse()."""
    key = Identity(seed).public
    assert key == NodeId.parse(str(key))


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(), st.text().map(lambda tail: "ed25519:" + tail)))
def test_node_id_parse_raises_only_value_error(text: str) -> None:
    """Whatever the text, NodeId.parse returns a NodeId or raises ValueError."""
    with contextlib.suppress(ValueError):
        NodeId.parse(text)


# -- Identity and ClusterKey -----------------------------------------------------------------


def test_identity_signs_and_its_node_id_verifies() -> None:
    """An identity's signature verifies under its node id, and not under another's."""
    identity = Identity(SEED)
    signature = identity.sign(b"message")
    assert 64 == len(signature)
    assert identity.public.verify(b"message", signature)
    assert not identity.public.verify(b"other", signature)
    assert not node_id("mallory").verify(b"message", signature)


def test_identity_repr_shows_only_the_fingerprint() -> None:
    """repr(Identity) is the public fingerprint, with no seed in any encoding."""
    identity = Identity(SEED)
    text = repr(identity)
    assert f"Identity({identity.public.fingerprint})" == text
    assert SEED.hex() not in text
    assert base64.b64encode(SEED).decode() not in text


def test_generated_identities_differ() -> None:
    """Identity.generate() makes a new key each time."""
    assert Identity.generate().public != Identity.generate().public


def test_network_key_is_keyed_blake2b_with_salt_and_person() -> None:
    """K = BLAKE2b-256(key=S, salt='link-v1', person='actorkit-netkey'), a frozen known answer."""
    expected = "2283cdeaddaa0ddfd969f20cebb1be17a4b9b5e3439f4706bc9aee9ead244626"
    assert expected == ClusterKey(SEED).network_key.hex()
    # hashlib zero-pads the salt and person to 16 bytes: the same value, written out in full.
    padded = hashlib.blake2b(
        b"", digest_size=32, key=SEED, salt=b"link-v1" + bytes(9), person=b"actorkit-netkey\0"
    )
    assert expected == padded.hexdigest()


def test_cluster_key_repr_hides_the_secret() -> None:
    """repr(ClusterKey) shows neither S nor K."""
    key = ClusterKey(SEED)
    assert "ClusterKey(<secret>)" == repr(key)


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_keys_need_32_bytes(size: int) -> None:
    """Identity seeds and cluster keys are 32 bytes."""
    with pytest.raises(ValueError, match="32 bytes"):
        Identity(bytes(size))
    with pytest.raises(ValueError, match="32 bytes"):
        ClusterKey(bytes(size))


# -- key files -------------------------------------------------------------------------------


def test_errors_form_one_hierarchy() -> None:
    """KeyFileError is a LinkError, which is an ActorkitError."""
    assert issubclass(KeyFileError, LinkError)
    assert issubclass(LinkError, ActorkitError)


def test_identity_file_is_0600_one_base64_line_and_loads_back(tmp_path: Path) -> None:
    """write_identity makes a 0600 file holding the seed as one base64 line; load reads it."""
    path = tmp_path / "node.key"
    identity = write_identity(path, Identity(SEED))
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    assert base64.b64encode(SEED) + b"\n" == path.read_bytes()
    assert identity.public == load_identity(path).public


def test_write_identity_generates_one_by_default(tmp_path: Path) -> None:
    """write_identity without an identity writes, and returns, a new random one."""
    identity = write_identity(tmp_path / "node.key")
    assert identity.public == load_identity(tmp_path / "node.key").public


def test_cluster_key_file_round_trips(tmp_path: Path) -> None:
    """write_cluster_key makes a 0600 file that load_cluster_key reads back."""
    path = tmp_path / "cluster.key"
    key = write_cluster_key(path)
    assert 0o600 == stat.S_IMODE(path.stat().st_mode)
    assert key.network_key == load_cluster_key(path).network_key


@pytest.mark.parametrize("write", [write_identity, write_cluster_key])
def test_key_files_are_never_overwritten(tmp_path: Path, write: Callable[[Path], object]) -> None:
    """Writing a key where a file exists raises KeyFileError naming it, and changes nothing."""
    path = tmp_path / "taken.key"
    path.write_bytes(b"precious\n")
    with pytest.raises(KeyFileError, match="already exists") as info:
        write(path)
    assert str(path) in str(info.value)
    assert str(path) == info.value.path
    assert b"precious\n" == path.read_bytes()


def test_key_files_are_not_written_through_a_symlink(tmp_path: Path) -> None:
    """A symlink at the path, even a dangling one, is refused rather than followed."""
    target = tmp_path / "elsewhere"
    link = tmp_path / "node.key"
    link.symlink_to(target)
    with pytest.raises(KeyFileError, match="already exists"):
        write_identity(link)
    assert not target.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602, 0o644, 0o660, 0o666, 0o700 | 0o007])
@pytest.mark.parametrize("load", [load_identity, load_cluster_key])
def test_too_open_key_files_are_refused_with_a_chmod_hint(
    tmp_path: Path, mode: int, load: Callable[[Path], object]
) -> None:
    """A key file readable or writable by group or others is refused: 'chmod 600 PATH'."""
    path = tmp_path / "node.key"
    write_identity(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="too open") as info:
        load(path)
    assert f"chmod 600 {path}" in str(info.value)


def test_owner_only_modes_load(tmp_path: Path) -> None:
    """0400 (read-only for the owner) is fine too."""
    path = tmp_path / "node.key"
    identity = write_identity(path)
    os.chmod(path, 0o400)
    assert identity.public == load_identity(path).public


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n",
        b"not base64 at all\n",
        base64.b64encode(bytes(31)) + b"\n",
        base64.b64encode(bytes(33)) + b"\n",
        base64.b64encode(SEED) + b"\n" + base64.b64encode(SEED) + b"\n",
        base64.b64encode(SEED)[:-1] + b"\n",
        b"A" * 5000,
        b"\xff\xfe" * 20,
    ],
)
@pytest.mark.parametrize("load", [load_identity, load_cluster_key])
def test_malformed_key_files_are_refused(
    tmp_path: Path, content: bytes, load: Callable[[Path], object]
) -> None:
    """A key file that is not one base64 line of 32 bytes raises KeyFileError saying so."""
    path = tmp_path / "node.key"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(KeyFileError, match="malformed: it must hold one base64 line"):
        load(path)


def test_missing_key_file_is_a_key_file_error(tmp_path: Path) -> None:
    """Loading a missing key file raises KeyFileError naming the path."""
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileError, match="no identity file") as info:
        load_identity(path)
    assert str(path) in str(info.value)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    """A directory at the path is refused, not read."""
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        load_identity(directory)


# -- known_peers -----------------------------------------------------------------------------

ALICE, BOB, CAROL, MALLORY = (node_id(name) for name in ["alice", "bob", "carol", "mallory"])

KNOWN_PEERS = f"""\
# the cluster
alice   {ALICE}   addr=10.0.0.1:7000 expose=orders,ledger
bob     {BOB}     addr=[::1]:7001      # the IPv6 one

carol   {CAROL}
mallory {MALLORY} addr=evil.example:7000
@revoked {MALLORY}
"""


def test_known_peers_parses_names_keys_addresses_and_exports() -> None:
    """Each peer line gives a Peer with its name, key, (host, port) and exported actors."""
    peers = KnownPeers.parse(KNOWN_PEERS)
    assert Peer("alice", ALICE, ("10.0.0.1", 7000), frozenset({"orders", "ledger"})) == peers.get(
        ALICE
    )
    assert Peer("bob", BOB, ("::1", 7001)) == peers.get(BOB)
    assert Peer("carol", CAROL) == peers.get(CAROL)
    assert 3 == len(peers)
    assert ["alice", "bob", "carol"] == [peer.name for peer in peers]


def test_revoked_keys_are_never_returned() -> None:
    """A revoked key is not returned, not allowed, and not found by name, even if listed."""
    peers = KnownPeers.parse(KNOWN_PEERS)
    assert peers.get(MALLORY) is None
    assert not peers.is_allowed(MALLORY)
    assert MALLORY not in peers
    assert peers.is_revoked(MALLORY)
    assert peers.by_name("mallory") is None


def test_unknown_keys_are_not_allowed() -> None:
    """A key on no line is unknown: get() is None and is_allowed() is False."""
    peers = KnownPeers.parse(KNOWN_PEERS)
    stranger = node_id("stranger")
    assert peers.get(stranger) is None
    assert not peers.is_allowed(stranger)
    assert peers.is_allowed(ALICE)
    assert Peer("alice", ALICE, ("10.0.0.1", 7000), frozenset({"orders", "ledger"})) == (
        peers.by_name("alice")
    )


def test_empty_and_comment_only_text_has_no_peers() -> None:
    """Blank lines and comments alone make an empty allowlist."""
    assert 0 == len(KnownPeers.parse("\n  # nothing\n\n"))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("alice", "expected 'NAME ed25519:KEY"),
        ("alice ed25519:nope", "node id"),
        (f"alice {ALICE} port=7000", "unknown option 'port=7000'"),
        (f"alice {ALICE} addr", "unknown option 'addr'"),
        (f"alice {ALICE} addr=a:1 addr=b:2", "addr= is given twice"),
        (f"alice {ALICE} addr=host", "bad addr="),
        (f"alice {ALICE} addr=host:0", "bad addr="),
        (f"alice {ALICE} addr=::1:7000", "bad addr=: an IPv6 host goes in brackets"),
        (f"alice {ALICE} addr=[nothost]:7000", "bad addr="),
        (f"alice {ALICE} expose=", "expose= wants comma-separated actor names"),
        (f"alice {ALICE} expose=a,,b", "expose= wants comma-separated actor names"),
        (f"-alice {ALICE}", "the peer name '-alice'"),
        (f"{'x' * 65} {ALICE}", "the peer name"),
        (f"@revoke {ALICE}", "expected '@revoked ed25519:KEY'"),
        ("@revoked", "expected '@revoked ed25519:KEY'"),
        (f"@revoked {ALICE} extra", "expected '@revoked ed25519:KEY'"),
        ("@revoked ed25519:" + "A" * 43, "not a usable Ed25519 public key"),
    ],
)
def test_bad_known_peers_lines_name_their_line_number(line: str, problem: str) -> None:
    """A malformed line raises KeyFileError with the source, the line number and the problem."""
    text = f"# header\n\n{line}\n"
    with pytest.raises(KeyFileError) as info:
        KnownPeers.parse(text, source="peers.txt")
    assert str(info.value).startswith("peers.txt line 3: ")
    assert problem in str(info.value)


def test_a_key_listed_twice_is_refused() -> None:
    """The same key on two lines is an error that names both lines."""
    text = f"alice {ALICE}\nalias {ALICE}\n"
    with pytest.raises(KeyFileError, match="line 2: this key is already listed on line 1"):
        KnownPeers.parse(text)


def test_a_name_used_twice_is_refused() -> None:
    """Two keys under one name is an error: a name should point at one peer."""
    text = f"alice {ALICE}\nalice {BOB}\n"
    with pytest.raises(KeyFileError, match="line 2: the name 'alice' is already used on line 1"):
        KnownPeers.parse(text)


def test_known_peers_loads_from_a_file_named_in_errors(tmp_path: Path) -> None:
    """KnownPeers.load reads a file, and its errors name the file."""
    path = tmp_path / "known_peers"
    path.write_text(KNOWN_PEERS)
    os.chmod(path, 0o644)
    assert 3 == len(KnownPeers.load(path))
    path.write_text("broken\n")
    with pytest.raises(KeyFileError, match=f"{path} line 1: "):
        KnownPeers.load(path)


@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_known_peers_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    """Anyone who can edit known_peers can add a peer, so a file others may write is refused."""
    path = tmp_path / "known_peers"
    path.write_text(KNOWN_PEERS)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=f"chmod go-w {path}"):
        KnownPeers.load(path)


def test_missing_known_peers_is_a_key_file_error(tmp_path: Path) -> None:
    """Loading a missing known_peers file raises KeyFileError."""
    with pytest.raises(KeyFileError, match="no known_peers file"):
        KnownPeers.load(tmp_path / "absent")


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["alice", "@revoked", "addr=", "expose=", "#", str(ALICE), "[::1]:1"]),
        ),
        max_size=12,
    ).map(" ".join)
)
def test_known_peers_parse_raises_only_key_file_error(text: str) -> None:
    """Whatever the text, KnownPeers.parse returns an allowlist or raises KeyFileError."""
    with contextlib.suppress(KeyFileError):
        KnownPeers.parse(text)


# -- dial addresses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "host", "port"),
    [
        ("127.0.0.1:7000", "127.0.0.1", 7000),
        ("node-1.example.org:65535", "node-1.example.org", 65535),
        ("[::1]:1", "::1", 1),
        ("[2001:db8::7]:7000", "2001:db8::7", 7000),
    ],
)
def test_dial_addresses_parse_and_print_back(where: str, host: str, port: int) -> None:
    """tcp://HOST:PORT#ed25519:KEY gives host, port and node id, and prints back the same."""
    text = f"tcp://{where}#{ALICE}"
    address = parse_dial_address(text)
    assert DialAddress(host, port, ALICE) == address
    assert text == str(address)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("127.0.0.1:7000", "looks like tcp://"),
        (f"udp://127.0.0.1:7000#{ALICE}", "looks like tcp://"),
        ("tcp://127.0.0.1:7000", "must name the node's key"),
        (f"tcp://127.0.0.1#{ALICE}", "expected HOST:PORT"),
        (f"tcp://:7000#{ALICE}", "expected HOST:PORT"),
        (f"tcp://127.0.0.1:0#{ALICE}", "from 1 to 65535"),
        (f"tcp://127.0.0.1:65536#{ALICE}", "from 1 to 65535"),
        (f"tcp://127.0.0.1:70x#{ALICE}", "from 1 to 65535"),
        (f"tcp://::1:7000#{ALICE}", "in brackets"),
        (f"tcp://[::1:7000#{ALICE}", "expected [IPV6]:PORT"),
        (f"tcp://[::1]7000#{ALICE}", "expected [IPV6]:PORT"),
        (f"tcp://[example.org]:7000#{ALICE}", "not an IPv6 address"),
        (f"tcp://user@host:7000#{ALICE}", "not a host name"),
        ("tcp://127.0.0.1:7000#ed25519:short", "node id"),
    ],
)
def test_bad_dial_addresses_say_what_is_wrong(text: str, problem: str) -> None:
    """A malformed dial address raises ValueError naming the wrong part."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_dial_address(text)
