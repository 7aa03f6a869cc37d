"""Encrypted framing: round trips, coalescing, rekeying, and every tampering the design lists."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from actorkit.net import (
    DEFAULT_MAX_FRAME,
    MAX_FRAME_CAP,
    FramedChannel,
    FrameTag,
    FramingError,
    LinkLost,
    SessionKeys,
)

I2R, R2I = os.urandom(32), os.urandom(32)
INITIATOR = SessionKeys(tx=I2R, rx=R2I)
RESPONDER = SessionKeys(tx=R2I, rx=I2R)
FRAMES = [b"first", b"", b"x" * 100, b"last frame"]


class Recorder(trio.abc.Stream):
    """A stream that keeps every ``send_all`` apart, and receives nothing."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        self.writes.append(bytes(data))

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()

    @property
    def wire(self) -> bytes:
        """All bytes written so far."""
        return b"".join(self.writes)


class Feed(trio.abc.Stream):
    """A stream that delivers ``data`` in chunks of ``chunk`` bytes, then EOF (or silence)."""

    def __init__(self, data: bytes, *, chunk: int = 1 << 20, eof: bool = True) -> None:
        self.data = data
        self.chunk = chunk
        self.eof = eof
        self.offset = 0
        self.reads = 0

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        if self.offset >= len(self.data) and not self.eof:
            await trio.sleep_forever()
        size = min(self.chunk, max_bytes or self.chunk)
        piece = self.data[self.offset : self.offset + size]
        self.offset += len(piece)
        self.reads += 1
        return piece

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()


async def wire_of(
    batches: list[list[bytes]], keys: SessionKeys = INITIATOR, *, final: bytes | None = None
) -> bytes:
    """The bytes a sender with ``keys`` writes for these batches (and a FINAL frame)."""
    recorder = Recorder()
    channel = FramedChannel(recorder, keys)
    for batch in batches:
        await channel.send_frames(batch)
    if final is not None:
        await channel.close_final(final)
    return recorder.wire


def split(wire: bytes) -> tuple[bytes, list[bytes]]:
    """A sender's wire cut into its 24-byte header and its frames (each with its length)."""
    header, frames, offset = wire[:24], [], 24
    while offset < len(wire):
        size = 4 + int.from_bytes(wire[offset : offset + 4], "big")
        frames.append(wire[offset : offset + size])
        offset += size
    return header, frames


async def drain(
    data: bytes, keys: SessionKeys = RESPONDER, **options: Any
) -> tuple[list[tuple[bytes, FrameTag]], BaseException]:
    """Receive from ``data`` until something is raised; return the frames and the exception."""
    many = options.pop("many", False)
    channel = FramedChannel(Feed(data, chunk=options.pop("chunk", 1 << 20)), keys, **options)
    frames = []
    while True:
        try:
            if many:
                frames.extend(await channel.receive_frames(max_frames=5))
            else:
                frames.append(await channel.receive_frame())
        except (FramingError, LinkLost, trio.EndOfChannel) as exc:
            return frames, exc


def messages(*plaintexts: bytes) -> list[tuple[bytes, FrameTag]]:
    """The receive_frame results for plain MESSAGE frames."""
    return [(plaintext, FrameTag.MESSAGE) for plaintext in plaintexts]


# -- round trips -----------------------------------------------------------------------------


async def test_frames_round_trip_in_order() -> None:
    """Frames of any size up to max_frame arrive intact, in order, as MESSAGE."""
    left, right = trio.testing.memory_stream_pair()
    sender, receiver = FramedChannel(left, INITIATOR), FramedChannel(right, RESPONDER)
    plaintexts = [b"", b"a", os.urandom(100), os.urandom(70_000), os.urandom(DEFAULT_MAX_FRAME)]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sender.send_frames, plaintexts)
        received = [await receiver.receive_frame() for _ in plaintexts]
    assert messages(*plaintexts) == received


