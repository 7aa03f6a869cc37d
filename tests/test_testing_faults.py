"""Fault injection (ak.testing.crash, hang, fill_mailbox) and capture_events, on virtual time."""

from __future__ import annotations

import attrs
import pytest
import trio

import actorkit as ak
from actorkit.testing import InjectedFault, Probe, capture_events, crash, fill_mailbox, hang


@attrs.frozen
class Work:
    n: int


@attrs.frozen
class Other:
    pass


class Worker(ak.Actor):
    """Records what it handled in a list the test owns (it survives restarts)."""

    def __init__(self, log: list[object]) -> None:
        self.log = log

    @ak.on(Work)
    async def work(self, msg: Work) -> int:
        self.log.append(msg.n)
        return msg.n * 10

    @ak.on(Other)
    async def other(self, msg: Other) -> str:
        self.log.append("other")
        return "other"


async def test_crash_hits_exactly_the_nth_matching_message(runtime: ak.Runtime) -> None:
    """Earlier matches and other types are handled; the n-th match fails its ask with exc."""
    log: list[object] = []
    ref = await runtime.spawn(Worker, log)
    boom = RuntimeError("boom")
    crash(ref, exc=boom, on=Work, nth=3)
    assert await ref.ask(Other()) == "other"
    assert await ref.ask(Work(1)) == 10
    assert await ref.ask(Work(2)) == 20
    with pytest.raises(ak.ActorCrashed) as caught:
        await ref.ask(Work(3))
    assert caught.value.__cause__ is boom
    assert log == ["other", 1, 2]


