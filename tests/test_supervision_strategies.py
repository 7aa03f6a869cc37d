"""Supervision behaviour: strategies, directives, restart types, start/stop order, shutdown
deadlines, restarts in place, dynamic children, watchers and crash events.

Every test runs on Trio's virtual clock (the ``autojump_clock`` fixture below); the workers write
what happens to them, with the virtual time, into a per-test ``Journal``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from structlog.testing import capture_logs

import actorkit as ak


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline whenever every task is blocked."""
    return trio.testing.MockClock(autojump_threshold=0)


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Keep actorkit's events (crash tracebacks) from being rendered; tests capture their own."""
    with capture_logs():
        yield


# -- messages ------------------------------------------------------------------------------

ERRORS: dict[str, type[Exception]] = {
    "runtime": RuntimeError,
    "value": ValueError,
    "key": KeyError,
    "unicode": UnicodeError,
    "type": TypeError,
}


@attrs.frozen
class Crash:
    kind: str = "runtime"
    text: str = "boom"


@attrs.frozen
class Exit:
    pass


@attrs.frozen
class Incr:
    pass


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Work:
    seconds: float


@attrs.frozen
class Report:
    pass


# -- actors --------------------------------------------------------------------------------


@attrs.define
class Journal:
    """What the workers of one test did: instances made per name, and a timeline."""

    created: Counter[str] = attrs.Factory(Counter)
    timeline: list[tuple[Any, ...]] = attrs.Factory(list)
    raised: list[BaseException] = attrs.Factory(list)

    def note(self, *entry: Any) -> None:
        self.timeline.append(entry)

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [entry for entry in self.timeline if entry[0] == kind]

    def names(self, *kinds: str) -> list[tuple[str, str]]:
        return [(entry[0], entry[1]) for entry in self.timeline if entry[0] in kinds]


class Worker(ak.Actor):
    """Counts its instances; crashes, exits, counts, sleeps and reports on request."""

    def __init__(self, journal: Journal, start_for: float = 0.0, stop_for: float = 0.0) -> None:
        self.journal = journal
        self.start_for = start_for
        self.stop_for = stop_for
        journal.created[self.ctx.name] += 1
        self.instance = journal.created[self.ctx.name]
        self.count = 0
        journal.note("init", self.ctx.name, trio.current_time())

    async def on_start(self) -> None:
        if self.start_for:
            await trio.sleep(self.start_for)
        self.journal.note("start", self.ctx.name, trio.current_time())

    async def on_stop(self, reason: BaseException | None) -> None:
        self.journal.note("stop", self.ctx.name, trio.current_time(), reason)
        if self.stop_for:
            await trio.sleep(self.stop_for)
            self.journal.note("stopped", self.ctx.name, trio.current_time())

    @ak.on(Crash)
    async def crash(self, msg: Crash) -> None:
        error = ERRORS[msg.kind](msg.text)
        self.journal.raised.append(error)
        raise error

    @ak.on(Exit)
    async def exit(self, msg: Exit) -> None:
        self.ctx.stop()

    @ak.on(Incr)
    async def incr(self, msg: Incr) -> int:
        self.count += 1
        return self.count

    @ak.on(Get)
    async def get(self, msg: Get) -> tuple[int, int]:
        return self.instance, self.count

    @ak.on(Work)
    async def work(self, msg: Work) -> None:
        await trio.sleep(msg.seconds)
        self.journal.note("worked", self.ctx.name, trio.current_time())


class FailsToStart(ak.Actor):
    """Its on_start raises."""

    def __init__(self, journal: Journal) -> None:
        journal.note("init", self.ctx.name, trio.current_time())

    async def on_start(self) -> None:
        raise ValueError("cannot start")


class Watcher(ak.Actor):
    """Watches the refs it is given and keeps every Terminated it receives."""

    def __init__(self, *refs: ak.ActorRef) -> None:
        self.seen: list[ak.Terminated] = []
        for ref in refs:
            self.ctx.watch(ref)

    @ak.on(ak.Terminated)
    async def ended(self, msg: ak.Terminated) -> None:
        self.seen.append(msg)

    @ak.on(Report)
    async def report(self, msg: Report) -> tuple[ak.Terminated, ...]:
        return tuple(self.seen)


def workers(journal: Journal, names: str, **options: Any) -> list[ak.Child]:
    return [ak.Child(Worker, args=(journal,), name=name, **options) for name in names]


async def settle() -> None:
    """Let every task run until all are blocked (no virtual time passes)."""
    await trio.testing.wait_all_tasks_blocked()


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


