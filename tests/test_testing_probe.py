"""ak.testing.Probe: expecting messages, terminations, topics and runtime events, on virtual
time (a probe that waits seconds for nothing costs no real time)."""

from __future__ import annotations

import enum

import attrs
import pytest
import trio

import actorkit as ak
from actorkit.testing import Probe, ProbeFailure, hang


@attrs.frozen
class Ping:
    n: int
    reply_to: ak.ActorRef


@attrs.frozen
class Pong:
    n: int


@attrs.frozen
class Fail:
    pass


@attrs.frozen
class Stop:
    pass


class Echo(ak.Actor):
    """Answers Ping with Pong to ``reply_to``; crashes on Fail; stops itself on Stop."""

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> None:
        await msg.reply_to.send(Pong(msg.n))

    @ak.on(Fail)
    async def fail(self, msg: Fail) -> None:
        raise ValueError("told to fail")

    @ak.on(Stop)
    async def stop(self, msg: Stop) -> None:
        self.ctx.stop()


class Light(enum.Enum):
    OFF = "off"
    ON = "on"


@attrs.frozen
class Toggle:
    pass


class Switch(ak.StateMachine):
    states = Light
    initial = Light.OFF
    transitions = {Light.OFF: {Light.ON}, Light.ON: {Light.OFF}}  # noqa: RUF012

    @ak.on(Toggle, state=Light.OFF)
    async def switch_on(self, msg: Toggle) -> None:
        await self.transition(Light.ON)

    @ak.on(Toggle, state=Light.ON)
    async def switch_off(self, msg: Toggle) -> None:
        await self.transition(Light.OFF)


# -- expect ------------------------------------------------------------------------------------


async def test_expect_returns_the_next_message(runtime: ak.Runtime, probe: Probe) -> None:
    """``expect(Type)`` returns the message itself, in arrival order."""
    echo = await runtime.spawn(Echo)
    await echo.send(Ping(1, probe.ref))
    await echo.send(Ping(2, probe.ref))
    assert await probe.expect(Pong) == Pong(1)
    assert await probe.expect(Pong, where=lambda pong: pong.n == 2) == Pong(2)


async def test_expect_waits_on_virtual_time(runtime: ak.Runtime, probe: Probe) -> None:
    """A reply that comes an hour later (virtual) is still received within a longer timeout."""

    async def reply_later() -> None:
        await trio.sleep(3600)
        await probe.ref.send(Pong(1))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reply_later)
        started = trio.current_time()
        assert await probe.expect(Pong, timeout=7200) == Pong(1)
        assert trio.current_time() - started == 3600


async def test_expect_fails_on_a_message_of_another_type(runtime: ak.Runtime, probe: Probe) -> None:
    """The failure is a ProbeFailure (an AssertionError) listing what arrived."""
    await probe.ref.send("surprise")
    with pytest.raises(ProbeFailure) as caught:
        await probe.expect(Pong)
    assert isinstance(caught.value, AssertionError)
    message = str(caught.value)
    assert "expected Pong, but the next message was 'surprise'" in message
    assert "1. 'surprise'  (consumed)" in message


async def test_expect_fails_when_where_does_not_match(runtime: ak.Runtime, probe: Probe) -> None:
    """A message of the right type that fails the predicate is a failure, not skipped."""
    await probe.ref.send(Pong(1))
    await probe.ref.send(Pong(2))
    with pytest.raises(ProbeFailure) as caught:
        await probe.expect(Pong, where=lambda pong: pong.n == 2)
    message = str(caught.value)
    assert "expected Pong matching the predicate" in message
    assert "Pong(n=1), does not match it" in message
    assert "The probe received 2 message(s):" in message
    assert "2. Pong(n=2)" in message


async def test_expect_times_out_after_exactly_timeout(runtime: ak.Runtime, probe: Probe) -> None:
    """With nothing arriving it waits exactly ``timeout`` virtual seconds, then fails."""
    started = trio.current_time()
    with pytest.raises(ProbeFailure) as caught:
        await probe.expect(Pong, timeout=2.5)
    assert trio.current_time() - started == 2.5
    assert "expected Pong within 2.5 s, but nothing more arrived" in str(caught.value)
    assert "The probe has received nothing at all." in str(caught.value)


