"""Supervision on the clock: backoff, restart intensity, escalation and SupervisorGaveUp, circuits.

Every test runs on Trio's virtual clock (the ``autojump_clock`` fixture below) and asserts exact
virtual times; delays are binary fractions so that sums of them are exact floats.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

import actorkit as ak


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline whenever every task is blocked."""
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Keep actorkit's events (crash tracebacks) from being rendered; tests capture their own."""
    with capture_logs():
        yield


# -- messages and actors -------------------------------------------------------------------


@attrs.frozen
class Crash:
    text: str = "boom"


@attrs.frozen
class Exit:
    pass


@attrs.frozen
class Incr:
    pass


@attrs.frozen
class Get:
    pass


@attrs.define
class Journal:
    """Instances made per name, when each was made, and the exceptions raised."""

    created: Counter[str] = attrs.Factory(Counter)
    made_at: dict[str, list[float]] = attrs.Factory(dict)
    raised: list[BaseException] = attrs.Factory(list)
    stops: list[tuple[str, BaseException | None]] = attrs.Factory(list)


class Worker(ak.Actor):
    """Counts its instances and messages; crashes or exits on request."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        name = self.ctx.name
        journal.created[name] += 1
        journal.made_at.setdefault(name, []).append(trio.current_time())
        self.instance = journal.created[name]
        self.count = 0

    async def on_stop(self, reason: BaseException | None) -> None:
        self.journal.stops.append((self.ctx.name, reason))

    @ak.on(Crash)
    async def crash(self, msg: Crash) -> None:
        error = RuntimeError(msg.text)
        self.journal.raised.append(error)
        raise error

    @ak.on(Exit)
    async def exit(self, msg: Exit) -> None:
        self.ctx.stop()

    @ak.on(Incr)
    async def incr(self, msg: Incr) -> int:
        self.count += 1
        return self.count

    @ak.on(Get)
    async def get(self, msg: Get) -> tuple[int, int]:
        return self.instance, self.count


def workers(journal: Journal, names: str, **options: Any) -> list[ak.Child]:
    return [ak.Child(Worker, args=(journal,), name=name, **options) for name in names]


async def settle() -> None:
    """Let every task run until all are blocked (no virtual time passes)."""
    await trio.testing.wait_all_tasks_blocked()


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


def status(rt: ak.Runtime, name: str) -> str:
    node = rt.tree().find(name)
    assert node is not None, f"{name} is not in the tree"
    return node.status


@attrs.define
class Session:
    """Runs a body in a fresh runtime, keeping the runtime for a look at it afterwards."""

    rt: ak.Runtime | None = None

    async def run(self, tree: ak.Supervisor, body: Callable[[ak.Runtime], Awaitable[None]]) -> None:
        async with ak.open_runtime() as rt:
            self.rt = rt
            await rt.start(tree)
            await body(rt)

    def stats(self) -> ak.RuntimeStats:
        assert self.rt is not None
        return self.rt.stats()


def one_for_one(backoff: ak.Backoff | None, max_restarts: int | None = None) -> ak.OneForOne:
    return ak.OneForOne(max_restarts=max_restarts, backoff=backoff)


@contextlib.asynccontextmanager
async def backing_off(
    names: str, **backoff: Any
) -> AsyncIterator[tuple[ak.Runtime, Journal, ak.SupervisorRef]]:
    """A runtime running Workers ``names`` under one-for-one with ``ak.Backoff(**backoff)``."""
    journal = Journal()
    tree = ak.Supervisor(
        "sup", strategy=one_for_one(ak.Backoff(**backoff)), children=workers(journal, names)
    )
    async with ak.open_runtime() as rt:
        sup = await rt.start(tree)
        yield rt, journal, sup


# -- backoff -------------------------------------------------------------------------------


async def test_consecutive_restarts_wait_initial_times_factor_up_to_maximum(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Crash after crash: the restarts wait 0.125, 0.25, 0.5, 1, 1 s (capped) on the clock."""
    async with backing_off("a", initial=0.125, maximum=1.0, jitter=0) as (rt, journal, _sup):
        a = rt.lookup("a")
        t0 = trio.current_time()
        for _ in range(5):  # each new instance meets the next crash at once
            await a.send(Crash())
        assert await a.ask(Get()) == (6, 0)
        assert trio.current_time() - t0 == 2.875
    assert [t - t0 for t in journal.made_at["a"][1:]] == [0.125, 0.375, 0.875, 1.875, 2.875]


