"""Encrypted frames over a Trio stream: libsodium's secretstream, one per direction.

Each side first sends its 24-byte secretstream header; then each frame is
``be32(clen) ‖ push(plaintext, ad=be32(clen), tag)`` with ``clen = len(plaintext) + 17``.
secretstream gives every frame an implicit, ever-increasing nonce, so a replayed, reordered,
dropped, duplicated or reflected frame fails to authenticate, and a ``FINAL`` tag tells a clean
close from a cut-off stream. The length is authenticated (as the additional data), not hidden,
and it is bounds-checked before a byte of the frame is read. Any failure kills the channel:
a bad frame is never skipped.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Sequence

import attrs
import nacl.bindings
import nacl.exceptions
import trio

from .._logging import logger
from ._errors import FramingError, LinkLost
from ._handshake import SessionKeys

__all__ = [
    "DEFAULT_MAX_FRAME",
    "MAX_FRAME_CAP",
    "REKEY_FRAMES",
    "REKEY_SECONDS",
    "ChannelStatistics",
    "FrameTag",
    "FramedChannel",
]

HEADER_BYTES = nacl.bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES  # 24
OVERHEAD = nacl.bindings.crypto_secretstream_xchacha20poly1305_ABYTES  # 17
#: The default largest plaintext of one frame (1 MiB).
DEFAULT_MAX_FRAME = 1024 * 1024
#: No configuration may allow frames larger than this (16 MiB).
MAX_FRAME_CAP = 16 * 1024 * 1024
#: A sender rekeys after this many frames...
REKEY_FRAMES = 65_536
#: ...or this many seconds (Trio's clock), whichever comes first.
REKEY_SECONDS = 600.0
_RECEIVE_CHUNK = 65_536

_push = nacl.bindings.crypto_secretstream_xchacha20poly1305_push
_pull = nacl.bindings.crypto_secretstream_xchacha20poly1305_pull


class FrameTag(enum.IntEnum):
    """secretstream's tags, as :meth:`FramedChannel.receive_frame` reports them."""

    MESSAGE = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
    PUSH = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_PUSH
    REKEY = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_REKEY
    FINAL = nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


@attrs.frozen
class ChannelStatistics:
    """Counters of a :class:`FramedChannel`, from :meth:`FramedChannel.statistics`."""

    frames_sent: int
    frames_received: int
    rekeys_sent: int
    rekeys_received: int


