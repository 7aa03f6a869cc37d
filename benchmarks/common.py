"""What every workload shares: the messages, the logging setup, clocks, latencies, memory.

Msg is what baselines.md specifies: a frozen, slotted class with one int (``attrs.frozen`` makes
slotted classes). The same classes are sent on every system, so no system pays for a heavier
message than another.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Sequence

import attrs
import structlog
import trio

__all__ = [
    "LOGGING_NOTE",
    "Countdown",
    "Fail",
    "GetCount",
    "Hello",
    "Msg",
    "Ping",
    "ThreadCountdown",
    "check",
    "configure_logging",
    "latency_figures",
    "now",
    "now_ns",
    "rss_bytes",
    "settle_memory",
]

now = time.perf_counter
now_ns = time.perf_counter_ns

#: How the benchmark processes configure structlog; printed with the results.
LOGGING_NOTE = (
    "structlog configured as a production app would: "
    "make_filtering_bound_logger(logging.WARNING), cache_logger_on_first_use=True"
)


def configure_logging() -> None:
    """Configure structlog as a production application would, so debug/info events are free."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )


@attrs.frozen
class Msg:
    """The workload message: frozen, slotted, one int."""

    n: int


@attrs.frozen
class Ping:
    """A request whose reply is its number."""

    n: int


@attrs.frozen
class GetCount:
    """Ask a counter for its count."""


@attrs.frozen
class Hello:
    """The first message an actor gets: handling it proves the actor runs."""


@attrs.frozen
class Fail:
    """The message a worker's handler raises on."""


class Countdown:
    """Trio-side barrier: ``hit()`` N times and ``event`` is set. One task, no locks."""

    __slots__ = ("event", "left")

    def __init__(self, n: int) -> None:
        self.left = n
        self.event = trio.Event()
        if n == 0:
            self.event.set()

    def hit(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.event.set()


class ThreadCountdown:
    """The same barrier for thread-per-actor systems."""

    __slots__ = ("event", "left", "lock")

    def __init__(self, n: int) -> None:
        self.left = n
        self.lock = threading.Lock()
        self.event = threading.Event()
        if n == 0:
            self.event.set()

    def hit(self) -> None:
        with self.lock:
            self.left -= 1
            if self.left == 0:
                self.event.set()

    def wait(self, timeout: float = 120.0) -> None:
        if not self.event.wait(timeout):
            raise TimeoutError(f"barrier still waiting for {self.left} after {timeout} s")


def check(actual: object, expected: object, what: str) -> None:
    """A benchmark that counts wrong must fail loudly rather than report a figure."""
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, round(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_figures(latencies_ns: Sequence[int]) -> dict[str, float]:
    """p50 and p99 in microseconds."""
    ordered = sorted(latencies_ns)
    return {
        "p50_us": percentile(ordered, 50) / 1000,
        "p99_us": percentile(ordered, 99) / 1000,
    }


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """The process's resident set size now (``/proc/self/statm``), in bytes."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:  # not Linux: peak RSS is the best resource offers
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def settle_memory() -> None:
    """Collect garbage so that a memory reading counts live objects only."""
    gc.collect()
    gc.collect()