@pytest.fixture
def dead_letters(monkeypatch: pytest.MonkeyPatch) -> list[ak.DeadLetter]:
    """Every DeadLetter the runtime counts, including the unlogged ones (reason "crashed").

    A crashing message's dead letter is not logged (actor_crashed reports it), so the only
    place to see its reason is the runtime's private counter, wrapped here.
    """
    seen: list[ak.DeadLetter] = []
    original = ak.Runtime._dead_letter

    def spy(self: ak.Runtime, letter: ak.DeadLetter, *args: Any, **kwargs: Any) -> None:
        seen.append(letter)
        original(self, letter, *args, **kwargs)

    monkeypatch.setattr(ak.Runtime, "_dead_letter", spy)
    return seen


# -- one-for-one, one-for-all, rest-for-one ------------------------------------------------


async def test_one_for_one_restarts_exactly_the_crashed_child(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """OneForOne: only the crashed child gets a new instance; its siblings keep theirs."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=ak.OneForOne(), children=workers(journal, "abcd"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.lookup("a").send(Incr())
        del journal.timeline[:]
        await rt.lookup("b").send(Crash())
        assert await rt.lookup("b").ask(Get()) == (2, 0)
        assert await rt.lookup("a").ask(Get()) == (1, 1)
        assert journal.created == Counter({"a": 1, "b": 2, "c": 1, "d": 1})
        assert journal.names("stop", "start") == [("stop", "b"), ("start", "b")]
        assert [(n.name, n.restarts) for n in rt.tree().roots[0].children] == [
            ("a", 0),
            ("b", 1),
            ("c", 0),
            ("d", 0),
        ]


async def test_one_for_all_restarts_every_child_in_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """OneForAll: others stop in reverse start order (on_stop runs), then all start in order."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=ak.OneForAll(), children=workers(journal, "abcd"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.lookup("a").send(Incr())
        del journal.timeline[:]
        with capture_logs() as logs:
            await rt.lookup("b").send(Crash())
            await settle()
        assert journal.names("stop", "start") == [
            ("stop", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("stop", "a"),
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]
        reasons = {entry[1]: entry[3] for entry in journal.of("stop")}
        assert isinstance(reasons.pop("b"), RuntimeError)
        assert reasons == {"a": None, "c": None, "d": None}
        assert journal.created == Counter({"a": 2, "b": 2, "c": 2, "d": 2})
        assert await rt.lookup("a").ask(Get()) == (2, 0)
        assert [e["path"] for e in events(logs, "actor_restarted")] == [
            "sup/a",
            "sup/b",
            "sup/c",
            "sup/d",
        ]
        crashed = events(logs, "actor_crashed")
        assert [(e["path"], e["decision"]) for e in crashed] == [("sup/b", "restart_siblings")]
        assert {n.status for n in rt.tree().roots[0].children} == {"running"}


async def test_one_for_all_waits_for_each_on_start_before_the_next(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """OneForAll restarts start each child after the previous one's on_start has finished."""
    journal = Journal()
    children = [
        ak.Child(Worker, args=(journal, 1.0), name="a"),
        ak.Child(Worker, args=(journal, 2.0), name="b"),
        ak.Child(Worker, args=(journal,), name="c"),
    ]
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", strategy=ak.OneForAll(), children=children))
        t0 = trio.current_time()
        del journal.timeline[:]
        await rt.lookup("c").send(Crash())
        assert await rt.lookup("c").ask(Get()) == (2, 0)
        starts = [(name, time - t0) for _, name, time in journal.of("start")]
        inits = [(name, time - t0) for _, name, time in journal.of("init")]
    assert starts == [("a", 1.0), ("b", 3.0), ("c", 3.0)]
    assert inits == [("a", 0.0), ("b", 1.0), ("c", 3.0)]


async def test_rest_for_one_restarts_the_crashed_child_and_those_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """RestForOne: later siblings stop in reverse, then the crashed one and they start in order."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=ak.RestForOne(), children=workers(journal, "abcd"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.lookup("a").send(Incr())
        del journal.timeline[:]
        await rt.lookup("b").send(Crash())
        await settle()
        assert journal.names("stop", "start") == [
            ("stop", "b"),
            ("stop", "d"),
            ("stop", "c"),
            ("start", "b"),
            ("start", "c"),
            ("start", "d"),
        ]
        assert journal.created == Counter({"a": 1, "b": 2, "c": 2, "d": 2})
        assert await rt.lookup("a").ask(Get()) == (1, 1)


async def test_rest_for_one_crash_of_the_last_child_restarts_only_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """RestForOne: when the last child crashes, nobody else is touched."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=ak.RestForOne(), children=workers(journal, "abc"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.lookup("c").send(Crash())
        await settle()
        assert journal.created == Counter({"a": 1, "b": 1, "c": 2})


async def test_one_for_all_siblings_queued_messages_reach_their_new_instances(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Messages sent to a sibling during a group restart wait for its new instance."""
    journal = Journal()
    strategy = ak.OneForAll(backoff=ak.Backoff(initial=1.0, maximum=1.0, jitter=0))
    tree = ak.Supervisor("sup", strategy=strategy, children=workers(journal, "ab"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        b = rt.lookup("b")
        await b.send(Incr())
        await rt.lookup("a").send(Crash())
        await settle()  # b's old instance has stopped; the group waits out the backoff
        assert journal.created["b"] == 1
        assert rt.tree().find("b").status == "backing-off"  # type: ignore[union-attr]
        for _ in range(3):
            await b.send(Incr())
        assert await b.ask(Get()) == (2, 3)
        assert trio.current_time() == 1.0
        assert rt.stats().dead_letters == 1  # only the crashing message


async def test_one_for_all_handles_simultaneous_crashes_with_one_group_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Two children crashing before the group restart: every child is restarted once."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=ak.OneForAll(), children=workers(journal, "abc"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.lookup("a").send(Crash())
        await rt.lookup("c").send(Crash())  # crashes in the same scheduling pass as a
        await settle()
        assert journal.created == Counter({"a": 2, "b": 2, "c": 2})


@pytest.mark.parametrize("strategy", [ak.OneForAll, ak.RestForOne])
async def test_permanent_child_exiting_normally_restarts_its_group(
    autojump_clock: trio.testing.MockClock, strategy: type[ak.Strategy]
) -> None:
    """A PERMANENT child's ctx.stop() under OneForAll/RestForOne restarts it with its group."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=strategy(), children=workers(journal, "abc"))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.lookup("b").send(Exit())
        await settle()
        assert rt.tree().find("b").status == "running"  # type: ignore[union-attr]
        assert journal.created["b"] == 2
        assert journal.created["c"] == 2


@pytest.mark.parametrize("strategy", [ak.OneForAll, ak.RestForOne])
async def test_transient_child_exiting_normally_does_not_restart_its_group(
    autojump_clock: trio.testing.MockClock, strategy: type[ak.Strategy]
) -> None:
    """A TRANSIENT child's normal exit under OneForAll/RestForOne leaves its siblings alone."""
    journal = Journal()
    children = [
        ak.Child(Worker, args=(journal,), name="a"),
        ak.Child(Worker, args=(journal,), name="b", restart=ak.Restart.TRANSIENT),
        ak.Child(Worker, args=(journal,), name="c"),
    ]
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", strategy=strategy(), children=children))
        b = rt.lookup("b")
        await b.send(Exit())
        await settle()
        assert not b.alive
        assert journal.created == Counter({"a": 1, "b": 1, "c": 1})
        assert [n.name for n in rt.tree().roots[0].children] == ["a", "c"]


@pytest.mark.parametrize("strategy", [ak.OneForAll, ak.RestForOne])
async def test_group_restart_after_a_stopped_child_skips_it(
    autojump_clock: trio.testing.MockClock, strategy: type[ak.Strategy]
) -> None:
    """A child stopped for good is not brought back when its group restarts later."""
    journal = Journal()
    tree = ak.Supervisor("sup", strategy=strategy(), children=workers(journal, "abc"))
    async with ak.open_runtime() as rt:
        sup = await rt.start(tree)
        await sup.stop_child("b")
        await rt.lookup("a").send(Crash())
        await settle()
        assert [n.name for n in rt.tree().roots[0].children] == ["a", "c"]
        assert journal.created == Counter({"a": 2, "b": 1, "c": 2})


# -- directives ----------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [ak.OneForOne, ak.OneForAll, ak.RestForOne, ak.CircuitBreak])
async def test_resume_keeps_the_instance_and_its_state(
    autojump_clock: trio.testing.MockClock,
    strategy: type[ak.Strategy],
    dead_letters: list[ak.DeadLetter],
) -> None:
    """RESUME keeps the same instance and state, on any strategy; the message is dropped."""
    journal = Journal()
    tree = ak.Supervisor(
        "sup",
        strategy=strategy(decide={ValueError: ak.Directive.RESUME}),
        children=workers(journal, "ab"),
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        await a.send(Incr())
        await a.send(Incr())
        with capture_logs() as logs, pytest.raises(ak.ActorCrashed):
            await a.ask(Crash("value"))
        assert await a.ask(Get()) == (1, 2)
        assert journal.created == Counter({"a": 1, "b": 1})
        assert journal.of("stop") == []
    assert [e["decision"] for e in events(logs, "actor_crashed")] == ["resume"]
    assert events(logs, "actor_restarted") == []
    assert [(d.message, d.reason) for d in dead_letters] == [(Crash("value"), "crashed")]


@pytest.mark.parametrize("strategy", [ak.OneForOne, ak.OneForAll, ak.RestForOne])
async def test_restart_directive_gives_a_new_instance_with_fresh_state(
    autojump_clock: trio.testing.MockClock, strategy: type[ak.Strategy]
) -> None:
    """An explicit RESTART directive replaces the instance: its state starts again."""
    journal = Journal()
    tree = ak.Supervisor(
        "sup",
        strategy=strategy(decide={Exception: ak.Directive.STOP, KeyError: ak.Directive.RESTART}),
        children=workers(journal, "a"),
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        await a.send(Incr())
        await a.send(Crash("key"))
        assert await a.ask(Get()) == (2, 0)


@pytest.mark.parametrize("strategy", [ak.OneForOne, ak.OneForAll, ak.RestForOne, ak.CircuitBreak])
async def test_stop_directive_stops_the_child_for_good(
    autojump_clock: trio.testing.MockClock, strategy: type[ak.Strategy]
) -> None:
    """STOP ends the child for good (siblings untouched); its watchers get the cause."""
    journal = Journal()
    tree = ak.Supervisor(
        "sup",
        strategy=strategy(decide={KeyError: ak.Directive.STOP}),
        children=workers(journal, "abc"),
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        b = rt.lookup("b")
        watcher = await rt.spawn(Watcher, b)
        with capture_logs() as logs:
            await b.send(Crash("key", "no such account"))
            await settle()
        assert not b.alive
        with pytest.raises(ak.ActorNotFound):
            rt.lookup("b")
        assert journal.created == Counter({"a": 1, "b": 1, "c": 1})
        assert [n.name for n in rt.tree().find("sup").children] == ["a", "c"]  # type: ignore[union-attr]
        (terminated,) = await watcher.ask(Report())
        assert terminated.ref == b
        assert terminated.reason is journal.raised[0]
        assert await rt.lookup("c").ask(Get()) == (1, 0)
    assert [e["decision"] for e in events(logs, "actor_crashed")] == ["stop"]


async def test_decide_picks_the_most_specific_class_in_a_running_tree(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A subclass entry (ValueError: RESUME) beats its base (Exception: STOP) at run time."""
    journal = Journal()
    tree = ak.Supervisor(
        "sup",
        strategy=ak.OneForOne(
            decide={Exception: ak.Directive.STOP, ValueError: ak.Directive.RESUME}
        ),
        children=workers(journal, "a"),
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        await a.send(Incr())
        await a.send(Crash("unicode"))  # a ValueError subclass: resumed
        assert await a.ask(Get()) == (1, 1)
        await a.send(Crash("type"))  # only Exception matches: stopped
        await settle()
        assert not a.alive


async def test_default_directive_is_restart(autojump_clock: trio.testing.MockClock) -> None:
    """An exception not listed in decide= is restarted."""
    journal = Journal()
    tree = ak.Supervisor(
        "sup",
        strategy=ak.OneForOne(decide={KeyError: ak.Directive.STOP}),
        children=workers(journal, "a"),
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        await a.send(Crash("runtime"))
        assert await a.ask(Get()) == (2, 0)


# -- restart types -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "message", "restarted"),
    [
        (ak.Restart.PERMANENT, Crash(), True),
        (ak.Restart.PERMANENT, Exit(), True),
        (ak.Restart.TRANSIENT, Crash(), True),
        (ak.Restart.TRANSIENT, Exit(), False),
        (ak.Restart.TEMPORARY, Crash(), False),
        (ak.Restart.TEMPORARY, Exit(), False),
    ],
)
async def test_restart_types(
    autojump_clock: trio.testing.MockClock,
    restart: ak.Restart,
    message: Crash | Exit,
    restarted: bool,
) -> None:
    """PERMANENT restarts after crash and normal stop, TRANSIENT after crash, TEMPORARY never."""
    journal = Journal()
    tree = ak.Supervisor("sup", children=workers(journal, "a", restart=restart))
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        a = rt.lookup("a")
        watcher = await rt.spawn(Watcher, a)
        with capture_logs() as logs:
            await a.send(message)
            await settle()
        assert a.alive is restarted
        assert journal.created["a"] == (2 if restarted else 1)
        assert len(events(logs, "actor_restarted")) == (1 if restarted else 0)
        seen = await watcher.ask(Report())
        if restarted:
            assert seen == ()
            assert rt.lookup("a") == a
        else:
            (terminated,) = seen
            expected = journal.raised[0] if isinstance(message, Crash) else None
            assert terminated.reason is expected


# -- a restart keeps ref, name and mailbox ---------------------------------------------------


async def test_restarted_actor_keeps_ref_name_and_queued_messages(
    autojump_clock: trio.testing.MockClock, dead_letters: list[ak.DeadLetter]
) -> None:
    """Messages queued behind the crashing one reach the new instance; the crasher is dropped."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        a = rt.lookup("a")
        await a.send(Incr())
        await a.send(Crash("value"))
        await a.send(Incr())
        await a.send(Incr())
        assert await a.ask(Get()) == (2, 2)
        assert rt.lookup("a") is a
        assert a.alive
        assert a.name == "a"
        assert journal.created["a"] == 2  # the crash was not redelivered
        stats = rt.stats()
    assert [(d.message, d.recipient, d.reason) for d in dead_letters] == [
        (Crash("value"), "a", "crashed")
    ]
    assert stats.dead_letters == 1
    assert stats.crashes == 1


async def test_pending_ask_on_the_crashing_message_gets_actor_crashed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The ask of the message that crashed fails with ActorCrashed chaining the original."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        a = rt.lookup("a")
        with pytest.raises(ak.ActorCrashed) as excinfo:
            await a.ask(Crash("key", "missing"))
        assert await a.ask(Get()) == (2, 0)
    assert excinfo.value.__cause__ is journal.raised[0]
    assert excinfo.value.exc_type == "KeyError"
    assert excinfo.value.actor == "a"


async def test_on_stop_of_the_crashed_instance_gets_the_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Before a restart the old instance's on_stop runs with the crash as its reason."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        await rt.lookup("a").send(Crash())
        await settle()
        (stop,) = journal.of("stop")
    assert stop[3] is journal.raised[0]


async def test_tree_does_not_say_running_while_the_crashed_instance_stops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """While a crashed child's on_stop runs before its restart, its node is not 'running'."""
    journal = Journal()
    child = ak.Child(Worker, args=(journal, 0.0, 2.0), name="a")
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=[child]))
        a = rt.lookup("a")
        await a.send(Crash())
        await a.send(Incr())
        await trio.sleep(1.0)
        node = rt.tree().find("a")
        assert node is not None
        assert node.mailbox_depth == 1  # nothing is handled meanwhile
        assert node.status == "restarting"


async def test_restart_whose_on_start_fails_is_a_crash_too(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A new instance whose on_start raises is handled like a crash (and counted)."""
    attempts: list[float] = []

    class FlakyStart(ak.Actor):
        """Starts the first time and the third time; the second on_start raises."""

        async def on_start(self) -> None:
            attempts.append(trio.current_time())
            if len(attempts) == 2:
                raise OSError("disk busy")

        @ak.on(Crash)
        async def crash(self, msg: Crash) -> None:
            raise RuntimeError(msg.text)

        @ak.on(Get)
        async def get(self, msg: Get) -> int:
            return len(attempts)

    tree = ak.Supervisor("sup", children=[ak.Child(FlakyStart, name="f")])
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        with capture_logs() as logs:
            await rt.lookup("f").send(Crash())
            assert await rt.lookup("f").ask(Get()) == 3
    crashed = events(logs, "actor_crashed")
    assert [(e["error_type"], e["decision"]) for e in crashed] == [
        ("RuntimeError", "restart"),
        ("OSError", "restart"),
    ]


# -- start and stop order ------------------------------------------------------------------


async def test_children_start_in_order_each_after_the_previous_on_start(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Each child is made after the previous one's on_start finished; start returns last."""
    journal = Journal()
    children = [
        ak.Child(Worker, args=(journal, 1.0), name="a"),
        ak.Supervisor("inner", children=[ak.Child(Worker, args=(journal, 2.0), name="b")]),
        ak.Child(Worker, args=(journal, 0.5), name="c"),
    ]
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=children))
        returned_at = trio.current_time()
    assert journal.timeline == [
        ("init", "a", 0.0),
        ("start", "a", 1.0),
        ("init", "b", 1.0),
        ("start", "b", 3.0),
        ("init", "c", 3.0),
        ("start", "c", 3.5),
        ("stop", "c", 3.5, None),
        ("stop", "b", 3.5, None),
        ("stop", "a", 3.5, None),
    ]
    assert returned_at == 3.5


async def test_leaving_the_runtime_stops_children_in_reverse_order_depth_first(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Leaving open_runtime stops each tree's children in reverse start order, on_stop running."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Child(Worker, args=(journal,), name="a"),
            ak.Supervisor("mid", children=workers(journal, "bc")),
            ak.Child(Worker, args=(journal,), name="d"),
        ],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        await rt.start(ak.Supervisor("later", children=workers(journal, "e")))
        del journal.timeline[:]
    assert [entry[1] for entry in journal.of("stop")] == ["e", "d", "c", "b", "a"]
    assert rt.stats().actors_live == 0


async def test_start_failure_raises_start_failed_leading_to_the_original(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A child whose on_start raises makes rt.start raise StartFailed; causes lead to it."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Child(Worker, args=(journal,), name="a"),
            ak.Supervisor(
                "mid",
                children=[
                    ak.Child(Worker, args=(journal,), name="b"),
                    ak.Child(FailsToStart, args=(journal,), name="bad"),
                ],
            ),
            ak.Child(Worker, args=(journal,), name="never"),
        ],
    )
    async with ak.open_runtime() as rt:
        with pytest.raises(ak.StartFailed) as excinfo:
            await rt.start(tree)
    chain: list[BaseException] = []
    error: BaseException | None = excinfo.value
    while error is not None:
        chain.append(error)
        error = error.__cause__
    assert isinstance(chain[-1], ValueError)
    assert str(chain[-1]) == "cannot start"
    assert "bad" in str(excinfo.value)
    assert all(isinstance(e, ak.StartFailed) for e in chain[:-1])
    assert "never" not in journal.created
    assert {entry[1] for entry in journal.of("stop")} == {"a", "b"}
    assert rt.stats().actors_live == 0


async def test_constructor_failure_of_a_child_raises_start_failed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A child whose __init__ raises makes rt.start raise StartFailed with that cause."""

    class BadInit(ak.Actor):
        def __init__(self) -> None:
            raise LookupError("no config")

    async with ak.open_runtime() as rt:
        with pytest.raises(ak.StartFailed) as excinfo:
            await rt.start(ak.Supervisor("root", children=[ak.Child(BadInit, name="x")]))
    error: BaseException | None = excinfo.value
    while error is not None and error.__cause__ is not None:
        error = error.__cause__
    assert isinstance(error, LookupError)


async def test_after_start_failed_the_started_children_are_already_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """When rt.start raises StartFailed, the children it had started have stopped already."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Child(Worker, args=(journal,), name="a"),
            ak.Child(FailsToStart, args=(journal,), name="bad"),
        ],
    )
    async with ak.open_runtime() as rt:
        with pytest.raises(ak.StartFailed):
            await rt.start(tree)
        assert [entry[1] for entry in journal.of("stop")] == ["a"]
        assert rt.stats().actors_live == 0
        # so a corrected tree can be started at once, with the same names
        fixed = ak.Supervisor("root", children=workers(journal, "a"))
        await rt.start(fixed)


# -- shutdown deadlines --------------------------------------------------------------------


@pytest.mark.parametrize(("shutdown", "cut_at"), [(2.0, 2.0), (0.0, 0.0), (None, None)])
async def test_shutdown_deadline_cuts_off_a_hanging_on_stop(
    autojump_clock: trio.testing.MockClock, shutdown: float | None, cut_at: float | None
) -> None:
    """shutdown=s cuts an on_stop that hangs at exactly s; None lets it finish (100 s)."""
    journal = Journal()
    child = ak.Child(Worker, args=(journal, 0.0, 100.0), name="h", shutdown=shutdown)
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=[child]))
        t0 = trio.current_time()
        with capture_logs() as logs:
            await sup.stop_child("h")
        took = trio.current_time() - t0
    if cut_at is None:
        assert took == 100.0
        assert [e[1:3] for e in journal.of("stopped")] == [("h", t0 + 100.0)]
    else:
        assert took == cut_at
        assert journal.of("stopped") == []
        assert [e["after"] for e in events(logs, "actor_on_stop_timed_out")] == [shutdown]


