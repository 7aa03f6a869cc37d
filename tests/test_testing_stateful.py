"""ak.testing.TrioStateMachine (async rules, invariants and initializers in a fresh runtime per
example, on virtual time), and interleavings of concurrent actors driven by Hypothesis."""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import actorkit as ak
from actorkit.testing import TrioStateMachine, check_model
from actorkit.testing.strategies import messages, one_of_messages

QUICK = settings(
    max_examples=25,
    stateful_step_count=10,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Hypothesis' explain phase (which lines only failing cases ran) is slow; not needed here.
NO_EXPLAIN = [Phase.explicit, Phase.generate, Phase.shrink]

# -- the actor under test ----------------------------------------------------------------------


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Withdraw:
    amount: int


@attrs.frozen
class Balance:
    pass


class Activity(enum.Enum):
    ACTIVE = "active"
    DORMANT = "dormant"


#: Every account's name, appended when its on_stop runs.
STOPPED: list[str] = []

IDLE_AFTER = 60.0


class Account(ak.StateMachine):
    """A balance that goes DORMANT after a minute without messages, and wakes on the next."""

    states = Activity
    initial = Activity.ACTIVE
    transitions: ClassVar[dict[Any, set[Any]]] = {
        Activity.ACTIVE: {Activity.DORMANT},
        Activity.DORMANT: {Activity.ACTIVE},
    }

    def __init__(self) -> None:
        self.balance = 0

    async def on_start(self) -> None:
        self.set_event_timeout(IDLE_AFTER)

    async def on_stop(self, reason: BaseException | None) -> None:
        STOPPED.append(self.ctx.name)

    async def _wake(self) -> None:
        if self.state is Activity.DORMANT:
            await self.transition(Activity.ACTIVE)
        self.set_event_timeout(IDLE_AFTER)

    @ak.on(Deposit)
    async def deposit(self, msg: Deposit) -> int:
        await self._wake()
        self.balance += msg.amount
        return self.balance

    @ak.on(Withdraw)
    async def withdraw(self, msg: Withdraw) -> bool:
        await self._wake()
        if msg.amount > self.balance:
            return False
        self.balance -= msg.amount
        return True

    @ak.on(Balance)
    async def report(self, msg: Balance) -> int:
        await self._wake()
        return self.balance

    @ak.on(ak.EventTimeout, state=Activity.ACTIVE)
    async def doze(self, msg: ak.EventTimeout) -> None:
        await self.transition(Activity.DORMANT)


class ForgetfulAccount(Account):
    """Buggy: going dormant wipes the balance."""

    async def on_enter(self, state: Any) -> None:
        if state is Activity.DORMANT:
            self.balance = 0


# -- the stateful test -------------------------------------------------------------------------


class AccountMachine(TrioStateMachine):
    """Accounts (a Bundle) against a dict model; time passes only in the ``idle`` rule."""

    account_class: ClassVar[type[Account]] = Account
    #: (runtime, refs) of the example before this one.
    previous: ClassVar[list[tuple[ak.Runtime, list[ak.ActorRef]]]] = []

    accounts = Bundle("accounts")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, int] = {}
        self.refs: list[ak.ActorRef] = []
        self.clock = 0.0

    def _check_clock(self) -> None:
        assert trio.current_time() == self.clock, "virtual time moved outside a rule"

    async def _open(self) -> ak.ActorRef:
        name = f"acct-{len(self.model)}"
        ref = await self.runtime.spawn(self.account_class, name=name)
        self.model[name] = 0
        self.refs.append(ref)
        return ref

    @initialize(target=accounts)
    async def first_account(self) -> ak.ActorRef:
        # A fresh runtime: nothing running, and the previous example's actors all stopped.
        assert self.runtime.stats().actors_live == 0
        for runtime, refs in self.previous:
            assert runtime is not self.runtime
            assert not any(ref.alive for ref in refs)
            assert {ref.name for ref in refs} <= set(STOPPED)
        self.previous[:] = [(self.runtime, self.refs)]
        self.clock = trio.current_time()
        return await self._open()

    @precondition(lambda self: len(self.model) < 3)
    @rule(target=accounts)
    async def another_account(self) -> ak.ActorRef:
        self._check_clock()
        return await self._open()

    @rule(account=accounts, amount=st.integers(1, 100))
    async def deposit(self, account: ak.ActorRef, amount: int) -> None:
        self._check_clock()
        self.model[account.name] += amount
        assert await account.ask(Deposit(amount)) == self.model[account.name]

    @precondition(lambda self: any(self.model.values()))
    @rule(account=accounts, amount=st.integers(1, 100))
    async def withdraw(self, account: ak.ActorRef, amount: int) -> None:
        self._check_clock()
        allowed = self.model[account.name] >= amount
        if allowed:
            self.model[account.name] -= amount
        assert await account.ask(Withdraw(amount)) is allowed

    @rule(seconds=st.integers(0, 7200))
    async def idle(self, seconds: int) -> None:
        self._check_clock()
        await trio.sleep(seconds)
        assert trio.current_time() - self.clock == seconds
        self.clock = trio.current_time()

    @invariant()
    async def balances_agree(self) -> None:
        self._check_clock()
        for ref in self.refs:
            assert await ref.ask(Balance()) == self.model[ref.name]


