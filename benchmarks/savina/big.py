"""Savina 5, Big: W actors each ping random neighbours N times; every ping is answered.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "Big";
reference code BigAkkaActorBenchmark). Every worker learns the list of all workers; each starts
on a Pong(-1). On a Pong, a worker that has sent N pings tells the sink it is done, otherwise it
pings a neighbour chosen by its own seeded random generator; on a Ping it answers Pong to the
pinger. When all W are done the sink tells every worker to exit. Measures many-to-many
messaging where every actor is busy at once.

Parameters: Savina's defaults W = 120, N = 20,000; here W = 120, N = 400 (quick 120 and 40;
tiny 10 and 5). Random neighbours come from ``random.Random(worker id)``, as Savina seeds its
PseudoRandom with the id.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import figures, savina_workload

BIG = savina_workload(
    "big",
    "Big",
    "W actors each ping random neighbours N times, every ping answered",
    {
        "full": {"workers": 120, "pings": 400},
        "quick": {"workers": 120, "pings": 40},
        "tiny": {"workers": 10, "pings": 5},
    },
    lambda p: p["workers"] * p["pings"],
    order=50,
)


@attrs.frozen
class Neighbors:
    actors: tuple[Any, ...]


@attrs.frozen
class PingMessage:
    sender: int


@attrs.frozen
class PongMessage:
    sender: int


@attrs.frozen
class ExitMessage:
    pass


class BigLogic:
    """One worker's state: pings sent, whom it expects a pong from, its random generator."""

    def __init__(self, worker_id: int, pings: int) -> None:
        self.id = worker_id
        self.pings = pings
        self.sent = 0
        self.expected = -1
        self.random = random.Random(worker_id)
        self.ping_message = PingMessage(worker_id)
        self.pong_message = PongMessage(worker_id)
        self.neighbors: tuple[Any, ...] = ()

    def on_pong(self, msg: PongMessage) -> Any:
        """The neighbour to ping next, or None when this worker has sent all its pings."""
        if msg.sender != self.expected:
            raise AssertionError(f"pong from {msg.sender}, expected {self.expected}")
        if self.sent == self.pings:
            return None
        target = self.random.randrange(len(self.neighbors))
        self.expected = target
        self.sent += 1
        return self.neighbors[target]


# -- actorkit ------------------------------------------------------------------------------


class BigActor(ak.Actor):
    def __init__(self, worker_id: int, pings: int, sink: ak.ActorRef, total: list[int]) -> None:
        self.logic, self.sink, self.total = BigLogic(worker_id, pings), sink, total

    @ak.on(PingMessage)
    async def ping(self, msg: PingMessage) -> None:
        await self.logic.neighbors[msg.sender].send(self.logic.pong_message)

    @ak.on(PongMessage)
    async def pong(self, msg: PongMessage) -> None:
        target = self.logic.on_pong(msg)
        if target is None:
            self.total[0] += self.logic.sent
            await self.sink.send(ExitMessage())
        else:
            await target.send(self.logic.ping_message)

    @ak.on(Neighbors)
    async def neighbors(self, msg: Neighbors) -> None:
        self.logic.neighbors = msg.actors

    @ak.on(ExitMessage)
    async def exit(self, msg: ExitMessage) -> None:
        self.ctx.stop()


class Sink(ak.Actor):
    def __init__(self, workers: int, done: trio.Event) -> None:
        self.workers, self.done, self.exited = workers, done, 0
        self.neighbors: tuple[ak.ActorRef, ...] = ()

    @ak.on(ExitMessage)
    async def exit(self, msg: ExitMessage) -> None:
        self.exited += 1
        if self.exited == self.workers:
            for worker in self.neighbors:
                await worker.send(msg)
            self.ctx.stop()
            self.done.set()

    @ak.on(Neighbors)
    async def neighbours(self, msg: Neighbors) -> None:
        self.neighbors = msg.actors


@BIG.system("actorkit")
def big_actorkit(p: dict[str, int]) -> dict[str, float]:
    workers, pings = p["workers"], p["pings"]
    total = [0]

    async def main() -> float:
        async with ak.open_runtime() as rt:
            done = trio.Event()
            start = now()
            sink = await rt.spawn(Sink, workers, done)
            actors = tuple(
                [await rt.spawn(BigActor, i, pings, sink, total) for i in range(workers)]
            )
            neighbors = Neighbors(actors)
            await sink.send(neighbors)
            for actor in actors:
                await actor.send(neighbors)
            for actor in actors:
                await actor.send(PongMessage(-1))
            await done.wait()
            return now() - start

    elapsed = trio.run(main)
    check(total[0], workers * pings, "pings sent")
    return figures(elapsed, total[0])


