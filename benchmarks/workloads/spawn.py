"""spawn: start N actors until every one of them runs (baselines.md, workloads 3 and 4).

"Runs" means: it has handled its first message (a Hello), which every system can observe the
same way. Timed from the first spawn until the last Hello is handled, in actors/s. The helpers
here are shared with the fan-out workload, which spawns the same way.
"""

from __future__ import annotations

from typing import Any

import trio

import actorkit as ak

from ..common import Countdown, Hello, Msg, ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ..registry import Metric, Target, Workload, register

#: The Trio baseline's mailbox: a memory channel as large as actorkit's default mailbox.
CAPACITY = 1000

SPAWN = register(
    Workload(
        name="spawn",
        title="spawn",
        order=40,
        description="spawn N actors; from the first spawn until every one has run",
        metrics=(Metric("actors_per_s", "actors/s", "actors/s"),),
        params={"full": {"n": 10_000}, "quick": {"n": 1_000}, "tiny": {"n": 50}},
        expected_count=lambda p: p["n"],
        targets=(
            Target("actors_per_s", "trio", ">=", 0.8),
            Target("actors_per_s", "pykka", ">=", 3.0),
        ),
        note=(
            "spawn: an actor counts as spawned once it has handled a first Hello message. Trio = "
            "`nursery.start_soon` of a task reading a new memory channel (1,000); pykka = "
            "`ThreadingActor.start()`; Thespian = `createActor` from a parent actor."
        ),
    )
)


# -- actorkit ------------------------------------------------------------------------------


class Worker(ak.Actor):
    """Counts Hello into ``started`` and Msg into ``finished`` once it has ``expect`` of them."""

    def __init__(self, started: Countdown, finished: Countdown | None = None, expect: int = 0):
        self.started = started
        self.finished = finished
        self.expect = expect
        self.count = 0

    @ak.on(Hello)
    async def hello(self, msg: Hello) -> None:
        self.started.hit()

    @ak.on(Msg)
    async def got(self, msg: Msg) -> None:
        self.count += 1
        if self.count == self.expect:
            self.finished.hit()  # type: ignore[union-attr]


async def spawn_actorkit(
    rt: ak.Runtime, n: int, finished: Countdown | None = None, expect: int = 0
) -> list[ak.ActorRef]:
    """Spawn ``n`` Workers and wait until each has handled its Hello."""
    started = Countdown(n)
    refs = []
    for _ in range(n):
        ref = await rt.spawn(Worker, started, finished, expect)
        await ref.send(Hello())
        refs.append(ref)
    await started.event.wait()
    return refs


@SPAWN.system("actorkit")
def spawn_on_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]

    async def main() -> tuple[float, int]:
        async with ak.open_runtime() as rt:
            start = now()
            refs = await spawn_actorkit(rt, n)
            elapsed = now() - start
            return elapsed, rt.stats().actors_live - len(refs)

    elapsed, others = trio.run(main)
    check(others, 0, "actors other than the spawned ones")
    return {"actors_per_s": n / elapsed, "count": n}


# -- raw Trio ------------------------------------------------------------------------------


class TrioActor:
    """A task plus a memory channel, the hand-written actor the Trio baselines use."""

    def __init__(self, started: Countdown, finished: Countdown | None, expect: int) -> None:
        self.started = started
        self.finished = finished
        self.expect = expect
        self.count = 0

    async def run(self, recv: trio.MemoryReceiveChannel[Any]) -> None:
        async for msg in recv:
            if type(msg) is Msg:
                self.count += 1
                if self.count == self.expect:
                    self.finished.hit()  # type: ignore[union-attr]
            elif type(msg) is Hello:
                self.started.hit()


async def spawn_trio(
    nursery: trio.Nursery, n: int, finished: Countdown | None = None, expect: int = 0
) -> list[trio.MemorySendChannel[Any]]:
    """Start ``n`` task+channel actors and wait until each has handled its Hello."""
    started = Countdown(n)
    mailboxes = []
    for _ in range(n):
        send, recv = trio.open_memory_channel[Any](CAPACITY)
        nursery.start_soon(TrioActor(started, finished, expect).run, recv)
        send.send_nowait(Hello())
        mailboxes.append(send)
    await started.event.wait()
    return mailboxes


