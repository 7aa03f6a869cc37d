"""A billing node in a process of its own, for tests/test_net_processes.py.

    python tests/net_node_script.py --identity KEY --cluster-key KEY --known-peers FILE

starts a node that listens on 127.0.0.1 (on any free port), prints its dial address as one line
on standard output, and serves until its standard input closes; then it stops cleanly and
exits 0. Its events go to standard error. The billing actor is supervised: a charge of a
negative amount crashes it, and it is restarted with a fresh total.
"""

from __future__ import annotations

import argparse
import sys

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
    total: int  # charged by this instance of the actor, so a restart shows


MESSAGES = (Charge, Receipt)


class Billing(ak.Actor):
    def __init__(self) -> None:
        self.total = 0

    @ak.on(Charge)
    async def charge(self, msg: Charge) -> Receipt:
        if msg.cents < 0:
            raise ValueError(f"cannot charge {msg.cents} cents")
        self.total += msg.cents
        return Receipt(msg.order_id, self.total)


async def serve(identity: str, cluster_key: str, known_peers: str) -> None:
    config = net.NodeConfig(
        identity=identity,
        cluster_key=cluster_key,
        known_peers=known_peers,
        listen="127.0.0.1:0",
        name="billing",
    )
    async with ak.open_runtime(node=config) as rt:
        for message_type in MESSAGES:
            rt.codec.register(message_type)
        await rt.start(
            ak.Supervisor(
                "billing-service",
                strategy=ak.OneForOne(max_restarts=3, within=5.0),
                children=[ak.Child(Billing, name="billing")],
            )
        )
        rt.export("billing")
        sys.stdout.write(f"{rt.node.dial_address}\n")
        sys.stdout.flush()
        # Serve until the parent closes our stdin (read() returns at end of file).
        await trio.to_thread.run_sync(sys.stdin.buffer.read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identity", required=True, help="this node's key file")
    parser.add_argument("--cluster-key", required=True, help="the cluster key file")
    parser.add_argument("--known-peers", required=True, help="the known_peers file")
    args = parser.parse_args()
    ak.configure_logging("info", stream=sys.stderr)
    trio.run(serve, args.identity, args.cluster_key, args.known_peers)


if __name__ == "__main__":
    main()
