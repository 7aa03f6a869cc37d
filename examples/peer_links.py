"""Two nodes linked over an encrypted peer link, end to end, on loopback.

What a deployment does on two machines, in one script: make the keys (as ``actorkit keygen``
and ``actorkit cluster-key`` would), write each node's known_peers, start a billing node that
exports its actor to the orders node only, and from the orders node connect to it by name,
ask it, see a remote crash come back as ``ak.ActorCrashed`` (and the supervised actor restart),
hand it a ref to a local actor
(refs cross links), and watch it until its node shuts down.
Run it with ``python examples/peer_links.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import attrs
import trio

import actorkit as ak
from actorkit import net


@attrs.frozen
class Charge:
    order_id: int
    cents: int


@attrs.frozen
class Receipt:
    order_id: int
    cents: int


@attrs.frozen
class Subscribe:
    reply_to: ak.ActorRef  # a ref to an actor on the orders node


@attrs.frozen
class Notice:
    text: str


MESSAGES = (Charge, Receipt, Subscribe, Notice)  # registered on both nodes, under the same names


class Billing(ak.Actor):
    @ak.on(Charge)
    async def charge(self, msg: Charge) -> Receipt:
        if msg.cents <= 0:
            raise ValueError(f"cannot charge {msg.cents} cents")
        return Receipt(msg.order_id, msg.cents)

    @ak.on(Subscribe)
    async def subscribe(self, msg: Subscribe) -> None:
        await msg.reply_to.send(Notice("billing is open"))  # back over the link


class Inbox(ak.Actor):
    """An actor on the orders node that billing reaches through the ref it was sent."""

    def __init__(self, got: trio.Event, box: list[str]) -> None:
        self.got, self.box = got, box

    @ak.on(Notice)
    async def notice(self, msg: Notice) -> None:
        self.box.append(msg.text)
        self.got.set()


class Watcher(ak.Actor):
    """Watches the remote billing actor; records how it ended."""

    def __init__(self, billing: ak.ActorRef, ended: list[ak.Terminated], done: trio.Event) -> None:
        self.billing, self.ended, self.done = billing, ended, done

    async def on_start(self) -> None:
        self.ctx.watch(self.billing)

    @ak.on(ak.Terminated)
    async def terminated(self, msg: ak.Terminated) -> None:
        self.ended.append(msg)
        self.done.set()


def write_known_peers(path: Path, text: str) -> None:
    path.write_text(text)
    os.chmod(path, 0o600)  # a known_peers file others can write is refused


async def run_billing(
    keys: Path, stop: trio.Event, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    orders_id = net.load_identity(keys / "orders.key").public
    write_known_peers(keys / "billing.peers", f"orders {orders_id}\n")
    config = net.NodeConfig(
        identity=keys / "billing.key",
        cluster_key=keys / "cluster.key",
        known_peers=keys / "billing.peers",
        listen="127.0.0.1:0",  # any free port
        name="billing",
    )
    async with ak.open_runtime(node=config) as rt:
        for message_type in MESSAGES:
            rt.codec.register(message_type)
        # Supervised: a crash restarts the actor in place, under the same name.
        await rt.start(
            ak.Supervisor(
                "billing-service",
                strategy=ak.OneForOne(max_restarts=3, within=5.0),
                children=[ak.Child(Billing, name="billing")],
            )
        )
        rt.export("billing", peers=["orders"])  # only the peer named orders may reach it
        assert rt.node.address is not None
        task_status.started(rt.node.address[1])
        await stop.wait()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp)
        billing_key = net.write_identity(keys / "billing.key")  # actorkit keygen billing.key
        net.write_identity(keys / "orders.key")  # actorkit keygen orders.key
        net.write_cluster_key(keys / "cluster.key")  # actorkit cluster-key cluster.key
        stop_billing = trio.Event()
        async with trio.open_nursery() as nursery:
            port = await nursery.start(run_billing, keys, stop_billing)
            write_known_peers(
                keys / "orders.peers", f"billing {billing_key.public} addr=127.0.0.1:{port}\n"
            )
            config = net.NodeConfig(
                identity=keys / "orders.key",
                cluster_key=keys / "cluster.key",
                known_peers=keys / "orders.peers",
                name="orders",
            )
            async with ak.open_runtime(node=config) as rt:
                for message_type in MESSAGES:
                    rt.codec.register(message_type)
                peer = await rt.connect("billing")  # by its known_peers name, via addr=
                billing = peer.lookup("billing")

                receipt = await billing.ask(Charge(order_id=7, cents=1250), timeout=5.0)
                assert receipt == Receipt(7, 1250)

                crash = None
                try:
                    await billing.ask(Charge(order_id=8, cents=-1), timeout=5.0)
                except ak.ActorCrashed as exc:  # the remote exception's type and message
                    crash = (exc.exc_type, exc.exc_message)
                assert crash == ("ValueError", "cannot charge -1 cents")

                got, box = trio.Event(), []
                inbox = await rt.spawn(Inbox, got, box)
                await billing.send(Subscribe(reply_to=inbox))
                await got.wait()
                assert box == ["billing is open"]

                ended: list[ak.Terminated] = []
                done = trio.Event()
                await rt.spawn(Watcher, billing, ended, done)
                stop_billing.set()  # the billing node shuts down: its actor stops first
                await done.wait()
                print(f"receipt {receipt}, notice {box[0]!r}, billing ended: {ended[0].reason}")


if __name__ == "__main__":
    ak.configure_logging("warning")  # the deliberate crash is still logged, with its traceback
    trio.run(main)