class ForgetfulAccountMachine(AccountMachine):
    account_class = ForgetfulAccount


TestAccountMachine = AccountMachine.TestCase
TestAccountMachine.settings = QUICK


def test_the_correct_account_passes_as_a_state_machine_test() -> None:
    """Run directly too: every example opened accounts, and each ran in its own runtime."""
    AccountMachine.previous.clear()
    STOPPED.clear()
    run_state_machine_as_test(AccountMachine, settings=QUICK)
    [(last_runtime, last_refs)] = AccountMachine.previous
    assert last_refs
    assert not any(ref.alive for ref in last_refs)
    assert last_runtime.stats().actors_live == 0
    assert len(STOPPED) > len(last_refs)  # earlier examples' accounts stopped too


def _falsify() -> tuple[str, list[str]]:
    """Run the forgetful machine; return its failure and the falsifying steps Hypothesis
    reports."""
    ForgetfulAccountMachine.previous.clear()
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            ForgetfulAccountMachine, settings=settings(QUICK, phases=NO_EXPLAIN)
        )
    notes = getattr(caught.value, "__notes__", [])
    return str(caught.value), [line for note in notes for line in note.splitlines()]


def test_the_forgetful_account_fails_and_the_failure_replays() -> None:
    """The wiped balance is found, shrunk to a deposit and a minute's idling, twice alike."""
    first = _falsify()
    assert first == _falsify()
    error, steps = first
    calls = [line for line in steps if "state." in line and "balances_agree" not in line]
    assert calls == [
        "accounts_0 = state.first_account()",
        "state.deposit(account=accounts_0, amount=1)",
        "state.idle(seconds=60)",
        "state.teardown()",
    ]
    assert "assert 0 == 1" in error


# -- check_model: what a restart does to a model ------------------------------------------------


@attrs.frozen
class Add:
    n: int


@attrs.frozen
class Total:
    pass


class Counter(ak.Actor):
    """Keeps its total in the instance: a restart starts it from zero."""

    def __init__(self) -> None:
        self.total = 0

    @ak.on(Add)
    async def add(self, msg: Add) -> None:
        self.total += msg.n

    @ak.on(Total)
    async def report(self, msg: Total) -> int:
        return self.total


class CounterModelWithoutOnRestart:
    """No on_restart: check_model must start a fresh model when the actor restarts."""

    def __init__(self) -> None:
        self.total = 0

    def apply(self, msg: object) -> object:
        if isinstance(msg, Add):
            self.total += msg.n
            return None
        return self.total


