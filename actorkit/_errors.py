"""Every exception actorkit raises: one hierarchy under :class:`ActorkitError`.

Each message says what happened and, where there is one, what to do about it.
"""

from __future__ import annotations

from typing import Any

import trio

__all__ = [
    "ActorCrashed",
    "ActorNotFound",
    "ActorStopped",
    "ActorkitError",
    "AskTimeout",
    "BatchResultMismatch",
    "CircuitOpen",
    "HandlerTimeout",
    "InvalidTransition",
    "MailboxFull",
    "NameTaken",
    "RuntimeClosed",
    "StartFailed",
    "SupervisorGaveUp",
    "TooManyChildren",
    "UnhandledMessage",
]


class ActorkitError(Exception):
    """The base of every error actorkit raises."""


class AskTimeout(ActorkitError, trio.TooSlowError):
    """``ask`` got no reply within its timeout.

    It is also a :class:`trio.TooSlowError`, so code written for ``trio.fail_after`` catches it.
    """


class ActorCrashed(ActorkitError):
    """The handler that was answering an ``ask`` raised.

    The handler's exception is chained as ``__cause__``; ``exc_type`` and ``exc_message`` carry
    its type name and text (the only parts that cross a peer link).
    """

    def __init__(self, actor: str, exc_type: str, exc_message: str) -> None:
        super().__init__(f"{actor} crashed handling the message: {exc_type}: {exc_message}")
        self.actor = actor
        self.exc_type = exc_type
        self.exc_message = exc_message


class UnhandledMessage(ActorkitError):
    """The actor has no handler for the message's type."""

    def __init__(self, actor: str, message: Any) -> None:
        super().__init__(
            f"{actor} has no handler for {type(message).__qualname__}; "
            f"declare one with @ak.on({type(message).__qualname__})"
        )
        self.actor = actor
        self.message = message


class ActorStopped(ActorkitError):
    """The actor stopped before it could answer."""

    def __init__(self, actor: str) -> None:
        super().__init__(f"{actor} has stopped; its messages go to dead letters")
        self.actor = actor


class ActorNotFound(ActorkitError, LookupError):
    """No live actor is registered under that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no actor is registered as {name!r}; spawn it with name={name!r} first")
        self.name = name


class NameTaken(ActorkitError):
    """Another live actor already has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"the name {name!r} is taken by a live actor; stop it first or choose another name"
        )
        self.name = name


class MailboxFull(ActorkitError):
    """``send_nowait`` (or the FAIL overflow policy) met a full mailbox."""

    def __init__(self, actor: str, capacity: int) -> None:
        super().__init__(
            f"the mailbox of {actor} is full ({capacity} messages); await send() to wait for "
            "room, or give the actor a larger ak.Mailbox(capacity=...)"
        )
        self.actor = actor
        self.capacity = capacity


class StartFailed(ActorkitError):
    """The actor's constructor or ``on_start`` raised; the cause is chained."""

    def __init__(self, actor: str, cause: BaseException) -> None:
        super().__init__(f"{actor} failed to start: {type(cause).__name__}: {cause}")
        self.actor = actor


class RuntimeClosed(ActorkitError):
    """The runtime is shutting down (or has shut down) and spawns nothing new."""


class CircuitOpen(ActorkitError):
    """A circuit is open: the call or message is refused until ``retry_at`` (Trio's clock).

    ``retry_in`` is how many seconds that was from the moment of refusal.
    """

    def __init__(self, name: str, retry_at: float, retry_in: float) -> None:
        super().__init__(
            f"the circuit of {name} is open; it will be retried in {retry_in:.3g} s "
            f"(at t={retry_at:.6g} on Trio's clock)"
        )
        self.name = name
        self.retry_at = retry_at
        self.retry_in = retry_in


class SupervisorGaveUp(ActorkitError):
    """A supervisor failed: restart intensity was exceeded, or a failure was escalated to it.

    ``__cause__`` is the original failure (the child's exception), however deep in the tree it
    started; ``supervisor`` names the supervisor that gave up first and ``path`` the child.
    """

    def __init__(self, supervisor: str, why: str, path: str, cause: BaseException) -> None:
        super().__init__(
            f"supervisor {supervisor!r} gave up: {why}; the failure was "
            f"{type(cause).__name__}: {cause} in {path}"
        )
        self.supervisor = supervisor
        self.why = why
        self.path = path


class TooManyChildren(ActorkitError):
    """``start_child`` would take a supervisor past its ``max_children``."""

    def __init__(self, supervisor: str, limit: int) -> None:
        super().__init__(
            f"supervisor {supervisor!r} already has its max_children={limit}; stop one first "
            "or raise the limit"
        )
        self.supervisor = supervisor
        self.limit = limit


class HandlerTimeout(ActorkitError):
    """A handler declared with ``@ak.on(..., timeout=...)`` ran too long and was cancelled.

    It is treated as a crash of the actor, so its supervisor decides.
    """

    def __init__(self, handler: str, timeout: float) -> None:
        super().__init__(f"the handler {handler} ran longer than its timeout of {timeout} s")
        self.handler = handler
        self.timeout = timeout


class BatchResultMismatch(ActorkitError):
    """A batch handler returned a number of results other than the number of messages."""

    def __init__(self, handler: str, expected: int, got: int) -> None:
        super().__init__(
            f"the batch handler {handler} got {expected} messages and returned {got} results; "
            "return one result per message, in order"
        )
        self.handler = handler


class InvalidTransition(ActorkitError):
    """A state machine tried a move its ``transitions`` table does not allow."""

    def __init__(self, machine: str, source: object, target: object, why: str = "") -> None:
        detail = why or "add it to the class's transitions table if it is meant to be allowed"
        super().__init__(f"{machine} cannot go from {source} to {target}: {detail}")
        self.machine = machine
        self.source = source
        self.target = target
