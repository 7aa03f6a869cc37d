"""Hostile peers at the link and message level: the attack list of docs/design/link-protocol.md.

Each attacker is written by hand: it completes a real handshake with the lower layer's
``client_handshake`` and talks through a ``FramedChannel``, then sends frames a node's own links
never send. After each attack two things must hold: nothing reached any actor (the recorders'
list stays empty) and the listener still serves a good peer (a fresh node connects and gets an
ask answered). Everything runs on loopback, with ephemeral ports, under ``trio.fail_after``.
"""

from __future__ import annotations

import base64
import sys
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import msgpack
import pytest
import trio
import trio.lowlevel
import trio.testing

import actorkit as ak
from actorkit import net
from actorkit.net._protocol import WINDOW
from actorkit.testing import capture_events

# The wire format, written out here so that the tests pin it down independently of the code.
HELLO, DATA, PING, PONG, CLOSE = 1, 2, 3, 4, 5
TELL, ASK, REPLY, FAIL, WATCH, UNWATCH, TERMINATED, CREDIT = range(8)

LIMIT = 30.0  # seconds any one test may take, at most


# -- messages and actors ------------------------------------------------------------------------


@attrs.frozen
class Charge:
    order_id: int
    cents: int


@attrs.frozen
class Receipt:
    order_id: int
    cents: int


@attrs.frozen
class Item:
    n: int


@attrs.frozen
class Text:
    body: str


@attrs.frozen
class Blob:
    items: tuple[Any, ...]


@attrs.frozen
class Notify:
    reply_to: ak.ActorRef
    text: str


@attrs.frozen
class Note:
    text: str


@attrs.frozen
class Records:
    """Asks a recorder how many messages it has recorded (and is never recorded itself)."""


@attrs.frozen
class Reveal:
    """Asks billing for a ref to the private actor: it grants that capability to the asker."""


@attrs.frozen
class Handle:
    ref: ak.ActorRef


MESSAGES = (Charge, Receipt, Item, Text, Blob, Notify, Note, Records, Reveal, Handle)


class Recorder(ak.Actor):
    """Records every message it is given: in these tests, any entry is an attack that worked."""

    def __init__(self, box: list[tuple[str, object]], label: str) -> None:
        self.box, self.label = box, label

    @ak.on(Records)
    async def records(self, msg: Records) -> int:
        return len(self.box)

    @ak.on(object)
    async def keep(self, msg: object) -> None:
        self.box.append((self.label, msg))


class Billing(ak.Actor):
    """The exported actor a good peer asks; it also follows the refs it is sent."""

    def __init__(self, private: ak.ActorRef, sent: list[object]) -> None:
        self.private, self.sent = private, sent

    @ak.on(Charge)
    async def charge(self, msg: Charge) -> Receipt:
        return Receipt(msg.order_id, msg.cents)

    @ak.on(Notify)
    async def notify(self, msg: Notify) -> str:
        self.sent.append(msg.reply_to)
        await msg.reply_to.send(Note(f"seen {msg.text}"))
        return "sent"

    @ak.on(Reveal)
    async def reveal(self, msg: Reveal) -> Handle:
        return Handle(self.private)


class Slow(ak.Actor):
    """Handles nothing until its gate opens: a flood's target."""

    def __init__(self, gate: trio.Event, box: list[int]) -> None:
        self.gate, self.box = gate, box

    @ak.on(Item)
    async def item(self, msg: Item) -> int:
        await self.gate.wait()
        self.box.append(msg.n)
        return msg.n


