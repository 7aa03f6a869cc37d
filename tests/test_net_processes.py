"""Two nodes in two OS processes: the billing node runs tests/net_node_script.py, the orders
node runs in the test. Keys and known_peers are real files; everything is on loopback."""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
import trio
from net_node_script import MESSAGES, Charge, Receipt

import actorkit as ak
from actorkit import net

SCRIPT = Path(__file__).with_name("net_node_script.py")
LIMIT = 30.0


class Watcher(ak.Actor):
    def __init__(self, box: list[object], arrived: trio.Event) -> None:
        self.box, self.arrived = box, arrived

    @ak.on(ak.Terminated)
    async def terminated(self, msg: ak.Terminated) -> None:
        self.box.append(msg)
        self.arrived.set()


class Disconnects(ak.Actor):
    def __init__(self, gone: trio.Event) -> None:
        self.gone = gone

    @net.on_disconnect("billing")
    async def disconnected(self, peer: net.PeerInfo, reason: str) -> None:
        self.gone.set()


@attrs.frozen
class Billing:
    """The billing node's process, and how to reach it."""

    process: trio.Process
    address: str
    cluster: net.ClusterKey


async def _read_line(stream: trio.abc.ReceiveStream) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = await stream.receive_some(1)  # byte by byte: read nothing past the line
        if not chunk:
            raise AssertionError(f"the node exited before printing its address ({data!r})")
        data += chunk
    return data.decode("ascii").strip()


@asynccontextmanager
async def billing_process(tmp_path: Path, orders: net.Identity) -> AsyncIterator[Billing]:
    """Start the billing node's process with key files in ``tmp_path``; close its stdin, and
    check that it exits 0, on the way out."""
    identity = net.write_identity(tmp_path / "billing.key")
    cluster = net.write_cluster_key(tmp_path / "cluster.key")
    known_peers = tmp_path / "known_peers"
    known_peers.write_text(f"# who may connect\norders {orders.public}\n", encoding="utf-8")
    command = [
        sys.executable,
        str(SCRIPT),
        "--identity",
        str(tmp_path / "billing.key"),
        "--cluster-key",
        str(tmp_path / "cluster.key"),
        "--known-peers",
        str(known_peers),
    ]
    async with trio.open_nursery() as nursery:
        run = functools.partial(
            trio.run_process, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, check=False
        )
        process: trio.Process = await nursery.start(run)
        assert process.stdout is not None
        assert process.stdin is not None
        address = await _read_line(process.stdout)
        assert net.parse_dial_address(address).node_id == identity.public
        try:
            yield Billing(process, address, cluster)
        finally:
            await process.stdin.aclose()
    assert process.returncode in (0, -9)  # -9: the test killed it


def _orders_config(billing: Billing, orders: net.Identity) -> net.NodeConfig:
    node_id = net.parse_dial_address(billing.address).node_id
    return net.NodeConfig(
        identity=orders,
        cluster_key=billing.cluster,
        known_peers=net.KnownPeers.parse(f"billing {node_id}\n"),
        name="orders",
    )


async def test_remote_asks_and_a_crash_across_processes(tmp_path: Path) -> None:
    """Asks are answered by a node in another process; a crash there is ActorCrashed here, with
    its type and text only; the supervisor there restarts the actor; and when the process
    shuts down cleanly, watchers here get Terminated with NodeDown and it exits 0."""
    orders = net.Identity.generate()
    with trio.fail_after(LIMIT):
        async with billing_process(tmp_path, orders) as billing:
            async with ak.open_runtime(node=_orders_config(billing, orders)) as rt:
                for message_type in MESSAGES:
                    rt.codec.register(message_type)
                peer = await rt.connect(billing.address)
                assert peer.name == "billing"
                remote = peer.lookup("billing")
                assert Receipt(1, 100) == await remote.ask(Charge(1, 100), timeout=5.0)
                assert Receipt(2, 150) == await remote.ask(Charge(2, 50), timeout=5.0)
                with pytest.raises(ak.ActorCrashed) as caught:
                    await remote.ask(Charge(3, -1), timeout=5.0)
                assert caught.value.exc_type == "ValueError"
                assert caught.value.exc_message == "cannot charge -1 cents"
                assert caught.value.__cause__ is None
                assert "Traceback" not in str(caught.value)
                # Restarted by its supervisor there: a fresh total.
                assert Receipt(4, 7) == await remote.ask(Charge(4, 7), timeout=5.0)
                # A clean shutdown of the other process: its actors stop (watchers here hear
                # of it), then its links close.
                box: list[object] = []
                arrived, gone = trio.Event(), trio.Event()
                watcher = await rt.spawn(Watcher, box, arrived)
                await rt.spawn(Disconnects, gone)
                watcher._cell.ctx.watch(remote)
                await remote.ask(Charge(5, 0), timeout=5.0)  # the watch is in place behind it
                assert billing.process.stdin is not None
                await billing.process.stdin.aclose()
                await arrived.wait()
                assert [ak.Terminated(remote, None)] == box
                await gone.wait()
                with pytest.raises(net.NodeDown):
                    await remote.ask(Charge(6, 1), timeout=5.0)
            assert await billing.process.wait() == 0


async def test_a_killed_process_is_node_down(tmp_path: Path) -> None:
    """A node whose process is killed (no clean close) is NodeDown for asks and watchers."""
    orders = net.Identity.generate()
    with trio.fail_after(LIMIT):
        async with billing_process(tmp_path, orders) as billing:
            async with ak.open_runtime(node=_orders_config(billing, orders)) as rt:
                for message_type in MESSAGES:
                    rt.codec.register(message_type)
                peer = await rt.connect(billing.address)
                remote = peer.lookup("billing")
                assert Receipt(1, 1) == await remote.ask(Charge(1, 1), timeout=5.0)
                box: list[object] = []
                arrived = trio.Event()
                watcher = await rt.spawn(Watcher, box, arrived)
                watcher._cell.ctx.watch(remote)
                billing.process.kill()
                await arrived.wait()
                (terminated,) = box
                assert isinstance(terminated, ak.Terminated)
                assert isinstance(terminated.reason, net.NodeDown)
                assert not peer.is_connected
                with pytest.raises(net.NodeDown):
                    await remote.ask(Charge(2, 1), timeout=5.0)
            assert await billing.process.wait() == -9
