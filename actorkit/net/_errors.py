"""The errors of peer links: one family under :class:`LinkError`, itself an ``ActorkitError``.

Each message says what happened and, where there is one, what to do; none ever holds key bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import ActorkitError

if TYPE_CHECKING:
    from ._identity import NodeId

__all__ = ["FramingError", "HandshakeError", "KeyFileError", "LinkError", "LinkLost"]


class LinkError(ActorkitError):
    """The base of every error raised by a peer link, its keys and its files."""


class HandshakeError(LinkError):
    """The Secret Handshake failed: wrong network key, bad message, unknown or wrong peer.

    Every failure of the handshake, cryptographic or not, is this one error, so that a listener
    catching it survives whatever a stranger sends. ``reason`` says which check failed and
    ``peer`` is the other side's key when the handshake got far enough to learn it.
    """

    def __init__(self, reason: str, peer: NodeId | None = None) -> None:
        who = f" (peer {peer.fingerprint})" if peer is not None else ""
        super().__init__(f"handshake failed: {reason}{who}")
        self.reason = reason
        self.peer = peer


class FramingError(LinkError):
    """A frame failed its length check or its authentication; the channel is dead.

    A bad frame is never skipped: it means tampering, a bug, or a desynchronised stream, and
    the only safe move is to close the link and let the caller reconnect.
    """


class LinkLost(LinkError):
    """The peer's byte stream ended or broke without a clean (``FINAL``) close.

    What was received before is authentic, but the peer's last frames may have been cut off.
    """


class KeyFileError(LinkError):
    """A key file or known_peers file is missing, malformed, too open, or would be overwritten.

    ``path`` is the file concerned (``None`` when parsing text that came from no file).
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
