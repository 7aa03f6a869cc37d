"""A bridge for Hypothesis' stateful testing: rules (and invariants, initializers) may be
``async def``, and run inside one actorkit runtime per example, on virtual time.

Trio runs in *guest mode* on a tiny host loop in the test's own thread: a rule's coroutine is
handed to Trio and the host loop is pumped until it finishes. Between two rules nothing runs,
so virtual time moves only while a rule awaits, and a failing example replays exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import queue
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import trio
import trio.testing
from hypothesis import stateful

from .._runtime import Runtime, open_runtime

__all__ = ["TrioStateMachine"]

# Where Hypothesis keeps a rule, an initializer and an invariant on the decorated function.
_MARKERS = (
    stateful.RULE_MARKER,
    stateful.INITIALIZE_RULE_MARKER,
    stateful.INVARIANT_MARKER,
)


class _GuestRuntime:
    """One Trio run, in guest mode, holding an open runtime until closed."""

    def __init__(self) -> None:
        self._callbacks: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._finished: outcome.Outcome[None] | None = None
        self.runtime: Runtime | None = None
        self._jobs: trio.MemorySendChannel[tuple[Callable[[], Awaitable[Any]], list[Any]]]
        self._token: trio.lowlevel.TrioToken | None = None
        trio.lowlevel.start_guest_run(
            self._main,
            run_sync_soon_threadsafe=self._callbacks.put,
            done_callback=self._done,
            clock=trio.testing.MockClock(autojump_threshold=0),
        )
        self._pump(lambda: self.runtime is not None or self._finished is not None)
        self._raise_if_finished()

    def _done(self, result: outcome.Outcome[None]) -> None:
        self._finished = result

    def _pump(self, until: Callable[[], bool]) -> None:
        while not until():
            self._callbacks.get()()

    def _raise_if_finished(self) -> None:
        if self._finished is not None:
            self._finished.unwrap()
            raise RuntimeError("the runtime of the state machine ended early")

    async def _main(self) -> None:
        send, receive = trio.open_memory_channel[tuple[Callable[[], Awaitable[Any]], list[Any]]](0)
        self._jobs = send
        self._token = trio.lowlevel.current_trio_token()
        async with open_runtime() as runtime, trio.open_nursery() as nursery:
            self.runtime = runtime
            async with receive:
                while True:
                    # Between two rules the clock must stand still: with nothing runnable,
                    # the MockClock would otherwise jump to the next deadline (a state
                    # timeout, a stale ask timeout) as soon as the next rule is sent.
                    hold = trio.CancelScope()
                    nursery.start_soon(_hold_the_clock, hold)
                    try:
                        job, box = await receive.receive()
                    except trio.EndOfChannel:
                        break
                    finally:
                        hold.cancel()
                    box.append(await outcome.acapture(job))

    def run(self, job: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``job()`` inside the runtime's Trio run; return its result or raise its error."""
        box: list[outcome.Outcome[Any]] = []
        assert self._token is not None
        self._token.run_sync_soon(self._jobs.send_nowait, (job, box))
        self._pump(lambda: bool(box) or self._finished is not None)
        if not box:
            self._raise_if_finished()
        return box[0].unwrap()

    def close(self) -> None:
        if self._finished is None and self._token is not None:
            self._token.run_sync_soon(self._jobs.close)
            self._pump(lambda: self._finished is not None)
        if self._finished is not None:
            self._finished.unwrap()


async def _hold_the_clock(scope: trio.CancelScope) -> None:
    """Keep Trio from autojumping its MockClock until ``scope`` is cancelled: a task waiting in
    ``wait_all_tasks_blocked`` takes precedence over the autojump, and with an infinite cushion
    it is never woken."""
    with scope:
        await trio.testing.wait_all_tasks_blocked(cushion=math.inf)


def _sync(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run_in_runtime(machine: TrioStateMachine, *args: Any, **kwargs: Any) -> Any:
        return machine._ak_guest.run(functools.partial(fn, machine, *args, **kwargs))

    return run_in_runtime


class TrioStateMachine(stateful.RuleBasedStateMachine):
    """A ``RuleBasedStateMachine`` whose rules, initializers and invariants may be async.

    Each example gets its own runtime (``self.runtime``) on a ``MockClock``; everything a
    rule awaits runs there, on virtual time. Use it exactly like its Hypothesis parent::

        class BankMachine(ak.testing.TrioStateMachine):
            @initialize()
            async def open_account(self) -> None:
                self.account = await self.runtime.spawn(Account, 0)

            @rule(amount=st.integers(1, 100))
            async def deposit(self, amount: int) -> None: ...

        TestBank = BankMachine.TestCase
    """

    def __init__(self) -> None:
        self._ak_guest = _GuestRuntime()
        super().__init__()

    @property
    def runtime(self) -> Runtime:
        """The runtime this example runs in."""
        assert self._ak_guest.runtime is not None
        return self._ak_guest.runtime

    def teardown(self) -> None:
        """Shut the example's runtime down (every actor stopped, on_stop run)."""
        self._ak_guest.close()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for value in list(vars(cls).values()):
            for marker in _MARKERS:
                declared = getattr(value, marker, None)
                if declared is None or not inspect.iscoroutinefunction(declared.function):
                    continue
                # Hypothesis calls declared.function(machine, **drawn): make it a sync call
                # that runs the coroutine inside the example's runtime.
                replacement = dataclasses.replace(declared, function=_sync(declared.function))
                setattr(value, marker, replacement)
