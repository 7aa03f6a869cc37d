"""The Actor base class and the ``@on`` decorator: handlers declared per message type.

Each class gets its dispatch table built once, when the class is created; the first message of
each concrete type resolves (most specific registered class first, along the type's MRO) and
the answer is cached, so dispatch on the hot path is one dict look-up.
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._handlers import Batch, FlushBatch, Handler, HandlerSpec, wrap_handler
from ._ref import ActorRef

if TYPE_CHECKING:
    from ._cell import Context

__all__ = ["Actor", "Handler", "on"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_HANDLER_MARK = "__actorkit_handles__"


def on(
    message_type: type,
    *,
    state: enum.Enum | None = None,
    timeout: float | None = None,
    batch: Batch | None = None,
) -> Callable[[F], F]:
    """Declare the decorated ``async def`` method the handler of ``message_type``.

    The handler also receives instances of subclasses of ``message_type``, unless a handler for
    a more specific class exists. Its return value is the reply to ``ask``. Stack several
    ``@on`` to handle several types with one method.

    Args:
        message_type: the class of messages handled.
        state: (state machines only) handle the message only in this state.
        timeout: cancel the handler after this many seconds and treat it as a crash
            (:class:`HandlerTimeout`).
        batch: receive a tuple of messages at a time (see :class:`Batch`).
    """
    if not isinstance(message_type, type):
        raise TypeError(
            f"@ak.on takes a message class, not {message_type!r}; write @ak.on(MyMessage)"
        )
    if timeout is not None and not timeout > 0:
        raise ValueError(f"@ak.on(timeout=...) must be > 0 seconds, not {timeout!r}")
    if batch is not None and not isinstance(batch, Batch):
        raise TypeError(f"@ak.on(batch=...) takes an ak.Batch, not {batch!r}")
    spec = HandlerSpec(message_type, state, timeout, batch)

    def mark(fn: F) -> F:
        is_async = inspect.iscoroutinefunction(fn)  # (kept apart: it would narrow fn's type)
        if not is_async:
            raise TypeError(
                f"the handler {getattr(fn, '__qualname__', fn)!r} for "
                f"{message_type.__qualname__} must be an 'async def' method"
            )
        specs: list[HandlerSpec] = fn.__dict__.setdefault(_HANDLER_MARK, [])
        specs.append(spec)
        return fn

    return mark


def control_handler(fn: F) -> F:
    """Mark a handler of a runtime control message (a SystemMessage): such a message is not
    anyone's, so it is taken out of the mailbox count and not counted as processed; what
    the handler delivers or handles on the control message's behalf, it counts itself."""

    @functools.wraps(fn)
    async def handle(actor: Any, message: Any) -> Any:
        cell = actor.ctx._cell
        cell.control_items -= 1
        result = await fn(actor, message)
        cell.processed -= 1  # the loop counts every handler that returns
        return result

    return handle  # type: ignore[return-value]


def declared_handlers(cls: type) -> list[tuple[HandlerSpec, Handler]]:
    """Every ``@on`` declaration of ``cls`` and its bases, most general class first, each with
    the function to dispatch to (an override by method name wins)."""
    return [
        (spec, wrap_handler(getattr(cls, attr_name), spec))
        for klass in reversed(cls.__mro__)
        for attr_name, value in vars(klass).items()
        for spec in getattr(value, _HANDLER_MARK, ())
    ]


class Actor:
    """Base class of every actor. Subclass it and declare handlers with :func:`on`.

    The runtime constructs the instance (``__init__`` may take any arguments, passed through
    ``spawn``), sets ``self.ctx`` before ``__init__`` runs, then calls :meth:`on_start`, feeds it
    one message at a time, and calls :meth:`on_stop` when it ends.
    """

    #: The actor's view of the runtime: its own ref, spawn, watch, stop.
    ctx: Context

    # The class of this actor's refs (supervisors' refs have start_child and stop_child).
    _ak_ref_class: ClassVar[type[ActorRef]] = ActorRef
    # Registered message type -> handler function; built by __init_subclass__.
    _ak_handlers: ClassVar[dict[type, Handler]] = {}
    # Concrete message type -> handler (or None: unhandled); filled on first use.
    _ak_dispatch: ClassVar[dict[type, Handler | None]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._ak_build_dispatch(declared_handlers(cls))

    @classmethod
    def _ak_build_dispatch(cls, declared: list[tuple[HandlerSpec, Handler]]) -> None:
        handlers: dict[type, Handler] = {}
        for spec, handler in declared:
            if spec.state is not None:
                raise TypeError(
                    f"{cls.__qualname__}: @ak.on(..., state=...) needs a subclass of "
                    "ak.StateMachine, which declares its states"
                )
            handlers[spec.message_type] = handler
        cls._ak_handlers = handlers
        cls._ak_dispatch = {}

    @classmethod
    def handled_types(cls) -> tuple[type, ...]:
        """The message types this actor declares handlers for."""
        return tuple(t for t in cls._ak_handlers if not issubclass(t, FlushBatch))

    def _ak_resolve(self, message_type: type) -> Handler | None:
        """The handler for ``message_type`` now (a state machine's depends on its state)."""
        return type(self).resolve_handler(message_type)

    def _ak_boot(self) -> Awaitable[None]:
        """Everything before the first message (state machines enter their initial state)."""
        return self.on_start()

    @on(FlushBatch)
    @control_handler
    async def _ak_flush_batch(self, msg: FlushBatch) -> None:
        await self.ctx._cell.flush_batch(msg)

    @classmethod
    def resolve_handler(cls, message_type: type) -> Handler | None:
        """The handler for ``message_type``: the most specific registered class wins."""
        try:
            return cls._ak_dispatch[message_type]
        except KeyError:
            pass
        handler = None
        for klass in message_type.__mro__:
            handler = cls._ak_handlers.get(klass)
            if handler is not None:
                break
        cls._ak_dispatch[message_type] = handler
        return handler

    def _ak_kind(self) -> str:
        """What ``rt.tree()`` shows as the actor's class."""
        return type(self).__qualname__

    def _ak_state_label(self) -> str | None:
        """The state shown in ``rt.tree()`` (state machines override it)."""
        return None

    async def on_start(self) -> None:
        """Runs before the first message; ``spawn`` returns after it. Raise to refuse to start."""

    async def on_stop(self, reason: BaseException | None) -> None:
        """Runs when a started instance ends: always (also under cancellation), within the
        actor's shutdown deadline, and before a supervisor replaces the instance.

        ``reason`` is ``None`` for a normal stop, else the exception that ended the instance.
        It does not run if ``__init__`` or ``on_start`` raised.
        """
