"""Savina 2, Counting: a producer sends N increments to a counter, then asks for the count.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "Counting
Actor"; reference code CountingAkkaActorBenchmark). The producer, on its Increment, sends N
Increment messages to the counting actor and then Retrieve(self); the counter replies with
Result(count), which the producer checks, and both exit. Measures one actor's mailbox throughput
when fed by another actor (contrast: the core "tell" workload feeds it from outside).

Parameters: Savina's default N = 1,000,000; here N = 100,000 (quick 10,000, tiny 500). The
producer sends all N from one handler, as in Savina: actorkit's bounded mailbox (1,000) makes it
wait for room; pykka's and Thespian's queues are unbounded.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import figures, savina_workload

COUNTING = savina_workload(
    "counting",
    "Counting",
    "a producer actor sends N increments to a counting actor, then retrieves the count",
    {"full": {"n": 100_000}, "quick": {"n": 10_000}, "tiny": {"n": 500}},
    lambda p: p["n"],
    order=20,
)


@attrs.frozen
class Increment:
    pass


@attrs.frozen
class Retrieve:
    sender: Any


@attrs.frozen
class Result:
    count: int


# -- actorkit ------------------------------------------------------------------------------


class Counter(ak.Actor):
    def __init__(self) -> None:
        self.count = 0

    @ak.on(Increment)
    async def increment(self, msg: Increment) -> None:
        self.count += 1

    @ak.on(Retrieve)
    async def retrieve(self, msg: Retrieve) -> None:
        await msg.sender.send(Result(self.count))
        self.ctx.stop()


class Producer(ak.Actor):
    def __init__(self, n: int, counter: ak.ActorRef, done: trio.Event, out: list[int]) -> None:
        self.n, self.counter, self.done, self.out = n, counter, done, out

    @ak.on(Increment)
    async def produce(self, msg: Increment) -> None:
        counter = self.counter
        for _ in range(self.n):
            await counter.send(msg)
        await counter.send(Retrieve(self.ctx.self))

    @ak.on(Result)
    async def result(self, msg: Result) -> None:
        self.out.append(msg.count)
        self.ctx.stop()
        self.done.set()


@COUNTING.system("actorkit")
def counting_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    out: list[int] = []

    async def main() -> float:
        async with ak.open_runtime() as rt:
            done = trio.Event()
            start = now()
            counter = await rt.spawn(Counter)
            producer = await rt.spawn(Producer, n, counter, done, out)
            await producer.send(Increment())
            await done.wait()
            return now() - start

    elapsed = trio.run(main)
    check(out, [n], "count retrieved")
    return figures(elapsed, out[0])


# -- pykka ---------------------------------------------------------------------------------


@COUNTING.system("pykka")
def counting_pykka(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    out: list[int] = []
    with pykka_running() as pykka:

        class PykkaCounter(pykka.ThreadingActor):
            count = 0

            def on_receive(self, msg: object) -> None:
                if type(msg) is Increment:
                    self.count += 1
                elif type(msg) is Retrieve:
                    msg.sender.tell(Result(self.count))
                    self.stop()

        class PykkaProducer(pykka.ThreadingActor):
            def __init__(self, counter: Any, done: ThreadCountdown) -> None:
                super().__init__()
                self.counter, self.done = counter, done

            def on_receive(self, msg: object) -> None:
                if type(msg) is Increment:
                    counter = self.counter
                    for _ in range(n):
                        counter.tell(msg)
                    counter.tell(Retrieve(self.actor_ref))
                elif type(msg) is Result:
                    out.append(msg.count)
                    self.stop()
                    self.done.hit()

        done = ThreadCountdown(1)
        start = now()
        counter = PykkaCounter.start()
        producer = PykkaProducer.start(counter, done)
        producer.tell(Increment())
        done.wait()
        elapsed = now() - start
    check(out, [n], "count retrieved")
    return figures(elapsed, out[0])


# -- Thespian ------------------------------------------------------------------------------


@COUNTING.system("thespian")
def counting_thespian(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianCounter(Actor):
            count = 0

            def receiveMessage(self, msg: object, sender: Any) -> None:  # noqa: N802
                if type(msg) is Increment:
                    self.count += 1
                elif type(msg) is Retrieve:
                    self.send(msg.sender, Result(self.count))
                    self.send(self.myAddress, ActorExitRequest())

        class ThespianProducer(Actor):
            def receiveMessage(self, msg: object, sender: Any) -> None:  # noqa: N802
                if type(msg) is Increment:
                    self.requester = sender
                    counter = self.createActor(ThespianCounter)
                    for _ in range(n):
                        self.send(counter, msg)
                    self.send(counter, Retrieve(self.myAddress))
                elif type(msg) is Result:
                    self.send(self.requester, msg.count)
                    self.send(self.myAddress, ActorExitRequest())

        start = now()
        producer = system.createActor(ThespianProducer)
        count = thespian_ask(system, producer, Increment())
        elapsed = now() - start
    check(count, n, "count retrieved")
    return figures(elapsed, count)
