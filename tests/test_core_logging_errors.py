"""Core structlog events, the opt-in logging configuration, and the error hierarchy."""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

import actorkit as ak


@attrs.frozen
class Unknown:
    pass


class Idle(ak.Actor):
    """An actor that handles nothing."""


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout


async def test_started_and_stopped_events_carry_actor_keys(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """actor_started and actor_stopped name the actor, its id and its class."""
    with capture_logs() as logs:
        async with ak.open_runtime() as rt:
            ref = await rt.spawn(Idle, name="idle")
    identity = {"actor": "idle", "actor_id": 1, "actor_class": "Idle"}
    for name in ("actor_started", "actor_stopped"):
        [entry] = events(logs, name)
        assert identity == {key: entry[key] for key in identity}
    assert not ref.alive


async def test_dead_letter_event_names_recipient_reason_and_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """dead_letter carries recipient, reason, message (repr) and message_type."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Idle, name="idle")
        with capture_logs() as logs:
            await ref.send(Unknown())
            await trio.testing.wait_all_tasks_blocked()
    [entry] = events(logs, "dead_letter")
    expected = {
        "recipient": "idle",
        "reason": "unhandled",
        "message": repr(Unknown()),
        "message_type": "Unknown",
    }
    assert expected == {key: entry[key] for key in expected}


async def test_dead_letter_event_carries_actor_keys(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A dead letter addressed to an actor names its id and class, like the other actor events."""
    async with ak.open_runtime() as rt:
        ref = await rt.spawn(Idle, name="idle")
        with capture_logs() as logs:
            await ref.send(Unknown())
            await trio.testing.wait_all_tasks_blocked()
    [entry] = events(logs, "dead_letter")
    assert {"actor_id": 1, "actor_class": "Idle"} == {
        key: entry.get(key) for key in ("actor_id", "actor_class")
    }
    assert not ref.alive


def test_importing_actorkit_configures_nothing() -> None:
    """A fresh interpreter that imports actorkit still has structlog unconfigured."""
    output = run_python(
        """
        import actorkit, structlog
        print(structlog.is_configured())
        """
    )
    assert "False" == output.strip()


def test_configure_logging_json_writes_json_lines() -> None:
    """configure_logging("debug", json=True, stream=buf) writes one JSON object per event."""
    output = run_python(
        """
        import io, attrs, trio
        import actorkit as ak

        class Idle(ak.Actor):
            pass

        async def main():
            async with ak.open_runtime() as rt:
                ref = await rt.spawn(Idle, name="idle")
                await ref.send(1)

        buf = io.StringIO()
        ak.configure_logging("debug", json=True, stream=buf)
        trio.run(main)
        print(buf.getvalue(), end="")
        """
    )
    records = [json.loads(line) for line in output.splitlines()]
    names = [record["event"] for record in records]
    assert {"actor_started", "dead_letter", "actor_stopped"} <= set(names)
    started = records[names.index("actor_started")]
    assert ("idle", "debug") == (started["actor"], started["level"])


def test_configure_logging_refuses_an_unknown_level() -> None:
    """An unknown level name raises ValueError."""
    with pytest.raises(ValueError):
        ak.configure_logging("chatty")


def public_errors() -> dict[str, type[BaseException]]:
    """The exception classes actorkit exports, warning categories aside."""
    return {
        name: obj
        for name in dir(ak)
        if not name.startswith("_")
        and isinstance(obj := getattr(ak, name), type)
        and issubclass(obj, BaseException)
        and not issubclass(obj, Warning)
    }


def test_every_public_error_is_an_actorkit_error() -> None:
    """Every error class actorkit exports (warnings aside) derives from ak.ActorkitError."""
    exceptions = public_errors()
    assert {
        "ActorkitError",
        "ActorCrashed",
        "ActorNotFound",
        "ActorStopped",
        "AskTimeout",
        "MailboxFull",
        "NameTaken",
        "StartFailed",
        "UnhandledMessage",
    } <= set(exceptions)
    assert [] == [name for name, cls in exceptions.items() if not issubclass(cls, ak.ActorkitError)]


def test_errors_are_also_the_matching_standard_errors() -> None:
    """AskTimeout is a trio.TooSlowError and ActorNotFound a LookupError."""
    assert issubclass(ak.AskTimeout, trio.TooSlowError)
    assert issubclass(ak.ActorNotFound, LookupError)
