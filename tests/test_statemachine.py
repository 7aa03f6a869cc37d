"""State machines (issue #4): dispatch per state, transitions, hooks, timeouts, postpone, checks.

gen_statem is the reference. Every async test runs on Trio's virtual clock (the
``autojump_clock`` fixture), so times are asserted exactly.
"""

# The suite asserts `expected == actual`, so literals sit on the left on purpose; state machines
# declare their tables as class-level data, read-only by design.
# ruff: noqa: RUF012

from __future__ import annotations

import enum
import gc
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from structlog.testing import capture_logs

import actorkit as ak

# -- the states and messages of the sample machine ---------------------------------------------


class S(enum.Enum):
    IDLE = "idle"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"


class Other(enum.Enum):
    """A foreign enum: its members are not states of S."""

    ELSEWHERE = "elsewhere"


TABLE: dict[S, set[S]] = {
    S.IDLE: {S.PROCESSING},
    S.PROCESSING: {S.PROCESSING, S.COMPLETED, S.ERROR},
    S.COMPLETED: {S.IDLE},
    S.ERROR: {S.IDLE},
}


@attrs.frozen
class Go:
    target: Any
    timeout: float | None = None


@attrs.frozen
class GetState:
    pass


@attrs.frozen
class Job:
    n: int


@attrs.frozen
class Ping:
    pass


@attrs.frozen
class Hold:
    """Sleep ``seconds`` in the handler, then move to ``then``."""

    seconds: float
    then: S


@attrs.frozen
class Boom:
    """Sleep ``seconds`` in the handler, then raise."""

    seconds: float


@attrs.frozen
class ArmEvent:
    seconds: float


@attrs.frozen
class Tick:
    n: int


@attrs.frozen
class StartTimer:
    name: str
    seconds: float
    tick: Tick


@attrs.frozen
class CancelTimer:
    name: str


class Machine(ak.StateMachine):
    """IDLE → PROCESSING → COMPLETED | ERROR → IDLE; Jobs wait (postponed) while PROCESSING."""

    states = S
    initial = S.IDLE
    transitions = TABLE

    def __init__(self, seen: list[Any] | None = None) -> None:
        self.seen: list[Any] = [] if seen is None else seen

    def note(self, what: Any) -> None:
        self.seen.append((trio.current_time(), what))

    async def on_enter(self, state: Any) -> None:
        self.note(("enter", state))

    async def on_exit(self, state: Any) -> None:
        self.note(("exit", state))

    @ak.on(Go)
    async def go(self, msg: Go) -> None:
        await self.transition(msg.target, timeout=msg.timeout)

    @ak.on(GetState)
    async def get_state(self, msg: GetState) -> Any:
        return self.state

    @ak.on(Job, state=S.PROCESSING)
    async def job_later(self, msg: Job) -> None:
        self.postpone()

    @ak.on(Job)
    async def job(self, msg: Job) -> int:
        self.note(msg)
        return msg.n

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> str:
        self.note(msg)
        return "pong"

    @ak.on(Hold)
    async def hold(self, msg: Hold) -> None:
        await trio.sleep(msg.seconds)
        await self.transition(msg.then)

    @ak.on(Boom)
    async def boom(self, msg: Boom) -> None:
        await trio.sleep(msg.seconds)
        raise RuntimeError("boom")

    @ak.on(ArmEvent)
    async def arm(self, msg: ArmEvent) -> None:
        self.set_event_timeout(msg.seconds)

    @ak.on(StartTimer)
    async def start(self, msg: StartTimer) -> None:
        self.start_timer(msg.name, msg.seconds, msg.tick)

    @ak.on(CancelTimer)
    async def cancel(self, msg: CancelTimer) -> None:
        self.cancel_timer(msg.name)

    @ak.on(Tick)
    @ak.on(ak.StateTimeout)
    @ak.on(ak.EventTimeout)
    async def timed(self, msg: Any) -> None:
        self.note(msg)


def only(seen: list[Any], *types: type) -> list[tuple[float, Any]]:
    """The (time, message) notes of the given message types."""
    return [(t, what) for t, what in seen if isinstance(what, types)]


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


