"""Hypothesis strategies for messages, derived from their types.

``messages(Deposit)`` draws ``Deposit`` instances with each field drawn from its annotated
type; ``one_of_messages(Account)`` draws any message an ``Account`` declares a handler for.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

import attrs
from hypothesis import strategies as st

from .._handlers import SystemMessage
from .._messages import DeadLetter, RuntimeEvent, Terminated
from .._ref import ActorRef
from .._statemachine import EventTimeout, StateTimeout

__all__ = ["messages", "one_of_messages"]

#: Messages the runtime sends by itself: not something a test should generate.
_RUNTIME_MESSAGES = (Terminated, StateTimeout, EventTimeout, DeadLetter, RuntimeEvent)


def _fields(message_type: type) -> list[tuple[str, Any, bool]]:
    """(name, annotated type, has a default) for each constructor field."""
    if attrs.has(message_type):
        hints = typing.get_type_hints(message_type)
        return [
            (f.alias or f.name, hints.get(f.name, Any), f.default is not attrs.NOTHING)
            for f in attrs.fields(message_type)
            if f.init
        ]
    if dataclasses.is_dataclass(message_type):
        hints = typing.get_type_hints(message_type)
        return [
            (
                f.name,
                hints.get(f.name, Any),
                f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING,
            )
            for f in dataclasses.fields(message_type)
            if f.init
        ]
    raise TypeError(
        f"messages() derives strategies from attrs classes and dataclasses; for "
        f"{message_type.__qualname__} use hypothesis.strategies.from_type or builds"
    )


def _holds_ref(hint: Any) -> bool:
    """Whether ``hint`` is an ActorRef type or has one in it (``ActorRef | None``,
    ``tuple[ActorRef, ...]``, a ``SupervisorRef``)."""
    if isinstance(hint, type) and not typing.get_args(hint) and issubclass(hint, ActorRef):
        return True
    return any(_holds_ref(arg) for arg in typing.get_args(hint))


def messages(message_type: type, **overrides: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A strategy for ``message_type`` (an attrs class or dataclass): each field is drawn from
    its annotated type, unless a strategy for it is given by name.

    Fields with defaults are drawn too, so the whole space is explored. A field holding an
    ``ActorRef`` cannot be drawn: pass it, e.g. ``reply_to=st.just(probe.ref)``.

    Example: ``messages(Deposit, amount=st.integers(1, 1000))``.
    """
    if not isinstance(message_type, type):
        raise TypeError(f"messages() takes a message class, not {message_type!r}")
    fields = _fields(message_type)
    unknown = set(overrides) - {name for name, _, _ in fields}
    if unknown:
        raise TypeError(
            f"{message_type.__qualname__} has no field(s) named {sorted(unknown)}; "
            f"its fields are {[name for name, _, _ in fields]}"
        )
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for name, hint, _ in fields:
        if name in overrides:
            kwargs[name] = overrides[name]
        elif _holds_ref(hint):
            shown = hint.__qualname__ if isinstance(hint, type) else hint
            raise TypeError(
                f"{message_type.__qualname__}.{name} holds an ActorRef ({shown}), which cannot "
                f"be generated: pass a strategy for it by name, such as {name}=st.just(probe.ref)"
            )
        else:
            kwargs[name] = st.from_type(hint)
    return st.builds(message_type, **kwargs)


def one_of_messages(
    actor_class: type,
    overrides: Mapping[type, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Any]:
    """Any message ``actor_class`` declares a handler for (runtime messages such as
    ``Terminated`` left out), each type drawn by :func:`messages` unless ``overrides`` gives
    its strategy."""
    overrides = dict(overrides or {})
    choices = []
    for message_type in actor_class.handled_types():  # type: ignore[attr-defined]
        if message_type is object or issubclass(message_type, (SystemMessage, *_RUNTIME_MESSAGES)):
            continue
        if message_type in overrides:
            choices.append(overrides.pop(message_type))
        elif attrs.has(message_type) or dataclasses.is_dataclass(message_type):
            choices.append(messages(typing.cast(type, message_type)))
        else:
            choices.append(st.from_type(message_type))
    if overrides:
        raise TypeError(
            f"{actor_class.__qualname__} has no handler for {[t.__qualname__ for t in overrides]}"
        )
    if not choices:
        raise TypeError(f"{actor_class.__qualname__} handles no message types to draw from")
    return st.one_of(choices)