class Disconnects(ak.Actor):
    """Sets an event (and keeps the reason) when a peer's link ends."""

    def __init__(self, reasons: list[str], event: trio.Event) -> None:
        self.reasons, self.event = reasons, event

    @net.on_disconnect("*")
    async def gone(self, peer: net.PeerInfo, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()


# -- the node under attack, and good peers ------------------------------------------------------


@attrs.define
class Target:
    """The node under attack, listening on loopback, and the keys of everyone around it."""

    rt: ak.Runtime
    cluster: net.ClusterKey
    key: net.Identity
    orders: net.Identity  # a good peer
    mallory: net.Identity  # the attacker: allowlisted, so it gets through the handshake
    carol: net.Identity  # another allowlisted peer
    delivered: list[tuple[str, object]]  # what the recorders got: must stay empty
    followed: list[object]  # the refs billing was sent and followed
    gate: trio.Event  # opens the slow actor
    slow_box: list[int]

    @property
    def address(self) -> str:
        address: str = self.rt.node.dial_address
        return address

    def known_peers(self, extra: str = "") -> net.KnownPeers:
        return net.KnownPeers.parse(
            f"orders {self.orders.public}\nmallory {self.mallory.public}\n"
            f"carol {self.carol.public}\n{extra}"
        )


def register(rt: ak.Runtime) -> None:
    for message_type in MESSAGES:
        rt.codec.register(message_type)


@asynccontextmanager
async def target_node(**config: Any) -> AsyncIterator[Target]:
    """A node named billing with recorders exported to everyone ("recorder"), to nobody
    ("private") and to carol only ("carols"), and billing and a slow actor exported to all."""
    key, orders, mallory, carol = (net.Identity.generate() for _ in range(4))
    cluster = net.ClusterKey.generate()
    delivered: list[tuple[str, object]] = []
    followed: list[object] = []
    gate = trio.Event()
    slow_box: list[int] = []
    known = net.KnownPeers.parse(
        f"orders {orders.public}\nmallory {mallory.public}\ncarol {carol.public}\n"
    )
    node = net.NodeConfig(
        identity=key,
        cluster_key=cluster,
        known_peers=known,
        listen="127.0.0.1:0",
        name="billing",
        **config,
    )
    async with ak.open_runtime(node=node) as rt:
        register(rt)
        for name in ("recorder", "private", "carols"):
            await rt.spawn(Recorder, delivered, name, name=name)
        await rt.spawn(Billing, rt.lookup("private"), followed, name="billing")
        await rt.spawn(Slow, gate, slow_box, name="slow", mailbox=ak.Mailbox(capacity=4))
        rt.export("recorder")
        rt.export("billing")
        rt.export("slow")
        rt.export("carols", peers=["carol"])
        target = Target(
            rt, cluster, key, orders, mallory, carol, delivered, followed, gate, slow_box
        )
        try:
            yield target
        finally:
            gate.set()  # let the slow actor stop


def peer_config(target: Target, identity: net.Identity, **config: Any) -> net.NodeConfig:
    return net.NodeConfig(
        identity=identity,
        cluster_key=target.cluster,
        known_peers=net.KnownPeers.parse(f"billing {target.key.public}\n"),
        **config,
    )


@asynccontextmanager
async def good_peer(
    target: Target, identity: net.Identity | None = None, **config: Any
) -> AsyncIterator[tuple[ak.Runtime, net.RemotePeer]]:
    """A real node (orders, by default) linked to the target."""
    node = peer_config(target, identity or target.orders, **config)
    async with ak.open_runtime(node=node) as rt:
        register(rt)
        peer = await rt.connect(target.address)
        yield rt, peer


async def assert_nothing_delivered(target: Target) -> None:
    """No recorder got anything: each is asked locally, behind whatever the link queued."""
    for name in ("recorder", "private", "carols"):
        await target.rt.lookup(name).ask(Records(), timeout=5.0)
    assert target.delivered == []


async def assert_serves_good_peer(target: Target) -> None:
    """A fresh good node connects and gets an ask answered."""
    async with good_peer(target) as (_rt, peer):
        assert Receipt(7, 99) == await peer.lookup("billing").ask(Charge(7, 99), timeout=5.0)


async def assert_unharmed(target: Target) -> None:
    await assert_nothing_delivered(target)
    await assert_serves_good_peer(target)


# -- the hostile peer ---------------------------------------------------------------------------

GOOD_HELLO = {
    "version": 1,
    "min_version": 1,
    "features": [],
    "max_frame": net.DEFAULT_MAX_FRAME,
    "name": "mallory",
    "incarnation": "0123456789abcdef",
}


def frame(kind: int, body: Any = None) -> bytes:
    return bytes((kind,)) if body is None else bytes((kind,)) + msgpack.packb(body)


def data(envelope: Any) -> bytes:
    return frame(DATA, envelope)


def payload(type_name: Any, fields: Any) -> bytes:
    """A message as the codec writes it: msgpack ``[type_name, fields]``."""
    packed: bytes = msgpack.packb([type_name, fields])
    return packed


def ask(target: str, ask_id: int, message: bytes) -> bytes:
    return data([ASK, target, ask_id, message])


def tell(target: str, message: bytes) -> bytes:
    return data([TELL, target, message])


async def dial(
    target: Target, identity: net.Identity | None = None, *, max_frame: int = net.DEFAULT_MAX_FRAME
) -> net.FramedChannel:
    """A real handshake as ``identity`` (mallory by default); no HELLO yet."""
    address = net.parse_dial_address(target.address)
    stream = await trio.open_tcp_stream(address.host, address.port)
    keys = await net.client_handshake(
        stream, identity or target.mallory, address.node_id, target.cluster.network_key
    )
    return net.FramedChannel(stream, keys, max_frame=max_frame)


_UNREAD: weakref.WeakKeyDictionary[net.FramedChannel, list[tuple[int, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def receive(channel: net.FramedChannel) -> tuple[int, Any]:
    """The next envelope (or bodiless frame): its frame type and its unpacked body (None if it
    has none). A DATA frame may carry several envelopes: they come one per call."""
    unread = _UNREAD.setdefault(channel, [])
    if not unread:
        plaintext, _tag = await channel.receive_frame()
        if len(plaintext) > 1 and plaintext[0] == DATA:
            unpacker = msgpack.Unpacker()
            unpacker.feed(plaintext[1:])
            unread.extend((DATA, envelope) for envelope in unpacker)
        else:
            body = msgpack.unpackb(plaintext[1:]) if len(plaintext) > 1 else None
            unread.append((plaintext[0], body))
    return unread.pop(0)


@asynccontextmanager
async def hostile(
    target: Target, identity: net.Identity | None = None, *, max_frame: int = net.DEFAULT_MAX_FRAME
) -> AsyncIterator[tuple[net.FramedChannel, dict[str, Any]]]:
    """Linked as a well-behaved peer would be (handshake, HELLO both ways); yields the channel
    and the node's HELLO. What it sends next is up to the test."""
    channel = await dial(target, identity, max_frame=max_frame)
    try:
        await channel.send_frame(frame(HELLO, GOOD_HELLO))
        kind, theirs = await receive(channel)
        assert kind == HELLO
        yield channel, theirs
    finally:
        await channel.aclose()


async def until_closed(channel: net.FramedChannel) -> list[bytes]:
    """Read until the node drops the link, close our end; return the frames that came before."""
    frames: list[bytes] = []
    while True:
        try:
            plaintext, _tag = await channel.receive_frame()
        except (net.LinkLost, trio.EndOfChannel):
            await channel.aclose()
            return frames
        frames.append(plaintext)


async def answer(channel: net.FramedChannel, ask_id: int) -> list[Any]:
    """The REPLY or FAIL envelope for ``ask_id`` (CREDIT and other frames are skipped)."""
    while True:
        kind, body = await receive(channel)
        if kind == DATA and body[0] in (REPLY, FAIL) and body[1] == ask_id:
            return list(body)


async def round_trip(channel: net.FramedChannel, ask_id: int = 10_000) -> None:
    """A good ask: once it is answered, the node has read every frame sent before it."""
    await channel.send_frame(ask("billing", ask_id, payload("Charge", {"order_id": 1, "cents": 2})))
    reply = await answer(channel, ask_id)
    assert reply[0] == REPLY


def refusals(events: list[Any]) -> list[Any]:
    return [event for event in events if event["event"] == "link_message_refused"]


# -- the link level: the first frame, HELLO, versions -------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(tell("recorder", payload("Item", {"n": 1})), id="a-valid-tell"),
        pytest.param(ask("recorder", 1, payload("Item", {"n": 1})), id="a-valid-ask"),
        pytest.param(frame(PING), id="ping"),
        pytest.param(frame(PONG), id="pong"),
        pytest.param(frame(CLOSE), id="close"),
        pytest.param(b"", id="empty"),
        pytest.param(bytes((99,)) + msgpack.packb(GOOD_HELLO), id="unknown-type"),
    ],
)
async def test_a_first_frame_that_is_not_hello_is_refused(first: bytes) -> None:
    """Before HELLO nothing counts, not even a well-formed message to an exported actor."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            channel = await dial(target)
            await channel.send_frame(first)
            frames = await until_closed(channel)
            assert [plaintext[0] for plaintext in frames] == [HELLO]  # theirs, then nothing
            await assert_unharmed(target)
    rejected = events.named("peer_rejected")
    assert [event["reason"] for event in rejected] == ["LinkClosed"]
    assert target.mallory.public.fingerprint == rejected[0]["fingerprint"]
    assert "mallory" not in [event["peer"] for event in events.named("peer_connected")]


def _hello(**changes: Any) -> bytes:
    body = {key: value for key, value in {**GOOD_HELLO, **changes}.items() if value is not None}
    return frame(HELLO, body)


@pytest.mark.parametrize(
    "hello",
    [
        pytest.param(bytes((HELLO,)), id="no-body"),
        pytest.param(bytes((HELLO, 0xC1)), id="not-msgpack"),
        pytest.param(bytes((HELLO,)) + msgpack.packb(GOOD_HELLO) + b"\x00", id="trailing-bytes"),
        pytest.param(frame(HELLO, [1, 1, [], 1024, "m", "inc"]), id="a-list"),
        pytest.param(frame(HELLO, "version"), id="a-string"),
        pytest.param(frame(HELLO, {}), id="empty-map"),
        pytest.param(_hello(version=None), id="no-version"),
        pytest.param(_hello(min_version=None), id="no-min-version"),
        pytest.param(_hello(incarnation=None), id="no-incarnation"),
        pytest.param(_hello(version="one"), id="version-a-word"),
        pytest.param(_hello(version=[1]), id="version-a-list"),
        pytest.param(_hello(version=float("inf")), id="version-infinite"),
        pytest.param(_hello(version=float("nan")), id="version-nan"),
        pytest.param(_hello(min_version=-float("inf")), id="min-version-infinite"),
        pytest.param(_hello(incarnation=""), id="incarnation-empty"),
        pytest.param(_hello(incarnation="x" * 65), id="incarnation-too-long"),
        pytest.param(_hello(incarnation=7), id="incarnation-an-int"),
        pytest.param(_hello(name="m" * 5000), id="oversize-string"),
        pytest.param(_hello(features=list(range(100))), id="oversize-list"),
        pytest.param(frame(HELLO, {str(i): i for i in range(100)}), id="oversize-map"),
        pytest.param(bytes((HELLO,)) + b"\xdf\xff\xff\xff\xff", id="map-claiming-4G-entries"),
        pytest.param(bytes((HELLO,)) + msgpack.packb(msgpack.Timestamp(0)), id="extension-type"),
    ],
)
async def test_a_malformed_hello_is_refused(hello: bytes) -> None:
    """A HELLO that is not a map with usable version, min_version and incarnation ends the
    link before it is registered; no exception escapes into the listener."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            channel = await dial(target)
            await channel.send_frame(hello)
            await until_closed(channel)
            await assert_unharmed(target)
    assert [event["reason"] for event in events.named("peer_rejected")] == ["LinkClosed"]


@pytest.mark.parametrize(
    ("version", "min_version"),
    [(2, 2), (99, 50), (0, 0), (-1, -5), (1, 2)],
)
async def test_a_hello_with_an_incompatible_version_is_refused(
    version: int, min_version: int
) -> None:
    """A peer that only speaks other versions of the protocol is refused; one that speaks a
    newer version but accepts version 1 is not (see the next test)."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            channel = await dial(target)
            await channel.send_frame(_hello(version=version, min_version=min_version))
            await until_closed(channel)
            await assert_unharmed(target)
    assert [event["reason"] for event in events.named("peer_rejected")] == ["LinkClosed"]


async def test_a_newer_peer_that_still_accepts_version_1_is_linked() -> None:
    """The version agreed is the lower of the two, as long as both accept it."""
    with trio.fail_after(LIMIT):
        async with target_node() as target:
            channel = await dial(target)
            await channel.send_frame(_hello(version=7, min_version=1, features=["x"]))
            kind, theirs = await receive(channel)
            assert (kind, theirs["version"], theirs["min_version"]) == (HELLO, 1, 1)
            await round_trip(channel)
            await channel.aclose()
            await assert_unharmed(target)


@pytest.mark.parametrize(
    "frames",
    [
        pytest.param([frame(HELLO, GOOD_HELLO)], id="a-second-hello"),
        pytest.param([bytes((0,))], id="type-0"),
        pytest.param([bytes((6,))], id="type-6"),
        pytest.param([bytes((255,)) + b"junk"], id="type-255"),
        pytest.param([b""], id="empty-frame"),
        pytest.param([frame(CLOSE)], id="close"),
    ],
)
async def test_unexpected_frames_after_hello_end_the_link(frames: list[bytes]) -> None:
    """After HELLO, a frame of no known type (or a second HELLO) ends the link."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frames(frames)
            await until_closed(channel)
            await assert_unharmed(target)


async def test_ping_is_answered_and_an_unasked_pong_is_ignored() -> None:
    """PING gets a PONG; a PONG nobody asked for changes nothing."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frames([frame(PONG), frame(PING)])
            assert await receive(channel) == (PONG, None)
            await round_trip(channel)
            await assert_unharmed(target)


async def test_a_tampered_frame_ends_the_link_and_is_logged() -> None:
    """Bytes that are not a frame of this session end the link (logged as link_error)."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.stream.send_all(b"\x00\x00\x00\x20" + bytes(32))
            await until_closed(channel)
            await assert_unharmed(target)
    (error,) = events.named("link_error")
    assert error["peer"] == "mallory"
    assert error["error"].startswith("FramingError")


# -- DATA envelopes -------------------------------------------------------------------------------

_ITEM = payload("Item", {"n": 1})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(bytes((DATA,)), id="no-body"),
        pytest.param(bytes((DATA, 0xC1)), id="not-msgpack"),
        pytest.param(
            bytes((DATA,)) + msgpack.packb([TELL, "recorder", _ITEM]) + b"\x90", id="trailing"
        ),
        pytest.param(bytes((DATA,)) + b"\xdd\xff\xff\xff\xff", id="array-claiming-4G-items"),
        # A frame must end where an envelope ends: a cut one is refused, and so is the whole
        # frame (the good envelope before it is not delivered).
        pytest.param(
            bytes((DATA,)) + msgpack.packb([TELL, "recorder", _ITEM])[:-2], id="cut-envelope"
        ),
        pytest.param(
            bytes((DATA,))
            + msgpack.packb([TELL, "recorder", _ITEM])
            + msgpack.packb([TELL, "recorder", _ITEM])[:5],
            id="good-envelope-then-a-cut-one",
        ),
        # Not a list.
        pytest.param(data({"kind": TELL, "target": "recorder", "payload": _ITEM}), id="a-map"),
        pytest.param(data(TELL), id="an-int"),
        pytest.param(data("recorder"), id="a-string"),
        pytest.param(data(_ITEM), id="bytes"),
        pytest.param(data(None), id="nil"),
        pytest.param(data([]), id="an-empty-list"),
        # Unknown kinds.
        pytest.param(data([8, "recorder", _ITEM]), id="kind-8"),
        pytest.param(data([-1, "recorder", _ITEM]), id="kind-minus-1"),
        pytest.param(data([2**40, "recorder", _ITEM]), id="kind-huge"),
        pytest.param(data(["0", "recorder", _ITEM]), id="kind-a-string"),
        pytest.param(data([0.0, "recorder", _ITEM]), id="kind-a-float"),
        pytest.param(data([None, "recorder", _ITEM]), id="kind-nil"),
        pytest.param(data([True, "recorder", 1, _ITEM]), id="kind-a-bool"),  # True == ASK
        # Wrong lengths: an extra field claiming a sender is one of them.
        pytest.param(data([TELL, "recorder"]), id="tell-short"),
        pytest.param(data([TELL, "recorder", _ITEM, "ed25519:sender"]), id="tell-with-a-sender"),
        pytest.param(data([ASK, "recorder", _ITEM]), id="ask-short"),
        pytest.param(data([ASK, "recorder", 1, _ITEM, "orders"]), id="ask-with-a-sender"),
        pytest.param(data([REPLY, 1]), id="reply-short"),
        pytest.param(data([FAIL, 1, "crashed"]), id="fail-short"),
        pytest.param(data([WATCH]), id="watch-short"),
        pytest.param(data([WATCH, "recorder", "x"]), id="watch-long"),
        pytest.param(data([UNWATCH]), id="unwatch-short"),
        pytest.param(data([TERMINATED, "x"]), id="terminated-short"),
        pytest.param(data([CREDIT, "recorder"]), id="credit-short"),
        pytest.param(data([TELL, "recorder", _ITEM, 1, 2, 3, 4, 5, 6]), id="nine-items"),
        # Wrong types.
        pytest.param(data([TELL, 1, _ITEM]), id="tell-target-an-int"),
        pytest.param(data([TELL, ["recorder"], _ITEM]), id="tell-target-a-list"),
        pytest.param(data([TELL, "recorder", "Item"]), id="tell-payload-a-string"),
        pytest.param(data([TELL, "recorder", ["Item", {"n": 1}]]), id="tell-payload-unpacked"),
        pytest.param(data([ASK, "recorder", "1", _ITEM]), id="ask-id-a-string"),
        pytest.param(data([ASK, "recorder", 1.5, _ITEM]), id="ask-id-a-float"),
        pytest.param(data([WATCH, 5]), id="watch-target-an-int"),
        pytest.param(data([UNWATCH, 5]), id="unwatch-target-an-int"),
        pytest.param(data([UNWATCH, ["recorder"]]), id="unwatch-target-a-list"),
        pytest.param(data([CREDIT, "recorder", 0]), id="credit-zero"),
        pytest.param(data([CREDIT, "recorder", -5]), id="credit-negative"),
        pytest.param(data([CREDIT, "recorder", WINDOW + 1]), id="credit-over-the-window"),
        pytest.param(data([CREDIT, "recorder", "64"]), id="credit-a-string"),
        pytest.param(data([CREDIT, 3, 64]), id="credit-target-an-int"),
        pytest.param(data([TELL, "r" * 2000, _ITEM]), id="oversize-target"),
    ],
)
async def test_a_malformed_envelope_ends_the_link(body: bytes) -> None:
    """An envelope that is not [kind, fields...] of a known kind, length and types ends the link;
    none is half-understood, and no exception escapes into the listener."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frame(body)
            await until_closed(channel)
            await assert_unharmed(target)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            data([REPLY, 12345, payload("Receipt", {"order_id": 1, "cents": 1})]),
            id="reply-to-nothing",
        ),
        pytest.param(data([REPLY, "1", b""]), id="reply-id-a-string"),
        pytest.param(data([REPLY, 1, "not bytes"]), id="reply-payload-a-string"),
        pytest.param(data([FAIL, 12345, "crashed", "ValueError\nboom"]), id="fail-of-nothing"),
        pytest.param(data([FAIL, [1], {"a": 1}, None]), id="fail-of-garbage"),
        pytest.param(data([TERMINATED, "billing", None]), id="terminated-unwatched"),
        pytest.param(data([TERMINATED, [1], [2]]), id="terminated-garbage"),
        pytest.param(data([CREDIT, "never-sent-to", 64]), id="credit-for-nothing"),
        pytest.param(data([UNWATCH, "recorder"]), id="unwatch-unwatched"),
    ],
)
async def test_answers_to_nothing_are_ignored(body: bytes) -> None:
    """Replies, failures, credit and notices about nothing this node asked for are dropped
    quietly; the link goes on."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frame(body)
            await round_trip(channel)
            link = target.rt.node.peers[target.mallory.public].link
            assert link._credit == {}  # no bookkeeping made for a target never sent to
            await assert_unharmed(target)


