"""structlog events: the one logger actorkit emits through, and an opt-in configuration helper.

actorkit configures nothing on import: events go through whatever structlog configuration the
application has. Event names are snake_case past-tense verbs (``actor_crashed``) with key/value
context (``actor=``, ``actor_id=``, ``actor_class=``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

__all__ = ["configure_logging", "logger", "short_repr"]

#: The logger every actorkit event goes through (a lazy proxy: it honours later configuration).
logger: Any = structlog.get_logger("actorkit")

_REPR_LIMIT = 200


def short_repr(value: object, limit: int = _REPR_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters so that one message cannot flood a log."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break logging of a crash
        text = f"<{type(value).__qualname__} whose repr raised {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _drop_tracebacks(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("exc_info", None)
    return event


def configure_logging(
    level: int | str = "info",
    *,
    json: bool = False,
    stream: TextIO | None = None,
    tracebacks: bool = True,
) -> None:
    """Configure structlog for an application or a script: readable lines, or JSON lines.

    This changes structlog's global configuration, which is the application's to own, so the
    library never calls it; the ``actorkit`` command line does.

    Args:
        level: the lowest level shown, as a ``logging`` constant or its name (``"debug"``).
        json: render one JSON object per line (for log shippers) instead of aligned text.
        stream: where to write; standard output by default.
        tracebacks: include the traceback of a crash (its type and text are always there).
    """
    if isinstance(level, str):
        numeric = logging.getLevelNamesMapping().get(level.upper())
        if numeric is None:
            raise ValueError(f"unknown log level {level!r}; use debug, info, warning or error")
        level = numeric
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, sort_keys=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if not tracebacks:
        processors.append(_drop_tracebacks)
    elif json:
        processors.append(structlog.processors.dict_tracebacks)
    processors.append(renderer)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=True,
    )
