"""ask: N sequential request/reply round trips (baselines.md, workload 2).

Each round trip is timed on its own (p50/p99 in µs); round trips/s is N over the whole loop.
The reply is the request's number, checked on every round trip.
"""

from __future__ import annotations

import trio

import actorkit as ak

from ..common import Ping, check, latency_figures, now_ns
from ..peers import pykka_running, thespian_ask, thespian_system
from ..registry import Metric, Target, Workload, register

ASK = register(
    Workload(
        name="ask",
        title="ask",
        order=20,
        description="N sequential request/reply round trips",
        metrics=(
            Metric("rt_per_s", "rt/s", "rt/s"),
            Metric("p50_us", "p50", "µs", higher_is_better=False),
            Metric("p99_us", "p99", "µs", higher_is_better=False),
        ),
        params={"full": {"n": 20_000}, "quick": {"n": 2_000}, "tiny": {"n": 200}},
        expected_count=lambda p: p["n"],
        targets=(
            Target("rt_per_s", "trio", ">=", 0.9),
            Target("rt_per_s", "pykka", ">=", 1.5),
        ),
        note=(
            "ask: actorkit uses `ref.ask(msg)` with its default 5 s timeout; Trio = request "
            "carrying a one-shot Event reply over a memory channel; pykka = `ref.ask()` from "
            "the main thread; Thespian = actor->actor inside the system (a client actor times "
            "each round trip)."
        ),
    )
)


class Echo(ak.Actor):
    @ak.on(Ping)
    async def ping(self, msg: Ping) -> int:
        return msg.n


def _figures(n: int, total_ns: int, latencies: list[int]) -> dict[str, float]:
    return {"rt_per_s": n / (total_ns / 1e9), **latency_figures(latencies), "count": n}


@ASK.system("actorkit")
def ask_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    latencies: list[int] = []

    async def main() -> int:
        async with ak.open_runtime() as rt:
            ref = await rt.spawn(Echo)
            start = now_ns()
            for i in range(n):
                t0 = now_ns()
                reply = await ref.ask(Ping(i))
                latencies.append(now_ns() - t0)
                if reply != i:
                    raise AssertionError(f"reply {reply} to ping {i}")
            return now_ns() - start

    total = trio.run(main)
    check(len(latencies), n, "round trips")
    return _figures(n, total, latencies)


class _Request:
    __slots__ = ("event", "message", "value")

    def __init__(self, message: Ping) -> None:
        self.message = message
        self.value: int | None = None
        self.event = trio.Event()


@ASK.system("trio", label="Trio Event reply")
def ask_trio(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    latencies: list[int] = []

    async def main() -> int:
        send, recv = trio.open_memory_channel[_Request](1000)

        async def server() -> None:
            async for request in recv:
                request.value = request.message.n
                request.event.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server)
            start = now_ns()
            for i in range(n):
                t0 = now_ns()
                request = _Request(Ping(i))
                await send.send(request)
                await request.event.wait()
                latencies.append(now_ns() - t0)
                if request.value != i:
                    raise AssertionError(f"reply {request.value} to ping {i}")
            total = now_ns() - start
            nursery.cancel_scope.cancel()
        return total

    total = trio.run(main)
    check(len(latencies), n, "round trips")
    return _figures(n, total, latencies)


@ASK.system("pykka")
def ask_pykka(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    latencies: list[int] = []
    with pykka_running() as pykka:

        class PykkaEcho(pykka.ThreadingActor):
            def on_receive(self, message: Ping) -> int:
                return message.n

        ref = PykkaEcho.start()
        start = now_ns()
        for i in range(n):
            t0 = now_ns()
            reply = ref.ask(Ping(i))
            latencies.append(now_ns() - t0)
            if reply != i:
                raise AssertionError(f"reply {reply} to ping {i}")
        total = now_ns() - start
    check(len(latencies), n, "round trips")
    return _figures(n, total, latencies)


@ASK.system("thespian")
def ask_thespian(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with thespian_system() as system:
        from thespian.actors import Actor

        class ThespianEcho(Actor):
            def receiveMessage(self, message: object, sender: object) -> None:  # noqa: N802
                if type(message) is Ping:
                    self.send(sender, message.n)

        class Client(Actor):
            def receiveMessage(self, message: object, sender: object) -> None:  # noqa: N802
                if type(message) is tuple:  # ("start", echo): from outside
                    self.requester, self.echo = sender, message[1]
                    self.latencies: list[int] = []
                    self.next = 0
                    self.start = now_ns()
                    self.ask_next()
                elif type(message) is int:
                    self.latencies.append(now_ns() - self.t0)
                    if message != self.next:
                        raise AssertionError(f"reply {message} to ping {self.next}")
                    self.next += 1
                    if self.next < n:
                        self.ask_next()
                    else:
                        total = now_ns() - self.start
                        self.send(self.requester, (total, tuple(self.latencies)))

            def ask_next(self) -> None:
                self.t0 = now_ns()
                self.send(self.echo, Ping(self.next))

        echo = system.createActor(ThespianEcho)
        client = system.createActor(Client)
        total, latencies = thespian_ask(system, client, ("start", echo))
    check(len(latencies), n, "round trips")
    return _figures(n, total, list(latencies))