# -- messages: type names, fields, limits --------------------------------------------------------

_DOTTED_NAMES = [
    "os.system",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    "subprocess.Popen",
    "pickle.loads",
    "antigravity.fly",  # importing it would open a web browser
    "this.s",  # importing it would print the Zen of Python
    f"{__name__}.Item",  # the real, importable path of a registered class
    "actorkit.net._codec.Codec",
    "item",  # registered names are exact
    "Item ",
    "",
    "__class__",
    "int.__subclasses__",
]


@pytest.mark.parametrize("type_name", _DOTTED_NAMES)
async def test_unregistered_type_names_are_refused_without_importing(type_name: str) -> None:
    """A type name not registered is refused by name: nothing is imported or built."""
    modules = set(sys.modules)
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frames(
                [
                    tell("recorder", payload(type_name, {"n": 1})),
                    ask("recorder", 1, payload(type_name, ["echo hacked"])),
                ]
            )
            fail = await answer(channel, 1)
            assert fail[:3] == [FAIL, 1, "bad_message"]
            assert "is not registered here" in fail[3]
            await assert_unharmed(target)
    assert set() == {"antigravity", "this"} & (set(sys.modules) - modules)
    assert {"bad_message"} == {event["reason"] for event in refusals(events)}


_BIG = 4 * 1024 * 1024  # a max_frame large enough to carry the oversize messages below


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