async def test_default_shutdown_is_five_seconds(autojump_clock: trio.testing.MockClock) -> None:
    """Without shutdown=, a hanging on_stop is cut off after 5 s when the runtime closes."""
    journal = Journal()
    child = ak.Child(Worker, args=(journal, 0.0, 100.0), name="h")
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=[child]))
        t0 = trio.current_time()
    assert trio.current_time() - t0 == 5.0
    assert journal.of("stopped") == []


async def test_shutdown_cuts_a_busy_handler_and_on_stop_still_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A handler still busy at the shutdown deadline is cancelled; on_stop runs after it."""
    journal = Journal()
    child = ak.Child(Worker, args=(journal,), name="busy", shutdown=3.0)
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=[child]))
        await rt.lookup("busy").send(Work(1000.0))
        await settle()
        t0 = trio.current_time()
        await sup.stop_child("busy")
        assert trio.current_time() - t0 == 3.0
    assert journal.of("worked") == []
    assert [e[1:3] for e in journal.of("stop")] == [("busy", t0 + 3.0)]


async def test_one_hanging_on_stop_does_not_keep_the_others_from_stopping(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Leaving the runtime: a hanging on_stop is cut at its deadline and the rest still stop."""
    journal = Journal()
    children = [
        ak.Child(Worker, args=(journal,), name="a"),
        ak.Child(Worker, args=(journal, 0.0, 100.0), name="slow", shutdown=1.5),
        ak.Child(Worker, args=(journal,), name="c"),
    ]
    async with ak.open_runtime() as rt:
        await rt.start(ak.Supervisor("sup", children=children))
        t0 = trio.current_time()
    assert [(e[1], e[2] - t0) for e in journal.of("stop")] == [
        ("c", 0.0),
        ("slow", 0.0),
        ("a", 1.5),
    ]


