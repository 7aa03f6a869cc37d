"""Core lifecycle: the runtime's scope, on_start/on_stop, StartFailed, ctx, children, ctx.stop()."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

import actorkit as ak


@attrs.frozen
class Item:
    n: int


@attrs.frozen
class SpawnChild:
    tag: str


@attrs.frozen
class WhoAmI:
    pass


@attrs.frozen
class Halt:
    pass


@attrs.frozen
class Hang:
    pass


class Recorder(ak.Actor):
    """Appends ``(tag, reason)`` to a shared journal when it stops."""

    def __init__(self, tag: str, stops: list[Any]) -> None:
        self.tag = tag
        self.stops = stops

    async def on_stop(self, reason: BaseException | None) -> None:
        self.stops.append((self.tag, reason))


class Parent(Recorder):
    """A Recorder that spawns Recorder children on request and replies with their refs."""

    @ak.on(SpawnChild)
    async def spawn_child(self, msg: SpawnChild) -> ak.ActorRef:
        return await self.ctx.spawn(Recorder, msg.tag, self.stops)


class SlowStarter(ak.Actor):
    """Sends itself an Item during on_start, then takes 1 s to finish starting."""

    def __init__(self, journal: list[Any]) -> None:
        self.journal = journal

    async def on_start(self) -> None:
        await self.ctx.self.send(Item(1))
        await trio.sleep(1)
        self.journal.append("started")

    @ak.on(Item)
    async def item(self, msg: Item) -> None:
        self.journal.append(msg.n)


class FailsOnStart(ak.Actor):
    async def on_start(self) -> None:
        raise RuntimeError("no database")


class FailsInInit(ak.Actor):
    def __init__(self) -> None:
        raise KeyError("missing setting")


class HangsOnStop(ak.Actor):
    async def on_stop(self, reason: BaseException | None) -> None:
        await trio.sleep_forever()


class HangsInHandler(Recorder):
    """A Recorder whose Hang handler never returns."""

    @ak.on(Hang)
    async def hang(self, msg: Hang) -> None:
        await trio.sleep_forever()


class Introspective(ak.Actor):
    """Remembers what ``self.ctx.self`` was inside ``__init__``."""

    def __init__(self) -> None:
        self.ref_in_init = self.ctx.self

    @ak.on(WhoAmI)
    async def who(self, msg: WhoAmI) -> tuple[ak.ActorRef, ak.ActorRef, ak.Runtime]:
        return self.ref_in_init, self.ctx.self, self.ctx.runtime


class Stopper(ak.Actor):
    """On Halt, calls ctx.stop() and then finishes the handler once the gate opens."""

    def __init__(self, gate: trio.Event, journal: list[Any]) -> None:
        self.gate = gate
        self.journal = journal

    @ak.on(Halt)
    async def halt(self, msg: Halt) -> None:
        self.ctx.stop()
        await self.gate.wait()
        self.journal.append("halt finished")

    @ak.on(Item)
    async def item(self, msg: Item) -> None:
        self.journal.append(msg.n)

    async def on_stop(self, reason: BaseException | None) -> None:
        self.journal.append("on_stop")


def all_tasks() -> set[trio.lowlevel.Task]:
    """Every task in the current Trio run."""
    tasks = set()
    todo = [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        tasks.add(task)
        for nursery in task.child_nurseries:
            todo.extend(nursery.child_tasks)
    return tasks


def tags(stops: list[Any]) -> list[str]:
    return [tag for tag, _ in stops]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for scenarios that could deadlock this one)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def test_leaving_runtime_stops_actors_in_reverse_spawn_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Leaving open_runtime runs every on_stop(None), in reverse order of spawning."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt:
        for tag in "abc":
            await rt.spawn(Recorder, tag, stops)
    assert [("c", None), ("b", None), ("a", None)] == stops


async def test_leaving_runtime_leaves_no_task_behind(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The runtime's tasks (actors and timers) are all gone once the block is left."""
    before = all_tasks()
    async with ak.open_runtime() as rt:
        refs = [await rt.spawn(Recorder, tag, []) for tag in "ab"]
        await trio.testing.wait_all_tasks_blocked()
        assert len(all_tasks() - before) >= 2
    assert before == all_tasks()
    assert [False, False] == [ref.alive for ref in refs]
    assert 0 == rt.stats().actors_live


async def test_cancelling_enclosing_scope_shuts_down_in_reverse_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A cancelled enclosing scope stops every actor the same way, in reverse spawn order."""
    stops: list[Any] = []
    with trio.move_on_after(1) as scope:
        async with ak.open_runtime() as rt:
            for tag in "abc":
                await rt.spawn(Recorder, tag, stops)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert ["c", "b", "a"] == tags(stops)
    assert 0 == rt.stats().actors_live


def test_cancelling_enclosing_scope_during_on_start_still_shuts_down() -> None:
    """A cancel that lands while an actor's on_start runs still shuts the runtime down.

    Run in a subprocess: the failure mode is a deadlock in shielded code, which a watchdog on
    virtual time there turns into exit status 3.
    """
    result = run_python(
        """
        import json, os, trio, trio.testing
        import actorkit as ak
        from structlog.testing import capture_logs

        stops = []

        class Early(ak.Actor):
            async def on_stop(self, reason):
                stops.append("early")

        class SlowStart(ak.Actor):
            async def on_start(self):
                await trio.sleep(10)

            async def on_stop(self, reason):
                stops.append("slow")

        async def watchdog():
            await trio.sleep(1000)
            os._exit(3)

        async def main():
            async with trio.open_nursery() as outer:
                outer.start_soon(watchdog)
                with trio.move_on_after(1):
                    async with ak.open_runtime() as rt, trio.open_nursery() as nursery:
                        await rt.spawn(Early)
                        nursery.start_soon(rt.spawn, SlowStart)
                        await trio.sleep_forever()
                print(json.dumps([stops, rt.stats().actors_live]))
                outer.cancel_scope.cancel()

        with capture_logs():
            trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
        """
    )
    assert 0 == result.returncode, result.stderr
    stops, actors_live = json.loads(result.stdout)
    assert stops in (["slow", "early"], ["early"])
    assert 0 == actors_live


async def test_exception_in_block_still_stops_every_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An exception leaving the block still runs every on_stop, in reverse order."""
    stops: list[Any] = []
    with pytest.RaisesGroup(ValueError, allow_unwrapped=True, flatten_subgroups=True):
        async with ak.open_runtime() as rt:
            for tag in "ab":
                await rt.spawn(Recorder, tag, stops)
            raise ValueError("application bug")
    assert ["b", "a"] == tags(stops)


