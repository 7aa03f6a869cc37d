"""Message rules and the runtime's own messages.

Messages must be immutable so that an actor's state can never be changed from outside it.
The check runs once per type (the verdict is cached), so it costs one set look-up per send.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "EVENTS",
    "DeadLetter",
    "RuntimeEvent",
    "Terminated",
    "check_immutable",
    "register_immutable",
]

#: The topic on which a runtime publishes its events (crashes, restarts, dead letters, state
#: changes, supervised children's circuits, peers) as :class:`RuntimeEvent` messages:
#: ``rt.subscribe(ak.EVENTS, ref)``. ``runtime_gave_up`` and the events of RetryPolicy and
#: CircuitBreaker are only logged.
EVENTS = "actorkit.events"

#: Types whose instances are immutable whatever they contain. Grows as types are checked.
_IMMUTABLE_TYPES: set[type] = {
    int,
    float,
    complex,
    str,
    bytes,
    bool,
    type(None),
    decimal.Decimal,
    fractions.Fraction,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    range,
}
#: Containers that are immutable only if what they hold is: checked on every send.
_IMMUTABLE_CONTAINERS = (tuple, frozenset)


def register_immutable(cls: type) -> type:
    """Vouch that instances of ``cls`` are immutable, so they may be sent as messages.

    Usable as a class decorator. Use it for types actorkit cannot inspect (a C extension type,
    a class guarding its attributes by hand).
    """
    _IMMUTABLE_TYPES.add(cls)
    return cls


def _is_frozen_class(cls: type) -> bool:
    if attrs.has(cls):
        # attrs installs this function as __setattr__ on frozen classes (and only on them).
        return getattr(cls.__setattr__, "__name__", "") == "_frozen_setattrs"
    if dataclasses.is_dataclass(cls):
        return bool(cls.__dataclass_params__.frozen)  # type: ignore[attr-defined]
    return issubclass(cls, enum.Enum | pathlib.PurePath)


def check_immutable(msg: Any) -> None:
    """Raise ``TypeError`` unless ``msg`` may be sent as a message."""
    cls = type(msg)
    if cls in _IMMUTABLE_TYPES:
        return
    if isinstance(msg, _IMMUTABLE_CONTAINERS):
        for item in msg:
            check_immutable(item)
        return
    if _is_frozen_class(cls):
        _IMMUTABLE_TYPES.add(cls)
        return
    raise TypeError(
        f"messages must be immutable, and {cls.__qualname__} is not: declare it with "
        "@attrs.frozen or @dataclasses.dataclass(frozen=True), send a tuple or frozenset "
        "instead of a list or set, or vouch for the type with ak.register_immutable"
    )


@attrs.frozen
class Terminated:
    """Delivered to every watcher when a watched actor ends.

    ``reason`` is ``None`` for a normal stop, else the exception that ended the actor.
    """

    ref: ActorRef
    reason: BaseException | None = attrs.field(eq=False)


@attrs.frozen
class DeadLetter:
    """A message that reached no handler: what it was, who it was for, and why."""

    message: Any
    recipient: str
    reason: str


@attrs.frozen
class RuntimeEvent:
    """One of the runtime's structured events, as a message for subscribers of ``ak.EVENTS``.

    ``event`` is the event's name (``actor_crashed``, ``dead_letter``, ``state_changed``, …)
    and ``fields`` its key/value context, as logged (tracebacks left out).
    """

    event: str
    fields: Mapping[str, Any] = attrs.field(eq=False)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self.fields.get(key, default)