@pytest.mark.parametrize("strategy", [ak.OneForOne, ak.OneForAll, ak.RestForOne])
async def test_stop_during_a_restart_ends_the_child_without_a_new_instance(
    autojump_clock: trio.testing.MockClock, strategy: type[ak.Strategy]
) -> None:
    """stop_child while a crashed child's on_stop runs: it ends when on_stop ends, not restarted."""
    journal = Journal()
    children = [
        ak.Child(Worker, args=(journal, 0.0, 2.0), name="a", shutdown=3.0),
        ak.Child(Worker, args=(journal,), name="b"),
    ]
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", strategy=strategy(), children=children))
        await rt.lookup("a").send(Crash())
        await trio.sleep(0.5)
        await sup.stop_child("a")
        assert trio.current_time() == 2.0
        assert journal.created["a"] == 1


# -- dynamic children ----------------------------------------------------------------------


async def test_start_child_returns_a_supervised_ref(autojump_clock: trio.testing.MockClock) -> None:
    """start_child starts the child after the others and returns its ref; it is supervised."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        ref = await sup.start_child(ak.Child(Worker, args=(journal,), name="dyn"))
        assert isinstance(ref, ak.ActorRef)
        assert ref.name == "dyn"
        assert rt.lookup("dyn") == ref
        assert [n.name for n in rt.tree().roots[0].children] == ["a", "dyn"]
        assert rt.tree().find("dyn").path == "sup/dyn"  # type: ignore[union-attr]
        await ref.send(Crash())
        assert await ref.ask(Get()) == (2, 0)


async def test_start_child_of_a_supervisor_spec_returns_a_supervisor_ref(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """start_child of an ak.Supervisor starts the subtree and returns its SupervisorRef."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup"))
        sub = await sup.start_child(ak.Supervisor("sub", children=workers(journal, "x")))
        assert isinstance(sub, ak.SupervisorRef)
        inner = await sub.start_child(ak.Child(Worker, args=(journal,), name="y"))
        assert rt.tree().find("y").path == "sup/sub/y"  # type: ignore[union-attr]
        assert await inner.ask(Get()) == (1, 0)