_BAD_MESSAGES = [
    # Fields.
    pytest.param(payload("Item", {"n": 1, "m": 2}), id="extra-field"),
    pytest.param(payload("Item", {"n": 1, "__class__": "os.system"}), id="extra-dunder-field"),
    pytest.param(payload("Item", {}), id="missing-field"),
    pytest.param(payload("Charge", {"order_id": 1}), id="missing-one-of-two"),
    pytest.param(payload("Item", {"n": "7"}), id="str-for-int"),
    pytest.param(payload("Item", {"n": 7.0}), id="float-for-int"),
    pytest.param(payload("Item", {"n": True}), id="bool-for-int"),
    pytest.param(payload("Item", {"n": None}), id="nil-for-int"),
    pytest.param(payload("Item", {"n": [7]}), id="list-for-int"),
    pytest.param(payload("Text", {"body": b"bytes"}), id="bytes-for-str"),
    pytest.param(payload("Item", [1]), id="fields-a-list"),
    pytest.param(payload("Item", 1), id="fields-an-int"),
    pytest.param(payload("int", "7"), id="builtin-int-carrying-a-str"),
    pytest.param(payload("bool", 1), id="builtin-bool-carrying-an-int"),
    pytest.param(payload("none", 0), id="builtin-none-carrying-an-int"),
    pytest.param(msgpack.packb(["Item"]), id="no-fields"),
    pytest.param(msgpack.packb(["Item", {"n": 1}, "extra"]), id="three-parts"),
    pytest.param(msgpack.packb({"Item": {"n": 1}}), id="a-map"),
    pytest.param(msgpack.packb([7, {"n": 1}]), id="type-name-an-int"),
    pytest.param(b"\xc1", id="not-msgpack"),
    pytest.param(payload("Item", {"n": 1}) + b"\x00", id="trailing-bytes"),
    pytest.param(msgpack.packb(["Item", {1: 1}]), id="non-str-map-key"),
    pytest.param(msgpack.packb(msgpack.Timestamp(1)), id="extension-type"),
    pytest.param(payload("Item", {"n": 2**64 - 1})[:-3], id="truncated"),
    # Nesting and sizes.
    pytest.param(payload("Blob", {"items": _nested(40)}), id="nesting-40"),
    pytest.param(msgpack.packb(["Blob", {"items": _nested(500)}]), id="nesting-500"),
    pytest.param(b"\x92\xa4Blob\x81\xa5items" + b"\x91" * 5000 + b"\x00", id="nesting-5000"),
    pytest.param(payload("Blob", {"items": list(range(70_000))}), id="huge-list"),
    pytest.param(payload("Blob", {"items": [{str(i): i for i in range(70_000)}]}), id="huge-map"),
    pytest.param(b"\x92\xa4Blob\x81\xa5items\xdd\xff\xff\xff\xff", id="list-claiming-4G-items"),
    pytest.param(b"\x92\xa4Text\x81\xa4body\xdb\xff\xff\xff\xff", id="str-claiming-4G-bytes"),
    pytest.param(payload("Text", {"body": "x" * (2 * 1024 * 1024)}), id="oversize-string"),
    pytest.param(payload("bytes", b"x" * (2 * 1024 * 1024)), id="oversize-bytes"),
    # Refs that are not refs.
    pytest.param(payload("Notify", {"reply_to": "recorder", "text": "t"}), id="ref-a-string"),
    pytest.param(payload("Notify", {"reply_to": [1, 2], "text": "t"}), id="ref-too-short"),
    pytest.param(
        payload("Notify", {"reply_to": ["x", 5, "inc"], "text": "t"}), id="ref-target-an-int"
    ),
    pytest.param(
        payload("Notify", {"reply_to": ["x", "r" * 300, "inc"], "text": "t"}), id="ref-long"
    ),
]


