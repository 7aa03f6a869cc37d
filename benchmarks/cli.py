"""The runner: every workload on every system, each sample in a fresh process, then the report.

    python -m benchmarks [--quick] [--only NAME ...] [--runs N] [--out DIR] [--from-json FILE]

Samples are taken run by run (every workload and system once, then again), with the order of
systems rotated between runs, so slow drift on a noisy machine spreads over all systems rather
than landing on one. Each figure is the median of the runs, with its min and max; a run's figure
is the best of the workload's timed repetitions in its fresh process (``Workload.repeats``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .common import LOGGING_NOTE
from .registry import Workload, all_workloads
from .report import fmt_value

RESULTS = Path(__file__).parent / "results"
#: A quick run writes here, so it never replaces the full run's figures and charts.
QUICK_RESULTS = RESULTS / "quick"
PACKAGES = ("actorkit", "trio", "structlog", "attrs", "pykka", "thespian", "rich", "matplotlib")
TIMEOUT = {"full": 600.0, "quick": 120.0, "tiny": 60.0}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="actorkit beside raw Trio, pykka and Thespian, as ratios in one run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 run, small sizes (under a minute)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these workloads (names, or a group: core, savina, remote)",
    )
    parser.add_argument("--runs", type=int, help="runs per figure (default 5; --quick: 1)")
    parser.add_argument("--out", type=Path, help="where results and charts go")
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument(
        "--from-json", type=Path, metavar="FILE", help="re-render the report of a results file"
    )
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    return parser.parse_args(argv)


def select(only: list[str] | None) -> list[Workload]:
    workloads = all_workloads()
    if not only:
        return workloads
    known = {w.name for w in workloads} | {w.group for w in workloads}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; known: {', '.join(sorted(known))}")
    return [w for w in workloads if w.name in only or w.group in only]


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "versions": {},
        "logging": LOGGING_NOTE,
    }
    for package in PACKAGES:
        try:
            info["versions"][package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info["versions"][package] = None
    info["git"] = _git_revision()
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "actorkit", "benchmarks"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


class Sandbox:
    """Where the samples' processes get their code: the same code for the whole run.

    The benchmarks package is copied aside when the run starts, and the samples run with
    ``python -P`` (no current directory on ``sys.path``), so they import that copy and the
    *installed* actorkit: a working tree that changes during a half-hour run (another branch
    checked out, a commit landing) cannot mix two versions into one table. When actorkit is not
    installed at all, the repository's own copy is used, as a last resort.
    """

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="actorkit-bench-code-")
        self.path = Path(self._tmp.name)
        shutil.copytree(
            Path(__file__).resolve().parent,
            self.path / "benchmarks",
            ignore=shutil.ignore_patterns("results", "__pycache__"),
        )
        self.env = dict(os.environ, PYTHONHASHSEED="0")
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(self.path), os.environ.get("PYTHONPATH")])
        )
        self.actorkit = self._probe()
        if self.actorkit is None:
            root = str(Path(__file__).resolve().parent.parent)
            self.env["PYTHONPATH"] += os.pathsep + root
            self.actorkit = self._probe()

    def _probe(self) -> str | None:
        probe = "import actorkit, sys; sys.stdout.write(actorkit.__file__)"
        proc = subprocess.run(
            [sys.executable, "-P", "-c", probe],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.path,
            check=False,
        )
        return proc.stdout.strip() if proc.returncode == 0 else None

    def close(self) -> None:
        self._tmp.cleanup()


def run_sample(
    sandbox: Sandbox, workload: str, systems: list[str], size: str
) -> dict[str, dict[str, Any]]:
    """One fresh interpreter runs ``systems`` in turn; it writes its JSON result to a file."""
    with tempfile.TemporaryDirectory(prefix="actorkit-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-P", "-m", "benchmarks.run_one", workload, ",".join(systems)]
        command += ["--size", size, "--out", str(out)]
        env = sandbox.env
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=TIMEOUT[size] * len(systems),
                env=env,
                cwd=sandbox.path,
                check=False,
            )
        except subprocess.TimeoutExpired:
            error = {"error": f"timed out after {TIMEOUT[size] * len(systems):.0f} s"}
            return {system: dict(error) for system in systems}
        wall = round((time.perf_counter() - started) / len(systems), 3)
        if out.exists():
            results: dict[str, dict[str, Any]] = json.loads(out.read_text())
        else:
            tail = (proc.stderr or proc.stdout or "")[-2000:]
            error = {"error": f"exit status {proc.returncode} and no result:\n{tail}"}
            results = {system: dict(error) for system in systems}
        for result in results.values():
            result["wall_s"] = wall
        return results


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def _new_entry(workload: Workload, size: str) -> dict[str, Any]:
    return {
        "repeats": workload.repeats if size == "full" else 1,
        "name": workload.name,
        "title": workload.title,
        "group": workload.group,
        "description": workload.description,
        "note": workload.note,
        "params": workload.params_for(size),
        "metrics": [
            {
                "key": m.key,
                "label": m.label,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
            }
            for m in workload.metrics
        ],
        "systems": {
            key: {
                "label": workload.label(key),
                "samples": [],
                "errors": [],
                "skipped": workload.not_applicable.get(key),
                "wall_s": [],
            }
            for key in workload.ordered_systems()
        },
    }


def finish(entry: dict[str, Any], workload: Workload) -> None:
    """Medians, ratios against each peer, and the verdict on each target."""
    for system in entry["systems"].values():
        summary = {}
        for metric in entry["metrics"]:
            values = [s[metric["key"]] for s in system["samples"] if metric["key"] in s]
            if values:
                summary[metric["key"]] = summarize(values)
        system["summary"] = summary
    ratios: dict[str, dict[str, float]] = {}
    ours = entry["systems"].get("actorkit", {}).get("summary", {})
    for metric in entry["metrics"]:
        key = metric["key"]
        if key not in ours:
            continue
        for peer, system in entry["systems"].items():
            if peer != "actorkit" and key in system["summary"]:
                theirs = system["summary"][key]["median"]
                if theirs:
                    ratios.setdefault(key, {})[peer] = ours[key]["median"] / theirs
    entry["ratios"] = ratios
    entry["targets"] = []
    for target in workload.targets:
        ratio = ratios.get(target.metric, {}).get(target.peer)
        entry["targets"].append(
            {
                "text": target.describe(workload),
                "metric": target.metric,
                "peer": target.peer,
                "op": target.op,
                "factor": target.factor,
                "ratio": ratio,
                "met": None if ratio is None else target.met(ratio),
            }
        )


def run_all(workloads: list[Workload], size: str, runs: int, say: Any) -> dict[str, Any]:
    entries = {w.name: _new_entry(w, size) for w in workloads}
    started = datetime.datetime.now(datetime.UTC)
    machine = machine_info()  # before the run: the revision measured, not the one after it
    sandbox = Sandbox()
    machine["actorkit_imported_from"] = sandbox.actorkit
    try:
        _take_samples(entries, workloads, size, runs, say, sandbox)
    finally:
        sandbox.close()
    for workload in workloads:
        finish(entries[workload.name], workload)
    return {
        "schema": 1,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "size": size,
        "runs": runs,
        "machine": machine,
        "workloads": list(entries.values()),
    }


def _take_samples(
    entries: dict[str, Any],
    workloads: list[Workload],
    size: str,
    runs: int,
    say: Any,
    sandbox: Sandbox,
) -> None:
    for run in range(runs):
        for workload in workloads:
            entry = entries[workload.name]
            keys = [k for k in entry["systems"] if entry["systems"][k]["skipped"] is None]
            if keys:
                shift = run % len(keys)
                keys = keys[shift:] + keys[:shift]
            if size == "quick" and workload.share_process and keys:
                batches = [keys]
            else:
                batches = [[key] for key in keys]
            outcomes: dict[str, dict[str, Any]] = {}
            for batch in batches:
                outcomes.update(run_sample(sandbox, workload.name, batch, size))
            parts = []
            for key in keys:
                system = entry["systems"][key]
                result = outcomes[key]
                system["wall_s"].append(result.get("wall_s"))
                if "figures" in result:
                    system["samples"].append(result["figures"])
                    first = workload.metrics[0]
                    value = fmt_value(result["figures"].get(first.key), first.unit)
                    parts.append(f"{key} {value}")
                elif "skipped" in result:
                    system["skipped"] = result["skipped"]
                    parts.append(f"{key} skipped")
                else:
                    system["errors"].append(result["error"])
                    parts.append(f"{key} [red]ERROR[/red]")
            say(f"run {run + 1}/{runs}  {workload.name:<14} " + " · ".join(parts))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 170, highlight=False)
    if args.list:
        for workload in all_workloads():
            console.print(f"{workload.name:<14} {workload.group:<7} {workload.description}")
        return 0

    from . import report

    if args.from_json:
        results = json.loads(args.from_json.read_text())
        out = args.out or args.from_json.parent
    else:
        size = "quick" if args.quick else "full"
        runs = args.runs or (1 if args.quick else 5)
        out = args.out or (QUICK_RESULTS if args.quick else RESULTS)
        workloads = select(args.only)
        console.print(
            f"[bold]actorkit benchmarks[/bold]: {len(workloads)} workloads, size {size}, "
            f"{runs} run(s), each sample in a fresh process. {LOGGING_NOTE}."
        )
        results = run_all(workloads, size, runs, console.print)
        out.mkdir(parents=True, exist_ok=True)
        (out / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    report.print_report(results, console)
    if not args.no_charts:
        from . import charts

        paths = charts.write_charts(results, out)
        console.print(f"charts: {len(paths)} PNGs in {out}")
    console.print(f"results: {out / 'latest.json'}")
    errors = sum(len(s["errors"]) for w in results["workloads"] for s in w["systems"].values())
    if errors:
        console.print(f"[red]{errors} sample(s) failed; see 'errors' in latest.json[/red]")
        return 1
    return 0
