"""Links come back after a loss (the dialling side re-dials with backoff), and a restarted node
is a new incarnation: refs to its old actors fail cleanly, names keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio

import actorkit as ak
from actorkit import net
from actorkit.testing import Probe, capture_events


@attrs.frozen
class Ping:
    n: int


@attrs.frozen
class GiveRef:
    pass


class Echo(ak.Actor):
    @ak.on(Ping)
    async def ping(self, msg: Ping) -> int:
        return msg.n


class Worker(ak.Actor):
    @ak.on(Ping)
    async def ping(self, msg: Ping) -> int:
        return -msg.n


class Hands(ak.Actor):
    """Gives out a ref to an unnamed worker (a capability bound to this incarnation)."""

    def __init__(self) -> None:
        self.worker: ak.ActorRef | None = None

    async def on_start(self) -> None:
        self.worker = await self.ctx.spawn(Worker)

    @ak.on(GiveRef)
    async def give(self, msg: GiveRef) -> ak.ActorRef:
        assert self.worker is not None
        return self.worker


def configs(port: int = 0) -> tuple[net.NodeConfig, net.NodeConfig]:
    server, client, cluster = (
        net.Identity.generate(),
        net.Identity.generate(),
        net.ClusterKey.generate(),
    )
    fast = ak.Backoff(initial=0.01, maximum=0.05, jitter=0)
    return (
        net.NodeConfig(
            identity=server,
            cluster_key=cluster,
            known_peers=net.KnownPeers.parse(f"client {client.public}\n"),
            listen=f"127.0.0.1:{port}",
            name="server",
        ),
        net.NodeConfig(
            identity=client,
            cluster_key=cluster,
            known_peers=net.KnownPeers.parse(f"server {server.public}\n"),
            name="client",
            reconnect=fast,
        ),
    )


async def serve(
    config: net.NodeConfig, ready: trio.Event, stop: trio.Event, box: list[str]
) -> None:
    async with ak.open_runtime(node=config) as rt:
        for message_type in (Ping, GiveRef):
            rt.codec.register(message_type)
        await rt.spawn(Echo, name="echo")
        await rt.spawn(Hands, name="hands")
        rt.export("echo")
        rt.export("hands")
        box.append(rt.node.dial_address)
        ready.set()
        await stop.wait()


@attrs.frozen
class Server:
    """A server node running in the test's nursery until ``stop`` is set."""

    address: str
    stop: trio.Event
    nursery: trio.Nursery

    @property
    def port(self) -> int:
        return net.parse_dial_address(self.address).port

    async def start_again(self, config: net.NodeConfig) -> trio.Event:
        """Run the server again (a new incarnation) on the same port; return its stop."""
        ready, stop = trio.Event(), trio.Event()
        restarted = attrs.evolve(config, listen=f"127.0.0.1:{self.port}")
        self.nursery.start_soon(serve, restarted, ready, stop, [])
        await ready.wait()
        return stop


@asynccontextmanager
async def server_and_client(
    server_config: net.NodeConfig, client_config: net.NodeConfig
) -> AsyncIterator[tuple[Server, ak.Runtime]]:
    """A running server node, and a client runtime (not linked yet) that knows it."""
    ready, stop, box = trio.Event(), trio.Event(), []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve, server_config, ready, stop, box)
        await ready.wait()
        async with ak.open_runtime(node=client_config) as client:
            for message_type in (Ping, GiveRef):
                client.codec.register(message_type)
            yield Server(box[0], stop, nursery), client
        stop.set()


async def wait_connected(peer: net.RemotePeer) -> None:
    with trio.fail_after(10):
        await peer.wait_connected()


async def test_a_lost_link_is_redialled_with_backoff() -> None:
    """When the link breaks, the dialling node re-dials, and asks work again."""
    async with server_and_client(*configs()) as (server, client):
        peer = await client.connect(server.address)
        echo = peer.lookup("echo")
        assert 1 == await echo.ask(Ping(1), timeout=5)
        probe = await Probe.start(client)
        probe.subscribe_events()
        assert peer.link is not None
        await peer.link.channel.stream.aclose()  # the connection breaks under the link
        await probe.expect_event("peer_disconnected", timeout=10, peer="server")
        await probe.expect_event("peer_connected", timeout=10, peer="server")
        assert peer.is_connected
        assert 2 == await echo.ask(Ping(2), timeout=5)


