"""A running actor: its task, its loop over the mailbox, its lifecycle and its crashes.

The loop is the hot path's second half: it pops a message, finds the handler with one dict
look-up, awaits it, and yields to the scheduler once per batch (a fairness cap) rather than once
per message. A ``Cell`` outlives the instances it runs, so a restart keeps the actor's ref, name
and mailbox.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import trio

from ._actor import Actor
from ._errors import ActorCrashed, ActorStopped, MailboxFull, StartFailed, UnhandledMessage
from ._logging import logger, short_repr
from ._mailbox import Mailbox, MailboxQueue
from ._messages import DeadLetter, Terminated
from ._ref import ActorRef, AskRequest

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["Cell", "Context"]

#: Messages an actor handles before it lets other tasks run, if its mailbox stays non-empty.
FAIRNESS_BATCH = 128
#: Seconds an actor's ``on_stop`` may take, and a stop may wait for the current handler.
DEFAULT_SHUTDOWN = 5.0

_checkpoint = trio.lowlevel.checkpoint


class Context:
    """What an actor's handlers reach through ``self.ctx``: itself, the runtime, its children."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    @property
    def self(self) -> ActorRef:
        """This actor's own ref (to hand to others, or to send to itself)."""
        return self._cell.ref

    @property
    def runtime(self) -> Runtime:
        """The runtime this actor runs in."""
        return self._cell.runtime

    @property
    def name(self) -> str:
        """This actor's name (or ``<Class>#<id>`` if it was spawned without one)."""
        return self._cell.label

    async def spawn(
        self,
        actor_class: type[Actor],
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Spawn a child actor. It is stopped, before this actor's ``on_stop``, when this one ends.

        Takes the same arguments as :meth:`Runtime.spawn`.
        """
        return await self._cell.runtime._spawn(actor_class, args, kwargs, name, mailbox, self._cell)

    def watch(self, ref: ActorRef) -> None:
        """Receive :class:`Terminated` when ``ref``'s actor ends (at once if it already has)."""
        self._cell.watch(ref._cell)

    def unwatch(self, ref: ActorRef) -> None:
        """Stop watching ``ref``; a Terminated already queued is still delivered."""
        self._cell.unwatch(ref._cell)

    def stop(self) -> None:
        """Stop this actor once the current message has been handled."""
        self._cell.request_stop()


class Cell:
    """The runtime's record of one actor, from spawn until it has ended for good."""

    __slots__ = (
        "_ended",
        "_scope",
        "_start",
        "_stop_requested",
        "actor_class",
        "alive",
        "args",
        "children",
        "ctx",
        "exit_reason",
        "id",
        "instance",
        "kwargs",
        "label",
        "mailbox",
        "name",
        "parent",
        "processed",
        "ref",
        "runtime",
        "shutdown",
        "topics",
        "watchers",
        "watching",
    )

    def __init__(
        self,
        runtime: Runtime,
        actor_class: type[Actor],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        actor_id: int,
        name: str | None,
        mailbox: Mailbox,
        parent: Cell | None,
    ) -> None:
        self.runtime = runtime
        self.actor_class = actor_class
        self.args = args
        self.kwargs = kwargs
        self.id = actor_id
        self.name = name
        self.label = name if name is not None else f"{actor_class.__qualname__}#{actor_id}"
        self.mailbox = MailboxQueue(mailbox, self._drop)
        self.parent = parent
        self.ref = ActorRef(self)
        self.ctx = Context(self)
        self.instance: Actor | None = None
        self.alive = True
        self.exit_reason: BaseException | None = None
        self.processed = 0
        self.shutdown: float | None = DEFAULT_SHUTDOWN
        self.children: dict[Cell, None] | None = None
        self.watchers: dict[Cell, None] | None = None
        self.watching: dict[Cell, None] | None = None
        self.topics: set[str] | None = None
        self._stop_requested = False
        self._scope: trio.CancelScope | None = None
        self._ended: trio.Event | None = None
        self._start: AskRequest | None = None

    def __repr__(self) -> str:
        return f"<Cell {self.label}>"

    def log_context(self) -> dict[str, Any]:
        return {
            "actor": self.label,
            "actor_id": self.id,
            "actor_class": self.actor_class.__qualname__,
        }

    # -- start -----------------------------------------------------------------------------

    def make_instance(self) -> Actor:
        """Construct the actor with ``ctx`` already set, so ``__init__`` may use it."""
        instance = self.actor_class.__new__(self.actor_class)
        instance.ctx = self.ctx
        instance.__init__(*self.args, **self.kwargs)  # type: ignore[misc]
        self.instance = instance
        return instance

    def expect_start(self) -> AskRequest | None:
        """If the actor has an ``on_start``, a one-shot that its outcome will resolve."""
        if self.actor_class.on_start is Actor.on_start:
            return None
        self._start = AskRequest(None)
        return self._start

    # -- the actor's task ------------------------------------------------------------------

    async def run(self) -> None:
        reason: BaseException | None = None
        started = False
        # Shielded: only the runtime (or a supervisor) stops an actor, in order, through stop().
        with trio.CancelScope(shield=True) as self._scope:
            started = await self._run_start()
            if started:
                reason = await self._loop()
        await self._terminate(reason, started)

    async def _run_start(self) -> bool:
        start, self._start = self._start, None
        if start is None:
            return True
        try:
            await self.instance.on_start()  # type: ignore[union-attr]
        except Exception as exc:
            error = StartFailed(self.label, exc)
            error.__cause__ = exc
            start.fail(error)
            self.exit_reason = exc
            return False
        start.resolve(None)
        return True

    async def _loop(self) -> BaseException | None:
        mailbox = self.mailbox
        items = mailbox.items
        instance = self.instance
        actor_class = self.actor_class
        dispatch = actor_class._ak_dispatch
        budget = FAIRNESS_BATCH
        while not self._stop_requested:
            if not items:
                await mailbox.wait()
                budget = FAIRNESS_BATCH
                continue
            item = mailbox.pop()
            is_ask = type(item) is AskRequest
            message = item.message if is_ask else item
            handler = dispatch.get(type(message)) or actor_class.resolve_handler(type(message))
            if handler is None:
                self._drop(item, "unhandled")
                continue
            try:
                result = await handler(instance, message)
            except Exception as exc:
                self._crashed(exc, item)
                return exc
            except BaseException:
                # Cancelled mid-handler (a stop that ran out of time): the asker must not hang.
                if is_ask:
                    item.fail(ActorStopped(self.label))
                raise
            if is_ask:
                item.resolve(result)
            self.processed += 1
            budget -= 1
            if not budget:
                await _checkpoint()
                budget = FAIRNESS_BATCH
        return None

    def _crashed(self, exc: Exception, item: Any) -> None:
        message = item.message if type(item) is AskRequest else item
        logger.error(
            "actor_crashed",
            **self.log_context(),
            message=short_repr(message),
            error=f"{type(exc).__name__}: {exc}",
            decision="stop",
            exc_info=exc,
        )
        if type(item) is AskRequest:
            crashed = ActorCrashed(self.label, type(exc).__qualname__, str(exc))
            crashed.__cause__ = exc
            item.fail(crashed)
        self.runtime._dead_letter(DeadLetter(message, self.label, "crashed"), quiet=True)

    # -- dead letters ----------------------------------------------------------------------

    def _drop(self, item: Any, reason: str) -> None:
        """Turn a message this actor will never handle into a dead letter (and fail its ask)."""
        if type(item) is AskRequest:
            message = item.message
            if reason == "unhandled":
                item.fail(UnhandledMessage(self.label, message))
            elif reason == "mailbox_full":
                item.fail(MailboxFull(self.label, self.mailbox.capacity))
            else:
                item.fail(ActorStopped(self.label))
        else:
            message = item
        self.runtime._dead_letter(DeadLetter(message, self.label, reason))

    # -- stopping --------------------------------------------------------------------------

    def request_stop(self) -> None:
        if not self._stop_requested:
            self._stop_requested = True
            self.mailbox.wake()

    async def stop(self) -> None:
        """Ask the actor to stop, wait up to its shutdown time, then cancel it; wait for its end."""
        if not self.alive:
            return
        self.request_stop()
        if self._ended is None:
            self._ended = trio.Event()
        ended = self._ended
        with trio.CancelScope(shield=True):
            with trio.move_on_at(self._shutdown_deadline()):
                await ended.wait()
            if not ended.is_set():
                logger.warning("actor_stop_timed_out", **self.log_context(), after=self.shutdown)
                if self._scope is not None:
                    self._scope.cancel()
                await ended.wait()

    def _shutdown_deadline(self) -> float:
        return math.inf if self.shutdown is None else trio.current_time() + self.shutdown

    async def _terminate(self, reason: BaseException | None, started: bool) -> None:
        """Everything that happens once the loop has ended, whatever ended it."""
        with trio.CancelScope(shield=True):
            if self.children:
                for child in reversed(list(self.children)):
                    await child.stop()
            if started and self.instance is not None:
                deadline = (
                    math.inf if self.shutdown is None else trio.current_time() + self.shutdown
                )
                with trio.move_on_at(deadline) as scope:
                    try:
                        await self.instance.on_stop(reason)
                    except Exception as exc:
                        logger.error("actor_on_stop_failed", **self.log_context(), exc_info=exc)
                if scope.cancelled_caught:
                    logger.warning("actor_on_stop_timed_out", **self.log_context())
        self.alive = False
        if reason is not None:
            self.exit_reason = reason
        self.mailbox.close()
        self._notify_watchers()
        self.runtime._cell_ended(self)
        if started:
            logger.debug(
                "actor_stopped",
                **self.log_context(),
                reason=None if reason is None else repr(reason),
            )
        if self._ended is not None:
            self._ended.set()

    # -- watching --------------------------------------------------------------------------

    def watch(self, target: Cell) -> None:
        if not target.alive:
            self.mailbox.put_system(Terminated(target.ref, target.exit_reason))
            return
        if target.watchers is None:
            target.watchers = {}
        target.watchers[self] = None
        if self.watching is None:
            self.watching = {}
        self.watching[target] = None

    def unwatch(self, target: Cell) -> None:
        if target.watchers is not None:
            target.watchers.pop(self, None)
        if self.watching is not None:
            self.watching.pop(target, None)

    def _notify_watchers(self) -> None:
        if self.watching:
            for target in self.watching:
                if target.watchers is not None:
                    target.watchers.pop(self, None)
            self.watching = None
        if self.watchers:
            terminated = Terminated(self.ref, self.exit_reason)
            for watcher in self.watchers:
                watcher.mailbox.put_system(terminated)
            self.watchers = None
