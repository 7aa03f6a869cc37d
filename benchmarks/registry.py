"""The registry of workloads: what each one measures, on which systems, and its targets.

Adding a workload is one file: put a module in ``benchmarks/workloads/`` (or
``benchmarks/savina/``) that builds a :class:`Workload`, decorates one function per system with
:meth:`Workload.system`, and calls :func:`register`. The runner, the table, the charts, the
JSON file and the smoke test all find it from here. The remote workloads (remote tell/ask over
an encrypted peer link beside a plain Trio TCP baseline) are meant to arrive that way, in group
``"remote"``: a system key such as ``"actorkit"`` for the link and ``"trio"`` for the baseline.

A system function takes the workload's parameters (a dict) and returns its figures (a dict of
metric key to number) plus ``"count"``, the number of operations it saw complete, which must
equal :meth:`Workload.expected_count`. It runs in a fresh process (see ``run_one.py``) and must
check its own result: a benchmark that counts wrong is an error, not a figure.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SYSTEMS",
    "Metric",
    "Skip",
    "Target",
    "Workload",
    "all_workloads",
    "get",
    "register",
]

Params = dict[str, Any]
Figures = dict[str, float]
SystemFn = Callable[[Params], Figures]

#: Systems in table order, with their default labels. A workload may name other keys too.
SYSTEMS: dict[str, str] = {
    "actorkit": "actorkit",
    "trio": "Trio",
    "trio_alt": "Trio (alt.)",
    "pykka": "pykka",
    "thespian": "Thespian",
}

#: The packages each peer system needs; a missing one makes that system a skip, not an error.
REQUIRES: dict[str, str] = {"pykka": "pykka", "thespian": "thespian"}

#: The sizes a workload is run at: the real run, the smoke run, and the in-process unit test.
SIZES = ("full", "quick", "tiny")


class Skip(Exception):
    """This system cannot run this workload; the message says why (shown in the table)."""


@dataclass(frozen=True)
class Metric:
    """One figure a workload reports."""

    key: str
    label: str
    unit: str
    higher_is_better: bool = True

    @property
    def arrow(self) -> str:
        return "↑" if self.higher_is_better else "↓"


@dataclass(frozen=True)
class Target:
    """A goal for actorkit against one peer: ``actorkit / peer`` compared with ``factor``."""

    metric: str
    peer: str
    op: str  # ">=" or "<="
    factor: float

    def met(self, ratio: float) -> bool:
        return ratio >= self.factor if self.op == ">=" else ratio <= self.factor

    def describe(self, workload: Workload) -> str:
        peer = workload.label(self.peer)
        metric = workload.metric(self.metric)
        sign = "≥" if self.op == ">=" else "≤"
        return f"{workload.title} {metric.label}: actorkit {sign} {self.factor:g}\u00d7 {peer}"


@dataclass
class Workload:
    """A measured scenario and its implementation on each system."""

    name: str
    title: str
    description: str
    metrics: tuple[Metric, ...]
    params: dict[str, Params]
    expected_count: Callable[[Params], int]
    group: str = "core"
    #: Position in the table within its group.
    order: int = 100
    targets: tuple[Target, ...] = ()
    #: Run the scenario once at "quick" size in the same process before the timed run.
    warmup: bool = True
    #: Timed runs per sample in a full run; the sample is the best of them (by the first
    #: metric), which keeps another process's burst of load on a shared machine out of it.
    repeats: int = 3
    #: May ``--quick`` run this workload's systems one after another in one process?
    share_process: bool = True
    #: Per-system label overrides (say which Trio variant "trio" is here).
    labels: dict[str, str] = field(default_factory=dict)
    #: Systems that have no equivalent of this workload, with the reason.
    not_applicable: dict[str, str] = field(default_factory=dict)
    #: A note printed under the table (how the scenario is set up, what to keep in mind).
    note: str = ""
    systems: dict[str, SystemFn] = field(default_factory=dict)

    def system(self, key: str, label: str | None = None) -> Callable[[SystemFn], SystemFn]:
        """Decorator: ``fn`` runs this workload on system ``key``."""

        def add(fn: SystemFn) -> SystemFn:
            self.systems[key] = fn
            if label is not None:
                self.labels[key] = label
            return fn

        return add

    def label(self, system: str) -> str:
        return self.labels.get(system, SYSTEMS.get(system, system))

    def metric(self, key: str) -> Metric:
        for metric in self.metrics:
            if metric.key == key:
                return metric
        raise KeyError(f"{self.name} has no metric {key!r}")

    def params_for(self, size: str) -> Params:
        return dict(self.params[size])

    def ordered_systems(self) -> list[str]:
        keys = list(self.systems) + [k for k in self.not_applicable if k not in self.systems]
        order = list(SYSTEMS)
        return sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k))


_REGISTRY: dict[str, Workload] = {}
_PACKAGES = ("benchmarks.workloads", "benchmarks.savina")


def register(workload: Workload) -> Workload:
    """Make ``workload`` known to the runner, the report and the smoke test."""
    if workload.name in _REGISTRY and _REGISTRY[workload.name] is not workload:
        raise ValueError(f"two workloads are named {workload.name!r}")
    for size in SIZES:
        if size not in workload.params:
            raise ValueError(f"workload {workload.name!r} has no {size!r} parameters")
    _REGISTRY[workload.name] = workload
    return workload


def _load() -> None:
    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package_name}.{info.name}")


def all_workloads() -> list[Workload]:
    """Every registered workload, core first, then Savina, then anything else."""
    _load()
    groups = {"core": 0, "savina": 1}
    return sorted(_REGISTRY.values(), key=lambda w: (groups.get(w.group, 2), w.order, w.name))


def get(name: str) -> Workload:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no workload {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
