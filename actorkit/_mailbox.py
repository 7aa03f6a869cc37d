"""Bounded mailboxes: the queue in front of every actor, and what happens when it is full.

The hot path is :meth:`MailboxQueue.try_put`: when there is room it appends and, if the actor is
parked waiting for work, reschedules it, all without a scheduler pass. Only a full mailbox (or a
closed one) takes the slow path. The actor drains the queue in batches (see ``_cell.py``), so a
burst of sends costs one scheduler pass per batch rather than two per message.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs
import trio

from ._errors import MailboxFull

__all__ = ["Mailbox", "MailboxQueue", "Overflow"]

_current_task = trio.lowlevel.current_task
_reschedule = trio.lowlevel.reschedule
_SUCCEEDED = trio.lowlevel.Abort.SUCCEEDED


class Overflow(enum.Enum):
    """What a send does when the mailbox is full. Every dropped message becomes a dead letter."""

    #: ``send`` waits for room (backpressure); ``send_nowait`` raises :class:`MailboxFull`.
    BLOCK = "block"
    #: The new message is dropped.
    DROP_NEWEST = "drop_newest"
    #: The oldest queued message is dropped to make room for the new one.
    DROP_OLDEST = "drop_oldest"
    #: ``send`` raises :class:`MailboxFull` at once.
    FAIL = "fail"


def _positive_capacity(_instance: object, _attribute: object, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Mailbox capacity must be a positive int, not {value!r}")


def _an_overflow(_instance: object, _attribute: object, value: Overflow) -> None:
    if not isinstance(value, Overflow):
        raise TypeError(
            f"Mailbox overflow must be an ak.Overflow (such as ak.Overflow.DROP_OLDEST), "
            f"not {value!r}"
        )


@attrs.frozen
class Mailbox:
    """How an actor's mailbox is sized, and what happens when it is full.

    Example: ``await rt.spawn(Logger, mailbox=ak.Mailbox(capacity=10_000,
    overflow=ak.Overflow.DROP_OLDEST))``.
    """

    capacity: int = attrs.field(default=1000, validator=_positive_capacity)
    overflow: Overflow = attrs.field(default=Overflow.BLOCK, validator=_an_overflow)


#: ``on_drop(item, reason)`` turns a message the queue could not keep into a dead letter.
DropHandler = Callable[[Any, str], None]


class MailboxQueue:
    """A running actor's queue: bounded, FIFO, with one consumer (the actor's task)."""

    __slots__ = (
        "_getter",
        "_on_drop",
        "_putters",
        "capacity",
        "closed_reason",
        "is_open",
        "items",
        "overflow",
    )

    def __init__(self, config: Mailbox, on_drop: DropHandler) -> None:
        self.items: deque[Any] = deque()
        self.capacity = config.capacity
        self.overflow = config.overflow
        self.is_open = True
        self.closed_reason = "stopped"
        self._on_drop = on_drop
        self._getter: trio.lowlevel.Task | None = None
        # Senders waiting for room, oldest first, each with the item it will enqueue.
        self._putters: dict[trio.lowlevel.Task, Any] = {}

    def __len__(self) -> int:
        return len(self.items)

    # -- producers -------------------------------------------------------------------------

    def try_put(self, item: Any) -> bool:
        """Enqueue ``item`` if there is room; return False when the slow path must decide."""
        if self.is_open and len(self.items) < self.capacity:
            self.items.append(item)
            if self._getter is not None:
                _reschedule(self._getter)
                self._getter = None
            return True
        return False

    async def put(self, item: Any, actor: str) -> None:
        """The slow path of a send: the mailbox is full or closed."""
        if self.try_put(item):
            return
        if not self.is_open:
            self._on_drop(item, self.closed_reason)
            return
        overflow = self.overflow
        if overflow is Overflow.BLOCK:
            task = _current_task()
            self._putters[task] = item

            def abort(_: object) -> trio.lowlevel.Abort:
                del self._putters[task]
                return _SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        elif overflow is Overflow.FAIL:
            raise MailboxFull(actor, self.capacity)
        else:
            self._overflow_drop(item)

    def put_nowait(self, item: Any, actor: str) -> None:
        """Enqueue without waiting; a full BLOCK or FAIL mailbox raises :class:`MailboxFull`."""
        if self.try_put(item):
            return
        if not self.is_open:
            self._on_drop(item, self.closed_reason)
        elif self.overflow is Overflow.BLOCK or self.overflow is Overflow.FAIL:
            raise MailboxFull(actor, self.capacity)
        else:
            self._overflow_drop(item)

    def put_system(self, item: Any) -> None:
        """Enqueue a runtime message (such as Terminated), which capacity never refuses."""
        if not self.is_open:
            self._on_drop(item, self.closed_reason)
            return
        self.items.append(item)
        self.wake()

    def _overflow_drop(self, item: Any) -> None:
        if self.overflow is Overflow.DROP_OLDEST:
            self._on_drop(self.items.popleft(), "mailbox_full")
            self.items.append(item)
        else:
            self._on_drop(item, "mailbox_full")

    # -- the consumer ----------------------------------------------------------------------

    def pop(self) -> Any:
        """Take the oldest item, letting the longest-waiting blocked sender in behind it."""
        item = self.items.popleft()
        if self._putters:
            task = next(iter(self._putters))
            self.items.append(self._putters.pop(task))
            _reschedule(task)
        return item

    async def wait(self) -> None:
        """Park the actor's task until an item arrives or :meth:`wake` is called."""
        self._getter = _current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort_wait)

    def _abort_wait(self, _: object) -> trio.lowlevel.Abort:
        self._getter = None
        return _SUCCEEDED

    def wake(self) -> None:
        """Unpark the actor's task if it is waiting (to see a stop request, say)."""
        if self._getter is not None:
            _reschedule(self._getter)
            self._getter = None

    def close(self, reason: str = "stopped") -> None:
        """Refuse new items with ``reason``; queued and blocked senders' items become dead letters.

        A circuit-open actor's mailbox is closed this way and reopened when it goes half-open.
        """
        self.is_open = False
        self.closed_reason = reason
        while self.items:
            self._on_drop(self.items.popleft(), reason)
        for task, item in self._putters.items():
            self._on_drop(item, reason)
            _reschedule(task)
        self._putters.clear()

    def reopen(self) -> None:
        """Accept items again after :meth:`close`."""
        self.is_open = True
        self.closed_reason = "stopped"
