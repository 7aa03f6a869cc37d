"""A running actor: its task, its loop over the mailbox, its lifecycle and its crashes.

The loop is the hot path's second half: it pops a message, finds the handler with one dict
look-up, awaits it, and yields to the scheduler once per batch (a fairness cap) rather than once
per message. A ``Cell`` outlives the instances it runs, so a restart keeps the actor's ref, name
and mailbox.
"""

from __future__ import annotations

import contextlib
import enum
import math
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ._actor import Actor
from ._errors import (
    ActorCrashed,
    ActorStopped,
    BatchResultMismatch,
    CircuitOpen,
    MailboxFull,
    StartFailed,
    UnhandledMessage,
)
from ._handlers import Batch, Deferred, FlushBatch, Handler, SystemMessage
from ._logging import logger, short_repr
from ._mailbox import Mailbox, MailboxQueue
from ._messages import DeadLetter, Terminated
from ._ref import ActorRef, AskRequest

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["Action", "Cell", "Context", "Supervision"]

#: Messages an actor handles before it lets other tasks run, if its mailbox stays non-empty.
FAIRNESS_BATCH = 128
#: Seconds an actor's ``on_stop`` may take, and a stop may wait for the current handler.
DEFAULT_SHUTDOWN = 5.0

_checkpoint = trio.lowlevel.checkpoint


class Action(enum.Enum):
    """What a cell does after its actor failed (or, supervised, stopped by itself)."""

    RESUME = "resume"  # keep the instance, go on with the next message
    RESTART = "restart"  # a new instance in place, after the given delay
    COORDINATE = "restart_siblings"  # stop the instance and let the supervisor restart us
    CIRCUIT_OPEN = "circuit_open"  # refuse messages for the given delay, then try again
    STOP = "stop"  # end for good
    ESCALATE = "escalate"  # end for good, and fail the supervisor


class Supervision(Protocol):
    """The supervisor's side of one child, as the child's cell sees it (see ``_supervisor.py``)."""

    def on_failure(self, cell: Cell, exc: BaseException | None) -> tuple[Action, float]:
        """Decide after a crash (``exc``) or a normal stop (``None``): an action and a delay."""
        ...

    def on_restarted(self, cell: Cell) -> None:
        """The child runs again (a new instance has finished ``on_start``)."""
        ...

    def on_probation_passed(self, cell: Cell) -> None:
        """A half-open child handled its first message: its circuit closes."""
        ...

    def on_coordinated_failure(self, cell: Cell, exc: BaseException | None) -> None:
        """The child has stopped its instance and waits to be restarted with its siblings."""
        ...

    def on_ended(self, cell: Cell, reason: BaseException | None, escalate: bool) -> None:
        """The child has ended for good."""
        ...


#: Why a cell's message loop should stop at the next message boundary.
_STOP = "stop"  # the runtime or supervisor stops the actor
_SELF_STOP = "self_stop"  # the actor called ctx.stop()
_PAUSE = "pause"  # the supervisor restarts siblings (one-for-all, rest-for-one)


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
        """Receive :class:`Terminated` when ``ref``'s actor ends (at once if it already has).

        ``ref`` may be a remote actor's: its Terminated comes over the link, or, if the link
        is lost, with ``reason`` an ``ak.NodeDown``.
        """
        ref._ak_watch(self._cell)

    def unwatch(self, ref: ActorRef) -> None:
        """Stop watching ``ref``; a Terminated already queued is still delivered."""
        ref._ak_unwatch(self._cell)

    def stop(self) -> None:
        """Stop this actor once the current message has been handled.

        Under a supervisor, a ``PERMANENT`` child is then restarted (as in OTP); make it
        ``TRANSIENT`` or ``TEMPORARY`` to let it stop for good.
        """
        self._cell.request_stop(_SELF_STOP)


