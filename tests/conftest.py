"""Shared fixtures for the test suite."""

import pytest
import trio
import trio.testing


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps ahead whenever every task is blocked (pytest-trio runs under it)."""
    return trio.testing.MockClock(autojump_threshold=0)
