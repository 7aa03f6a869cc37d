"""Setting up the peer systems: pykka (thread per actor) and Thespian (single-threaded base).

Both are optional: when one is not installed, its side of every workload is a skip with the
reason, so ``python -m benchmarks`` still runs (the test virtualenv has neither).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from .registry import Skip

__all__ = ["need", "pykka_running", "thespian_system"]

#: Thespian's ask blocks the calling thread while it runs every actor; this bounds a hung run.
THESPIAN_TIMEOUT = 300


def need(module: str) -> ModuleType:
    """Import a peer's package, or skip this system with an install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Skip(f"{module} is not installed (pip install {module})") from None


@contextmanager
def pykka_running() -> Iterator[ModuleType]:
    """pykka, with every actor stopped (and its thread joined) on the way out."""
    pykka = need("pykka")
    try:
        yield pykka
    finally:
        pykka.ActorRegistry.stop_all()


@contextmanager
def thespian_system() -> Iterator[Any]:
    """A fresh ``ActorSystem('simpleSystemBase')``: every actor runs in the calling thread.

    Thespian's own logging configuration is left off (``logDefs=False``), as a benchmark should.
    """
    need("thespian")
    from thespian.actors import ActorSystem

    system = ActorSystem("simpleSystemBase", logDefs=False)
    try:
        yield system
    finally:
        system.shutdown()


def thespian_ask(system: Any, address: Any, message: Any) -> Any:
    """Ask from outside; a ``None`` answer means the actors never replied."""
    reply = system.ask(address, message, THESPIAN_TIMEOUT)
    if reply is None:
        raise TimeoutError(f"Thespian gave no reply to {message!r}")
    return reply