async def test_spawn_after_runtime_closed_raises_runtime_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A runtime that has shut down spawns nothing new."""
    async with ak.open_runtime() as rt:
        pass
    with pytest.raises(ak.RuntimeClosed):
        await rt.spawn(Recorder, "late", [])


async def test_on_start_runs_before_first_message_and_spawn_waits_for_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """spawn returns only after on_start; a message sent during on_start is handled after it."""
    journal: list[Any] = []
    async with ak.open_runtime() as rt:
        start = trio.current_time()
        ref = await rt.spawn(SlowStarter, journal)
        assert 1.0 == pytest.approx(trio.current_time() - start)
        assert "started" == journal[0]
        await trio.testing.wait_all_tasks_blocked()
        assert ["started", 1] == journal
        assert ref.alive


async def test_on_start_failure_raises_start_failed_with_cause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """If on_start raises, spawn raises StartFailed whose __cause__ is the original error."""
    async with ak.open_runtime() as rt:
        with pytest.raises(ak.StartFailed) as info:
            await rt.spawn(FailsOnStart)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert "no database" == str(info.value.__cause__)
        assert 0 == rt.stats().actors_live


async def test_constructor_failure_raises_start_failed_with_cause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """If the actor's __init__ raises, spawn raises StartFailed whose __cause__ is the error."""
    async with ak.open_runtime() as rt:
        with pytest.raises(ak.StartFailed) as info:
            await rt.spawn(FailsInInit)
        assert isinstance(info.value.__cause__, KeyError)
        assert 0 == rt.stats().actors_live


async def test_hanging_on_stop_is_cut_off_after_five_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An on_stop that hangs is cut off after the 5 s default shutdown time; the runtime exits."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt:
        await rt.spawn(Recorder, "a", stops)
        hanger = await rt.spawn(HangsOnStop)
        start = trio.current_time()
    assert 5.0 == pytest.approx(trio.current_time() - start)
    assert ["a"] == tags(stops)
    assert not hanger.alive


async def test_stop_cuts_off_a_hanging_handler_and_still_runs_on_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """stop() waits 5 s for the current handler, then cancels it; on_stop runs all the same."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt, trio.open_nursery() as nursery:
        ref = await rt.spawn(HangsInHandler, "a", stops)
        replies: list[Any] = []

        async def ask_hang() -> None:
            with pytest.raises(ak.ActorStopped):
                await ref.ask(Hang(), timeout=None)
            replies.append("stopped")

        nursery.start_soon(ask_hang)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        await ref.stop()
        assert 5.0 == pytest.approx(trio.current_time() - start)
        assert [("a", None)] == stops
        await trio.testing.wait_all_tasks_blocked()
        assert ["stopped"] == replies


async def test_ctx_gives_own_ref_and_runtime_even_in_init(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """self.ctx.self is the actor's ref (already inside __init__); self.ctx.runtime the runtime."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Introspective)
        ref_in_init, own_ref, runtime = await ref.ask(WhoAmI())
        assert ref == ref_in_init
        assert ref == own_ref
        assert rt is runtime


async def test_stopping_parent_stops_child_first(autojump_clock: trio.testing.MockClock) -> None:
    """A child spawned with ctx.spawn is stopped, and its on_stop run, before its parent's."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt:
        parent = await rt.spawn(Parent, "parent", stops)
        child = await parent.ask(SpawnChild("child"))
        assert child.alive
        await parent.stop()
        assert ["child", "parent"] == tags(stops)
        assert not child.alive


async def test_runtime_shutdown_stops_children_before_their_parent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """At shutdown, each top-level actor (latest first) stops its children (latest first)."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt:
        parent = await rt.spawn(Parent, "a", stops)
        await parent.ask(SpawnChild("a1"))
        await parent.ask(SpawnChild("a2"))
        await rt.spawn(Recorder, "b", stops)
    assert ["b", "a2", "a1", "a"] == tags(stops)


async def test_ctx_stop_finishes_current_message_then_queued_ones_are_dead_letters(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """ctx.stop() lets the current handler finish; messages queued behind it become dead letters."""
    gate = trio.Event()
    journal: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Stopper, gate, journal)
        await ref.send(Halt())
        await trio.testing.wait_all_tasks_blocked()
        await ref.send(Item(1))
        await ref.send(Item(2))
        with capture_logs() as logs:
            gate.set()
            await trio.testing.wait_all_tasks_blocked()
        assert ["halt finished", "on_stop"] == journal
        assert not ref.alive
        dead = [(e["message"], e["reason"]) for e in logs if e["event"] == "dead_letter"]
        assert [(repr(Item(1)), "stopped"), (repr(Item(2)), "stopped")] == dead
        assert 2 == rt.stats().dead_letters