async def test_stop_child_stops_it_for_good(autojump_clock: trio.testing.MockClock) -> None:
    """stop_child stops a PERMANENT child without restarting it and frees its name."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=workers(journal, "ab")))
        a = rt.lookup("a")
        with capture_logs() as logs:
            await sup.stop_child("a")
            await settle()
        assert not a.alive
        assert journal.created["a"] == 1
        assert events(logs, "actor_restarted") == []
        with pytest.raises(ak.ActorNotFound):
            rt.lookup("a")
        assert [n.name for n in rt.tree().roots[0].children] == ["b"]
        again = await sup.start_child(ak.Child(Worker, args=(journal,), name="a"))
        assert await again.ask(Get()) == (2, 0)


async def test_stop_child_of_an_unknown_name_raises_actor_not_found(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """stop_child of a name the supervisor does not have raises ActorNotFound."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        await rt.spawn(Worker, journal, name="outsider")
        for name in ("nobody", "outsider"):
            with pytest.raises(ak.ActorNotFound) as excinfo:
                await sup.stop_child(name)
            assert excinfo.value.name == name
        assert rt.lookup("outsider").alive


async def test_max_children_refuses_one_more(autojump_clock: trio.testing.MockClock) -> None:
    """With max_children=N the (N+1)th start_child raises TooManyChildren; after a stop it fits."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("pool", max_children=2))
        await sup.start_child(ak.Child(Worker, args=(journal,), name="w1"))
        await sup.start_child(ak.Child(Worker, args=(journal,), name="w2"))
        with pytest.raises(ak.TooManyChildren) as excinfo:
            await sup.start_child(ak.Child(Worker, args=(journal,), name="w3"))
        assert excinfo.value.limit == 2
        assert "w3" not in journal.created
        await sup.stop_child("w1")
        await sup.start_child(ak.Child(Worker, args=(journal,), name="w3"))
        assert [n.name for n in rt.tree().roots[0].children] == ["w2", "w3"]


async def test_start_child_that_fails_to_start_raises_start_failed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A dynamic child whose on_start raises: StartFailed with the cause; the supervisor lives."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        with pytest.raises(ak.StartFailed) as excinfo:
            await sup.start_child(ak.Child(FailsToStart, args=(journal,), name="bad"))
        assert isinstance(excinfo.value.__cause__, ValueError)
        assert sup.alive
        assert [n.name for n in rt.tree().roots[0].children] == ["a"]


async def test_start_child_with_a_taken_name_raises_name_taken(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """start_child under a name in use raises NameTaken."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        with pytest.raises(ak.NameTaken):
            await sup.start_child(ak.Child(Worker, args=(journal,), name="a"))
        with pytest.raises(TypeError):
            await sup.start_child(Worker)  # type: ignore[arg-type]


