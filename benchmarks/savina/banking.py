"""Savina 8, Bank Transaction: a teller runs N transfers between A accounts, each awaited.

Source: Imam & Sarkar, "Savina - An Actor Benchmark Suite", AGERE! 2014 (benchmark "Bank
Transaction"; reference code BankingAkkaManualStashActorBenchmark). The teller picks, N times, a
source account among the first 80 %, a destination with a higher id (so no cycle can deadlock)
and an amount, and sends Credit(teller, amount, destination) to the source. The source debits
itself, sends Debit(self, amount) to the destination and stashes every other message until the
destination's Reply; it then answers Reply to the teller and replays one stashed message. The
teller ends when it has all N replies. Measures request/reply chains with per-actor waiting
(the "stash" pattern) across many actors.

Parameters: Savina's defaults A = 1,000, N = 50,000; here A = 1,000, N = 5,000 (quick 1,000 and
500; tiny 20 and 50). The teller's choices come from ``random.Random(123456)``, as Savina seeds
its PseudoRandom with 123456.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from typing import Any

import attrs
import trio

import actorkit as ak

from ..common import ThreadCountdown, check, now
from ..peers import pykka_running, thespian_ask, thespian_system
from ._common import figures, savina_workload

BANKING = savina_workload(
    "banking",
    "Bank Transaction",
    "a teller runs N awaited transfers between A accounts (stash while waiting)",
    {
        "full": {"accounts": 1_000, "transactions": 5_000},
        "quick": {"accounts": 1_000, "transactions": 500},
        "tiny": {"accounts": 20, "transactions": 50},
    },
    lambda p: p["transactions"],
    order=80,
)

INITIAL_BALANCE = 1e12


@attrs.frozen
class StartMessage:
    pass


@attrs.frozen
class StopMessage:
    pass


@attrs.frozen
class ReplyMessage:
    pass


@attrs.frozen
class DebitMessage:
    sender: Any
    amount: float


@attrs.frozen
class CreditMessage:
    sender: Any
    amount: float
    recipient: Any


def transfers(accounts: int, transactions: int) -> Iterator[tuple[int, int, float]]:
    """Savina's generateWork: (source, destination, amount), source < destination."""
    rng = random.Random(123456)
    for _ in range(transactions):
        source = rng.randrange((accounts // 10) * 8)
        step = rng.randrange(accounts - source) or 1
        yield source, source + step, abs(rng.random()) * 1000


class AccountState:
    """An account's balance and its stash while it waits for a Reply (shared by all three)."""

    def __init__(self) -> None:
        self.balance = INITIAL_BALANCE
        self.in_reply_mode = False
        self.reply_teller: Any = None
        self.stash: deque[Any] = deque()


# -- actorkit ------------------------------------------------------------------------------


class Account(ak.Actor):
    def __init__(self) -> None:
        self.state = AccountState()

    async def _recycle(self) -> None:
        state = self.state
        if not state.in_reply_mode and state.stash:
            await self.ctx.self.send(state.stash.popleft())

    @ak.on(ReplyMessage)
    async def reply(self, msg: ReplyMessage) -> None:
        state = self.state
        state.in_reply_mode = False
        await state.reply_teller.send(msg)
        await self._recycle()

    @ak.on(DebitMessage)
    async def debit(self, msg: DebitMessage) -> None:
        state = self.state
        if state.in_reply_mode:
            state.stash.append(msg)
            return
        state.balance += msg.amount
        await msg.sender.send(ReplyMessage())
        await self._recycle()

    @ak.on(CreditMessage)
    async def credit(self, msg: CreditMessage) -> None:
        state = self.state
        if state.in_reply_mode:
            state.stash.append(msg)
            return
        state.balance -= msg.amount
        state.reply_teller = msg.sender
        await msg.recipient.send(DebitMessage(self.ctx.self, msg.amount))
        state.in_reply_mode = True

    @ak.on(StopMessage)
    async def stop(self, msg: StopMessage) -> None:
        self.ctx.stop()


class Teller(ak.Actor):
    def __init__(self, accounts: int, transactions: int, done: trio.Event, out: list[int]):
        self.num_accounts, self.transactions, self.done, self.out = (
            accounts,
            transactions,
            done,
            out,
        )
        self.completed = 0
        self.accounts: list[ak.ActorRef] = []

    async def on_start(self) -> None:
        self.accounts = [await self.ctx.spawn(Account) for _ in range(self.num_accounts)]

    @ak.on(StartMessage)
    async def start(self, msg: StartMessage) -> None:
        me, accounts = self.ctx.self, self.accounts
        for source, destination, amount in transfers(self.num_accounts, self.transactions):
            await accounts[source].send(CreditMessage(me, amount, accounts[destination]))

    @ak.on(ReplyMessage)
    async def reply(self, msg: ReplyMessage) -> None:
        self.completed += 1
        if self.completed == self.transactions:
            for account in self.accounts:
                await account.send(StopMessage())
            self.out.append(self.completed)
            self.done.set()


@BANKING.system("actorkit")
def banking_actorkit(p: dict[str, int]) -> dict[str, float]:
    out: list[int] = []

    async def main() -> float:
        async with ak.open_runtime() as rt:
            done = trio.Event()
            start = now()
            teller = await rt.spawn(Teller, p["accounts"], p["transactions"], done, out)
            await teller.send(StartMessage())
            await done.wait()
            return now() - start

    elapsed = trio.run(main)
    check(out, [p["transactions"]], "transactions completed")
    return figures(elapsed, out[0])


# -- pykka ---------------------------------------------------------------------------------


@BANKING.system("pykka")
def banking_pykka(p: dict[str, int]) -> dict[str, float]:
    out: list[int] = []
    with pykka_running() as pykka:

        class PykkaAccount(pykka.ThreadingActor):
            def __init__(self) -> None:
                super().__init__()
                self.state = AccountState()

            def on_receive(self, msg: Any) -> None:
                state = self.state
                if state.in_reply_mode:
                    if type(msg) is ReplyMessage:
                        state.in_reply_mode = False
                        state.reply_teller.tell(msg)
                        if state.stash:
                            self.actor_ref.tell(state.stash.popleft())
                    else:
                        state.stash.append(msg)
                    return
                if type(msg) is DebitMessage:
                    state.balance += msg.amount
                    msg.sender.tell(ReplyMessage())
                elif type(msg) is CreditMessage:
                    state.balance -= msg.amount
                    state.reply_teller = msg.sender
                    msg.recipient.tell(DebitMessage(self.actor_ref, msg.amount))
                    state.in_reply_mode = True
                elif type(msg) is StopMessage:
                    self.stop()
                if not state.in_reply_mode and state.stash:
                    self.actor_ref.tell(state.stash.popleft())

        class PykkaTeller(pykka.ThreadingActor):
            def __init__(self, done: ThreadCountdown) -> None:
                super().__init__()
                self.done, self.completed = done, 0

            def on_start(self) -> None:
                self.accounts = [PykkaAccount.start() for _ in range(p["accounts"])]

            def on_receive(self, msg: Any) -> None:
                if type(msg) is StartMessage:
                    me, accounts = self.actor_ref, self.accounts
                    for source, destination, amount in transfers(p["accounts"], p["transactions"]):
                        accounts[source].tell(CreditMessage(me, amount, accounts[destination]))
                elif type(msg) is ReplyMessage:
                    self.completed += 1
                    if self.completed == p["transactions"]:
                        for account in self.accounts:
                            account.tell(StopMessage())
                        out.append(self.completed)
                        self.stop()
                        self.done.hit()

        done = ThreadCountdown(1)
        start = now()
        PykkaTeller.start(done).tell(StartMessage())
        done.wait()
        elapsed = now() - start
    check(out, [p["transactions"]], "transactions completed")
    return figures(elapsed, out[0])


# -- Thespian ------------------------------------------------------------------------------


@BANKING.system("thespian")
def banking_thespian(p: dict[str, int]) -> dict[str, float]:
    with thespian_system() as system:
        from thespian.actors import Actor, ActorExitRequest

        class ThespianAccount(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if not hasattr(self, "state"):
                    self.state = AccountState()
                state = self.state
                if state.in_reply_mode:
                    if type(msg) is ReplyMessage:
                        state.in_reply_mode = False
                        self.send(state.reply_teller, msg)
                        if state.stash:
                            self.send(self.myAddress, state.stash.popleft())
                    else:
                        state.stash.append(msg)
                    return
                if type(msg) is DebitMessage:
                    state.balance += msg.amount
                    self.send(msg.sender, ReplyMessage())
                elif type(msg) is CreditMessage:
                    state.balance -= msg.amount
                    state.reply_teller = msg.sender
                    self.send(msg.recipient, DebitMessage(self.myAddress, msg.amount))
                    state.in_reply_mode = True
                elif type(msg) is StopMessage:
                    self.send(self.myAddress, ActorExitRequest())
                if not state.in_reply_mode and state.stash:
                    self.send(self.myAddress, state.stash.popleft())

        class ThespianTeller(Actor):
            def receiveMessage(self, msg: Any, sender: Any) -> None:  # noqa: N802
                if type(msg) is StartMessage:
                    self.requester, self.completed = sender, 0
                    self.accounts = [
                        self.createActor(ThespianAccount) for _ in range(p["accounts"])
                    ]
                    me, accounts = self.myAddress, self.accounts
                    for source, destination, amount in transfers(p["accounts"], p["transactions"]):
                        self.send(
                            accounts[source], CreditMessage(me, amount, accounts[destination])
                        )
                elif type(msg) is ReplyMessage:
                    self.completed += 1
                    if self.completed == p["transactions"]:
                        for account in self.accounts:
                            self.send(account, StopMessage())
                        self.send(self.requester, self.completed)

        start = now()
        teller = system.createActor(ThespianTeller)
        completed = thespian_ask(system, teller, StartMessage())
        elapsed = now() - start
    check(completed, p["transactions"], "transactions completed")
    return figures(elapsed, completed)
