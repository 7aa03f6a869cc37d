"""The circuit state machine, shared by the CircuitBreak supervision strategy and CircuitBreaker.

closed → (``failures`` failures within ``within`` s) → open → (reset time) → half-open → the
first outcome decides: a success closes the circuit, a failure reopens it with the reset time
multiplied by ``factor``, up to ``max_reset``. Pure and clock-free: callers pass ``now``.
"""

from __future__ import annotations

import enum
from collections import deque

__all__ = ["Circuit", "CircuitState"]


class CircuitState(enum.Enum):
    """Where a circuit is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Circuit:
    """Counts failures in a sliding window and decides when calls may go through."""

    __slots__ = (
        "_failure_times",
        "factor",
        "failures",
        "max_reset",
        "opened_at",
        "reset_after",
        "retry_at",
        "state",
        "within",
    )

    def __init__(
        self,
        failures: int,
        within: float,
        reset_after: float,
        factor: float = 2.0,
        max_reset: float | None = None,
    ) -> None:
        if failures < 1:
            raise ValueError(f"a circuit needs failures >= 1, not {failures}")
        if within <= 0 or reset_after <= 0:
            raise ValueError("a circuit's within and reset_after must be > 0 seconds")
        self.failures = failures
        self.within = within
        self.reset_after = reset_after
        self.factor = factor
        self.max_reset = max_reset if max_reset is not None else reset_after * 10
        self.state = CircuitState.CLOSED
        self.opened_at = 0.0
        self.retry_at = 0.0
        self._failure_times: deque[float] = deque()

    @property
    def current_reset(self) -> float:
        """How long the circuit stays open this time."""
        return self.retry_at - self.opened_at

    def record_failure(self, now: float) -> CircuitState:
        """Count a failure at ``now``; return the new state (OPEN when it trips)."""
        if self.poll(now) is CircuitState.HALF_OPEN:
            self._open(now, min(self.max_reset, self.current_reset * self.factor))
            return self.state
        if self.state is CircuitState.OPEN:
            return self.state
        times = self._failure_times
        times.append(now)
        while times and times[0] <= now - self.within:
            times.popleft()
        if len(times) >= self.failures:
            self._open(now, self.reset_after)
        return self.state

    def record_success(self, now: float) -> CircuitState:
        """Count a success at ``now``; a half-open circuit closes."""
        if self.poll(now) is CircuitState.HALF_OPEN:
            self.state = CircuitState.CLOSED
            self._failure_times.clear()
        return self.state

    def poll(self, now: float) -> CircuitState:
        """Move an open circuit to half-open once its reset time has passed; return the state."""
        if self.state is CircuitState.OPEN and now >= self.retry_at:
            self.state = CircuitState.HALF_OPEN
        return self.state

    def _open(self, now: float, reset: float) -> None:
        self.state = CircuitState.OPEN
        self.opened_at = now
        self.retry_at = now + reset
        self._failure_times.clear()
