"""Peer links: identities, the Secret Handshake, and encrypted framing between nodes.

This is the layer below links and nodes: :func:`client_handshake` / :func:`server_handshake`
authenticate both ends of a stream (Secret Handshake v1, with session keys bound to the
transcript) and a :class:`FramedChannel` then carries encrypted frames over it. Node identities
are Ed25519 keys (:class:`Identity`, :class:`NodeId`); a shared :class:`ClusterKey` keeps
strangers out; :class:`KnownPeers` is the allowlist. See the security guide
(docs/guides/security.md).

Example::

    identity = load_identity("node.key")
    network_key = load_cluster_key("cluster.key").network_key
    with trio.fail_after(HANDSHAKE_TIMEOUT):
        keys = await client_handshake(stream, identity, server_id, network_key)
    channel = FramedChannel(stream, keys)
    await channel.send_frames([b"hello", b"world"])
"""

from ._codec import Codec as Codec
from ._codec import CodecError as CodecError
from ._codec import CodecLimits as CodecLimits
from ._errors import FramingError as FramingError
from ._errors import HandshakeError as HandshakeError
from ._errors import KeyFileError as KeyFileError
from ._errors import LinkError as LinkError
from ._errors import LinkLost as LinkLost
from ._framing import DEFAULT_MAX_FRAME as DEFAULT_MAX_FRAME
from ._framing import MAX_FRAME_CAP as MAX_FRAME_CAP
from ._framing import ChannelStatistics as ChannelStatistics
from ._framing import FramedChannel as FramedChannel
from ._framing import FrameTag as FrameTag
from ._handshake import HANDSHAKE_TIMEOUT as HANDSHAKE_TIMEOUT
from ._handshake import SessionKeys as SessionKeys
from ._handshake import client_handshake as client_handshake
from ._handshake import server_handshake as server_handshake
from ._identity import ClusterKey as ClusterKey
from ._identity import DialAddress as DialAddress
from ._identity import Identity as Identity
from ._identity import KnownPeers as KnownPeers
from ._identity import NodeId as NodeId
from ._identity import Peer as Peer
from ._identity import load_cluster_key as load_cluster_key
from ._identity import load_identity as load_identity
from ._identity import parse_dial_address as parse_dial_address
from ._identity import write_cluster_key as write_cluster_key
from ._identity import write_identity as write_identity
from ._link import LinkClosed as LinkClosed
from ._node import Node as Node
from ._node import NodeConfig as NodeConfig
from ._remote import NodeDown as NodeDown
from ._remote import PeerConnected as PeerConnected
from ._remote import PeerDisconnected as PeerDisconnected
from ._remote import PeerInfo as PeerInfo
from ._remote import RemotePeer as RemotePeer
from ._remote import RemoteRef as RemoteRef
from ._remote import on_connect as on_connect
from ._remote import on_disconnect as on_disconnect
