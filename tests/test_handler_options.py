"""Handler options (issue #4): per-handler timeouts and batching, on Trio's virtual clock.

Every async test requests the ``autojump_clock`` fixture, so times are asserted exactly.
"""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import gc
import math
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
class Ping:
    pass


@attrs.frozen
class Nap:
    seconds: float


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def totals(rt: ak.Runtime) -> tuple[int, int, int]:
    stats = rt.stats()
    return stats.messages_processed, stats.messages_queued, stats.dead_letters


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


# -- per-handler timeouts ----------------------------------------------------------------------


class Sleeper(ak.Actor):
    """Nap sleeps for its seconds under a 30 s handler timeout."""

    def __init__(self, woke: list[float] | None = None) -> None:
        self.woke = [] if woke is None else woke

    @ak.on(Nap, timeout=30.0)
    async def nap(self, msg: Nap) -> str:
        await trio.sleep(msg.seconds)
        self.woke.append(trio.current_time())
        return "rested"

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> str:
        return "pong"


async def test_slow_handler_is_cancelled_at_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A handler running past its timeout is cancelled at exactly t=30 and treated as a crash."""
    woke: list[float] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Sleeper, woke, name="sleeper")
        with capture_logs() as logs, pytest.raises(ak.ActorCrashed) as info:
            await ref.ask(Nap(100.0), timeout=None)
        assert 30.0 == trio.current_time()
        cause = info.value.__cause__
        assert isinstance(cause, ak.HandlerTimeout)
        assert 30.0 == cause.timeout
        assert "nap" in cause.handler
        assert "HandlerTimeout" == info.value.exc_type
        assert [("sleeper", "HandlerTimeout", "stop")] == [
            (e["actor"], e["error_type"], e["decision"]) for e in events(logs, "actor_crashed")
        ]
        await settle()
        assert not ref.alive
        assert 1 == rt.stats().crashes
    assert [] == woke


async def test_fast_handler_is_unaffected_by_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Handlers finishing within the timeout reply normally; the limit applies per message."""
    woke: list[float] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Sleeper, woke)
        assert "rested" == await ref.ask(Nap(20.0), timeout=None)
        assert "rested" == await ref.ask(Nap(29.5), timeout=None)
        assert "pong" == await ref.ask(Ping())
        assert ref.alive
    assert [20.0, 49.5] == woke


async def test_handler_timeout_under_supervisor_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A timed-out handler is a crash like any other: a supervisor restarts the actor."""
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor(name="sup", children=[ak.Child(Sleeper, name="sleeper")]))
        ref = rt.lookup("sleeper")
        with capture_logs() as logs:
            with pytest.raises(ak.ActorCrashed):
                await ref.ask(Nap(100.0), timeout=None)
            assert "pong" == await ref.ask(Ping())
        assert [("HandlerTimeout", "restart")] == [
            (e["error_type"], e["decision"]) for e in events(logs, "actor_crashed")
        ]
        assert 30.0 == trio.current_time()


@pytest.mark.parametrize("timeout", [0, 0.0, -1.0, math.nan])
def test_handler_timeout_must_be_positive(timeout: float) -> None:
    """@ak.on(..., timeout=0) or a negative timeout raises ValueError at decoration."""
    with pytest.raises(ValueError, match="timeout"):
        ak.on(Nap, timeout=timeout)


# -- batching ----------------------------------------------------------------------------------


class Batcher(ak.Actor):
    """Items arrive in batches (max 3, or after 1 s); the reply to each is n x 10."""

    def __init__(self, seen: list[Any], mode: str = "ok") -> None:
        self.seen = seen
        self.mode = mode

    @ak.on(Item, batch=ak.Batch(max_size=3, max_wait=1.0))
    async def handle(self, items: tuple[Item, ...]) -> Any:
        self.seen.append((trio.current_time(), items))
        if self.mode == "none":
            return None
        if self.mode == "short":
            return [item.n * 10 for item in items][1:]
        return [item.n * 10 for item in items]

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> str:
        self.seen.append((trio.current_time(), msg))
        return "pong"

    @ak.on(Nap)
    async def nap(self, msg: Nap) -> None:
        await trio.sleep(msg.seconds)


async def test_full_batch_is_delivered_at_once(autojump_clock: trio.testing.MockClock) -> None:
    """max_size queued messages reach one handler call as a tuple, at the same virtual time,
    before anything queued behind them."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        await trio.sleep(2)
        for n in range(3):
            await ref.send(Item(n))
        await ref.send(Ping())
        await settle()
        assert (4, 0, 0) == totals(rt)
    assert [(2.0, (Item(0), Item(1), Item(2))), (2.0, Ping())] == seen
    assert tuple is type(seen[0][1])


