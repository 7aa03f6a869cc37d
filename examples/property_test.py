"""Property-based testing of a seed-style agent with ``actorkit.testing.check_model``.

A ``Worker`` state machine (IDLE → PROCESSING → COMPLETED → IDLE) is checked against a
plain-Python model: Hypothesis generates sequences of messages, with crashes (``Fault`` steps)
among them, runs each sequence against the real actor under a supervisor on virtual time, and
compares every reply with the model's. A disagreement would be shrunk to the shortest sequence
that shows it and raised as ``ModelMismatch``.

Run it with ``python examples/property_test.py`` (no pytest needed); it takes about a second.
In a test suite, call ``check_model`` from a plain test function instead of ``main``.
"""

from __future__ import annotations

import enum

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import actorkit as ak
from actorkit.testing import Crashes, check_model
from actorkit.testing.strategies import messages, one_of_messages


class Phase(enum.Enum):
    IDLE = "idle"
    PROCESSING = "processing"
    COMPLETED = "completed"


# -- messages ----------------------------------------------------------------------------------


@attrs.frozen
class Submit:
    job: str


@attrs.frozen
class Finish:
    pass


@attrs.frozen
class Collect:
    pass


@attrs.frozen
class Status:
    pass


# -- the agent ---------------------------------------------------------------------------------


class Journal:
    """Where the worker records finished jobs: outside the actor, so it survives restarts."""

    def __init__(self) -> None:
        self.finished: list[str] = []


class Worker(ak.StateMachine):
    """Takes one job at a time; an empty job makes it crash (its supervisor restarts it)."""

    states = Phase
    initial = Phase.IDLE
    transitions = {  # noqa: RUF012
        Phase.IDLE: {Phase.PROCESSING},
        Phase.PROCESSING: {Phase.COMPLETED},
        Phase.COMPLETED: {Phase.IDLE},
    }

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.job = ""

    @ak.on(Submit, state=Phase.IDLE)
    async def take(self, msg: Submit) -> str:
        if not msg.job:
            raise ValueError("a job needs a name")
        self.job = msg.job
        await self.transition(Phase.PROCESSING)
        return "accepted"

    @ak.on(Submit)  # in any other state
    async def busy(self, msg: Submit) -> str:
        return "busy"

    @ak.on(Finish, state=Phase.PROCESSING)
    async def finish(self, msg: Finish) -> str:
        self.journal.finished.append(self.job)
        await self.transition(Phase.COMPLETED)
        return self.job

    @ak.on(Collect, state=Phase.COMPLETED)
    async def collect(self, msg: Collect) -> str:
        await self.transition(Phase.IDLE)
        return self.job.upper()

    @ak.on(Finish)
    @ak.on(Collect)
    async def nothing_to_do(self, msg: object) -> None:
        return None

    @ak.on(Status)
    async def status(self, msg: Status) -> tuple[str, int]:
        return self.state.name, len(self.journal.finished)


# -- its model ---------------------------------------------------------------------------------


class WorkerModel:
    """What the worker should answer, in plain Python."""

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.job = ""
        self.finished = 0

    def apply(self, msg: object) -> object:
        if isinstance(msg, Submit):
            if self.phase is not Phase.IDLE:
                return "busy"
            if not msg.job:
                return Crashes(ValueError)
            self.phase, self.job = Phase.PROCESSING, msg.job
            return "accepted"
        if isinstance(msg, Finish):
            if self.phase is not Phase.PROCESSING:
                return None
            self.phase = Phase.COMPLETED
            self.finished += 1
            return self.job
        if isinstance(msg, Collect):
            if self.phase is not Phase.COMPLETED:
                return None
            self.phase = Phase.IDLE
            return self.job.upper()
        return self.phase.name, self.finished

    def on_restart(self) -> None:
        """A restarted worker is IDLE again; the journal keeps what it finished."""
        self.phase = Phase.IDLE


def main() -> None:
    # The generated sequences crash the worker on purpose, hundreds of times: keep the console
    # quiet (in pytest, the test runner captures the events instead).
    ak.configure_logging("critical")
    check_model(
        Worker,
        WorkerModel,
        args=lambda: (Journal(),),  # a fresh journal for every generated sequence
        messages=one_of_messages(
            Worker, {Submit: messages(Submit, job=st.sampled_from(["", "fetch", "parse"]))}
        ),
        faults=True,  # crash the worker between messages too
        max_steps=15,
        settings_=settings(
            max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        ),
    )
    print("the worker agrees with its model on 60 generated sequences, crashes included")


if __name__ == "__main__":
    main()
