"""actorkit.testing finds real bugs: model-based checks catch a buggy actor and shrink the
failure to the shortest sequence; the correct actor passes."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import actorkit as ak
from actorkit.testing import Crashes, Fault, ModelMismatch, check_model
from actorkit.testing.strategies import messages, one_of_messages

QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Balance:
    pass


class Ledger:
    """Where a well-behaved account keeps its balance, so that it survives restarts."""

    def __init__(self) -> None:
        self.balance = 0


class DurableAccount(ak.Actor):
    """Correct: reloads its balance from the ledger when (re)started."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.balance = ledger.balance

    @ak.on(Deposit)
    async def deposit(self, msg: Deposit) -> None:
        if msg.amount <= 0:
            raise ValueError("a deposit must be positive")
        self.balance += msg.amount
        self.ledger.balance = self.balance

    @ak.on(Balance)
    async def report(self, msg: Balance) -> int:
        return self.balance


class ForgetfulAccount(DurableAccount):
    """Buggy: after a restart it starts from zero instead of the ledger's balance."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.balance = 0


class AccountModel:
    """The balance survives restarts; a non-positive deposit crashes the handler."""

    def __init__(self) -> None:
        self.balance = 0

    def apply(self, msg: object) -> object:
        if isinstance(msg, Deposit):
            if msg.amount <= 0:
                return Crashes(ValueError)
            self.balance += msg.amount
            return None
        return self.balance

    def on_restart(self) -> None:
        pass  # the ledger keeps the balance


def deposits_and_balances() -> st.SearchStrategy[object]:
    return one_of_messages(DurableAccount, {Deposit: messages(Deposit, amount=st.integers(1, 9))})


def test_correct_account_agrees_with_its_model() -> None:
    """The durable account passes, faults included."""
    check_model(
        DurableAccount,
        AccountModel,
        args=lambda: (Ledger(),),
        messages=deposits_and_balances(),
        faults=True,
        settings_=QUICK,
        max_steps=8,
    )


def test_forgetful_account_is_caught_and_shrunk_to_the_minimal_sequence() -> None:
    """The restart bug is found, and shrunk to: one deposit, one crash, one balance query."""
    with pytest.raises(ModelMismatch) as caught:
        check_model(
            ForgetfulAccount,
            AccountModel,
            args=lambda: (Ledger(),),
            messages=deposits_and_balances(),
            faults=True,
            settings_=QUICK,
            max_steps=8,
        )
    assert [Deposit(1), Fault(), Balance()] == caught.value.steps
    assert caught.value.index == 2
    report = str(caught.value)
    assert "1. Deposit(amount=1)" in report
    assert "2. Fault()" in report
    assert "expected 1, the actor gave 0" in report


def test_a_crash_the_model_expects_is_agreement() -> None:
    """A handler that raises where the model says Crashes(...) is not a mismatch."""
    check_model(
        DurableAccount,
        AccountModel,
        args=lambda: (Ledger(),),
        messages=st.one_of(messages(Deposit, amount=st.integers(-3, 3)), st.just(Balance())),
        settings_=QUICK,
        max_steps=8,
    )


def test_an_invariant_on_the_actor_state_is_checked_after_every_step() -> None:
    """An invariant tying the actor's state to the model's catches the forgetful account."""
    with pytest.raises(ModelMismatch) as caught:
        check_model(
            ForgetfulAccount,
            AccountModel,
            args=lambda: (Ledger(),),
            messages=messages(Deposit, amount=st.integers(1, 9)),
            invariant=lambda actor, model: actor.balance == model.balance,
            faults=True,
            settings_=QUICK,
            max_steps=8,
        )
    assert [Deposit(1), Fault()] == caught.value.steps
    assert "the invariant does not hold" in str(caught.value)


def test_a_function_model_with_an_initial_state() -> None:
    """A model may be a function step(state, msg) -> (reply, state) with initial=."""

    def step(balance: int, msg: object) -> tuple[object, int]:
        if isinstance(msg, Deposit):
            return None, balance + msg.amount
        return balance, balance

    check_model(
        DurableAccount,
        step,
        initial=0,
        args=lambda: (Ledger(),),
        messages=deposits_and_balances(),
        settings_=QUICK,
        max_steps=8,
    )