@pytest.mark.parametrize("message", _BAD_MESSAGES)
async def test_bad_messages_are_refused_without_delivery(message: bytes) -> None:
    """Extra, missing or mistyped fields, deep nesting, huge containers and oversize strings
    are refused (the ask fails with bad_message); the link goes on."""
    with trio.fail_after(LIMIT):
        async with (
            target_node(max_frame=_BIG) as target,
            hostile(target, max_frame=_BIG) as (channel, _),
        ):
            await channel.send_frames(
                [tell("recorder", message), tell("billing", message), ask("recorder", 1, message)]
            )
            fail = await answer(channel, 1)
            assert fail[:3] == [FAIL, 1, "bad_message"]
            await round_trip(channel)
            assert target.followed == []
            await assert_unharmed(target)


async def test_refusals_are_rate_limited_per_link() -> None:
    """A peer sending refused messages cannot flood the log: link_message_refused comes at
    most once a second per target and reason, and for at most a few targets a second."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target, hostile(target) as (channel, _):
            start = trio.current_time()
            bad = payload("os.system", ["rm -rf /"])
            await channel.send_frames([tell("recorder", bad) for _ in range(300)])
            await channel.send_frames([tell(f"nobody-{i}", bad) for i in range(300)])
            await round_trip(channel)
            seconds = trio.current_time() - start
            await assert_unharmed(target)
    refused = refusals(events)
    windows = 1 + int(seconds) + 1
    same_target = [event for event in refused if event["target"] == "recorder"]
    assert 1 <= len(same_target) <= windows
    assert 2 <= len(refused) <= 8 * windows
    for event in refused:
        assert event["peer"] == "mallory"
        assert len(event["detail"]) <= 200


async def test_unknown_targets_leave_no_bookkeeping_behind() -> None:
    """Naming a new target in every message grows nothing on the node but credit counters,
    which are bounded by the window."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frames([tell(f"nobody-{i}", _ITEM) for i in range(3000)])
            await channel.send_frames([data([CREDIT, f"nobody-{i}", 1]) for i in range(3000)])
            await round_trip(channel)
            link = target.rt.node.peers[target.mallory.public].link
            assert link._credit == {}
            assert len(link._refusals_logged) <= 8
            assert len(link._granted) <= 1024
            await assert_unharmed(target)


