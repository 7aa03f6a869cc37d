"""The runtime: where actors live. ``open_runtime`` and the Runtime's spawn, names, topics, stats.

Every actor's task runs in the runtime's one nursery; the parent/child structure is kept by the
cells themselves, which is cheaper than a nursery per actor and lets shutdown run in a chosen
order (reverse spawn order, children before their parents) rather than all at once.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ._actor import Actor
from ._cell import DEFAULT_SHUTDOWN, Cell, Supervision
from ._deadlines import Deadlines
from ._errors import ActorNotFound, NameTaken, RuntimeClosed, StartFailed, SupervisorGaveUp
from ._logging import logger, short_repr
from ._mailbox import Mailbox
from ._messages import EVENTS, DeadLetter, RuntimeEvent, check_immutable
from ._ref import ActorRef
from ._strategies import Supervisor
from ._supervisor import RootSupervision, SupervisorRef, spawn_child
from ._tree import Tree, snapshot

if TYPE_CHECKING:
    from .net import Codec, Node, RemotePeer

__all__ = ["Runtime", "RuntimeStats", "open_runtime"]

_DEFAULT_MAILBOX = Mailbox()
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled


@attrs.frozen
class RuntimeStats:
    """Counters of a runtime at one moment.

    Conservation holds whenever no handler is running: every message delivered was processed,
    is still queued (postponed and batched messages included), or is a dead letter
    (``messages_processed + messages_queued + dead_letters``). Messages the runtime delivers
    (``Terminated``, timeouts, timers) count like sent ones.
    """

    actors_live: int
    actors_started: int
    messages_processed: int
    messages_queued: int
    dead_letters: int
    crashes: int


class Runtime:
    """A running actor system. Get one from :func:`open_runtime`; do not construct it."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._ids = itertools.count(1)
        self._cells: dict[Cell, None] = {}  # live cells, in spawn order
        self._names: dict[str, Cell] = {}
        self._topics: dict[str, dict[Cell, None]] = {}
        self._closing = False
        self._started = 0
        self._processed_by_ended = 0
        self._dead_letters = 0
        self._crashes = 0
        self._deadlines = Deadlines()
        self._gave_up: BaseException | None = None
        self._node: Node | None = None  # the peer-link node (actorkit.net), if it has one

    # -- spawning --------------------------------------------------------------------------

    async def spawn(
        self,
        actor_class: type[Actor],
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Start an actor and return its ref once its ``on_start`` has finished.

        ``args`` and ``kwargs`` go to the actor's ``__init__``.

        Raises:
            NameTaken: ``name`` is registered to a live actor.
            StartFailed: ``__init__`` or ``on_start`` raised (the cause is chained).
            RuntimeClosed: the runtime is shutting down.
        """
        return await self._spawn(actor_class, args, kwargs, name, mailbox, None)

    async def _spawn(
        self,
        actor_class: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None,
        mailbox: Mailbox | None,
        parent: Cell | None,
        *,
        supervision: Supervision | None = None,
        shutdown: float | None = DEFAULT_SHUTDOWN,
    ) -> ActorRef:
        if self._closing:
            raise RuntimeClosed("the runtime is shutting down and spawns no new actors")
        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            raise TypeError(f"spawn takes a subclass of ak.Actor, not {actor_class!r}")
        if name is not None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"an actor's name must be a non-empty str, not {name!r}")
            if name in self._names:
                raise NameTaken(name)
        cell = Cell(
            self,
            actor_class,
            args,
            kwargs,
            next(self._ids),
            name,
            mailbox or _DEFAULT_MAILBOX,
            parent,
        )
        cell.supervision = supervision
        cell.shutdown = shutdown
        try:
            cell.make_instance()
        except Exception as exc:
            logger.error("actor_start_failed", **cell.log_context(), exc_info=exc)
            raise StartFailed(cell.label, exc) from exc
        self._register(cell)
        start = cell.expect_start()
        self._nursery.start_soon(cell.run, name=f"actorkit:{cell.label}")
        if start is None:
            await _checkpoint_if_cancelled()
        else:
            with trio.CancelScope(shield=True):
                await start.wait()
        self._event("debug", "actor_started", cell)
        return cell.ref

    async def start(self, tree: Supervisor) -> SupervisorRef:
        """Start a supervision tree: its supervisor, then its children in order, depth first.

        Returns the root supervisor's ref once every child has started. If the root ever fails
        (restart intensity exceeded all the way up), the runtime shuts down and leaving
        ``open_runtime()`` raises :class:`SupervisorGaveUp` with the original failure chained.

        Raises:
            StartFailed: a child failed to start (the chain of causes leads to it).
        """
        if not isinstance(tree, Supervisor):
            raise TypeError(f"start takes an ak.Supervisor, not {tree!r}; use spawn for an actor")
        ref = await spawn_child(self, None, tree, RootSupervision(self._give_up))
        assert isinstance(ref, SupervisorRef)  # spawn_child made a SupervisorActor
        return ref

    def _give_up(self, reason: BaseException) -> None:
        """A tree's root failed: end the runtime's block, and make it raise on the way out."""
        if self._gave_up is None:
            self._gave_up = reason
            logger.error("runtime_gave_up", error=f"{type(reason).__name__}: {reason}")
            self._nursery.cancel_scope.cancel()

    # -- peer links (actorkit.net; present when open_runtime(node=...) was given) -------------

    @property
    def node(self) -> Node:
        """This runtime's node (``actorkit.net.Node``): its identity, links and exports."""
        if self._node is None:
            raise RuntimeError(
                "this runtime has no node: open it with "
                "ak.open_runtime(node=ak.net.NodeConfig(...)) to link it with others"
            )
        return self._node

    @property
    def codec(self) -> Codec:
        """The registry of message types that may cross links (``rt.codec.register(T)``)."""
        return self.node.codec

    def export(self, name: str, *, peers: Any = None) -> None:
        """Let peers reach the actor named ``name`` (only the peers named in ``peers``, if
        given: names from known_peers). Nothing is reachable from a peer unless exported."""
        self.node.export(name, peers=peers)

    async def connect(self, address: str) -> RemotePeer:
        """Link to the node at ``address`` (``tcp://host:port#ed25519:KEY``, or the name of a
        known_peers entry with ``addr=``); return its :class:`actorkit.net.RemotePeer`, whose
        ``lookup(name)`` gives remote refs. The peer is re-dialled whenever the link is lost."""
        return await self.node.connect(address)

    def tree(self) -> Tree:
        """An immutable snapshot of every live actor, as a tree; ``str()`` of it reads well."""
        return Tree(tuple(snapshot(cell) for cell in self._cells if cell.parent is None))

    def _register(self, cell: Cell) -> None:
        self._cells[cell] = None
        self._started += 1
        if cell.name is not None:
            self._names[cell.name] = cell
        if cell.parent is not None:
            if cell.parent.children is None:
                cell.parent.children = {}
            cell.parent.children[cell] = None

    def _cell_ended(self, cell: Cell) -> None:
        del self._cells[cell]
        self._processed_by_ended += cell.processed
        if cell.name is not None and self._names.get(cell.name) is cell:
            del self._names[cell.name]
        if cell.topics:
            for topic in cell.topics:
                subscribers = self._topics.get(topic)
                if subscribers is not None:
                    subscribers.pop(cell, None)
                    if not subscribers:
                        del self._topics[topic]
        if cell.parent is not None and cell.parent.children is not None:
            cell.parent.children.pop(cell, None)

    # -- names -----------------------------------------------------------------------------

    def lookup(self, name: str) -> ActorRef:
        """The ref of the live actor registered as ``name``; raises :class:`ActorNotFound`."""
        try:
            return self._names[name].ref
        except KeyError:
            raise ActorNotFound(name) from None

    # -- topics ----------------------------------------------------------------------------

    def subscribe(self, topic: str, ref: ActorRef) -> None:
        """Deliver what is published on ``topic`` to ``ref`` until it unsubscribes or stops."""
        cell = ref._cell
        if not cell.alive:
            return
        self._topics.setdefault(topic, {})[cell] = None
        if cell.topics is None:
            cell.topics = set()
        cell.topics.add(topic)

    def unsubscribe(self, topic: str, ref: ActorRef) -> None:
        """Stop delivering ``topic`` to ``ref`` (nothing happens if it was not subscribed)."""
        cell = ref._cell
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.pop(cell, None)
            if not subscribers:
                del self._topics[topic]
        if cell.topics is not None:
            cell.topics.discard(topic)

    async def publish(self, topic: str, message: Any) -> int:
        """Send ``message`` to every subscriber of ``topic``; return how many it was sent to.

        With no subscribers, the message becomes a dead letter.
        """
        check_immutable(message)
        subscribers = self._topics.get(topic)
        if not subscribers:
            self._dead_letter(DeadLetter(message, f"topic:{topic}", "no_subscribers"), None)
            await _checkpoint_if_cancelled()
            return 0
        refs = [cell.ref for cell in subscribers]
        for ref in refs:
            await ref.send(message)
        return len(refs)

    # -- dead letters and stats ------------------------------------------------------------

    def _dead_letter(self, letter: DeadLetter, cell: Cell | None, *, log: bool = True) -> None:
        """Count a dead letter and log it (with its recipient's keys, when it had one)."""
        self._dead_letters += 1
        if log:
            self._event(
                "info",
                "dead_letter",
                cell,
                # An undelivered event is logged but not published again: no feedback loop.
                publish=not isinstance(letter.message, RuntimeEvent),
                recipient=letter.recipient,
                reason=letter.reason,
                message=short_repr(letter.message),
                message_type=type(letter.message).__qualname__,
            )

    def _event(
        self,
        level: str,
        event: str,
        cell: Cell | None = None,
        *,
        publish: bool = True,
        **fields: Any,
    ) -> None:
        """Log a structured event and publish it to subscribers of ``ak.EVENTS``."""
        if cell is not None:
            fields = {**cell.log_context(), **fields}
        getattr(logger, level)(event, **fields)
        subscribers = self._topics.get(EVENTS) if publish else None
        if subscribers:
            fields.pop("exc_info", None)
            published = RuntimeEvent(event, fields)
            for subscriber in list(subscribers):
                subscriber.mailbox.put_system(published)

    def stats(self) -> RuntimeStats:
        """Counts of actors and messages, right now."""
        processed = self._processed_by_ended
        queued = 0
        for cell in self._cells:
            processed += cell.processed
            queued += len(cell.mailbox) - cell.control_items + cell.deferred_count
        return RuntimeStats(
            actors_live=len(self._cells),
            actors_started=self._started,
            messages_processed=processed,
            messages_queued=queued,
            dead_letters=self._dead_letters,
            crashes=self._crashes,
        )

    # -- shutdown --------------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self._closing = True
        with trio.CancelScope(shield=True):
            # Top-level actors in reverse spawn order; each stops its own children first.
            while self._cells:
                top_level = [cell for cell in self._cells if cell.parent is None]
                for cell in reversed(top_level or list(self._cells)):
                    await cell.stop()


@asynccontextmanager
async def open_runtime(*, node: Any = None) -> AsyncIterator[Runtime]:
    """Open an actor runtime for the duration of the ``async with`` block.

    Leaving the block (normally, by an exception, or by cancellation) stops every actor in
    reverse spawn order, runs each ``on_stop``, and leaves no task behind. An exception
    raised in the block comes out as itself, not wrapped in an exception group: actors never
    raise into the runtime, so the block's exception is the only one there can be.

    Args:
        node: an ``actorkit.net.NodeConfig``: make this runtime a node that links with
            other runtimes over authenticated, encrypted sockets.

    Example::

        async with ak.open_runtime() as rt:
            acct = await rt.spawn(Account, 10, name="acct")
    """
    try:
        async with trio.open_nursery() as nursery:
            runtime = Runtime(nursery)
            nursery.start_soon(runtime._deadlines.run, name="actorkit:deadlines")
            if node is not None:
                # Duck-typed, so that the core never imports actorkit.net.
                runtime._node = await node.start(runtime, nursery)
            logger.debug("runtime_started")
            try:
                yield runtime
            finally:
                try:
                    await runtime._shutdown()
                    if runtime._node is not None:
                        with trio.CancelScope(shield=True):
                            await runtime._node.aclose()
                finally:
                    runtime._deadlines.close()  # else its shielded task would hang the exit
                nursery.cancel_scope.cancel()  # nothing is left but timers of ended actors
                logger.debug("runtime_stopped", **attrs.asdict(runtime.stats()))
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
    if runtime._gave_up is not None:
        raise _gave_up_error(runtime._gave_up)


def _gave_up_error(reason: BaseException) -> SupervisorGaveUp:
    if isinstance(reason, SupervisorGaveUp):
        return reason
    error = SupervisorGaveUp("root", "the root supervisor crashed", "root", reason)
    error.__cause__ = reason
    return error