async def test_both_directions_at_once() -> None:
    """Each side sends and receives concurrently on its own keys."""
    left, right = trio.testing.memory_stream_pair()
    a, b = FramedChannel(left, INITIATOR), FramedChannel(right, RESPONDER)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(a.send_frames, [b"ping"] * 50)
        nursery.start_soon(b.send_frames, [b"pong"] * 50)
        from_a = [await b.receive_frame() for _ in range(50)]
        from_b = [await a.receive_frame() for _ in range(50)]
    assert messages(*[b"ping"] * 50) == from_a
    assert messages(*[b"pong"] * 50) == from_b


async def test_many_frames_are_coalesced_into_one_write() -> None:
    """send_frames writes the header and all its frames with a single send_all."""
    recorder = Recorder()
    channel = FramedChannel(recorder, INITIATOR)
    await channel.send_frames([b"x" * 100] * 64)
    assert 1 == len(recorder.writes)
    assert 24 + 64 * (4 + 100 + 17) == len(recorder.writes[0])
    await channel.send_frames([b"y"] * 3)
    assert 2 == len(recorder.writes)
    assert 3 * (4 + 1 + 17) == len(recorder.writes[1])


async def test_the_length_prefix_is_the_ciphertext_length() -> None:
    """Each frame is be32(len(plaintext) + 17) followed by that many bytes."""
    header, frames = split(await wire_of([[b"abc", b""]]))
    assert 24 == len(header)
    assert [(20).to_bytes(4, "big"), (17).to_bytes(4, "big")] == [frame[:4] for frame in frames]
    assert [24, 21] == [len(frame) for frame in frames]


@pytest.mark.parametrize("chunk", [1, 3, 25, 1000])
async def test_frames_survive_any_read_chunking(chunk: int) -> None:
    """However the stream splits the bytes, the same frames come out."""
    wire = await wire_of([FRAMES], final=b"bye")
    frames, end = await drain(wire, chunk=chunk)
    assert [*messages(*FRAMES), (b"bye", FrameTag.FINAL)] == frames
    assert isinstance(end, trio.EndOfChannel)


async def test_an_oversized_frame_is_refused_before_anything_is_sent() -> None:
    """A plaintext over max_frame raises ValueError, sends nothing and harms nothing."""
    recorder = Recorder()
    channel = FramedChannel(recorder, INITIATOR, max_frame=100)
    with pytest.raises(ValueError, match="larger than max_frame=100"):
        await channel.send_frames([b"ok", b"x" * 101])
    assert [] == recorder.writes
    await channel.send_frames([b"x" * 100])
    frames, _end = await drain(recorder.wire, max_frame=100)
    assert messages(b"x" * 100) == frames


@pytest.mark.parametrize("max_frame", [0, -1, MAX_FRAME_CAP + 1])
def test_max_frame_is_bounded_by_the_hard_cap(max_frame: int) -> None:
    """max_frame must be from 1 byte to 16 MiB."""
    with pytest.raises(ValueError, match="max_frame"):
        FramedChannel(Recorder(), INITIATOR, max_frame=max_frame)


async def test_a_frame_of_exactly_max_frame_is_accepted() -> None:
    """clen = max_frame + 17 is the largest accepted length."""
    wire = await wire_of([[b"z" * 1000]])
    frames, end = await drain(wire, max_frame=1000)
    assert messages(b"z" * 1000) == frames
    assert isinstance(end, LinkLost)


# -- batched receiving, cancellation, checkpoints ----------------------------------------------


async def test_receive_frames_returns_what_is_buffered_up_to_max_frames() -> None:
    """receive_frames returns the buffered frames in order, at most max_frames at a time."""
    wire = await wire_of([[bytes([n]) for n in range(10)]], final=b"end")
    channel = FramedChannel(Feed(wire), RESPONDER)
    assert messages(*[bytes([n]) for n in range(4)]) == await channel.receive_frames(4)
    assert messages(*[bytes([n]) for n in range(4, 10)]) == await channel.receive_frames(6)
    assert [(b"end", FrameTag.FINAL)] == await channel.receive_frames(100)
    with pytest.raises(trio.EndOfChannel):
        await channel.receive_frames()


