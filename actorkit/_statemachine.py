"""Explicit state machines: states and transitions declared as data, checked, logged and timed.

Erlang's gen_statem is the reference: enter hooks (which cannot change state), state timeouts
(cancelled by a state change), event timeouts (cancelled by the next handled message), named
timers (which survive state changes) and postpone (retried, in order, after the next state
change). On top
of it: the transition table is data, checked when the class is created, and drawn by
:meth:`StateMachine.diagram`.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs
import trio

from ._actor import Actor, control_handler, on
from ._errors import InvalidTransition
from ._handlers import Deferred, Handler, HandlerSpec, SystemMessage
from ._logging import short_repr

__all__ = ["EventTimeout", "StateMachine", "StateTimeout", "UnreachableStateWarning"]


class UnreachableStateWarning(UserWarning):
    """A state machine declares a state that no chain of transitions from ``initial`` reaches."""


@attrs.frozen
class StateTimeout:
    """Delivered when a machine has stayed in ``state`` for its state timeout."""

    state: enum.Enum


@attrs.frozen
class EventTimeout:
    """Delivered when no message arrived within the event timeout the machine set."""


class _TimerFired(SystemMessage):
    """A state machine's timer went off: deliver ``message`` if the timer is still current."""

    __slots__ = ("message", "token")

    def __init__(self, token: _Timer, message: Any) -> None:
        self.token = token  # the instance's own _Timer: a restarted instance has none of them
        self.message = message


