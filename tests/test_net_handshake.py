"""Secret Handshake v1: success, every attack the design lists, and independent vectors."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nacl.bindings
import outcome
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey
from structlog.testing import capture_logs

from actorkit.net import (
    HANDSHAKE_TIMEOUT,
    ClusterKey,
    FramedChannel,
    FrameTag,
    HandshakeError,
    Identity,
    KnownPeers,
    NodeId,
    SessionKeys,
    client_handshake,
    server_handshake,
)
from actorkit.net import _handshake as shs

VECTORS = json.loads((Path(__file__).parent / "vectors" / "shs1.json").read_text())["vectors"]

NETWORK_KEY = ClusterKey(hashlib.sha256(b"test cluster").digest()).network_key
OTHER_NETWORK_KEY = ClusterKey(hashlib.sha256(b"other cluster").digest()).network_key
CLIENT = Identity(hashlib.sha256(b"client").digest())
SERVER = Identity(hashlib.sha256(b"server").digest())
STRANGER = Identity(hashlib.sha256(b"stranger").digest())
ZERO_NONCE = bytes(24)

# X25519 points whose product with any key is all zeros: 0, 1, the two of order 8, and the
# non-canonical encodings of p-1, p and p+1 (libsodium's own blocklist).
LOW_ORDER_POINTS = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    bytes.fromhex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]
MESSAGE_BYTES = [shs.MSG1_BYTES, shs.MSG2_BYTES, shs.MSG3_BYTES, shs.MSG4_BYTES]


def allow_all(_peer: NodeId) -> bool:
    """An allowlist that lets every proven key in."""
    return True


async def receive_exactly(stream: trio.abc.ReceiveStream, count: int) -> bytes | None:
    """Exactly ``count`` bytes from ``stream``, or None if it ends first."""
    data = b""
    while len(data) < count:
        chunk = await stream.receive_some(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


async def receive_all(stream: trio.abc.ReceiveStream) -> bytes:
    """Everything ``stream`` delivers until it ends."""
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    return data


async def client_side(stream: trio.abc.Stream, **overrides: Any) -> SessionKeys:
    """client_handshake as a real caller runs it, under the handshake deadline."""
    kwargs: dict[str, Any] = {
        "identity": CLIENT,
        "server_id": SERVER.public,
        "network_key": NETWORK_KEY,
    } | overrides
    with trio.fail_after(HANDSHAKE_TIMEOUT):
        return await client_handshake(stream, **kwargs)


async def server_side(stream: trio.abc.Stream, **overrides: Any) -> tuple[NodeId, SessionKeys]:
    """server_handshake as a real listener runs it, under the handshake deadline."""
    kwargs: dict[str, Any] = {
        "identity": SERVER,
        "network_key": NETWORK_KEY,
        "is_allowed": allow_all,
    } | overrides
    with trio.fail_after(HANDSHAKE_TIMEOUT):
        return await server_handshake(stream, **kwargs)


async def both(
    client: Callable[[], Awaitable[Any]],
    server: Callable[[], Awaitable[Any]],
    *others: Callable[[], Awaitable[Any]],
) -> tuple[outcome.Outcome[Any], outcome.Outcome[Any]]:
    """Run the client and server (and helpers) concurrently; return the two outcomes."""
    results: dict[str, outcome.Outcome[Any]] = {}

    async def capture(name: str, function: Callable[[], Awaitable[Any]]) -> None:
        results[name] = await outcome.acapture(function)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(capture, "client", client)
        nursery.start_soon(capture, "server", server)
        for other in others:
            nursery.start_soon(other)
    return results["client"], results["server"]


def raised(result: outcome.Outcome[Any]) -> BaseException | None:
    """The exception an outcome holds, or None."""
    return result.error if isinstance(result, outcome.Error) else None


async def mitm(
    client_end: trio.abc.Stream,
    server_end: trio.abc.Stream,
    tamper: Callable[[int, bytes], bytes],
    recorded: list[bytes] | None = None,
) -> None:
    """Relay the four messages between the ends, passing each through ``tamper(index, msg)``."""
    plan = [(client_end, server_end), (server_end, client_end)] * 2
    try:
        for index, ((source, target), size) in enumerate(zip(plan, MESSAGE_BYTES, strict=True)):
            message = await receive_exactly(source, size)
            if message is None:
                return
            if recorded is not None:
                recorded.append(message)
            await target.send_all(tamper(index, message))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await client_end.aclose()
        await server_end.aclose()


def flip(message: bytes, bit: int) -> bytes:
    """``message`` with bit number ``bit`` (0 = lowest bit of the first byte) inverted."""
    data = bytearray(message)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def honest_run() -> dict[str, Any]:
    """Run the four steps as pure functions with fresh ephemerals; return every value."""
    a, b = PrivateKey.generate(), PrivateKey.generate()
    m1 = shs.msg1(NETWORK_KEY, a.public_key.encode())
    a_pub = shs.verify_msg1(NETWORK_KEY, m1)
    server_ee = shs.agree(b, a_pub)
    m2 = shs.msg2(NETWORK_KEY, b.public_key.encode())
    b_pub = shs.verify_msg2(NETWORK_KEY, m2)
    client_ee = shs.agree(a, b_pub)
    m3, client_secrets = shs.msg3(NETWORK_KEY, CLIENT, SERVER.public, a, b_pub, client_ee)
    server_secrets = shs.verify_msg3(NETWORK_KEY, SERVER, b, a_pub, server_ee, m3)
    m4 = shs.msg4(SERVER, server_secrets)
    shs.verify_msg4(client_secrets, m4)
    return {
        "a": a,
        "b": b,
        "messages": [m1, m2, m3, m4],
        "client_secrets": client_secrets,
        "server_secrets": server_secrets,
        "ee": client_ee,
    }


# -- success ---------------------------------------------------------------------------------


async def test_both_sides_agree_on_keys() -> None:
    """A handshake gives matching keys: the client's tx is the server's rx, and back."""
    client_end, server_end = trio.testing.memory_stream_pair()
    client, server = await both(lambda: client_side(client_end), lambda: server_side(server_end))
    client_keys = client.unwrap()
    peer, server_keys = server.unwrap()
    assert CLIENT.public == peer
    assert client_keys.tx == server_keys.rx
    assert client_keys.rx == server_keys.tx
    assert client_keys.tx != client_keys.rx
    assert 32 == len(client_keys.tx) == len(client_keys.rx)


async def test_two_handshakes_give_unrelated_keys() -> None:
    """Fresh ephemerals make every session's keys different (forward secrecy)."""
    keys = []
    for _ in range(2):
        client_end, server_end = trio.testing.memory_stream_pair()
        client, _server = await both(
            functools.partial(client_side, client_end), functools.partial(server_side, server_end)
        )
        keys.append(client.unwrap().tx)
    assert keys[0] != keys[1]


