"""Core messaging: dispatch, immutability, mailboxes, ask, dead letters, stats, fairness."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import dataclasses
import enum
import itertools
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

import actorkit as ak

# -- messages ------------------------------------------------------------------------------


@attrs.frozen
class Item:
    n: int


@attrs.frozen
class Hold:
    pass


@attrs.frozen
class Nap:
    seconds: float


@attrs.frozen
class Boom:
    text: str


@attrs.frozen
class Unknown:
    pass


@attrs.frozen
class Animal:
    pass


@attrs.frozen
class Dog(Animal):
    pass


@attrs.frozen
class Puppy(Dog):
    pass


@attrs.frozen
class Cat(Animal):
    pass


@dataclasses.dataclass(frozen=True)
class FrozenRecord:
    n: int


@dataclasses.dataclass
class MutableRecord:
    n: int


@attrs.define
class MutableAttrs:
    n: int


class Color(enum.Enum):
    RED = 1


# -- actors --------------------------------------------------------------------------------


class Zoo(ak.Actor):
    @ak.on(Animal)
    async def animal(self, msg: Animal) -> str:
        return "animal"

    @ak.on(Dog)
    async def dog(self, msg: Dog) -> str:
        return "dog"


class Kennel(Zoo):
    """Inherits Zoo's handlers unchanged."""


class Vet(Zoo):
    """Overrides Zoo's Dog handler by method name and adds one for Cat."""

    async def dog(self, msg: Dog) -> str:
        return "vet"

    @ak.on(Cat)
    async def cat(self, msg: Cat) -> str:
        return "cat"


class Sink(ak.Actor):
    """Handles anything and replies with the message itself."""

    @ak.on(object)
    async def anything(self, msg: object) -> object:
        return msg


class Worker(ak.Actor):
    """Records Items; Hold blocks until the gate opens; Nap sleeps; Boom raises."""

    def __init__(self, gate: trio.Event | None = None, seen: list[Any] | None = None) -> None:
        self.gate = trio.Event() if gate is None else gate
        self.seen = [] if seen is None else seen

    @ak.on(Item)
    async def item(self, msg: Item) -> int:
        self.seen.append(msg.n)
        return msg.n

    @ak.on(Hold)
    async def hold(self, msg: Hold) -> None:
        await self.gate.wait()
        self.seen.append("hold")

    @ak.on(Nap)
    async def nap(self, msg: Nap) -> str:
        await trio.sleep(msg.seconds)
        return "rested"

    @ak.on(Boom)
    async def boom(self, msg: Boom) -> None:
        raise ValueError(msg.text)


class Tally(ak.Actor):
    """Appends its tag to a shared log for every Item, without ever awaiting."""

    def __init__(self, tag: str, log: list[str]) -> None:
        self.tag = tag
        self.log = log

    @ak.on(Item)
    async def item(self, msg: Item) -> None:
        self.log.append(self.tag)

    @ak.on(Hold)
    async def ping(self, msg: Hold) -> str:
        return "pong"


# -- helpers -------------------------------------------------------------------------------


def dead_letters(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == "dead_letter"]


async def busy_worker(
    rt: ak.Runtime, overflow: ak.Overflow = ak.Overflow.BLOCK, capacity: int = 1
) -> tuple[ak.ActorRef, trio.Event, list[Any]]:
    """A Worker stuck in a Hold handler (its mailbox empty) until the returned gate is set."""
    gate = trio.Event()
    seen: list[Any] = []
    mailbox = ak.Mailbox(capacity=capacity, overflow=overflow)
    ref = await rt.spawn(Worker, gate, seen, mailbox=mailbox)
    await ref.send(Hold())
    await trio.testing.wait_all_tasks_blocked()
    return ref, gate, seen


async def ask_into(ref: ak.ActorRef, msg: Any, out: list[Any]) -> None:
    """Ask, recording the reply or the actorkit error."""
    try:
        out.append(await ref.ask(msg))
    except ak.ActorkitError as exc:
        out.append(exc)


