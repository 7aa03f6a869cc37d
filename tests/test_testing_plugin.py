"""The pytest plugin: the ``runtime`` and ``probe`` fixtures, virtual time, shutdown after the
test, the leak check, and its registration through the ``pytest11`` entry point."""

from __future__ import annotations

import time
from collections.abc import Iterator

import attrs
import pytest
import trio
import trio.testing

import actorkit as ak
from actorkit.testing import Probe

pytest_plugins = ["pytester"]

#: Actors of this module append their name here when their on_stop runs.
STOPPED: list[str] = []


@attrs.frozen
class Hello:
    pass


class Tracked(ak.Actor):
    """Notes its on_stop in STOPPED."""

    def __init__(self, label: str) -> None:
        self.label = label

    @ak.on(Hello)
    async def hello(self, msg: Hello) -> str:
        return f"hello from {self.label}"

    async def on_stop(self, reason: BaseException | None) -> None:
        STOPPED.append(self.label)


@pytest.fixture
def stopped_after_the_test() -> Iterator[list[str]]:
    """Checks, once the test and its async fixtures are over, what the test expects stopped."""
    STOPPED.clear()
    expected: list[str] = []
    yield expected
    assert sorted(STOPPED) == sorted(expected)


async def test_runtime_runs_on_virtual_time_without_a_clock_fixture(runtime: ak.Runtime) -> None:
    """An hour's sleep returns at once and advances Trio's clock by exactly an hour."""
    assert isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock)
    started, real_start = trio.current_time(), time.perf_counter()
    await trio.sleep(3600)
    assert trio.current_time() - started == 3600
    assert time.perf_counter() - real_start < 1


async def test_runtime_is_open(runtime: ak.Runtime) -> None:
    """The fixture's runtime spawns and answers."""
    assert isinstance(runtime, ak.Runtime)
    ref = await runtime.spawn(Tracked, "a")
    assert await ref.ask(Hello()) == "hello from a"


async def test_runtime_with_a_requested_autojump_clock(
    runtime: ak.Runtime, autojump_clock: trio.testing.MockClock
) -> None:
    """A test that asks for ``autojump_clock`` too runs under that clock, still virtual."""
    assert trio.lowlevel.current_clock() is autojump_clock
    started = trio.current_time()
    await trio.sleep(3600)
    assert trio.current_time() - started == 3600
    ref = await runtime.spawn(Tracked, "b")
    assert await ref.ask(Hello(), timeout=10) == "hello from b"


async def test_actors_are_stopped_after_the_test(
    stopped_after_the_test: list[str], runtime: ak.Runtime
) -> None:
    """Actors left running are stopped, their on_stop run, once the test is over."""
    await runtime.spawn(Tracked, "left-running-1")
    await runtime.spawn(Tracked, "left-running-2")
    stopped_after_the_test += ["left-running-1", "left-running-2"]
    assert STOPPED == []  # still running during the test


async def test_probe_fixture_is_a_probe_in_the_runtime(runtime: ak.Runtime, probe: Probe) -> None:
    """The probe lives in the test's runtime and records what it is sent."""
    assert isinstance(probe, Probe)
    assert probe.runtime is runtime
    assert probe.ref.alive
    assert runtime.stats().actors_live == 1
    await probe.ref.send(Hello())
    assert await probe.expect(Hello) == Hello()


async def test_probe_alone_brings_virtual_time(probe: Probe) -> None:
    """Requesting only ``probe`` is enough for the MockClock and an open runtime."""
    started = trio.current_time()
    await probe.expect_no_message(within=60)
    assert trio.current_time() - started == 60


def test_a_sync_test_is_left_alone(request: pytest.FixtureRequest) -> None:
    """The plugin marks only tests that use its fixtures."""
    assert request.node.get_closest_marker("trio") is None


# -- in a fresh pytest session ---------------------------------------------------------------

FRESH_SESSION_TEST = """
import time
import trio
import actorkit as ak

class Sleepy(ak.Actor):
    async def on_stop(self, reason):
        await trio.sleep(1)

async def test_virtual_time(runtime, probe):
    real_start = time.perf_counter()
    started = trio.current_time()
    await trio.sleep(3600)
    assert trio.current_time() - started == 3600
    await runtime.spawn(Sleepy)
    await probe.expect_no_message(within=10)
    assert time.perf_counter() - real_start < 5
"""


def test_the_plugin_is_registered_by_its_entry_point(pytester: pytest.Pytester) -> None:
    """A fresh pytest process (no conftest, no trio_mode) has the plugin and its fixtures."""
    pytester.makepyfile(test_fresh=FRESH_SESSION_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_entry_point_is_named_actorkit(pytester: pytest.Pytester) -> None:
    """``-p no:actorkit`` turns the plugin off: its fixtures are gone."""
    config = pytester.parseconfig()
    assert config.pluginmanager.has_plugin("actorkit")
    pytester.makepyfile(test_fresh=FRESH_SESSION_TEST)
    result = pytester.runpytest("-p", "no:actorkit", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'runtime' not found*"])


LEAKING_TEST = """
import actorkit as ak

class Idle(ak.Actor):
    pass

async def test_leaves_an_actor_behind(runtime):
    ref = await runtime.spawn(Idle)
    shutdown = runtime._shutdown

    async def shutdown_forgetting_one():
        # A runtime whose shutdown loses track of an actor: the check must catch it.
        await shutdown()
        runtime._cells[ref._cell] = None

    runtime._shutdown = shutdown_forgetting_one

async def test_clean(runtime):
    await runtime.spawn(Idle)
"""


def test_the_leak_check_fails_a_test_that_leaves_an_actor_running(
    pytester: pytest.Pytester,
) -> None:
    """After shutdown the fixture checks that no actor is left; a leftover fails the test
    (pytest-trio runs async fixtures' teardown inside the test's call)."""
    pytester.makepyfile(test_leak=LEAKING_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Failed: 1 actor(s) still running after the runtime shut down",
            "*FAILED test_leak.py::test_leaves_an_actor_behind*",
        ]
    )
