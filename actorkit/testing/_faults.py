"""Fault injection: make an actor crash or hang at a chosen message, or fill its mailbox,
without editing the actor under test."""

from __future__ import annotations

from typing import Any

import trio

from .._errors import MailboxFull
from .._handlers import Handler, SystemMessage
from .._ref import ActorRef

__all__ = ["InjectedFault", "crash", "fill_mailbox", "hang"]


class InjectedFault(Exception):
    """The exception :func:`crash` raises by default."""


class _FaultyTable:
    """Stands in for an instance's dispatch table until the n-th matching message, which it
    answers with the fault (once); then it puts the real table back."""

    def __init__(self, instance: Any, fault: Handler, on: type | None, nth: int) -> None:
        self.instance = instance
        self.original = instance.__dict__.get("_ak_dispatch")
        self.table = instance._ak_dispatch
        self.fault = fault
        self.on = on
        self.remaining = nth

    def get(self, message_type: type, default: Any = None) -> Any:
        if not issubclass(message_type, SystemMessage) and (
            self.on is None or issubclass(message_type, self.on)
        ):
            self.remaining -= 1
            if self.remaining == 0:
                self._restore()
                return self.fault
        return self.table.get(message_type, default)

    def _restore(self) -> None:
        if self.original is None:
            delattr(self.instance, "_ak_dispatch")
        else:
            setattr(self.instance, "_ak_dispatch", self.original)  # noqa: B010


def _install(ref: ActorRef, fault: Handler, on: type | None, nth: int) -> None:
    if nth < 1:
        raise ValueError(f"nth counts from 1, not {nth}")
    instance = ref._cell.instance
    if instance is None:
        raise RuntimeError(f"{ref.name} is not running (stopped, or between two instances)")
    # An instance attribute shadows the class's table for this instance only.
    setattr(instance, "_ak_dispatch", _FaultyTable(instance, fault, on, nth))  # noqa: B010


def crash(
    ref: ActorRef,
    exc: BaseException | None = None,
    *,
    on: type | None = None,
    nth: int = 1,
) -> None:
    """Make the actor raise ``exc`` (an :class:`InjectedFault` by default) instead of
    handling its ``nth`` next message (of type ``on``, if given): a crash its supervisor sees.

    The fault applies to the running instance, once. (A state machine's transition before
    the chosen message cancels it.)
    """
    error = exc if exc is not None else InjectedFault(f"injected into {ref.name}")

    async def fault(actor: Any, message: Any) -> Any:
        raise error

    _install(ref, fault, on, nth)


def hang(ref: ActorRef, *, on: type | None = None, nth: int = 1) -> None:
    """Make the actor's handler of its ``nth`` next message (of type ``on``) never return,
    as a stuck call would: what is queued behind it waits, and a stop must cancel it."""

    async def fault(actor: Any, message: Any) -> Any:
        await trio.sleep_forever()

    _install(ref, fault, on, nth)


def fill_mailbox(ref: ActorRef, message: Any) -> int:
    """Send ``message`` to the actor until its mailbox is full; return how many were sent.

    Nothing yields meanwhile, so the actor cannot drain any of them before the caller's next
    checkpoint. For a mailbox that drops instead of refusing, it sends ``capacity`` messages.
    """
    cell = ref._cell
    sent = 0
    for _ in range(cell.mailbox.capacity - len(cell.mailbox)):
        try:
            ref.send_nowait(message)
        except MailboxFull:
            break
        sent += 1
    return sent