# -- dispatch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "expected"),
    [(Animal(), "animal"), (Dog(), "dog"), (Puppy(), "dog"), (Cat(), "animal")],
)
async def test_dispatch_picks_most_specific_handler(
    msg: Animal, expected: str, autojump_clock: trio.testing.MockClock
) -> None:
    """The handler of the nearest class in the message's MRO runs; its result is the reply."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Zoo)
        assert expected == await ref.ask(msg)


async def test_handlers_are_inherited_by_actor_subclasses(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An Actor subclass handles what its base handles."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Kennel)
        assert ["animal", "dog", "dog"] == [await ref.ask(m) for m in (Animal(), Dog(), Puppy())]


async def test_subclass_overrides_handler_by_method_name(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Overriding the handler method by name replaces it; new handlers add to inherited ones."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Vet)
        replies = [await ref.ask(m) for m in (Animal(), Dog(), Puppy(), Cat())]
        assert ["animal", "vet", "vet", "cat"] == replies


def test_on_refuses_a_non_async_handler() -> None:
    """@ak.on on a plain def raises TypeError."""

    def handler(self: Any, msg: Dog) -> None:
        pass

    with pytest.raises(TypeError, match="async def"):
        ak.on(Dog)(handler)


@pytest.mark.parametrize("argument", ["Dog", Dog(), 42, None])
def test_on_refuses_a_non_type_argument(argument: Any) -> None:
    """@ak.on with something other than a class raises TypeError."""
    with pytest.raises(TypeError):
        ak.on(argument)


# -- immutability --------------------------------------------------------------------------

ACCEPTED = [
    Item(1),
    FrozenRecord(1),
    7,
    "text",
    b"bytes",
    1.5,
    True,
    None,
    (1, "a", (b"b", None)),
    frozenset({1, 2}),
    (frozenset({"x"}), Item(2)),
    Color.RED,
]


@pytest.mark.parametrize("msg", ACCEPTED, ids=repr)
async def test_immutable_messages_are_accepted(
    msg: Any, autojump_clock: trio.testing.MockClock
) -> None:
    """Frozen attrs/dataclasses, immutable builtins, tuples/frozensets of them, enums pass."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Sink)
        await ref.send(msg)
        ref.send_nowait(msg)
        assert msg == await ref.ask(msg)


async def test_actor_refs_are_valid_messages(autojump_clock: trio.testing.MockClock) -> None:
    """An ActorRef may be sent, alone or inside a tuple."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Sink)
        assert ref == await ref.ask(ref)
        assert (ref, 1) == await ref.ask((ref, 1))


REFUSED = [
    [1],
    {"a": 1},
    {1},
    MutableAttrs(1),
    MutableRecord(1),
    (1, [2]),
]


@pytest.mark.parametrize("msg", REFUSED, ids=repr)
async def test_mutable_messages_are_refused_with_a_fix(
    msg: Any, autojump_clock: trio.testing.MockClock
) -> None:
    """A mutable message raises TypeError saying how to fix it, and counts as nothing."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Sink)
        with pytest.raises(TypeError, match="frozen"):
            await ref.send(msg)
        with pytest.raises(TypeError, match="frozen"):
            ref.send_nowait(msg)
        with pytest.raises(TypeError, match="frozen"):
            await ref.ask(msg)
        with pytest.raises(TypeError, match="frozen"):
            await rt.publish("topic", msg)
        stats = rt.stats()
        assert (0, 0, 0) == (stats.messages_processed, stats.messages_queued, stats.dead_letters)


