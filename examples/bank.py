"""A small bank: accounts, an auditor that watches them, a crash, and a dead letter.

The README's example, taken a little further. Run it with ``python examples/bank.py``: it
prints actorkit's events as it goes and exits with status 0 if everything behaved as shown.
"""

from __future__ import annotations

import attrs
import trio

import actorkit as ak

# -- messages: frozen attrs classes, so no one can change a message after sending it ----------


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Withdraw:
    amount: int


@attrs.frozen
class Balance:
    pass


@attrs.frozen
class ClosedAccounts:
    pass


class InsufficientFunds(Exception):
    """A withdrawal larger than the balance."""


# -- actors ---------------------------------------------------------------------------------


class Account(ak.Actor):
    """A bank account. Its balance is private: only its handlers touch it."""

    def __init__(self, opening: int = 0) -> None:
        self.balance = opening

    @ak.on(Deposit)
    async def deposit(self, msg: Deposit) -> int:
        if msg.amount <= 0:
            raise ValueError(f"a deposit must be positive, got {msg.amount}")
        self.balance += msg.amount
        return self.balance

    @ak.on(Withdraw)
    async def withdraw(self, msg: Withdraw) -> int:
        if msg.amount > self.balance:
            raise InsufficientFunds(f"cannot withdraw {msg.amount} from {self.balance}")
        self.balance -= msg.amount
        return self.balance

    @ak.on(Balance)
    async def report(self, msg: Balance) -> int:
        return self.balance


class Auditor(ak.Actor):
    """Watches accounts and records which ones ended, and why."""

    def __init__(self, *accounts: ak.ActorRef) -> None:
        self.closed: dict[str, str] = {}
        for account in accounts:
            self.ctx.watch(account)  # self.ctx is ready in __init__

    @ak.on(ak.Terminated)
    async def account_ended(self, msg: ak.Terminated) -> None:
        # reason is None for a normal stop, else the exception that ended the actor.
        self.closed[msg.ref.name] = "stopped" if msg.reason is None else repr(msg.reason)

    @ak.on(ClosedAccounts)
    async def report(self, msg: ClosedAccounts) -> tuple[tuple[str, str], ...]:
        return tuple(self.closed.items())


async def main() -> None:
    async with ak.open_runtime() as rt:
        alice = await rt.spawn(Account, 100, name="alice")
        bob = await rt.spawn(Account, 50, name="bob")
        auditor = await rt.spawn(Auditor, alice, bob, name="auditor")

        # send is fire-and-forget; ask waits for the handler's return value. Messages from one
        # sender to one actor arrive in order, so the ask sees the deposit.
        await alice.send(Deposit(25))
        assert await alice.ask(Balance(), timeout=1.0) == 125
        assert rt.lookup("alice") == alice

        # A handler that raises crashes its actor (there is no supervisor yet): the asker gets
        # ActorCrashed with the original exception as __cause__, and the actor stops.
        try:
            await bob.ask(Withdraw(80), timeout=1.0)
        except ak.ActorCrashed as exc:
            crash = exc
        else:
            raise AssertionError("withdrawing 80 from 50 should crash bob")
        print(f"ask failed as expected: {crash}")
        assert isinstance(crash.__cause__, InsufficientFunds)
        assert not bob.alive

        # Sending to a stopped actor is not an error: the message becomes a dead letter.
        await bob.send(Deposit(10))
        # bob's name was freed when it stopped.
        try:
            rt.lookup("bob")
        except ak.ActorNotFound:
            pass
        else:
            raise AssertionError("bob's name should be free")

        # The auditor watched bob, so it received Terminated with the crash as the reason.
        closed = await auditor.ask(ClosedAccounts(), timeout=1.0)
        assert closed == (("bob", "InsufficientFunds('cannot withdraw 80 from 50')"),), closed

        # Every message sent was processed, is still queued, or is a dead letter.
        stats = rt.stats()
        print(stats)
        assert stats.crashes == 1
        # The dead letters: the withdrawal that crashed bob, and the deposit sent after.
        assert stats.dead_letters == 2
        # Sent: 1 deposit + 1 ask to alice, 1 ask + 1 deposit to bob, 1 Terminated and 1 ask to
        # the auditor.
        assert stats.messages_processed + stats.messages_queued + stats.dead_letters == 6

    # Leaving the block stopped the auditor, then alice (reverse spawn order), running on_stop.
    assert not alice.alive
    assert not auditor.alive


if __name__ == "__main__":
    ak.configure_logging("info")  # a script is an application: it chooses how events look
    trio.run(main)
