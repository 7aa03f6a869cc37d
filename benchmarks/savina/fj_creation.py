"""Savina 7, Fork-Join (actor creation): create N actors, each handles one message and exits.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "Fork Join
(actor creation)"; reference code ForkJoinAkkaActorBenchmark). The main program, N times,
creates an actor and sends it one message; the actor runs ``performComputation`` (sin²θ of
37.2) and exits. Measures the cost of creating, starting and ending actors.

Parameters: Savina's default N = 40,000; here N = 5,000 (quick 500, tiny 20): pykka starts a
thread per actor, which this machine class does at a few thousand per second.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import Countdown, ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import compute, figures, savina_workload

FJ_CREATION = savina_workload(
    "fj_creation",
    "Fork-Join (creation)",
    "create N actors, each handles one message with light computation and exits",
    {"full": {"n": 5_000}, "quick": {"n": 500}, "tiny": {"n": 20}},
    lambda p: p["n"],
    order=70,
)


@attrs.frozen
class Work:
    pass


# -- actorkit ------------------------------------------------------------------------------


class ForkJoinActor(ak.Actor):
    def __init__(self, finished: Countdown) -> None:
        self.finished = finished

    @ak.on(Work)
    async def work(self, msg: Work) -> None:
        compute()
        self.ctx.stop()
        self.finished.hit()


@FJ_CREATION.system("actorkit")
def fj_creation_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]

    async def main() -> tuple[float, int]:
        async with ak.open_runtime() as rt:
            finished = Countdown(n)
            message = Work()
            start = now()
            for _ in range(n):
                ref = await rt.spawn(ForkJoinActor, finished)
                await ref.send(message)
            await finished.event.wait()
            elapsed = now() - start
            return elapsed, n - finished.left

    elapsed, count = trio.run(main)
    return figures(elapsed, count)


# -- pykka ---------------------------------------------------------------------------------


@FJ_CREATION.system("pykka")
def fj_creation_pykka(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with pykka_running() as pykka:

        class PykkaForkJoin(pykka.ThreadingActor):
            def __init__(self, finished: ThreadCountdown) -> None:
                super().__init__()
                self.finished = finished

            def on_receive(self, msg: Any) -> None:
                compute()
                self.stop()
                self.finished.hit()

        finished = ThreadCountdown(n)
        message = Work()
        start = now()
        for _ in range(n):
            PykkaForkJoin.start(finished).tell(message)
        finished.wait()
        elapsed = now() - start
        count = n - finished.left
    return figures(elapsed, count)


# -- Thespian ------------------------------------------------------------------------------


@FJ_CREATION.system("thespian")
def fj_creation_thespian(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianForkJoin(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is Work:
                    compute()
                    self.send(sender, "done")
                    self.send(self.myAddress, ActorExitRequest())

        class Main(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if msg == "start":
                    self.requester, self.finished = sender, 0
                    message = Work()
                    for _ in range(n):
                        self.send(self.createActor(ThespianForkJoin), message)
                elif msg == "done":
                    self.finished += 1
                    if self.finished == n:
                        self.send(self.requester, self.finished)

        start = now()
        main = system.createActor(Main)
        count = thespian_ask(system, main, "start")
        elapsed = now() - start
    check(count, n, "actors that did their work")
    return figures(elapsed, count)