async def test_the_stream_is_ready_for_frames_after_the_handshake() -> None:
    """Exactly the handshake's bytes are read, so frames flow right after it, both ways."""
    client_end, server_end = trio.testing.memory_stream_pair()
    client, server = await both(lambda: client_side(client_end), lambda: server_side(server_end))
    client_channel = FramedChannel(client_end, client.unwrap())
    server_channel = FramedChannel(server_end, server.unwrap()[1])
    await client_channel.send_frames([b"hello", b"from the client"])
    await server_channel.send_frame(b"hello back")
    assert (b"hello", FrameTag.MESSAGE) == await server_channel.receive_frame()
    assert (b"from the client", FrameTag.MESSAGE) == await server_channel.receive_frame()
    assert (b"hello back", FrameTag.MESSAGE) == await client_channel.receive_frame()


def test_session_keys_bind_the_whole_transcript() -> None:
    """Changing any transcript bit, even a public key's ignored top bit, changes the keys."""
    run = honest_run()
    transcript = b"".join(run["messages"])
    keys = shs.session_keys(run["client_secrets"], transcript, initiator=True)
    for bit in [0, 8 * 64 - 1, 8 * 128 + 3, 8 * len(transcript) - 1]:
        other = shs.session_keys(run["client_secrets"], flip(transcript, bit), initiator=True)
        assert keys.tx != other.tx
        assert keys.rx != other.rx


def test_session_keys_and_secrets_hide_their_bytes() -> None:
    """repr of the keys and of the handshake secrets shows no key material."""
    run = honest_run()
    keys = shs.session_keys(run["client_secrets"], b"".join(run["messages"]), initiator=True)
    assert "SessionKeys(<secret>)" == repr(keys)
    text = repr(run["client_secrets"])
    assert CLIENT.public.fingerprint in text
    assert run["ee"].hex() not in text


