"""Backoff: how long to wait before the n-th consecutive retry (restarts, retries, reconnects).

Exponential with a cap and jitter, as Akka's ``restartWithBackoff`` does, so that a crashing
child cannot become a restart storm and a fleet of retries does not move in lock-step.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs

__all__ = ["Backoff"]


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"Backoff({attribute.name}=...) must be >= 0, not {value!r}")


@attrs.frozen
class Backoff:
    """Delays ``initial * factor**(n-1)``, capped at ``maximum``, each spread by ± ``jitter``.

    The count of consecutive attempts resets after ``reset_after`` quiet seconds (default: twice
    ``maximum``), so a child that has run well for a while restarts quickly again.

    Example: ``ak.Backoff(initial=0.05, maximum=2.0)`` waits about 0.05, 0.1, 0.2, … 2.0 s.
    """

    initial: float = attrs.field(default=0.1, validator=_non_negative)
    maximum: float = attrs.field(default=10.0, validator=_non_negative)
    factor: float = attrs.field(default=2.0)
    jitter: float = attrs.field(default=0.2)
    reset_after: float | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.maximum < self.initial:
            raise ValueError(
                f"Backoff(maximum={self.maximum}) must be at least initial={self.initial}"
            )
        if self.factor < 1:
            raise ValueError(f"Backoff(factor={self.factor}) must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Backoff(jitter={self.jitter}) must be between 0 and 1")
        if self.reset_after is not None and self.reset_after < 0:
            raise ValueError(f"Backoff(reset_after={self.reset_after}) must be >= 0")

    @property
    def quiet_period(self) -> float:
        """Seconds without an attempt after which the count starts again from the first."""
        return 2 * self.maximum if self.reset_after is None else self.reset_after

    def base_delay(self, attempt: int) -> float:
        """The delay before attempt number ``attempt`` (1 is the first), before jitter."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, not {attempt}")
        # Cap the exponent so that a long run of attempts cannot overflow a float.
        return min(self.maximum, self.initial * self.factor ** min(attempt - 1, 1000))

    def delay(
        self, attempt: int, uniform: Callable[[float, float], float] = random.uniform
    ) -> float:
        """The delay before attempt ``attempt``, jittered by ``uniform(low, high)``."""
        base = self.base_delay(attempt)
        if not self.jitter or not base:
            return base
        return uniform(base * (1 - self.jitter), base * (1 + self.jitter))
