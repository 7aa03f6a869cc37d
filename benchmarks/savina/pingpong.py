"""Savina 1, PingPong: two actors exchange N ping/pong pairs, one message in flight at a time.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "PingPong";
reference code PingPongAkkaActorBenchmark). Ping, on Start or on its own Ping, sends
SendPing(self) to Pong and decrements pingsLeft; Pong answers SendPong(self); Ping, on SendPong,
sends itself a Ping while pingsLeft > 0, else stops Pong and itself. Measures message latency
between two actors (three messages per round trip).

Parameters: Savina's default N = 40,000; here N = 10,000 (quick 1,000, tiny 50).
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import figures, savina_workload

PINGPONG = savina_workload(
    "pingpong",
    "PingPong",
    "two actors, N ping/pong round trips, one in flight",
    {"full": {"n": 10_000}, "quick": {"n": 1_000}, "tiny": {"n": 50}},
    lambda p: p["n"],
    order=10,
)


@attrs.frozen
class Start:
    pass


@attrs.frozen
class PingMessage:
    pass


@attrs.frozen
class Stop:
    pass


@attrs.frozen
class SendPing:
    sender: Any


@attrs.frozen
class SendPong:
    sender: Any


# -- actorkit ------------------------------------------------------------------------------


class Pong(ak.Actor):
    def __init__(self) -> None:
        self.pongs = 0

    @ak.on(SendPing)
    async def ping(self, msg: SendPing) -> None:
        await msg.sender.send(SendPong(self.ctx.self))
        self.pongs += 1

    @ak.on(Stop)
    async def stop(self, msg: Stop) -> None:
        self.ctx.stop()


class Ping(ak.Actor):
    def __init__(self, count: int, pong: ak.ActorRef, done: trio.Event, result: list[int]):
        self.pings_left = count
        self.pong = pong
        self.done = done
        self.result = result

    @ak.on(Start)
    @ak.on(PingMessage)
    async def send_ping(self, msg: object) -> None:
        await self.pong.send(SendPing(self.ctx.self))
        self.pings_left -= 1

    @ak.on(SendPong)
    async def got_pong(self, msg: SendPong) -> None:
        self.result[0] += 1
        if self.pings_left > 0:
            await self.ctx.self.send(PingMessage())
        else:
            await self.pong.send(Stop())
            self.ctx.stop()
            self.done.set()


@PINGPONG.system("actorkit")
def pingpong_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    pongs = [0]

    async def main() -> float:
        async with ak.open_runtime() as rt:
            done = trio.Event()
            start = now()
            pong = await rt.spawn(Pong)
            ping = await rt.spawn(Ping, n, pong, done, pongs)
            await ping.send(Start())
            await done.wait()
            return now() - start

    elapsed = trio.run(main)
    check(pongs[0], n, "pongs received")
    return figures(elapsed, pongs[0])


# -- pykka ---------------------------------------------------------------------------------


@PINGPONG.system("pykka")
def pingpong_pykka(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    pongs = [0]
    with pykka_running() as pykka:

        class PykkaPong(pykka.ThreadingActor):
            def on_receive(self, msg: object) -> None:
                if type(msg) is SendPing:
                    msg.sender.tell(SendPong(self.actor_ref))
                elif type(msg) is Stop:
                    self.stop()

        class PykkaPing(pykka.ThreadingActor):
            def __init__(self, count: int, pong: Any, done: ThreadCountdown) -> None:
                super().__init__()
                self.pings_left, self.pong, self.done = count, pong, done

            def on_receive(self, msg: object) -> None:
                if type(msg) is Start or type(msg) is PingMessage:
                    self.pong.tell(SendPing(self.actor_ref))
                    self.pings_left -= 1
                elif type(msg) is SendPong:
                    pongs[0] += 1
                    if self.pings_left > 0:
                        self.actor_ref.tell(PingMessage())
                    else:
                        self.pong.tell(Stop())
                        self.stop()
                        self.done.hit()

        done = ThreadCountdown(1)
        start = now()
        pong = PykkaPong.start()
        ping = PykkaPing.start(n, pong, done)
        ping.tell(Start())
        done.wait()
        elapsed = now() - start
    check(pongs[0], n, "pongs received")
    return figures(elapsed, pongs[0])


# -- Thespian ------------------------------------------------------------------------------


@PINGPONG.system("thespian")
def pingpong_thespian(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianPong(Actor):
            def receiveMessage(self, msg: object, sender: Any) -> None:  # noqa: N802
                if type(msg) is SendPing:
                    self.send(msg.sender, SendPong(self.myAddress))
                elif type(msg) is Stop:
                    self.send(self.myAddress, ActorExitRequest())

        class ThespianPing(Actor):
            def receiveMessage(self, msg: object, sender: Any) -> None:  # noqa: N802
                if type(msg) is Start:
                    self.requester, self.pongs, self.pings_left = sender, 0, n
                    self.pong = self.createActor(ThespianPong)
                    self.send_ping()
                elif type(msg) is PingMessage:
                    self.send_ping()
                elif type(msg) is SendPong:
                    self.pongs += 1
                    if self.pings_left > 0:
                        self.send(self.myAddress, PingMessage())
                    else:
                        self.send(self.pong, Stop())
                        self.send(self.requester, self.pongs)
                        self.send(self.myAddress, ActorExitRequest())

            def send_ping(self) -> None:
                self.send(self.pong, SendPing(self.myAddress))
                self.pings_left -= 1

        start = now()
        ping = system.createActor(ThespianPing)
        count = thespian_ask(system, ping, Start())
        elapsed = now() - start
    check(count, n, "pongs received")
    return figures(elapsed, count)