async def test_partial_batch_is_delivered_after_max_wait(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A batch short of max_size is delivered exactly max_wait after its first message."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        await ref.send(Item(0))
        await trio.sleep(0.25)
        await ref.send(Item(1))
        await trio.sleep(1.25)
        await ref.send(Item(2))
        await trio.sleep(5)
    assert [(1.0, (Item(0), Item(1))), (2.5, (Item(2),))] == seen


async def test_many_messages_make_consecutive_batches(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Seven messages with max_size=3 make two full batches at once and a partial one later."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        for n in range(7):
            await ref.send(Item(n))
        await trio.sleep(5)
        assert (7, 0, 0) == totals(rt)
    assert [
        (0.0, (Item(0), Item(1), Item(2))),
        (0.0, (Item(3), Item(4), Item(5))),
        (1.0, (Item(6),)),
    ] == seen


async def ask_into(ref: ak.ActorRef, msg: Any, out: dict[Any, Any]) -> None:
    """Ask, recording (time, reply) or (time, error) under the message."""
    try:
        reply = await ref.ask(msg)
    except ak.ActorkitError as exc:
        reply = exc
    out[msg] = (trio.current_time(), reply)


async def test_each_ask_in_a_batch_gets_its_own_reply(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Asks in a batch are answered one result each, in order; a send in the batch gets none."""
    seen: list[Any] = []
    replies: dict[Any, Any] = {}
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_into, ref, Item(1), replies)
            await settle()
            await ref.send(Item(2))
            nursery.start_soon(ask_into, ref, Item(3), replies)
            await settle()
            nursery.start_soon(ask_into, ref, Item(4), replies)
            await settle()
            nursery.start_soon(ask_into, ref, Item(5), replies)
    assert {
        Item(1): (0.0, 10),
        Item(3): (0.0, 30),
        Item(4): (1.0, 40),
        Item(5): (1.0, 50),
    } == replies
    assert [(0.0, (Item(1), Item(2), Item(3))), (1.0, (Item(4), Item(5)))] == seen


async def test_wrong_number_of_results_crashes_naming_the_handler(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A batch handler returning too few results raises BatchResultMismatch; each ask in the
    batch gets ActorCrashed with it as the cause."""
    seen: list[Any] = []
    replies: dict[Any, Any] = {}
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen, "short", name="batcher")
        with capture_logs() as logs:
            async with trio.open_nursery() as nursery:
                for n in range(3):
                    nursery.start_soon(ask_into, ref, Item(n), replies)
        assert (0, 0, 3) == totals(rt)
        assert not ref.alive
    assert {Item(0), Item(1), Item(2)} == set(replies)
    for _, error in replies.values():
        assert isinstance(error, ak.ActorCrashed)
        cause = error.__cause__
        assert isinstance(cause, ak.BatchResultMismatch)
        assert "Batcher.handle" == cause.handler
        assert "Batcher.handle" in str(cause)
    assert [("batcher", "BatchResultMismatch")] == [
        (e["actor"], e["error_type"]) for e in events(logs, "actor_crashed")
    ]


async def test_batch_handler_returning_none_answers_none(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A batch handler returning None answers every ask in the batch with None."""
    seen: list[Any] = []
    replies: dict[Any, Any] = {}
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen, "none")
        async with trio.open_nursery() as nursery:
            for n in range(2):
                nursery.start_soon(ask_into, ref, Item(n), replies)
        assert (2, 0, 0) == totals(rt)
    assert {Item(0): (1.0, None), Item(1): (1.0, None)} == replies


async def test_other_messages_are_handled_while_a_batch_fills(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Messages of other types are handled at once while a batch waits to fill."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        await ref.send(Item(0))
        await trio.sleep(0.5)
        assert "pong" == await ref.ask(Ping())
        await trio.sleep(5)
    assert [(0.5, Ping()), (1.0, (Item(0),))] == seen


async def test_batched_messages_count_as_queued(autojump_clock: trio.testing.MockClock) -> None:
    """Until flushed, batched messages count as queued; afterwards as processed."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        await ref.send(Item(0))
        await ref.send(Item(1))
        await settle()
        assert (0, 2, 0) == totals(rt)
        assert "pong" == await ref.ask(Ping())
        assert (1, 2, 0) == totals(rt)
        await trio.sleep(5)
        assert (3, 0, 0) == totals(rt)


async def test_conservation_holds_while_a_due_flush_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """While the actor is busy past max_wait, stats still count each batched message once."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, [])
        await ref.send(Item(0))
        await ref.send(Item(1))
        await ref.send(Nap(5.0))  # in its handler until t=5, so not counted anywhere
        await trio.sleep(2)  # the flush fell due at t=1
        processed, queued, dead = totals(rt)
        assert (0, 2, 0) == (processed, queued, dead)
        await trio.sleep(5)
        assert (3, 0, 0) == totals(rt)


async def test_flush_made_stale_by_a_full_batch_hands_nothing_twice(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A batch that fills while its due max_wait flush waits is delivered once, in full."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, seen)
        await ref.send(Item(0))
        await ref.send(Nap(5.0))
        await trio.sleep(0.5)
        await ref.send(Item(1))
        await ref.send(Item(2))
        await trio.sleep(10)
        assert (4, 0, 0) == totals(rt)
    assert [(5.0, (Item(0), Item(1), Item(2)))] == seen


class TimedBatcher(ak.Actor):
    """A batch handler that is also under a handler timeout."""

    @ak.on(Item, batch=ak.Batch(max_size=2, max_wait=1.0), timeout=3.0)
    async def handle(self, items: tuple[Item, ...]) -> list[int]:
        await trio.sleep(sum(item.n for item in items))
        return [item.n for item in items]


async def test_batch_handler_obeys_its_timeout(autojump_clock: trio.testing.MockClock) -> None:
    """A batch whose handler outlives its timeout fails every ask in it with HandlerTimeout."""
    replies: dict[Any, Any] = {}
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(TimedBatcher)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_into, ref, Item(0), replies)
            nursery.start_soon(ask_into, ref, Item(1), replies)
        assert {Item(0): (1.0, 0), Item(1): (1.0, 1)} == replies
        replies.clear()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_into, ref, Item(2), replies)
            nursery.start_soon(ask_into, ref, Item(3), replies)
    assert {Item(2), Item(3)} == set(replies)
    for at, error in replies.values():
        assert 4.0 == at
        assert isinstance(error, ak.ActorCrashed)
        assert isinstance(error.__cause__, ak.HandlerTimeout)


async def test_full_batches_do_not_accumulate_timers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Batches flushed by size keep memory flat: their cancelled max_wait timers are let go."""

    def live_scopes() -> int:
        gc.collect()
        return sum(isinstance(o, trio.CancelScope) for o in gc.get_objects())

    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Batcher, [])
        before = live_scopes()
        for n in range(9000):
            await ref.send(Item(n))
            if n % 3 == 2:
                await settle()
        after = live_scopes()
        assert (9000, 0, 0) == totals(rt)
    # Trio itself keeps up to ~1000 stale deadlines before pruning; a leak keeps all 3000.
    assert after - before < 1500


# -- declaration checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs", [{"max_size": 0}, {"max_size": -1}, {"max_wait": 0}, {"max_wait": -0.5}]
)
def test_batch_limits_must_be_positive(kwargs: dict[str, float]) -> None:
    """ak.Batch(max_size=0) (or max_wait=0, or negatives) raises ValueError naming the field."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ak.Batch(**kwargs)  # type: ignore[arg-type]


def test_batch_option_takes_a_batch() -> None:
    """@ak.on(..., batch=...) with anything but an ak.Batch raises TypeError."""
    with pytest.raises(TypeError, match="Batch"):
        ak.on(Item, batch=100)  # type: ignore[arg-type]
    assert ak.Batch(max_size=100, max_wait=1.0) == ak.Batch()