async def test_the_crashing_message_becomes_a_dead_letter(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """The message the fault replaced is counted as a dead letter and named by the crash."""
    ref = await runtime.spawn(Worker, [], name="w")
    probe.watch(ref)
    probe.subscribe_events()
    before = runtime.stats().dead_letters
    crash(ref, on=Work)
    await ref.send(Work(7))
    event = await probe.expect_event("actor_crashed", actor="w")
    assert event["message"] == "Work(n=7)"
    assert event["error_type"] == "InjectedFault"
    assert runtime.stats().dead_letters == before + 1
    terminated = await probe.expect_terminated(ref)
    assert isinstance(terminated.reason, InjectedFault)


async def test_crash_without_on_fails_the_next_message_of_any_type(runtime: ak.Runtime) -> None:
    """With no ``on``, the very next message crashes, whatever its type."""
    ref = await runtime.spawn(Worker, [])
    crash(ref)
    with pytest.raises(ak.ActorCrashed) as caught:
        await ref.ask(Other())
    assert isinstance(caught.value.__cause__, InjectedFault)
    assert not ref.alive  # unsupervised: a crash ends it


async def test_a_supervised_actor_restarts_after_an_injected_crash(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """Its supervisor restarts it; the fault applied once, so the new instance works."""
    log: list[object] = []
    await runtime.start(ak.Supervisor("sup", children=[ak.Child(Worker, args=(log,), name="w")]))
    ref = runtime.lookup("w")
    probe.subscribe_events()
    crash(ref, exc=ValueError("injected"), on=Work, nth=2)
    await ref.send(Work(1))
    await ref.send(Work(2))
    await ref.send(Work(3))
    crashed = await probe.expect_event("actor_crashed", actor="w")
    assert crashed["error_type"] == "ValueError"
    assert crashed["decision"] == "restart"
    restarted = await probe.expect_event("actor_restarted", actor="w")
    assert restarted["restarts"] == 1
    assert await ref.ask(Work(4)) == 40
    assert log == [1, 3, 4]


async def test_crash_validates_nth(runtime: ak.Runtime) -> None:
    """``nth`` counts from 1: zero or less is a ValueError, and nothing is installed."""
    ref = await runtime.spawn(Worker, [])
    for nth in (0, -1):
        with pytest.raises(ValueError, match="nth"):
            crash(ref, nth=nth)
        with pytest.raises(ValueError, match="nth"):
            hang(ref, nth=nth)
    assert await ref.ask(Work(1)) == 10


async def test_hang_blocks_the_handler_and_what_is_queued_behind_it(
    runtime: ak.Runtime,
) -> None:
    """The hung handler never returns; messages after it wait; others handled before it."""
    log: list[object] = []
    ref = await runtime.spawn(Worker, log)
    hang(ref, on=Work)
    await ref.send(Other())
    await ref.send(Work(1))
    await ref.send(Work(2))
    await trio.sleep(3600)
    assert log == ["other"]
    assert runtime.stats().messages_queued == 1  # Work(2) waits behind the hung Work(1)


async def test_stop_cancels_a_hung_handler_after_the_shutdown_time(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """``ref.stop()`` waits the actor's shutdown time (5 s, virtual), then cancels the handler;
    the hung message and the queued ask become dead letters."""
    ref = await runtime.spawn(Worker, [], name="stuck")
    probe.subscribe_events()
    hang(ref)
    await ref.send(Work(1))
    outcomes: list[BaseException] = []

    async def ask_behind_the_hang() -> None:
        try:
            await ref.ask(Work(2), timeout=None)
        except ak.ActorStopped as exc:
            outcomes.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask_behind_the_hang)
        await trio.testing.wait_all_tasks_blocked()
        started = trio.current_time()
        await ref.stop()
        assert trio.current_time() - started == 5.0
    assert not ref.alive
    assert len(outcomes) == 1
    hung = await probe.expect_event("dead_letter", actor="stuck")
    queued = await probe.expect_event("dead_letter", actor="stuck")
    assert {hung["message"], queued["message"]} == {"Work(n=1)", "Work(n=2)"}
    assert {hung["reason"], queued["reason"]} == {"stopped"}


async def test_fill_mailbox_fills_it_to_capacity(runtime: ak.Runtime) -> None:
    """It returns how many it sent; then send_nowait raises MailboxFull."""
    log: list[object] = []
    ref = await runtime.spawn(Worker, log, mailbox=ak.Mailbox(capacity=4))
    assert fill_mailbox(ref, Work(0)) == 4
    with pytest.raises(ak.MailboxFull):
        ref.send_nowait(Work(1))
    assert runtime.stats().messages_queued == 4


async def test_fill_mailbox_counts_what_is_already_queued(runtime: ak.Runtime) -> None:
    """A partly filled mailbox gets only the remaining room."""
    ref = await runtime.spawn(Worker, [], mailbox=ak.Mailbox(capacity=5))
    hang(ref)
    await ref.send(Work(0))
    await trio.testing.wait_all_tasks_blocked()  # the actor hangs on Work(0)
    await ref.send(Work(1))
    assert fill_mailbox(ref, Work(2)) == 4


async def test_a_send_to_a_filled_mailbox_blocks_until_the_actor_drains(
    runtime: ak.Runtime,
) -> None:
    """``await send`` waits for room (backpressure) and completes once the actor takes one."""
    log: list[object] = []
    ref = await runtime.spawn(Worker, log, mailbox=ak.Mailbox(capacity=3))
    hang(ref)
    await ref.send(Other())
    await trio.testing.wait_all_tasks_blocked()  # the actor is stuck on Other()
    assert fill_mailbox(ref, Work(0)) == 3
    with trio.move_on_after(60) as scope:
        await ref.send(Work(1))
    assert scope.cancelled_caught  # still full: the hung actor drains nothing

    ref2 = await runtime.spawn(Worker, log, mailbox=ak.Mailbox(capacity=3))
    fill_mailbox(ref2, Work(0))
    await ref2.send(Work(9))  # blocks until ref2 pops a message, then returns
    assert await ref2.ask(Other()) == "other"
    assert log == [0, 0, 0, 9, "other"]


async def test_capture_events_records_what_the_block_emits(runtime: ak.Runtime) -> None:
    """Events inside the block are captured in order, by name and with their keys."""
    ref = await runtime.spawn(Worker, [], name="w")
    crash(ref, exc=KeyError("k"))
    with capture_events() as events:
        await ref.send(Work(1))
        await trio.testing.wait_all_tasks_blocked()
    assert "actor_crashed" in events.names()
    assert events.names().index("actor_crashed") < events.names().index("actor_stopped")
    [crashed] = events.named("actor_crashed")
    assert crashed["actor"] == "w"
    assert crashed["error_type"] == "KeyError"
    assert crashed["log_level"] == "error"
    assert events.named("no_such_event") == []


async def test_capture_events_sees_nothing_outside_its_block(runtime: ak.Runtime) -> None:
    """What happens after the block is not captured, and logging is restored."""
    with capture_events() as events:
        ref = await runtime.spawn(Worker, [], name="quiet")
    crash(ref)
    await ref.send(Work(1))
    await trio.testing.wait_all_tasks_blocked()
    assert events.names() == ["actor_started"]
    with capture_events() as later:
        await runtime.spawn(Worker, [], name="again")
    assert later.names() == ["actor_started"]
