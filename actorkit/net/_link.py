"""One authenticated, encrypted connection between two nodes, once the handshake is done.

Frames carry a type byte and a body: HELLO first each way, then DATA (an envelope), PING and
PONG for liveness, CLOSE (sent with FINAL) for a clean end. Outgoing frames are queued and a
writer task sends everything queued in one write: coalescing is what makes a link fast.

Flow control is a window of credit per target actor: a sender may have ``WINDOW`` messages
to one actor in flight; the receiver gives credit back as it hands them to the mailbox. The
reader never waits for a mailbox: a full one parks that actor's messages (at most a window)
on a drain task, so one slow actor never stalls the link or other actors' traffic, and the
remote sender feels the backpressure.
"""

from __future__ import annotations

import collections
import contextlib
import math
import secrets
from typing import TYPE_CHECKING, Any

import msgpack
import trio

from .._errors import (
    ActorCrashed,
    ActorNotFound,
    ActorStopped,
    CircuitOpen,
    MailboxFull,
    UnhandledMessage,
)
from .._messages import Terminated
from .._ref import AskRequest
from ._codec import CodecError
from ._errors import FramingError, LinkError, LinkLost
from ._framing import FramedChannel, FrameTag
from ._protocol import (
    ASK,
    CLOSE,
    CREDIT,
    CREDIT_BATCH,
    DATA,
    FAIL,
    HELLO,
    PING,
    PONG,
    REPLY,
    TELL,
    TERMINATED,
    UNWATCH,
    WATCH,
    WINDOW,
)
from ._remote import NodeDown, RemotePeer, RemoteRef

if TYPE_CHECKING:
    from .._cell import Cell
    from ._node import Node

__all__ = ["PROTOCOL_VERSION", "SUPERSEDED", "Link", "LinkClosed", "LinkSuperseded"]

PROTOCOL_VERSION = 1
MIN_PROTOCOL_VERSION = 1

_DATA_PREFIX = bytes((DATA,))

#: A peer that lets more than this many outgoing messages pile up (it does not read) is cut off.
MAX_QUEUED = 100_000
#: Targets for which credit not yet returned is counted, at most.
_MAX_GRANT_TARGETS = 1024
#: At most this many ``link_message_refused`` events a second per link.
_REFUSALS_LOGGED = 8
_ENVELOPE_LIMITS = {
    "max_str_len": 1024,
    "max_array_len": 8,
    "max_map_len": 16,
    "max_ext_len": 0,
}


_UNCHECKED: Any = object()


class LinkClosed(LinkError):
    """The link was closed (cleanly, or after a protocol violation)."""


class LinkSuperseded(LinkClosed):
    """The peer refused this link in favour of its own dial (both nodes dialled each other)."""


#: The first frame of a link refused for a simultaneous dial the refusing node wins, in
#: place of HELLO: CLOSE (with FINAL) carrying the reason.
SUPERSEDED = bytes((CLOSE,)) + msgpack.packb({"reason": "simultaneous_dial"})


#: What ends a link without being a bug of ours.
_LINK_ENDINGS = (LinkError, trio.BrokenResourceError, trio.ClosedResourceError, OSError)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def _frame(kind: int, body: Any = None) -> bytes:
    if body is None:
        return bytes((kind,))
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return bytes((kind,)) + packed


class _LinkWatcher:
    """Stands in a local actor's watchers for a peer that watches it: the Terminated the cell
    would put in a watcher's mailbox is sent over the link instead."""

    def __init__(self, link: Link, target: str) -> None:
        self.link = link
        self.target = target
        self.mailbox = self  # the cell calls watcher.mailbox.put_system(terminated)

    def put_system(self, terminated: Terminated) -> None:
        reason = terminated.reason
        text = None if reason is None else f"{type(reason).__name__}: {reason}"
        self.link.queue_data([TERMINATED, self.target, text])


