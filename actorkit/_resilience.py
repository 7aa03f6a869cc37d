"""Resilience for calls that leave the actor: RetryPolicy and CircuitBreaker.

Both run on Trio's clock, so tests drive them on virtual time. CircuitBreaker uses the same
:class:`~actorkit._circuit.Circuit` as the CircuitBreak supervision strategy: one state
machine, two uses.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import attrs
import trio

from ._backoff import Backoff
from ._circuit import Circuit, CircuitState
from ._errors import CircuitOpen
from ._logging import logger

__all__ = ["CircuitBreaker", "RetryPolicy"]

P = ParamSpec("P")
T = TypeVar("T")


def _exception_types(value: Any) -> tuple[type[BaseException], ...]:
    types = (value,) if isinstance(value, type) else tuple(value)
    for exc_type in types:
        if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
            raise TypeError(f"expected exception classes, got {exc_type!r}")
    return types


def _at_least_one(_instance: object, _attribute: object, value: int) -> None:
    if value < 1:
        raise ValueError(f"RetryPolicy(max_attempts=...) must be >= 1, not {value}")


@attrs.frozen
class RetryPolicy:
    """Retry an async call on the exceptions in ``retry_on``, waiting ``backoff`` between tries.

    A non-retryable exception passes straight through; when the attempts run out, the last
    exception is raised as it is. Every failed attempt (``retry_attempt_failed``) and the final
    failure (``retry_gave_up``) are logged.

    Use it as ``await policy.call(fn, *args)`` or as a decorator of an ``async def``::

        policy = ak.RetryPolicy(max_attempts=5, retry_on=(ConnectionError,))

        @policy
        async def fetch(url: str) -> bytes: ...
    """

    max_attempts: int = attrs.field(default=3, validator=_at_least_one)
    backoff: Backoff = attrs.field(factory=lambda: Backoff(initial=0.1, maximum=10.0))
    retry_on: tuple[type[BaseException], ...] = attrs.field(
        default=(ConnectionError, TimeoutError), converter=_exception_types
    )

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)``, retrying as the policy says; return its result."""
        name = getattr(fn, "__qualname__", repr(fn))
        attempt = 1
        while True:
            try:
                return await fn(*args, **kwargs)
            except self.retry_on as exc:
                if attempt >= self.max_attempts:
                    logger.warning(
                        "retry_gave_up",
                        call=name,
                        attempts=attempt,
                        error=f"{type(exc).__name__}: {exc}",
                    )
                    raise
                delay = self.backoff.delay(attempt)
                logger.info(
                    "retry_attempt_failed",
                    call=name,
                    attempt=attempt,
                    retry_in=round(delay, 6),
                    error=f"{type(exc).__name__}: {exc}",
                )
            await trio.sleep(delay)
            attempt += 1

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """Decorate an ``async def`` so that every call of it goes through this policy."""

        @functools.wraps(fn)
        async def retrying(*args: P.args, **kwargs: P.kwargs) -> T:
            return await self.call(fn, *args, **kwargs)

        return retrying


StateChangeCallback = Callable[[CircuitState, CircuitState], None]


class CircuitBreaker:
    """Stop calling a failing service for a while, then probe it with one call.

    closed → (``failure_threshold`` failures within ``window`` s) → open: calls raise
    :class:`CircuitOpen` at once → after ``reset_timeout`` s, half-open: one trial call goes
    through; success closes the circuit, failure reopens it for ``reset_timeout * factor``
    (growing, up to ``max_reset``).

    Args:
        failure_threshold: failures that open the circuit.
        reset_timeout: seconds it stays open the first time.
        call_timeout: seconds a call may take; a slower call is cancelled and counts as a
            failure (raising :class:`TimeoutError`). ``None``: no limit.
        window: seconds over which failures are counted.
        factor: how much longer the circuit stays open after each failed trial.
        max_reset: the cap on that (default ten times ``reset_timeout``).
        failure_on: the exceptions that count as failures (others pass through, uncounted).
        on_state_change: called with ``(old, new)`` on every change of state.
        name: names the breaker in events and errors.

    Use ``await breaker.call(fn, *args)`` or ``async with breaker: ...``.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        call_timeout: float | None = None,
        *,
        window: float = 60.0,
        factor: float = 2.0,
        max_reset: float | None = None,
        failure_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
        on_state_change: StateChangeCallback | None = None,
        name: str = "circuit-breaker",
    ) -> None:
        if call_timeout is not None and not call_timeout > 0:
            raise ValueError(f"call_timeout must be > 0 seconds or None, not {call_timeout!r}")
        self._circuit = Circuit(failure_threshold, window, reset_timeout, factor, max_reset)
        self.call_timeout = call_timeout
        self.failure_on = _exception_types(failure_on)
        self.on_state_change = on_state_change
        self.name = name
        self._state = CircuitState.CLOSED
        self._trial_running = False
        # Per task, the calls under way through this breaker, innermost last (they may nest).
        self._calls: dict[trio.lowlevel.Task, list[tuple[trio.CancelScope, bool]]] = {}

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name} {self.state.value}>"

    @property
    def state(self) -> CircuitState:
        """The state now (an open circuit whose reset time has passed is half-open)."""
        self._sync(self._circuit.poll(trio.current_time()))
        return self._state

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` through the breaker.

        Raises :class:`CircuitOpen` (without calling) while open, or while half-open with its
        trial call under way.
        """
        async with self:
            return await fn(*args, **kwargs)

    async def __aenter__(self) -> CircuitBreaker:
        await trio.lowlevel.checkpoint_if_cancelled()
        now = trio.current_time()
        state = self._circuit.poll(now)
        self._sync(state)
        circuit = self._circuit
        if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and self._trial_running):
            retry_at = circuit.retry_at if state is CircuitState.OPEN else now
            raise CircuitOpen(self.name, retry_at, max(0.0, retry_at - now))
        trial = state is CircuitState.HALF_OPEN
        if trial:
            self._trial_running = True
        deadline = now + self.call_timeout if self.call_timeout is not None else float("inf")
        scope = trio.CancelScope(deadline=deadline)
        scope.__enter__()
        self._calls.setdefault(trio.lowlevel.current_task(), []).append((scope, trial))
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        task = trio.lowlevel.current_task()
        calls = self._calls[task]
        scope, trial = calls.pop()
        if not calls:
            del self._calls[task]
        swallowed = scope.__exit__(exc_type, exc, tb)
        if trial:
            self._trial_running = False
        now = trio.current_time()
        if swallowed and scope.cancelled_caught:
            self._sync(self._circuit.record_failure(now))
            raise TimeoutError(f"{self.name}: the call took longer than {self.call_timeout} s")
        if exc is None:
            self._sync(self._circuit.record_success(now))
        elif isinstance(exc, self.failure_on):
            self._sync(self._circuit.record_failure(now))

    def _sync(self, new: CircuitState) -> None:
        old = self._state
        if new is old:
            return
        self._state = new
        if new is CircuitState.OPEN:
            logger.warning(
                "circuit_opened",
                breaker=self.name,
                retry_in=round(self._circuit.current_reset, 6),
            )
        elif new is CircuitState.HALF_OPEN:
            logger.info("circuit_half_open", breaker=self.name)
        else:
            logger.info("circuit_closed", breaker=self.name)
        if self.on_state_change is not None:
            self.on_state_change(old, new)
