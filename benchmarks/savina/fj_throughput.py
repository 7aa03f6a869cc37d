"""Savina 6, Fork-Join (throughput): N messages to each of A actors, each doing light work.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "Fork Join
(throughput)"; reference code ThroughputAkkaActorBenchmark). The main program sends N rounds of
one message to each of A actors; each actor, per message, runs ``performComputation`` (sin²θ of
37.2) and exits after its N-th. Measures mailbox throughput across many actors at once.

Parameters: Savina's defaults A = 60, N = 10,000; here A = 60, N = 1,000 (quick 60 and 100;
tiny 6 and 10).
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import Countdown, ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import compute, figures, savina_workload

FJ_THROUGHPUT = savina_workload(
    "fj_throughput",
    "Fork-Join (throughput)",
    "N messages round-robin to each of A actors, light computation per message",
    {
        "full": {"actors": 60, "messages": 1_000},
        "quick": {"actors": 60, "messages": 100},
        "tiny": {"actors": 6, "messages": 10},
    },
    lambda p: p["actors"] * p["messages"],
    order=60,
)


@attrs.frozen
class Work:
    pass


# -- actorkit ------------------------------------------------------------------------------


class ThroughputActor(ak.Actor):
    def __init__(self, total: int, finished: Countdown, processed: list[int]) -> None:
        self.total, self.finished, self.processed, self.count = total, finished, processed, 0

    @ak.on(Work)
    async def work(self, msg: Work) -> None:
        self.count += 1
        compute()
        if self.count == self.total:
            self.processed[0] += self.count
            self.ctx.stop()
            self.finished.hit()


@FJ_THROUGHPUT.system("actorkit")
def fj_throughput_actorkit(p: dict[str, int]) -> dict[str, float]:
    actors, messages = p["actors"], p["messages"]
    processed = [0]

    async def main() -> float:
        async with ak.open_runtime() as rt:
            finished = Countdown(actors)
            start = now()
            refs = [
                await rt.spawn(ThroughputActor, messages, finished, processed)
                for _ in range(actors)
            ]
            message = Work()
            for _ in range(messages):
                for ref in refs:
                    await ref.send(message)
            await finished.event.wait()
            return now() - start

    elapsed = trio.run(main)
    check(processed[0], actors * messages, "messages processed")
    return figures(elapsed, processed[0])


# -- pykka ---------------------------------------------------------------------------------


@FJ_THROUGHPUT.system("pykka")
def fj_throughput_pykka(p: dict[str, int]) -> dict[str, float]:
    actors, messages = p["actors"], p["messages"]
    processed = [0]
    with pykka_running() as pykka:

        class PykkaThroughput(pykka.ThreadingActor):
            def __init__(self, finished: ThreadCountdown) -> None:
                super().__init__()
                self.finished, self.count = finished, 0

            def on_receive(self, msg: Any) -> None:
                self.count += 1
                compute()
                if self.count == messages:
                    processed[0] += self.count
                    self.stop()
                    self.finished.hit()

        finished = ThreadCountdown(actors)
        start = now()
        refs = [PykkaThroughput.start(finished) for _ in range(actors)]
        message = Work()
        for _ in range(messages):
            for ref in refs:
                ref.tell(message)
        finished.wait()
        elapsed = now() - start
    check(processed[0], actors * messages, "messages processed")
    return figures(elapsed, processed[0])


# -- Thespian ------------------------------------------------------------------------------


@FJ_THROUGHPUT.system("thespian")
def fj_throughput_thespian(p: dict[str, int]) -> dict[str, float]:
    actors, messages = p["actors"], p["messages"]
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianThroughput(Actor):
            count = 0

            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is Work:
                    self.count += 1
                    compute()
                    if self.count == messages:
                        self.send(sender, self.count)
                        self.send(self.myAddress, ActorExitRequest())

        class Main(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if msg == "start":
                    self.requester, self.finished, self.processed = sender, 0, 0
                    refs = [self.createActor(ThespianThroughput) for _ in range(actors)]
                    message = Work()
                    for _ in range(messages):
                        for ref in refs:
                            self.send(ref, message)
                elif type(msg) is int:
                    self.finished += 1
                    self.processed += msg
                    if self.finished == actors:
                        self.send(self.requester, self.processed)

        start = now()
        main = system.createActor(Main)
        processed = thespian_ask(system, main, "start")
        elapsed = now() - start
    check(processed, actors * messages, "messages processed")
    return figures(elapsed, processed)
