"""Remote actors as seen from here: RemotePeer (a linked node), RemoteRef (an actor there),
PeerInfo, and the connect/disconnect notifications actors can handle.

A RemoteRef has the same send/ask as a local ref and raises the same errors; what the link
adds is :class:`NodeDown` when the peer is unreachable. Delivery is at most once: a message
in flight when a link breaks is lost (its ask fails with NodeDown).
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from .._actor import on
from .._errors import ActorkitError, AskTimeout, MailboxFull
from .._messages import _IMMUTABLE_TYPES, DeadLetter, check_immutable
from .._ref import ActorRef, AskRequest
from ._codec import unregistered
from ._protocol import ASK, TELL, WINDOW

if TYPE_CHECKING:
    from .._cell import Cell
    from ._identity import NodeId
    from ._link import Link
    from ._node import Node

__all__ = [
    "NodeDown",
    "PeerConnected",
    "PeerDisconnected",
    "PeerInfo",
    "RemotePeer",
    "RemoteRef",
    "on_connect",
    "on_disconnect",
]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

#: A send lets the link's writer run once this many envelopes wait to be written.
WRITE_BATCH = 256


class NodeDown(ActorkitError):
    """The node an actor lives on is unreachable (its link is down, or it restarted)."""

    def __init__(self, peer: str, why: str = "the link is down") -> None:
        super().__init__(f"the node {peer} is unreachable: {why}")
        self.peer = peer
        self.why = why


@attrs.frozen
class PeerInfo:
    """Who a linked node is: its known_peers name, key fingerprint and address."""

    name: str
    fingerprint: str
    address: str


@attrs.frozen
class PeerConnected:
    """Delivered to actors with an ``@ak.on_connect`` handler when a peer links."""

    peer: PeerInfo


@attrs.frozen
class PeerDisconnected:
    """Delivered to actors with an ``@ak.on_disconnect`` handler when a peer's link ends."""

    peer: PeerInfo
    reason: str


def _peer_handler(message_type: type, pattern: str) -> Callable[[F], F]:
    if not isinstance(pattern, str) or not pattern:
        raise TypeError(f"give a peer name or '*', not {pattern!r}")

    def decorate(fn: F) -> F:
        async def handle(actor: Any, msg: Any) -> Any:
            if pattern in ("*", msg.peer.name):
                if message_type is PeerConnected:
                    return await fn(actor, msg.peer)
                return await fn(actor, msg.peer, msg.reason)
            return None

        handle.__name__ = getattr(fn, "__name__", "peer_handler")
        handle.__qualname__ = getattr(fn, "__qualname__", "peer_handler")
        return on(message_type)(handle)  # type: ignore[return-value]

    return decorate


def on_connect(peer: str = "*") -> Callable[[F], F]:
    """Declare the decorated method the handler of peers linking (``"*"``: any peer, else the
    known_peers name of one). It is called as ``handler(self, peer: PeerInfo)``. An actor
    class has at most one ``on_connect`` handler."""
    return _peer_handler(PeerConnected, peer)


def on_disconnect(peer: str = "*") -> Callable[[F], F]:
    """Like :func:`on_connect`, for links that end: ``handler(self, peer, reason: str)``."""
    return _peer_handler(PeerDisconnected, peer)


class PeerState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DOWN = "down"


class RemotePeer:
    """A node this one links with; it outlives its links (it reconnects when it dialled).

    ``lookup(name)`` gives a ref to an actor the peer exports.
    """

    def __init__(self, node: Node, node_id: NodeId, name: str, address: str) -> None:
        self.node = node
        self.node_id = node_id
        self.name = name
        self.address = address
        self.link: Link | None = None
        self.incarnation: str | None = None
        self.dial_address: str | None = None
        self.state = PeerState.CONNECTING
        self._dialling = False  # a dial to the peer is under way
        self._next_link = trio.Event()  # set (and replaced) each time a link is installed
        self.connected = trio.Event()
        self._ask_ids = itertools.count(1)
        # Local actors watching actors of this peer: target -> watcher cells.
        self.watchers: dict[str, dict[Cell, RemoteRef]] = {}

    def __repr__(self) -> str:
        return f"<RemotePeer {self.name} {self.node_id.fingerprint} {self.state.value}>"

    @property
    def info(self) -> PeerInfo:
        """The peer's name, key fingerprint and address."""
        return PeerInfo(self.name, self.node_id.fingerprint, self.address)

    @property
    def is_connected(self) -> bool:
        """True while a link to the peer is up."""
        return self.state is PeerState.CONNECTED

    def lookup(self, name: str) -> RemoteRef:
        """A ref to the actor the peer exports as ``name``. No round trip: if there is no such
        actor (or it is not exported to this node), sends are dead letters there and asks
        raise :class:`ActorNotFound`."""
        if not isinstance(name, str) or not name or name.startswith("#"):
            raise ValueError(f"look up an exported actor by its name, not {name!r}")
        return RemoteRef(self, name, None)

    async def wait_connected(self) -> None:
        """Wait until a link to the peer is up."""
        await self.connected.wait()

    def _link_for(self, ref: RemoteRef) -> Link | None:
        """The live link that reaches ``ref``'s actor, or None (see :meth:`_link_or_raise`)."""
        link = self.link  # None unless connected
        if link is None or link.closed:
            return None
        if ref._incarnation is not None and ref._incarnation != self.incarnation:
            return None
        return link

    def _link_or_raise(self, ref: RemoteRef) -> Link:
        link = self._link_for(ref)
        if link is not None:
            return link
        if self.link is not None and not self.link.closed:
            raise NodeDown(self.name, "it restarted since this ref was made (a new incarnation)")
        raise NodeDown(self.name)


