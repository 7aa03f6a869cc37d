"""The demo application behind ``actorkit demo``: a small bank, told through its events.

Each part shows one capability and checks what it shows, so the demo doubles as a smoke test:
it exits with status 0 only if everything it demonstrates behaved.
"""

from __future__ import annotations

import enum
import sys
from typing import ClassVar

import attrs
import structlog
import trio

from . import _actor, _runtime
from ._backoff import Backoff
from ._errors import ActorCrashed, CircuitOpen
from ._logging import configure_logging
from ._messages import Terminated
from ._ref import ActorRef
from ._statemachine import StateMachine, StateTimeout
from ._strategies import Child, CircuitBreak, OneForOne, Supervisor

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


@attrs.frozen
class Charge:
    cents: int


class CardService:
    """Stands for an outside payment service: down until ``back_at`` on Trio's clock."""

    def __init__(self, back_at: float) -> None:
        self.back_at = back_at

    def charge(self, cents: int) -> str:
        if trio.current_time() < self.back_at:
            raise ConnectionError("card service unreachable")
        return f"charged {cents} cents"


class Gateway(_actor.Actor):
    """Forwards charges to the card service; crashes when the service is down."""

    def __init__(self, service: CardService) -> None:
        self.service = service

    @_actor.on(Charge)
    async def charge(self, msg: Charge) -> str:
        return self.service.charge(msg.cents)


async def show_supervision(rt: _runtime.Runtime) -> None:
    """A supervision tree: a restart after a backoff, and a circuit that opens and closes."""
    log.info(
        "demo_part",
        part="supervision",
        shows="one-for-one restart with backoff, a circuit that opens, half-opens and closes",
    )
    service = CardService(back_at=trio.current_time() + 0.3)
    tree = Supervisor(
        "bank",
        strategy=OneForOne(max_restarts=3, within=5.0, backoff=Backoff(initial=0.05, maximum=1.0)),
        children=[
            Child(Account, args=(100,), name="carol"),
            Supervisor(
                "gateways",
                strategy=CircuitBreak(failures=2, within=5.0, reset_after=0.4),
                children=[Child(Gateway, args=(service,), name="card-gateway")],
            ),
        ],
    )
    await rt.start(tree)
    carol = rt.lookup("carol")
    await carol.send(Deposit(-1))  # crashes carol; the supervisor restarts her after a backoff
    await carol.send(Deposit(7))  # waits in the mailbox during the backoff, then is handled
    balance = await carol.ask(Balance(), timeout=2.0)
    log.info("demo_balance", account="carol", balance=balance, note="a fresh instance: 100 + 7")
    if balance != 107:
        raise AssertionError(f"carol should hold 107 after her restart, holds {balance}")

    gateway = rt.lookup("card-gateway")
    for _ in range(2):
        try:
            await gateway.ask(Charge(1250), timeout=1.0)
        except ActorCrashed as exc:
            log.info("demo_charge_failed", error=exc.exc_message)
    try:
        await gateway.ask(Charge(1250), timeout=1.0)
    except CircuitOpen as exc:
        log.info("demo_circuit_open", retry_in=round(exc.retry_in, 3))
    else:
        raise AssertionError("the gateway's circuit should be open after two crashes")
    _show_tree(rt)
    await trio.sleep(0.5)  # past reset_after: half-open; the service is back
    receipt = await gateway.ask(Charge(1250), timeout=1.0)
    log.info("demo_charge_succeeded", receipt=receipt)
    _show_tree(rt)


class OrderPhase(enum.Enum):
    NEW = "new"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


@attrs.frozen
class Pay:
    cents: int


@attrs.frozen
class Ship:
    pass


@attrs.frozen
class Where:
    pass


class Order(StateMachine):
    """An order as an explicit state machine: paid orders not shipped in time are cancelled."""

    states = OrderPhase
    initial = OrderPhase.NEW
    transitions: ClassVar[dict[OrderPhase, set[OrderPhase]]] = {
        OrderPhase.NEW: {OrderPhase.PAID, OrderPhase.CANCELLED},
        OrderPhase.PAID: {OrderPhase.SHIPPED, OrderPhase.CANCELLED},
    }
    state_timeouts: ClassVar[dict[OrderPhase, float]] = {OrderPhase.PAID: 0.2}

    @_actor.on(Pay, state=OrderPhase.NEW)
    async def pay(self, msg: Pay) -> None:
        await self.transition(OrderPhase.PAID)

    @_actor.on(Ship, state=OrderPhase.PAID)
    async def ship(self, msg: Ship) -> None:
        await self.transition(OrderPhase.SHIPPED)

    @_actor.on(StateTimeout, state=OrderPhase.PAID)
    async def too_late(self, msg: StateTimeout) -> None:
        await self.transition(OrderPhase.CANCELLED)

    @_actor.on(Where)
    async def where(self, msg: Where) -> str:
        return str(self.state.name)


