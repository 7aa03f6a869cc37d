"""The ``actorkit`` command line: the demo runs, ends by itself, and shows what it claims."""

import json
import subprocess
import sys

import pytest

from actorkit import cli


def run_actorkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actorkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_exits_zero_and_shows_each_capability() -> None:
    """`python -m actorkit demo` exits 0 and its events show every part of the demo."""
    result = run_actorkit("demo", "--json")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    names = {event["event"] for event in events}
    expected = {
        "demo_balance",
        "actor_crashed",
        "dead_letter",
        "demo_account_closed",
        "actor_restarted",
        "circuit_opened",
        "circuit_half_open",
        "circuit_closed",
        "demo_charge_succeeded",
        "demo_finished",
    }
    assert expected <= names
    assert "card-gateway (Gateway) circuit-open" in result.stdout


def test_demo_text_output_is_readable() -> None:
    """The default output is aligned text, one event per line, without tracebacks."""
    result = run_actorkit("demo")
    assert result.returncode == 0, result.stderr
    assert "[info     ] demo_finished" in result.stdout
    assert "Traceback" not in result.stdout


def test_unknown_command_is_refused() -> None:
    """An unknown subcommand exits with argparse's usage error."""
    with pytest.raises(SystemExit) as excinfo:
        cli.main(["frobnicate"])
    assert excinfo.value.code == 2
