"""The messages of the remote workloads (shared by both processes)."""

from __future__ import annotations

import attrs

__all__ = ["Blob", "Count", "Ping"]


@attrs.frozen
class Blob:
    """About 100 bytes on the wire: a number and a payload."""

    n: int
    data: bytes


@attrs.frozen
class Count:
    """Ask the counter how many Blobs it has had."""


@attrs.frozen
class Ping:
    """A request whose reply is its number."""

    n: int