# -- strangers and wrong keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    "hello",
    [
        shs.msg1(OTHER_NETWORK_KEY, PrivateKey.generate().public_key.encode()),
        os.urandom(64),
        bytes(64),
    ],
    ids=["wrong-network-key", "random-bytes", "zeros"],
)
async def test_a_stranger_gets_no_reply_at_all(hello: bytes) -> None:
    """msg1 without a valid MAC under our network key gets not one byte back; then a close."""
    client_end, server_end = trio.testing.memory_stream_pair()

    async def stranger() -> bytes:
        await client_end.send_all(hello)
        return await receive_all(client_end)

    client, server = await both(stranger, lambda: server_side(server_end))
    assert b"" == client.unwrap()
    assert isinstance(raised(server), HandshakeError)
    assert "msg1 has a bad MAC" in raised(server).reason  # type: ignore[union-attr]


async def test_a_client_with_the_wrong_network_key_fails_on_both_sides() -> None:
    """With different cluster keys neither side completes."""
    client_end, server_end = trio.testing.memory_stream_pair()
    client, server = await both(
        lambda: client_side(client_end, network_key=OTHER_NETWORK_KEY),
        lambda: server_side(server_end),
    )
    assert isinstance(raised(client), HandshakeError)
    assert isinstance(raised(server), HandshakeError)


async def test_an_unknown_client_is_cut_off_after_msg3_without_msg4() -> None:
    """A proven but unlisted key gets msg2 and then a close: no msg4; the error names it."""
    client_end, server_end = trio.testing.memory_stream_pair()
    peers = KnownPeers.parse(f"server {SERVER.public}\n")

    async def unknown_client() -> bytes:
        a = PrivateKey.generate()
        await client_end.send_all(shs.msg1(NETWORK_KEY, a.public_key.encode()))
        m2 = await receive_exactly(client_end, 64)
        assert m2 is not None
        b_pub = shs.verify_msg2(NETWORK_KEY, m2)
        ee = shs.agree(a, b_pub)
        m3, _ = shs.msg3(NETWORK_KEY, STRANGER, SERVER.public, a, b_pub, ee)
        await client_end.send_all(m3)
        return await receive_all(client_end)

    client, server = await both(
        unknown_client, lambda: server_side(server_end, is_allowed=peers.is_allowed)
    )
    assert b"" == client.unwrap()
    error = raised(server)
    assert isinstance(error, HandshakeError)
    assert STRANGER.public == error.peer
    assert "not allowed" in error.reason
    assert STRANGER.public.fingerprint in str(error)


async def test_a_revoked_client_is_refused() -> None:
    """A key on an @revoked line cannot complete a handshake, even if also listed."""
    peers = KnownPeers.parse(f"client {CLIENT.public}\n@revoked {CLIENT.public}\n")
    client_end, server_end = trio.testing.memory_stream_pair()
    client, server = await both(
        lambda: client_side(client_end),
        lambda: server_side(server_end, is_allowed=peers.is_allowed),
    )
    assert isinstance(raised(client), HandshakeError)
    assert CLIENT.public == raised(server).peer  # type: ignore[union-attr]


async def test_a_server_with_another_key_fails_on_both_sides() -> None:
    """Dialling a key the server does not hold: msg3 does not open, and no msg4 comes back."""
    client_end, server_end = trio.testing.memory_stream_pair()
    client, server = await both(
        lambda: client_side(client_end, server_id=STRANGER.public),
        lambda: server_side(server_end),
    )
    assert isinstance(raised(client), HandshakeError)
    assert "closed the connection during msg4 (0 of 80 bytes)" in raised(client).reason  # type: ignore[union-attr]
    assert "msg3 does not open" in raised(server).reason  # type: ignore[union-attr]


async def test_an_impostor_server_cannot_produce_msg4() -> None:
    """A server with our network key but another identity fails the client's msg4 check."""
    client_end, server_end = trio.testing.memory_stream_pair()
    # The impostor learns nothing it could use: it cannot open msg3, so it cannot sign msg4.
    client, server = await both(
        lambda: client_side(client_end),
        lambda: server_side(server_end, identity=STRANGER),
    )
    assert isinstance(raised(client), HandshakeError)
    assert isinstance(raised(server), HandshakeError)


