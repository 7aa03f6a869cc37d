"""The demo application behind ``actorkit demo``: a small bank, told through its events.

Each part shows one capability and checks what it shows, so the demo doubles as a smoke test:
it exits with status 0 only if everything it demonstrates behaved.
"""

from __future__ import annotations

import attrs
import structlog
import trio

from . import _actor, _runtime
from ._errors import ActorCrashed
from ._logging import configure_logging
from ._messages import Terminated
from ._ref import ActorRef

__all__ = ["main", "run_demo"]

log = structlog.get_logger("actorkit.demo")


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Balance:
    pass


class Account(_actor.Actor):
    """A bank account: deposits must be positive, and the balance is the reply to Balance."""

    def __init__(self, opening: int = 0) -> None:
        self.balance = opening

    @_actor.on(Deposit)
    async def deposit(self, msg: Deposit) -> None:
        if msg.amount <= 0:
            raise ValueError(f"a deposit must be positive, got {msg.amount}")
        self.balance += msg.amount

    @_actor.on(Balance)
    async def report(self, msg: Balance) -> int:
        return self.balance


class Auditor(_actor.Actor):
    """Watches accounts and records which ones ended, and why."""

    def __init__(self, accounts: tuple[ActorRef, ...]) -> None:
        self.ended: list[str] = []
        for account in accounts:
            self.ctx.watch(account)

    @_actor.on(Terminated)
    async def account_ended(self, msg: Terminated) -> None:
        self.ended.append(msg.ref.name)
        log.info("demo_account_closed", account=msg.ref.name, reason=repr(msg.reason))

    @_actor.on(Balance)
    async def report(self, msg: Balance) -> tuple[str, ...]:
        return tuple(self.ended)


async def show_core(rt: _runtime.Runtime) -> None:
    """Actors, send and ask, a crash seen by a watcher, and dead letters."""
    log.info("demo_part", part="core", shows="send, ask, a crash, watching, dead letters")
    alice = await rt.spawn(Account, 100, name="alice")
    bob = await rt.spawn(Account, 50, name="bob")
    auditor = await rt.spawn(Auditor, (bob,), name="auditor")

    await alice.send(Deposit(25))
    balance = await alice.ask(Balance(), timeout=1.0)
    log.info("demo_balance", account="alice", balance=balance)
    if balance != 125:
        raise AssertionError(f"alice should hold 125, holds {balance}")

    try:
        await bob.ask(Deposit(-5), timeout=1.0)
    except ActorCrashed as exc:
        log.info("demo_ask_failed", account="bob", error=str(exc), cause=repr(exc.__cause__))
    else:
        raise AssertionError("a negative deposit should crash bob")
    await bob.send(Deposit(10))  # bob has stopped: this is a dead letter
    ended = await auditor.ask(Balance(), timeout=1.0)
    if ended != ("bob",):
        raise AssertionError(f"the auditor should have seen bob end, saw {ended}")
    stats = rt.stats()
    log.info("demo_stats", **attrs.asdict(stats))


async def run_demo() -> None:
    """Run every part of the demo in one runtime."""
    async with _runtime.open_runtime() as rt:
        await show_core(rt)
    log.info("demo_finished")


def main(level: str = "info", *, json: bool = False) -> int:
    """Configure readable logging, run the demo, and return the exit status."""
    configure_logging(level, json=json)
    trio.run(run_demo)
    return 0