class FramedChannel(trio.abc.AsyncResource):
    """Authenticated, encrypted frames over ``stream``, keyed by a handshake's ``keys``.

    Sending and receiving are independent and may run in two tasks at once; two concurrent
    sends (or receives) raise :class:`trio.BusyResourceError`, as Trio's streams do. The
    header is sent with the first frames, so building a channel does no I/O.

    Args:
        stream: the stream the handshake ran on.
        keys: the :class:`SessionKeys` the handshake returned.
        max_frame: the largest plaintext accepted or sent, in bytes (1 MiB by default; at most
            16 MiB).
        rekey_frames: rekey (with ``TAG_REKEY``) after this many frames, or after
            ``rekey_seconds``, whichever comes first; the receiver follows without noticing.
        rekey_seconds: rekey after this many seconds, or after ``rekey_frames`` frames.

    Raises:
        ValueError: a limit is out of range.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        keys: SessionKeys,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        rekey_frames: int = REKEY_FRAMES,
        rekey_seconds: float = REKEY_SECONDS,
    ) -> None:
        if not isinstance(max_frame, int) or not 0 < max_frame <= MAX_FRAME_CAP:
            raise ValueError(
                f"max_frame must be from 1 to {MAX_FRAME_CAP} bytes, not {max_frame!r}"
            )
        if not isinstance(rekey_frames, int) or rekey_frames < 1:
            raise ValueError(f"rekey_frames must be a positive int, not {rekey_frames!r}")
        if not rekey_seconds > 0:
            raise ValueError(f"rekey_seconds must be positive, not {rekey_seconds!r}")
        self.stream = stream
        self._max_frame = max_frame
        self._rekey_frames = rekey_frames
        self._rekey_seconds = rekey_seconds
        # Sending side.
        self._push_state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        self._pending_header: bytes | None = (
            nacl.bindings.crypto_secretstream_xchacha20poly1305_init_push(self._push_state, keys.tx)
        )
        self._frames_since_rekey = 0
        self._rekey_at: float | None = None
        self._sending = False
        self._send_closed: str | None = None  # why no more frames may be sent
        self._backlog = bytearray()  # sealed bytes send_frames_nowait could not write yet
        # send_frames_nowait writes to a socket directly, with os.write on its descriptor
        # (POSIX only: other streams, and Windows sockets, go through send_all).
        self._socket = (
            stream.socket if isinstance(stream, trio.SocketStream) and os.name == "posix" else None
        )
        # Receiving side.
        self._rx_key: bytes | None = keys.rx
        self._pull_state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
        self._buffer = bytearray()
        self._offset = 0
        self._receiving = False
        self._final_received = False
        self._dead: BaseException | None = None
        self._deferred: FramingError | None = None  # found by receive_frames, raised next
        # Counters.
        self._frames_sent = 0
        self._frames_received = 0
        self._rekeys_sent = 0
        self._rekeys_received = 0

    @property
    def max_frame(self) -> int:
        """The largest plaintext, in bytes, this channel sends or accepts."""
        return self._max_frame

    def statistics(self) -> ChannelStatistics:
        """How many frames and rekeys have gone each way."""
        return ChannelStatistics(
            self._frames_sent, self._frames_received, self._rekeys_sent, self._rekeys_received
        )

    # Sending ----------------------------------------------------------------------------------

    async def send_frames(self, plaintexts: Sequence[bytes]) -> None:
        """Encrypt ``plaintexts`` as consecutive frames and write them with ONE ``send_all``
        (after any bytes :meth:`send_frames_nowait` left unwritten).

        Coalescing is what makes a link fast: a write per frame is several times slower than
        the cipher. If the write fails or is cancelled the channel can send no more (the
        frames are encrypted, and the peer may hold part of one).

        Raises:
            ValueError: a plaintext is longer than ``max_frame`` (nothing is sent).
            LinkLost: the stream broke.
            FramingError: the channel has sent ``FINAL``, or an earlier send failed.
            trio.BusyResourceError: another task is sending.
        """
        await self._send(plaintexts, final=False)

    async def send_frame(self, plaintext: bytes) -> None:
        """Send one frame; see :meth:`send_frames`, which is faster for many."""
        await self._send((plaintext,), final=False)

    async def flush(self) -> None:
        """Write what :meth:`send_frames_nowait` could not (nothing if all was written)."""
        await self._send((), final=False)

    def send_frames_nowait(self, plaintexts: Sequence[bytes]) -> bool:
        """Encrypt ``plaintexts`` and write them at once if the socket takes them, without
        a schedule point; return True if everything is written.

        Otherwise (a full socket buffer, a stream that is not a socket, bytes still waiting
        from an earlier call) the frames wait, in order, for the next :meth:`send_frames` or
        :meth:`flush`, which the caller must arrange. A broken socket is reported there too.

        Raises the same errors as :meth:`send_frames`, except ``LinkLost``.
        """
        self._check_can_send()
        self._backlog += self._seal(plaintexts, final=False)
        if self._socket is None or not self._backlog:
            return not self._backlog
        fd = self._socket.fileno()  # read each time: -1 once the socket is closed
        if fd < 0:
            return False
        try:
            written = os.write(fd, self._backlog)
        except OSError:  # full (BlockingIOError), or broken: the next send_all will tell
            return False
        del self._backlog[:written]
        return not self._backlog

    @property
    def idle(self) -> bool:
        """True if no send is under way and nothing waits to be written."""
        return not self._sending and not self._backlog

    async def close_final(self, plaintext: bytes = b"") -> None:
        """Send ``plaintext`` as the ``FINAL`` frame: a clean close; then shut the write side.

        The peer's :meth:`receive_frame` returns it with :attr:`FrameTag.FINAL`, then raises
        :class:`trio.EndOfChannel`. Nothing can be sent afterwards.
        """
        await self._send((plaintext,), final=True)
        if isinstance(self.stream, trio.abc.HalfCloseableStream):
            # The FINAL frame is out; a peer gone now has nothing left to miss.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.stream.send_eof()

    def _check_can_send(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is already sending on this channel")
        if self._send_closed is not None:
            raise FramingError(f"cannot send: {self._send_closed}")

    async def _send(self, plaintexts: Sequence[bytes], *, final: bool) -> None:
        self._check_can_send()
        sealed = self._seal(plaintexts, final=final)
        if self._backlog:
            sealed, self._backlog = bytes(self._backlog + sealed), bytearray()
        if final:
            self._send_closed = "the channel has sent its FINAL frame"
        if not sealed:
            return
        self._sending = True
        try:
            await self.stream.send_all(sealed)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self._send_closed = "an earlier send failed"
            raise LinkLost("the link broke while sending") from exc
        except BaseException:
            # Cancelled: the push state has moved on and the peer may hold half a frame.
            self._send_closed = "an earlier send was interrupted"
            raise
        finally:
            self._sending = False

    def _seal(self, plaintexts: Sequence[bytes], *, final: bool) -> bytes:
        """``plaintexts`` encrypted as consecutive frames (the FINAL tag on the last one if
        ``final``), after the header if it has not gone yet; rekeying when due."""
        for plaintext in plaintexts:
            if not isinstance(plaintext, bytes):
                raise TypeError(
                    f"a frame's plaintext must be bytes, not {type(plaintext).__name__}"
                )
            if len(plaintext) > self._max_frame:
                raise ValueError(
                    f"a frame of {len(plaintext)} bytes is larger than max_frame="
                    f"{self._max_frame}; split it"
                )
        if not plaintexts:
            return b""
        now = trio.current_time()
        if self._rekey_at is None:
            self._rekey_at = now + self._rekey_seconds
        rekey_due = now >= self._rekey_at
        parts: list[bytes] = []
        if self._pending_header is not None:
            parts.append(self._pending_header)
            self._pending_header = None
        state = self._push_state
        last = len(plaintexts) - 1
        for index, plaintext in enumerate(plaintexts):
            self._frames_since_rekey += 1
            if final and index == last:
                tag = FrameTag.FINAL
            elif rekey_due or self._frames_since_rekey >= self._rekey_frames:
                tag = FrameTag.REKEY
                rekey_due = False
                self._frames_since_rekey = 0
                self._rekey_at = now + self._rekey_seconds
                self._rekeys_sent += 1
            else:
                tag = FrameTag.MESSAGE
            length = (len(plaintext) + OVERHEAD).to_bytes(4, "big")
            parts.append(length)
            parts.append(_push(state, plaintext, length, tag))
        self._frames_sent += len(plaintexts)
        return b"".join(parts)

    # Receiving --------------------------------------------------------------------------------

    async def receive_frame(self) -> tuple[bytes, FrameTag]:
        """The next frame's plaintext and tag (``MESSAGE``, ``PUSH`` or ``FINAL``).

        Rekeying is invisible: a ``REKEY`` frame is reported as ``MESSAGE``. After the ``FINAL``
        frame, the next call raises :class:`trio.EndOfChannel` once the peer's stream ends.
        Cancelling a receive loses nothing: a frame is consumed only when it is returned.

        Raises:
            FramingError: a length out of bounds, a frame that fails authentication (tampered,
                replayed, reordered, from another session, reflected), or data after ``FINAL``.
                The channel is then dead, and every later call raises FramingError.
            LinkLost: the stream ended or broke without a ``FINAL`` frame (possibly truncated).
            trio.EndOfChannel: the peer closed cleanly and everything has been received.
            trio.BusyResourceError: another task is receiving.
        """
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this channel")
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        if self._dead is not None:
            raise FramingError("the channel is dead after an earlier failure") from self._dead
        await trio.lowlevel.checkpoint_if_cancelled()
        self._receiving = True
        try:
            frame = self._decode()
            if frame is None:
                frame = await self._receive_more()
            else:
                # A frame was already buffered: still let other tasks run, but cancelling now
                # would drop a decrypted frame, so this schedule point is shielded.
                await trio.lowlevel.cancel_shielded_checkpoint()
        except (FramingError, LinkLost) as exc:
            self._dead = exc
            logger.debug("link_frame_rejected", error=type(exc).__name__, reason=str(exc))
            raise
        finally:
            self._receiving = False
        return frame

    async def receive_frames(self, max_frames: int = 64) -> list[tuple[bytes, FrameTag]]:
        """Like :meth:`receive_frame`, plus the frames already buffered behind it.

        Returns 1 to ``max_frames`` frames (ending at a ``FINAL`` one) for a single schedule
        point, which makes a busy receiver faster than calling :meth:`receive_frame` per frame.
        A bad frame behind the first is raised by the next call, after the good ones.

        Raises the same errors as :meth:`receive_frame`.
        """
        if max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, not {max_frames!r}")
        frames = [await self.receive_frame()]
        while len(frames) < max_frames and frames[-1][1] is not FrameTag.FINAL:
            try:
                frame = self._decode()
            except FramingError as exc:
                self._deferred = self._dead = exc
                logger.debug("link_frame_rejected", error=type(exc).__name__, reason=str(exc))
                break
            if frame is None:
                break
            frames.append(frame)
        return frames

    async def _receive_more(self) -> tuple[bytes, FrameTag]:
        # Reading is the only await, and a cancelled read consumes nothing.
        while True:
            try:
                chunk = await self.stream.receive_some(_RECEIVE_CHUNK)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise LinkLost("the link broke (possibly truncated)") from exc
            if not chunk:
                if self._final_received:
                    raise trio.EndOfChannel
                if self._offset == len(self._buffer):
                    raise LinkLost(
                        "the peer's stream ended without a FINAL frame: the link is lost, "
                        "possibly truncated"
                    )
                raise LinkLost("the peer's stream ended in the middle of a frame (truncated)")
            if self._offset == len(self._buffer):
                self._buffer.clear()
                self._offset = 0
            elif self._offset > _RECEIVE_CHUNK:
                del self._buffer[: self._offset]
                self._offset = 0
            self._buffer += chunk
            frame = self._decode()
            if frame is not None:
                return frame

    def _decode(self) -> tuple[bytes, FrameTag] | None:
        """Consume and decrypt the next frame if the buffer holds all of it, else None."""
        buffer, offset = self._buffer, self._offset
        available = len(buffer) - offset
        if self._final_received:
            if available:
                raise FramingError("the peer sent data after its FINAL frame")
            return None
        if self._rx_key is not None:
            if available < HEADER_BYTES:
                return None
            nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(
                self._pull_state, bytes(buffer[offset : offset + HEADER_BYTES]), self._rx_key
            )
            self._rx_key = None
            offset += HEADER_BYTES
            available -= HEADER_BYTES
            self._offset = offset
        if available < 4:
            return None
        length = bytes(buffer[offset : offset + 4])
        clen = int.from_bytes(length, "big")
        # Checked before waiting for (or allocating) the frame's bytes.
        if not OVERHEAD <= clen <= self._max_frame + OVERHEAD:
            raise FramingError(
                f"a frame claims {clen} bytes, outside {OVERHEAD}..{self._max_frame + OVERHEAD}"
            )
        if available < 4 + clen:
            return None
        ciphertext = bytes(buffer[offset + 4 : offset + 4 + clen])
        self._offset = offset + 4 + clen
        try:
            plaintext, tag = _pull(self._pull_state, ciphertext, length)
        except (nacl.exceptions.CryptoError, ValueError, TypeError, RuntimeError):
            raise FramingError(
                "a frame failed authentication (tampered, replayed, out of order, or from "
                "another session)"
            ) from None
        self._frames_received += 1
        if tag == FrameTag.MESSAGE:
            return plaintext, FrameTag.MESSAGE
        if tag == FrameTag.REKEY:
            self._rekeys_received += 1  # libsodium has already rekeyed the pull state
            return plaintext, FrameTag.MESSAGE
        if tag == FrameTag.FINAL:
            self._final_received = True
            return plaintext, FrameTag.FINAL
        if tag == FrameTag.PUSH:
            return plaintext, FrameTag.PUSH
        raise FramingError(f"a frame has the unknown tag {tag}")

    async def aclose(self) -> None:
        """Close the underlying stream (without ``FINAL``: use :meth:`close_final` first)."""
        self._send_closed = self._send_closed or "the channel is closed"
        await self.stream.aclose()