async def test_an_is_allowed_that_raises_becomes_a_handshake_error() -> None:
    """A broken allowlist callback fails the handshake; it does not escape to the listener."""

    def broken(_peer: NodeId) -> bool:
        raise KeyError("oops")

    client_end, server_end = trio.testing.memory_stream_pair()
    client, server = await both(
        lambda: client_side(client_end), lambda: server_side(server_end, is_allowed=broken)
    )
    assert isinstance(raised(client), HandshakeError)
    error = raised(server)
    assert isinstance(error, HandshakeError)
    assert isinstance(error.__cause__, KeyError)


# -- low-order keys and reflection -----------------------------------------------------------


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda point: point.hex()[:8])
async def test_a_low_order_client_ephemeral_with_a_valid_mac_is_refused(point: bytes) -> None:
    """A cluster member's msg1 with a low-order key gets HandshakeError and no reply."""
    client_end, server_end = trio.testing.memory_stream_pair()

    async def attacker() -> bytes:
        await client_end.send_all(shs.msg1(NETWORK_KEY, point))
        return await receive_all(client_end)

    client, server = await both(attacker, lambda: server_side(server_end))
    assert b"" == client.unwrap()
    assert isinstance(raised(server), HandshakeError)


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda point: point.hex()[:8])
async def test_a_low_order_server_ephemeral_with_a_valid_mac_is_refused(point: bytes) -> None:
    """A msg2 with a low-order key makes the client fail before it sends msg3."""
    client_end, server_end = trio.testing.memory_stream_pair()

    async def attacker() -> bytes:
        assert await receive_exactly(server_end, 64) is not None
        await server_end.send_all(shs.msg2(NETWORK_KEY, point))
        return await receive_all(server_end)

    client, server = await both(lambda: client_side(client_end), attacker)
    assert isinstance(raised(client), HandshakeError)
    assert b"" == server.unwrap()


async def test_msg1_reflected_as_msg2_is_refused() -> None:
    """Echoing the client's msg1 back as msg2 (valid MAC, its own key) fails the client."""
    client_end, server_end = trio.testing.memory_stream_pair()

    async def mirror() -> bytes:
        m1 = await receive_exactly(server_end, 64)
        assert m1 is not None
        await server_end.send_all(m1)
        return await receive_all(server_end)

    client, server = await both(lambda: client_side(client_end), mirror)
    assert "echoed our own ephemeral key" in raised(client).reason  # type: ignore[union-attr]
    assert b"" == server.unwrap()


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda point: point.hex()[:8])
def test_agree_refuses_low_order_points(point: bytes) -> None:
    """The pure DH step raises HandshakeError for every low-order point."""
    with pytest.raises(HandshakeError, match="small order"):
        shs.agree(PrivateKey.generate(), point)


async def test_the_listener_keeps_serving_after_attacks() -> None:
    """Bad clients each cost one HandshakeError; a good client still connects after them."""
    attacks = [os.urandom(64), shs.msg1(NETWORK_KEY, bytes(32)), b"short"]
    served: list[str] = []
    for hello in [*attacks, None]:
        client_end, server_end = trio.testing.memory_stream_pair()

        async def client(end: trio.abc.Stream = client_end, hello: bytes | None = hello) -> Any:
            if hello is None:
                return await client_side(end)
            await end.send_all(hello)
            await end.aclose()
            return None

        _client, server = await both(client, functools.partial(server_side, server_end))
        served.append("error" if isinstance(raised(server), HandshakeError) else "ok")
    assert ["error", "error", "error", "ok"] == served


