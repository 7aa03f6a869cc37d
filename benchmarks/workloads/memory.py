"""memory: bytes per idle actor with N actors alive (baselines.md, workload 5).

Two views, both in the fresh process of the sample and without a warm-up: the resident set size
(``/proc/self/statm``) before and after spawning N actors that have each handled one Hello and
then wait idle, divided by N; then, with ``tracemalloc`` tracing, the Python heap growth for
another N actors, divided by N. RSS also counts what tracemalloc cannot see (thread stacks,
allocator slack); tracemalloc counts only live Python allocations.
"""

from __future__ import annotations

import tracemalloc

import trio

import actorkit as ak

from ..common import check, rss_bytes, settle_memory
from ..peers import pykka_running, thespian_ask, thespian_system
from ..registry import Metric, Target, Workload, register
from .spawn import spawn_actorkit, spawn_pykka, spawn_trio, thespian_classes

MEMORY = register(
    Workload(
        name="memory",
        title="memory",
        order=60,
        description="resident bytes per idle actor with N actors (and tracemalloc's view)",
        metrics=(
            Metric("rss_per_actor", "RSS/actor", "bytes", higher_is_better=False),
            Metric("traced_per_actor", "traced/actor", "bytes", higher_is_better=False),
        ),
        params={"full": {"n": 10_000}, "quick": {"n": 1_000}, "tiny": {"n": 50}},
        expected_count=lambda p: 2 * p["n"],
        warmup=False,
        repeats=1,
        share_process=False,
        targets=(
            Target("rss_per_actor", "trio", "<=", 1.0),
            Target("rss_per_actor", "pykka", "<=", 0.25),
        ),
        note=(
            "memory: an idle actor has handled one Hello and waits; Trio = task + memory channel; "
            "pykka's figure includes each thread's touched stack pages."
        ),
    )
)


class _Reading:
    """The readings around two batches of actors: RSS for the first, tracemalloc for the second."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0

    def before_rss(self) -> None:
        settle_memory()
        self.rss = rss_bytes()

    def after_rss(self) -> None:
        settle_memory()
        self.rss = rss_bytes() - self.rss
        tracemalloc.start()
        settle_memory()
        self.traced = tracemalloc.get_traced_memory()[0]

    def after_traced(self) -> dict[str, float]:
        settle_memory()
        self.traced = tracemalloc.get_traced_memory()[0] - self.traced
        tracemalloc.stop()
        return {
            "rss_per_actor": self.rss / self.n,
            "traced_per_actor": self.traced / self.n,
            "count": self.count,
        }


@MEMORY.system("actorkit")
def memory_actorkit(p: dict[str, int]) -> dict[str, float]:
    reading = _Reading(p["n"])

    async def main() -> dict[str, float]:
        async with ak.open_runtime() as rt:
            held = []
            reading.before_rss()
            held += await spawn_actorkit(rt, reading.n)
            reading.after_rss()
            held += await spawn_actorkit(rt, reading.n)
            reading.count = len(held)
            figures = reading.after_traced()
            check(rt.stats().actors_live, len(held), "live actors")
            return figures

    return trio.run(main)


@MEMORY.system("trio", label="Trio task+channel")
def memory_trio(p: dict[str, int]) -> dict[str, float]:
    reading = _Reading(p["n"])

    async def main() -> dict[str, float]:
        async with trio.open_nursery() as nursery:
            held = []
            reading.before_rss()
            held += await spawn_trio(nursery, reading.n)
            reading.after_rss()
            held += await spawn_trio(nursery, reading.n)
            reading.count = len(held)
            figures = reading.after_traced()
            nursery.cancel_scope.cancel()
        return figures

    return trio.run(main)


@MEMORY.system("pykka")
def memory_pykka(p: dict[str, int]) -> dict[str, float]:
    reading = _Reading(p["n"])
    with pykka_running() as pykka:
        held = []
        reading.before_rss()
        held += spawn_pykka(pykka, reading.n)
        reading.after_rss()
        held += spawn_pykka(pykka, reading.n)
        reading.count = len(held)
        return reading.after_traced()


@MEMORY.system("thespian")
def memory_thespian(p: dict[str, int]) -> dict[str, float]:
    reading = _Reading(p["n"])
    with thespian_system() as system:
        _, parent_class = thespian_classes()
        first, second = system.createActor(parent_class), system.createActor(parent_class)
        reading.before_rss()
        reading.count += thespian_ask(system, first, ("spawn", reading.n))
        reading.after_rss()
        reading.count += thespian_ask(system, second, ("spawn", reading.n))
        return reading.after_traced()
