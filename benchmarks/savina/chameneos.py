"""Savina 4, Chameneos: C creatures meet in pairs through a mall until M meetings have happened.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark
"Chameneos"; reference code ChameneosAkkaActorBenchmark, after Kaiser & Pradat-Peyre's
chameneos-redux). The mall creates C chameneos of colours red, yellow, blue in turn; each, on
start, sends Meet(colour, self) to the mall. While meetings remain, the mall keeps the first
waiting chameneo and forwards the next one's Meet to it (one meeting); the met chameneo takes
the complement colour, counts the meeting, answers Change(colour) to its partner and meets
again; the partner takes that colour, counts, and meets again. Once M meetings are done the mall
answers every Meet with Exit; each chameneo then reports its count and exits, and the mall ends
when all have. Measures contention on one actor (the mall) with many senders.

Parameters: Savina's defaults C = 100, M = 200,000; here C = 100, M = 10,000 (quick 100 and
1,000; tiny 10 and 50). Each meeting counts twice (once per partner), so the total is 2 M.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import figures, savina_workload

CHAMENEOS = savina_workload(
    "chameneos",
    "Chameneos",
    "C creatures meet in pairs through one mall actor, M meetings",
    {
        "full": {"chameneos": 100, "meetings": 10_000},
        "quick": {"chameneos": 100, "meetings": 1_000},
        "tiny": {"chameneos": 10, "meetings": 50},
    },
    lambda p: 2 * p["meetings"],
    order=40,
)


class Color(enum.Enum):
    RED = 0
    YELLOW = 1
    BLUE = 2
    FADED = 3


def complement(color: Color, other: Color) -> Color:
    if Color.FADED in (color, other):
        return Color.FADED
    if color is other:
        return color
    return Color(3 - color.value - other.value)  # the third colour


@attrs.frozen
class Meet:
    color: Color
    sender: Any


@attrs.frozen
class Change:
    color: Color
    sender: Any


@attrs.frozen
class MeetingCount:
    count: int
    sender: Any


@attrs.frozen
class Exit:
    sender: Any


class MallLogic:
    """The mall's decisions, shared by the three implementations (only sending differs)."""

    def __init__(self, meetings: int, chameneos: int) -> None:
        self.n = meetings
        self.chameneos = chameneos
        self.waiting: Any = None
        self.sum_meetings = 0
        self.faded = 0

    def on_meet(self, msg: Meet) -> tuple[Any, Any]:
        """Whom to send what: (recipient, message) or (None, None)."""
        if self.n > 0:
            if self.waiting is None:
                self.waiting = msg.sender
                return None, None
            self.n -= 1
            waiting, self.waiting = self.waiting, None
            return waiting, msg
        return msg.sender, "exit"

    def on_count(self, msg: MeetingCount) -> bool:
        """True once every chameneo has faded."""
        self.faded += 1
        self.sum_meetings += msg.count
        return self.faded == self.chameneos


# -- actorkit ------------------------------------------------------------------------------


class Chameneo(ak.Actor):
    def __init__(self, mall: ak.ActorRef, color: Color) -> None:
        self.mall, self.color, self.meetings = mall, color, 0

    async def on_start(self) -> None:
        await self.mall.send(Meet(self.color, self.ctx.self))

    @ak.on(Meet)
    async def meet(self, msg: Meet) -> None:
        self.color = complement(self.color, msg.color)
        self.meetings += 1
        await msg.sender.send(Change(self.color, self.ctx.self))
        await self.mall.send(Meet(self.color, self.ctx.self))

    @ak.on(Change)
    async def change(self, msg: Change) -> None:
        self.color = msg.color
        self.meetings += 1
        await self.mall.send(Meet(self.color, self.ctx.self))

    @ak.on(Exit)
    async def exit(self, msg: Exit) -> None:
        self.color = Color.FADED
        await msg.sender.send(MeetingCount(self.meetings, self.ctx.self))
        self.ctx.stop()


class Mall(ak.Actor):
    def __init__(self, meetings: int, chameneos: int, done: trio.Event, out: list[int]) -> None:
        self.logic = MallLogic(meetings, chameneos)
        self.done, self.out = done, out

    async def on_start(self) -> None:
        for i in range(self.logic.chameneos):
            await self.ctx.spawn(Chameneo, self.ctx.self, Color(i % 3))

    @ak.on(Meet)
    async def meet(self, msg: Meet) -> None:
        to, what = self.logic.on_meet(msg)
        if to is not None:
            await to.send(Exit(self.ctx.self) if what == "exit" else what)

    @ak.on(MeetingCount)
    async def count(self, msg: MeetingCount) -> None:
        if self.logic.on_count(msg):
            self.out.append(self.logic.sum_meetings)
            self.done.set()


