"""A runtime as a node: its identity, its listener, its links to peers, what it exports.

``ak.open_runtime(node=NodeConfig(...))`` starts one. Links are mutually authenticated
(Secret Handshake) and encrypted; only peers in ``known_peers`` get in, and they reach only
the actors exported to them (and actors whose refs were sent to them: capabilities).
"""

from __future__ import annotations

import collections
import functools
import os
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._backoff import Backoff
from .._messages import Terminated
from .._ref import ActorRef
from ._codec import Codec
from ._errors import HandshakeError, LinkError
from ._framing import DEFAULT_MAX_FRAME, FramedChannel
from ._handshake import HANDSHAKE_TIMEOUT, client_handshake, server_handshake
from ._identity import (
    ClusterKey,
    Identity,
    KnownPeers,
    NodeId,
    load_cluster_key,
    load_identity,
    parse_dial_address,
)
from ._link import SUPERSEDED, Link, LinkClosed, LinkSuperseded, new_incarnation
from ._remote import NodeDown, PeerConnected, PeerDisconnected, PeerState, RemotePeer, RemoteRef

if TYPE_CHECKING:
    from .._cell import Cell
    from .._runtime import Runtime

__all__ = ["Node", "NodeConfig"]

_REJECTION_LOG_EVERY = 10.0  # seconds between two peer_rejected events for one source


