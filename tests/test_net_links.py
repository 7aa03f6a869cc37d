"""Peer links between two runtimes in one process, over loopback: remote send and ask with
the same errors as local ones, access control, refs inside messages, watching, events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio

import actorkit as ak
from actorkit import net
from actorkit.testing import capture_events


@attrs.frozen
class Charge:
    order_id: int
    cents: int


@attrs.frozen
class Receipt:
    order_id: int
    cents: int


@attrs.frozen
class Stop:
    pass


@attrs.frozen
class Notify:
    reply_to: ak.ActorRef
    text: str


@attrs.frozen
class Note:
    text: str


MESSAGES = (Charge, Receipt, Stop, Notify, Note)


class Billing(ak.Actor):
    def __init__(self) -> None:
        self.seen: list[int] = []

    @ak.on(Charge)
    async def charge(self, msg: Charge) -> Receipt:
        if msg.cents < 0:
            raise ValueError("a charge must not be negative")
        self.seen.append(msg.order_id)
        return Receipt(msg.order_id, msg.cents)

    @ak.on(Notify)
    async def notify(self, msg: Notify) -> None:
        await msg.reply_to.send(Note(f"seen {msg.text}"))

    @ak.on(Stop)
    async def stop(self, msg: Stop) -> None:
        self.ctx.stop()


class Inbox(ak.Actor):
    def __init__(self, box: list[object], arrived: trio.Event) -> None:
        self.box, self.arrived = box, arrived

    @ak.on(object)
    async def keep(self, msg: object) -> None:
        self.box.append(msg)
        self.arrived.set()


@attrs.frozen
class Cluster:
    billing: ak.Runtime
    orders: ak.Runtime
    peer: net.RemotePeer


def _config(
    identity: net.Identity, cluster: net.ClusterKey, peers: str, **kw: object
) -> net.NodeConfig:
    return net.NodeConfig(
        identity=identity,
        cluster_key=cluster,
        known_peers=net.KnownPeers.parse(peers),
        **kw,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def two_nodes(*, export: bool = True) -> AsyncIterator[Cluster]:
    orders_id, billing_id = net.Identity.generate(), net.Identity.generate()
    cluster = net.ClusterKey.generate()
    billing_cfg = _config(
        billing_id, cluster, f"orders {orders_id.public}\n", listen="127.0.0.1:0", name="billing"
    )
    orders_cfg = _config(orders_id, cluster, f"billing {billing_id.public}\n", name="orders")
    async with ak.open_runtime(node=billing_cfg) as billing:
        for message_type in MESSAGES:
            billing.codec.register(message_type)
        await billing.spawn(Billing, name="billing")
        if export:
            billing.export("billing")
        async with ak.open_runtime(node=orders_cfg) as orders:
            for message_type in MESSAGES:
                orders.codec.register(message_type)
            peer = await orders.connect(billing.node.dial_address)
            yield Cluster(billing, orders, peer)


async def test_remote_ask_returns_the_reply() -> None:
    """An ask over the link returns the remote handler's result, decoded."""
    async with two_nodes() as c:
        billing = c.peer.lookup("billing")
        assert Receipt(7, 1250) == await billing.ask(Charge(7, 1250), timeout=2.0)


async def test_remote_sends_keep_their_order() -> None:
    """Messages from one sender to one remote actor are handled in send order."""
    async with two_nodes() as c:
        billing = c.peer.lookup("billing")
        for order_id in range(600):  # more than the credit window
            await billing.send(Charge(order_id, 1))
        await billing.ask(Charge(-1, 0), timeout=5.0)
        instance = c.billing.lookup("billing")._cell.instance
        assert [*range(600), -1] == instance.seen  # type: ignore[union-attr]


async def test_remote_crash_is_actor_crashed_with_type_and_text_only() -> None:
    """A remote handler's exception arrives as ActorCrashed with its type name and text."""
    async with two_nodes() as c:
        with pytest.raises(ak.ActorCrashed) as caught:
            await c.peer.lookup("billing").ask(Charge(1, -5), timeout=2.0)
        assert "ValueError" == caught.value.exc_type
        assert "a charge must not be negative" == caught.value.exc_message
        assert caught.value.__cause__ is None  # no remote traceback objects


async def test_unexported_or_unknown_actor_is_not_found() -> None:
    """Asking an actor that is not exported (or does not exist) raises ActorNotFound."""
    async with two_nodes(export=False) as c:
        with pytest.raises(ak.ActorNotFound):
            await c.peer.lookup("billing").ask(Charge(1, 1), timeout=2.0)
        with pytest.raises(ak.ActorNotFound):
            await c.peer.lookup("nobody").ask(Charge(1, 1), timeout=2.0)
        instance = c.billing.lookup("billing")._cell.instance
        assert [] == instance.seen  # type: ignore[union-attr]


async def test_unhandled_and_stopped_errors_cross_the_link() -> None:
    """UnhandledMessage and ActorStopped are raised as locally."""
    async with two_nodes() as c:
        billing = c.peer.lookup("billing")
        with pytest.raises(ak.UnhandledMessage):
            await billing.ask(Receipt(1, 1), timeout=2.0)
        await billing.ask(Stop(), timeout=2.0)
        with pytest.raises((ak.ActorStopped, ak.ActorNotFound)):
            await billing.ask(Charge(1, 1), timeout=2.0)


