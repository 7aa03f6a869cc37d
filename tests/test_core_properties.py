"""Property tests of the core: dispatch by MRO, conservation of messages, per-sender ordering.

Hypothesis drives plain sync tests, each example running its own ``trio.run`` on virtual time.
"""

# The suite asserts `expected == actual`, so literals sit on the left on purpose.

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

import actorkit as ak

SETTINGS = settings(max_examples=50, deadline=None)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run one example on an autojumping virtual clock, keeping its log events out of the way."""
    with capture_logs():
        return trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


# -- dispatch ------------------------------------------------------------------------------


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[list[list[int]], list[bool], list[bool]]:
    """Bases of each class (indices of earlier classes), which are handled, and where."""
    size = draw(st.integers(1, 7))
    bases = [
        draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if i else []
        for i in range(size)
    ]
    handled = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    in_subclass = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    return bases, handled, in_subclass


def build_messages(bases: list[list[int]]) -> list[type]:
    classes: list[type] = []
    for i, indices in enumerate(bases):
        parents = tuple(classes[j] for j in indices) or (object,)
        try:
            cls = type(f"M{i}", parents, {})
        except TypeError:  # no consistent MRO for that combination: keep the first base
            cls = type(f"M{i}", parents[:1], {})
        classes.append(ak.register_immutable(cls))
    return classes


def replying(index: int) -> Callable[[Any, Any], Awaitable[int]]:
    async def handler(self: Any, msg: Any) -> int:
        return index

    return handler


def build_actor(classes: list[type], handled: list[bool], in_subclass: list[bool]) -> type:
    """An actor handling the chosen classes, its handlers split between a base and a subclass."""
    base_ns: dict[str, Any] = {}
    sub_ns: dict[str, Any] = {}
    for i, cls in enumerate(classes):
        if handled[i]:
            ns = sub_ns if in_subclass[i] else base_ns
            ns[f"handle_{i}"] = ak.on(cls)(replying(i))
    base = type("DispatchBase", (ak.Actor,), base_ns)
    return type("Dispatch", (base,), sub_ns)


@SETTINGS
@given(hierarchies())
def test_dispatch_picks_the_nearest_handled_class_in_the_mro(
    case: tuple[list[int], list[bool], list[bool]],
) -> None:
    """The handler run is the one for the first handled class in the message type's MRO."""
    bases, handled, in_subclass = case
    classes = build_messages(bases)
    actor_class = build_actor(classes, handled, in_subclass)
    handled_classes = {cls: i for i, cls in enumerate(classes) if handled[i]}
    expected = [
        next((handled_classes[k] for k in cls.__mro__ if k in handled_classes), "unhandled")
        for cls in classes
    ]

    async def scenario() -> list[Any]:
        replies: list[Any] = []
        async with ak.open_runtime() as rt:
            ref = await rt.spawn(actor_class)
            for cls in classes:
                try:
                    replies.append(await ref.ask(cls()))
                except ak.UnhandledMessage:
                    replies.append("unhandled")
            assert expected.count("unhandled") == rt.stats().dead_letters
        return replies

    assert expected == run(scenario)


# -- conservation --------------------------------------------------------------------------


@attrs.frozen
class Ok:
    n: int


@attrs.frozen
class Crash:
    pass


@attrs.frozen
class Stray:
    """No actor handles it."""


class Counter(ak.Actor):
    @ak.on(Ok)
    async def ok(self, msg: Ok) -> int:
        return msg.n

    @ak.on(Crash)
    async def crash(self, msg: Crash) -> None:
        raise RuntimeError("crash")


MESSAGES: dict[str, Any] = {"ok": Ok(1), "crash": Crash(), "stray": Stray(), "mutable": [1]}
DROPPING = {ak.Overflow.DROP_NEWEST, ak.Overflow.DROP_OLDEST}

mailboxes = st.builds(
    ak.Mailbox, capacity=st.integers(1, 3), overflow=st.sampled_from(list(ak.Overflow))
)
operations = st.tuples(
    st.sampled_from(["send", "send_nowait", "ask", "stop", "settle"]),
    st.integers(0, 2),
    st.sampled_from(sorted(MESSAGES)),
)


@SETTINGS
@given(st.lists(mailboxes, min_size=1, max_size=3), st.lists(operations, max_size=40))
def test_every_sent_message_is_processed_queued_or_dead(
    boxes: list[ak.Mailbox], ops: list[tuple[str, int, str]]
) -> None:
    """processed + queued + dead letters always equals the number of messages sent.

    A send refused with TypeError or MailboxFull is not sent. An ask dropped by a DROP_* mailbox
    raises MailboxFull but was accepted and became a dead letter, so it counts as sent.
    """

    async def scenario() -> None:
        sent = 0
        async with ak.open_runtime() as rt:

            def check() -> None:
                stats = rt.stats()
                assert sent == (
                    stats.messages_processed + stats.messages_queued + stats.dead_letters
                )

            refs = [await rt.spawn(Counter, mailbox=box) for box in boxes]
            for kind, index, what in ops:
                ref, box, msg = refs[index % len(refs)], boxes[index % len(refs)], MESSAGES[what]
                try:
                    if kind == "send":
                        await ref.send(msg)
                    elif kind == "send_nowait":
                        ref.send_nowait(msg)
                    elif kind == "ask":
                        with contextlib.suppress(
                            ak.ActorCrashed, ak.UnhandledMessage, ak.ActorStopped
                        ):
                            await ref.ask(msg)
                    elif kind == "stop":
                        await ref.stop()
                        continue
                    else:
                        await trio.testing.wait_all_tasks_blocked()
                        continue
                except TypeError:
                    pass
                except ak.MailboxFull:
                    if kind == "ask" and box.overflow in DROPPING:
                        sent += 1
                else:
                    sent += 1
                check()
        check()
        assert 0 == rt.stats().messages_queued

    run(scenario)


# -- ordering ------------------------------------------------------------------------------


@attrs.frozen
class Note:
    n: int


@attrs.frozen
class Log:
    pass


class Notebook(ak.Actor):
    def __init__(self) -> None:
        self.notes: list[int] = []

    @ak.on(Note)
    async def note(self, msg: Note) -> None:
        self.notes.append(msg.n)

    @ak.on(Log)
    async def log(self, msg: Log) -> tuple[int, ...]:
        return tuple(self.notes)


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(), st.booleans()), max_size=40),
    st.integers(1, 5),
)
def test_messages_from_one_sender_are_handled_in_send_order(
    notes: list[tuple[int, bool]], capacity: int
) -> None:
    """Whatever the mailbox size, one sender's sends and asks are handled in the order made."""

    async def scenario() -> tuple[int, ...]:
        async with ak.open_runtime() as rt:
            ref = await rt.spawn(Notebook, mailbox=ak.Mailbox(capacity=capacity))
            for n, by_ask in notes:
                if by_ask:
                    await ref.ask(Note(n))
                else:
                    await ref.send(Note(n))
            return await ref.ask(Log())

    assert tuple(n for n, _ in notes) == run(scenario)