@SPAWN.system("trio", label="Trio start_soon")
def spawn_on_trio(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]

    async def main() -> tuple[float, int]:
        async with trio.open_nursery() as nursery:
            start = now()
            mailboxes = await spawn_trio(nursery, n)
            elapsed = now() - start
            nursery.cancel_scope.cancel()
        return elapsed, len(mailboxes)

    elapsed, count = trio.run(main)
    return {"actors_per_s": n / elapsed, "count": count}


# -- pykka ---------------------------------------------------------------------------------


def pykka_worker_class(pykka: Any) -> Any:
    class PykkaWorker(pykka.ThreadingActor):
        def __init__(
            self, started: ThreadCountdown, finished: ThreadCountdown | None, expect: int
        ) -> None:
            super().__init__()
            self.started = started
            self.finished = finished
            self.expect = expect
            self.count = 0

        def on_receive(self, message: object) -> None:
            if type(message) is Msg:
                self.count += 1
                if self.count == self.expect:
                    self.finished.hit()  # type: ignore[union-attr]
            elif type(message) is Hello:
                self.started.hit()

    return PykkaWorker


def spawn_pykka(
    pykka: Any, n: int, finished: ThreadCountdown | None = None, expect: int = 0
) -> list[Any]:
    worker = pykka_worker_class(pykka)
    started = ThreadCountdown(n)
    refs = []
    for _ in range(n):
        ref = worker.start(started, finished, expect)
        ref.tell(Hello())
        refs.append(ref)
    started.wait()
    return refs


@SPAWN.system("pykka")
def spawn_on_pykka(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with pykka_running() as pykka:
        start = now()
        refs = spawn_pykka(pykka, n)
        elapsed = now() - start
    return {"actors_per_s": n / elapsed, "count": len(refs)}


# -- Thespian ------------------------------------------------------------------------------


def thespian_classes(expect: int = 0) -> tuple[Any, Any]:
    """A Worker (Hello, then Msg counting up to ``expect``) and a Parent that drives them.

    The parent, asked ``("spawn", n)``, creates n workers and sends each a Hello, then messages
    itself: Thespian delivers in send order, so that message arrives after every Hello.
    Asked ``("fanout", k)`` next, it sends k Msg to each worker round-robin, one round at a
    time (a round, then a message to itself to go on), and answers when each has all k.
    """
    from thespian.actors import Actor

    class ThespianWorker(Actor):
        hellos = 0  # class-wide, to check the count afterwards
        count = 0

        def receiveMessage(self, message: object, sender: object) -> None:  # noqa: N802
            if type(message) is Msg:
                self.count += 1
                if self.count == expect:
                    self.send(sender, "finished")
            elif type(message) is Hello:
                type(self).hellos += 1

    class Parent(Actor):
        def receiveMessage(self, message: object, sender: object) -> None:  # noqa: N802
            if type(message) is tuple and message[0] == "spawn":
                self.requester = sender
                self.workers = []
                for _ in range(message[1]):
                    worker = self.createActor(ThespianWorker)
                    self.send(worker, Hello())
                    self.workers.append(worker)
                self.send(self.myAddress, "spawned")
            elif message == "spawned":
                self.send(self.requester, len(self.workers))
            elif type(message) is tuple and message[0] == "fanout":
                self.requester, self.rounds, self.round, self.finished = sender, message[1], 0, 0
                self.next_round()
            elif message == "next":
                self.next_round()
            elif message == "finished":
                self.finished += 1
                if self.finished == len(self.workers):
                    self.send(self.requester, self.finished * self.rounds)

        def next_round(self) -> None:
            for worker in self.workers:
                self.send(worker, Msg(self.round))
            self.round += 1
            if self.round < self.rounds:
                self.send(self.myAddress, "next")

    return ThespianWorker, Parent


@SPAWN.system("thespian")
def spawn_on_thespian(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with thespian_system() as system:
        worker, parent_class = thespian_classes()
        parent = system.createActor(parent_class)
        start = now()
        spawned = thespian_ask(system, parent, ("spawn", n))
        elapsed = now() - start
    check(worker.hellos, n, "workers that handled Hello")
    return {"actors_per_s": n / elapsed, "count": spawned}