@CHAMENEOS.system("actorkit")
def chameneos_actorkit(p: dict[str, int]) -> dict[str, float]:
    out: list[int] = []

    async def main() -> float:
        async with ak.open_runtime() as rt:
            done = trio.Event()
            start = now()
            await rt.spawn(Mall, p["meetings"], p["chameneos"], done, out)
            await done.wait()
            return now() - start

    elapsed = trio.run(main)
    check(out, [2 * p["meetings"]], "meetings counted")
    return figures(elapsed, out[0])


# -- pykka ---------------------------------------------------------------------------------


@CHAMENEOS.system("pykka")
def chameneos_pykka(p: dict[str, int]) -> dict[str, float]:
    out: list[int] = []
    with pykka_running() as pykka:

        class PykkaChameneo(pykka.ThreadingActor):
            def __init__(self, mall: Any, color: Color) -> None:
                super().__init__()
                self.mall, self.color, self.meetings = mall, color, 0

            def on_start(self) -> None:
                self.mall.tell(Meet(self.color, self.actor_ref))

            def on_receive(self, msg: Any) -> None:
                if type(msg) is Meet:
                    self.color = complement(self.color, msg.color)
                    self.meetings += 1
                    msg.sender.tell(Change(self.color, self.actor_ref))
                    self.mall.tell(Meet(self.color, self.actor_ref))
                elif type(msg) is Change:
                    self.color = msg.color
                    self.meetings += 1
                    self.mall.tell(Meet(self.color, self.actor_ref))
                elif type(msg) is Exit:
                    self.color = Color.FADED
                    msg.sender.tell(MeetingCount(self.meetings, self.actor_ref))
                    self.stop()

        class PykkaMall(pykka.ThreadingActor):
            def __init__(self, done: ThreadCountdown) -> None:
                super().__init__()
                self.logic = MallLogic(p["meetings"], p["chameneos"])
                self.done = done

            def on_start(self) -> None:
                for i in range(self.logic.chameneos):
                    PykkaChameneo.start(self.actor_ref, Color(i % 3))

            def on_receive(self, msg: Any) -> None:
                if type(msg) is Meet:
                    to, what = self.logic.on_meet(msg)
                    if to is not None:
                        to.tell(Exit(self.actor_ref) if what == "exit" else what)
                elif type(msg) is MeetingCount and self.logic.on_count(msg):
                    out.append(self.logic.sum_meetings)
                    self.stop()
                    self.done.hit()

        done = ThreadCountdown(1)
        start = now()
        PykkaMall.start(done)
        done.wait()
        elapsed = now() - start
    check(out, [2 * p["meetings"]], "meetings counted")
    return figures(elapsed, out[0])


# -- Thespian ------------------------------------------------------------------------------


@CHAMENEOS.system("thespian")
def chameneos_thespian(p: dict[str, int]) -> dict[str, float]:
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianChameneo(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is Meet:
                    self.color = complement(self.color, msg.color)
                    self.meetings += 1
                    self.send(msg.sender, Change(self.color, self.myAddress))
                    self.send(self.mall, Meet(self.color, self.myAddress))
                elif type(msg) is Change:
                    self.color = msg.color
                    self.meetings += 1
                    self.send(self.mall, Meet(self.color, self.myAddress))
                elif type(msg) is Exit:
                    self.color = Color.FADED
                    self.send(msg.sender, MeetingCount(self.meetings, self.myAddress))
                    self.send(self.myAddress, ActorExitRequest())
                elif type(msg) is Color:  # the start message: its colour, from the mall
                    self.mall, self.color, self.meetings = sender, msg, 0
                    self.send(self.mall, Meet(self.color, self.myAddress))

        class ThespianMall(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is Meet:
                    to, what = self.logic.on_meet(msg)
                    if to is not None:
                        self.send(to, Exit(self.myAddress) if what == "exit" else what)
                elif type(msg) is MeetingCount:
                    if self.logic.on_count(msg):
                        self.send(self.requester, self.logic.sum_meetings)
                elif msg == "start":
                    self.requester = sender
                    self.logic = MallLogic(p["meetings"], p["chameneos"])
                    for i in range(self.logic.chameneos):
                        self.send(self.createActor(ThespianChameneo), Color(i % 3))

        start = now()
        mall = system.createActor(ThespianMall)
        total = thespian_ask(system, mall, "start")
        elapsed = now() - start
    check(total, 2 * p["meetings"], "meetings counted")
    return figures(elapsed, total)