# -- watchers ------------------------------------------------------------------------------


async def test_watchers_see_nothing_while_a_child_is_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A restart is not an end: watchers get Terminated only when the child stops for good."""
    journal = Journal()
    async with ak.open_runtime() as rt:
        sup = await rt.start(ak.Supervisor("sup", children=workers(journal, "a")))
        a = rt.lookup("a")
        watcher = await rt.spawn(Watcher, a)
        await a.send(Crash())
        await a.send(Exit())
        await settle()
        assert await watcher.ask(Report()) == ()
        await sup.stop_child("a")
        (terminated,) = await watcher.ask(Report())
    assert terminated.ref == a
    assert terminated.reason is None


# -- crash events --------------------------------------------------------------------------


async def test_crash_event_has_every_key(autojump_clock: trio.testing.MockClock) -> None:
    """actor_crashed carries path, error_type, error, message repr, decision and exc_info."""
    journal = Journal()
    tree = ak.Supervisor(
        "bank", children=[ak.Supervisor("gateways", children=workers(journal, "g"))]
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        with capture_logs() as logs:
            await rt.lookup("g").send(Crash("key", "card 42"))
            await settle()
    (event,) = events(logs, "actor_crashed")
    assert event["path"] == "bank/gateways/g"
    assert event["error_type"] == "KeyError"
    assert event["error"] == str(KeyError("card 42"))
    assert event["message"] == repr(Crash("key", "card 42"))
    assert event["decision"] == "restart"
    assert event["exc_info"] is journal.raised[0]
    assert event["log_level"] == "error"
    (restarted,) = events(logs, "actor_restarted")
    assert restarted["path"] == "bank/gateways/g"
    assert restarted["restarts"] == 1


@pytest.mark.parametrize(
    ("strategy", "kind", "decision"),
    [
        (ak.OneForOne(), "runtime", "restart"),
        (ak.OneForOne(decide={ValueError: ak.Directive.RESUME}), "value", "resume"),
        (ak.OneForOne(decide={KeyError: ak.Directive.STOP}), "key", "stop"),
        (ak.OneForOne(decide={KeyError: ak.Directive.ESCALATE}), "key", "escalate"),
        (ak.Escalate(), "runtime", "escalate"),
        (ak.OneForOne(max_restarts=0), "runtime", "escalate"),
        (ak.CircuitBreak(failures=1), "runtime", "circuit_open"),
        (ak.OneForAll(), "runtime", "restart_siblings"),
        (ak.RestForOne(), "runtime", "restart_siblings"),
    ],
    ids=[
        "restart",
        "resume",
        "stop",
        "decide-escalate",
        "escalate-strategy",
        "intensity",
        "circuit",
        "one-for-all",
        "rest-for-one",
    ],
)
async def test_every_crash_makes_exactly_one_crash_event(
    autojump_clock: trio.testing.MockClock, strategy: ak.Strategy, kind: str, decision: str
) -> None:
    """One crash of a leaf: exactly one actor_crashed for it, with the decision taken."""
    journal = Journal()
    tree = ak.Supervisor(
        "root",
        children=[ak.Supervisor("sup", strategy=strategy, children=workers(journal, "ab"))],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        with capture_logs() as logs:
            await rt.lookup("a").send(Crash(kind))
            await settle()
    leaf = [e for e in events(logs, "actor_crashed") if e["path"] == "root/sup/a"]
    assert [e["decision"] for e in leaf] == [decision]
    assert rt.stats().crashes >= 1
