"""Run one workload on one system in this (fresh) process and report its figures as JSON.

    python -m benchmarks.run_one WORKLOAD SYSTEM[,SYSTEM...] [--size full|quick|tiny] [--out FILE]

The runner starts one of these per sample, so no sample inherits another's heap, caches or
threads (only ``--quick`` runs a workload's systems one after another in one process, to stay
under a minute). The JSON (written to ``--out``, else printed as the last line) maps each
system to one of ``{"figures": {...}}``, ``{"skipped": "why"}`` or ``{"error": "traceback"}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import traceback
from typing import Any

from .common import configure_logging
from .registry import SIZES, Skip, get

#: The smaller size a warm-up runs at, before the timed run in the same process.
WARMUP_SIZE = {"full": "quick", "quick": "tiny", "tiny": "tiny"}


def measure(workload_name: str, system: str, size: str) -> dict[str, float]:
    """Warm up, run the timed sample, check its count; raise Skip or any error."""
    workload = get(workload_name)
    if system in workload.not_applicable:
        raise Skip(workload.not_applicable[system])
    fn = workload.systems[system]
    if workload.warmup:
        fn(workload.params_for(WARMUP_SIZE[size]))
        gc.collect()
    params = workload.params_for(size)
    expected = workload.expected_count(params)
    primary = workload.metrics[0]
    best: dict[str, float] | None = None
    for _ in range(workload.repeats if size == "full" else 1):
        figures = fn(params)
        if figures.get("count") != expected:
            raise AssertionError(f"count is {figures.get('count')!r}, expected {expected}")
        value = figures[primary.key]
        if (
            best is None
            or (primary.higher_is_better and value > best[primary.key])
            or (not primary.higher_is_better and value < best[primary.key])
        ):
            best = figures
        gc.collect()
    assert best is not None
    return {k: float(v) for k, v in best.items()}


def run(workload_name: str, system: str, size: str) -> dict[str, Any]:
    try:
        return {"figures": measure(workload_name, system, size)}
    except Skip as skip:
        return {"skipped": str(skip)}
    except Exception:
        return {"error": traceback.format_exc(limit=12)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_one")
    parser.add_argument("workload")
    parser.add_argument("systems", help="a system key, or several separated by commas")
    parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--out", help="write the JSON result here instead of stdout")
    args = parser.parse_args(argv)
    configure_logging()
    results = {system: run(args.workload, system, args.size) for system in args.systems.split(",")}
    text = json.dumps(results)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text)
    else:
        sys.stdout.write("\n" + text + "\n")
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