async def test_unregistered_message_type_is_refused_before_sending() -> None:
    """Sending a type the codec does not know raises CodecError at once."""

    @attrs.frozen
    class Secret:
        value: int

    async with two_nodes() as c:
        with pytest.raises(net.CodecError):
            await c.peer.lookup("billing").send(Secret(1))


async def test_ask_timeout_and_late_reply() -> None:
    """A remote ask that gets no answer in time raises AskTimeout."""
    async with two_nodes() as c:
        c.billing.lookup("billing")
        from actorkit.testing import hang

        hang(c.billing.lookup("billing"), on=Charge)
        with pytest.raises(ak.AskTimeout):
            await c.peer.lookup("billing").ask(Charge(1, 1), timeout=0.2)


async def test_refs_travel_inside_messages() -> None:
    """A reply-to ref sent over the link reaches the local actor it names."""
    async with two_nodes() as c:
        box: list[object] = []
        arrived = trio.Event()
        inbox = await c.orders.spawn(Inbox, box, arrived)  # unnamed: sent as a capability
        await c.peer.lookup("billing").send(Notify(inbox, "order 7"))
        with trio.fail_after(5):
            await arrived.wait()
        assert [Note("seen order 7")] == box


async def test_watching_a_remote_actor() -> None:
    """ctx.watch on a remote ref delivers Terminated when that actor stops."""
    async with two_nodes() as c:
        box: list[object] = []
        arrived = trio.Event()
        watcher = await c.orders.spawn(Inbox, box, arrived)
        remote = c.peer.lookup("billing")
        watcher._cell.ctx.watch(remote)
        await trio.testing.wait_all_tasks_blocked()
        await remote.send(Stop())
        with trio.fail_after(5):
            await arrived.wait()
        assert [ak.Terminated(remote, None)] == box


async def test_link_loss_is_node_down_for_watchers_and_asks() -> None:
    """When the link is lost, watchers get Terminated(reason=NodeDown) and sends fail clean."""
    async with two_nodes() as c:
        box: list[object] = []
        arrived = trio.Event()
        watcher = await c.orders.spawn(Inbox, box, arrived)
        remote = c.peer.lookup("billing")
        watcher._cell.ctx.watch(remote)
        c.peer.dial_address = None  # no redial in this test
        assert c.peer.link is not None
        await c.peer.link.close()
        with trio.fail_after(5):
            await arrived.wait()
        (terminated,) = box
        assert isinstance(terminated, ak.Terminated)
        assert isinstance(terminated.reason, net.NodeDown)
        with pytest.raises(net.NodeDown):
            await remote.ask(Charge(1, 1), timeout=1.0)


async def test_connect_events_and_on_connect_handlers() -> None:
    """peer_connected is logged, and @on_connect handlers receive the peer's PeerInfo."""
    infos: list[net.PeerInfo] = []

    class Greeter(ak.Actor):
        @net.on_connect("*")
        async def hello(self, peer: net.PeerInfo) -> None:
            infos.append(peer)

    orders_id, billing_id = net.Identity.generate(), net.Identity.generate()
    cluster = net.ClusterKey.generate()
    with capture_events() as events:
        async with (
            ak.open_runtime(
                node=_config(
                    billing_id, cluster, f"orders {orders_id.public}\n", listen="127.0.0.1:0"
                )
            ) as billing,
            ak.open_runtime(
                node=_config(orders_id, cluster, f"billing {billing_id.public}\n")
            ) as orders,
        ):
            await orders.spawn(Greeter)
            await orders.connect(billing.node.dial_address)
            await trio.testing.wait_all_tasks_blocked()
    assert ["billing"] == [info.name for info in infos]
    assert infos[0].fingerprint == billing_id.public.fingerprint
    connected = events.named("peer_connected")
    assert {"orders", "billing"} == {event["peer"] for event in connected}
    for event in events:
        for value in event.values():
            assert billing_id._seed().hex() not in str(value)  # no key bytes in logs


async def test_a_stranger_is_refused_and_the_listener_keeps_serving() -> None:
    """A node not in known_peers is refused (peer_rejected); a known one still connects."""
    orders_id, billing_id, stranger_id = (net.Identity.generate() for _ in range(3))
    cluster = net.ClusterKey.generate()
    with capture_events() as events:
        async with ak.open_runtime(
            node=_config(billing_id, cluster, f"orders {orders_id.public}\n", listen="127.0.0.1:0")
        ) as billing:
            await billing.spawn(Billing, name="billing")
            async with ak.open_runtime(
                node=_config(stranger_id, cluster, f"billing {billing_id.public}\n")
            ) as stranger:
                with pytest.raises(net.HandshakeError):
                    await stranger.connect(billing.node.dial_address)
            async with ak.open_runtime(
                node=_config(orders_id, cluster, f"billing {billing_id.public}\n")
            ) as orders:
                peer = await orders.connect(billing.node.dial_address)
                assert peer.is_connected
    rejected = events.named("peer_rejected")
    assert 1 == len(rejected)
    assert stranger_id.public.fingerprint == rejected[0]["fingerprint"]