# -- pykka ---------------------------------------------------------------------------------


@BIG.system("pykka")
def big_pykka(p: dict[str, int]) -> dict[str, float]:
    workers, pings = p["workers"], p["pings"]
    total = [0]
    with pykka_running() as pykka:

        class PykkaBig(pykka.ThreadingActor):
            def __init__(self, worker_id: int, sink: Any) -> None:
                super().__init__()
                self.logic, self.sink = BigLogic(worker_id, pings), sink

            def on_receive(self, msg: Any) -> None:
                if type(msg) is PingMessage:
                    self.logic.neighbors[msg.sender].tell(self.logic.pong_message)
                elif type(msg) is PongMessage:
                    target = self.logic.on_pong(msg)
                    if target is None:
                        total[0] += self.logic.sent
                        self.sink.tell(ExitMessage())
                    else:
                        target.tell(self.logic.ping_message)
                elif type(msg) is Neighbors:
                    self.logic.neighbors = msg.actors
                elif type(msg) is ExitMessage:
                    self.stop()

        class PykkaSink(pykka.ThreadingActor):
            def __init__(self, done: ThreadCountdown) -> None:
                super().__init__()
                self.done, self.exited = done, 0

            def on_receive(self, msg: Any) -> None:
                if type(msg) is ExitMessage:
                    self.exited += 1
                    if self.exited == workers:
                        for worker in self.neighbors:
                            worker.tell(msg)
                        self.stop()
                        self.done.hit()
                elif type(msg) is Neighbors:
                    self.neighbors = msg.actors

        done = ThreadCountdown(1)
        start = now()
        sink = PykkaSink.start(done)
        actors = tuple(PykkaBig.start(i, sink) for i in range(workers))
        neighbors = Neighbors(actors)
        sink.tell(neighbors)
        for actor in actors:
            actor.tell(neighbors)
        for actor in actors:
            actor.tell(PongMessage(-1))
        done.wait()
        elapsed = now() - start
    check(total[0], workers * pings, "pings sent")
    return figures(elapsed, total[0])


# -- Thespian ------------------------------------------------------------------------------


@BIG.system("thespian")
def big_thespian(p: dict[str, int]) -> dict[str, float]:
    workers, pings = p["workers"], p["pings"]
    total = [0]
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianBig(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is PingMessage:
                    self.send(self.logic.neighbors[msg.sender], self.logic.pong_message)
                elif type(msg) is PongMessage:
                    target = self.logic.on_pong(msg)
                    if target is None:
                        total[0] += self.logic.sent
                        self.send(self.sink, ExitMessage())
                    else:
                        self.send(target, self.logic.ping_message)
                elif type(msg) is Neighbors:
                    self.logic.neighbors = msg.actors
                elif type(msg) is ExitMessage:
                    self.send(self.myAddress, ActorExitRequest())
                elif type(msg) is tuple:  # (id, sink): its configuration, from the main actor
                    self.logic, self.sink = BigLogic(msg[0], pings), msg[1]

        class ThespianSink(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is ExitMessage:
                    self.exited += 1
                    if self.exited == workers:
                        for worker in self.neighbors:
                            self.send(worker, msg)
                        self.send(self.requester, self.exited)
                elif type(msg) is Neighbors:
                    self.neighbors = msg.actors
                elif msg == "start":
                    self.requester, self.exited = sender, 0
                    actors = tuple(self.createActor(ThespianBig) for _ in range(workers))
                    for i, actor in enumerate(actors):
                        self.send(actor, (i, self.myAddress))
                    neighbors = Neighbors(actors)
                    self.send(self.myAddress, neighbors)
                    for actor in actors:
                        self.send(actor, neighbors)
                    for actor in actors:
                        self.send(actor, PongMessage(-1))

        start = now()
        sink = system.createActor(ThespianSink)
        exited = thespian_ask(system, sink, "start")
        elapsed = now() - start
    check((exited, total[0]), (workers, workers * pings), "workers done and pings sent")
    return figures(elapsed, total[0])
