"""capture_events(): the runtime's structured events, for assertions on names and keys."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

__all__ = ["EventLog", "capture_events"]


class EventLog(list[MutableMapping[str, Any]]):
    """The captured events, in order: each a dict with ``event``, ``log_level`` and its keys."""

    def names(self) -> list[str]:
        """The event names, in order."""
        return [entry["event"] for entry in self]

    def named(self, event: str) -> list[MutableMapping[str, Any]]:
        """The events called ``event``, in order."""
        return [entry for entry in self if entry["event"] == event]


@contextmanager
def capture_events() -> Iterator[EventLog]:
    """Capture every structlog event emitted inside the block (built on
    ``structlog.testing.capture_logs``).

    Example::

        with ak.testing.capture_events() as events:
            await ref.send(Boom())
        assert events.named("actor_crashed")[0]["error_type"] == "ValueError"
    """
    capture = structlog.testing.LogCapture()
    capture.entries = log = EventLog()
    # As structlog.testing.capture_logs does: swap the processors in place, so loggers
    # already bound keep working, and put them back afterwards.
    processors = structlog.get_config()["processors"]
    saved = processors.copy()
    try:
        processors.clear()
        processors.append(capture)
        structlog.configure(processors=processors)
        yield log
    finally:
        processors.clear()
        processors.extend(saved)
        structlog.configure(processors=processors)