async def test_backoff_factor_is_honoured(autojump_clock: trio.testing.MockClock) -> None:
    """factor=4: the restarts wait 0.25, 1, 4, 4 s (maximum 4)."""
    async with backing_off("a", initial=0.25, maximum=4.0, factor=4.0, jitter=0) as (
        rt,
        journal,
        _sup,
    ):
        a = rt.lookup("a")
        for _ in range(4):
            await a.send(Crash())
        await a.ask(Get(), timeout=None)
    made = journal.made_at["a"]
    assert [b - a for a, b in itertools.pairwise(made)] == [0.25, 1.0, 4.0, 4.0]


async def test_jittered_backoff_stays_within_bounds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With jitter 0.5 each wait lies within ±50 % of initial*factor**n, and they vary."""
    async with backing_off("a", initial=1.0, maximum=8.0, jitter=0.5) as (rt, journal, _sup):
        a = rt.lookup("a")
        for _ in range(12):
            await a.send(Crash())
        await a.ask(Get(), timeout=None)
    made = journal.made_at["a"]
    waits = [b - a for a, b in itertools.pairwise(made)]
    bases = [1.0, 2.0, 4.0] + [8.0] * 9
    assert len(waits) == len(bases)
    for wait, base in zip(waits, bases, strict=True):
        assert base * 0.5 - 1e-9 <= wait <= base * 1.5 + 1e-9
    assert any(abs(wait - base) > 1e-6 for wait, base in zip(waits, bases, strict=True))


async def test_backoff_count_resets_after_reset_after_quiet_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """reset_after=10: a crash 5 s after the last keeps growing; one after 15 s waits initial."""
    async with backing_off("a", initial=1.0, maximum=4.0, jitter=0, reset_after=10.0) as (
        rt,
        _journal,
        _sup,
    ):
        a = rt.lookup("a")
        t0 = trio.current_time()
        await a.send(Crash())  # t=0: wait 1
        await a.send(Crash())  # t=1: wait 2
        await a.ask(Get())
        assert trio.current_time() - t0 == 3.0
        await trio.sleep(3.0)
        await a.send(Crash())  # t=6, 5 s after the last crash: wait 4
        await a.ask(Get(), timeout=None)
        assert trio.current_time() - t0 == 10.0
        await trio.sleep(11.0)
        await a.send(Crash())  # t=21, 15 s after the last crash: count reset, wait 1
        await a.ask(Get())
        assert trio.current_time() - t0 == 22.0


async def test_backoff_count_resets_after_twice_maximum_by_default(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Default reset: quiet for over 2*maximum (8 s) and the next restart waits initial again."""
    async with backing_off("a", initial=1.0, maximum=4.0, jitter=0) as (rt, _journal, _sup):
        a = rt.lookup("a")
        t0 = trio.current_time()
        for _ in range(3):  # t=0, 1, 3: waits 1, 2, 4
            await a.send(Crash())
        await a.ask(Get(), timeout=None)
        assert trio.current_time() - t0 == 7.0
        await trio.sleep(2.0)
        await a.send(Crash())  # t=9, 6 s after the last crash: wait 4 (the cap)
        await a.ask(Get(), timeout=None)
        assert trio.current_time() - t0 == 13.0
        await trio.sleep(9.0)
        await a.send(Crash())  # t=22, 13 s after the last crash: wait 1
        await a.ask(Get())
        assert trio.current_time() - t0 == 23.0


async def test_backoff_is_counted_per_child(autojump_clock: trio.testing.MockClock) -> None:
    """One child's crashes do not lengthen another child's backoff."""
    async with backing_off("ab", initial=1.0, maximum=8.0, jitter=0) as (rt, _journal, _sup):
        a, b = rt.lookup("a"), rt.lookup("b")
        t0 = trio.current_time()
        for _ in range(3):
            await a.send(Crash())
        await b.send(Crash())
        await b.ask(Get())
        assert trio.current_time() - t0 == 1.0
        await a.ask(Get(), timeout=None)
        assert trio.current_time() - t0 == 7.0