async def test_receive_frames_stops_at_final() -> None:
    """A FINAL frame ends a batch even if max_frames allows more."""
    wire = await wire_of([[b"a", b"b"]], final=b"end")
    channel = FramedChannel(Feed(wire), RESPONDER)
    assert [*messages(b"a", b"b"), (b"end", FrameTag.FINAL)] == await channel.receive_frames()


async def test_receive_frames_returns_good_frames_before_raising_on_a_bad_one() -> None:
    """Frames before a bad one are delivered; the bad one raises on the next call."""
    header, frames = split(await wire_of([FRAMES]))
    channel = FramedChannel(Feed(header + frames[0] + frames[1] + frames[0]), RESPONDER)
    assert messages(*FRAMES[:2]) == await channel.receive_frames()
    with pytest.raises(FramingError, match="failed authentication"):
        await channel.receive_frames()
    with pytest.raises(FramingError, match="dead"):
        await channel.receive_frame()


async def test_a_cancelled_receive_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    """Cancelling a receive that waits for the rest of a frame keeps the part already read."""
    wire = await wire_of([[b"x" * 100, b"y"]])
    left, right = trio.testing.memory_stream_pair()
    channel = FramedChannel(right, RESPONDER)
    await left.send_all(wire[:60])  # the header, the length and part of the first frame
    with trio.move_on_after(0.01) as scope:
        await channel.receive_frame()
    assert scope.cancelled_caught
    await left.send_all(wire[60:])
    assert messages(b"x" * 100, b"y") == [await channel.receive_frame() for _ in range(2)]


async def test_receiving_a_buffered_frame_is_still_a_checkpoint() -> None:
    """receive_frame yields to the scheduler even when the frame is already buffered."""
    channel = FramedChannel(Feed(await wire_of([[b"a", b"b"]])), RESPONDER)
    await channel.receive_frame()
    with trio.testing.assert_checkpoints():
        assert (b"b", FrameTag.MESSAGE) == await channel.receive_frame()


async def test_concurrent_receives_are_refused() -> None:
    """Two tasks receiving at once is a BusyResourceError, as on Trio's streams."""
    _left, right = trio.testing.memory_stream_pair()
    channel = FramedChannel(right, RESPONDER)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(channel.receive_frame)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await channel.receive_frame()
        nursery.cancel_scope.cancel()


class Stuck(Recorder):
    """A stream whose writes never finish."""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.sleep_forever()


async def test_concurrent_sends_are_refused_and_a_cut_send_ends_sending() -> None:
    """A second sender gets BusyResourceError; a send cancelled mid-write ends the sending side."""
    channel = FramedChannel(Stuck(), INITIATOR)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(channel.send_frame, b"first")
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await channel.send_frame(b"second")
        nursery.cancel_scope.cancel()
    with pytest.raises(FramingError, match="interrupted"):
        await channel.send_frame(b"third")


# -- clean close and truncation --------------------------------------------------------------


async def test_final_is_a_clean_close() -> None:
    """close_final's frame arrives tagged FINAL, and then the channel ends cleanly."""
    left, right = trio.testing.memory_stream_pair()
    sender, receiver = FramedChannel(left, INITIATOR), FramedChannel(right, RESPONDER)
    await sender.send_frame(b"data")
    await sender.close_final(b"goodbye")
    assert (b"data", FrameTag.MESSAGE) == await receiver.receive_frame()
    assert (b"goodbye", FrameTag.FINAL) == await receiver.receive_frame()
    with pytest.raises(trio.EndOfChannel):
        await receiver.receive_frame()
    with pytest.raises(trio.EndOfChannel):
        await receiver.receive_frame()


async def test_nothing_can_be_sent_after_final() -> None:
    """After close_final, sending raises FramingError."""
    channel = FramedChannel(Recorder(), INITIATOR)
    await channel.close_final()
    with pytest.raises(FramingError, match="FINAL"):
        await channel.send_frame(b"late")


