"""tell: one sender sends N Msg to one actor that counts them (baselines.md, workload 1).

Timed from the first send until the actor has processed them all, in msgs/s. Every system
creates each Msg in the send loop, as a real sender would.
"""

from __future__ import annotations

import trio

import actorkit as ak

from ..common import GetCount, Msg, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ..registry import Metric, Target, Workload, register

#: Mailbox bound shared by the Trio baselines and Thespian's sender (actorkit's default too).
CAPACITY = 1000

TELL = register(
    Workload(
        name="tell",
        title="tell",
        order=10,
        description="one sender, one actor, N Msg; from first send until all processed",
        metrics=(Metric("msgs_per_s", "msgs/s", "msgs/s"),),
        params={"full": {"n": 200_000}, "quick": {"n": 20_000}, "tiny": {"n": 2_000}},
        expected_count=lambda p: p["n"],
        targets=(
            Target("msgs_per_s", "trio", ">=", 3.0),
            Target("msgs_per_s", "pykka", ">=", 3.0),
            Target("msgs_per_s", "thespian", ">=", 5.0),
        ),
        note=(
            "tell: Trio = task + memory channel (1,000), `await send` per message; Trio (alt.) = "
            "`send_nowait` + receiver draining with `receive_nowait`; Thespian = actor->actor, "
            "the sender sends 1,000 then messages itself to continue (its queue is a list popped "
            "from the front, quadratic if 200k are queued at once)."
        ),
    )
)


class Counter(ak.Actor):
    def __init__(self) -> None:
        self.count = 0

    @ak.on(Msg)
    async def got(self, msg: Msg) -> None:
        self.count += 1

    @ak.on(GetCount)
    async def report(self, msg: GetCount) -> int:
        return self.count


@TELL.system("actorkit")
def tell_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]

    async def main() -> tuple[float, int]:
        async with ak.open_runtime() as rt:
            ref = await rt.spawn(Counter)
            start = now()
            for i in range(n):
                await ref.send(Msg(i))
            count = await ref.ask(GetCount())
            return now() - start, count

    elapsed, count = trio.run(main)
    check(count, n, "messages counted")
    return {"msgs_per_s": n / elapsed, "count": count}


@TELL.system("trio", label="Trio await send")
def tell_trio(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    count = 0

    async def main() -> float:
        send, recv = trio.open_memory_channel[Msg](CAPACITY)
        done = trio.Event()

        async def actor() -> None:
            nonlocal count
            async for _msg in recv:
                count += 1
                if count == n:
                    done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor)
            start = now()
            for i in range(n):
                await send.send(Msg(i))
            await done.wait()
            elapsed = now() - start
            nursery.cancel_scope.cancel()
        return elapsed

    elapsed = trio.run(main)
    check(count, n, "messages counted")
    return {"msgs_per_s": n / elapsed, "count": count}


@TELL.system("trio_alt", label="Trio send_nowait+drain")
def tell_trio_drain(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    count = 0

    async def main() -> float:
        send, recv = trio.open_memory_channel[Msg](CAPACITY)
        done = trio.Event()

        async def actor() -> None:
            nonlocal count
            while True:
                await recv.receive()  # parks when empty; one scheduler pass per batch
                count += 1
                while True:
                    try:
                        recv.receive_nowait()
                    except trio.WouldBlock:
                        break
                    count += 1
                if count == n:
                    done.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor)
            start = now()
            for i in range(n):
                msg = Msg(i)
                try:
                    send.send_nowait(msg)
                except trio.WouldBlock:
                    await send.send(msg)
            await done.wait()
            elapsed = now() - start
            nursery.cancel_scope.cancel()
        return elapsed

    elapsed = trio.run(main)
    check(count, n, "messages counted")
    return {"msgs_per_s": n / elapsed, "count": count}


@TELL.system("pykka")
def tell_pykka(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with pykka_running() as pykka:

        class PykkaCounter(pykka.ThreadingActor):
            def __init__(self) -> None:
                super().__init__()
                self.count = 0

            def on_receive(self, message: object) -> int | None:
                if type(message) is Msg:
                    self.count += 1
                    return None
                return self.count

        ref = PykkaCounter.start()
        start = now()
        for i in range(n):
            ref.tell(Msg(i))
        count = ref.ask(GetCount())
        elapsed = now() - start
    check(count, n, "messages counted")
    return {"msgs_per_s": n / elapsed, "count": count}


@TELL.system("thespian")
def tell_thespian(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with thespian_system() as system:
        from thespian.actors import Actor

        class ThespianCounter(Actor):
            count = 0

            def receiveMessage(self, message: object, sender: object) -> None:  # noqa: N802
                if type(message) is Msg:
                    self.count += 1
                elif type(message) is GetCount:
                    self.send(sender, self.count)

        class Sender(Actor):
            def receiveMessage(self, message: object, sender: object) -> None:  # noqa: N802
                if type(message) is tuple:  # ("start", counter): from outside
                    self.requester, self.counter, self.sent = sender, message[1], 0
                    self.send_batch()
                elif message == "continue":
                    self.send_batch()
                elif type(message) is int:  # the counter's count
                    self.send(self.requester, message)

            def send_batch(self) -> None:
                end = min(self.sent + CAPACITY, n)
                for i in range(self.sent, end):
                    self.send(self.counter, Msg(i))
                self.sent = end
                if end < n:
                    self.send(self.myAddress, "continue")
                else:
                    self.send(self.counter, GetCount())

        counter = system.createActor(ThespianCounter)
        sender = system.createActor(Sender)
        start = now()
        count = thespian_ask(system, sender, ("start", counter))
        elapsed = now() - start
    check(count, n, "messages counted")
    return {"msgs_per_s": n / elapsed, "count": count}