async def test_register_immutable_vouches_for_a_type(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A class refused as mutable is accepted once registered with ak.register_immutable."""

    class Point:
        __slots__ = ("x",)

        def __init__(self, x: int) -> None:
            self.x = x

    point = Point(1)
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Sink)
        with pytest.raises(TypeError):
            await ref.send(point)
        assert Point is ak.register_immutable(Point)
        assert point is await ref.ask(point)


# -- mailboxes -----------------------------------------------------------------------------


def test_mailbox_defaults_to_1000_and_block() -> None:
    """ak.Mailbox() holds 1000 messages and blocks senders when full."""
    assert (1000, ak.Overflow.BLOCK) == (ak.Mailbox().capacity, ak.Mailbox().overflow)


@pytest.mark.parametrize("capacity", [0, -1])
def test_mailbox_capacity_must_be_positive(capacity: int) -> None:
    """A mailbox with no room is refused with ValueError."""
    with pytest.raises(ValueError):
        ak.Mailbox(capacity=capacity)


async def test_default_mailbox_holds_1000_messages(autojump_clock: trio.testing.MockClock) -> None:
    """An actor spawned without a mailbox queues 1000 messages; the 1001st does not fit."""
    async with ak.open_runtime() as rt:
        gate = trio.Event()
        ref = await rt.spawn(Worker, gate)
        await ref.send(Hold())
        await trio.testing.wait_all_tasks_blocked()
        for n in range(1000):
            ref.send_nowait(Item(n))
        with pytest.raises(ak.MailboxFull):
            ref.send_nowait(Item(1000))
        assert 1000 == rt.stats().messages_queued
        gate.set()


async def test_send_waits_for_room_then_resumes_after_actor_drains(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With BLOCK, send to a full mailbox waits until the actor makes room (backpressure)."""
    async with ak.open_runtime() as rt, trio.open_nursery() as nursery:
        ref, gate, seen = await busy_worker(rt)
        await ref.send(Item(1))
        sent = trio.Event()

        async def send_second() -> None:
            await ref.send(Item(2))
            sent.set()

        nursery.start_soon(send_second)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert sent.is_set()
        assert ["hold", 1, 2] == seen


async def test_send_nowait_raises_mailbox_full_when_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With BLOCK, send_nowait to a full mailbox raises MailboxFull and enqueues nothing."""
    async with ak.open_runtime() as rt:
        ref, gate, seen = await busy_worker(rt)
        ref.send_nowait(Item(1))
        with pytest.raises(ak.MailboxFull):
            ref.send_nowait(Item(2))
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ["hold", 1] == seen
        assert 0 == rt.stats().dead_letters


async def test_drop_newest_makes_the_new_message_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With DROP_NEWEST, a send to a full mailbox drops the new message as a logged dead letter."""
    async with ak.open_runtime() as rt:
        ref, gate, seen = await busy_worker(rt, ak.Overflow.DROP_NEWEST)
        await ref.send(Item(1))
        with capture_logs() as logs:
            await ref.send(Item(2))
        expected = {
            "event": "dead_letter",
            "recipient": ref.name,
            "reason": "mailbox_full",
            "message": repr(Item(2)),
            "message_type": "Item",
        }
        assert [expected] == [{k: e[k] for k in expected} for e in dead_letters(logs)]
        assert 1 == rt.stats().dead_letters
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ["hold", 1] == seen


async def test_drop_oldest_makes_the_oldest_queued_message_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With DROP_OLDEST, a send to a full mailbox drops the oldest queued message instead."""
    async with ak.open_runtime() as rt:
        ref, gate, seen = await busy_worker(rt, ak.Overflow.DROP_OLDEST)
        await ref.send(Item(1))
        with capture_logs() as logs:
            await ref.send(Item(2))
        assert [repr(Item(1))] == [e["message"] for e in dead_letters(logs)]
        assert 1 == rt.stats().dead_letters
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ["hold", 2] == seen


async def test_fail_policy_makes_send_raise_mailbox_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With FAIL, send to a full mailbox raises MailboxFull at once; nothing is dropped."""
    async with ak.open_runtime() as rt:
        ref, gate, seen = await busy_worker(rt, ak.Overflow.FAIL)
        await ref.send(Item(1))
        with pytest.raises(ak.MailboxFull):
            await ref.send(Item(2))
        assert 0 == rt.stats().dead_letters
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert ["hold", 1] == seen


# -- ask -----------------------------------------------------------------------------------


async def test_ask_returns_the_handlers_result(autojump_clock: trio.testing.MockClock) -> None:
    """ask returns what the handler returned."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        assert 42 == await ref.ask(Item(42))


async def test_ask_times_out_at_the_exact_virtual_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """ask(timeout=1.0) to a handler that takes 10 s raises AskTimeout (a TooSlowError) at 1 s."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        start = trio.current_time()
        with pytest.raises(ak.AskTimeout) as info:
            await ref.ask(Nap(10), timeout=1.0)
        assert 1.0 == pytest.approx(trio.current_time() - start)
        assert isinstance(info.value, trio.TooSlowError)


async def test_ask_timeout_defaults_to_five_seconds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """ask without a timeout gives up after 5 s."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        start = trio.current_time()
        with pytest.raises(ak.AskTimeout):
            await ref.ask(Nap(10))
        assert 5.0 == pytest.approx(trio.current_time() - start)


async def test_late_reply_is_dropped_quietly(autojump_clock: trio.testing.MockClock) -> None:
    """A reply arriving after the ask timed out raises nothing and logs nothing."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        with pytest.raises(ak.AskTimeout):
            await ref.ask(Nap(10), timeout=1.0)
        with capture_logs() as logs:
            await trio.sleep(20)
            assert 3 == await ref.ask(Item(3))
        assert [] == logs
        assert 2 == rt.stats().messages_processed


async def test_ask_raises_actor_crashed_with_the_handlers_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A handler that raises makes ask raise ActorCrashed, chained to the original error."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        with pytest.raises(ak.ActorCrashed) as info:
            await ref.ask(Boom("kaput"))
        assert isinstance(info.value.__cause__, ValueError)
        assert ("ValueError", "kaput") == (info.value.exc_type, info.value.exc_message)


async def test_ask_raises_unhandled_message_and_makes_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """ask of a type the actor has no handler for raises UnhandledMessage; it is a dead letter."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        with capture_logs() as logs, pytest.raises(ak.UnhandledMessage):
            await ref.ask(Unknown())
        assert ["unhandled"] == [e["reason"] for e in dead_letters(logs)]
        assert 1 == rt.stats().dead_letters
        assert ref.alive


async def test_ask_of_a_stopped_actor_raises_actor_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """ask of an actor that has stopped raises ActorStopped."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        await ref.stop()
        with pytest.raises(ak.ActorStopped):
            await ref.ask(Item(1))


async def test_ask_queued_when_the_actor_stops_raises_actor_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An ask still queued when its actor stops raises ActorStopped."""
    async with ak.open_runtime() as rt, trio.open_nursery() as nursery:
        ref, gate, seen = await busy_worker(rt)
        replies: list[Any] = []
        nursery.start_soon(ask_into, ref, Item(1), replies)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(ref.stop)
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert 1 == len(replies)
        assert isinstance(replies[0], ak.ActorStopped)
        assert ["hold"] == seen


# -- dead letters and stats ----------------------------------------------------------------


async def test_send_to_a_stopped_actor_makes_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """send to a stopped actor does not raise; the message is a counted, logged dead letter."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        await ref.stop()
        with capture_logs() as logs:
            await ref.send(Item(5))
        expected = {
            "event": "dead_letter",
            "recipient": ref.name,
            "reason": "stopped",
            "message": repr(Item(5)),
            "message_type": "Item",
        }
        assert [expected] == [{k: e[k] for k in expected} for e in dead_letters(logs)]
        assert 1 == rt.stats().dead_letters


async def test_send_of_an_unhandled_type_makes_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A sent message with no handler is a dead letter; the actor keeps running."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        with capture_logs() as logs:
            await ref.send(Unknown())
            assert 1 == await ref.ask(Item(1))
        assert [("unhandled", "Unknown")] == [
            (e["reason"], e["message_type"]) for e in dead_letters(logs)
        ]
        assert 1 == rt.stats().dead_letters


async def test_stats_counts_actors_and_messages(autojump_clock: trio.testing.MockClock) -> None:
    """rt.stats() returns RuntimeStats with live/started actors and processed/queued/dead counts."""
    async with ak.open_runtime() as rt:
        ref, gate, _ = await busy_worker(rt, capacity=10)
        other = await rt.spawn(Worker)
        await other.stop()
        for n in range(3):
            await ref.send(Item(n))
        await ref.send(Unknown())
        stats = rt.stats()
        assert isinstance(stats, ak.RuntimeStats)
        assert (
            ak.RuntimeStats(
                actors_live=1,
                actors_started=2,
                messages_processed=0,
                messages_queued=4,
                dead_letters=0,
                crashes=0,
            )
            == stats
        )
        gate.set()
        await trio.testing.wait_all_tasks_blocked()
        assert (4, 0, 1) == (
            rt.stats().messages_processed,
            rt.stats().messages_queued,
            rt.stats().dead_letters,
        )


async def test_message_cut_off_by_stop_is_a_dead_letter(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A message whose handler is cancelled when stop() runs out of time becomes a dead letter."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Worker)
        await ref.send(Hold())
        await trio.testing.wait_all_tasks_blocked()
        await ref.stop()
        stats = rt.stats()
        assert 1 == stats.messages_processed + stats.messages_queued + stats.dead_letters


# -- fairness ------------------------------------------------------------------------------


async def test_flooded_actor_does_not_starve_anothers_ask(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An ask to an idle actor is answered long before a flooded actor drains its mailbox."""
    log: list[str] = []
    async with ak.open_runtime() as rt:
        flooded = await rt.spawn(Tally, "f", log, mailbox=ak.Mailbox(capacity=10_000))
        idle = await rt.spawn(Tally, "i", log)
        for n in range(5000):
            flooded.send_nowait(Item(n))
        assert "pong" == await idle.ask(Hold())
        assert len(log) < 5000


async def test_a_flood_of_unhandled_messages_does_not_starve_anothers_ask(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Messages an actor has no handler for count against its fairness budget too: draining
    thousands of them into dead letters still lets another actor answer in between."""
    log: list[str] = []
    async with ak.open_runtime() as rt:
        flooded = await rt.spawn(Tally, "f", log, mailbox=ak.Mailbox(capacity=10_000))
        idle = await rt.spawn(Tally, "i", log)
        with capture_logs():  # the dead letters' events are not the point here
            for n in range(5000):
                flooded.send_nowait(n)  # Tally handles Items, not ints
            assert "pong" == await idle.ask(Hold())
            assert rt.stats().dead_letters < 5000


async def test_two_busy_actors_take_turns(autojump_clock: trio.testing.MockClock) -> None:
    """Two flooded actors interleave their work instead of one running to completion first."""
    log: list[str] = []
    async with ak.open_runtime() as rt:
        box = ak.Mailbox(capacity=10_000)
        first = await rt.spawn(Tally, "a", log, mailbox=box)
        second = await rt.spawn(Tally, "b", log, mailbox=box)
        for n in range(5000):
            first.send_nowait(Item(n))
            second.send_nowait(Item(n))
        await trio.testing.wait_all_tasks_blocked()
        assert 10_000 == len(log)
        switches = sum(a != b for a, b in itertools.pairwise(log))
        assert switches > 10
