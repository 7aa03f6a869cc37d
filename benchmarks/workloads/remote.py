"""Remote workloads: tell and ask over an encrypted peer link between two processes, beside a
plain Trio TCP baseline with the same framing and batching (no encryption, no actors); and the
handshake rate.

Both ends run in separate processes on loopback: this process is the sender, and
``benchmarks.remote_server`` is the receiver. Messages are ~100 bytes (``Blob``).
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import msgpack
import trio
import trio.testing

import actorkit as ak
from actorkit import net

from ..common import check, latency_figures, now_ns
from ..registry import Metric, Target, Workload, register
from ..remote_messages import Blob, Count, Ping

PAYLOAD = b"x" * 88  # with the envelope and the type name: about 100 bytes per message

REMOTE_TELL = register(
    Workload(
        name="remote_tell",
        title="remote tell",
        group="remote",
        order=10,
        description="N ~100-byte messages to an actor on another process, over the link",
        metrics=(Metric("msgs_per_s", "msgs/s", "msgs/s"),),
        params={"full": {"n": 100_000}, "quick": {"n": 10_000}, "tiny": {"n": 500}},
        expected_count=lambda p: p["n"],
        targets=(Target("msgs_per_s", "trio", ">=", 0.5),),
        note=(
            "remote tell: actorkit = RemoteRef.send over a Secret-Handshake link with "
            "secretstream framing and coalesced writes, counted by a remote actor; Trio = a "
            "plain TCP stream with the same length-prefixed msgpack envelopes, batched the "
            "same way, counted by the server loop (no encryption, no actors)."
        ),
    )
)

REMOTE_ASK = register(
    Workload(
        name="remote_ask",
        title="remote ask",
        group="remote",
        order=20,
        description="N sequential asks to an actor on another process",
        metrics=(
            Metric("rt_per_s", "rt/s", "rt/s"),
            Metric("p50_us", "p50", "µs", higher_is_better=False),
            Metric("p99_us", "p99", "µs", higher_is_better=False),
        ),
        params={"full": {"n": 5_000}, "quick": {"n": 1_000}, "tiny": {"n": 50}},
        expected_count=lambda p: p["n"],
        targets=(),
        note=(
            "remote ask: sequential RemoteRef.ask round trips; Trio = request/reply on TCP "
            "with the tell baseline's writer and reader tasks; Trio (alt.) = the floor: one "
            "task that writes a request and reads its reply, nothing else."
        ),
    )
)

HANDSHAKE = register(
    Workload(
        name="handshake",
        title="handshakes",
        group="remote",
        order=30,
        description="full Secret Handshakes (both sides, one process, memory streams)",
        metrics=(Metric("per_s", "handshakes/s", "/s"),),
        params={"full": {"n": 1_000}, "quick": {"n": 200}, "tiny": {"n": 20}},
        expected_count=lambda p: p["n"],
        targets=(),
        note="handshakes: client_handshake + server_handshake, both in this process.",
    )
)


@contextmanager
def _server(kind: str) -> Iterator[list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.remote_server", kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().split()
    finally:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()  # the server's signal to stop
        process.wait(timeout=30)
        process.stdout.close()


def _config(words: list[str]) -> net.NodeConfig:
    address, seed, cluster = words
    client = net.Identity(base64.b64decode(seed))
    server_id = net.parse_dial_address(address).node_id
    return net.NodeConfig(
        identity=client,
        cluster_key=net.ClusterKey(base64.b64decode(cluster)),
        known_peers=net.KnownPeers.parse(f"server {server_id}\n"),
        name="client",
    )


@REMOTE_TELL.system("actorkit")
def tell_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with _server("actorkit") as words:

        async def main() -> tuple[int, int]:
            async with ak.open_runtime(node=_config(words)) as rt:
                for message_type in (Blob, Count, Ping):
                    rt.codec.register(message_type)
                peer = await rt.connect(words[0])
                counter = peer.lookup("counter")
                start = now_ns()
                for i in range(n):
                    await counter.send(Blob(i, PAYLOAD))
                count = await counter.ask(Count(), timeout=60)
                return count, now_ns() - start

        count, elapsed = trio.run(main)
    check(count, n, "messages the remote counter saw")
    return {"msgs_per_s": n / (elapsed / 1e9), "count": count}


class _TcpClient:
    """The baseline's client: the same envelopes, coalesced by a writer task, read by a reader."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.out: list[bytes] = []
        self.ready = trio.Event()
        self.replies: trio.MemorySendChannel[int]

    def queue(self, envelope: list[object]) -> None:
        body = msgpack.packb(envelope)
        self.out.append(len(body).to_bytes(4, "big") + body)
        self.ready.set()

    async def writer(self) -> None:
        while True:
            await self.ready.wait()
            self.ready = trio.Event()
            frames, self.out = self.out, []
            await self.stream.send_all(b"".join(frames))

    async def reader(self, replies: trio.MemorySendChannel[int]) -> None:
        buffer = bytearray()
        while True:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                return
            buffer += chunk
            while len(buffer) >= 4:
                size = int.from_bytes(buffer[:4], "big")
                if len(buffer) - 4 < size:
                    break
                _kind, _target, payload = msgpack.unpackb(buffer[4 : 4 + size])
                del buffer[: 4 + size]
                await replies.send(msgpack.unpackb(payload)[1])