async def test_data_after_final_is_a_framing_error() -> None:
    """Bytes after the FINAL frame (say, a replayed frame) are an error, not ignored."""
    wire = await wire_of([[b"one"]], final=b"")
    _header, frames = split(wire)
    for extra in [frames[0], b"x"]:
        received, end = await drain(wire + extra)
        assert [*messages(b"one"), (b"", FrameTag.FINAL)] == received
        assert isinstance(end, FramingError)
        assert "after its FINAL frame" in str(end)


async def test_eof_without_final_is_link_lost() -> None:
    """A stream that ends between frames, without FINAL, is LinkLost: possibly truncated."""
    received, end = await drain(await wire_of([FRAMES]))
    assert messages(*FRAMES) == received
    assert isinstance(end, LinkLost)
    assert "possibly truncated" in str(end)


@pytest.mark.parametrize("cut", [1, 12, 23, 24 + 2, 24 + 4 + 5, -1])
async def test_eof_mid_header_or_mid_frame_is_link_lost(cut: int) -> None:
    """A stream cut inside the header, a length, or a frame is LinkLost."""
    wire = await wire_of([[b"some frame"]])
    received, end = await drain(wire[:cut])
    assert [] == received
    assert isinstance(end, LinkLost)


async def test_an_empty_stream_is_link_lost() -> None:
    """A peer that closes before its header is LinkLost."""
    assert isinstance((await drain(b""))[1], LinkLost)


async def test_a_broken_stream_is_link_lost() -> None:
    """A stream that breaks under the receiver is LinkLost, and so is sending on a closed one."""
    left, right = trio.testing.memory_stream_pair()
    receiver = FramedChannel(right, RESPONDER)
    await right.aclose()
    with pytest.raises(LinkLost):
        await receiver.receive_frame()
    sender = FramedChannel(left, INITIATOR)
    await left.aclose()
    with pytest.raises(LinkLost):
        await sender.send_frame(b"x")
    with pytest.raises(FramingError, match="earlier send failed"):
        await sender.send_frame(b"x")


# -- replay, reorder, loss, reflection, other sessions ---------------------------------------


async def rearranged(order: list[int]) -> tuple[list[tuple[bytes, FrameTag]], BaseException]:
    """Receive the header and then FRAMES' frames in ``order`` (indices may repeat or skip)."""
    header, frames = split(await wire_of([FRAMES]))
    return await drain(header + b"".join(frames[index] for index in order))


@pytest.mark.parametrize(
    ("order", "good"),
    [
        ([0, 1, 0], 2),  # replayed
        ([1, 0], 0),  # reordered
        ([0, 2, 3], 1),  # dropped
        ([0, 0], 1),  # duplicated
        ([0, 1, 3, 2], 2),  # swapped later on
    ],
    ids=["replayed", "reordered", "dropped", "duplicated", "swapped"],
)
async def test_replayed_reordered_dropped_and_duplicated_frames_fail(
    order: list[int], good: int
) -> None:
    """Frames out of their exact sequence fail authentication at the first deviation."""
    received, end = await rearranged(order)
    assert messages(*FRAMES[:good]) == received
    assert isinstance(end, FramingError)
    assert "failed authentication" in str(end)


async def test_a_frame_from_another_session_fails() -> None:
    """A frame from a session with other keys, spliced in, fails."""
    header, frames = split(await wire_of([FRAMES]))
    other = SessionKeys(tx=os.urandom(32), rx=os.urandom(32))
    _other_header, other_frames = split(await wire_of([FRAMES], other))
    received, end = await drain(header + frames[0] + other_frames[1])
    assert messages(FRAMES[0]) == received
    assert isinstance(end, FramingError)


async def test_a_whole_stream_from_another_session_fails() -> None:
    """A header and frames made under other keys fail at the first frame."""
    other = SessionKeys(tx=os.urandom(32), rx=os.urandom(32))
    received, end = await drain(await wire_of([FRAMES], other))
    assert [] == received
    assert isinstance(end, FramingError)


