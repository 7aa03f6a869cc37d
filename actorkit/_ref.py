"""ActorRef: the handle through which everything reaches an actor (send, ask, stop).

A ref stays valid for the actor's whole life, across supervisor restarts; once the actor has
stopped, what is sent to it becomes a dead letter and ``ask`` raises :class:`ActorStopped`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import outcome
import trio

from ._errors import AskTimeout
from ._messages import _IMMUTABLE_TYPES, check_immutable

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["ActorRef", "AskRequest"]

_current_task = trio.lowlevel.current_task
_reschedule = trio.lowlevel.reschedule
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED


class AskRequest:
    """A message that wants a reply: the one-shot slot the handler's result is put into."""

    __slots__ = ("done", "error", "message", "notify", "value", "waiter")

    def __init__(self, message: Any, notify: Callable[[AskRequest], None] | None = None) -> None:
        self.message = message
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.waiter: trio.lowlevel.Task | None = None
        # Instead of a waiting task: called once answered (a peer link sends the reply).
        self.notify = notify

    def resolve(self, value: Any) -> None:
        self.done = True
        self.value = value
        if self.waiter is not None:
            _reschedule(self.waiter)
            self.waiter = None
        elif self.notify is not None:
            self.notify(self)

    def fail(self, error: BaseException) -> None:
        self.done = True
        self.error = error
        if self.waiter is not None:
            _reschedule(self.waiter)
            self.waiter = None
        elif self.notify is not None:
            self.notify(self)

    def expire(self, error: BaseException) -> None:
        """Wake the asker with ``error``; the reply, if it ever comes, is dropped quietly."""
        if self.waiter is not None:
            _reschedule(self.waiter, outcome.Error(error))
            self.waiter = None

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        # The asker was cancelled: a late reply is dropped quietly.
        self.waiter = None
        return _SUCCEEDED

    async def wait(self) -> Any:
        """Park until resolved, failed or expired; return the value or raise the error."""
        if not self.done:
            self.waiter = _current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort)
        if self.error is not None:
            raise self.error
        return self.value


class ActorRef:
    """The address of an actor. Cheap to copy, safe to share, and itself a valid message.

    Refs compare equal when they name the same actor.
    """

    __slots__ = ("__weakref__", "_cell")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        """The actor's registered name, or ``<Class>#<id>`` if it has none."""
        return self._cell.label

    @property
    def alive(self) -> bool:
        """True until the actor has stopped for good."""
        return self._cell.alive

    def __repr__(self) -> str:
        return f"<ActorRef {self._cell.label} {self._cell.actor_class.__qualname__}>"

    async def send(self, message: Any) -> None:
        """Deliver ``message``; wait only if the mailbox is full (backpressure).

        It checks for cancellation but does not yield when there is room, so a burst of sends
        costs no scheduler passes. Sending to a stopped actor makes a dead letter, never an error.
        Raises ``TypeError`` for a mutable message and :class:`MailboxFull` if the actor's
        mailbox uses ``Overflow.FAIL`` and is full.
        """
        if type(message) not in _IMMUTABLE_TYPES:
            check_immutable(message)
        await _checkpoint_if_cancelled()
        cell = self._cell
        if not cell.mailbox.try_put(message):
            await cell.mailbox.put(message, cell.label)

    def send_nowait(self, message: Any) -> None:
        """Deliver ``message`` now, or raise :class:`MailboxFull` rather than wait for room."""
        if type(message) not in _IMMUTABLE_TYPES:
            check_immutable(message)
        cell = self._cell
        cell.mailbox.put_nowait(message, cell.label)

    async def ask(self, message: Any, timeout: float | None = 5.0) -> Any:
        """Send ``message`` and return the handler's result.

        Raises:
            AskTimeout: no reply within ``timeout`` seconds (``None`` waits for ever); a reply
                that arrives later is dropped quietly.
            ActorCrashed: the handler raised; its exception is the ``__cause__``.
            UnhandledMessage: the actor has no handler for the message's type.
            ActorStopped: the actor stopped before answering.
            MailboxFull: the mailbox is full and its policy is FAIL or DROP_NEWEST, or a
                DROP_OLDEST mailbox pushed this ask out.
            CircuitOpen: the actor is supervised by CircuitBreak and its circuit is open.
        """
        if type(message) not in _IMMUTABLE_TYPES:
            check_immutable(message)
        await _checkpoint_if_cancelled()
        request = AskRequest(message)
        cell = self._cell
        if timeout is None:
            if not cell.mailbox.try_put(request):
                await cell.mailbox.put(request, cell.label)
            return await request.wait()
        deadline = trio.current_time() + timeout
        if not cell.mailbox.try_put(request):
            # A full mailbox: the wait for room counts against the timeout too.
            with trio.move_on_at(deadline) as scope:
                await cell.mailbox.put(request, cell.label)
            if scope.cancelled_caught:
                raise AskTimeout(f"{cell.label} did not accept the message within {timeout} s")
        if not request.done:
            cell.runtime._deadlines.add(request, deadline, timeout, cell.label)
        return await request.wait()

    def _ak_watch(self, watcher: Cell) -> None:
        """Make ``watcher`` receive Terminated when this ref's actor ends."""
        watcher.watch(self._cell)

    def _ak_unwatch(self, watcher: Cell) -> None:
        watcher.unwatch(self._cell)

    async def stop(self) -> None:
        """Stop the actor after its current message and wait until it has ended.

        Its ``on_stop`` runs; the messages still queued become dead letters.
        """
        await self._cell.stop()


# A ref names an actor and cannot be changed, so refs may travel inside messages.
_IMMUTABLE_TYPES.add(ActorRef)