async def _tcp(port: int, body: object) -> object:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    client = _TcpClient(stream)
    send, receive = trio.open_memory_channel[int](100)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.writer)
        nursery.start_soon(client.reader, send)
        result = await body(client, receive)  # type: ignore[operator]
        nursery.cancel_scope.cancel()
    await stream.aclose()
    return result


@REMOTE_TELL.system("trio", "Trio TCP (plain)")
def tell_trio(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    with _server("trio") as words:
        port = int(words[0])

        async def body(
            client: _TcpClient, replies: trio.MemoryReceiveChannel[int]
        ) -> tuple[int, int]:
            start = now_ns()
            for i in range(n):
                client.queue([0, "counter", msgpack.packb(["Blob", {"n": i, "data": PAYLOAD}])])
                if not i % 64:
                    await trio.lowlevel.checkpoint()  # let the writer batch, as a link does
            client.queue([1, "counter", msgpack.packb(["Count", {}])])
            count = await replies.receive()
            return count, now_ns() - start

        count, elapsed = trio.run(_tcp, port, body)  # type: ignore[misc]
    check(count, n, "messages the TCP server saw")
    return {"msgs_per_s": n / (elapsed / 1e9), "count": count}


@REMOTE_ASK.system("actorkit")
def ask_actorkit(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    latencies: list[int] = []
    with _server("actorkit") as words:

        async def main() -> int:
            async with ak.open_runtime(node=_config(words)) as rt:
                for message_type in (Blob, Count, Ping):
                    rt.codec.register(message_type)
                peer = await rt.connect(words[0])
                echo = peer.lookup("echo")
                good = 0
                for i in range(n):
                    start = now_ns()
                    good += await echo.ask(Ping(i), timeout=10) == i
                    latencies.append(now_ns() - start)
                return good

        good = trio.run(main)
    check(good, n, "correct remote replies")
    return {"rt_per_s": n / (sum(latencies) / 1e9), **latency_figures(latencies), "count": good}


@REMOTE_ASK.system("trio", "Trio TCP (plain)")
def ask_trio(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    latencies: list[int] = []
    with _server("trio") as words:
        port = int(words[0])

        async def body(client: _TcpClient, replies: trio.MemoryReceiveChannel[int]) -> int:
            good = 0
            for i in range(n):
                start = now_ns()
                client.queue([1, "echo", msgpack.packb(["Ping", {"n": i}])])
                good += await replies.receive() == i
                latencies.append(now_ns() - start)
            return good

        good = trio.run(_tcp, port, body)  # type: ignore[misc]
    check(good, n, "correct TCP replies")
    return {"rt_per_s": n / (sum(latencies) / 1e9), **latency_figures(latencies), "count": good}


@REMOTE_ASK.system("trio_alt", "Trio ping-pong (floor)")
def ask_trio_floor(p: dict[str, int]) -> dict[str, float]:
    """The least a round trip between two Trio processes costs here: one task, one write,
    reads until the reply is whole; the same envelopes, no writer task."""
    n = p["n"]
    latencies: list[int] = []
    with _server("trio") as words:
        port = int(words[0])

        async def main() -> int:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            good = 0
            for i in range(n):
                start = now_ns()
                body = msgpack.packb([1, "echo", msgpack.packb(["Ping", {"n": i}])])
                await stream.send_all(len(body).to_bytes(4, "big") + body)
                buffer = b""
                while len(buffer) < 4 or len(buffer) < 4 + int.from_bytes(buffer[:4], "big"):
                    buffer += await stream.receive_some(65536)
                _kind, _target, payload = msgpack.unpackb(buffer[4:])
                good += msgpack.unpackb(payload)[1] == i
                latencies.append(now_ns() - start)
            await stream.aclose()
            return good

        good = trio.run(main)
    check(good, n, "correct TCP replies")
    return {"rt_per_s": n / (sum(latencies) / 1e9), **latency_figures(latencies), "count": good}


@HANDSHAKE.system("actorkit")
def handshakes(p: dict[str, int]) -> dict[str, float]:
    n = p["n"]
    server, client = net.Identity.generate(), net.Identity.generate()
    network_key = net.ClusterKey.generate().network_key

    async def main() -> int:
        done = 0
        for _ in range(n):
            left, right = trio.testing.memory_stream_pair()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(
                    net.server_handshake, right, server, network_key, lambda _id: True
                )
                await net.client_handshake(left, client, server.public, network_key)
            done += 1
        return done

    start = now_ns()
    done = trio.run(main)
    elapsed = now_ns() - start
    check(done, n, "handshakes completed")
    return {"per_s": n / (elapsed / 1e9), "count": done}
