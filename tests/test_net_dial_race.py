"""Both nodes dial each other: one link per pair, the one dialled by the smaller key, with no
disconnection reported on either side, whichever order the dials meet in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

import actorkit as ak
from actorkit import net
from actorkit.testing import capture_events

LIMIT = 20.0


@attrs.frozen
class Ping:
    n: int


class Echo(ak.Actor):
    @ak.on(Ping)
    async def ping(self, msg: Ping) -> int:
        return msg.n


@attrs.frozen
class Pair:
    small: ak.Runtime  # the node with the smaller key: its dial is the one kept
    large: ak.Runtime

    def peer(self, rt: ak.Runtime) -> net.RemotePeer:
        return rt.node.peers[self.peer_id(rt)]

    def peer_id(self, rt: ak.Runtime) -> net.NodeId:
        other = self.large if rt is self.small else self.small
        node_id: net.NodeId = other.node.node_id
        return node_id


@asynccontextmanager
async def listening_pair() -> AsyncIterator[Pair]:
    """Two nodes that listen, know each other, and export an echo actor."""
    keys = sorted((net.Identity.generate() for _ in range(2)), key=lambda k: k.public.raw)
    cluster = net.ClusterKey.generate()
    known = net.KnownPeers.parse(f"small {keys[0].public}\nlarge {keys[1].public}\n")
    configs = [
        net.NodeConfig(
            identity=key, cluster_key=cluster, known_peers=known, listen="127.0.0.1:0", name=name
        )
        for key, name in zip(keys, ("small", "large"), strict=True)
    ]
    async with ak.open_runtime(node=configs[0]) as small, ak.open_runtime(node=configs[1]) as large:
        for rt in (small, large):
            rt.codec.register(Ping)
            await rt.spawn(Echo, name="echo")
            rt.export("echo")
        yield Pair(small, large)


async def dial(rt: ak.Runtime, other: ak.Runtime) -> None:
    await rt.connect(other.node.dial_address)


def disconnections(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [event for event in events if event["event"] == "peer_disconnected"]


async def assert_one_link_dialled_by(pair: Pair, dialler: ak.Runtime | None) -> None:
    """One live link both sides use (dialled by ``dialler``, if given), and it works."""
    for rt in (pair.small, pair.large):
        link = pair.peer(rt).link
        assert link is not None
        assert not link.closed
        if dialler is not None:
            assert link.initiator is (rt is dialler)
    # The two ends are one connection: each side's local address is the other's remote one.
    small_socket = pair.peer(pair.small).link.channel.stream.socket  # type: ignore[union-attr]
    large_socket = pair.peer(pair.large).link.channel.stream.socket  # type: ignore[union-attr]
    assert small_socket.getsockname() == large_socket.getpeername()
    for rt in (pair.small, pair.large):
        assert 7 == await pair.peer(rt).lookup("echo").ask(Ping(7), timeout=5.0)


@pytest.mark.parametrize("first", ["small", "large"])
async def test_connecting_to_a_peer_that_already_dialled_adds_no_link(first: str) -> None:
    """One node links; then the other connects too: it uses the link that is up (whoever
    dialled it), and from then on both re-dial the peer if the link is lost."""
    with trio.fail_after(LIMIT):
        async with listening_pair() as pair:
            with capture_events() as events:
                order = [pair.small, pair.large] if first == "small" else [pair.large, pair.small]
                await dial(order[0], order[1])
                await dial(order[1], order[0])
                await assert_one_link_dialled_by(pair, order[0])
            assert [] == disconnections(events)
            connected = [event for event in events if event["event"] == "peer_connected"]
            assert 2 == len(connected)  # once on each side
            assert all(pair.peer(rt).dial_address for rt in (pair.small, pair.large))


async def test_after_a_loss_both_redial_and_meet_on_one_link() -> None:
    """When the link is lost, both nodes re-dial (both called connect) and meet on one link
    again, whichever of them dialled first."""
    with trio.fail_after(LIMIT):
        async with listening_pair() as pair:
            await dial(pair.large, pair.small)
            await dial(pair.small, pair.large)
            await assert_one_link_dialled_by(pair, pair.large)
            lost = pair.peer(pair.small).link
            assert lost is not None
            await trio.aclose_forcefully(lost.channel.stream)  # the connection breaks
            for rt in (pair.small, pair.large):
                while pair.peer(rt).link in (None, lost) or not pair.peer(rt).is_connected:
                    await pair.peer(rt)._next_link.wait()
            await trio.testing.wait_all_tasks_blocked()  # let a losing dial finish
            await assert_one_link_dialled_by(pair, None)


@pytest.mark.parametrize("stagger", [0, 1, 2, 3, 5, 8, 13, 21, 34])
@pytest.mark.parametrize("first", ["small", "large"])
async def test_simultaneous_dials_meet_on_one_link(first: str, stagger: int) -> None:
    """Both nodes connect at once (one of them ``stagger`` schedule points later): both
    connects return a linked peer, no disconnection is reported, and one link remains: the
    smaller key's if both really dialled, else the one dial's."""
    with trio.fail_after(LIMIT):
        async with listening_pair() as pair:
            order = [pair.small, pair.large] if first == "small" else [pair.large, pair.small]
            dialled: list[ak.Runtime] = []

            async def connect(rt: ak.Runtime, delay: int) -> None:
                for _ in range(delay):
                    await trio.lowlevel.checkpoint()
                peer = rt.node.peers.get(pair.peer_id(rt))
                if peer is None or not peer.is_connected:  # connect() will dial
                    dialled.append(rt)
                await dial(rt, pair.small if rt is pair.large else pair.large)

            with capture_events() as events:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(connect, order[0], 0)
                    nursery.start_soon(connect, order[1], stagger)
                await trio.testing.wait_all_tasks_blocked()
                await assert_one_link_dialled_by(
                    pair, pair.small if len(dialled) == 2 else dialled[0]
                )
            assert [] == disconnections(events)


async def test_a_refused_dial_waits_for_the_winning_link() -> None:
    """While the smaller key's dial is under way, the larger key's dial is refused before
    HELLO (it never counts as a link), and its connect returns once the winner is up."""
    with trio.fail_after(LIMIT):
        async with listening_pair() as pair:
            small_side = pair.small.node._new_peer(
                pair.large.node.node_id, "127.0.0.1:0"
            )  # as a dial to it would make it
            small_side._dialling = True  # the smaller key's dial is under way
            with capture_events() as events:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(dial, pair.large, pair.small)
                    await trio.testing.wait_all_tasks_blocked()
                    assert not pair.peer(pair.large).is_connected  # refused, and waiting
                    small_side._dialling = False
                    await dial(pair.small, pair.large)
                await assert_one_link_dialled_by(pair, pair.small)
            assert [] == disconnections(events)
