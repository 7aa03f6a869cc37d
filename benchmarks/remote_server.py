"""The far side of the remote workloads, run as its own process.

    python -m benchmarks.remote_server actorkit  # an actorkit node: Counter and Echo exported
    python -m benchmarks.remote_server trio      # plain Trio TCP, same framing, no encryption

It prints one line (the actorkit dial address with the keys the client needs, or the TCP port)
and serves until its standard input closes.
"""

from __future__ import annotations

import base64
import sys

import msgpack
import trio

import actorkit as ak
from actorkit import net

from .common import configure_logging
from .remote_messages import Blob, Count, Ping

__all__ = ["main"]


class Counter(ak.Actor):
    def __init__(self) -> None:
        self.count = 0

    @ak.on(Blob)
    async def blob(self, msg: Blob) -> None:
        self.count += 1

    @ak.on(Count)
    async def report(self, msg: Count) -> int:
        return self.count


class Echo(ak.Actor):
    @ak.on(Ping)
    async def ping(self, msg: Ping) -> int:
        return msg.n


async def _until_stdin_closes() -> None:
    await trio.to_thread.run_sync(sys.stdin.read)


async def serve_actorkit() -> None:
    server, client, cluster = (
        net.Identity.generate(),
        net.Identity.generate(),
        net.ClusterKey.generate(),
    )
    config = net.NodeConfig(
        identity=server,
        cluster_key=cluster,
        known_peers=net.KnownPeers.parse(f"client {client.public}\n"),
        listen="127.0.0.1:0",
        name="server",
    )
    async with ak.open_runtime(node=config) as rt:
        for message_type in (Blob, Count, Ping):
            rt.codec.register(message_type)
        await rt.spawn(Counter, name="counter")
        await rt.spawn(Echo, name="echo")
        rt.export("counter")
        rt.export("echo")
        secrets = [
            base64.b64encode(client._seed()).decode(),
            base64.b64encode(cluster._secret).decode(),
        ]
        sys.stdout.write(" ".join([rt.node.dial_address, *secrets]) + "\n")
        sys.stdout.flush()
        await _until_stdin_closes()


async def serve_trio() -> None:
    async def handle(stream: trio.SocketStream) -> None:
        buffer = bytearray()
        count = 0
        while True:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return
            buffer += chunk
            replies = []
            offset = 0
            while len(buffer) - offset >= 4:
                size = int.from_bytes(buffer[offset : offset + 4], "big")
                if len(buffer) - offset - 4 < size:
                    break
                kind, target, payload = msgpack.unpackb(buffer[offset + 4 : offset + 4 + size])
                offset += 4 + size
                message = msgpack.unpackb(payload)
                if kind == 0:
                    count += 1
                else:
                    answer = count if message[0] == "Count" else message[1]["n"]
                    body = msgpack.packb([2, target, msgpack.packb(["int", answer])])
                    replies.append(len(body).to_bytes(4, "big") + body)
            del buffer[:offset]
            if replies:
                await stream.send_all(b"".join(replies))

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, handle, listeners)
        await _until_stdin_closes()
        nursery.cancel_scope.cancel()


def main() -> None:
    configure_logging()
    trio.run(serve_actorkit if sys.argv[1] == "actorkit" else serve_trio)


if __name__ == "__main__":
    main()
