"""Savina 3, ThreadRing: a token passed R times around a ring of N actors.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "Thread
Ring"; reference code ThreadRingAkkaActorBenchmark). Each actor learns its successor from a
Data message; the first gets Ping(R). An actor with Ping(k > 0) passes Ping(k - 1) on; with
Ping(0) it sends Exit(N) on instead; an actor with Exit(k) passes Exit(k - 1) on if k > 0 and
exits. Measures message passing with context switching between many actors, one in flight.

Parameters: Savina's defaults N = 100 actors, R = 100,000 hops; here N = 100, R = 20,000
(quick 100 and 2,000; tiny 10 and 100).
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import Countdown, ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import figures, savina_workload

THREADRING = savina_workload(
    "threadring",
    "ThreadRing",
    "a token passed R times around a ring of N actors",
    {
        "full": {"actors": 100, "hops": 20_000},
        "quick": {"actors": 100, "hops": 2_000},
        "tiny": {"actors": 10, "hops": 100},
    },
    lambda p: p["hops"],
    order=30,
)


@attrs.frozen
class Data:
    next_actor: Any


@attrs.frozen
class PingMessage:
    pings_left: int


@attrs.frozen
class ExitMessage:
    exits_left: int


# -- actorkit ------------------------------------------------------------------------------


class RingActor(ak.Actor):
    def __init__(self, ring_size: int, exited: Countdown, hops: list[int]) -> None:
        self.ring_size, self.exited, self.hops = ring_size, exited, hops
        self.next_actor: ak.ActorRef | None = None

    @ak.on(Data)
    async def data(self, msg: Data) -> None:
        self.next_actor = msg.next_actor

    @ak.on(PingMessage)
    async def ping(self, msg: PingMessage) -> None:
        if msg.pings_left > 0:
            self.hops[0] += 1
            await self.next_actor.send(PingMessage(msg.pings_left - 1))  # type: ignore[union-attr]
        else:
            await self.next_actor.send(ExitMessage(self.ring_size))  # type: ignore[union-attr]

    @ak.on(ExitMessage)
    async def exit(self, msg: ExitMessage) -> None:
        if msg.exits_left > 0:
            await self.next_actor.send(ExitMessage(msg.exits_left - 1))  # type: ignore[union-attr]
        self.ctx.stop()
        self.exited.hit()


@THREADRING.system("actorkit")
def threadring_actorkit(p: dict[str, int]) -> dict[str, float]:
    size, hops = p["actors"], p["hops"]
    counted = [0]

    async def main() -> float:
        async with ak.open_runtime() as rt:
            exited = Countdown(size)
            start = now()
            ring = [await rt.spawn(RingActor, size, exited, counted) for _ in range(size)]
            for i, actor in enumerate(ring):
                await actor.send(Data(ring[(i + 1) % size]))
            await ring[0].send(PingMessage(hops))
            await exited.event.wait()
            return now() - start

    elapsed = trio.run(main)
    check(counted[0], hops, "hops")
    return figures(elapsed, counted[0])


# -- pykka ---------------------------------------------------------------------------------


@THREADRING.system("pykka")
def threadring_pykka(p: dict[str, int]) -> dict[str, float]:
    size, hops = p["actors"], p["hops"]
    counted = [0]
    with pykka_running() as pykka:

        class PykkaRingActor(pykka.ThreadingActor):
            def __init__(self, exited: ThreadCountdown) -> None:
                super().__init__()
                self.exited = exited

            def on_receive(self, msg: Any) -> None:
                if type(msg) is PingMessage:
                    if msg.pings_left > 0:
                        counted[0] += 1
                        self.next_actor.tell(PingMessage(msg.pings_left - 1))
                    else:
                        self.next_actor.tell(ExitMessage(size))
                elif type(msg) is ExitMessage:
                    if msg.exits_left > 0:
                        # The last Exit reaches an actor that has exited: as in Akka, it is
                        # dropped (pykka raises instead).
                        with contextlib.suppress(pykka.ActorDeadError):
                            self.next_actor.tell(ExitMessage(msg.exits_left - 1))
                    self.stop()
                    self.exited.hit()
                elif type(msg) is Data:
                    self.next_actor = msg.next_actor

        exited = ThreadCountdown(size)
        start = now()
        ring = [PykkaRingActor.start(exited) for _ in range(size)]
        for i, actor in enumerate(ring):
            actor.tell(Data(ring[(i + 1) % size]))
        ring[0].tell(PingMessage(hops))
        exited.wait()
        elapsed = now() - start
    check(counted[0], hops, "hops")
    return figures(elapsed, counted[0])


# -- Thespian ------------------------------------------------------------------------------


@THREADRING.system("thespian")
def threadring_thespian(p: dict[str, int]) -> dict[str, float]:
    size, hops = p["actors"], p["hops"]
    counted = [0]
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianRingActor(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is PingMessage:
                    if msg.pings_left > 0:
                        counted[0] += 1
                        self.send(self.next_actor, PingMessage(msg.pings_left - 1))
                    else:
                        self.send(self.next_actor, ExitMessage(size))
                elif type(msg) is ExitMessage:
                    if msg.exits_left > 0:
                        self.send(self.next_actor, ExitMessage(msg.exits_left - 1))
                    self.send(self.parent, "exited")
                    self.send(self.myAddress, ActorExitRequest())
                elif type(msg) is Data:
                    self.next_actor, self.parent = msg.next_actor, sender

        class Main(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if msg == "start":
                    self.requester, self.exited = sender, 0
                    ring = [self.createActor(ThespianRingActor) for _ in range(size)]
                    for i, actor in enumerate(ring):
                        self.send(actor, Data(ring[(i + 1) % size]))
                    self.send(ring[0], PingMessage(hops))
                elif msg == "exited":
                    self.exited += 1
                    if self.exited == size:
                        self.send(self.requester, self.exited)

        start = now()
        main = system.createActor(Main)
        exited = thespian_ask(system, main, "start")
        elapsed = now() - start
    check((exited, counted[0]), (size, hops), "exits and hops")
    return figures(elapsed, counted[0])