async def test_a_frame_reflected_to_its_sender_fails() -> None:
    """A side's own frames, sent back to it, fail: each direction has its own key."""
    received, end = await drain(await wire_of([FRAMES], INITIATOR), INITIATOR)
    assert [] == received
    assert isinstance(end, FramingError)


# -- tampering and bad lengths ---------------------------------------------------------------


def flip(data: bytes, bit: int) -> bytes:
    """``data`` with bit number ``bit`` inverted."""
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@pytest.mark.parametrize("bit", range(32))
async def test_a_flipped_length_bit_never_yields_a_frame(bit: int) -> None:
    """Any flipped bit of the first length ends the channel with FramingError or LinkLost."""
    wire = await wire_of([[b"x" * 100, b"y" * 100]])
    received, end = await drain(flip(wire, 24 * 8 + bit))
    assert [] == received
    assert isinstance(end, FramingError | LinkLost)


@pytest.mark.parametrize("bit", [0, 7, 95, 191])
async def test_a_flipped_header_bit_fails_the_first_frame(bit: int) -> None:
    """The secretstream header is authenticated through the first frame."""
    received, end = await drain(flip(await wire_of([FRAMES]), bit))
    assert [] == received
    assert isinstance(end, FramingError)


@pytest.mark.parametrize("offset", [0, 1, 16, 17, 50, 101, 116])
async def test_a_flipped_ciphertext_bit_fails(offset: int) -> None:
    """A flip anywhere in a frame's ciphertext (tag byte, body, MAC) fails it."""
    wire = await wire_of([[b"x" * 100]])
    received, end = await drain(flip(wire, (24 + 4 + offset) * 8 + 3))
    assert [] == received
    assert isinstance(end, FramingError)


@pytest.mark.parametrize("clen", [0, 1, 16, 0xFFFFFFFF, 0x80000000, 1000 + 17 + 1])
async def test_bad_lengths_are_refused_before_reading_the_frame(
    clen: int, autojump_clock: trio.testing.MockClock
) -> None:
    """clen < 17 or > max_frame + 17 fails at once: no more is read, nothing is allocated."""
    header = split(await wire_of([[b"a"]]))[0]
    stream = Feed(header + clen.to_bytes(4, "big"), eof=False)  # then silence, forever
    channel = FramedChannel(stream, RESPONDER, max_frame=1000)
    with trio.fail_after(1), pytest.raises(FramingError, match=f"claims {clen} bytes"):
        await channel.receive_frame()
    assert len(stream.data) == stream.offset


async def test_a_dead_channel_stays_dead() -> None:
    """After a FramingError, every later receive raises FramingError; no frame is skipped."""
    header, frames = split(await wire_of([FRAMES]))
    channel = FramedChannel(Feed(header + frames[1] + frames[0]), RESPONDER)
    with pytest.raises(FramingError):
        await channel.receive_frame()
    for _ in range(2):
        with pytest.raises(FramingError, match="dead"):
            await channel.receive_frame()


async def test_rejected_frames_are_logged_without_key_bytes() -> None:
    """A rejected frame emits link_frame_rejected, with no key material."""
    with capture_logs() as logs:
        await rearranged([1])
    assert ["link_frame_rejected"] == [entry["event"] for entry in logs]
    assert "FramingError" == logs[0]["error"]
    assert I2R.hex() not in repr(logs)


# -- rekeying --------------------------------------------------------------------------------


async def test_rekeying_every_n_frames_is_transparent() -> None:
    """With rekey_frames=3, REKEY goes out every third frame and the receiver never notices."""
    plaintexts = [bytes([n]) * n for n in range(10)]
    recorder = Recorder()
    sender = FramedChannel(recorder, INITIATOR, rekey_frames=3)
    await sender.send_frames(plaintexts[:4])
    await sender.send_frames(plaintexts[4:])
    channel = FramedChannel(Feed(recorder.wire), RESPONDER)
    received = [await channel.receive_frame() for _ in plaintexts]
    assert messages(*plaintexts) == received
    assert 3 == sender.statistics().rekeys_sent
    assert 3 == channel.statistics().rekeys_received
    assert 10 == channel.statistics().frames_received


