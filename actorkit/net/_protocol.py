"""The link protocol's numbers: frame types, envelope kinds, and the flow-control window.

A plaintext frame is one type byte and a body. A DATA body is one or more msgpack envelopes,
each a list starting with its kind: ``[TELL, target, payload]``, ``[ASK, target, id, payload]``,
``[REPLY, id, payload]``, ``[FAIL, id, reason, detail]``, ``[WATCH, target]``,
``[UNWATCH, target]``, ``[TERMINATED, target, reason]``, ``[CREDIT, target, count]``.
"""

from __future__ import annotations

__all__ = [
    "ASK",
    "CLOSE",
    "CREDIT",
    "CREDIT_BATCH",
    "DATA",
    "FAIL",
    "HELLO",
    "PING",
    "PONG",
    "REPLY",
    "TELL",
    "TERMINATED",
    "UNWATCH",
    "WATCH",
    "WINDOW",
]

# Frame types (the first byte of every plaintext).
HELLO, DATA, PING, PONG, CLOSE = 1, 2, 3, 4, 5
# Envelope kinds (the first item of an envelope).
TELL, ASK, REPLY, FAIL, WATCH, UNWATCH, TERMINATED, CREDIT = range(8)

#: Messages one sender may have in flight to one remote actor.
WINDOW = 1024
#: Credit is returned in batches of this many messages.
CREDIT_BATCH = 256