async def test_messages_sent_during_backoff_wait_for_the_new_instance(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """During a backoff the child shows backing-off; messages queue and the new one handles them."""
    async with backing_off("a", initial=2.0, maximum=2.0, jitter=0) as (rt, journal, _sup):
        a = rt.lookup("a")
        t0 = trio.current_time()
        await a.send(Crash())
        await settle()
        for _ in range(3):
            await a.send(Incr())
        node = rt.tree().find("a")
        assert node is not None
        assert (node.status, node.mailbox_depth, node.restarts) == ("backing-off", 3, 0)
        assert "backing-off" in str(rt.tree())
        assert journal.created["a"] == 1
        assert await a.ask(Get()) == (2, 3)
        assert trio.current_time() - t0 == 2.0
        node = rt.tree().find("a")
        assert node is not None
        assert (node.status, node.mailbox_depth, node.restarts) == ("running", 0, 1)
        assert rt.stats().dead_letters == 1


async def test_full_mailbox_during_backoff_blocks_the_sender(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Backpressure: a send to a full mailbox waits until the new instance makes room."""
    journal = Journal()
    backoff = ak.Backoff(initial=1.5, maximum=1.5, jitter=0)
    child = ak.Child(Worker, args=(journal,), name="a", mailbox=ak.Mailbox(capacity=2))
    tree = ak.Supervisor("sup", strategy=one_for_one(backoff), children=[child])
    sent_at: list[float] = []
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        t0 = trio.current_time()
        await a.send(Crash())
        await settle()

        async def sender() -> None:
            for _ in range(4):
                await a.send(Incr())
                sent_at.append(trio.current_time() - t0)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await settle()
            assert sent_at == [0.0, 0.0]
            assert status(rt, "a") == "backing-off"
        assert sent_at == [0.0, 0.0, 1.5, 1.5]
        assert await a.ask(Get()) == (2, 4)
        assert rt.stats().dead_letters == 1


async def test_backoff_applies_to_one_for_all_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """OneForAll waits the backoff before restarting the group; siblings show restarting."""
    journal = Journal()
    backoff = ak.Backoff(initial=0.5, maximum=4.0, jitter=0)
    tree = ak.Supervisor(
        "sup",
        strategy=ak.OneForAll(max_restarts=None, backoff=backoff),
        children=workers(journal, "abc"),
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        b = rt.lookup("b")
        t0 = trio.current_time()
        await b.send(Crash())
        await b.send(Crash())  # handled by b's second instance at 0.5, which crashes too
        await settle()
        assert status(rt, "a") == "backing-off"
        assert status(rt, "c") == "backing-off"
        assert await b.ask(Get()) == (3, 0)
        assert trio.current_time() - t0 == 1.5
    assert [t - t0 for t in journal.made_at["c"][1:]] == [0.5, 1.5]
    assert journal.made_at["a"][1:] == journal.made_at["c"][1:]


async def test_stopping_during_a_backoff_ends_the_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """stop_child during a long backoff returns at once; no new instance is made."""
    async with backing_off("ab", initial=100.0, maximum=100.0, jitter=0) as (rt, journal, sup):
        await rt.lookup("a").send(Crash())
        await settle()
        t0 = trio.current_time()
        await sup.stop_child("a")
        assert trio.current_time() == t0
    assert trio.current_time() == t0
    assert journal.created["a"] == 1


# -- restart intensity ---------------------------------------------------------------------


async def test_one_restart_too_many_fails_the_root_and_the_runtime(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Default 3 restarts in 5 s: the 4th crash at once fails the root; SupervisorGaveUp."""
    journal = Journal()
    tree = ak.Supervisor("root", children=workers(journal, "ab"))
    reached_end = False

    async def body(rt: ak.Runtime) -> None:
        nonlocal reached_end
        a = rt.lookup("a")
        for _ in range(3):
            await a.send(Crash())
        assert await a.ask(Get()) == (4, 0)
        await a.send(Crash("the fourth"))
        await trio.sleep(1000)
        reached_end = True

    session = Session()
    with capture_logs() as logs, pytest.raises(ak.SupervisorGaveUp) as excinfo:
        await session.run(tree, body)
    assert not reached_end
    assert trio.current_time() == 0.0
    assert excinfo.value.__cause__ is journal.raised[-1]
    assert str(excinfo.value.__cause__) == "the fourth"
    assert journal.created == Counter({"a": 4, "b": 1})
    assert sorted(name for name, _ in journal.stops) == ["a", "a", "a", "a", "b"]
    assert session.stats().actors_live == 0
    decisions = [e["decision"] for e in events(logs, "actor_crashed") if e["path"] == "root/a"]
    assert decisions == ["restart", "restart", "restart", "escalate"]
    (escalated,) = events(logs, "supervisor_escalated")
    assert escalated["supervisor"] == "root"
    assert escalated["child"] == "root/a"
    assert "intensity" in escalated["why"]


@pytest.mark.parametrize(("gap", "gives_up"), [(4.5, True), (5.5, False)])
async def test_intensity_counts_restarts_in_a_sliding_window(
    autojump_clock: trio.testing.MockClock, gap: float, gives_up: bool
) -> None:
    """Three restarts at t=0: a 4th crash at 4.5 s is one too many, at 5.5 s it is allowed."""
    journal = Journal()
    tree = ak.Supervisor("root", children=workers(journal, "a"))

    async def body(rt: ak.Runtime) -> None:
        a = rt.lookup("a")
        for _ in range(3):
            await a.send(Crash())
        await a.ask(Get())
        await trio.sleep(gap)
        await a.send(Crash())
        await settle()
        await trio.sleep(1.0)

    with pytest.raises(ak.SupervisorGaveUp) if gives_up else contextlib.nullcontext():
        await Session().run(tree, body)
    assert journal.created["a"] == (4 if gives_up else 5)
    assert trio.current_time() == (gap if gives_up else gap + 1.0)


async def test_max_restarts_none_never_gives_up(autojump_clock: trio.testing.MockClock) -> None:
    """max_restarts=None: a hundred crashes at once are all restarted."""
    journal = Journal()
    tree = ak.Supervisor(
        "root", strategy=ak.OneForOne(max_restarts=None), children=workers(journal, "a")
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        for _ in range(100):
            await a.send(Crash())
        assert await a.ask(Get()) == (101, 0)


async def test_max_restarts_zero_gives_up_on_the_first_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """max_restarts=0: the first crash fails the supervisor."""
    journal = Journal()
    tree = ak.Supervisor(
        "root", strategy=ak.OneForOne(max_restarts=0), children=workers(journal, "a")
    )

    async def body(rt: ak.Runtime) -> None:
        await rt.lookup("a").send(Crash("first"))
        await trio.sleep_forever()

    with pytest.raises(ak.SupervisorGaveUp) as excinfo:
        await Session().run(tree, body)
    assert str(excinfo.value.__cause__) == "first"
    assert journal.created["a"] == 1


async def test_restarts_of_all_children_share_one_intensity(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Intensity is the supervisor's: crashes of different children add up."""
    journal = Journal()
    tree = ak.Supervisor(
        "root", strategy=ak.OneForOne(max_restarts=2), children=workers(journal, "abc")
    )

    async def body(rt: ak.Runtime) -> None:
        for name in "abc":
            await rt.lookup(name).send(Crash(name))
            await settle()
        await trio.sleep_forever()

    with pytest.raises(ak.SupervisorGaveUp) as excinfo:
        await Session().run(tree, body)
    assert str(excinfo.value.__cause__) == "c"
    assert journal.created == Counter({"a": 2, "b": 2, "c": 1})


async def test_one_for_all_group_restart_counts_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """OneForAll: a crash that restarts three children uses one restart of the intensity."""
    journal = Journal()
    tree = ak.Supervisor(
        "root", strategy=ak.OneForAll(max_restarts=2), children=workers(journal, "abc")
    )

    async def body(rt: ak.Runtime) -> None:
        for _ in range(2):
            await rt.lookup("a").send(Crash())
            await settle()
        assert journal.created == Counter({"a": 3, "b": 3, "c": 3})
        await rt.lookup("b").send(Crash())
        await trio.sleep_forever()

    with pytest.raises(ak.SupervisorGaveUp):
        await Session().run(tree, body)
    assert journal.created == Counter({"a": 3, "b": 3, "c": 3})


async def test_normal_stops_beyond_the_intensity_fail_the_supervisor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A PERMANENT child that stops normally once too often fails its supervisor (as in OTP)."""
    journal = Journal()
    tree = ak.Supervisor(
        "root", strategy=ak.OneForOne(max_restarts=1), children=workers(journal, "ab")
    )

    async def body(rt: ak.Runtime) -> None:
        a = rt.lookup("a")
        await a.send(Exit())
        await settle()
        await a.send(Exit())
        await trio.sleep(10)

    with pytest.raises(ak.SupervisorGaveUp):
        await Session().run(tree, body)


# -- escalation up the tree ------------------------------------------------------------------


async def test_sub_supervisor_over_intensity_is_restarted_by_its_parent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A sub-supervisor over its intensity fails; its parent restarts it with fresh children."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Child(Worker, args=(journal,), name="x"),
            ak.Supervisor(
                "mid", strategy=ak.OneForOne(max_restarts=1), children=workers(journal, "ab")
            ),
        ],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        await rt.lookup("b").send(Incr())
        with capture_logs() as logs:
            await a.send(Crash("one"))
            await a.send(Crash("two"))
            await settle()
        assert journal.created == Counter({"x": 1, "a": 3, "b": 2})
        assert await rt.lookup("b").ask(Get()) == (2, 0)
        assert rt.lookup("a") is not a  # a fresh child under the restarted supervisor
        assert not a.alive
        mid = rt.tree().find("mid")
        assert mid is not None
        assert (mid.status, mid.restarts) == ("running", 1)
        assert [n.name for n in mid.children] == ["a", "b"]
    stopped = [name for name, _ in journal.stops[:3]]
    assert stopped == ["a", "a", "b"]
    (escalated,) = events(logs, "supervisor_escalated")
    assert (escalated["supervisor"], escalated["child"]) == ("mid", "root/mid/a")
    crashed = {(e["path"], e["decision"]) for e in events(logs, "actor_crashed")}
    assert crashed == {
        ("root/mid/a", "restart"),
        ("root/mid/a", "escalate"),
        ("root/mid", "restart"),
    }
    assert [e["path"] for e in events(logs, "actor_restarted")] == ["root/mid/a", "root/mid"]


async def test_original_cause_survives_two_levels_of_giving_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Leaf crash, mid gives up, root gives up: SupervisorGaveUp.__cause__ is the leaf's error."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        strategy=ak.OneForOne(max_restarts=0),
        children=[
            ak.Child(Worker, args=(journal,), name="x"),
            ak.Supervisor(
                "mid",
                strategy=ak.OneForOne(max_restarts=0),
                children=[
                    ak.Supervisor(
                        "low",
                        strategy=ak.Escalate(),
                        children=[ak.Child(Worker, args=(journal,), name="leaf")],
                    )
                ],
            ),
        ],
    )

    async def body(rt: ak.Runtime) -> None:
        await rt.lookup("leaf").send(Crash("disk on fire"))
        await trio.sleep_forever()

    session = Session()
    with capture_logs() as logs, pytest.raises(ak.SupervisorGaveUp) as excinfo:
        await session.run(tree, body)
    error = excinfo.value
    assert error.__cause__ is journal.raised[0]
    assert error.path == "root/mid/low/leaf"
    assert "disk on fire" in str(error)
    assert sorted(name for name, _ in journal.stops) == ["leaf", "x"]
    escalated = events(logs, "supervisor_escalated")
    assert [e["supervisor"] for e in escalated] == ["low", "mid", "root"]
    assert session.stats().actors_live == 0


async def test_gave_up_names_the_supervisor_that_gave_up_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """SupervisorGaveUp.supervisor names the first supervisor that gave up (its docstring)."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        strategy=ak.OneForOne(max_restarts=0),
        children=[
            ak.Supervisor(
                "mid",
                strategy=ak.Escalate(),
                children=[ak.Child(Worker, args=(journal,), name="leaf")],
            )
        ],
    )

    async def body(rt: ak.Runtime) -> None:
        await rt.lookup("leaf").send(Crash())
        await trio.sleep_forever()

    with pytest.raises(ak.SupervisorGaveUp) as excinfo:
        await Session().run(tree, body)
    assert excinfo.value.supervisor == "mid"


async def test_closing_during_a_supervisor_restart_does_not_retry_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Closing the runtime while a sub-supervisor restarts ends it: no RuntimeClosed crashes."""

    class SlowStop(Worker):
        async def on_stop(self, reason: BaseException | None) -> None:
            await trio.sleep(2.0)

    journal = Journal()
    tree = ak.Supervisor(
        "root",
        strategy=ak.OneForOne(max_restarts=5),
        children=[
            ak.Supervisor(
                "sub",
                strategy=ak.Escalate(),
                children=[
                    ak.Child(SlowStop, args=(journal,), name="slow"),
                    ak.Child(Worker, args=(journal,), name="a"),
                ],
            )
        ],
    )
    with capture_logs() as logs:
        async with ak.open_runtime() as rt:
            await rt.start(tree)
            await rt.lookup("a").send(Crash())
            await trio.sleep(0.5)  # sub is stopping "slow" to restart; now close the runtime
    crashed = [(e["path"], e["error_type"]) for e in events(logs, "actor_crashed")]
    assert crashed == [("root/sub/a", "RuntimeError"), ("root/sub", "SupervisorGaveUp")]
    assert trio.current_time() == 2.0


async def test_escalate_strategy_fails_the_supervisor_on_any_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """ak.Escalate: the first child crash fails the supervisor at once; the parent restarts it."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[ak.Supervisor("esc", strategy=ak.Escalate(), children=workers(journal, "ab"))],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        with capture_logs() as logs:
            await rt.lookup("b").send(Crash())
            await settle()
        assert journal.created == Counter({"a": 2, "b": 2})
        assert [name for name, _ in journal.stops] == ["b", "a"]
    decisions = [(e["path"], e["decision"]) for e in events(logs, "actor_crashed")]
    assert decisions == [("root/esc/b", "escalate"), ("root/esc", "restart")]
    (escalated,) = events(logs, "supervisor_escalated")
    assert (escalated["supervisor"], escalated["child"]) == ("esc", "root/esc/b")


async def test_temporary_sub_supervisor_that_fails_is_not_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A sub-supervisor's own restart= applies: a TEMPORARY one that fails stays down."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Supervisor(
                "tmp",
                strategy=ak.Escalate(),
                restart=ak.Restart.TEMPORARY,
                children=workers(journal, "a"),
            ),
            ak.Child(Worker, args=(journal,), name="b"),
        ],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        tmp = rt.lookup("tmp")
        await rt.lookup("a").send(Crash())
        await settle()
        assert not tmp.alive
        assert [n.name for n in rt.tree().roots[0].children] == ["b"]
        assert journal.created == Counter({"a": 1, "b": 1})
        assert await rt.lookup("b").ask(Get()) == (1, 0)


async def test_escalate_directive_fails_the_supervisor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """decide={KeyError: ESCALATE}: that exception fails the supervisor; others restart."""

    class Picky(Worker):
        @ak.on(str)
        async def lookup(self, msg: str) -> None:
            raise KeyError(msg)

    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Supervisor(
                "sub",
                strategy=ak.OneForOne(decide={KeyError: ak.Directive.ESCALATE}),
                children=[ak.Child(Picky, args=(journal,), name="p")],
            )
        ],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        p = rt.lookup("p")
        await p.send(Crash())
        await settle()
        assert journal.created["p"] == 2
        assert rt.tree().find("sub").restarts == 0  # type: ignore[union-attr]
        with capture_logs() as logs:
            await p.send("missing")
            await settle()
        assert journal.created["p"] == 3
        assert rt.tree().find("sub").restarts == 1  # type: ignore[union-attr]
    (escalated,) = events(logs, "supervisor_escalated")
    assert escalated["error"] == "KeyError: 'missing'"


