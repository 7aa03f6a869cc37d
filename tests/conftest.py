"""Shared fixtures for the test suite."""

import pytest
import structlog
import trio
import trio.testing


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps ahead whenever every task is blocked (pytest-trio runs under it)."""
    return trio.testing.MockClock(autojump_threshold=0)


def _drop(_logger: object, _name: str, _event: object) -> None:
    raise structlog.DropEvent


@pytest.fixture(autouse=True, scope="session")
def _quiet_structlog() -> None:
    """Drop events unless a test captures them: rendering thousands of events to a captured
    stdout is slow and tells nobody anything. ``capture_logs`` swaps this processor out."""
    structlog.configure(processors=[_drop])