class RemoteRef(ActorRef):
    """A ref to an actor on another node: the same ``send`` and ``ask`` as a local ref.

    Refs by name (from :meth:`RemotePeer.lookup`) survive the peer's restarts; refs that
    arrived inside messages point at one incarnation of an actor, and fail with
    :class:`NodeDown` once that node has restarted.
    """

    __slots__ = ("_incarnation", "_peer", "_target")

    def __init__(self, peer: RemotePeer, target: str, incarnation: str | None) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._peer = peer
        self._target = target
        self._incarnation = incarnation

    @property
    def name(self) -> str:
        return f"{self._peer.name}/{self._target}"

    @property
    def alive(self) -> bool:
        return self._peer.is_connected and (
            self._incarnation is None or self._incarnation == self._peer.incarnation
        )

    @property
    def peer(self) -> RemotePeer:
        """The node the actor lives on."""
        return self._peer

    def __repr__(self) -> str:
        return f"<RemoteRef {self.name} on {self._peer.node_id.fingerprint}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RemoteRef)
            and other._peer.node_id == self._peer.node_id
            and other._target == self._target
            and other._incarnation == self._incarnation
        )

    def __hash__(self) -> int:
        return hash((self._peer.node_id, self._target, self._incarnation))

    def _check(self, message: Any) -> None:
        if type(message) not in _IMMUTABLE_TYPES:
            check_immutable(message)
        cls = type(message)
        if not (isinstance(message, ActorRef) or self._peer.node.codec.is_registered(cls)):
            raise unregistered(cls)

    async def send(self, message: Any) -> None:
        """Send ``message`` to the remote actor; wait only for the link's flow control.

        Like a local send it checks for cancellation, and it waits only when the link's window
        to that actor is used up (the remote actor's backpressure). Unlike one, it also yields
        once a batch of envelopes (``WRITE_BATCH``, 256) waits for the link's writer, so that
        a sending loop streams. A peer that is down makes the message a dead letter
        (``node_down``), never an error. Raises :class:`actorkit.net.CodecError` for a type
        that is not registered.
        """
        self._check(message)
        await trio.lowlevel.checkpoint_if_cancelled()
        link = self._peer._link_for(self)
        if link is None:
            self._dead_letter(message)  # a tell never raises for an unreachable target
            return
        if link.try_send([TELL, self._target], message):
            if len(link._out_data) >= WRITE_BATCH:
                # A full batch: let the link's writer send it while this task goes on making
                # the next (else a sending loop would write only when its credit runs out).
                await trio.lowlevel.checkpoint()
            return
        try:
            await link.send([TELL, self._target], message)  # waits for credit
        except NodeDown:  # the link went down meanwhile
            self._dead_letter(message)

    def send_nowait(self, message: Any) -> None:
        """Send without waiting; raises :class:`MailboxFull` when the link's window to this
        actor is used up."""
        self._check(message)
        link = self._peer._link_for(self)
        if link is None:
            self._dead_letter(message)
        elif not link.try_send([TELL, self._target], message):
            raise MailboxFull(self.name, WINDOW)

    def _dead_letter(self, message: Any) -> None:
        self._peer.node.runtime._dead_letter(DeadLetter(message, self.name, "node_down"), None)

    async def ask(self, message: Any, timeout: float | None = 5.0) -> Any:
        """As :meth:`ActorRef.ask`, over the link; also raises :class:`NodeDown`."""
        self._check(message)
        await trio.lowlevel.checkpoint_if_cancelled()
        link = self._peer._link_or_raise(self)
        request = AskRequest(message)
        ask_id = next(self._peer._ask_ids)
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        link.asks[ask_id] = (request, self.name)
        try:
            head = [ASK, self._target, ask_id]
            if not link.try_send(head, message):  # no credit: wait for it, within the timeout
                with trio.move_on_at(deadline) as scope:
                    await link.send(head, message)
                if scope.cancelled_caught:
                    raise AskTimeout(f"{self.name} did not accept the message within {timeout} s")
            if timeout is not None and not request.done:
                self._peer.node.runtime._deadlines.add(request, deadline, timeout, self.name)
            return await request.wait()
        finally:
            link.asks.pop(ask_id, None)

    async def stop(self) -> None:
        """Remote actors cannot be stopped from another node: send them a message that asks
        them to stop themselves."""
        raise TypeError(f"{self.name} is remote: ask it to stop itself with a message")

    def _ak_watch(self, watcher: Cell) -> None:
        self._peer.node.watch_remote(self, watcher)

    def _ak_unwatch(self, watcher: Cell) -> None:
        self._peer.node.unwatch_remote(self, watcher)
