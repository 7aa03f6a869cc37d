"""Supervision as data: restart strategies, directives, restart types, and the tree's specs.

Everything here is an immutable description; ``_supervisor.py`` is what runs it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ._actor import Actor
from ._backoff import Backoff
from ._mailbox import Mailbox

__all__ = [
    "Child",
    "CircuitBreak",
    "Directive",
    "Escalate",
    "OneForAll",
    "OneForOne",
    "RestForOne",
    "Restart",
    "Strategy",
    "Supervisor",
]


class Directive(enum.Enum):
    """What a supervisor does with a child that raised, chosen per exception type."""

    #: Keep the instance and its state; drop the message that failed (it becomes a dead letter).
    RESUME = "resume"
    #: Replace the instance with a new one (same ref, name and mailbox).
    RESTART = "restart"
    #: Stop the child for good.
    STOP = "stop"
    #: Fail the supervisor itself with this cause; its parent decides.
    ESCALATE = "escalate"


class Restart(enum.Enum):
    """When a child is restarted (OTP's restart types)."""

    #: Always: after a crash and after a normal stop.
    PERMANENT = "permanent"
    #: Only after a crash, not after a normal stop.
    TRANSIENT = "transient"
    #: Never.
    TEMPORARY = "temporary"


def _check_decide(
    _instance: object, _attribute: object, value: Mapping[type[BaseException], Directive]
) -> None:
    for exc_type, directive in value.items():
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(
                f"decide= maps exception classes to directives; {exc_type!r} is not one"
            )
        if not isinstance(directive, Directive):
            raise TypeError(
                f"decide[{exc_type.__name__}] must be an ak.Directive, not {directive!r}"
            )


@attrs.frozen(kw_only=True)
class Strategy:
    """What every strategy shares: restart intensity, backoff, and directives per exception.

    Args:
        max_restarts: restarts allowed within ``within`` seconds (default 3 in 5 s); one more
            and the supervisor stops its children and fails, so its parent decides.
        within: the window of the restart intensity, in seconds.
        backoff: wait before each restart, growing with consecutive crashes (None: restart at once).
        decide: a directive per exception type (the most specific class wins); anything not
            listed is restarted.
    """

    max_restarts: int | None = attrs.field(default=3)
    within: float = attrs.field(default=5.0)
    backoff: Backoff | None = attrs.field(default=None)
    decide: Mapping[type[BaseException], Directive] = attrs.field(
        factory=dict, validator=_check_decide, eq=attrs.cmp_using(eq=lambda a, b: a == b)
    )

    def __attrs_post_init__(self) -> None:
        if self.max_restarts is not None and self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0 (or None), not {self.max_restarts}")
        if self.within <= 0:
            raise ValueError(f"within must be > 0 seconds, not {self.within}")

    def directive_for(self, exc: BaseException) -> Directive:
        """The directive for ``exc``: the entry for the nearest class in its MRO, else RESTART."""
        if self.decide:
            for klass in type(exc).__mro__:
                directive = self.decide.get(klass)
                if directive is not None:
                    return directive
        return Directive.RESTART


@attrs.frozen(kw_only=True)
class OneForOne(Strategy):
    """Restart only the child that failed (OTP's one_for_one)."""


@attrs.frozen(kw_only=True)
class OneForAll(Strategy):
    """Restart every child when one fails: stop all in reverse order, start all in order."""


@attrs.frozen(kw_only=True)
class RestForOne(Strategy):
    """Restart the failed child and every child started after it, in order."""


@attrs.frozen(kw_only=True)
class Escalate(Strategy):
    """Any child failure fails this supervisor at once, passing the cause up."""


@attrs.frozen(kw_only=True)
class CircuitBreak(Strategy):
    """A circuit per child: after ``failures`` crashes within ``within`` s it opens.

    While open the child is not running: sends to it are dead letters and asks fail fast with
    :class:`CircuitOpen`. After ``reset_after`` s it goes half-open: the child starts again and
    its first message decides. Success closes the circuit; a crash reopens it for the reset time
    times ``factor``, up to ``max_reset`` (default ten times ``reset_after``). The circuit is
    what limits restarts here, so ``max_restarts`` defaults to ``None`` (no intensity limit).
    """

    failures: int = attrs.field(default=5)
    max_restarts: int | None = attrs.field(default=None)
    within: float = attrs.field(default=10.0)
    reset_after: float = attrs.field(default=30.0)
    factor: float = attrs.field(default=2.0)
    max_reset: float | None = attrs.field(default=None)


def _as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _check_actor_class(_instance: object, _attribute: object, value: type) -> None:
    if not (isinstance(value, type) and issubclass(value, Actor)):
        raise TypeError(f"ak.Child takes a subclass of ak.Actor, not {value!r}")


def _check_shutdown(_instance: object, _attribute: object, value: float | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"shutdown must be >= 0 seconds or None, not {value}")


@attrs.frozen
class Child:
    """A child of a supervisor: what to run, under which name, and when to restart it.

    Args:
        actor: the actor class.
        args: positional arguments for its ``__init__`` (a tuple).
        kwargs: keyword arguments for its ``__init__``.
        name: its registered name (it keeps it across restarts).
        restart: when to restart it (``Restart.PERMANENT`` by default).
        shutdown: seconds to wait for it to stop (current message and ``on_stop``) before
            cancelling it; ``None`` waits for ever.
        mailbox: its mailbox configuration.
    """

    actor: type[Actor] = attrs.field(validator=_check_actor_class)
    args: tuple[Any, ...] = attrs.field(default=(), converter=_as_tuple)
    kwargs: Mapping[str, Any] = attrs.field(factory=dict, eq=False)
    name: str | None = None
    restart: Restart = attrs.field(
        default=Restart.PERMANENT, validator=attrs.validators.instance_of(Restart)
    )
    shutdown: float | None = attrs.field(default=5.0, validator=_check_shutdown)
    mailbox: Mailbox | None = None


@attrs.frozen
class Supervisor:
    """A supervisor in a tree: its name, its strategy and its children, in start order.

    A supervisor is itself a child of its parent (its ``restart`` and ``shutdown`` apply there;
    ``shutdown`` defaults to ``None``: it waits for its children's own deadlines).
    ``max_children`` caps how many children it may have at once (those in ``children``
    included) when more are started with ``start_child``.
    """

    name: str
    strategy: Strategy = attrs.field(
        factory=OneForOne, validator=attrs.validators.instance_of(Strategy)
    )
    children: Sequence[Child | Supervisor] = attrs.field(default=(), converter=_as_tuple)
    restart: Restart = attrs.field(
        default=Restart.PERMANENT, validator=attrs.validators.instance_of(Restart)
    )
    shutdown: float | None = attrs.field(default=None, validator=_check_shutdown)
    max_children: int | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"a supervisor needs a non-empty str name, not {self.name!r}")
        for child in self.children:
            if not isinstance(child, Child | Supervisor):
                raise TypeError(
                    f"supervisor {self.name!r}: children are ak.Child or ak.Supervisor, not "
                    f"{child!r}; wrap an actor class as ak.Child(MyActor, name=...)"
                )
        names = [child.name for child in self.children if child.name is not None]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"supervisor {self.name!r} has children with the same name: {duplicates}"
            )