# -- access: exports, capabilities, refs ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["private", "carols", "nobody", "#1", "#2", "#3", "#4", "#5", "#6", "#999", "#", "", "*"],
)
async def test_a_target_not_exported_to_the_peer_is_not_found(name: str) -> None:
    """Actors not exported, exported to another peer only, or capabilities never granted are
    out of reach; the payload is not even decoded (an unregistered name says not_found)."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target, hostile(target) as (channel, _):
            await channel.send_frames(
                [
                    tell(name, _ITEM),
                    ask(name, 1, payload("Records", {})),
                    ask(name, 2, payload("os.system", ["id"])),
                    data([WATCH, name]),
                ]
            )
            assert (await answer(channel, 1))[:3] == [FAIL, 1, "not_found"]
            assert (await answer(channel, 2))[:3] == [FAIL, 2, "not_found"]
            # The watch of what cannot be reached reports it terminated at once.
            while (envelope := await receive(channel))[0] != DATA or envelope[1][0] != TERMINATED:
                pass
            assert [TERMINATED, name, None] == envelope[1]
            await assert_unharmed(target)
    assert {"not_found"} == {event["reason"] for event in refusals(events)}


async def test_exports_to_one_peer_reach_that_peer_only() -> None:
    """carol reaches "carols"; mallory, and orders, do not."""
    with trio.fail_after(LIMIT):
        async with target_node() as target:
            async with good_peer(target, target.carol) as (_rt, peer):
                assert await peer.lookup("carols").ask(Records(), timeout=5.0) == 0
            async with good_peer(target) as (_rt, peer):
                with pytest.raises(ak.ActorNotFound):
                    await peer.lookup("carols").ask(Records(), timeout=5.0)
            async with hostile(target) as (channel, _):
                await channel.send_frame(ask("carols", 1, payload("Records", {})))
                assert (await answer(channel, 1))[:3] == [FAIL, 1, "not_found"]
            await assert_unharmed(target)


async def test_a_capability_granted_to_one_peer_is_not_granted_to_another() -> None:
    """A ref billing sends to orders lets orders reach that actor, and no one else."""
    with trio.fail_after(LIMIT):
        async with target_node() as target:
            private_id = target.rt.lookup("private")._cell.id
            async with good_peer(target) as (_rt, peer):
                handle = await peer.lookup("billing").ask(Reveal(), timeout=5.0)
                assert isinstance(handle.ref, net.RemoteRef)
                assert await handle.ref.ask(Records(), timeout=5.0) == 0  # orders may
                async with hostile(target) as (channel, _):
                    for ask_id, name in enumerate(["private", f"#{private_id}"], start=1):
                        await channel.send_frame(ask(name, ask_id, payload("Records", {})))
                        assert [FAIL, ask_id, "not_found"] == (await answer(channel, ask_id))[:3]
            await assert_unharmed(target)


def _notify(node: str, target: str, incarnation: Any) -> bytes:
    return payload("Notify", {"reply_to": [node, target, incarnation], "text": "hi"})


async def test_refs_inside_messages_grant_nothing() -> None:
    """There is no sender field to forge; what a peer can forge is a ref inside a message.
    A ref naming a third node, or this node with a wrong incarnation, or an actor here that
    the peer may not reach itself, is a dead ref: following it delivers nothing."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, theirs):
            here, incarnation = str(target.key.public), theirs["incarnation"]
            private_id = target.rt.lookup("private")._cell.id
            third = str(net.Identity.generate().public)
            refs = [
                (third, "recorder", incarnation),
                (third, "private", None),
                (str(target.orders.public), "recorder", None),  # a peer not linked now
                (here, "private", "0" * 16),
                (here, "recorder", "0" * 16),
                (here, "private", incarnation),  # the right incarnation is no key
                (here, "carols", incarnation),
                (here, f"#{private_id}", incarnation),
                ("ed25519:not-a-key", "recorder", incarnation),
                (12, "recorder", incarnation),
            ]
            for ask_id, (node, name, inc) in enumerate(refs, start=1):
                await channel.send_frame(ask("billing", ask_id, _notify(node, name, inc)))
                assert [REPLY, ask_id] == (await answer(channel, ask_id))[:2]
            assert len(refs) == len(target.followed)
            assert not any(ref.alive for ref in target.followed)  # type: ignore[attr-defined]
            await assert_unharmed(target)


async def test_a_ref_to_an_exported_actor_is_followed() -> None:
    """The control for the test above: a ref the peer may use itself does work."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, theirs):
            here = str(target.key.public)
            await channel.send_frame(
                ask("billing", 1, _notify(here, "recorder", theirs["incarnation"]))
            )
            assert (await answer(channel, 1))[:2] == [REPLY, 1]
            await target.rt.lookup("recorder").ask(Records(), timeout=5.0)
            assert [("recorder", Note("seen hi"))] == target.delivered


# -- floods and flow control ---------------------------------------------------------------------


async def wait_until(predicate: Any) -> None:
    """Yield to other tasks until ``predicate()`` holds (the caller bounds the time)."""
    while not predicate():
        await trio.lowlevel.checkpoint()


async def test_a_flood_is_bounded_by_credit_and_other_actors_are_still_served() -> None:
    """A peer flooding a slow actor with a small mailbox blocks on credit: the node keeps at
    most a window of its messages parked, and the same link keeps serving other actors."""
    count = 3 * WINDOW
    with trio.fail_after(LIMIT):
        async with target_node() as target, good_peer(target) as (_rt, peer):
            slow = peer.lookup("slow")
            sent = 0

            async def flood() -> None:
                nonlocal sent
                for n in range(count):
                    await slow.send(Item(n))
                    sent += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(flood)
                outgoing = peer.link
                await wait_until(lambda: outgoing._credit.get("slow") == 0 and sent == WINDOW)
                incoming = target.rt.node.peers[target.orders.public].link
                cell = target.rt.lookup("slow")._cell
                mailbox = cell.mailbox

                def held() -> int:  # parked, queued, and the one the drain task holds
                    return (
                        len(incoming._parked.get(cell, ())) + len(mailbox) + len(mailbox._putters)
                    )

                await wait_until(lambda: held() == WINDOW - 1)  # and one is being handled
                # The sender is blocked: nothing more goes out until the actor makes room.
                assert sent == WINDOW
                assert len(incoming._parked[cell]) <= WINDOW
                assert len(cell.mailbox) <= 4
                # The reader is not blocked: another actor on the same link answers.
                for order_id in range(20):
                    receipt = await peer.lookup("billing").ask(Charge(order_id, 1), timeout=5.0)
                    assert Receipt(order_id, 1) == receipt
                assert sent == WINDOW
                target.gate.set()
            assert count == sent
            assert count == await slow.ask(Item(count), timeout=5.0)
            assert list(range(count + 1)) == target.slow_box  # all of them, in order
            assert incoming._parked == {}


async def test_a_peer_that_ignores_credit_is_cut_off() -> None:
    """A peer sending past its window is not buffered without bound: the link is dropped,
    what it had parked becomes dead letters, and the node serves others."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            async with hostile(target) as (channel, _):
                await channel.send_frames(
                    [tell("slow", payload("Item", {"n": n})) for n in range(WINDOW + 50)]
                )
                await until_closed(channel)
            target.gate.set()
            await target.rt.lookup("slow").ask(Item(-1), timeout=5.0)
            assert len(target.slow_box) <= 1 + 4 + 1  # handled, queued, then our ask
            await assert_unharmed(target)
    (gone,) = [e for e in events.named("peer_disconnected") if e["peer"] == "mallory"]
    assert "overran its credit window" in gone["reason"]


