"""fan-out: spawn 1,000 actors, then 100 Msg each, round-robin (baselines.md, workload 3).

Two figures from one run: the spawn rate until every actor runs (as in the spawn workload), and
the message rate from the first send until every actor has counted all of its messages.
"""

from __future__ import annotations

import trio

import actorkit as ak

from ..common import Countdown, Msg, ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ..registry import Metric, Workload, register
from .spawn import spawn_actorkit, spawn_pykka, spawn_trio, thespian_classes

FANOUT = register(
    Workload(
        name="fanout",
        title="fan-out",
        order=30,
        description="spawn N actors, then K Msg to each round-robin until all processed",
        metrics=(
            Metric("msgs_per_s", "msgs/s", "msgs/s"),
            Metric("spawn_per_s", "spawn/s", "actors/s"),
        ),
        params={
            "full": {"actors": 1_000, "per_actor": 100},
            "quick": {"actors": 200, "per_actor": 20},
            "tiny": {"actors": 20, "per_actor": 5},
        },
        expected_count=lambda p: p["actors"] * p["per_actor"],
        note=(
            "fan-out: Trio = task + memory channel per actor, `await send` per message; "
            "Thespian = a parent actor sends one round, then messages itself for the next."
        ),
    )
)


def _figures(p: dict[str, int], spawn_s: float, send_s: float, count: int) -> dict[str, float]:
    return {
        "spawn_per_s": p["actors"] / spawn_s,
        "msgs_per_s": p["actors"] * p["per_actor"] / send_s,
        "count": count,
    }


@FANOUT.system("actorkit")
def fanout_actorkit(p: dict[str, int]) -> dict[str, float]:
    actors, per_actor = p["actors"], p["per_actor"]

    async def main() -> tuple[float, float, int]:
        async with ak.open_runtime() as rt:
            finished = Countdown(actors)
            t0 = now()
            refs = await spawn_actorkit(rt, actors, finished, per_actor)
            t1 = now()
            for r in range(per_actor):
                for ref in refs:
                    await ref.send(Msg(r))
            await finished.event.wait()
            t2 = now()
            hellos = rt.stats().messages_processed - actors * per_actor
            return t1 - t0, t2 - t1, hellos

    spawn_s, send_s, hellos = trio.run(main)
    check(hellos, actors, "Hello messages processed")
    return _figures(p, spawn_s, send_s, actors * per_actor)


@FANOUT.system("trio", label="Trio await send")
def fanout_trio(p: dict[str, int]) -> dict[str, float]:
    actors, per_actor = p["actors"], p["per_actor"]

    async def main() -> tuple[float, float]:
        async with trio.open_nursery() as nursery:
            finished = Countdown(actors)
            t0 = now()
            mailboxes = await spawn_trio(nursery, actors, finished, per_actor)
            t1 = now()
            for r in range(per_actor):
                for mailbox in mailboxes:
                    await mailbox.send(Msg(r))
            await finished.event.wait()
            t2 = now()
            nursery.cancel_scope.cancel()
        return t1 - t0, t2 - t1

    spawn_s, send_s = trio.run(main)
    return _figures(p, spawn_s, send_s, actors * per_actor)


@FANOUT.system("pykka")
def fanout_pykka(p: dict[str, int]) -> dict[str, float]:
    actors, per_actor = p["actors"], p["per_actor"]
    with pykka_running() as pykka:
        finished = ThreadCountdown(actors)
        t0 = now()
        refs = spawn_pykka(pykka, actors, finished, per_actor)
        t1 = now()
        for r in range(per_actor):
            for ref in refs:
                ref.tell(Msg(r))
        finished.wait()
        t2 = now()
    return _figures(p, t1 - t0, t2 - t1, actors * per_actor)


@FANOUT.system("thespian")
def fanout_thespian(p: dict[str, int]) -> dict[str, float]:
    actors, per_actor = p["actors"], p["per_actor"]
    with thespian_system() as system:
        worker, parent_class = thespian_classes(expect=per_actor)
        parent = system.createActor(parent_class)
        t0 = now()
        thespian_ask(system, parent, ("spawn", actors))
        t1 = now()
        count = thespian_ask(system, parent, ("fanout", per_actor))
        t2 = now()
    check(worker.hellos, actors, "workers that handled Hello")
    return _figures(p, t1 - t0, t2 - t1, count)