class StateMachine(Actor):
    """An actor with explicit states. Declare, on the class:

    - ``states``: an :class:`enum.Enum` of the states;
    - ``initial``: the state it starts in;
    - ``transitions``: for each state, the states it may move to;
    - optionally ``state_timeouts``: seconds a state may last before :class:`StateTimeout`.

    Handlers take ``state=`` to apply in one state only (``@ak.on(Msg, state=S.IDLE)``); one
    without it applies in every state. A message with no handler in the current state is a
    dead letter (``send``) or :class:`UnhandledMessage` (``ask``), unless it is postponed.

    Example::

        class Job(ak.StateMachine):
            states = S
            initial = S.IDLE
            transitions = {S.IDLE: {S.RUNNING}, S.RUNNING: {S.DONE, S.IDLE}}

            @ak.on(Start, state=S.IDLE)
            async def start(self, msg: Start) -> None:
                await self.transition(S.RUNNING, timeout=30.0)
    """

    states: ClassVar[type[enum.Enum]]
    initial: ClassVar[enum.Enum]
    transitions: ClassVar[Mapping[Any, Iterable[Any]]] = {}
    state_timeouts: ClassVar[Mapping[Any, float]] = {}

    # Built when the class is created: allowed moves, and handlers per state (None: any state).
    _ak_allowed: ClassVar[dict[Any, frozenset[Any]]] = {}
    _ak_state_handlers: ClassVar[dict[Any, dict[type, Handler]]] = {}
    _ak_state_dispatch: ClassVar[dict[Any, dict[type, Handler | None]]] = {}

    # Per instance (class-level defaults, so a user __init__ need not call super()).
    _ak_state: Any = None
    _ak_current: Any = None
    _ak_postpone_now = False
    _ak_in_enter = False
    _ak_state_timer: Any = None
    _ak_event_timer: Any = None
    _ak_timers: dict[str, Any] | None = None

    @classmethod
    def _ak_build_dispatch(cls, declared: list[tuple[HandlerSpec, Handler]]) -> None:
        states = cls.__dict__.get("states") or getattr(cls, "states", None)
        if states is None:
            # An abstract base: its subclasses declare the states.
            cls._ak_handlers, cls._ak_dispatch = {}, {}
            cls._ak_state_handlers, cls._ak_state_dispatch = {}, {}
            return
        _check_declaration(cls, states)
        by_state: dict[Any, dict[type, Handler]] = {None: {}}
        for spec, handler in declared:
            if spec.state is not None and not isinstance(spec.state, states):
                raise TypeError(
                    f"{cls.__qualname__}: @ak.on({spec.message_type.__qualname__}, "
                    f"state={spec.state!r}) names a state that is not in {states.__qualname__}"
                )
            wrapped = handler if issubclass(spec.message_type, SystemMessage) else _wrap(handler)
            by_state.setdefault(spec.state, {})[spec.message_type] = wrapped
        cls._ak_state_handlers = by_state
        cls._ak_state_dispatch = {state: {} for state in states}
        cls._ak_handlers = by_state[None]
        cls._ak_dispatch = {}
        cls._ak_allowed = {state: frozenset(cls.transitions.get(state, ())) for state in states}

    @classmethod
    def handled_types(cls) -> tuple[type, ...]:
        """The message types this machine handles in some state."""
        seen: dict[type, None] = {}
        for handlers in cls._ak_state_handlers.values():
            seen.update(dict.fromkeys(t for t in handlers if not issubclass(t, SystemMessage)))
        return tuple(seen)

    @classmethod
    def resolve_in_state(cls, message_type: type, state: Any) -> Handler | None:
        """The handler for ``message_type`` in ``state``: the most specific message class wins,
        and for the same class a handler for this state wins over one for every state."""
        table = cls._ak_state_dispatch[state]
        try:
            return table[message_type]
        except KeyError:
            pass
        in_state = cls._ak_state_handlers.get(state, {})
        anywhere = cls._ak_state_handlers[None]
        handler = None
        for klass in message_type.__mro__:
            handler = in_state.get(klass) or anywhere.get(klass)
            if handler is not None:
                break
        table[message_type] = handler
        return handler

    def _ak_resolve(self, message_type: type) -> Handler | None:
        return type(self).resolve_in_state(message_type, self._ak_state)

    def _ak_state_label(self) -> str | None:
        return None if self._ak_state is None else self._ak_state.name

    @property
    def state(self) -> Any:
        """The current state."""
        return self.initial if self._ak_state is None else self._ak_state

    async def _ak_boot(self) -> None:
        cls = type(self)
        self._ak_state = cls.initial
        self._ak_dispatch = cls._ak_state_dispatch[cls.initial]  # type: ignore[misc]
        await self._enter(cls.initial, None)
        await self.on_start()

    # -- hooks --------------------------------------------------------------------------------

    async def on_enter(self, state: Any) -> None:
        """Runs on entering ``state`` (the initial one included). It cannot transition."""

    async def on_exit(self, state: Any) -> None:
        """Runs on leaving ``state``."""

    # -- moving -------------------------------------------------------------------------------

    async def transition(self, target: Any, *, timeout: float | None = None) -> None:
        """Move to ``target``: ``on_exit``, one ``state_changed`` event, ``on_enter``.

        ``timeout`` (else the class's ``state_timeouts``) starts a state timeout: unless the
        state changes first, :class:`StateTimeout` arrives after that many seconds. Postponed
        messages are retried, in order, when the state changes.

        Raises:
            InvalidTransition: the move is not in ``transitions``, or an ``on_enter`` hook
                tried to move (the actor crashes, so its supervisor decides).
        """
        source = self._ak_state
        name = self.ctx.name
        if self._ak_in_enter:
            raise InvalidTransition(name, source, target, "an on_enter hook cannot transition")
        if target not in type(self)._ak_allowed.get(source, ()):
            raise InvalidTransition(name, source, target)
        await self.on_exit(source)
        self._ak_state = target
        self._ak_dispatch = type(self)._ak_state_dispatch[target]  # type: ignore[misc]
        self.ctx.runtime._event(
            "info",
            "state_changed",
            self.ctx._cell,
            from_state=source.name,
            to_state=target.name,
            message=short_repr(self._ak_current),
        )
        await self._enter(target, timeout)
        if target != source:
            self.ctx._cell.retry_postponed()

    async def _enter(self, state: Any, timeout: float | None) -> None:
        _cancel(self._ak_state_timer)
        self._ak_state_timer = None
        if timeout is None:
            timeout = type(self).state_timeouts.get(state)
        if timeout is not None:
            self._ak_state_timer = self._schedule(timeout, StateTimeout(state))
        self._ak_in_enter = True
        try:
            await self.on_enter(state)
        finally:
            self._ak_in_enter = False

    # -- postpone and timeouts ----------------------------------------------------------------

    def postpone(self) -> None:
        """Keep the message being handled for later: it is retried after the next state change
        (its ask, if any, is answered then)."""
        self._ak_postpone_now = True

    def set_event_timeout(self, seconds: float) -> None:
        """Deliver :class:`EventTimeout` after ``seconds`` unless the machine handles a
        message first (a message with no handler in the current state, a dead letter, does
        not cancel it)."""
        _cancel(self._ak_event_timer)
        self._ak_event_timer = self._schedule(seconds, EventTimeout())

    def start_timer(self, name: str, seconds: float, message: Any) -> None:
        """Deliver ``message`` after ``seconds``; state changes do not cancel it.

        Starting a timer under a name in use replaces that timer.
        """
        if self._ak_timers is None:
            self._ak_timers = {}
        _cancel(self._ak_timers.get(name))
        self._ak_timers[name] = self._schedule(seconds, message, name)

    def cancel_timer(self, name: str) -> None:
        """Cancel the named timer (nothing happens if there is none)."""
        if self._ak_timers:
            _cancel(self._ak_timers.pop(name, None))

    def _schedule(self, seconds: float, message: Any, name: str | None = None) -> _Timer:
        timer = _Timer(name, self)
        timer.scope = self.ctx._cell.start_timer(seconds, _TimerFired(timer, message))
        return timer

    @on(_TimerFired)
    @control_handler
    async def _ak_timer_fired(self, fired: _TimerFired) -> None:
        cell = self.ctx._cell
        timer = fired.token
        if not timer.live or timer.owner is not self:
            # Cancelled after it went off, or set by a crashed predecessor: gen_statem never
            # delivers those.
            return
        timer.live = False
        if timer is self._ak_event_timer:
            self._ak_event_timer = None
        elif timer is self._ak_state_timer:
            self._ak_state_timer = None
        elif timer.name is not None and self._ak_timers is not None:
            self._ak_timers.pop(timer.name, None)
        message = fired.message
        handler = self._ak_dispatch.get(type(message)) or self._ak_resolve(type(message))
        if handler is None:
            cell._drop(message, "unhandled")
            return
        try:
            await handler(self, message)
        except Deferred:
            # A postponed timeout waits like any other postponed message.
            cell._defer(Deferred(), message)
        else:
            cell.processed += 1

    # -- drawing ------------------------------------------------------------------------------

    @classmethod
    def diagram(cls) -> str:
        """The machine as a Mermaid ``stateDiagram-v2``: states, transitions, and the message
        types each state handles."""
        lines = ["stateDiagram-v2", f"    [*] --> {cls.initial.name}"]
        lines += [
            f"    {state.name} --> {target.name}"
            for state in cls.states
            for target in sorted(cls._ak_allowed.get(state, ()), key=lambda s: s.name)
        ]
        anywhere = _public_types(cls._ak_state_handlers[None])
        for state in cls.states:
            handled = list(
                dict.fromkeys(_public_types(cls._ak_state_handlers.get(state, {})) + anywhere)
            )
            if handled:
                lines.append(f"    {state.name} : {', '.join(handled)}")
        return "\n".join(lines) + "\n"