async def test_a_flood_to_a_fail_fast_mailbox_fails_like_a_local_send() -> None:
    """An Overflow.FAIL mailbox that is full refuses a remote message (MailboxFull for an
    ask, a dead letter for a send) instead of bringing the link or the node down."""
    with trio.fail_after(LIMIT):
        async with target_node() as target:
            gate = trio.Event()
            box: list[int] = []
            mailbox = ak.Mailbox(capacity=1, overflow=ak.Overflow.FAIL)
            await target.rt.spawn(Slow, gate, box, name="picky", mailbox=mailbox)
            target.rt.export("picky")
            async with good_peer(target) as (_rt, peer):
                picky = peer.lookup("picky")
                outcomes: list[object] = []

                async def one(n: int) -> None:
                    try:
                        outcomes.append(await picky.ask(Item(n), timeout=10.0))
                    except ak.MailboxFull as exc:
                        outcomes.append(exc)

                async with trio.open_nursery() as nursery:
                    for n in range(10):
                        nursery.start_soon(one, n)
                    # One ask is being handled (held at the gate) and one is queued, or only
                    # one is queued if the actor had not taken the first when the rest came.
                    await wait_until(lambda: len(outcomes) >= 8)
                    gate.set()
                refused = [outcome for outcome in outcomes if isinstance(outcome, ak.MailboxFull)]
                assert len(refused) in (8, 9)
                assert 10 - len(refused) == sum(isinstance(outcome, int) for outcome in outcomes)
                assert Receipt(1, 1) == await peer.lookup("billing").ask(Charge(1, 1))
            await assert_unharmed(target)


async def _stuff_the_pipe(target: Target, channel: net.FramedChannel) -> Any:
    """Have billing send mallory (who reads nothing more) more than the sockets hold: the
    link's writer blocks. Returns that link."""
    await round_trip(channel)  # the link is up on billing's side too
    link = target.rt.node.peers[target.mallory.public].link
    sink = target.rt.node.peers[target.mallory.public].lookup("sink")
    for _ in range(_STUFFING):
        await sink.send(Text("x" * 900_000))
    await wait_until(lambda: link.channel._sending)
    return link


_STUFFING = 30  # 27 MB: more than loopback socket buffers hold


async def _read_to_the_end(channel: net.FramedChannel) -> list[tuple[bytes, net.FrameTag]]:
    """Every frame until the peer's clean end (FINAL, then end of stream)."""
    frames: list[tuple[bytes, net.FrameTag]] = []
    while True:
        try:
            frames.append(await channel.receive_frame())
        except trio.EndOfChannel:
            return frames


async def test_closing_a_link_whose_writer_is_blocked_waits_for_it() -> None:
    """A link closed while its writer is stuck sending (the peer reads slowly) sends what was
    queued, then CLOSE with FINAL, instead of failing with two senders at once."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            link = await _stuff_the_pipe(target, channel)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(link.close)
                await wait_until(lambda: link._send_lock.statistics().tasks_waiting == 1)
                frames = await _read_to_the_end(channel)
            kinds = [plaintext[0] for plaintext, _tag in frames]
            assert kinds.count(DATA) == _STUFFING
            assert (bytes((CLOSE,)), net.FrameTag.FINAL) == frames[-1]
            await assert_unharmed(target)


async def test_a_peer_that_stops_reading_cannot_hold_a_close_up(
    patient_autojump_clock: trio.testing.MockClock,
) -> None:
    """Closing a link to a peer that reads nothing gives up on the clean close after 2 s and
    drops the connection (on virtual time)."""
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            link = await _stuff_the_pipe(target, channel)
            start = trio.current_time()
            await link.close()
            assert 2.0 <= trio.current_time() - start < 3.0
            assert link.closed
            await assert_unharmed(target)


async def test_a_peer_that_never_reads_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once more than MAX_QUEUED envelopes wait behind a writer the peer never unblocks, the
    link is ended at once (not when the stuck write returns, which is never), with a warning;
    what was waiting is a dead letter, and the listener goes on serving good peers."""
    monkeypatch.setattr("actorkit.net._link.MAX_QUEUED", 100)
    with trio.fail_after(LIMIT):
        async with target_node() as target, hostile(target) as (channel, _):
            link = await _stuff_the_pipe(target, channel)
            sink = target.rt.node.peers[target.mallory.public].lookup("sink")
            with capture_events() as events:
                waiting, sent = len(link._out_data), 0
                while not link.closed:
                    await sink.send(Item(sent))
                    sent += 1
                assert 100 + 1 == waiting + sent  # cut off at the first envelope too many
                await wait_until(lambda: not target.rt.node.peers[target.mallory.public].link)
            errors = [event for event in events if event["event"] == "link_error"]
            assert len(errors) == 1
            assert "does not read" in errors[0]["error"]
            assert errors[0]["peer"] == "mallory"
            with pytest.raises(net.NodeDown):
                await sink.ask(Item(0))
            await assert_unharmed(target)


# -- key bytes never appear in logs ---------------------------------------------------------------


def _spellings(secret: bytes) -> Iterator[str]:
    yield secret.hex()
    yield secret.hex().upper()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(secret).decode("ascii")
        yield text
        yield text.rstrip("=")
    yield repr(secret)[2:-1]


