"""Messages from one sender to one remote actor arrive in order, whole, and all of them, however
the link batches them: a turn's first envelope written at once, the rest coalesced, big ones
filling the socket so that the rest wait behind them."""

from __future__ import annotations

import attrs
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

import actorkit as ak
from actorkit import net

SIZES = {"small": 8, "medium": 16_000, "large": 400_000}


@attrs.frozen
class Piece:
    sender: int
    seq: int
    data: bytes


@attrs.frozen
class Received:
    pass


@attrs.frozen
class Log:
    entries: tuple[tuple[int, int, int], ...]  # (sender, seq, size) in arrival order


class Recorder(ak.Actor):
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, int]] = []

    @ak.on(Piece)
    async def piece(self, msg: Piece) -> None:
        self.seen.append((msg.sender, msg.seq, len(msg.data)))

    @ak.on(Received)
    async def received(self, msg: Received) -> Log:
        return Log(tuple(self.seen))


Step = tuple[int, int, str]  # (sender, schedule points before the send, size)


async def run_plan(plan: list[Step]) -> tuple[tuple[int, int, int], ...]:
    billing_key, orders_key = net.Identity.generate(), net.Identity.generate()
    cluster = net.ClusterKey.generate()
    billing = net.NodeConfig(
        identity=billing_key,
        cluster_key=cluster,
        known_peers=net.KnownPeers.parse(f"orders {orders_key.public}\n"),
        listen="127.0.0.1:0",
        name="billing",
    )
    orders = net.NodeConfig(
        identity=orders_key,
        cluster_key=cluster,
        known_peers=net.KnownPeers.parse(f"billing {billing_key.public}\n"),
        name="orders",
    )
    with trio.fail_after(30):
        async with ak.open_runtime(node=billing) as far:
            for message_type in (Piece, Received, Log):
                far.codec.register(message_type)
            await far.spawn(Recorder, name="recorder")
            far.export("recorder")
            async with ak.open_runtime(node=orders) as near:
                for message_type in (Piece, Received, Log):
                    near.codec.register(message_type)
                recorder = (await near.connect(far.node.dial_address)).lookup("recorder")

                async def sender(index: int) -> None:
                    mine = [step for step in plan if step[0] == index]
                    for seq, (_, pause, size) in enumerate(mine):
                        for _ in range(pause):
                            await trio.lowlevel.checkpoint()
                        await recorder.send(Piece(index, seq, b"x" * SIZES[size]))

                async with trio.open_nursery() as nursery:
                    for index in (0, 1):
                        nursery.start_soon(sender, index)
                log: Log = await recorder.ask(Received(), timeout=20)
                return log.entries


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 2),
            st.sampled_from(["small", "small", "small", "medium", "large"]),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_each_senders_messages_arrive_whole_and_in_order(plan: list[Step]) -> None:
    seen = trio.run(run_plan, plan)
    for index in (0, 1):
        sent = [SIZES[size] for sender, _, size in plan if sender == index]
        got = [(seq, length) for sender, seq, length in seen if sender == index]
        assert list(enumerate(sent)) == got