class _Timer:
    """One timer of a machine; ``live`` until it is delivered or cancelled."""

    __slots__ = ("live", "name", "owner", "scope")

    def __init__(self, name: str | None, owner: StateMachine) -> None:
        self.name = name
        self.owner = owner
        self.live = True
        self.scope: trio.CancelScope | None = None


def _cancel(timer: _Timer | None) -> None:
    if timer is not None:
        timer.live = False
        if timer.scope is not None:
            timer.scope.cancel()


def _public_types(handlers: Mapping[type, Handler]) -> list[str]:
    return [t.__qualname__ for t in handlers if not issubclass(t, SystemMessage)]


def _wrap(handler: Handler) -> Handler:
    """Per-message bookkeeping of a state machine: the current message, the event timeout,
    and postponement."""

    async def handle(machine: Any, message: Any) -> Any:
        machine._ak_current = message
        if machine._ak_event_timer is not None:
            _cancel(machine._ak_event_timer)
            machine._ak_event_timer = None
        result = await handler(machine, message)
        if machine._ak_postpone_now:
            machine._ak_postpone_now = False
            raise Deferred
        return result

    handle.__qualname__ = getattr(handler, "__qualname__", "handler")
    handle.__wrapped__ = handler  # type: ignore[attr-defined]
    return handle


def _check_declaration(cls: type[StateMachine], states: Any) -> None:
    """The checks made when a state machine class is created."""
    name = cls.__qualname__
    if not (isinstance(states, type) and issubclass(states, enum.Enum)):
        raise TypeError(f"{name}.states must be an enum.Enum class, not {states!r}")
    initial: Any = getattr(cls, "initial", None)
    if not isinstance(initial, states):
        raise TypeError(f"{name}.initial must be one of {states.__qualname__}, not {initial!r}")
    for source, targets in cls.transitions.items():
        if not isinstance(source, states):
            raise TypeError(
                f"{name}.transitions has a state not in {states.__qualname__}: {source!r}"
            )
        for target in targets:
            if not isinstance(target, states):
                raise TypeError(
                    f"{name}.transitions[{source}] names a state not in "
                    f"{states.__qualname__}: {target!r}"
                )
    for state, seconds in cls.state_timeouts.items():
        if not isinstance(state, states) or not seconds > 0:
            raise TypeError(
                f"{name}.state_timeouts maps states to seconds > 0; got {state!r}: {seconds!r}"
            )
    reachable = {initial}
    frontier = [initial]
    while frontier:
        for target in cls.transitions.get(frontier.pop(), ()):
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    unreachable = [state.name for state in states if state not in reachable]
    if unreachable:
        warnings.warn(
            f"{name}: no transition from {initial.name} reaches {', '.join(unreachable)}",
            UnreachableStateWarning,
            stacklevel=4,
        )