class Link:
    """A live connection to one peer (see the module's docstring for what runs on it)."""

    def __init__(
        self, node: Node, channel: FramedChannel, peer: RemotePeer, *, initiator: bool
    ) -> None:
        self.node = node
        self.channel = channel
        self.peer = peer
        self.initiator = initiator
        self.asks: dict[int, tuple[AskRequest, str]] = {}  # ask id -> (request, target's label)
        self._refusal_window = -math.inf
        self._refusals_logged: set[tuple[str, str]] = set()
        self.closed = False
        self.close_reason = "closed"
        self.superseded = False  # the peer closed it for another link it has made the live one
        self.incarnation: str | None = None
        self._codec = node.codec.bind_refs(self._encode_ref, self._decode_ref)
        self._pack = msgpack.Packer(use_bin_type=True).pack  # reused: packb makes one per call
        self._max_envelope = channel.max_frame - 1  # an envelope must fit a DATA frame
        self._decode = self._codec.decode
        # One unpacker for the link's life (making one per frame costs more than a small
        # frame's envelopes); every frame must end on an envelope's end.
        self._unpacker = msgpack.Unpacker(
            raw=False,
            max_buffer_size=channel.max_frame,
            max_bin_len=channel.max_frame,
            **_ENVELOPE_LIMITS,
        )
        self._unpacked = 0  # bytes fed to it
        self._reachable: dict[str, Cell | None] = {}  # the frame being handled: target -> actor
        self._owed: dict[str, int] = {}  # ...and the credit its messages earned, per target
        self._out: list[bytes] = []  # control frames (PING, PONG)
        self._out_data: list[bytes] = []  # packed envelopes, framed by the writer
        self._wrote_directly = False  # this turn's direct write is done: queue the rest
        self._out_ready = trio.Event()
        self._send_lock = trio.Lock()  # the writer's and close()'s sends must not overlap
        self._credit: dict[str, int] = {}
        self._credit_waiters: dict[str, trio.Event] = {}
        self._granted: dict[str, int] = {}
        self._parked: dict[Cell, collections.deque[Any]] = {}
        self._watched: dict[str, _LinkWatcher] = {}
        self._last_received = trio.current_time()
        self._nursery: trio.Nursery | None = None
        self._capabilities: dict[str, Cell] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    async def hello(self) -> dict[str, Any]:
        """Exchange HELLO frames; return the peer's. Raises LinkClosed on a bad first frame."""
        mine = {
            "version": PROTOCOL_VERSION,
            "min_version": MIN_PROTOCOL_VERSION,
            "features": [],
            "max_frame": self.channel.max_frame,
            "name": self.node.name,
            "incarnation": self.node.incarnation,
        }
        await self.channel.send_frames([_frame(HELLO, mine)])
        plaintext, _tag = await self.channel.receive_frame()
        if plaintext == SUPERSEDED:
            raise LinkSuperseded("the peer keeps the link it is dialling to this node")
        if not plaintext or plaintext[0] != HELLO:
            raise LinkClosed("the peer's first frame was not HELLO")
        try:
            theirs = msgpack.unpackb(plaintext[1:], raw=False, **_ENVELOPE_LIMITS)
            version = min(PROTOCOL_VERSION, int(theirs["version"]))
            if version < max(MIN_PROTOCOL_VERSION, int(theirs["min_version"])):
                raise LinkClosed(f"no protocol version in common (theirs: {theirs['version']})")
            incarnation = theirs["incarnation"]
            if not isinstance(incarnation, str) or not 0 < len(incarnation) <= 64:
                raise LinkClosed("a bad incarnation in HELLO")
        except (KeyError, TypeError, ValueError, OverflowError, msgpack.UnpackException) as exc:
            raise LinkClosed(f"a malformed HELLO ({type(exc).__name__})") from None
        self.incarnation = incarnation
        return dict(theirs)

    async def run(self) -> None:
        """Run the link until it closes or breaks; then fail what depended on it."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._writer)
                nursery.start_soon(self._keepalive)
                await self._reader()
        except* _LINK_ENDINGS as group:
            exc = _first_leaf(group)
            if not self.closed:  # else close() has said why, and this is only its echo
                self.close_reason = f"{type(exc).__name__}: {exc}"
                if not isinstance(exc, LinkClosed | LinkLost):
                    self.node.runtime._event(
                        "warning", "link_error", peer=self.peer.name, error=self.close_reason
                    )
        finally:
            self.closed = True
            self._fail_everything()
            await trio.aclose_forcefully(self.channel.stream)

    async def close(self, *, superseded: bool = False) -> None:
        """Close cleanly: a CLOSE frame with FINAL, then the socket. ``superseded``: another
        link to the peer takes this one's place (the peer waits for it, quietly)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = "replaced by another link" if superseded else "closed by this node"
        final = SUPERSEDED if superseded else bytes((CLOSE,))
        with trio.move_on_after(2.0):
            try:
                # After the writer's frames in flight, if any: one sender at a time.
                async with self._send_lock:
                    await self.channel.send_frames(self._take_frames())
                    await self.channel.close_final(final)
            except (LinkError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        await self.channel.aclose()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _fail_everything(self) -> None:
        error = NodeDown(self.peer.name, self.close_reason)
        for request, _ in self.asks.values():
            request.fail(error)
        self.asks.clear()
        for event in self._credit_waiters.values():
            event.set()
        for watcher in self._watched.values():
            self._drop_watcher(watcher)
        self._watched.clear()
        for cell, parked in self._parked.items():
            while parked:
                cell._drop(parked.popleft(), "node_down")
        self._parked.clear()

    # -- writing --------------------------------------------------------------------------------

    def queue_data(self, envelope: list[Any]) -> None:
        """Queue one envelope; the writer packs all queued envelopes into as few DATA frames
        as fit (one encryption and one length per frame, not per message)."""
        packed: bytes = self._pack(envelope)
        if len(packed) > self._max_envelope:
            raise CodecError(
                f"a message of {len(packed)} bytes is larger than the link's max_frame "
                f"({self.channel.max_frame})"
            )
        if self.closed:
            return  # the link's end has failed or dead-lettered what depended on it
        queue = self._out_data
        if not queue and not self._out and not self._wrote_directly and self.channel.idle:
            # An idle link writes the first envelope of a turn at once, sparing a lone ask or
            # reply the wait for the writer task's turn (tens of µs a round trip). What follows
            # in the same turn is coalesced by the writer, whose wake-up re-arms this path.
            self._wrote_directly = True
            self._out_ready.set()
            with contextlib.suppress(FramingError):  # the link is ending: run() will say why
                self.channel.send_frames_nowait([_DATA_PREFIX + packed])
            return  # what the socket did not take waits in the channel for the writer
        self._enqueue(queue, packed)

    def _queue(self, frame: bytes) -> None:
        """Queue a control frame (PING, PONG)."""
        if not self.closed:
            self._enqueue(self._out, frame)

    def _enqueue(self, queue: list[bytes], item: bytes) -> None:
        queue.append(item)
        self._out_ready.set()
        if len(queue) > MAX_QUEUED:  # envelopes, or PONGs to a peer that pings but never reads
            self._cut_off()

    def _cut_off(self) -> None:
        """End the link now: the peer does not read what this node sends. (The writer may be
        stuck in a send that never finishes, so it cannot be the one to notice.)"""
        self.closed = True
        self.close_reason = (
            f"LinkClosed: {self.peer.name} does not read what this node sends (more than "
            f"{MAX_QUEUED} messages queued)"
        )
        self._out.clear()
        self._out_data.clear()
        self.node.runtime._event(
            "warning", "link_error", peer=self.peer.name, error=self.close_reason
        )
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    async def _writer(self) -> None:
        lock = self._send_lock
        while True:
            await self._out_ready.wait()
            self._out_ready = trio.Event()
            self._wrote_directly = False
            if not self._out and not self._out_data and self.channel.idle:
                continue
            try:
                lock.acquire_nowait()  # free unless close() is sending: no extra schedule point
            except trio.WouldBlock:
                await lock.acquire()
            try:
                await self.channel.send_frames(self._take_frames())  # after any backlog
            finally:
                lock.release()

    def _take_frames(self) -> list[bytes]:
        """Everything queued, as frames: control frames, then envelopes packed into DATA
        frames of at most max_frame bytes."""
        frames, self._out = self._out, []
        envelopes, self._out_data = self._out_data, []
        limit = self.channel.max_frame - 1
        chunk: list[bytes] = [_DATA_PREFIX]
        size = 0
        for packed in envelopes:
            if size + len(packed) > limit:
                frames.append(b"".join(chunk))
                chunk, size = [_DATA_PREFIX], 0
            chunk.append(packed)
            size += len(packed)
        if size:
            frames.append(b"".join(chunk))
        return frames

    async def _keepalive(self) -> None:
        config = self.node.config
        while True:
            await trio.sleep(config.ping_after)
            silent = trio.current_time() - self._last_received
            if silent >= config.drop_after:
                raise LinkLost(f"no frame from {self.peer.name} for {silent:.0f} s")
            if silent >= config.ping_after:
                self._queue(_frame(PING))

    # -- sending messages -----------------------------------------------------------------------

    def try_send(self, head: list[Any], message: Any) -> bool:
        """Queue the envelope ``head + [message's bytes]`` (a TELL or an ASK) if the window
        to its target has room; return False if the sender must wait for credit."""
        target = head[1]
        credit = self._credit.get(target, WINDOW)
        if credit <= 0:
            return False
        payload = self._codec.encode(message)  # first: a message that cannot go takes no credit
        self._credit[target] = credit - 1
        self.queue_data([*head, payload])
        return True

    async def send(self, head: list[Any], message: Any) -> None:
        """:meth:`try_send`, waiting for credit as long as it takes; NodeDown if the link
        ends first."""
        target = head[1]
        while True:
            if self.closed:
                raise NodeDown(self.peer.name, self.close_reason)
            if self.try_send(head, message):
                return
            await self._credit_waiters.setdefault(target, trio.Event()).wait()

    def watch(self, target: str) -> None:
        self.queue_data([WATCH, target])

    def unwatch(self, target: str) -> None:
        self.queue_data([UNWATCH, target])

    # -- refs inside messages -------------------------------------------------------------------

    def _encode_ref(self, ref: Any) -> list[Any]:
        if isinstance(ref, RemoteRef):
            return [str(ref._peer.node_id), ref._target, ref._incarnation]
        cell = ref._cell
        # Sending our ref to this peer lets it reach that actor (a capability).
        target = cell.name if cell.name is not None else f"#{cell.id}"
        self._capabilities[target] = cell
        return [str(self.node.node_id), target, self.node.incarnation]

    def _decode_ref(self, value: Any) -> Any:
        if not (isinstance(value, list) and len(value) == 3):
            raise CodecError("a ref must be [node, target, incarnation]")
        node_text, target, incarnation = value
        if not isinstance(target, str) or not target or len(target) > 256:
            raise CodecError("a ref's target must be a short string")
        if node_text == str(self.node.node_id):
            # Only an actor this peer may reach itself: a ref cannot smuggle in another one.
            cell = self.node.find_target(self, target, check_access=True)
            if cell is None or incarnation != self.node.incarnation:
                return self.node.dead_ref(target)
            return cell.ref
        if node_text == str(self.peer.node_id):
            return RemoteRef(self.peer, target, incarnation if target.startswith("#") else None)
        return self.node.ref_on_other_node(node_text, target, incarnation)

    # -- reading --------------------------------------------------------------------------------

    async def _reader(self) -> None:
        channel = self.channel
        while True:
            try:
                # Everything already buffered, for one schedule point.
                frames = await channel.receive_frames(64)
            except trio.EndOfChannel:
                raise LinkLost("the peer's stream ended after FINAL") from None
            self._last_received = trio.current_time()
            for plaintext, tag in frames:
                if not plaintext:
                    raise FramingError("an empty frame")
                kind = plaintext[0]
                if tag is FrameTag.FINAL or kind == CLOSE:
                    self.superseded = plaintext == SUPERSEDED
                    self.close_reason = "closed by the peer"
                    raise LinkClosed("closed by the peer")
                if kind == DATA:
                    self._on_data(plaintext)
                elif kind == PING:
                    self._queue(_frame(PONG))
                elif kind != PONG:
                    raise LinkClosed(f"an unexpected frame of type {kind}")

    def _on_data(self, plaintext: bytes) -> None:
        """A DATA frame: one or more envelopes, one after the other."""
        unpacker, body = self._unpacker, plaintext[1:]
        unpacker.feed(body)
        self._unpacked += len(body)
        try:
            envelopes = list(unpacker)
        except Exception as exc:  # msgpack raises several types for malformed input
            raise LinkClosed(f"a malformed envelope ({type(exc).__name__})") from None
        if unpacker.tell() != self._unpacked:
            raise LinkClosed("a DATA frame ends inside an envelope")
        if not envelopes:
            raise LinkClosed("a DATA frame without an envelope")
        # The whole frame is checked before any of it is acted on.
        for envelope in envelopes:
            if type(envelope) is not list or not envelope or type(envelope[0]) is not int:
                raise LinkClosed("an envelope must be a list starting with its kind")
        try:
            for envelope in envelopes:
                if envelope[0] == TELL and len(envelope) == 3:  # the common case, direct
                    self._on_message(envelope[1], envelope[2], None)
                else:
                    self._on_envelope(envelope)
        finally:
            self._reachable.clear()  # access is decided afresh for each frame
            for target, count in self._owed.items():  # credit for the frame's messages
                self._grant(target, count)
            self._owed.clear()

    def _on_envelope(self, envelope: list[Any]) -> None:
        kind = envelope[0]
        try:
            if kind == TELL:
                _, target, payload = envelope
                self._on_message(target, payload, None)
            elif kind == ASK:
                _, target, ask_id, payload = envelope
                if type(ask_id) is not int:
                    raise LinkClosed("an ask id must be an int")
                self._on_message(target, payload, ask_id)
            elif kind == REPLY:
                _, ask_id, payload = envelope
                self._on_reply(ask_id, payload)
            elif kind == FAIL:
                _, ask_id, reason, detail = envelope
                self._on_fail(ask_id, reason, detail)
            elif kind == CREDIT:
                _, target, amount = envelope
                self._on_credit(target, amount)
            elif kind == WATCH:
                _, target = envelope
                self._on_watch(target)
            elif kind == UNWATCH:
                _, target = envelope
                if not isinstance(target, str):
                    raise LinkClosed("a malformed unwatch")
                watcher = self._watched.pop(target, None)
                if watcher is not None:
                    self._drop_watcher(watcher)
            elif kind == TERMINATED:
                _, target, reason = envelope
                self.node.remote_terminated(self.peer, target, reason)
            else:
                raise LinkClosed(f"an unknown envelope kind {kind}")
        except ValueError:
            raise LinkClosed("an envelope of the wrong length") from None

    def _refuse(self, target: Any, ask_id: int | None, reason: str, detail: str = "") -> None:
        # Logged at most once a second per target and reason, and for at most a few of them
        # a second per link: a peer cannot flood the log, nor grow this bookkeeping, by
        # naming a new target in each message.
        key, now = (str(target)[:80], reason), trio.current_time()
        if now - self._refusal_window >= 1.0:
            self._refusal_window = now
            self._refusals_logged.clear()
        if key not in self._refusals_logged and len(self._refusals_logged) < _REFUSALS_LOGGED:
            self._refusals_logged.add(key)
            self.node.runtime._event(
                "warning",
                "link_message_refused",
                peer=self.peer.name,
                target=key[0],
                reason=reason,
                detail=detail[:200],
            )
        if ask_id is not None:
            self.queue_data([FAIL, ask_id, reason, detail[:200]])
        self._grant(str(target)[:256])

    def _on_message(self, target: Any, payload: Any, ask_id: int | None) -> None:
        if type(target) is not str or type(payload) is not bytes:
            raise LinkClosed("a message envelope must be [kind, target, (id,) payload]")
        # Access is checked before the payload is decoded: once per target in a frame (the
        # frame is handled without a schedule point, so the answer cannot change meanwhile).
        cell = self._reachable.get(target, _UNCHECKED)
        if cell is _UNCHECKED:
            cell = self._reachable[target] = self.node.find_target(self, target, check_access=True)
        if cell is None:
            self._refuse(target, ask_id, "not_found", "no such actor is exported to this node")
            return
        try:
            message = self._decode(payload)
        except CodecError as exc:
            self._refuse(target, ask_id, "bad_message", str(exc))
            return
        item: Any = message
        if ask_id is not None:
            item = AskRequest(message, lambda request: self._answer(ask_id, request))
        parked = self._parked.get(cell)
        if parked is not None:
            if len(parked) >= WINDOW:
                # Only a peer that ignores its credit can get here: its memory is not ours.
                raise LinkClosed(f"the peer overran its credit window to {target[:80]!r}")
            parked.append(item)  # behind earlier ones: order per sender is kept
            return  # its credit goes back when the drain hands it over
        if not cell.mailbox.try_put(item):
            if cell.mailbox.is_open:
                self._parked[cell] = collections.deque([item])
                assert self._nursery is not None
                self._nursery.start_soon(self._drain, cell, target)
                return
            cell._drop(item, cell.mailbox.closed_reason)
        # Handed over (or dropped: the actor is gone): its credit goes back with the frame's.
        owed = self._owed
        owed[target] = owed.get(target, 0) + 1

    async def _drain(self, cell: Cell, target: str) -> None:
        """Hand a full actor its parked messages as room appears (the reader never waits)."""
        parked, mailbox = self._parked[cell], cell.mailbox
        while parked:
            item = parked.popleft()
            if not mailbox.try_put(item):  # full (or closed): wait for room, as a send would
                try:
                    await mailbox.put(item, cell.label)
                except MailboxFull:  # an Overflow.FAIL mailbox refuses, as a local send would
                    cell._drop(item, "mailbox_full")
            self._grant(target)
        del self._parked[cell]

    def _grant(self, target: str, count: int = 1) -> None:
        """Owe the sender ``count`` more credit to ``target``; send it once a batch is owed.

        Counts are kept for a bounded number of targets (a peer may name a new one in each
        message): past that, credit goes back at once."""
        granted = self._granted
        total = granted.get(target, 0) + count
        if total < CREDIT_BATCH and (target in granted or len(granted) < _MAX_GRANT_TARGETS):
            granted[target] = total
        else:
            granted.pop(target, None)
            # A peer within its window is owed at most WINDOW; one that ignores it gets no more.
            self.queue_data([CREDIT, target, min(total, WINDOW)])

    def _on_credit(self, target: Any, amount: Any) -> None:
        if not isinstance(target, str) or not isinstance(amount, int) or not 0 < amount <= WINDOW:
            raise LinkClosed("a malformed credit")
        if target not in self._credit:
            return  # nothing was sent there: its credit is already full (and no entry is made)
        self._credit[target] = min(WINDOW, self._credit.get(target, WINDOW) + amount)
        event = self._credit_waiters.pop(target, None)
        if event is not None:
            event.set()

    def _answer(self, ask_id: int, request: AskRequest) -> None:
        """Send the outcome of a remote ask back (called when the local ask is answered)."""
        error = request.error
        if error is None:
            try:
                self.queue_data([REPLY, ask_id, self._codec.encode(request.value)])
            except CodecError as exc:
                self.queue_data([FAIL, ask_id, "crashed", f"CodecError\n{exc}"])
        elif isinstance(error, ActorCrashed):
            self.queue_data([FAIL, ask_id, "crashed", f"{error.exc_type}\n{error.exc_message}"])
        elif isinstance(error, UnhandledMessage):
            self.queue_data([FAIL, ask_id, "unhandled", type(error.message).__qualname__])
        elif isinstance(error, MailboxFull):
            self.queue_data([FAIL, ask_id, "mailbox_full", ""])
        elif isinstance(error, CircuitOpen):
            self.queue_data([FAIL, ask_id, "circuit_open", repr(error.retry_in)])
        else:
            self.queue_data([FAIL, ask_id, "stopped", ""])

    def _on_reply(self, ask_id: Any, payload: Any) -> None:
        entry = self.asks.pop(ask_id, None) if isinstance(ask_id, int) else None
        if entry is None or entry[0].done or not isinstance(payload, bytes):
            return  # a late reply (its ask timed out): dropped quietly
        request = entry[0]
        try:
            request.resolve(self._codec.decode(payload))
        except CodecError as exc:
            request.fail(exc)

    def _on_fail(self, ask_id: Any, reason: Any, detail: Any) -> None:
        entry = self.asks.pop(ask_id, None) if isinstance(ask_id, int) else None
        if entry is None or entry[0].done:
            return
        request, label = entry
        detail = str(detail)
        if reason == "crashed":
            exc_type, _, text = detail.partition("\n")
            request.fail(ActorCrashed(label, exc_type, text))
        elif reason == "unhandled":
            request.fail(UnhandledMessage(label, request.message))
        elif reason == "not_found":
            request.fail(ActorNotFound(label))
        elif reason == "mailbox_full":
            request.fail(MailboxFull(label, WINDOW))
        elif reason == "circuit_open":
            try:
                retry_in = float(detail)
            except ValueError:
                retry_in = 0.0
            now = trio.current_time()
            request.fail(CircuitOpen(label, now + retry_in, retry_in))
        elif reason == "bad_message":
            request.fail(CodecError(f"{self.peer.name} refused the message: {detail}"))
        else:
            request.fail(ActorStopped(label))

    def _drop_watcher(self, watcher: _LinkWatcher) -> None:
        """The peer no longer watches ``watcher.target``: take it out of the cell's watchers."""
        cell = self.node.find_target(self, watcher.target, check_access=False)
        if cell is not None and cell.watchers:
            cell.watchers.pop(watcher, None)  # type: ignore[call-overload]

    def _on_watch(self, target: Any) -> None:
        if not isinstance(target, str):
            raise LinkClosed("a malformed watch")
        cell = self.node.find_target(self, target, check_access=True)
        watcher = _LinkWatcher(self, target)
        if cell is None or not cell.alive:
            watcher.put_system(Terminated(self.node.dead_ref(target), None))
            return
        self._watched[target] = watcher
        if cell.watchers is None:
            cell.watchers = {}
        cell.watchers[watcher] = None  # type: ignore[index]


def new_incarnation() -> str:
    """A random id for this run of a node: a restarted node is a new incarnation."""
    return secrets.token_hex(8)
