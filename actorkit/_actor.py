"""The Actor base class and the ``@on`` decorator: handlers declared per message type.

Each class gets its dispatch table built once, when the class is created; the first message of
each concrete type resolves (most specific registered class first, along the type's MRO) and
the answer is cached, so dispatch on the hot path is one dict look-up.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ._ref import ActorRef

if TYPE_CHECKING:
    from ._cell import Context

__all__ = ["Actor", "Handler", "on"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
#: A handler as stored in a dispatch table: the plain function, called as ``fn(actor, msg)``.
Handler = Callable[[Any, Any], Awaitable[Any]]

_HANDLER_MARK = "__actorkit_handles__"


def on(message_type: type) -> Callable[[F], F]:
    """Declare the decorated ``async def`` method the handler of ``message_type``.

    The handler also receives instances of subclasses of ``message_type``, unless a handler for
    a more specific class exists. Its return value is the reply to ``ask``. Stack several
    ``@on`` to handle several types with one method.
    """
    if not isinstance(message_type, type):
        raise TypeError(
            f"@ak.on takes a message class, not {message_type!r}; write @ak.on(MyMessage)"
        )

    def mark(fn: F) -> F:
        is_async = inspect.iscoroutinefunction(fn)  # (kept apart: it would narrow fn's type)
        if not is_async:
            raise TypeError(
                f"the handler {getattr(fn, '__qualname__', fn)!r} for "
                f"{message_type.__qualname__} must be an 'async def' method"
            )
        handled: list[type] = fn.__dict__.setdefault(_HANDLER_MARK, [])
        handled.append(message_type)
        return fn

    return mark


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
        handlers: dict[type, Handler] = {}
        # Walk the bases from the most general, so a subclass's declarations win.
        for klass in reversed(cls.__mro__):
            for attr_name, value in vars(klass).items():
                for message_type in getattr(value, _HANDLER_MARK, ()):
                    # getattr on cls picks up an override of the method by name.
                    handlers[message_type] = getattr(cls, attr_name)
        cls._ak_handlers = handlers
        cls._ak_dispatch = {}

    @classmethod
    def handled_types(cls) -> tuple[type, ...]:
        """The message types this actor declares handlers for."""
        return tuple(cls._ak_handlers)

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
        """Runs when the actor ends, always (also under cancellation), within a deadline.

        ``reason`` is ``None`` for a normal stop, else the exception that ended the actor.
        """