class Cell:
    """The runtime's record of one actor, from spawn until it has ended for good.

    A cell outlives the instances it runs: a supervised restart replaces the instance and keeps
    the cell, hence the ref, the name and the mailbox.
    """

    __slots__ = (
        "_command",
        "_command_ready",
        "_ended",
        "_escalate",
        "_interrupt",
        "_nap",
        "_paused",
        "_probation",
        "_scope",
        "_start",
        "_task",
        "_timers",
        "actor_class",
        "alive",
        "args",
        "batches",
        "children",
        "control_items",
        "ctx",
        "exit_reason",
        "id",
        "instance",
        "kwargs",
        "label",
        "mailbox",
        "name",
        "parent",
        "postponed",
        "processed",
        "ref",
        "restarts",
        "retry_at",
        "runtime",
        "shutdown",
        "status",
        "supervision",
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
        self.ref = actor_class._ak_ref_class(self)
        self.ctx = Context(self)
        self.instance: Actor | None = None
        self.alive = True
        self.status = "starting"
        self.exit_reason: BaseException | None = None
        self.processed = 0
        self.restarts = 0
        self.retry_at = 0.0
        self.shutdown: float | None = DEFAULT_SHUTDOWN
        self.supervision: Supervision | None = None
        self.children: dict[Cell, None] | None = None
        self.watchers: dict[Cell, None] | None = None
        self.watching: dict[Cell, None] | None = None
        self.topics: set[str] | None = None
        self._interrupt: str | None = None
        self._scope: trio.CancelScope | None = None
        self._nap: trio.CancelScope | None = None
        self._ended: trio.Event | None = None
        self._start: AskRequest | None = None
        self._paused: trio.Event | None = None
        self._command: str | None = None
        self._command_ready: trio.Event | None = None
        self._probation = False
        self._escalate = False
        self._timers: set[trio.CancelScope] | None = None
        self._task: trio.lowlevel.Task | None = None
        # Runtime control messages (batch flushes, timer envelopes) now in the mailbox: they
        # are not anyone's messages, so stats leave them out.
        self.control_items = 0
        # Messages kept aside by the instance: postponed by a state machine, or in batches.
        self.postponed: list[Any] | None = None
        self.batches: dict[Handler, _BatchBuffer] | None = None

    def __repr__(self) -> str:
        return f"<Cell {self.label}>"

    @property
    def path(self) -> str:
        """Where the actor sits in the tree: its ancestors' labels and its own, joined by /."""
        if self.parent is None:
            return self.label
        return f"{self.parent.path}/{self.label}"

    def log_context(self) -> dict[str, Any]:
        return {
            "actor": self.label,
            "actor_id": self.id,
            "actor_class": self.actor_class.__qualname__,
        }

    # -- instances -------------------------------------------------------------------------

    def make_instance(self) -> Actor:
        """Construct the actor with ``ctx`` already set, so ``__init__`` may use it."""
        instance = self.actor_class.__new__(self.actor_class)
        instance.ctx = self.ctx
        instance.__init__(*self.args, **self.kwargs)  # type: ignore[misc]
        self.instance = instance
        return instance

    def expect_start(self) -> AskRequest | None:
        """If the actor has an ``on_start``, a one-shot that its outcome will resolve."""
        cls = self.actor_class
        if cls.on_start is Actor.on_start and cls._ak_boot is Actor._ak_boot:
            return None
        self._start = AskRequest(None)
        return self._start

    async def _start_instance(self) -> Exception | None:
        """A new instance and its ``on_start``; return what either raised, if anything."""
        start, self._start = self._start, None
        try:
            await self.make_instance()._ak_boot()
        except Exception as exc:
            self.instance = None  # never started, so it gets no on_stop
            if start is not None:
                start.fail(exc)
            return exc
        self.status = "running"
        if start is not None:
            start.resolve(None)
        return None

    async def _stop_instance(self, reason: BaseException | None) -> None:
        """Run the current instance's ``on_stop`` within the shutdown deadline, then drop it."""
        if self.children:
            # Children spawned by this instance end with it, before its on_stop (as linked
            # processes do in OTP); a restarted instance starts its own.
            for child in reversed(list(self.children)):
                await child.stop()
        instance, self.instance = self.instance, None
        if instance is None:
            return
        self._cancel_timers()
        self._release_deferred()
        with trio.CancelScope(shield=True, deadline=self._shutdown_deadline()) as scope:
            try:
                await instance.on_stop(reason)
            except Exception as exc:
                logger.error("actor_on_stop_failed", **self.log_context(), exc_info=exc)
        if scope.cancelled_caught:
            logger.warning("actor_on_stop_timed_out", **self.log_context(), after=self.shutdown)

    def _shutdown_deadline(self) -> float:
        return math.inf if self.shutdown is None else trio.current_time() + self.shutdown

    # -- the actor's task ------------------------------------------------------------------

    async def run(self) -> None:
        """The actor's whole life: first start, the message loop (with recoveries), the end."""
        self._task = trio.lowlevel.current_task()
        start, self._start = self._start, None
        reason: BaseException | None = None
        start_error: StartFailed | None = None
        # One shielded scope for the actor's normal life: cancelling the runtime's nursery never
        # tears an actor down half-way (the runtime stops actors in order, through stop()), and
        # stop() cancels this scope if the current handler, or a hanging on_start, outlasts the
        # shutdown time. One scope, not two: each costs memory for the actor's whole life.
        with trio.CancelScope(shield=True) as self._scope:
            if start is not None:
                # The instance was made by spawn, so that __init__ errors reach the spawner.
                start_error = await self._first_boot(start)
            if start_error is None:
                self.status = "running"
                reason = await self._loop()
        if start is not None and start_error is None and not start.done:
            start_error = self._start_failed(ActorStopped(self.label))  # cut off in on_start
        if start_error is not None:
            reason = start_error.__cause__
        with trio.CancelScope(shield=True):
            running = start_error is None and await self._between_runs(reason)
            while running:
                # A run after a restart in place: a fresh scope for stop() to cancel.
                with trio.CancelScope() as self._scope:
                    reason = await self._loop()
                running = await self._between_runs(reason)
            await self._terminate(reason)
        if start is not None and start_error is not None:
            # Only now: the spawner learns of the failure once what started is stopped.
            start.fail(start_error)

    async def _first_boot(self, start: AskRequest) -> StartFailed | None:
        """Boot the instance spawn made; return the error for the spawner if it failed."""
        try:
            await self.instance._ak_boot()  # type: ignore[union-attr]
        except Exception as exc:
            return self._start_failed(exc)
        start.resolve(None)
        return None

    def _start_failed(self, failure: BaseException) -> StartFailed:
        logger.error("actor_start_failed", **self.log_context(), exc_info=failure)
        error = StartFailed(self.label, failure)
        error.__cause__ = failure
        self.instance = None
        self.exit_reason = failure
        return error

    async def _between_runs(self, reason: BaseException | None) -> bool:
        """The loop has returned: decide whether the actor runs again."""
        interrupt, self._interrupt = self._interrupt, None
        if reason is not None or interrupt == _STOP:
            return False
        if interrupt == _PAUSE:
            await self._stop_instance(None)
            return await self._await_command(failed=False)
        if interrupt == _SELF_STOP and self.supervision is not None:
            return await self._recover(None, None)
        return False

    async def _loop(self) -> BaseException | None:
        """Handle messages until interrupted; return the crash that ends the actor, if any."""
        mailbox = self.mailbox
        items = mailbox.items
        instance: Any = self.instance
        budget = FAIRNESS_BATCH
        while self._interrupt is None:
            if not items:
                await mailbox.wait()
                budget = FAIRNESS_BATCH
                continue
            if not budget:  # every message counts, handled or not: a flood cannot hog Trio
                await _checkpoint()
                budget = FAIRNESS_BATCH
                continue
            budget -= 1
            item = mailbox.pop()
            is_ask = type(item) is AskRequest
            message = item.message if is_ask else item
            # Read through the instance: a state machine swaps its table when its state changes.
            handler = instance._ak_dispatch.get(type(message)) or instance._ak_resolve(
                type(message)
            )
            if handler is None:
                self._drop(item, "unhandled")
                continue
            try:
                result = await handler(instance, message)
            except Exception as exc:
                if type(exc) is Deferred:
                    self._defer(exc, item)
                    continue
                self._fail_message(exc, item)
                if not await self._recover(exc, message):
                    return exc
                instance = self.instance
                continue
            except BaseException:
                # Cancelled mid-handler (a stop that ran out of time): the message was not
                # handled, so it is a dead letter, and its asker must not hang.
                self._drop(item, "stopped")
                raise
            if is_ask:
                item.resolve(result)
            self.processed += 1
            if self._probation:
                self._probation = False
                self.supervision.on_probation_passed(self)  # type: ignore[union-attr]
        return None

    # -- failures --------------------------------------------------------------------------

    def _fail_message(self, exc: Exception, item: Any) -> None:
        """The message a handler raised on: its ask fails, and it becomes a dead letter."""
        if isinstance(item, SystemMessage):
            # A control message is no one's; what a timer delivered is (a batch's messages
            # were failed by flush_batch).
            if not hasattr(item, "message"):
                return
            item = item.message
        if type(item) is AskRequest:
            crashed = ActorCrashed(self.label, type(exc).__qualname__, str(exc))
            crashed.__cause__ = exc
            item.fail(crashed)
            message = item.message
        else:
            message = item
        # Not logged again: the actor_crashed event names the message.
        self.runtime._dead_letter(DeadLetter(message, self.label, "crashed"), self, log=False)

    def _decide(self, exc: BaseException | None, message: Any) -> tuple[Action, float]:
        if self.supervision is None:
            action, delay = Action.STOP, 0.0
        else:
            action, delay = self.supervision.on_failure(self, exc)
        if exc is not None:
            self.runtime._crashes += 1
            self.runtime._event(
                "error",
                "actor_crashed",
                self,
                path=self.path,
                error_type=type(exc).__qualname__,
                error=str(exc),
                message=short_repr(message),
                decision=action.value,
                exc_info=exc,
            )
        return action, delay

    async def _recover(self, exc: BaseException | None, message: Any) -> bool:
        """Follow the supervisor's decisions after a failure until the actor runs again (True)
        or must end (False). A new instance whose ``on_start`` raises is a failure too."""
        while True:
            action, delay = self._decide(exc, message)
            if action is Action.RESUME and self.instance is not None:
                return True
            if action is Action.STOP or action is Action.ESCALATE:
                self._escalate = action is Action.ESCALATE
                return False
            self.status = "restarting"  # nothing is handled while the old instance stops
            await self._stop_instance(exc)
            if self._interrupt == _STOP:
                return False  # stopped while the old instance's on_stop ran: no new one
            if action is Action.CIRCUIT_OPEN:
                if not await self._circuit_open(delay):
                    return False
            elif action is Action.COORDINATE:
                return await self._await_command(failed=True, exc=exc)
            elif delay > 0:
                self.status = "backing-off"
                if not await self._sleep(delay):
                    return False
            self.status = "restarting"
            exc = await self._start_instance()
            if exc is None:
                self._restarted()
                return True
            message = None

    def _restarted(self) -> None:
        self.restarts += 1
        self.runtime._event("info", "actor_restarted", self, path=self.path, restarts=self.restarts)
        if self.supervision is not None:
            self.supervision.on_restarted(self)

    async def _circuit_open(self, delay: float) -> bool:
        """Refuse messages until the circuit half-opens; False if stopped meanwhile."""
        now = trio.current_time()
        self.retry_at = now + delay
        self.status = "circuit-open"
        self.mailbox.close("circuit_open")
        self.runtime._event(
            "warning", "circuit_opened", self, path=self.path, retry_in=round(delay, 6)
        )
        if not await self._sleep(delay):
            return False
        self.mailbox.reopen()
        self._probation = True
        self.runtime._event("info", "circuit_half_open", self, path=self.path)
        return True

    async def _sleep(self, seconds: float) -> bool:
        """Sleep on Trio's clock; a stop request cuts it short (and makes it return False)."""
        with trio.CancelScope(deadline=trio.current_time() + seconds) as self._nap:
            if self._interrupt != _STOP:
                await trio.sleep_forever()
        self._nap = None
        return self._interrupt != _STOP

    # -- coordinated restarts (one-for-all, rest-for-one) ----------------------------------

    async def _await_command(self, *, failed: bool, exc: BaseException | None = None) -> bool:
        """Wait, instance stopped, until the supervisor restarts us (True) or stops us.

        ``failed``: we failed (or stopped by ourselves) and the supervisor must be told; else
        the supervisor paused us and knows."""
        self.status = "restarting"
        self._command = None
        self._command_ready = trio.Event()
        if self._paused is not None:
            self._paused.set()
        if failed:
            self.supervision.on_coordinated_failure(self, exc)  # type: ignore[union-attr]
        if self._interrupt != _STOP:  # a stop may have come while on_stop ran
            await self._command_ready.wait()
        self._command_ready = None
        while self._command == "restart":
            self._command = None
            error = await self._start_instance()
            if error is None:
                self._restarted()
                return True
            return await self._recover(error, None)
        return False

    async def pause(self) -> None:
        """(Supervisor) stop the instance after its current message, keep the cell waiting."""
        if not self.alive or self._command_ready is not None:
            return
        self._paused = paused = trio.Event()
        self._interrupt = _PAUSE
        self.mailbox.wake()
        with trio.move_on_at(self._shutdown_deadline()):
            await paused.wait()
        if not paused.is_set() and self._scope is not None:
            self._scope.cancel()
            await paused.wait()
        self._paused = None

    async def resume(self) -> None:
        """(Supervisor) start a new instance in a paused cell; return once its on_start ran."""
        if not self.alive or self._command_ready is None:
            return
        self._start = started = AskRequest(None)
        self._command = "restart"
        self._command_ready.set()
        # A failed restart is the cell's to report to its supervisor, not ours to raise.
        with contextlib.suppress(Exception):
            await started.wait()

    # -- messages kept aside: postponed (state machines) and batches -------------------------

    def _defer(self, signal: Deferred, item: Any) -> None:
        if signal.batch is None:
            if self.postponed is None:
                self.postponed = []
            self.postponed.append(item)
            return
        if self.batches is None:
            self.batches = {}
        handler = signal.batch_handler
        assert handler is not None  # a batch signal always names its handler
        buffer = self.batches.get(handler)
        if buffer is None:
            buffer = self.batches[handler] = _BatchBuffer(signal.batch)
        buffer.items.append(item)
        if len(buffer.items) >= buffer.batch.max_size:
            buffer.cancel_timer()
            buffer.generation += 1
            # Handled next, before anything else queued.
            self.enqueue_control(FlushBatch(handler, buffer.generation), first=True)
        elif len(buffer.items) == 1:
            buffer.timer = self.start_timer(
                buffer.batch.max_wait, FlushBatch(handler, buffer.generation)
            )

    async def flush_batch(self, flush: FlushBatch) -> None:
        """Hand the batch that ``flush`` names to its handler; answer each ask in it."""
        buffer = self.batches.get(flush.handler) if self.batches else None
        if buffer is None or not buffer.items or flush.generation != buffer.generation:
            return  # a stale flush: the batch went out already
        items, buffer.items = buffer.items, []
        buffer.cancel_timer()
        buffer.generation += 1
        messages = tuple(i.message if type(i) is AskRequest else i for i in items)
        try:
            results = _check_results(
                flush.handler, len(messages), await flush.handler(self.instance, messages)
            )
        except Exception as exc:
            for item in items:
                self._fail_message(exc, item)
            raise
        for item, result in zip(items, results, strict=True):
            if type(item) is AskRequest:
                item.resolve(result)
        self.processed += len(items)

    def retry_postponed(self) -> None:
        """Put postponed messages back at the head of the mailbox, in their order."""
        if self.postponed:
            postponed, self.postponed = self.postponed, None
            self.mailbox.items.extendleft(reversed(postponed))

    def _release_deferred(self) -> None:
        """The instance is going away: what it kept aside goes back to the mailbox's head."""
        kept: list[Any] = []
        if self.batches:
            for buffer in self.batches.values():
                buffer.cancel_timer()
                kept += buffer.items
            self.batches = None
        if self.postponed:
            kept += self.postponed
            self.postponed = None
        if kept:
            self.mailbox.items.extendleft(reversed(kept))

    @property
    def deferred_count(self) -> int:
        count = len(self.postponed) if self.postponed else 0
        if self.batches:
            count += sum(len(buffer.items) for buffer in self.batches.values())
        return count

    # -- timers ------------------------------------------------------------------------------

    def start_timer(self, seconds: float, message: Any) -> trio.CancelScope:
        """Deliver ``message`` to this actor after ``seconds`` on Trio's clock, unless the
        returned scope is cancelled first. Timers end with the instance that started them."""
        scope = trio.CancelScope()
        if self._timers is None:
            self._timers = set()
        self._timers.add(scope)
        self.runtime._nursery.start_soon(self._timer, scope, seconds, message)
        return scope

    async def _timer(self, scope: trio.CancelScope, seconds: float, message: Any) -> None:
        try:
            with scope:
                await trio.sleep(seconds)
                self.enqueue_control(message)
        finally:
            if self._timers is not None:
                self._timers.discard(scope)

    def enqueue_control(self, message: SystemMessage, *, first: bool = False) -> None:
        """Queue a runtime control message (first: ahead of everything queued)."""
        if not self.mailbox.is_open:
            return
        self.control_items += 1
        if first:
            self.mailbox.items.appendleft(message)
            self.mailbox.wake()
        else:
            self.mailbox.put_system(message)

    def _cancel_timers(self) -> None:
        if self._timers:
            for scope in self._timers:
                scope.cancel()
            self._timers = None

    # -- dead letters ----------------------------------------------------------------------

    def _drop(self, item: Any, reason: str) -> None:
        """Turn a message this actor will never handle into a dead letter (and fail its ask)."""
        if isinstance(item, SystemMessage):
            self.control_items -= 1
            return
        if type(item) is AskRequest:
            message = item.message
            if reason == "unhandled":
                item.fail(UnhandledMessage(self.label, message))
            elif reason == "mailbox_full":
                item.fail(MailboxFull(self.label, self.mailbox.capacity))
            elif reason == "circuit_open":
                now = trio.current_time()
                item.fail(CircuitOpen(self.label, self.retry_at, max(0.0, self.retry_at - now)))
            else:
                item.fail(ActorStopped(self.label))
        else:
            message = item
        self.runtime._dead_letter(DeadLetter(message, self.label, reason), self)

    # -- stopping --------------------------------------------------------------------------

    def request_stop(self, interrupt: str = _STOP) -> None:
        if self._interrupt is None or interrupt == _STOP:
            self._interrupt = interrupt
        self.mailbox.wake()
        if interrupt == _STOP:
            if self._nap is not None:
                self._nap.cancel()
            if self._command_ready is not None:
                self._command = None
                self._command_ready.set()

    async def stop(self) -> None:
        """Stop the actor: wait up to its shutdown time, then cancel it; wait for its end."""
        if not self.alive:
            return
        self.request_stop()
        if trio.lowlevel.current_task() is self._task:
            return  # the actor stops itself: it ends once the current handler returns
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

    async def _terminate(self, reason: BaseException | None) -> None:
        """Everything that happens once the actor has ended, whatever ended it."""
        self.status = "stopping"
        await self._stop_instance(reason)  # its children first (run() shields all of this)
        self._cancel_timers()
        self.alive = False
        self.status = "stopped"
        if reason is not None:
            self.exit_reason = reason
        self.mailbox.close()
        self._notify_watchers()
        self.runtime._cell_ended(self)
        self.runtime._event("debug", "actor_stopped", self, reason=repr(reason))
        if self.supervision is not None:
            self.supervision.on_ended(self, reason, self._escalate)
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


def _check_results(handler: Handler, expected: int, results: Any) -> Any:
    if results is None:
        return (None,) * expected
    if len(results) != expected:
        name = getattr(handler, "__qualname__", "batch handler")
        raise BatchResultMismatch(name, expected, len(results))
    return results


class _BatchBuffer:
    """Messages collected for one batch handler, and the timer that will flush them."""

    __slots__ = ("batch", "generation", "items", "timer")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.items: list[Any] = []
        self.timer: trio.CancelScope | None = None
        self.generation = 0

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