async def test_a_restarted_node_is_a_new_incarnation() -> None:
    """After the peer restarts, refs by name work again; a ref to an actor of its old
    incarnation fails with NodeDown instead of reaching whatever has that id now."""
    server_config, client_config = configs()
    async with server_and_client(server_config, client_config) as (server, client):
        peer = await client.connect(server.address)
        worker = await peer.lookup("hands").ask(GiveRef(), timeout=5)
        assert isinstance(worker, net.RemoteRef)
        assert -3 == await worker.ask(Ping(3), timeout=5)
        old_incarnation = peer.incarnation

        probe = await Probe.start(client)
        probe.subscribe_events()
        server.stop.set()  # the server node stops...
        await probe.expect_event("peer_disconnected", timeout=10, peer="server")
        stop_again = await server.start_again(server_config)  # ...and comes back
        await wait_connected(peer)
        assert peer.incarnation != old_incarnation
        assert 4 == await peer.lookup("echo").ask(Ping(4), timeout=5)
        assert not worker.alive
        with pytest.raises(net.NodeDown, match="restarted"):
            await worker.ask(Ping(5), timeout=5)
        stop_again.set()


async def test_failed_redials_are_logged_at_attempts_1_2_4_8() -> None:
    """A peer that stays away is re-dialled for ever (with backoff), but its failures are
    logged at attempts 1, 2, 4, 8, 16...: a log, not a flood."""
    async with server_and_client(*configs()) as (server, client):
        await client.connect(server.address)
        probe = await Probe.start(client)
        probe.subscribe_events()
        server.stop.set()  # the server goes away, and stays away
        await probe.expect_event("peer_disconnected", timeout=10, peer="server")
        attempts = [
            (await probe.expect_event("peer_redial_failed", timeout=10))["attempt"]
            for _ in range(5)
        ]
        assert [1, 2, 4, 8, 16] == attempts


async def test_connect_by_known_peers_name() -> None:
    """A known_peers entry with addr= can be dialled by its name; a name without an address,
    or no such name, is a clear error."""
    server_config, client_config = configs()
    server_id = server_config.identity.public  # type: ignore[union-attr]
    nowhere = net.Identity.generate().public
    async with server_and_client(server_config, client_config) as (server, client):
        known = net.KnownPeers.parse(
            f"server {server_id} addr=127.0.0.1:{server.port}\nnowhere {nowhere}\n"
        )
        client.node.reload_known_peers(known)
        peer = await client.connect("server")
        assert "server" == peer.name
        assert 3 == await peer.lookup("echo").ask(Ping(3), timeout=5)
        with pytest.raises(ValueError, match="no address for 'nowhere'"):
            await client.connect("nowhere")
        with pytest.raises(ValueError, match="neither a dial address"):
            await client.connect("billing")


async def test_a_restarted_peer_replaces_its_stale_link_at_once() -> None:
    """A peer restarts (a new incarnation, the same key) and dials again while its old link
    still looks alive here: the new link replaces the stale one at once, even when the peer's
    key is the larger (the dial-race rule must not keep the stale link)."""
    server_config, client_config = configs()
    while client_config.identity.public.raw < server_config.identity.public.raw:  # type: ignore[union-attr]
        server_config, client_config = configs()
    async with server_and_client(server_config, client_config) as (server, first):
        await first.connect(server.address)
        with capture_events() as events:
            async with ak.open_runtime(node=client_config) as second:  # the client, restarted
                second.codec.register(Ping)
                peer = await second.connect(server.address)
                assert 5 == await peer.lookup("echo").ask(Ping(5), timeout=5)
                restarted = [
                    event
                    for event in events
                    if event["event"] == "peer_connected" and event["peer"] == "client"
                ]
                assert [True] == [event["restarted"] for event in restarted]