async def test_rekeyed_streams_do_not_accept_pre_rekey_frames() -> None:
    """After a REKEY, a frame replayed from before it fails."""
    recorder = Recorder()
    sender = FramedChannel(recorder, INITIATOR, rekey_frames=2)
    await sender.send_frames([b"a", b"b", b"c"])
    header, frames = split(recorder.wire)
    received, end = await drain(header + frames[0] + frames[1] + frames[1])
    assert messages(b"a", b"b") == received
    assert isinstance(end, FramingError)


async def test_rekeying_after_ten_minutes(autojump_clock: trio.testing.MockClock) -> None:
    """A sender rekeys on the first frame sent after rekey_seconds, transparently."""
    left, right = trio.testing.memory_stream_pair()
    sender, receiver = FramedChannel(left, INITIATOR), FramedChannel(right, RESPONDER)
    await sender.send_frame(b"before")
    await trio.sleep(599)
    await sender.send_frame(b"still the same key")
    assert 0 == sender.statistics().rekeys_sent
    await trio.sleep(2)
    await sender.send_frames([b"after", b"and more"])
    assert 1 == sender.statistics().rekeys_sent
    received = [await receiver.receive_frame() for _ in range(4)]
    assert messages(b"before", b"still the same key", b"after", b"and more") == received
    assert 1 == receiver.statistics().rekeys_received


# -- fuzzing ---------------------------------------------------------------------------------

REFERENCE: dict[str, bytes] = {}
REFERENCE_FRAMES = [b"alpha", b"", b"gamma" * 20, b"delta" * 3]


def reference_wire() -> bytes:
    """A valid stream of REFERENCE_FRAMES with a REKEY and a FINAL, made once."""
    if "wire" not in REFERENCE:

        async def make() -> bytes:
            recorder = Recorder()
            channel = FramedChannel(recorder, INITIATOR, rekey_frames=2)
            await channel.send_frames(REFERENCE_FRAMES[:2])
            await channel.send_frames(REFERENCE_FRAMES[2:])
            await channel.close_final(b"omega")
            return recorder.wire

        REFERENCE["wire"] = trio.run(make)
    return REFERENCE["wire"]


def receive_everything(
    data: bytes, chunk: int, many: bool
) -> tuple[list[tuple[bytes, FrameTag]], Any]:
    """Run a receiver over ``data`` on its own Trio loop; any other exception propagates."""
    with capture_logs():
        return trio.run(lambda: drain(data, chunk=chunk, max_frame=4096, many=many))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), chunk=st.integers(1, 64), many=st.booleans())
def test_random_bytes_raise_only_framing_error_or_link_lost(
    data: bytes, chunk: int, many: bool
) -> None:
    """Arbitrary bytes never yield a frame and never raise anything but our two errors."""
    received, end = receive_everything(data, chunk, many)
    assert [] == received
    assert isinstance(end, FramingError | LinkLost)


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    """The reference wire with one random change: a flip, a cut, an insertion, a repeat."""
    wire = reference_wire()
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "repeat"]))
    at = draw(st.integers(0, len(wire) - 1))
    if kind == "flip":
        return flip(wire, at * 8 + draw(st.integers(0, 7)))
    if kind == "truncate":
        return wire[:at]
    if kind == "insert":
        return wire[:at] + draw(st.binary(min_size=1, max_size=20)) + wire[at:]
    end = draw(st.integers(at + 1, min(len(wire), at + 64)))
    if kind == "delete":
        return wire[:at] + wire[end:]
    return wire[:end] + wire[at:end] + wire[end:]


@settings(max_examples=200, deadline=None)
@given(data=mutations(), chunk=st.integers(1, 200), many=st.booleans())
def test_mutated_streams_yield_only_a_prefix_of_the_real_frames(
    data: bytes, chunk: int, many: bool
) -> None:
    """A changed stream yields some of the genuine frames, in order, then FramingError/LinkLost."""
    received, end = receive_everything(data, chunk, many)
    genuine = [*messages(*REFERENCE_FRAMES), (b"omega", FrameTag.FINAL)]
    assert genuine[: len(received)] == received
    if isinstance(end, trio.EndOfChannel):
        assert genuine == received
    else:
        assert isinstance(end, FramingError | LinkLost)