async def test_a_timeout_failure_lists_what_was_consumed(runtime: ak.Runtime, probe: Probe) -> None:
    """The history in a failure shows earlier messages, consumed ones marked."""
    await probe.ref.send(Pong(1))
    await probe.expect(Pong)
    with pytest.raises(ProbeFailure) as caught:
        await probe.expect(Pong, timeout=1)
    assert "1. Pong(n=1)  (consumed)" in str(caught.value)


async def test_a_message_already_delivered_counts_even_with_no_timeout(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """What is in the probe's mailbox has arrived: ``timeout=0`` takes it, ``within=0`` sees it."""
    await probe.ref.send(Pong(1))
    assert await probe.expect(Pong, timeout=0) == Pong(1)
    await probe.ref.send(Pong(2))
    with pytest.raises(ProbeFailure, match=r"Pong\(n=2\) arrived"):
        await probe.expect_no_message(within=0)


async def test_a_probe_that_cannot_take_its_messages_fails_in_time(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """Even a probe whose mailbox is stuck (here: hung on purpose) fails at its deadline."""
    hang(probe.ref)
    await probe.ref.send(Pong(1))  # the hung "handler" swallows this one
    await probe.ref.send(Pong(2))  # and this one waits behind it
    started = trio.current_time()
    with pytest.raises(ProbeFailure, match="nothing more arrived"):
        await probe.expect(Pong, timeout=1)
    assert trio.current_time() - started == 1


async def test_expect_no_message_passes_on_silence(runtime: ak.Runtime, probe: Probe) -> None:
    """It waits ``within`` virtual seconds and returns when nothing came."""
    started = trio.current_time()
    await probe.expect_no_message(within=10)
    assert trio.current_time() - started == 10


async def test_expect_no_message_fails_when_something_arrives(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """A message arriving within the window is reported."""

    async def send_later() -> None:
        await trio.sleep(5)
        await probe.ref.send(Pong(3))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_later)
        with pytest.raises(ProbeFailure, match=r"expected no message within 10 s.*Pong\(n=3\)"):
            await probe.expect_no_message(within=10)


async def test_received_and_pending(runtime: ak.Runtime, probe: Probe) -> None:
    """``received`` keeps everything; ``pending`` only what no expect has consumed."""
    for n in range(3):
        await probe.ref.send(Pong(n))
    await trio.testing.wait_all_tasks_blocked()
    assert probe.received == [Pong(0), Pong(1), Pong(2)]
    assert probe.pending == [Pong(0), Pong(1), Pong(2)]
    await probe.expect(Pong)
    assert probe.received == [Pong(0), Pong(1), Pong(2)]
    assert probe.pending == [Pong(1), Pong(2)]
    probe.received.clear()  # a copy: the probe's record is untouched
    assert len(probe.received) == 3


async def test_probe_start_makes_a_named_probe(runtime: ak.Runtime) -> None:
    """``Probe.start`` spawns another probe, here under a name others can look up."""
    other = await Probe.start(runtime, name="listener")
    assert runtime.lookup("listener") == other.ref
    await runtime.lookup("listener").send(Pong(5))
    assert await other.expect(Pong) == Pong(5)


# -- termination -------------------------------------------------------------------------------


async def test_expect_terminated_after_a_normal_stop(runtime: ak.Runtime, probe: Probe) -> None:
    """A watched actor that stops normally gives Terminated with reason None."""
    echo = await runtime.spawn(Echo)
    probe.watch(echo)
    await echo.send(Stop())
    terminated = await probe.expect_terminated(echo)
    assert terminated.ref == echo
    assert terminated.reason is None


async def test_expect_terminated_after_a_crash_carries_the_reason(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """A watched actor that crashes gives Terminated with the exception as reason."""
    echo = await runtime.spawn(Echo)
    probe.watch(echo)
    await echo.send(Fail())
    terminated = await probe.expect_terminated(echo)
    assert isinstance(terminated.reason, ValueError)
    assert str(terminated.reason) == "told to fail"


async def test_expect_terminated_of_an_already_dead_actor(
    runtime: ak.Runtime, probe: Probe
) -> None:
    """Watching an actor that has ended delivers its Terminated at once."""
    echo = await runtime.spawn(Echo)
    await echo.stop()
    probe.watch(echo)
    assert (await probe.expect_terminated(echo, timeout=0)).reason is None


async def test_expect_terminated_fails_for_another_actor(runtime: ak.Runtime, probe: Probe) -> None:
    """Terminated for a different ref does not satisfy it."""
    first = await runtime.spawn(Echo)
    second = await runtime.spawn(Echo)
    probe.watch(first)
    await first.stop()
    with pytest.raises(ProbeFailure, match="does not match"):
        await probe.expect_terminated(second)


# -- topics and runtime events -----------------------------------------------------------------


async def test_subscribe_receives_published_messages(runtime: ak.Runtime, probe: Probe) -> None:
    """A subscribed probe receives what is published on its topic, and only that."""
    probe.subscribe("news")
    assert await runtime.publish("news", Pong(1)) == 1
    assert await runtime.publish("sports", Pong(2)) == 0
    assert await probe.expect(Pong) == Pong(1)
    await probe.expect_no_message(within=1)


async def test_expect_event_actor_crashed(runtime: ak.Runtime, probe: Probe) -> None:
    """A crash is seen as the ``actor_crashed`` event, with its keys."""
    probe.subscribe_events()
    echo = await runtime.spawn(Echo, name="x")
    await echo.send(Fail())
    event = await probe.expect_event("actor_crashed", actor="x")
    assert isinstance(event, ak.RuntimeEvent)
    assert event["error_type"] == "ValueError"
    assert event["error"] == "told to fail"
    assert event["decision"] == "stop"


async def test_expect_event_skips_other_events(runtime: ak.Runtime, probe: Probe) -> None:
    """Events that do not match (another name or another actor) are skipped."""
    probe.subscribe_events()
    first = await runtime.spawn(Echo, name="first")
    second = await runtime.spawn(Echo, name="second")
    await first.send(Fail())
    await trio.testing.wait_all_tasks_blocked()  # first has crashed before second is told to
    await second.send(Fail())
    event = await probe.expect_event("actor_crashed", actor="second")
    assert event["actor"] == "second"
    assert any(
        isinstance(m, ak.RuntimeEvent) and m.event == "actor_crashed" and m["actor"] == "first"
        for m in probe.received
    )


async def test_expect_event_times_out(runtime: ak.Runtime, probe: Probe) -> None:
    """No matching event within the timeout is a ProbeFailure, after exactly that long."""
    probe.subscribe_events()
    started = trio.current_time()
    with pytest.raises(ProbeFailure, match="the event actor_crashed"):
        await probe.expect_event("actor_crashed", timeout=4)
    assert trio.current_time() - started == 4


async def test_expect_event_actor_restarted(runtime: ak.Runtime, probe: Probe) -> None:
    """A supervised crash is followed by ``actor_restarted``."""
    probe.subscribe_events()
    await runtime.start(ak.Supervisor("sup", children=[ak.Child(Echo, name="x")]))
    await runtime.lookup("x").send(Fail())
    crashed = await probe.expect_event("actor_crashed", actor="x")
    assert crashed["decision"] == "restart"
    restarted = await probe.expect_event("actor_restarted", actor="x")
    assert restarted["restarts"] == 1
    assert restarted["path"] == "sup/x"


async def test_expect_event_dead_letter(runtime: ak.Runtime, probe: Probe) -> None:
    """A message nobody handles is seen as ``dead_letter``."""
    probe.subscribe_events()
    echo = await runtime.spawn(Echo, name="x")
    await echo.send(Pong(9))  # Echo has no handler for Pong
    event = await probe.expect_event("dead_letter", actor="x")
    assert event["reason"] == "unhandled"
    assert event["message"] == "Pong(n=9)"
    assert event["recipient"] == "x"


async def test_expect_event_state_changed(runtime: ak.Runtime, probe: Probe) -> None:
    """A state machine's transition is seen as ``state_changed``."""
    probe.subscribe_events()
    switch = await runtime.spawn(Switch, name="switch")
    await switch.send(Toggle())
    await switch.send(Toggle())
    first = await probe.expect_event("state_changed", actor="switch")
    assert (first["from_state"], first["to_state"]) == ("OFF", "ON")
    second = await probe.expect_event("state_changed", actor="switch", to_state="OFF")
    assert second["from_state"] == "ON"