async def show_state_machine(rt: _runtime.Runtime) -> None:
    """Two orders: one shipped in time, one cancelled by its state timeout."""
    log.info("demo_part", part="state machines", shows="checked transitions and a state timeout")
    _say(Order.diagram())
    shipped = await rt.spawn(Order, name="order-1")
    late = await rt.spawn(Order, name="order-2")
    for order in (shipped, late):
        await order.send(Pay(1250))
    await shipped.send(Ship())
    await trio.sleep(0.3)  # longer than PAID's state timeout
    await late.send(Ship())  # too late: CANCELLED has no handler for Ship, a dead letter
    states = (await shipped.ask(Where(), timeout=1.0), await late.ask(Where(), timeout=1.0))
    log.info("demo_orders", order_1=states[0], order_2=states[1])
    if states != ("SHIPPED", "CANCELLED"):
        raise AssertionError(f"expected one shipped and one cancelled order, got {states}")
    _show_tree(rt)


class Billing(_actor.Actor):
    """Charges orders; a negative amount crashes it (its supervisor restarts it)."""

    def __init__(self) -> None:
        self.charged = 0

    @_actor.on(Charge)
    async def charge(self, msg: Charge) -> str:
        if msg.cents < 0:
            raise ValueError(f"cannot charge {msg.cents} cents")
        self.charged += msg.cents
        return f"charged {msg.cents} cents (this instance: {self.charged})"


async def show_peer_links() -> None:
    """Two nodes on loopback: a remote ask, a remote crash and restart, a stranger refused."""
    from . import net  # noqa: PLC0415 (the demo's only use of peer links)

    log.info("demo_part", part="peer links", shows="two linked nodes, a remote supervised actor")
    orders_key, billing_key, stranger_key = (net.Identity.generate() for _ in range(3))
    cluster = net.ClusterKey.generate()
    billing_config = net.NodeConfig(
        identity=billing_key,
        cluster_key=cluster,
        known_peers=net.KnownPeers.parse(f"orders {orders_key.public}\n"),
        listen="127.0.0.1:0",
        name="billing",
    )
    async with _runtime.open_runtime(node=billing_config) as billing_node:
        billing_node.codec.register(Charge)
        await billing_node.start(
            Supervisor(
                "billing-service",
                strategy=OneForOne(max_restarts=3, within=5.0),
                children=[Child(Billing, name="billing")],
            )
        )
        billing_node.export("billing")
        address = billing_node.node.dial_address
        orders_config = net.NodeConfig(
            identity=orders_key,
            cluster_key=cluster,
            known_peers=net.KnownPeers.parse(f"billing {billing_key.public}\n"),
            name="orders",
        )
        async with _runtime.open_runtime(node=orders_config) as orders_node:
            orders_node.codec.register(Charge)
            peer = await orders_node.connect(address)
            billing = peer.lookup("billing")
            receipt = await billing.ask(Charge(1250), timeout=2.0)
            log.info("demo_remote_reply", peer=peer.name, reply=receipt)
            try:
                await billing.ask(Charge(-1), timeout=2.0)
            except ActorCrashed as exc:
                log.info("demo_remote_crash", error=f"{exc.exc_type}: {exc.exc_message}")
            receipt = await billing.ask(Charge(300), timeout=2.0)
            log.info("demo_remote_reply", peer=peer.name, reply=receipt, note="restarted")
            if "this instance: 300" not in receipt:
                raise AssertionError(f"billing should have restarted, but said {receipt!r}")
        stranger_config = net.NodeConfig(
            identity=stranger_key, cluster_key=cluster, name="stranger"
        )
        async with _runtime.open_runtime(node=stranger_config) as stranger:
            try:
                await stranger.connect(address)
            except net.HandshakeError as exc:
                log.info("demo_stranger_refused", error=str(exc))
            else:
                raise AssertionError("a node missing from known_peers must be refused")


def _show_tree(rt: _runtime.Runtime) -> None:
    _say(f"{rt.tree()}\n")


def _say(text: str) -> None:
    # The demo's own output (a tree, a diagram), not an event: written as a person reads it.
    sys.stdout.write(f"\n{text}\n")
    sys.stdout.flush()


async def run_demo() -> None:
    """Run every part of the demo in one runtime."""
    async with _runtime.open_runtime() as rt:
        await show_core(rt)
        await show_supervision(rt)
        await show_state_machine(rt)
    await show_peer_links()
    log.info("demo_finished")


def main(level: str = "info", *, json: bool = False) -> int:
    """Configure readable logging, run the demo, and return the exit status."""
    configure_logging(level, json=json, tracebacks=False)
    trio.run(run_demo)
    return 0