# -- writing at once: send_frames_nowait -------------------------------------------------------


@asynccontextmanager
async def socket_pair() -> AsyncIterator[tuple[FramedChannel, FramedChannel]]:
    """Channels over a connected socket pair (the only streams written to directly)."""
    left, right = trio.socket.socketpair()
    streams = trio.SocketStream(left), trio.SocketStream(right)
    try:
        yield FramedChannel(streams[0], INITIATOR), FramedChannel(streams[1], RESPONDER)
    finally:
        for stream in streams:
            await trio.aclose_forcefully(stream)


async def test_send_frames_nowait_writes_to_a_socket_at_once() -> None:
    """On a socket with room, the frames are written before the call returns: the peer
    reads them with no send_frames, flush, or schedule point on the sending side."""
    async with socket_pair() as (sender, receiver):
        assert sender.idle
        assert sender.send_frames_nowait(FRAMES)
        assert sender.idle
        assert FRAMES == [(await receiver.receive_frame())[0] for _ in FRAMES]
        assert 4 == sender.statistics().frames_sent


async def test_frames_a_full_socket_refuses_wait_in_order_for_flush() -> None:
    """When the socket buffer is full, what it does not take waits in the channel; frames sent
    later (nowait or not) go behind it, and flush plus send_frames deliver all in order."""
    async with socket_pair() as (sender, receiver):
        big = os.urandom(256 * 1024)
        sent: list[bytes] = []
        while sender.send_frames_nowait([big]):  # until the kernel's buffers are full
            sent.append(big)
        sent.append(big)
        assert not sender.idle  # bytes wait to be written
        for n in range(3):
            assert not sender.send_frames_nowait([b"late %d" % n])  # behind the backlog
            sent.append(b"late %d" % n)
        received: list[bytes] = []

        async def read_all() -> None:
            while len(received) < len(sent) + 1:
                received.append((await receiver.receive_frame())[0])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_all)
            await sender.flush()
            assert sender.idle
            await sender.send_frames([b"after the flush"])
        assert [*sent, b"after the flush"] == received


async def test_on_other_streams_send_frames_nowait_leaves_the_writing_to_send_frames() -> None:
    """A stream that is not a socket is never written to directly: the frames wait, and the
    next send_frames writes them, in order, in one write before its own."""
    left, right = trio.testing.memory_stream_pair()
    sender, receiver = FramedChannel(left, INITIATOR), FramedChannel(right, RESPONDER)
    assert not sender.send_frames_nowait([b"one", b"two"])
    await sender.send_frames([b"three"])
    assert [b"one", b"two", b"three"] == [(await receiver.receive_frame())[0] for _ in range(3)]


async def test_send_frames_nowait_after_final_or_close_is_refused() -> None:
    async with socket_pair() as (sender, _receiver):
        await sender.close_final(b"bye")
        with pytest.raises(FramingError):
            sender.send_frames_nowait([b"too late"])
    async with socket_pair() as (sender, _receiver):
        await sender.aclose()
        with pytest.raises(FramingError):
            sender.send_frames_nowait([b"too late"])
    async with socket_pair() as (sender, _receiver):
        await sender.stream.aclose()  # closed under the channel: its fd may be reused
        assert not sender.send_frames_nowait([b"too late"])  # never written to a stale fd


async def test_a_broken_socket_is_reported_by_the_next_send() -> None:
    """send_frames_nowait never raises for a broken socket (it may run inside a callback);
    the frames wait, and the next send reports LinkLost."""
    async with socket_pair() as (sender, receiver):
        await receiver.aclose()
        while sender.send_frames_nowait([b"x" * 100_000]):
            pass  # the kernel may take a write or two before it reports the reset
        with pytest.raises(LinkLost):
            await sender.flush()