async def test_key_bytes_never_appear_in_logs() -> None:
    """Through handshakes, rejections, refused messages and link errors, no event carries a
    seed, the cluster secret, the network key or a session key, in any usual spelling."""
    secrets: list[bytes] = []
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            secrets += [target.cluster._secret, target.cluster.network_key]
            stranger = net.Identity.generate()
            secrets += [key._seed() for key in (target.key, target.orders, target.mallory)]
            secrets += [stranger._seed()]
            # A good peer, with a remote crash (an unhandled message) and a refused one.
            async with good_peer(target) as (_rt, peer):
                with pytest.raises(ak.UnhandledMessage):
                    await peer.lookup("billing").ask(Item(1), timeout=5.0)
                with pytest.raises(ak.ActorNotFound):
                    await peer.lookup("private").ask(Item(1), timeout=5.0)
            # A stranger, and a node with another cluster key.
            with pytest.raises(net.HandshakeError):
                await dial(target, stranger)
            address = net.parse_dial_address(target.address)
            other_cluster = net.ClusterKey.generate()
            secrets += [other_cluster._secret]
            stream = await trio.open_tcp_stream(address.host, address.port)
            with pytest.raises(net.HandshakeError):
                await net.client_handshake(
                    stream, target.orders, address.node_id, other_cluster.network_key
                )
            # A malformed HELLO, refused messages, a tampered frame.
            channel = await dial(target)
            await channel.send_frame(_hello(version="one"))
            await until_closed(channel)
            async with hostile(target) as (channel, _):
                await channel.send_frames(
                    [ask("billing", 1, payload("os.system", ["id"])), ask("nobody", 2, _ITEM)]
                )
                await answer(channel, 2)
                await channel.stream.send_all(bytes(64))
                await until_closed(channel)
            # Revoking a key closes its link.
            async with good_peer(target) as (_rt, peer):
                target.rt.node.reload_known_peers(
                    target.known_peers(f"@revoked {target.orders.public}\n")
                )
                with pytest.raises(net.HandshakeError):
                    await dial(target, target.orders)
    names = set(events.names())
    assert {"peer_rejected", "link_message_refused", "link_error", "handshake_failed"} <= names
    assert {"peer_connected", "peer_disconnected", "handshake_completed"} <= names
    for event in events:
        text = " ".join(f"{key}={value!s} {value!r}" for key, value in event.items())
        for secret in secrets:
            for spelling in _spellings(secret):
                assert spelling not in text, event["event"]


# -- revoking a key -------------------------------------------------------------------------------


async def test_revoking_a_key_closes_its_link_and_refuses_new_ones() -> None:
    """reload_known_peers with the key @revoked: the live link closes at once, redials and new
    dials from that key are refused, and this node will not dial it either."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            reasons: list[str] = []
            gone = trio.Event()
            async with good_peer(target, listen="127.0.0.1:0") as (orders, peer):
                await orders.spawn(Disconnects, reasons, gone)
                billing = peer.lookup("billing")
                assert Receipt(1, 1) == await billing.ask(Charge(1, 1), timeout=5.0)
                target.rt.node.reload_known_peers(
                    target.known_peers(f"@revoked {target.orders.public}\n")
                )
                await gone.wait()
                assert reasons == ["LinkClosed: closed by the peer"]
                with pytest.raises(net.NodeDown):
                    await billing.ask(Charge(2, 2), timeout=5.0)
                with pytest.raises(net.HandshakeError):
                    await orders.connect(target.address)
                assert not peer.is_connected
                # Nor does the node dial the revoked key itself.
                with pytest.raises(net.HandshakeError, match="revoked"):
                    await target.rt.connect(orders.node.dial_address)
            # Others are still served: mallory (a hostile peer, but allowlisted) and carol.
            async with hostile(target) as (channel, _):
                await round_trip(channel)
            async with good_peer(target, target.carol) as (_rt, peer):
                assert Receipt(7, 99) == await peer.lookup("billing").ask(Charge(7, 99))
            await assert_nothing_delivered(target)
    refused = [
        event
        for event in events.named("peer_rejected")
        if event["fingerprint"] == target.orders.public.fingerprint
    ]
    assert refused
    assert "not allowed" in refused[0]["reason"]


async def test_a_key_revoked_during_its_handshake_gets_no_link() -> None:
    """A peer whose key is revoked between its handshake and its HELLO is not linked: the
    reload cannot miss a link still being set up."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node() as target:
            channel = await dial(target)  # the handshake is through; HELLO not sent yet
            target.rt.node.reload_known_peers(
                target.known_peers(f"@revoked {target.mallory.public}\n")
            )
            await channel.send_frames(
                [frame(HELLO, GOOD_HELLO), ask("recorder", 1, payload("Item", {"n": 1}))]
            )
            frames = await until_closed(channel)
            assert [plaintext[0] for plaintext in frames] == [HELLO]  # theirs, and no answer
            assert not target.rt.node.peers[target.mallory.public].is_connected
            await assert_unharmed(target)
    (refused,) = events.named("peer_rejected")
    assert refused["fingerprint"] == target.mallory.public.fingerprint
    assert "no longer allowed" in refused["reason"]


# -- liveness: PING and PONG ---------------------------------------------------------------------


@pytest.fixture
def patient_autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps ahead once every task has been blocked for 20 ms of real time:
    loopback bytes in flight always arrive before a jump."""
    return trio.testing.MockClock(autojump_threshold=0.02)


async def test_a_peer_that_goes_silent_is_dropped(
    patient_autojump_clock: trio.testing.MockClock,
) -> None:
    """After HELLO the attacker answers nothing: PINGs come after ping_after of silence, and
    the link is dropped once drop_after has passed without a frame (on virtual time)."""
    with trio.fail_after(LIMIT), capture_events() as events:
        async with target_node(ping_after=1.0, drop_after=3.0) as target:
            async with hostile(target) as (channel, _):
                start = trio.current_time()
                frames = await until_closed(channel)
                silent = trio.current_time() - start
            assert frames
            assert {PING} == {plaintext[0] for plaintext in frames}
            assert 3.0 <= silent <= 5.0
            await assert_unharmed(target)
    (gone,) = [e for e in events.named("peer_disconnected") if e["peer"] == "mallory"]
    assert "no frame from mallory" in gone["reason"]


async def test_a_quiet_peer_that_answers_pings_stays_linked(
    patient_autojump_clock: trio.testing.MockClock,
) -> None:
    """A real node that sends nothing for many drop_after periods stays linked: its PONGs
    (and its own PINGs) are enough."""
    with trio.fail_after(LIMIT):
        async with (
            target_node(ping_after=1.0, drop_after=3.0) as target,
            good_peer(target, ping_after=1.0, drop_after=3.0) as (_rt, peer),
        ):
            link = peer.link
            await trio.sleep(10.0)  # virtual time
            assert link is peer.link
            assert peer.is_connected
            assert Receipt(1, 1) == await peer.lookup("billing").ask(Charge(1, 1))
