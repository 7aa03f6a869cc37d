"""Core crashes, watching, names and topics."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

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
class Boom:
    text: str


@attrs.frozen
class Seen:
    pass


@attrs.frozen
class Watch:
    ref: ak.ActorRef


@attrs.frozen
class Unwatch:
    ref: ak.ActorRef


class Worker(ak.Actor):
    """Records Items and the reason it stopped; Boom raises ValueError."""

    def __init__(self, stops: list[Any] | None = None) -> None:
        self.seen: list[Any] = []
        self.stops = [] if stops is None else stops

    @ak.on(Item)
    async def item(self, msg: Item) -> int:
        self.seen.append(msg)
        return msg.n

    @ak.on(Boom)
    async def boom(self, msg: Boom) -> None:
        raise ValueError(msg.text)

    @ak.on(Seen)
    async def report(self, msg: Seen) -> tuple[Any, ...]:
        return tuple(self.seen)

    async def on_stop(self, reason: BaseException | None) -> None:
        self.stops.append(reason)


class Watcher(Worker):
    """A Worker that watches on request and records the Terminated notices it gets."""

    @ak.on(Watch)
    async def watch(self, msg: Watch) -> None:
        self.ctx.watch(msg.ref)

    @ak.on(Unwatch)
    async def unwatch(self, msg: Unwatch) -> None:
        self.ctx.unwatch(msg.ref)

    @ak.on(ak.Terminated)
    async def terminated(self, msg: ak.Terminated) -> None:
        self.seen.append(msg)


# -- crashes -------------------------------------------------------------------------------


async def test_crash_stops_the_actor_and_logs_actor_crashed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A raising handler stops its actor and logs actor_crashed with who, what and why."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker, stops, name="victim")
        with capture_logs() as logs:
            await ref.send(Boom("kaput"))
            await trio.testing.wait_all_tasks_blocked()
        [crash] = [e for e in logs if e["event"] == "actor_crashed"]
        assert "victim" == crash["actor"]
        assert isinstance(crash["actor_id"], int)
        assert "Worker" == crash["actor_class"]
        assert repr(Boom("kaput")) == crash["message"]
        assert "kaput" in crash["error"]
        assert isinstance(crash["exc_info"], ValueError)
        assert not ref.alive
        assert [crash["exc_info"]] == stops
        assert 1 == rt.stats().crashes


async def test_crash_leaves_runtime_and_other_actors_running(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After one actor crashes, the others still answer and new actors can be spawned."""
    async with ak.open_runtime() as rt:
        bystander = await rt.spawn(Worker)
        victim = await rt.spawn(Worker)
        with pytest.raises(ak.ActorCrashed):
            await victim.ask(Boom("kaput"))
        assert 1 == await bystander.ask(Item(1))
        newcomer = await rt.spawn(Worker)
        assert 2 == await newcomer.ask(Item(2))
        with pytest.raises(ak.ActorStopped):
            await victim.ask(Item(3))
        assert (2, 1) == (rt.stats().actors_live, rt.stats().crashes)


async def test_on_stop_gets_none_for_a_normal_stop(autojump_clock: trio.testing.MockClock) -> None:
    """on_stop's reason is None when the actor is stopped normally."""
    stops: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker, stops)
        await ref.stop()
        assert [None] == stops


# -- watching ------------------------------------------------------------------------------


async def test_watcher_gets_terminated_with_none_on_normal_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A watcher receives Terminated(ref, None) when the watched actor stops normally."""
    async with ak.open_runtime() as rt:
        watcher = await rt.spawn(Watcher)
        target = await rt.spawn(Worker)
        await watcher.ask(Watch(target))
        await target.stop()
        [notice] = await watcher.ask(Seen())
        assert ak.Terminated(target, None) == notice
        assert notice.reason is None


async def test_watcher_gets_terminated_with_the_exception_on_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A watcher receives Terminated(ref, exc) carrying the exception that crashed the actor."""
    async with ak.open_runtime() as rt:
        watcher = await rt.spawn(Watcher)
        target = await rt.spawn(Worker)
        await watcher.ask(Watch(target))
        with pytest.raises(ak.ActorCrashed) as info:
            await target.ask(Boom("kaput"))
        await trio.testing.wait_all_tasks_blocked()
        [notice] = await watcher.ask(Seen())
        assert target == notice.ref
        assert info.value.__cause__ is notice.reason
        assert watcher.alive


