"""What the Savina modules share: the workload template, the finish line, the cited paper."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..registry import Metric, Params, Target, Workload, register

__all__ = ["CITATION", "compute", "savina_workload"]

CITATION = (
    'S. M. Imam and V. Sarkar, "Savina - An Actor Benchmark Suite: Enabling Empirical '
    'Evaluation of Actor Libraries", AGERE! 2014, ACM; reference code github.com/shamsimam/savina'
)


def savina_workload(
    name: str,
    title: str,
    description: str,
    params: dict[str, Params],
    expected_count: Callable[[Params], int],
    order: int,
) -> Workload:
    """A Savina benchmark: wall time in ms; actorkit should beat pykka and Thespian."""
    return register(
        Workload(
            name=name,
            title=title,
            description=description,
            group="savina",
            order=order,
            metrics=(Metric("time_ms", "time", "ms", higher_is_better=False),),
            params=params,
            expected_count=expected_count,
            targets=(
                Target("time_ms", "pykka", "<=", 1.0),
                Target("time_ms", "thespian", "<=", 1.0),
            ),
        )
    )


def compute(theta: float = 37.2) -> float:
    """Savina's ``performComputation``: the light work of the fork-join benchmarks."""
    sint = math.sin(theta)
    res = sint * sint
    if res <= 0:  # defeats dead-code elimination in the original; kept for faithfulness
        raise ArithmeticError(f"unrealistic result {res}")
    return res


def figures(elapsed_s: float, count: int) -> dict[str, Any]:
    return {"time_ms": elapsed_s * 1000, "count": count}