# -- dispatch per state --------------------------------------------------------------------------


@attrs.frozen
class Animal:
    pass


@attrs.frozen
class Dog(Animal):
    pass


@attrs.frozen
class Cat(Animal):
    pass


@attrs.frozen
class IdleOnly:
    pass


class Dispatcher(ak.StateMachine):
    states = S
    initial = S.IDLE
    transitions = TABLE

    @ak.on(Go)
    async def go(self, msg: Go) -> None:
        await self.transition(msg.target)

    @ak.on(Ping, state=S.IDLE)
    async def ping_idle(self, msg: Ping) -> str:
        return "idle"

    @ak.on(Ping)
    async def ping_any(self, msg: Ping) -> str:
        return "any"

    @ak.on(Animal, state=S.PROCESSING)
    async def animal_processing(self, msg: Animal) -> str:
        return "processing-animal"

    @ak.on(Dog)
    async def dog_any(self, msg: Dog) -> str:
        return "any-dog"

    @ak.on(IdleOnly, state=S.IDLE)
    async def idle_only(self, msg: IdleOnly) -> str:
        return "idle-only"


async def test_state_handler_wins_over_any_state_handler(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """For the same class, the handler of the current state wins; elsewhere the any-state one."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Dispatcher)
        assert "idle" == await ref.ask(Ping())
        await ref.send(Go(S.PROCESSING))
        assert "any" == await ref.ask(Ping())
        await ref.send(Go(S.COMPLETED))
        assert "any" == await ref.ask(Ping())


async def test_most_specific_message_class_wins(autojump_clock: trio.testing.MockClock) -> None:
    """An any-state handler of a subclass beats a state handler of its base class."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Dispatcher)
        assert "any-dog" == await ref.ask(Dog())
        await ref.send(Go(S.PROCESSING))
        assert ("any-dog", "processing-animal") == (await ref.ask(Dog()), await ref.ask(Cat()))


async def test_message_without_handler_in_state_is_unhandled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """With no handler in the current state, an ask raises UnhandledMessage and a send is a dead
    letter with reason "unhandled"."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Dispatcher)
        assert "idle-only" == await ref.ask(IdleOnly())
        with pytest.raises(ak.UnhandledMessage):
            await ref.ask(Cat())
        await ref.send(Go(S.PROCESSING))
        with capture_logs() as logs:
            with pytest.raises(ak.UnhandledMessage):
                await ref.ask(IdleOnly())
            await ref.send(IdleOnly())
            await settle()
        letters = events(logs, "dead_letter")
        assert [("unhandled", "IdleOnly")] * 2 == [
            (e["reason"], e["message_type"]) for e in letters
        ]
        assert 3 == rt.stats().dead_letters


# -- transitions -------------------------------------------------------------------------------


async def test_transitions_emit_one_state_changed_event_each(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each change emits exactly one state_changed with actor, from/to state and the message."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, name="m")
        with capture_logs() as logs:
            for target in (S.PROCESSING, S.ERROR, S.IDLE, S.PROCESSING, S.COMPLETED):
                await ref.send(Go(target))
            assert S.COMPLETED == await ref.ask(GetState())
        changed = events(logs, "state_changed")
        assert [
            ("m", "IDLE", "PROCESSING", repr(Go(S.PROCESSING))),
            ("m", "PROCESSING", "ERROR", repr(Go(S.ERROR))),
            ("m", "ERROR", "IDLE", repr(Go(S.IDLE))),
            ("m", "IDLE", "PROCESSING", repr(Go(S.PROCESSING))),
            ("m", "PROCESSING", "COMPLETED", repr(Go(S.COMPLETED))),
        ] == [(e["actor"], e["from_state"], e["to_state"], e["message"]) for e in changed]


async def test_transition_outside_table_raises_and_crashes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A move not in the table raises InvalidTransition naming both states; the actor crashes."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, name="m")
        with capture_logs() as logs:
            with pytest.raises(ak.ActorCrashed) as info:
                await ref.ask(Go(S.COMPLETED))
            await settle()
        cause = info.value.__cause__
        assert isinstance(cause, ak.InvalidTransition)
        assert (S.IDLE, S.COMPLETED) == (cause.source, cause.target)
        assert "IDLE" in str(cause)
        assert "COMPLETED" in str(cause)
        assert not ref.alive
        assert [] == events(logs, "state_changed")
        assert ["InvalidTransition"] == [e["error_type"] for e in events(logs, "actor_crashed")]


async def test_invalid_transition_under_supervisor_restarts_in_initial_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Supervised, a machine that made an invalid move restarts in its initial state."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        await rt.start(
            ak.Supervisor(name="sup", children=[ak.Child(Machine, args=(seen,), name="m")])
        )
        ref = rt.lookup("m")
        await ref.send(Go(S.PROCESSING))
        assert S.PROCESSING == await ref.ask(GetState())
        with capture_logs() as logs:
            with pytest.raises(ak.ActorCrashed) as info:
                await ref.ask(Go(S.IDLE))
            assert S.IDLE == await ref.ask(GetState())
        assert isinstance(info.value.__cause__, ak.InvalidTransition)
        assert [("InvalidTransition", "restart")] == [
            (e["error_type"], e["decision"]) for e in events(logs, "actor_crashed")
        ]
        assert [("enter", S.IDLE), ("enter", S.PROCESSING), ("enter", S.IDLE)] == [
            what for _, what in seen if what[0] == "enter"
        ]


# -- enter and exit hooks ------------------------------------------------------------------------


async def test_on_enter_and_on_exit_run_around_each_transition(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """on_enter runs for the initial state at start; each move runs on_exit then on_enter."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        assert [(0.0, ("enter", S.IDLE))] == seen
        await ref.send(Go(S.PROCESSING))
        await ref.ask(Go(S.ERROR))
    assert [
        ("enter", S.IDLE),
        ("exit", S.IDLE),
        ("enter", S.PROCESSING),
        ("exit", S.PROCESSING),
        ("enter", S.ERROR),
    ] == [what for _, what in seen]


class EagerEnter(Machine):
    """An on_enter hook that tries to move on at once (which gen_statem forbids)."""

    def __init__(self, seen: list[Any] | None = None, from_state: S = S.PROCESSING) -> None:
        super().__init__(seen)
        self.from_state = from_state

    async def on_enter(self, state: Any) -> None:
        if state is self.from_state:
            await self.transition(S.COMPLETED if state is S.PROCESSING else S.PROCESSING)


async def test_on_enter_cannot_transition(autojump_clock: trio.testing.MockClock) -> None:
    """A transition from on_enter raises InvalidTransition and crashes the machine."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(EagerEnter)
        with pytest.raises(ak.ActorCrashed) as info:
            await ref.ask(Go(S.PROCESSING))
        cause = info.value.__cause__
        assert isinstance(cause, ak.InvalidTransition)
        assert (S.PROCESSING, S.COMPLETED) == (cause.source, cause.target)


async def test_initial_on_enter_cannot_transition(autojump_clock: trio.testing.MockClock) -> None:
    """The initial on_enter trying to move makes spawn fail with the InvalidTransition chained."""
    async with ak.open_runtime() as rt:
        with pytest.raises(ak.StartFailed) as info:
            await rt.spawn(EagerEnter, None, S.IDLE)
        assert isinstance(info.value.__cause__, ak.InvalidTransition)


# -- timeouts on Trio's clock ------------------------------------------------------------------


async def test_state_timeout_from_transition_arrives_at_exact_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """transition(S.X, timeout=7) delivers StateTimeout(S.X) at exactly t+7."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await trio.sleep(1.5)
        await ref.send(Go(S.PROCESSING, timeout=7.0))
        await trio.sleep(30)
    assert [(8.5, ak.StateTimeout(S.PROCESSING))] == only(seen, ak.StateTimeout)


class TimedMachine(Machine):
    """Class-declared state timeouts, the initial state's included."""

    state_timeouts = {S.IDLE: 4.0, S.PROCESSING: 3.0}

    @ak.on(ak.StateTimeout, state=S.IDLE)
    async def idle_timeout(self, msg: ak.StateTimeout) -> None:
        self.note(msg)
        await self.transition(S.PROCESSING)

    @ak.on(ak.StateTimeout, state=S.PROCESSING)
    async def processing_timeout(self, msg: ak.StateTimeout) -> None:
        self.note(msg)
        await self.transition(S.ERROR)


async def test_class_state_timeouts_apply_to_every_entry(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """state_timeouts start on each entry, the initial one included, at exact virtual times."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        with capture_logs() as logs:
            await rt.spawn(TimedMachine, seen)
            await trio.sleep(30)
    assert [
        (4.0, ak.StateTimeout(S.IDLE)),
        (7.0, ak.StateTimeout(S.PROCESSING)),
    ] == only(seen, ak.StateTimeout)
    assert [
        ("IDLE", "PROCESSING", repr(ak.StateTimeout(S.IDLE))),
        ("PROCESSING", "ERROR", repr(ak.StateTimeout(S.PROCESSING))),
    ] == [(e["from_state"], e["to_state"], e["message"]) for e in events(logs, "state_changed")]


async def test_state_change_cancels_state_timeout(autojump_clock: trio.testing.MockClock) -> None:
    """A state timeout is never delivered once the state changed before it went off."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(Go(S.PROCESSING, timeout=5.0))
        await trio.sleep(2)
        await ref.send(Go(S.COMPLETED))
        await trio.sleep(30)
        assert S.COMPLETED == await ref.ask(GetState())
    assert [] == only(seen, ak.StateTimeout)


async def test_state_timeout_that_went_off_during_a_handler_is_not_delivered_after_a_change(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A state timeout that fires while a handler runs, which then moves, is never delivered."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        with capture_logs() as logs:
            await ref.send(Go(S.PROCESSING, timeout=5.0))
            await ref.send(Hold(10.0, S.COMPLETED))
            await trio.sleep(30)
        assert S.COMPLETED == await ref.ask(GetState())
    assert [] == only(seen, ak.StateTimeout)
    assert [] == events(logs, "dead_letter")


async def test_event_timeout_arrives_when_no_message_does(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """set_event_timeout(4) delivers EventTimeout at exactly t+4 when nothing else arrives."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await trio.sleep(1)
        await ref.send(ArmEvent(4.0))
        await trio.sleep(30)
    assert [(5.0, ak.EventTimeout())] == only(seen, ak.EventTimeout)


async def test_any_handled_message_cancels_event_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A message handled before the event timeout cancels it for good."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(ArmEvent(4.0))
        await trio.sleep(3.9)
        assert "pong" == await ref.ask(Ping())
        await trio.sleep(30)
    assert [] == only(seen, ak.EventTimeout)
    assert [(3.9, Ping())] == only(seen, Ping)


async def test_named_timer_survives_transitions(autojump_clock: trio.testing.MockClock) -> None:
    """A named timer is delivered at its exact time whatever state changes happen meanwhile."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(StartTimer("t", 5.0, Tick(1)))
        await trio.sleep(1)
        await ref.send(Go(S.PROCESSING))
        await ref.send(Go(S.ERROR))
        await trio.sleep(30)
    assert [(5.0, Tick(1))] == only(seen, Tick)


async def test_cancelled_named_timer_is_never_delivered(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """cancel_timer(name) stops that timer only; another named timer still fires."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(StartTimer("a", 5.0, Tick(1)))
        await ref.send(StartTimer("b", 6.0, Tick(2)))
        await trio.sleep(2)
        await ref.send(CancelTimer("a"))
        await ref.send(CancelTimer("never-started"))
        await trio.sleep(30)
    assert [(6.0, Tick(2))] == only(seen, Tick)


async def test_restarting_named_timer_replaces_it(autojump_clock: trio.testing.MockClock) -> None:
    """Starting a timer under a name in use replaces the old one (its message is never sent)."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(StartTimer("t", 5.0, Tick(1)))
        await trio.sleep(2)
        await ref.send(StartTimer("t", 5.0, Tick(2)))
        await trio.sleep(30)
    assert [(7.0, Tick(2))] == only(seen, Tick)


async def test_event_timeouts_do_not_accumulate_timers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Re-arming the event timeout on every message keeps memory flat (no cancel scope kept)."""

    def live_scopes() -> int:
        gc.collect()
        return sum(isinstance(o, trio.CancelScope) for o in gc.get_objects())

    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine)
        await ref.ask(ArmEvent(100.0))
        before = live_scopes()
        for _ in range(3000):
            await ref.ask(ArmEvent(100.0))
        after = live_scopes()
    # Trio itself keeps up to ~1000 stale deadlines before pruning; a leak keeps all 3000.
    assert after - before < 1500


async def test_timeout_of_crashed_instance_is_not_delivered_to_its_successor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A state timeout that went off while the handler that then crashed was running dies with
    that instance: the restarted machine, back in IDLE, never receives it."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        await rt.start(
            ak.Supervisor(name="sup", children=[ak.Child(Machine, args=(seen,), name="m")])
        )
        ref = rt.lookup("m")
        await ref.send(Go(S.PROCESSING, timeout=5.0))
        with capture_logs() as logs:
            await ref.send(Boom(10.0))
            await trio.sleep(30)
        assert S.IDLE == await ref.ask(GetState())
    assert ["restart"] == [e["decision"] for e in events(logs, "actor_crashed")]
    assert [] == only(seen, ak.StateTimeout)


# -- postpone ----------------------------------------------------------------------------------


async def test_postponed_messages_are_retried_in_order_after_a_state_change(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Postponed messages are handled, in send order, right after the next state change."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(Go(S.PROCESSING))
        for n in range(3):
            await ref.send(Job(n))
        await ref.send(Ping())
        await trio.sleep(1)
        await ref.send(Go(S.COMPLETED))
        await ref.send(Ping())
        await settle()
        stats = rt.stats()
    assert [(0.0, Ping()), (1.0, Job(0)), (1.0, Job(1)), (1.0, Job(2)), (1.0, Ping())] == only(
        seen, Job, Ping
    )
    assert (7, 0, 0) == (stats.messages_processed, stats.messages_queued, stats.dead_letters)


async def test_postponed_messages_wait_through_transition_to_same_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A transition to the same state does not retry postponed messages; the next change does."""
    seen: list[Any] = []
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, seen)
        await ref.send(Go(S.PROCESSING))
        await ref.send(Job(1))
        await ref.send(Go(S.PROCESSING))
        await settle()
        assert [] == only(seen, Job)
        assert 1 == rt.stats().messages_queued
        await trio.sleep(2)
        await ref.send(Go(S.ERROR))
        await settle()
    assert [(2.0, Job(1))] == only(seen, Job)


async def test_postponed_ask_is_answered_when_finally_handled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """An ask whose message was postponed gets its reply once the message is handled."""
    replies: list[tuple[float, Any]] = []

    async def asker(ref: ak.ActorRef) -> None:
        reply = await ref.ask(Job(7), timeout=10.0)
        replies.append((trio.current_time(), reply))

    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine)
        await ref.send(Go(S.PROCESSING))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker, ref)
            await trio.sleep(3)
            assert [] == replies
            await ref.send(Go(S.COMPLETED))
    assert [(3.0, 7)] == replies


async def test_postponed_messages_are_dead_letters_when_machine_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Messages still postponed when the machine stops are not lost: they become dead letters."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine)
        await ref.send(Go(S.PROCESSING))
        await ref.send(Job(1))
        await ref.send(Job(2))
        await settle()
        with capture_logs() as logs:
            await ref.stop()
        stats = rt.stats()
    assert [("stopped", repr(Job(1))), ("stopped", repr(Job(2)))] == [
        (e["reason"], e["message"]) for e in events(logs, "dead_letter")
    ]
    assert (1, 0, 2) == (stats.messages_processed, stats.messages_queued, stats.dead_letters)


# -- checks when the class is created ----------------------------------------------------------


def test_unknown_state_as_transition_source_is_refused() -> None:
    """A transitions key that is not a state raises TypeError at class creation."""
    with pytest.raises(TypeError, match="transitions"):

        class Bad(ak.StateMachine):
            states = S
            initial = S.IDLE
            transitions = {**TABLE, Other.ELSEWHERE: {S.IDLE}}


def test_unknown_state_as_transition_target_is_refused() -> None:
    """A transitions target that is not a state raises TypeError at class creation."""
    with pytest.raises(TypeError, match="ELSEWHERE"):

        class Bad(ak.StateMachine):
            states = S
            initial = S.IDLE
            transitions = {**TABLE, S.ERROR: {S.IDLE, Other.ELSEWHERE}}


def test_initial_not_a_state_is_refused() -> None:
    """An initial state that is not one of ``states`` raises TypeError at class creation."""
    with pytest.raises(TypeError, match="initial"):

        class Bad(ak.StateMachine):
            states = S
            initial = Other.ELSEWHERE
            transitions = TABLE


def test_handler_for_unknown_state_is_refused() -> None:
    """@ak.on(..., state=X) with X not a state raises TypeError at class creation."""
    with pytest.raises(TypeError, match="ELSEWHERE"):

        class Bad(ak.StateMachine):
            states = S
            initial = S.IDLE
            transitions = TABLE

            @ak.on(Ping, state=Other.ELSEWHERE)
            async def ping(self, msg: Ping) -> None:
                pass


def test_state_on_plain_actor_handler_is_refused() -> None:
    """@ak.on(..., state=...) on a plain ak.Actor raises TypeError at class creation."""
    with pytest.raises(TypeError, match="StateMachine"):

        class Bad(ak.Actor):
            @ak.on(Ping, state=S.IDLE)
            async def ping(self, msg: Ping) -> None:
                pass


def test_unreachable_states_warn() -> None:
    """States no chain of transitions from initial reaches produce UnreachableStateWarning."""
    with pytest.warns(ak.UnreachableStateWarning, match="COMPLETED") as record:

        class Partial(ak.StateMachine):
            states = S
            initial = S.IDLE
            transitions = {S.IDLE: {S.PROCESSING}, S.PROCESSING: {S.IDLE}}

    assert 1 == len(record)
    assert "ERROR" in str(record[0].message)


@pytest.mark.parametrize("case", ["missing initial", "str initial", "str transition target"])
def test_non_member_states_are_refused_with_actorkit_message(case: str) -> None:
    """A missing initial, or a plain string where a state belongs, raises actorkit's TypeError."""
    attributes: dict[str, Any] = {"states": S, "initial": S.IDLE, "transitions": TABLE}
    if case == "missing initial":
        del attributes["initial"]
    elif case == "str initial":
        attributes["initial"] = "IDLE"
    else:
        attributes["transitions"] = {**TABLE, S.ERROR: {"IDLE"}}
    with pytest.raises(TypeError, match=r"Bad\.(initial|transitions)"):
        type("Bad", (ak.StateMachine,), attributes)


# -- diagram, tree and state -------------------------------------------------------------------


class Door(ak.StateMachine):
    """A small machine to draw."""

    class D(enum.Enum):
        CLOSED = 1
        OPEN = 2
        LOCKED = 3

    states = D
    initial = D.CLOSED
    transitions = {D.CLOSED: {D.OPEN, D.LOCKED}, D.OPEN: {D.CLOSED}, D.LOCKED: {D.CLOSED}}

    @ak.on(Go, state=D.CLOSED)
    async def open(self, msg: Go) -> None:
        await self.transition(msg.target)

    @ak.on(Job, state=D.LOCKED)
    async def job(self, msg: Job) -> None:
        pass

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> None:
        pass


def test_diagram_is_mermaid_state_diagram() -> None:
    """diagram() draws the initial state, one line per allowed move, and each state's messages."""
    text = Door.diagram()
    lines = text.splitlines()
    assert "stateDiagram-v2" == lines[0]
    assert "    [*] --> CLOSED" == lines[1]
    moves = {line.strip() for line in lines if "-->" in line and "[*]" not in line}
    assert {"CLOSED --> OPEN", "CLOSED --> LOCKED", "OPEN --> CLOSED", "LOCKED --> CLOSED"} == moves
    handled = {
        line.split(":")[0].strip(): {t.strip() for t in line.split(":")[1].split(",")}
        for line in lines
        if " : " in line
    }
    assert {
        "CLOSED": {"Go", "Ping"},
        "OPEN": {"Ping"},
        "LOCKED": {"Job", "Ping"},
    } == handled


def test_diagram_lists_each_handled_type_once_per_state() -> None:
    """A type handled both in a state and in every state is listed once on that state's line."""
    lines = [line.strip() for line in Dispatcher.diagram().splitlines() if " : " in line]
    listed = {line.split(" : ")[0]: line.split(" : ")[1].split(", ") for line in lines}
    assert ["Dog", "Go", "IdleOnly", "Ping"] == sorted(listed["IDLE"])
    assert ["Animal", "Dog", "Go", "Ping"] == sorted(listed["PROCESSING"])
    assert ["Dog", "Go", "Ping"] == sorted(listed["ERROR"])


def test_diagram_of_sample_machine_lists_every_allowed_move() -> None:
    """The sample machine's diagram has exactly one arrow per entry of its table."""
    lines = Machine.diagram().splitlines()
    arrows = [line.strip() for line in lines if "-->" in line]
    expected = ["[*] --> IDLE"] + [
        f"{source.name} --> {target.name}"
        for source, targets in TABLE.items()
        for target in targets
    ]
    assert sorted(expected) == sorted(arrows)


async def test_tree_and_state_show_current_state(autojump_clock: trio.testing.MockClock) -> None:
    """rt.tree() shows the state's name and self.state reads the current state."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Machine, name="m")
        assert "IDLE" == rt.tree().find("m").state
        await ref.send(Go(S.PROCESSING))
        assert S.PROCESSING == await ref.ask(GetState())
        node = rt.tree().find("m")
        assert node is not None
        assert "PROCESSING" == node.state
        assert "state=PROCESSING" in str(rt.tree())
        await rt.spawn(ak.Actor, name="plain")
        assert rt.tree().find("plain").state is None
        assert "state=" not in str(rt.tree().find("plain"))


# -- Hypothesis: random message sequences against the transition table -------------------------


@attrs.frozen
class Work:
    n: int


@attrs.frozen
class Done:
    n: int


@attrs.frozen
class Fail:
    n: int


@attrs.frozen
class Reset:
    n: int


class Pipeline(ak.StateMachine):
    """Work starts processing (and waits, postponed, while busy); Done/Fail finish it; Reset
    tries to go back to IDLE from anywhere (refused moves are caught and recorded); PROCESSING
    times out to ERROR."""

    states = S
    initial = S.IDLE
    transitions = {
        S.IDLE: {S.PROCESSING},
        S.PROCESSING: {S.COMPLETED, S.ERROR},
        S.COMPLETED: {S.IDLE},
        S.ERROR: {S.IDLE},
    }
    state_timeouts = {S.PROCESSING: 5.0}

    def __init__(self, handled: list[Any], refused: list[tuple[Any, Any]]) -> None:
        self.handled = handled
        self.refused = refused

    @ak.on(Work, state=S.IDLE)
    async def work(self, msg: Work) -> int:
        self.handled.append(msg)
        await self.transition(S.PROCESSING)
        return msg.n

    @ak.on(Work)
    async def work_later(self, msg: Work) -> None:
        self.postpone()

    @ak.on(Done, state=S.PROCESSING)
    async def done(self, msg: Done) -> None:
        self.handled.append(msg)
        await self.transition(S.COMPLETED)

    @ak.on(Fail, state=S.PROCESSING)
    async def fail(self, msg: Fail) -> None:
        self.handled.append(msg)
        await self.transition(S.ERROR)

    @ak.on(Reset)
    async def reset(self, msg: Reset) -> None:
        self.handled.append(msg)
        try:
            await self.transition(S.IDLE)
        except ak.InvalidTransition as exc:
            self.refused.append((exc.source, exc.target))

    @ak.on(ak.StateTimeout, state=S.PROCESSING)
    async def too_long(self, msg: ak.StateTimeout) -> None:
        await self.transition(S.ERROR)


class PipelineSpec(RuleBasedStateMachine):
    """Build a random script of sends, asks and waits; run it once, at teardown, and check it."""

    @initialize()
    def start(self) -> None:
        self.script: list[tuple[str, Any]] = []
        self.count = 0

    def _next(self) -> int:
        self.count += 1
        return self.count

    @rule(ask=st.booleans())
    def work(self, ask: bool) -> None:
        self.script.append(("ask" if ask else "send", Work(self._next())))

    @rule(kind=st.sampled_from([Done, Fail, Reset]))
    def other(self, kind: type) -> None:
        self.script.append(("send", kind(self._next())))

    @rule(seconds=st.sampled_from([0.5, 2.0, 6.0]))
    def wait(self, seconds: float) -> None:
        self.script.append(("wait", seconds))

    def teardown(self) -> None:
        if not getattr(self, "script", None):
            return
        handled: list[Any] = []
        refused: list[tuple[Any, Any]] = []
        replies: dict[int, Any] = {}
        with capture_logs() as logs:
            trio.run(
                self._drive,
                handled,
                refused,
                replies,
                clock=trio.testing.MockClock(autojump_threshold=0),
            )
        self._check(logs, handled, refused, replies)

    async def _drive(
        self, handled: list[Any], refused: list[tuple[Any, Any]], replies: dict[int, Any]
    ) -> None:
        async def asker(ref: ak.ActorRef, msg: Work, sent: trio.Event) -> None:
            sent.set()  # the ask below enqueues before this task first blocks
            try:
                replies[msg.n] = await ref.ask(msg, timeout=1000.0)
            except (ak.ActorStopped, ak.AskTimeout) as exc:
                replies[msg.n] = exc

        async with ak.open_runtime() as rt:
            ref = await rt.spawn(Pipeline, handled, refused, name="pipeline")
            async with trio.open_nursery() as nursery:
                for kind, item in self.script:
                    if kind == "wait":
                        await trio.sleep(item)
                    elif kind == "send":
                        await ref.send(item)
                    else:
                        sent = trio.Event()
                        nursery.start_soon(asker, ref, item, sent)
                        await sent.wait()
                await trio.sleep(20)
                await ref.stop()

    def _check(
        self,
        logs: list[dict[str, Any]],
        handled: list[Any],
        refused: list[tuple[Any, Any]],
        replies: dict[int, Any],
    ) -> None:
        table = Pipeline.transitions
        assert [] == events(logs, "actor_crashed")
        changes = [(S[e["from_state"]], S[e["to_state"]]) for e in events(logs, "state_changed")]
        for source, target in changes:
            assert target in table[source], (source, target)
        # The changes chain from the initial state, one after another.
        assert [S.IDLE, *(target for _, target in changes)][: len(changes)] == [
            source for source, _ in changes
        ]
        for source, target in refused:
            assert target not in table[source]
        sent = [item for kind, item in self.script if kind != "wait"]
        dead = [e["message"] for e in events(logs, "dead_letter")]
        # Every message is handled exactly once or is a dead letter, never both, never lost.
        assert len(set(map(repr, handled))) == len(handled)
        assert sorted(map(repr, sent)) == sorted([*map(repr, handled), *dead])
        # Work (the only message ever postponed) is handled in the order it was sent.
        work_sent = [m for m in sent if isinstance(m, Work)]
        work_handled = [m for m in handled if isinstance(m, Work)]
        assert work_sent[: len(work_handled)] == work_handled
        for kind, item in self.script:
            if kind == "ask":
                if item in handled:
                    assert item.n == replies[item.n]
                else:
                    assert isinstance(replies[item.n], ak.ActorStopped)


TestPipelineStateful = PipelineSpec.TestCase
TestPipelineStateful.settings = settings(max_examples=40, deadline=None, stateful_step_count=25)