# -- tampering, replay, deadlines ------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2, 3], ids=["msg1", "msg2", "msg3", "msg4"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
async def test_a_flipped_bit_in_any_message_fails_the_handshake(index: int, where: str) -> None:
    """A bit flipped in transit in any of the four messages fails both sides."""
    size = MESSAGE_BYTES[index] * 8
    bit = {"first": 0, "middle": size // 2 + 3, "last": size - 1}[where]
    client_end, relay_client = trio.testing.memory_stream_pair()
    relay_server, server_end = trio.testing.memory_stream_pair()

    def tamper(at: int, message: bytes) -> bytes:
        return flip(message, bit) if at == index else message

    client, server = await both(
        lambda: client_side(client_end),
        lambda: server_side(server_end),
        lambda: mitm(relay_client, relay_server, tamper),
    )
    assert isinstance(raised(client), HandshakeError)
    if index < 3:  # a flip in msg4 is caught by the client alone; the server has finished
        assert isinstance(raised(server), HandshakeError)


async def test_replayed_msg1_and_msg3_fail_at_a_fresh_responder() -> None:
    """Replaying a recorded msg1 and msg3 to a new server gets msg2 and a close: no msg4."""
    recorded: list[bytes] = []
    client_end, relay_client = trio.testing.memory_stream_pair()
    relay_server, server_end = trio.testing.memory_stream_pair()
    first, _ = await both(
        lambda: client_side(client_end),
        lambda: server_side(server_end),
        lambda: mitm(relay_client, relay_server, lambda _at, message: message, recorded),
    )
    first.unwrap()
    m1, _m2, m3, _m4 = recorded

    attacker_end, server_end = trio.testing.memory_stream_pair()

    async def replay() -> bytes:
        await attacker_end.send_all(m1)
        assert await receive_exactly(attacker_end, 64) is not None
        await attacker_end.send_all(m3)
        return await receive_all(attacker_end)

    attacker, server = await both(replay, lambda: server_side(server_end))
    assert b"" == attacker.unwrap()
    assert "msg3 does not open" in raised(server).reason  # type: ignore[union-attr]


async def test_a_partial_msg1_then_silence_is_cut_off_by_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A client that sends half of msg1 and waits is dropped at the caller's deadline."""
    client_end, server_end = trio.testing.memory_stream_pair()
    start = trio.current_time()

    async def slowloris() -> bytes:
        await client_end.send_all(b"\x00" * 10)
        return await receive_all(client_end)  # returns when the server closes the stream

    async def listener() -> bool:
        with trio.move_on_after(HANDSHAKE_TIMEOUT) as scope:
            await server_handshake(server_end, SERVER, NETWORK_KEY, allow_all)
        return scope.cancelled_caught

    client, server = await both(slowloris, listener)
    assert server.unwrap()
    assert b"" == client.unwrap()
    assert HANDSHAKE_TIMEOUT == pytest.approx(trio.current_time() - start)
    with pytest.raises(trio.ClosedResourceError):
        await server_end.send_all(b"x")  # the handshake closed its stream on the way out


async def test_a_silent_server_is_cut_off_by_the_clients_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A server that never answers fails the client at its deadline, with the stream closed."""
    client_end, _server_end = trio.testing.memory_stream_pair()
    with pytest.raises(trio.TooSlowError):
        await client_side(client_end)
    with pytest.raises(trio.ClosedResourceError):
        await client_end.send_all(b"x")


async def test_handshake_logs_carry_fingerprints_and_no_key_bytes() -> None:
    """Handshake events are named and keyed; no secret or key appears in any encoding."""
    with capture_logs() as logs:
        client_end, server_end = trio.testing.memory_stream_pair()
        client, _server = await both(
            lambda: client_side(client_end), lambda: server_side(server_end)
        )
        keys = client.unwrap()
        client_end, server_end = trio.testing.memory_stream_pair()
        await both(
            lambda: client_side(client_end),
            lambda: server_side(server_end, is_allowed=lambda _peer: False),
        )
    events = [(entry["event"], entry["role"]) for entry in logs]
    assert ("handshake_completed", "initiator") in events
    assert ("handshake_completed", "responder") in events
    assert ("handshake_failed", "responder") in events
    assert all(
        entry["peer"] in {None, CLIENT.public.fingerprint, SERVER.public.fingerprint}
        for entry in logs
    )
    text = repr(logs)
    for secret in [NETWORK_KEY, keys.tx, keys.rx, CLIENT._seed(), SERVER._seed()]:
        assert secret.hex() not in text
        assert base64.b64encode(secret).decode()[:20] not in text
    assert str(CLIENT.public)[8:] not in text


def test_a_bad_network_key_length_is_a_caller_error() -> None:
    """A network key that is not 32 bytes is a ValueError before any I/O."""
    client_end, _server_end = trio.testing.memory_stream_pair()
    with pytest.raises(ValueError, match="network_key"):
        trio.run(client_handshake, client_end, CLIENT, SERVER.public, b"short")


# -- the pure steps: nothing but HandshakeError escapes --------------------------------------


def test_msg3_with_a_wrong_signature_is_refused() -> None:
    """A cluster member boxing a signature over other bytes fails verify_msg3."""
    run = honest_run()
    secrets = run["client_secrets"]
    forged_hello = CLIENT.sign(b"something else") + CLIENT.public.raw
    forged = nacl.bindings.crypto_secretbox(forged_hello, ZERO_NONCE, secrets.msg3_key)
    a_pub = run["a"].public_key.encode()
    with pytest.raises(HandshakeError, match="signature does not verify"):
        shs.verify_msg3(NETWORK_KEY, SERVER, run["b"], a_pub, run["ee"], forged)


@pytest.mark.parametrize("key", [bytes(32), b"\x01" + bytes(31), b"\x02" + bytes(31)])
def test_msg3_with_an_unusable_client_key_is_refused(key: bytes) -> None:
    """A msg3 claiming a small-order or off-curve Ed25519 key fails with HandshakeError."""
    run = honest_run()
    secrets = run["client_secrets"]
    forged = nacl.bindings.crypto_secretbox(bytes(64) + key, ZERO_NONCE, secrets.msg3_key)
    a_pub = run["a"].public_key.encode()
    with pytest.raises(HandshakeError, match="unusable client key"):
        shs.verify_msg3(NETWORK_KEY, SERVER, run["b"], a_pub, run["ee"], forged)


RUN = honest_run()


def check_every_step(messages: list[bytes]) -> None:
    """Feed each (possibly corrupt) message to its verifier; only HandshakeError may leave."""
    a_pub = RUN["a"].public_key.encode()
    steps: list[Callable[[], object]] = [
        lambda: shs.verify_msg1(NETWORK_KEY, messages[0]),
        lambda: shs.verify_msg2(NETWORK_KEY, messages[1]),
        lambda: shs.verify_msg3(NETWORK_KEY, SERVER, RUN["b"], a_pub, RUN["ee"], messages[2]),
        lambda: shs.verify_msg4(RUN["client_secrets"], messages[3]),
    ]
    for step, message, original in zip(steps, messages, RUN["messages"], strict=True):
        try:
            step()
        except HandshakeError:
            continue
        assert message == original, "a changed message was accepted"


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_mutated_messages_raise_only_handshake_error(data: st.DataObject) -> None:
    """Bit flips, truncations, extensions and replacements of each message never get through."""
    messages = list(RUN["messages"])
    index = data.draw(st.integers(0, 3))
    original = messages[index]
    mutation = data.draw(st.sampled_from(["flip", "truncate", "extend", "replace"]))
    if mutation == "flip":
        messages[index] = flip(original, data.draw(st.integers(0, len(original) * 8 - 1)))
    elif mutation == "truncate":
        messages[index] = original[: data.draw(st.integers(0, len(original) - 1))]
    elif mutation == "extend":
        messages[index] = original + data.draw(st.binary(min_size=1, max_size=8))
    else:
        messages[index] = data.draw(st.binary(min_size=len(original), max_size=len(original)))
    check_every_step(messages)


def test_the_unchanged_messages_verify() -> None:
    """The reference run used by the mutation test verifies end to end."""
    check_every_step(list(RUN["messages"]))


# -- independent vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_vectors_from_the_npm_secret_handshake_package(vector: dict[str, Any]) -> None:
    """Our steps reproduce secret-handshake's four messages and its derived secrets."""
    given_ = {name: bytes.fromhex(value) for name, value in vector["inputs"].items()}
    expected = {name: bytes.fromhex(value) for name, value in vector["messages"].items()}
    shared = {name: bytes.fromhex(value) for name, value in vector["shared"].items()}
    key = given_["network_key"]
    client, server = Identity(given_["client_seed"]), Identity(given_["server_seed"])
    assert given_["client_public"] == client.public.raw
    assert given_["server_public"] == server.public.raw
    a = PrivateKey(given_["client_ephemeral_secret"])
    b = PrivateKey(given_["server_ephemeral_secret"])
    assert given_["client_ephemeral_public"] == a.public_key.encode()
    assert given_["server_ephemeral_public"] == b.public_key.encode()

    m1 = shs.msg1(key, a.public_key.encode())
    assert expected["msg1"] == m1
    a_pub = shs.verify_msg1(key, m1)
    server_ee = shs.agree(b, a_pub)
    m2 = shs.msg2(key, b.public_key.encode())
    assert expected["msg2"] == m2
    b_pub = shs.verify_msg2(key, m2)
    ee = shs.agree(a, b_pub)
    assert shared["ab"] == ee == server_ee
    assert shared["ab_sha256"] == hashlib.sha256(ee).digest()
    m3, client_secrets = shs.msg3(key, client, server.public, a, b_pub, ee)
    assert expected["msg3"] == m3
    assert shared["aB"] == client_secrets.es
    assert shared["Ab"] == client_secrets.se
    assert shared["box_key_msg3"] == client_secrets.msg3_key
    assert bytes.fromhex(vector["client_hello"]) == nacl.bindings.crypto_secretbox_open(
        m3, ZERO_NONCE, client_secrets.msg3_key
    )
    server_secrets = shs.verify_msg3(key, server, b, a_pub, server_ee, m3)
    assert client.public == server_secrets.client_id
    m4 = shs.msg4(server, server_secrets)
    assert expected["msg4"] == m4
    shs.verify_msg4(client_secrets, m4)
    assert shared["box_key_msg4"] == client_secrets.msg4_key == server_secrets.msg4_key
    # SHS's final secret, sha256(box_key_msg4), is the key our transcript hash is keyed with.
    assert (
        bytes.fromhex(vector["session"]["secret"])
        == hashlib.sha256(client_secrets.msg4_key).digest()
    )


# Our transcript-bound keys are ours alone, so no other implementation can check them: these
# are known answers for the vectors' handshakes, computed once and frozen.
SESSION_KEYS = {
    "case-1": (
        "ee48060bc36b6c30659894b427cffea3f167439ff7ac9680c2050332fd5cf990",
        "65be99f0e398743196be44dfc9b2942cf2962b6a0f9eb0214948a9a7899b3f42",
    ),
    "case-2": (
        "951835acfd40b970e9b93637fbf9b552e1ccb3dca734b2df4f913725faab54a2",
        "46041a0ca09b205c85ad23e2ee0d39733d974ea130bd0b5ba597b5d57fe51c7d",
    ),
    "case-3": (
        "77dcb6383b482c2482e85ce01667fb188efbc94d13b7ef8ea574676536c9b6f4",
        "56710b8b731b411b76a550d04e871380d385e67e89fb0f3a955ceed43a2f8553",
    ),
}


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_session_keys_known_answers(vector: dict[str, Any]) -> None:
    """k_i2r and k_r2i for each vector's handshake match frozen values and the spec's formula."""
    given_ = {name: bytes.fromhex(value) for name, value in vector["inputs"].items()}
    transcript = b"".join(bytes.fromhex(vector["messages"][f"msg{n}"]) for n in range(1, 5))
    client, server = Identity(given_["client_seed"]), Identity(given_["server_seed"])
    a = PrivateKey(given_["client_ephemeral_secret"])
    ee = shs.agree(a, given_["server_ephemeral_public"])
    _m3, secrets = shs.msg3(
        given_["network_key"], client, server.public, a, given_["server_ephemeral_public"], ee
    )
    initiator = shs.session_keys(secrets, transcript, initiator=True)
    responder = shs.session_keys(secrets, transcript, initiator=False)
    i2r, r2i = SESSION_KEYS[vector["name"]]
    assert (i2r, r2i) == (initiator.tx.hex(), initiator.rx.hex())
    assert (r2i, i2r) == (responder.tx.hex(), responder.rx.hex())

    # The same, straight from link-protocol.md and the independent implementation's secret.
    th = hashlib.blake2b(transcript, digest_size=64).digest()
    master = hashlib.blake2b(
        th + given_["client_public"] + given_["server_public"],
        digest_size=32,
        key=bytes.fromhex(vector["session"]["secret"]),
    ).digest()
    spec_i2r = hashlib.blake2b(b"i2r", digest_size=32, key=master, person=b"actorkit-i2r")
    spec_r2i = hashlib.blake2b(b"r2i", digest_size=32, key=master, person=b"actorkit-r2i")
    assert (i2r, r2i) == (spec_i2r.hexdigest(), spec_r2i.hexdigest())
