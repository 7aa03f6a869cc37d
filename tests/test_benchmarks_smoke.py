"""The benchmark workloads still run and count right (at tiny sizes, in this process).

A benchmark that no longer runs, or counts the wrong number of messages, would report a figure
that means nothing; this catches it in the ordinary test run. The memory workload needs a
fresh process of its own and is left to ``python -m benchmarks``; the pykka and Thespian sides
run only where those packages are installed.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import structlog

# benchmarks/ is not installed (only actorkit is): reach it from the repository's root. Appended,
# so the installed actorkit still comes first.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from benchmarks.peers import need
from benchmarks.registry import REQUIRES, Skip, all_workloads
from benchmarks.report import DASH, TIMES, markdown

CASES = [
    pytest.param(workload, system, id=f"{workload.name}-{system}")
    for workload in all_workloads()
    if workload.name != "memory"
    for system in workload.systems
]


@pytest.mark.parametrize(("workload", "system"), CASES)
def test_workload_runs_and_counts(workload, system) -> None:
    if system in REQUIRES:
        pytest.importorskip(REQUIRES[system])
    params = workload.params_for("tiny")
    # The crashes of the restart workload are logged; keep them out of the test output.
    with structlog.testing.capture_logs():
        try:
            figures = workload.systems[system](params)
        except Skip as skip:  # pragma: no cover - only while an API is missing
            pytest.skip(str(skip))
    assert figures["count"] == workload.expected_count(params)
    for metric in workload.metrics:
        value = figures[metric.key]
        assert math.isfinite(value)
        assert value > 0, f"{metric.key} = {value}"


def test_every_workload_has_an_actorkit_side_and_sound_targets() -> None:
    for workload in all_workloads():
        assert "actorkit" in workload.systems, workload.name
        for target in workload.targets:
            workload.metric(target.metric)  # raises for a typo
            assert target.peer in workload.systems, (workload.name, target.peer)


def test_missing_peer_is_a_skip_not_an_error() -> None:
    with pytest.raises(Skip, match="pip install"):
        need("no_such_actor_library_for_the_benchmarks")


def test_report_renders_a_results_file() -> None:
    results = {
        "workloads": [
            {
                "title": "tell",
                "metrics": [
                    {
                        "key": "msgs_per_s",
                        "label": "msgs/s",
                        "unit": "msgs/s",
                        "higher_is_better": 1,
                    }
                ],
                "systems": {
                    "actorkit": {"summary": {"msgs_per_s": _summary(600e3)}},
                    "trio": {"summary": {"msgs_per_s": _summary(150e3)}},
                },
                "ratios": {"msgs_per_s": {"trio": 4.0}},
                "targets": [
                    {
                        "text": f"tell msgs/s: actorkit ≥ 3{TIMES} Trio",
                        "metric": "msgs_per_s",
                        "peer": "trio",
                        "op": ">=",
                        "factor": 3.0,
                        "ratio": 4.0,
                        "met": True,
                    }
                ],
            }
        ]
    }
    text = markdown(results)
    assert f"| tell | msgs/s ↑ | 600k <br><small>540k{DASH}660k</small>" in text.replace("**", "")
    assert f"4{TIMES} ✓≥3" in text
    assert f"| tell msgs/s: actorkit ≥ 3{TIMES} Trio | 4{TIMES} | met |" in text


def _summary(median: float) -> dict[str, float]:
    return {"median": median, "min": median * 0.9, "max": median * 1.1, "n": 5}
