"""What ``@ak.on`` can declare beyond the message type: a state, a timeout, batching.

Handlers with a timeout or a batch are wrapped once, when their class is created, so plain
handlers pay nothing. A handler that does not answer its message now (a batch still filling, a
state machine's postponed message) raises :class:`Deferred`: the cell then keeps the message
(ask and all) aside, which costs nothing on the path of ordinary messages.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from ._errors import HandlerTimeout

__all__ = ["Batch", "Deferred", "FlushBatch", "HandlerSpec", "SystemMessage", "wrap_handler"]

#: A handler as stored in a dispatch table: the plain function, called as ``fn(actor, msg)``.
Handler = Callable[[Any, Any], Awaitable[Any]]


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"Batch({attribute.name}=...) must be > 0, not {value!r}")


@attrs.frozen
class Batch:
    """Deliver messages to the handler as a tuple: once ``max_size`` are queued, or once
    ``max_wait`` seconds have passed since the first of them.

    The handler returns one result per message, in order (a list or tuple); each ask in the
    batch gets its own. Other messages are handled meanwhile.
    """

    max_size: int = attrs.field(default=100, validator=_positive)
    max_wait: float = attrs.field(default=1.0, validator=_positive)


@attrs.frozen
class HandlerSpec:
    """One ``@ak.on(...)`` declaration."""

    message_type: type
    state: enum.Enum | None = None
    timeout: float | None = None
    batch: Batch | None = None


class SystemMessage:
    """Base of the runtime's own control messages (never counted as a user's message)."""

    __slots__ = ()


class FlushBatch(SystemMessage):
    """Tells a cell to hand a batch to its handler now."""

    __slots__ = ("generation", "handler")

    def __init__(self, handler: Handler, generation: int) -> None:
        self.handler = handler
        self.generation = generation


class Deferred(Exception):
    """Raised by a handler wrapper: keep this message aside instead of answering it now."""

    def __init__(self, batch_handler: Handler | None = None, batch: Batch | None = None) -> None:
        super().__init__()
        self.batch_handler = batch_handler
        self.batch = batch


def wrap_handler(fn: Handler, spec: HandlerSpec) -> Handler:
    """The function to put in the dispatch table for ``fn`` declared by ``spec``."""
    name = getattr(fn, "__qualname__", repr(fn))
    if spec.timeout is not None:
        fn = _with_timeout(fn, spec.timeout, name)
    if spec.batch is not None:
        return _collector(fn, spec.batch)
    return fn


def _with_timeout(fn: Handler, timeout: float, name: str) -> Handler:
    async def timed(actor: Any, message: Any) -> Any:
        with trio.move_on_after(timeout):
            return await fn(actor, message)
        raise HandlerTimeout(name, timeout)

    timed.__qualname__ = name
    timed.__wrapped__ = fn  # type: ignore[attr-defined]
    return timed


def _collector(fn: Handler, batch: Batch) -> Handler:
    async def collect(actor: Any, message: Any) -> Any:
        raise Deferred(fn, batch)

    collect.__qualname__ = getattr(fn, "__qualname__", "batch")
    collect.__wrapped__ = fn  # type: ignore[attr-defined]
    return collect