async def test_root_escalation_cancels_the_block_and_stops_every_tree(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When a root gives up, the block is cancelled and all actors stop, on_stop running."""
    journal = Journal()
    progress: list[str] = []

    async def body(rt: ak.Runtime) -> None:
        await rt.start(
            ak.Supervisor("root", strategy=ak.Escalate(), children=workers(journal, "a"))
        )
        progress.append("started")
        try:
            await rt.lookup("a").send(Crash())
            await trio.sleep(50)
            progress.append("not cancelled")
        except trio.Cancelled:
            progress.append(f"cancelled at {trio.current_time()}")
            raise

    session = Session()
    with pytest.raises(ak.SupervisorGaveUp):
        await session.run(ak.Supervisor("other", children=workers(journal, "o")), body)
    assert progress == ["started", "cancelled at 0.0"]
    assert sorted(name for name, _ in journal.stops) == ["a", "o"]
    assert session.stats().actors_live == 0


async def test_restarted_sub_supervisor_stops_in_reverse_and_starts_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failed sub-supervisor's children stop in reverse order, then start again in order."""
    journal = Journal()
    order: list[str] = []

    class Ordered(Worker):
        async def on_start(self) -> None:
            order.append(self.ctx.name)

    tree = ak.Supervisor(
        "root",
        children=[
            ak.Supervisor(
                "sub",
                strategy=ak.Escalate(),
                children=[ak.Child(Ordered, args=(journal,), name=n) for n in "abc"],
            )
        ],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        del order[:]
        await rt.lookup("a").send(Crash())
        await settle()
        assert [name for name, _ in journal.stops] == ["a", "c", "b"]
        assert order == ["a", "b", "c"]
        assert journal.created == Counter({"a": 2, "b": 2, "c": 2})


# -- circuit break -------------------------------------------------------------------------


def circuit_tree(journal: Journal, **options: Any) -> ak.Supervisor:
    return ak.Supervisor(
        "gateways",
        strategy=ak.CircuitBreak(**options),
        children=[
            ak.Child(Worker, args=(journal,), name="gw"),
            ak.Child(Worker, args=(journal,), name="other"),
        ],
    )


async def test_circuit_opens_after_failures_within_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """failures=5 within 10 s: crashes 1-4 restart, the 5th opens the circuit (not restarted)."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(circuit_tree(journal, failures=5, within=10.0, reset_after=30.0))
        gw = rt.lookup("gw")
        with capture_logs() as logs:
            for _ in range(5):
                await gw.send(Crash())
            await settle()
        assert journal.created["gw"] == 5
        assert gw.alive
        node = rt.tree().find("gw")
        assert node is not None
        assert (node.status, node.restarts) == ("circuit-open", 4)
        assert "circuit-open" in str(rt.tree())
        assert status(rt, "other") == "running"
    decisions = [e["decision"] for e in events(logs, "actor_crashed")]
    assert decisions == ["restart"] * 4 + ["circuit_open"]
    (opened,) = events(logs, "circuit_opened")
    assert opened["path"] == "gateways/gw"
    assert opened["retry_in"] == 30.0


async def test_open_circuit_refuses_sends_and_asks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """While open: send makes a dead letter (circuit_open), ask fails fast with CircuitOpen."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(circuit_tree(journal, failures=2, within=10.0, reset_after=30.0))
        gw = rt.lookup("gw")
        t0 = trio.current_time()
        await gw.send(Crash())
        await gw.send(Crash())
        await settle()
        await trio.sleep(12.5)
        dead_before = rt.stats().dead_letters
        with capture_logs() as logs:
            await gw.send(Incr())
            with pytest.raises(ak.CircuitOpen) as excinfo:
                await gw.ask(Get())
        assert trio.current_time() - t0 == 12.5
        assert rt.stats().dead_letters == dead_before + 2
    assert excinfo.value.retry_at == t0 + 30.0
    assert excinfo.value.retry_in == 17.5
    letters = events(logs, "dead_letter")
    assert [(e["recipient"], e["reason"]) for e in letters] == [
        ("gw", "circuit_open"),
        ("gw", "circuit_open"),
    ]
    assert letters[0]["message"] == repr(Incr())


async def test_circuit_half_opens_after_reset_and_a_success_closes_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After reset_after the child starts again (half-open); a first success closes the circuit."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(circuit_tree(journal, failures=2, within=10.0, reset_after=30.0))
        gw = rt.lookup("gw")
        t0 = trio.current_time()
        with capture_logs() as logs:
            await gw.send(Crash())
            await gw.send(Crash())
            await settle()
            await trio.sleep(30.0)
            await settle()
            assert journal.made_at["gw"][-1] - t0 == 30.0
            assert status(rt, "gw") == "running"
            assert [e["event"] for e in logs if e["event"].startswith("circuit")] == [
                "circuit_opened",
                "circuit_half_open",
            ]
            assert await gw.ask(Incr()) == 1
        assert [e["event"] for e in logs if e["event"].startswith("circuit")] == [
            "circuit_opened",
            "circuit_half_open",
            "circuit_closed",
        ]
        assert events(logs, "circuit_closed")[0]["path"] == "gateways/gw"
        # closed again: the next crashes count from zero (one restart, then open)
        with capture_logs() as logs:
            await gw.send(Crash())
            await settle()
        assert [e["decision"] for e in events(logs, "actor_crashed")] == ["restart"]
        assert status(rt, "gw") == "running"


async def test_crash_while_half_open_reopens_with_a_longer_reset(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A crash on the half-open probe reopens the circuit for reset*factor, capped by max_reset."""
    journal = Journal()
    opened_at: list[float] = []
    async with ak.open_runtime() as rt:
        await rt.start(
            circuit_tree(
                journal, failures=1, within=10.0, reset_after=10.0, factor=3.0, max_reset=50.0
            )
        )
        gw = rt.lookup("gw")
        t0 = trio.current_time()
        with capture_logs() as logs:
            for _ in range(4):
                await gw.send(Crash())
                await settle()
                opened_at.append(trio.current_time() - t0)
                with pytest.raises(ak.CircuitOpen) as excinfo:
                    await gw.ask(Get())
                await trio.sleep_until(excinfo.value.retry_at)
                await settle()
                assert status(rt, "gw") == "running"
            assert await gw.ask(Get()) == (5, 0)
    assert opened_at == [0.0, 10.0, 40.0, 90.0]
    assert [e["retry_in"] for e in events(logs, "circuit_opened")] == [10.0, 30.0, 50.0, 50.0]
    assert [t - t0 for t in journal.made_at["gw"][1:]] == [10.0, 40.0, 90.0, 140.0]
    assert len(events(logs, "circuit_half_open")) == 4
    assert len(events(logs, "circuit_closed")) == 1


async def test_default_factor_doubles_and_default_max_reset_is_ten_times(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Defaults: the reset doubles on each half-open crash, up to 10 * reset_after."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(circuit_tree(journal, failures=1, within=10.0, reset_after=1.0))
        gw = rt.lookup("gw")
        with capture_logs() as logs:
            for _ in range(7):
                await gw.send(Crash())
                await settle()
                with pytest.raises(ak.CircuitOpen) as excinfo:
                    await gw.ask(Get())
                await trio.sleep_until(excinfo.value.retry_at)
                await settle()
                assert status(rt, "gw") == "running"
    assert [e["retry_in"] for e in events(logs, "circuit_opened")] == [
        1.0,
        2.0,
        4.0,
        8.0,
        10.0,
        10.0,
        10.0,
    ]


async def test_crashes_spread_beyond_the_window_do_not_open_the_circuit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """failures=2 within 10 s: crashes 11 s apart restart; two 4 s apart open it."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(circuit_tree(journal, failures=2, within=10.0, reset_after=30.0))
        gw = rt.lookup("gw")
        with capture_logs() as logs:
            for gap in (0.0, 11.0, 11.0, 4.0):
                await trio.sleep(gap)
                await gw.send(Crash())
                await settle()
    assert [e["decision"] for e in events(logs, "actor_crashed")] == [
        "restart",
        "restart",
        "restart",
        "circuit_open",
    ]


async def test_circuits_are_per_child(autojump_clock: trio.testing.MockClock) -> None:
    """One child's open circuit leaves its sibling's circuit closed and the sibling serving."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(circuit_tree(journal, failures=2, within=10.0, reset_after=30.0))
        await rt.lookup("gw").send(Crash())
        await rt.lookup("other").send(Crash())
        await rt.lookup("gw").send(Crash())
        await settle()
        assert status(rt, "gw") == "circuit-open"
        assert status(rt, "other") == "running"
        assert await rt.lookup("other").ask(Get()) == (2, 0)


async def test_circuit_break_respects_decide(autojump_clock: trio.testing.MockClock) -> None:
    """CircuitBreak with decide={RuntimeError: RESUME}: crashes never open the circuit."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(
            circuit_tree(
                journal, failures=1, reset_after=30.0, decide={RuntimeError: ak.Directive.RESUME}
            )
        )
        gw = rt.lookup("gw")
        await gw.send(Incr())
        for _ in range(3):
            await gw.send(Crash())
        assert await gw.ask(Get()) == (1, 1)


async def test_stopping_an_open_circuit_child_returns_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """stop_child of a child whose circuit is open ends it without waiting for the reset."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(circuit_tree(journal, failures=1, reset_after=300.0))
        gw = rt.lookup("gw")
        await gw.send(Crash())
        await settle()
        t0 = trio.current_time()
        await sup.stop_child("gw")
        assert trio.current_time() == t0
        assert not gw.alive
