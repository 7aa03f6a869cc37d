"""restart: a handler raises, its supervisor restarts it, a ping proves it is back (workload 4).

Each sample is timed from sending the fatal message until the restarted actor has answered a
ping; p50/p99 over N restarts. actorkit restarts through its supervision tree (``ak.Supervisor``
with ``ak.OneForOne``), in place: same ref, same mailbox. The Trio baselines keep the mailbox
(a memory channel) and build a fresh worker instance: once through a new nursery caught with
``except*`` (what a supervisor written with nurseries does), and once as a plain try/except
loop inside the existing task (a floor: no task, no nursery).

Logging: every benchmark process configures structlog as a production app would (filtering
below WARNING, loggers cached); what actorkit still logs at WARNING or above is part of its cost.
"""

from __future__ import annotations

import trio

import actorkit as ak

from ..common import Fail, Ping, check, latency_figures, now_ns
from ..registry import Metric, Skip, Target, Workload, register

RESTART = register(
    Workload(
        name="restart",
        title="restart",
        order=50,
        description="a handler raises; time from the fatal send until the restarted actor answers",
        metrics=(
            Metric("p50_us", "p50", "µs", higher_is_better=False),
            Metric("p99_us", "p99", "µs", higher_is_better=False),
        ),
        params={"full": {"n": 1_000}, "quick": {"n": 50}, "tiny": {"n": 10}},
        expected_count=lambda p: p["n"],
        targets=(Target("p50_us", "trio", "<=", 0.6),),
        repeats=1,
        not_applicable={
            "pykka": "no built-in supervision (a failed actor just stops)",
            "thespian": "simpleSystemBase retries the message, then returns it as PoisonMessage;"
            " it does not restart the actor",
        },
        note=(
            "restart: Trio = worker relaunched in a new nursery caught with `except*`; Trio "
            "(alt.) = plain try/except relaunch loop inside the same task. actorkit logs each "
            "crash as `actor_crashed` at ERROR with its traceback, which the WARNING filter "
            "keeps: structlog's default renderer formats it (with rich's traceback, locals "
            "included, when rich is installed, as in the bench session), and that is in the figure."
        ),
    )
)


class Boom(Exception):
    """What the worker's handler raises on Fail."""


class Worker(ak.Actor):
    @ak.on(Fail)
    async def fail(self, msg: Fail) -> None:
        raise Boom("asked to fail")

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> int:
        return msg.n


@RESTART.system("actorkit", label="actorkit OneForOne")
def restart_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    if not hasattr(ak, "Supervisor"):
        raise Skip("actorkit has no ak.Supervisor yet (the supervision API is being built)")
    latencies: list[int] = []

    async def main() -> int:
        tree = ak.Supervisor(
            "sup",
            strategy=ak.OneForOne(max_restarts=1_000_000, within=1.0),
            children=[ak.Child(Worker, name="w")],
        )
        async with ak.open_runtime() as rt:
            await rt.start(tree)
            w = rt.lookup("w")
            for i in range(n):
                t0 = now_ns()
                await w.send(Fail())
                reply = await w.ask(Ping(i), timeout=5)
                latencies.append(now_ns() - t0)
                if reply != i:
                    raise AssertionError(f"reply {reply} to ping {i}")
            return rt.stats().crashes

    crashes = trio.run(main)
    check(crashes, n, "crashes seen by the runtime")
    return {**latency_figures(latencies), "count": len(latencies)}


class _Request:
    __slots__ = ("event", "message", "value")

    def __init__(self, message: Ping) -> None:
        self.message = message
        self.value: int | None = None
        self.event = trio.Event()


class TrioWorker:
    """The worker's state; a restart makes a new one."""

    def handle(self, item: object) -> None:
        if type(item) is Fail:
            raise Boom("asked to fail")
        request: _Request = item  # type: ignore[assignment]
        request.value = request.message.n
        request.event.set()


async def _drive(send: trio.MemorySendChannel[object], n: int) -> list[int]:
    latencies = []
    for i in range(n):
        t0 = now_ns()
        await send.send(Fail())
        request = _Request(Ping(i))
        await send.send(request)
        await request.event.wait()
        latencies.append(now_ns() - t0)
        if request.value != i:
            raise AssertionError(f"reply {request.value} to ping {i}")
    return latencies


@RESTART.system("trio", label="Trio nursery+except*")
def restart_trio_nursery(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    restarts = 0

    async def worker(recv: trio.MemoryReceiveChannel[object]) -> None:
        state = TrioWorker()
        async for item in recv:
            state.handle(item)

    async def supervisor(recv: trio.MemoryReceiveChannel[object]) -> None:
        nonlocal restarts
        crashed = True
        while crashed:
            crashed = False
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(worker, recv)
            except* Boom:
                restarts += 1
                crashed = True

    async def main() -> list[int]:
        send, recv = trio.open_memory_channel[object](1000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(supervisor, recv)
            latencies = await _drive(send, n)
            nursery.cancel_scope.cancel()
        return latencies

    latencies = trio.run(main)
    check(restarts, n, "restarts")
    return {**latency_figures(latencies), "count": len(latencies)}


@RESTART.system("trio_alt", label="Trio try/except loop")
def restart_trio_loop(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    restarts = 0

    async def worker_loop(recv: trio.MemoryReceiveChannel[object]) -> None:
        nonlocal restarts
        while True:
            state = TrioWorker()
            try:
                async for item in recv:
                    state.handle(item)
            except Boom:
                restarts += 1
                continue
            return

    async def main() -> list[int]:
        send, recv = trio.open_memory_channel[object](1000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(worker_loop, recv)
            latencies = await _drive(send, n)
            nursery.cancel_scope.cancel()
        return latencies

    latencies = trio.run(main)
    check(restarts, n, "restarts")
    return {**latency_figures(latencies), "count": len(latencies)}
