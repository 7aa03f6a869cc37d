"""A seed-style agent: IDLE → PROCESSING → COMPLETED | ERROR, with a state timeout and retries.

A ``Worker`` state machine takes a task, asks a ``Fetcher`` actor to call a flaky outside
service (the fetcher retries with backoff), and finishes COMPLETED when the answer comes back,
or ERROR when the fetch fails for good or does not come back within the state timeout.
Tasks that arrive while the worker is busy are postponed and taken up after it is done.

Run it with ``python examples/seed_agent.py``; it runs on real time and takes about a second.
"""

from __future__ import annotations

import enum

import attrs
import trio

import actorkit as ak


class Phase(enum.Enum):
    IDLE = "idle"
    PROCESSING = "processing"
    COMPLETED = "completed"
    ERROR = "error"


# -- messages ----------------------------------------------------------------------------------


@attrs.frozen
class Task:
    id: str
    url: str


@attrs.frozen
class Fetch:
    url: str
    reply_to: ak.ActorRef


@attrs.frozen
class Fetched:
    url: str
    body: str


@attrs.frozen
class FetchFailed:
    url: str
    error: str


@attrs.frozen
class Report:
    pass


# -- the outside world -------------------------------------------------------------------------


class FlakyService:
    """Fails the first ``failures`` calls for each URL, hangs for URLs containing "slow"."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: dict[str, int] = {}

    async def fetch(self, url: str) -> str:
        self.calls[url] = self.calls.get(url, 0) + 1
        if "slow" in url:
            await trio.sleep_forever()
        if "down" in url or self.calls[url] <= self.failures:
            raise ConnectionError(f"{url} is unreachable")
        return f"<body of {url}>"


class Fetcher(ak.Actor):
    """Calls the outside service with retries, and replies to whoever asked."""

    def __init__(self, service: FlakyService) -> None:
        self.service = service
        self.retry = ak.RetryPolicy(
            max_attempts=3,
            backoff=ak.Backoff(initial=0.02, maximum=0.1),
            retry_on=(ConnectionError,),
        )

    @ak.on(Fetch)
    async def fetch(self, msg: Fetch) -> None:
        try:
            with trio.fail_after(1.0):  # give up on a call that hangs
                body = await self.retry.call(self.service.fetch, msg.url)
        except (ConnectionError, trio.TooSlowError) as exc:
            await msg.reply_to.send(FetchFailed(msg.url, str(exc) or "no answer"))
        else:
            await msg.reply_to.send(Fetched(msg.url, body))


# -- the agent ---------------------------------------------------------------------------------


class Worker(ak.StateMachine):
    """Processes one task at a time, as an explicit state machine."""

    states = Phase
    initial = Phase.IDLE
    transitions = {  # noqa: RUF012 (the table is class-level data, read-only by design)
        Phase.IDLE: {Phase.PROCESSING},
        Phase.PROCESSING: {Phase.COMPLETED, Phase.ERROR},
        Phase.COMPLETED: {Phase.PROCESSING},
        Phase.ERROR: {Phase.PROCESSING},
    }
    state_timeouts = {Phase.PROCESSING: 0.5}  # noqa: RUF012

    def __init__(self, fetcher: ak.ActorRef, all_done: trio.Event, expected: int) -> None:
        self.fetcher = fetcher
        self.outcomes: list[tuple[str, str]] = []
        self.current: Task | None = None
        self.all_done = all_done  # lets main() wait without polling
        self.expected = expected

    @ak.on(Task, state=Phase.PROCESSING)
    async def busy(self, msg: Task) -> None:
        self.postpone()  # taken up again after the current task is done

    @ak.on(Task)
    async def start(self, msg: Task) -> None:
        self.current = msg
        await self.transition(Phase.PROCESSING)
        await self.fetcher.send(Fetch(msg.url, reply_to=self.ctx.self))

    @ak.on(Fetched, state=Phase.PROCESSING)
    async def done(self, msg: Fetched) -> None:
        await self._finish(Phase.COMPLETED, msg.body)

    @ak.on(FetchFailed, state=Phase.PROCESSING)
    async def failed(self, msg: FetchFailed) -> None:
        await self._finish(Phase.ERROR, msg.error)

    @ak.on(ak.StateTimeout, state=Phase.PROCESSING)
    async def timed_out(self, msg: ak.StateTimeout) -> None:
        await self._finish(Phase.ERROR, "timed out")

    @ak.on(Report)
    async def report(self, msg: Report) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.state.name, tuple(self.outcomes)

    async def _finish(self, phase: Phase, detail: str) -> None:
        assert self.current is not None
        self.outcomes.append((self.current.id, f"{phase.name}: {detail}"))
        await self.transition(phase)
        if len(self.outcomes) == self.expected:
            self.all_done.set()


async def main() -> None:
    async with ak.open_runtime() as rt:
        fetcher = await rt.spawn(Fetcher, FlakyService(failures=2), name="fetcher")
        all_done = trio.Event()
        worker = await rt.spawn(Worker, fetcher, all_done, 3, name="worker")
        await worker.send(Task("t1", "https://example.test/ok"))  # succeeds on the 3rd try
        await worker.send(Task("t2", "https://example.test/down"))  # fails after 3 tries
        await worker.send(Task("t3", "https://example.test/slow"))  # never answers: timeout
        await all_done.wait()
        state, outcomes = await worker.ask(Report())
        print(Worker.diagram())
        for task_id, outcome in outcomes:
            print(task_id, outcome)
        assert state == "ERROR"
        assert outcomes == (
            ("t1", "COMPLETED: <body of https://example.test/ok>"),
            ("t2", "ERROR: https://example.test/down is unreachable"),
            ("t3", "ERROR: timed out"),
        )


if __name__ == "__main__":
    trio.run(main)