async def test_watching_a_dead_actor_delivers_terminated_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Watching an actor that has already ended delivers its Terminated right away."""
    async with ak.open_runtime() as rt:
        watcher = await rt.spawn(Watcher)
        target = await rt.spawn(Worker)
        with pytest.raises(ak.ActorCrashed):
            await target.ask(Boom("kaput"))
        await trio.testing.wait_all_tasks_blocked()
        await watcher.ask(Watch(target))
        [notice] = await watcher.ask(Seen())
        assert target == notice.ref
        assert isinstance(notice.reason, ValueError)


async def test_unwatch_stops_terminated_delivery(autojump_clock: trio.testing.MockClock) -> None:
    """After unwatch, the watcher gets no Terminated when the actor ends."""
    async with ak.open_runtime() as rt:
        watcher = await rt.spawn(Watcher)
        target = await rt.spawn(Worker)
        await watcher.ask(Watch(target))
        await watcher.ask(Unwatch(target))
        await target.stop()
        await trio.testing.wait_all_tasks_blocked()
        assert () == await watcher.ask(Seen())
        assert 0 == rt.stats().dead_letters


# -- names ---------------------------------------------------------------------------------


async def test_lookup_returns_the_named_actors_ref(autojump_clock: trio.testing.MockClock) -> None:
    """rt.lookup(name) returns the ref spawn returned for that name."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker, name="acct")
        assert ref == rt.lookup("acct")
        assert "acct" == ref.name


async def test_a_name_in_use_raises_name_taken(autojump_clock: trio.testing.MockClock) -> None:
    """Spawning a second live actor under a taken name raises NameTaken."""
    async with ak.open_runtime() as rt:
        first = await rt.spawn(Worker, name="acct")
        with pytest.raises(ak.NameTaken):
            await rt.spawn(Worker, name="acct")
        assert first == rt.lookup("acct")
        assert 1 == rt.stats().actors_live


async def test_lookup_of_an_unknown_name_raises_actor_not_found(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """rt.lookup of a name nobody has raises ActorNotFound, which is also a LookupError."""
    async with ak.open_runtime() as rt:
        with pytest.raises(ak.ActorNotFound) as info:
            rt.lookup("ghost")
        assert isinstance(info.value, LookupError)


@pytest.mark.parametrize("how", ["stop", "crash"])
async def test_a_name_is_freed_when_its_actor_ends(
    how: str, autojump_clock: trio.testing.MockClock
) -> None:
    """Once its actor has stopped or crashed, the name is unknown and can be reused."""
    async with ak.open_runtime() as rt:
        first = await rt.spawn(Worker, name="acct")
        if how == "stop":
            await first.stop()
        else:
            with pytest.raises(ak.ActorCrashed):
                await first.ask(Boom("kaput"))
            await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(ak.ActorNotFound):
            rt.lookup("acct")
        second = await rt.spawn(Worker, name="acct")
        assert second == rt.lookup("acct")
        assert first != second


# -- topics --------------------------------------------------------------------------------


async def test_publish_reaches_every_subscriber_and_counts_them(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """publish sends the message to every subscriber and returns how many it reached."""
    async with ak.open_runtime() as rt:
        subscribers = [await rt.spawn(Worker) for _ in range(3)]
        outsider = await rt.spawn(Worker)
        for ref in subscribers:
            rt.subscribe("news", ref)
        assert 3 == await rt.publish("news", Item(1))
        assert [(Item(1),)] * 3 == [await ref.ask(Seen()) for ref in subscribers]
        assert () == await outsider.ask(Seen())


async def test_unsubscribed_actor_no_longer_receives(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """After unsubscribe, publish skips the actor."""
    async with ak.open_runtime() as rt:
        stays, leaves = await rt.spawn(Worker), await rt.spawn(Worker)
        rt.subscribe("news", stays)
        rt.subscribe("news", leaves)
        rt.unsubscribe("news", leaves)
        assert 1 == await rt.publish("news", Item(1))
        assert ((Item(1),), ()) == (await stays.ask(Seen()), await leaves.ask(Seen()))


async def test_stopped_subscribers_drop_out_by_themselves(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A subscriber that has stopped is no longer counted or sent to."""
    async with ak.open_runtime() as rt:
        stays, stops = await rt.spawn(Worker), await rt.spawn(Worker)
        rt.subscribe("news", stays)
        rt.subscribe("news", stops)
        await stops.stop()
        assert 1 == await rt.publish("news", Item(1))
        assert 0 == rt.stats().dead_letters


async def test_publish_without_subscribers_makes_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Publishing to a topic nobody subscribes to reaches 0 actors and makes a dead letter."""
    async with ak.open_runtime() as rt:
        with capture_logs() as logs:
            assert 0 == await rt.publish("empty", Item(1))
        assert [repr(Item(1))] == [e["message"] for e in logs if e["event"] == "dead_letter"]
        assert 1 == rt.stats().dead_letters