def _listen_address(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen= takes HOST:PORT (port 0 for any free one), not {text!r}")
    return host.strip("[]"), int(port)


@attrs.frozen(kw_only=True)
class NodeConfig:
    """How a runtime joins the cluster: pass it as ``ak.open_runtime(node=...)``.

    Args:
        identity: this node's key (a path made by ``actorkit keygen``, or an ``Identity``).
        cluster_key: the shared cluster secret (a path made by ``actorkit cluster-key``, or a
            ``ClusterKey``); strangers without it get no answer at all.
        known_peers: the allowlist (a path, or a ``KnownPeers``); ``None`` admits no one.
        listen: ``HOST:PORT`` to accept links on (port 0: any free port); ``None``: dial only.
        name: how this node names itself in HELLO (peers name it by their known_peers).
        handshake_timeout: seconds a handshake (and HELLO) may take.
        max_frame: the largest message, encoded, in bytes (at most 16 MiB).
        ping_after: PING a silent peer after this many seconds.
        drop_after: drop a peer silent for this many seconds.
        max_handshakes: the cap on handshakes under way at once, in all; more are closed.
        max_handshakes_per_address: the same cap, per remote address.
        reconnect: backoff between attempts to re-dial a lost peer.
    """

    identity: str | os.PathLike[str] | Identity
    cluster_key: str | os.PathLike[str] | ClusterKey
    known_peers: str | os.PathLike[str] | KnownPeers | None = None
    listen: str | None = None
    name: str = "node"
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    max_frame: int = DEFAULT_MAX_FRAME
    ping_after: float = 15.0
    drop_after: float = 45.0
    max_handshakes: int = 64
    max_handshakes_per_address: int = 4
    reconnect: Backoff = attrs.field(factory=lambda: Backoff(initial=0.1, maximum=5.0))

    async def start(self, runtime: Runtime, nursery: trio.Nursery) -> Node:
        """Start the node for ``runtime`` (``open_runtime`` calls this)."""
        node = Node(self, runtime, nursery)
        await node.start()
        return node


class Node:
    """A runtime's presence on the network. Reach it as ``rt.node``."""

    def __init__(self, config: NodeConfig, runtime: Runtime, nursery: trio.Nursery) -> None:
        self.config = config
        self.runtime = runtime
        self.name = config.name
        identity = config.identity
        self.identity = identity if isinstance(identity, Identity) else load_identity(identity)
        cluster = config.cluster_key
        cluster = cluster if isinstance(cluster, ClusterKey) else load_cluster_key(cluster)
        self._network_key = cluster.network_key
        self.node_id: NodeId = self.identity.public
        self.incarnation = new_incarnation()
        self.known_peers = self._load_known_peers(config.known_peers)
        self.codec = Codec()
        self.peers: dict[NodeId, RemotePeer] = {}
        self.exports: dict[str, frozenset[str] | None] = {}
        self.address: tuple[str, int] | None = None
        self._nursery = nursery
        self._handshakes = 0
        self._handshakes_by_address: collections.Counter[str] = collections.Counter()
        self._last_rejection: dict[str, float] = {}
        self._closing = False

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.node_id.fingerprint}>"

    @property
    def dial_address(self) -> str:
        """How peers dial this node: ``tcp://HOST:PORT#ed25519:KEY``."""
        if self.address is None:
            raise RuntimeError("this node does not listen (NodeConfig(listen=...))")
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"tcp://{shown}:{port}#{self.node_id}"

    @staticmethod
    def _load_known_peers(value: Any) -> KnownPeers:
        if value is None:
            return KnownPeers()
        return value if isinstance(value, KnownPeers) else KnownPeers.load(value)

    # -- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        where = _listen_address(self.config.listen)
        if where is not None:
            host, port = where
            listeners = await trio.open_tcp_listeners(port, host=host or None)
            sockname = listeners[0].socket.getsockname()
            self.address = (sockname[0], sockname[1])
            self._nursery.start_soon(trio.serve_listeners, self._accept, listeners)
        self.runtime._event(
            "info",
            "node_started",
            node=self.name,
            fingerprint=self.node_id.fingerprint,
            listen=None if self.address is None else f"{self.address[0]}:{self.address[1]}",
        )

    async def aclose(self) -> None:
        """Close every link cleanly (the runtime does this after its actors have stopped)."""
        self._closing = True
        for peer in list(self.peers.values()):
            if peer.link is not None:
                await peer.link.close()

    # -- exports and access ---------------------------------------------------------------------

    def export(self, name: str, *, peers: Any = None) -> None:
        if not isinstance(name, str) or not name or name.startswith("#"):
            raise ValueError(f"export takes an actor's registered name, not {name!r}")
        self.exports[name] = None if peers is None else frozenset(peers)

    def find_target(self, link: Link, target: str, *, check_access: bool) -> Cell | None:
        """The live local actor ``target`` names, if ``link``'s peer may reach it."""
        if target.startswith("#"):
            cell = link._capabilities.get(target)
            return cell if cell is not None and cell.alive else None
        cell = self.runtime._names.get(target)
        if cell is None or not cell.alive:
            return None
        if check_access and not self._may_reach(link, target):
            return None
        return cell

    def _may_reach(self, link: Link, target: str) -> bool:
        if target in link._capabilities:
            return True
        if target in self.exports:
            allowed = self.exports[target]
            if allowed is None or link.peer.name in allowed:
                return True
        entry = self.known_peers.get(link.peer.node_id)
        return entry is not None and target in entry.expose

    def dead_ref(self, target: str) -> ActorRef:
        """A ref that reaches nothing (a stopped actor's, or one from a past incarnation)."""
        return _DeadRef(target)

    def ref_on_other_node(self, node_text: str, target: str, incarnation: Any) -> ActorRef:
        """A ref, received from one peer, to an actor on another node."""
        try:
            node_id = NodeId.parse(node_text)
        except ValueError:
            return _DeadRef(target)
        peer = self.peers.get(node_id)
        if peer is None:
            return _DeadRef(target)
        return RemoteRef(peer, target, incarnation if target.startswith("#") else None)

    # -- watching remote actors -----------------------------------------------------------------

    def watch_remote(self, ref: RemoteRef, watcher: Cell) -> None:
        peer = ref._peer
        watchers = peer.watchers.setdefault(ref._target, {})
        first = not watchers
        watchers[watcher] = ref
        if not peer.is_connected:
            self._deliver_terminated(peer, ref._target, NodeDown(peer.name))
        elif first and peer.link is not None:
            peer.link.watch(ref._target)

    def unwatch_remote(self, ref: RemoteRef, watcher: Cell) -> None:
        watchers = ref._peer.watchers.get(ref._target)
        if watchers is not None:
            watchers.pop(watcher, None)
            if not watchers:
                del ref._peer.watchers[ref._target]
                if ref._peer.link is not None:
                    ref._peer.link.unwatch(ref._target)

    def remote_terminated(self, peer: RemotePeer, target: Any, reason: Any) -> None:
        if not isinstance(target, str):
            return
        from .._errors import ActorCrashed  # noqa: PLC0415 (kept next to its one use)

        error = None
        if isinstance(reason, str):
            exc_type, _, text = reason.partition(": ")
            error = ActorCrashed(f"{peer.name}/{target}", exc_type, text)
        self._deliver_terminated(peer, target, error)

    def _deliver_terminated(
        self, peer: RemotePeer, target: str, reason: BaseException | None
    ) -> None:
        for watcher, ref in peer.watchers.pop(target, {}).items():
            watcher.mailbox.put_system(Terminated(ref, reason))

    # -- links ----------------------------------------------------------------------------------

    async def connect(self, address: str) -> RemotePeer:
        """Dial ``address`` (``tcp://HOST:PORT#ed25519:KEY``, or the name of a known_peers
        entry with ``addr=``) and return the peer once linked; it is re-dialled if lost."""
        if "://" not in address:
            address = self._known_address(address)
        dial = parse_dial_address(address)
        peer = self.peers.get(dial.node_id)
        if peer is None:
            peer = self._new_peer(dial.node_id, f"{dial.host}:{dial.port}")
        peer.dial_address = address  # from now on, this node re-dials the peer when it is lost
        if not peer.is_connected:  # (linked already, perhaps by the peer's own dial)
            await self._dial(peer)
        return peer

    def _known_address(self, name: str) -> str:
        entry = self.known_peers.by_name(name)
        if entry is None:
            raise ValueError(
                f"{name!r} is neither a dial address (tcp://HOST:PORT#ed25519:KEY) nor a name "
                "in known_peers"
            )
        if entry.addr is None:
            raise ValueError(
                f"known_peers has no address for {name!r}: add addr=HOST:PORT to its line, or "
                "connect with its full dial address"
            )
        host, port = entry.addr
        shown = f"[{host}]" if ":" in host else host
        return f"tcp://{shown}:{port}#{entry.node_id}"

    def _new_peer(self, node_id: NodeId, address: str) -> RemotePeer:
        entry = self.known_peers.get(node_id)
        name = entry.name if entry is not None else node_id.fingerprint
        peer = self.peers[node_id] = RemotePeer(self, node_id, name, address)
        return peer

    async def _dial(self, peer: RemotePeer) -> None:
        assert peer.dial_address is not None
        dial = parse_dial_address(peer.dial_address)
        if self.known_peers.is_revoked(dial.node_id):
            raise HandshakeError("the key is revoked in known_peers", dial.node_id)
        peer._dialling = True
        try:
            stream = await trio.open_tcp_stream(dial.host, dial.port)
            try:
                with trio.fail_after(self.config.handshake_timeout):
                    keys = await client_handshake(
                        stream, self.identity, dial.node_id, self._network_key
                    )
                    link = Link(self, self._channel(stream, keys), peer, initiator=True)
                    await link.hello()
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
        except LinkSuperseded:
            # The peer is dialling this node too, and its dial wins: wait for that link.
            with trio.move_on_after(self.config.handshake_timeout):
                await peer.wait_connected()
            if not peer.is_connected:
                raise LinkClosed("the peer's own dial won, but its link did not come") from None
            return
        else:
            started = trio.Event()
            self._nursery.start_soon(self._run_link, link, started)
            await started.wait()
        finally:
            peer._dialling = False

    def _channel(self, stream: trio.abc.Stream, keys: Any) -> FramedChannel:
        return FramedChannel(stream, keys, max_frame=self.config.max_frame)

    async def _accept(self, stream: trio.SocketStream) -> None:
        address = _peer_address(stream)
        if (
            self._closing
            or self._handshakes >= self.config.max_handshakes
            or self._handshakes_by_address[address] >= self.config.max_handshakes_per_address
        ):
            await trio.aclose_forcefully(stream)
            return
        self._handshakes += 1
        self._handshakes_by_address[address] += 1
        peer_id: NodeId | None = None
        try:
            with trio.fail_after(self.config.handshake_timeout):
                peer_id, keys = await server_handshake(
                    stream, self.identity, self._network_key, self.known_peers.is_allowed
                )
                peer = self.peers.get(peer_id) or self._new_peer(peer_id, address)
                channel = self._channel(stream, keys)
                if self._our_dial_wins(peer):
                    # Before HELLO, so the peer never takes this link for a live one.
                    self.runtime._event("debug", "link_refused_for_own_dial", peer=peer.name)
                    await channel.close_final(SUPERSEDED)
                    await trio.aclose_forcefully(stream)
                    return
                link = Link(self, channel, peer, initiator=False)
                await link.hello()
        except (
            HandshakeError,
            LinkError,
            trio.TooSlowError,
            trio.BrokenResourceError,
            OSError,
        ) as exc:
            self._rejected(address, getattr(exc, "peer", None) or peer_id, exc)
            await trio.aclose_forcefully(stream)
            return
        finally:
            self._handshakes -= 1
            self._handshakes_by_address[address] -= 1
            if not self._handshakes_by_address[address]:
                del self._handshakes_by_address[address]
        if not self.known_peers.is_allowed(link.peer.node_id):
            # known_peers was reloaded during the handshake, and this key is out now.
            refused = HandshakeError("the client's key is no longer allowed", link.peer.node_id)
            self._rejected(address, link.peer.node_id, refused)
            await trio.aclose_forcefully(stream)
            return
        await self._run_link(link, None)

    def _rejected(self, address: str, peer: NodeId | None, exc: BaseException) -> None:
        source = peer.fingerprint if peer is not None else address.rpartition(":")[0]
        now = trio.current_time()
        last = self._last_rejection.get(source)
        if last is not None and now - last < _REJECTION_LOG_EVERY:
            return
        self._last_rejection[source] = now
        reason = exc.reason if isinstance(exc, HandshakeError) else type(exc).__name__
        self.runtime._event(
            "warning",
            "peer_rejected",
            address=address,
            fingerprint=None if peer is None else peer.fingerprint,
            reason=reason,
        )

    async def _run_link(self, link: Link, started: trio.Event | None) -> None:
        peer = link.peer
        old = peer.link
        if old is not None and not old.closed:
            if (
                old.incarnation == link.incarnation
                and old.initiator != link.initiator
                and not self._dialled_by_smaller_key(link)
            ):
                # Both nodes dialled each other: both keep the link dialled by the smaller key.
                await link.close()
                if started is not None:
                    started.set()
                return
            # The new link takes over at once: it won a dial race, or the same node dialled
            # again (its old link is dead and not yet noticed), or the peer restarted (a new
            # incarnation: the old link is stale). What was in flight on the old one fails
            # with NodeDown.
            self._nursery.start_soon(functools.partial(old.close, superseded=True))
            if old.incarnation != link.incarnation:
                old.close_reason = "the peer restarted"
                self._link_down(peer, old)  # the old incarnation's actors are gone
        restarted = peer.incarnation is not None and peer.incarnation != link.incarnation
        handover = peer.link is not None  # linked throughout: no disconnection to report
        peer.link, peer.incarnation, peer.state = link, link.incarnation, PeerState.CONNECTED
        peer.connected.set()
        peer._next_link.set()
        peer._next_link = trio.Event()
        if not handover:
            self.runtime._event(
                "info",
                "peer_connected",
                peer=peer.name,
                fingerprint=peer.node_id.fingerprint,
                address=peer.address,
                restarted=restarted,
            )
            self._notify_actors(PeerConnected(peer.info))
        for target in peer.watchers:
            link.watch(target)
        if started is not None:
            started.set()
        try:
            await link.run()
        finally:
            if peer.link is link and link.superseded and not self._closing:
                # The peer moved to another link, which may not have reached this side yet.
                with trio.move_on_after(self.config.handshake_timeout):
                    while peer.link is link:
                        await peer._next_link.wait()
            if peer.link is link:
                self._link_down(peer, link)
                if peer.dial_address is not None and not self._closing:
                    self._nursery.start_soon(self._redial, peer)

    def _link_down(self, peer: RemotePeer, link: Link) -> None:
        """The peer is no longer linked through ``link``: say so, and fail its watches."""
        peer.link, peer.state = None, PeerState.DOWN
        peer.connected = trio.Event()
        self.runtime._event("info", "peer_disconnected", peer=peer.name, reason=link.close_reason)
        for target in list(peer.watchers):
            self._deliver_terminated(peer, target, NodeDown(peer.name, link.close_reason))
        self._notify_actors(PeerDisconnected(peer.info, link.close_reason))

    def _has_smaller_key(self, peer: RemotePeer) -> bool:
        """True if this node's key is the smaller of the pair: its dial wins a dial race."""
        return self.node_id.raw < peer.node_id.raw

    def _dialled_by_smaller_key(self, link: Link) -> bool:
        return link.initiator == self._has_smaller_key(link.peer)

    def _our_dial_wins(self, peer: RemotePeer) -> bool:
        """True if a link ``peer`` dials now must give way to the one this node is dialling to
        it (a simultaneous dial, which the smaller key's dial wins)."""
        return peer._dialling and self._has_smaller_key(peer)

    async def _redial(self, peer: RemotePeer) -> None:
        attempt = 0
        while not self._closing and not peer.is_connected:
            if self.known_peers.is_revoked(peer.node_id):
                return
            attempt += 1
            await trio.sleep(self.config.reconnect.delay(attempt))
            try:
                await self._dial(peer)
            except (LinkError, trio.TooSlowError, OSError) as exc:
                if attempt & (attempt - 1) == 0:  # attempts 1, 2, 4, 8...: a log, not a flood
                    self.runtime._event(
                        "info",
                        "peer_redial_failed",
                        peer=peer.name,
                        attempt=attempt,
                        error=str(exc),
                    )

    def _notify_actors(self, message: Any) -> None:
        # Only actors that declared on_connect / on_disconnect: not every catch-all handler.
        for cell in list(self.runtime._cells):
            if type(message) in cell.actor_class._ak_handlers:
                cell.mailbox.put_system(message)

    def reload_known_peers(self, known_peers: Any = None) -> None:
        """Read the allowlist again (from its file, or the one given); close the links of
        peers that are no longer in it or whose keys are revoked."""
        self.known_peers = self._load_known_peers(
            known_peers if known_peers is not None else self.config.known_peers
        )
        for peer in list(self.peers.values()):
            entry = self.known_peers.get(peer.node_id)
            if entry is None:
                peer.dial_address = None  # do not come back
                if peer.link is not None:
                    self._nursery.start_soon(peer.link.close)
            else:
                peer.name = entry.name


class _DeadRef(ActorRef):
    """A ref whose actor cannot be reached: everything sent to it is a dead letter."""

    __slots__ = ("_target",)

    def __init__(self, target: str) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self._target = target

    @property
    def name(self) -> str:
        return self._target

    @property
    def alive(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<ActorRef {self._target} (unreachable)>"

    async def send(self, message: Any) -> None:
        await trio.lowlevel.checkpoint()

    def send_nowait(self, message: Any) -> None:
        pass

    async def ask(self, message: Any, timeout: float | None = 5.0) -> Any:
        from .._errors import ActorStopped  # noqa: PLC0415

        raise ActorStopped(self._target)


def _peer_address(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
    except (OSError, ValueError):
        return "?"
    return f"{host}:{port}"