def test_a_model_without_on_restart_is_replaced_by_a_fresh_one() -> None:
    """As documented, a restart means a fresh model when the model has no on_restart."""
    check_model(
        Counter,
        CounterModelWithoutOnRestart,
        messages=one_of_messages(Counter, {Add: messages(Add, n=st.integers(1, 9))}),
        faults=True,
        max_steps=8,
        settings_=settings(QUICK, max_examples=40),
    )


# -- interleavings -----------------------------------------------------------------------------


@attrs.frozen
class Increment:
    pass


class Shared:
    """A plain object two actors both write to: exactly what actors should not do."""

    def __init__(self) -> None:
        self.value = 0
        self.trace: list[str] = []


class RacyCounter(ak.Actor):
    """Read-modify-write across a checkpoint: another actor may run in between."""

    def __init__(self, shared: Shared, lead_in: int) -> None:
        self.shared = shared
        self.lead_in = lead_in

    @ak.on(Increment)
    async def increment(self, msg: Increment) -> None:
        for _ in range(self.lead_in):
            await trio.lowlevel.checkpoint()
        value = self.shared.value
        self.shared.trace.append(f"{self.ctx.name} read {value}")
        await self._between(value)

    async def _between(self, value: int) -> None:
        await trio.lowlevel.checkpoint()
        self.shared.value = value + 1
        self.shared.trace.append(f"{self.ctx.name} wrote {value + 1}")


class AtomicCounter(RacyCounter):
    """Reads and writes with no checkpoint in between: no interleaving can lose an update."""

    async def _between(self, value: int) -> None:
        self.shared.value = value + 1
        self.shared.trace.append(f"{self.ctx.name} wrote {value + 1}")


def count_concurrently(counter: type[RacyCounter]) -> Shared:
    """Two counters each get one Increment at the same moment; return the shared record."""
    shared = Shared()

    async def main() -> None:
        async with ak.open_runtime() as rt:
            first = await rt.spawn(counter, shared, 0, name="a")
            second = await rt.spawn(counter, shared, 1, name="b")
            await trio.testing.wait_all_tasks_blocked()  # both wait for messages
            await first.send(Increment())
            await second.send(Increment())
            await trio.testing.wait_all_tasks_blocked()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return shared


SCHEDULES = settings(
    max_examples=60, database=None, derandomize=True, deadline=None, phases=NO_EXPLAIN
)


@SCHEDULES
@given(schedule=st.random_module())
def test_no_schedule_loses_an_update_of_the_atomic_counter(schedule: Any) -> None:
    """With ``st.random_module()`` Hypothesis varies Trio's schedule; atomic updates survive it."""
    assert count_concurrently(AtomicCounter).value == 2


def test_hypothesis_finds_the_schedule_that_loses_an_update_and_replays_it() -> None:
    """Some schedules pass and some lose an update; the falsifying one fails alike twice."""
    outcomes: dict[int, int] = {}
    last_trace: list[list[str]] = []

    @SCHEDULES
    @given(schedule=st.random_module())
    def racy_counter_counts_both(schedule: Any) -> None:
        shared = count_concurrently(RacyCounter)
        outcomes[schedule.seed] = shared.value
        last_trace[:] = [shared.trace]
        assert shared.value == 2

    reports = []
    traces = []
    for _ in range(2):
        with pytest.raises(AssertionError) as caught:
            racy_counter_counts_both()
        reports.append(caught.value.__notes__)
        traces.append(last_trace[0])
    assert set(outcomes.values()) == {1, 2}  # the schedule did vary, and mattered
    assert reports[0] == reports[1]  # the same falsifying example ...
    assert traces[0] == traces[1]  # ... which ran the same way
    assert traces[0][:2] in (["a read 0", "b read 0"], ["b read 0", "a read 0"])
    assert "schedule=RandomSeeder(" in reports[0][0]
