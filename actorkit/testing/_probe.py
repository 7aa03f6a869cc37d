"""Probe: an actor that records what it receives, for tests to assert on.

Give ``probe.ref`` to the actor under test (as a reply-to, a watcher, a subscriber), then
``await probe.expect(Msg)``. Every wait runs on Trio's clock, so under ``MockClock`` a probe
that waits three seconds for nothing costs no real time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import trio

from .._actor import Actor, on
from .._logging import short_repr
from .._messages import EVENTS, RuntimeEvent, Terminated
from .._ref import ActorRef
from .._runtime import Runtime

__all__ = ["Probe", "ProbeFailure"]

M = TypeVar("M")

DEFAULT_TIMEOUT = 3.0


class ProbeFailure(AssertionError):
    """A probe did not receive what the test expected; the message shows what did arrive."""


class _Recorder(Actor):
    """Keeps every message it receives, in order, and wakes whoever waits."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.arrived = trio.Event()

    @on(object)
    async def record(self, message: Any) -> None:
        self.received.append(message)
        self.arrived.set()
        self.arrived = trio.Event()


class Probe:
    """A test's stand-in actor. Get one from the ``probe`` fixture or :meth:`Probe.start`.

    Messages are consumed in arrival order: :meth:`expect` takes the next one and checks it.
    """

    def __init__(self, runtime: Runtime, ref: ActorRef) -> None:
        self.runtime = runtime
        self.ref = ref
        self._position = 0

    @classmethod
    async def start(cls, runtime: Runtime, name: str | None = None) -> Probe:
        """Spawn a probe in ``runtime``."""
        return cls(runtime, await runtime.spawn(_Recorder, name=name))

    @property
    def _recorder(self) -> _Recorder:
        instance = self.ref._cell.instance
        if not isinstance(instance, _Recorder):
            raise ProbeFailure(f"the probe {self.ref.name} is no longer running")
        return instance

    @property
    def received(self) -> list[Any]:
        """Everything the probe has received, consumed or not."""
        return list(self._recorder.received)

    @property
    def pending(self) -> list[Any]:
        """What has arrived and has not been consumed by an ``expect`` yet."""
        return self._recorder.received[self._position :]

    async def _settle(self, recorder: _Recorder) -> None:
        """Let the recorder take what is already in the probe's mailbox: it has arrived.

        Without this, whether a message delivered by the deadline (or before a zero timeout)
        counts would depend on which of the two tasks Trio happens to run first.
        """
        cell = self.ref._cell
        # The recorder is ready to run whenever its mailbox holds something, and it takes up to
        # a fairness batch per step without awaiting: a few scheduler passes always suffice,
        # and the bound keeps a stopped (or deliberately hung) probe from stalling the test.
        with trio.CancelScope(shield=True):
            for _ in range(len(cell.mailbox) + 2):
                if not len(cell.mailbox) or cell.instance is not recorder:
                    return
                await trio.lowlevel.checkpoint()

    async def _next(self, timeout: float, what: str) -> Any:
        recorder = self._recorder
        with trio.move_on_after(timeout):
            while self._position >= len(recorder.received):
                await recorder.arrived.wait()
        if self._position >= len(recorder.received):
            await self._settle(recorder)
        if self._position < len(recorder.received):
            message = recorder.received[self._position]
            self._position += 1
            return message
        raise ProbeFailure(
            f"expected {what} within {timeout} s, but nothing more arrived.\n{self._history()}"
        )

    def _history(self) -> str:
        received = self._recorder.received
        if not received:
            return "The probe has received nothing at all."
        lines = [f"The probe received {len(received)} message(s):"]
        for index, message in enumerate(received):
            marker = "  (consumed)" if index < self._position else ""
            lines.append(f"  {index + 1}. {short_repr(message)}{marker}")
        return "\n".join(lines)

    async def expect(
        self,
        message_type: type[M],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        where: Callable[[M], bool] | None = None,
    ) -> M:
        """Take the next message; it must be a ``message_type`` (and satisfy ``where``).

        Returns it. Raises :class:`ProbeFailure`, listing what arrived, if the next message is
        something else or if nothing arrives within ``timeout`` seconds.
        """
        what = message_type.__qualname__ + (" matching the predicate" if where else "")
        message = await self._next(timeout, what)
        if not isinstance(message, message_type):
            raise ProbeFailure(
                f"expected {what}, but the next message was {short_repr(message)}.\n"
                f"{self._history()}"
            )
        if where is not None and not where(message):
            raise ProbeFailure(
                f"expected {what}, but the next message, {short_repr(message)}, "
                f"does not match it.\n{self._history()}"
            )
        return message

    async def expect_no_message(self, within: float = DEFAULT_TIMEOUT) -> None:
        """Wait ``within`` seconds; fail if any message arrives meanwhile."""
        await trio.sleep(within)
        await self._settle(self._recorder)
        if self.pending:
            raise ProbeFailure(
                f"expected no message within {within} s, but "
                f"{short_repr(self.pending[0])} arrived.\n{self._history()}"
            )

    def watch(self, ref: ActorRef) -> None:
        """Receive :class:`Terminated` when ``ref``'s actor ends."""
        self.ref._cell.watch(ref._cell)

    async def expect_terminated(
        self, ref: ActorRef, *, timeout: float = DEFAULT_TIMEOUT
    ) -> Terminated:
        """Take the next message; it must be ``Terminated`` for ``ref`` (watch it first)."""
        return await self.expect(Terminated, timeout=timeout, where=lambda t: t.ref == ref)

    def subscribe(self, topic: str) -> None:
        """Receive what is published on ``topic``."""
        self.runtime.subscribe(topic, self.ref)

    def subscribe_events(self) -> None:
        """Receive the runtime's events (crashes, restarts, dead letters, state changes, …)
        as :class:`ak.RuntimeEvent` messages."""
        self.runtime.subscribe(EVENTS, self.ref)

    async def expect_event(
        self, event: str, *, timeout: float = DEFAULT_TIMEOUT, **fields: Any
    ) -> Any:
        """Skip other messages until the runtime event ``event`` whose fields include
        ``fields`` arrives (``subscribe_events`` first); return it."""
        deadline = trio.current_time() + timeout
        while True:
            remaining = max(0.0, deadline - trio.current_time())
            message = await self._next(remaining, f"the event {event} with {fields}")
            if (
                isinstance(message, RuntimeEvent)
                and message.event == event
                and all(message.get(key) == value for key, value in fields.items())
            ):
                return message
