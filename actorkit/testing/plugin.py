"""The pytest plugin (registered as ``actorkit`` through the ``pytest11`` entry point).

Fixtures:
    runtime: an open runtime, on a ``MockClock(autojump_threshold=0)``: timeouts, backoffs
        and timers take no real time. After the test it is shut down and checked: no actor
        may be left running.
    probe: a :class:`~actorkit.testing.Probe` in that runtime.

A test that uses either runs under the MockClock even if it requests no clock fixture; one
that requests its own clock (``autojump_clock``, ``mock_clock``) gets that one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from .._runtime import Runtime, open_runtime
from ._probe import Probe

__all__ = ["probe", "runtime"]

_OUR_FIXTURES = frozenset({"runtime", "probe"})


def _run_on_virtual_time(fn: Any, *args: Any, clock: Any = None, **kwargs: Any) -> Any:
    if clock is None:
        clock = trio.testing.MockClock(autojump_threshold=0)
    return trio.run(fn, *args, clock=clock, **kwargs)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _OUR_FIXTURES & set(getattr(item, "fixturenames", ())):
            # First in the list, so pytest-trio picks this runner over the default one.
            item.add_marker(pytest.mark.trio(run=_run_on_virtual_time), append=False)


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    """An open actorkit runtime on virtual time, shut down and checked after the test."""
    async with open_runtime() as rt:
        yield rt
    leftover = rt.stats().actors_live
    if leftover:
        pytest.fail(f"{leftover} actor(s) still running after the runtime shut down")


@pytest.fixture
async def probe(runtime: Runtime) -> Probe:
    """A probe in the test's runtime."""
    return await Probe.start(runtime)
