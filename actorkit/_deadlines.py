"""Ask timeouts, fired by one task per runtime instead of a cancel scope per ask.

A Trio cancel scope with a deadline costs about 8 µs to enter and leave, as much as the whole
ask round trip it would guard. Here an ask costs one heap push; one task sleeps until the
earliest deadline and fails the asks still waiting then. Answered asks are not removed one by
one: the heap is compacted when it grows, which keeps the cost per ask constant.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING

import trio

from ._errors import AskTimeout

if TYPE_CHECKING:
    from ._ref import AskRequest

__all__ = ["Deadlines"]

_COMPACT_AT = 1024


class Deadlines:
    """The timer behind every ``ask(timeout=...)`` of one runtime."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, AskRequest, float, str]] = []
        self._order = itertools.count()
        self._compact_at = _COMPACT_AT
        self._wake: trio.CancelScope | None = None
        self._armed_for = math.inf
        # Shielded: asks made while the runtime shuts down still time out; close() ends it.
        self._life = trio.CancelScope(shield=True)

    def add(self, request: AskRequest, deadline: float, timeout: float, actor: str) -> None:
        heapq.heappush(self._heap, (deadline, next(self._order), request, timeout, actor))
        if deadline < self._armed_for and self._wake is not None:
            self._armed_for = deadline
            self._wake.deadline = deadline
        if len(self._heap) >= self._compact_at:
            self._compact()

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if not entry[2].done]
        heapq.heapify(self._heap)
        # Keep compaction amortised O(1) even when many asks are pending at once.
        self._compact_at = max(_COMPACT_AT, 2 * len(self._heap))

    def close(self) -> None:
        """End :meth:`run` (once every actor has stopped)."""
        self._life.cancel()

    async def run(self) -> None:
        """Fire deadlines until :meth:`close`."""
        with self._life:
            await self._fire_forever()

    async def _fire_forever(self) -> None:
        while True:
            heap = self._heap
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                _, _, request, timeout, actor = heapq.heappop(heap)
                if not request.done:
                    request.expire(AskTimeout(f"{actor} did not answer within {timeout} s"))
            self._armed_for = heap[0][0] if heap else math.inf
            with trio.CancelScope(deadline=self._armed_for) as self._wake:
                await trio.sleep_forever()
            self._wake = None
