"""Property tests of supervision: which children restart, restart intensity, clean shutdown and
conservation of messages, over random sequences of crashes and normal exits.

Each example is a sync Hypothesis test running its own ``trio.run`` on a virtual clock, checked
against a small model of the supervisor.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

import actorkit as ak

SETTINGS = settings(max_examples=40, deadline=None)

PERMANENT, TRANSIENT, TEMPORARY = ak.Restart.PERMANENT, ak.Restart.TRANSIENT, ak.Restart.TEMPORARY


@attrs.frozen
class Crash:
    text: str


@attrs.frozen
class Exit:
    pass


@attrs.frozen
class Ping:
    pass


@attrs.define
class Journal:
    created: Counter[str] = attrs.Factory(Counter)
    made_at: list[float] = attrs.Factory(list)  # every instance after the first ones
    raised: dict[str, BaseException] = attrs.Factory(dict)


class Member(ak.Actor):
    """Counts its instances; crashes, exits or answers on request; may take long to stop."""

    def __init__(self, journal: Journal, stop_for: float = 0.0) -> None:
        self.journal = journal
        self.stop_for = stop_for
        name = self.ctx.name
        journal.created[name] += 1
        if journal.created[name] > 1:
            journal.made_at.append(trio.current_time())

    async def on_stop(self, reason: BaseException | None) -> None:
        if self.stop_for:
            await trio.sleep(self.stop_for)

    @ak.on(Crash)
    async def crash(self, msg: Crash) -> None:
        error = RuntimeError(msg.text)
        self.journal.raised[msg.text] = error
        raise error

    @ak.on(Exit)
    async def exit(self, msg: Exit) -> None:
        self.ctx.stop()

    @ak.on(Ping)
    async def ping(self, msg: Ping) -> None:
        pass


def names_of(count: int) -> list[str]:
    return [f"c{i}" for i in range(count)]


def run(scenario: Any) -> Any:
    """Run one example on an autojumping virtual clock, its log events captured (not printed)."""
    with capture_logs():
        return trio.run(scenario, clock=trio.testing.MockClock(autojump_threshold=0))


async def settle() -> None:
    await trio.testing.wait_all_tasks_blocked()


# -- which children restart ----------------------------------------------------------------

KINDS = st.sampled_from(["crash", "exit", "ping"])


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[ak.Restart], list[tuple[int, str, bool]]]:
    """Restart types of 3-5 children, and ops: (child, crash/exit/ping, settle afterwards)."""
    size = draw(st.integers(3, 5))
    types = draw(
        st.lists(st.sampled_from([PERMANENT, TRANSIENT, TEMPORARY]), min_size=size, max_size=size)
    )
    ops = draw(st.lists(st.tuples(st.integers(0, size - 1), KINDS, st.booleans()), max_size=20))
    return types, ops


@attrs.define
class Outcome:
    created: list[int]
    alive: list[bool]
    statuses: list[str | None]
    sent: int
    inside: ak.RuntimeStats
    after: ak.RuntimeStats
    tasks_before: int
    tasks_after: int


def run_tree(
    strategy: ak.Strategy,
    types: Sequence[ak.Restart],
    ops: Sequence[tuple[int, str, bool]],
) -> Outcome:
    """Start a supervisor of Members, apply ops in order, then close the runtime."""
    journal = Journal()
    names = names_of(len(types))
    children = [
        ak.Child(Member, args=(journal,), name=name, restart=restart)
        for name, restart in zip(names, types, strict=True)
    ]

    async def scenario() -> Outcome:
        tasks_before = trio.lowlevel.current_statistics().tasks_living
        sent = 0
        async with ak.open_runtime() as rt:
            await rt.start(ak.Supervisor("sup", strategy=strategy, children=children))
            refs = [rt.lookup(name) for name in names]
            for step, (index, kind, pause) in enumerate(ops):
                message = {"crash": Crash(f"op {step}"), "exit": Exit(), "ping": Ping()}[kind]
                await refs[index].send(message)
                sent += 1
                if pause:
                    await settle()
            await settle()
            alive = [ref.alive for ref in refs]
            tree = rt.tree()
            statuses = [
                node.status if (node := tree.find(name)) is not None else None for name in names
            ]
            inside = rt.stats()
        return Outcome(
            created=[journal.created[name] for name in names],
            alive=alive,
            statuses=statuses,
            sent=sent,
            inside=inside,
            after=rt.stats(),
            tasks_before=tasks_before,
            tasks_after=trio.lowlevel.current_statistics().tasks_living,
        )

    outcome: Outcome = run(scenario)
    return outcome


def model(
    group: str, types: Sequence[ak.Restart], ops: Sequence[tuple[int, str, bool]]
) -> tuple[list[int], list[bool], int, int]:
    """Instances per child, who is alive, and how many messages end processed / as dead letters.

    ``group``: "one" restarts the crashed child, "all" every live child, "rest" the crashed
    child and the live children after it.
    """
    created = [1] * len(types)
    alive = [True] * len(types)
    processed = dead = 0
    for index, kind, _ in ops:
        if not alive[index]:
            dead += 1
            continue
        restart = types[index]
        if kind == "ping":
            processed += 1
            continue
        if kind == "exit":
            processed += 1
            if restart is not PERMANENT:
                alive[index] = False
                continue
        else:
            dead += 1  # the crashing message
            if restart is TEMPORARY:
                alive[index] = False
                continue
        if group == "one":
            targets = [index]
        elif group == "all":
            targets = [j for j in range(len(types)) if alive[j]]
        else:
            targets = [j for j in range(index, len(types)) if alive[j]]
        for j in targets:
            created[j] += 1
    return created, alive, processed, dead


def check_clean_end(outcome: Outcome) -> None:
    """No actor and no task outlives the runtime, and every message is accounted for."""
    assert outcome.after.actors_live == 0
    assert outcome.after.messages_queued == 0
    assert outcome.tasks_after == outcome.tasks_before
    for stats in (outcome.inside, outcome.after):
        assert stats.messages_processed + stats.messages_queued + stats.dead_letters == outcome.sent


@SETTINGS
@given(trees())
def test_one_for_one_restarts_exactly_the_crashed_child(
    tree: tuple[list[ak.Restart], list[tuple[int, str, bool]]],
) -> None:
    """One-for-one: each child's instances = 1 + its own restarts; restart types honoured."""
    types, ops = tree
    outcome = run_tree(ak.OneForOne(max_restarts=None), types, ops)
    created, alive, processed, dead = model("one", types, ops)
    assert outcome.created == created
    assert outcome.alive == alive
    assert outcome.statuses == [("running" if a else None) for a in alive]
    assert (outcome.inside.messages_processed, outcome.inside.dead_letters) == (processed, dead)
    check_clean_end(outcome)


def one_at_a_time(
    tree: tuple[list[ak.Restart], list[tuple[int, str, bool]]],
) -> tuple[list[ak.Restart], list[tuple[int, str, bool]]]:
    """Settle after each op: a group restart is over before the next crash or exit."""
    types, ops = tree
    return types, [(index, kind, True) for index, kind, _ in ops]


@SETTINGS
@given(trees().map(one_at_a_time))
def test_one_for_all_restarts_every_live_child(
    tree: tuple[list[ak.Restart], list[tuple[int, str, bool]]],
) -> None:
    """One-for-all: each restart (crash, or PERMANENT exit) renews every live child."""
    types, ops = tree
    outcome = run_tree(ak.OneForAll(max_restarts=None), types, ops)
    created, alive, processed, dead = model("all", types, ops)
    assert outcome.created == created
    assert outcome.alive == alive
    assert outcome.statuses == [("running" if a else None) for a in alive]
    assert (outcome.inside.messages_processed, outcome.inside.dead_letters) == (processed, dead)
    check_clean_end(outcome)


@SETTINGS
@given(trees().map(one_at_a_time))
def test_rest_for_one_restarts_the_crashed_child_and_those_after_it(
    tree: tuple[list[ak.Restart], list[tuple[int, str, bool]]],
) -> None:
    """Rest-for-one: a restart renews the child and the live children started after it."""
    types, ops = tree
    outcome = run_tree(ak.RestForOne(max_restarts=None), types, ops)
    created, alive, processed, dead = model("rest", types, ops)
    assert outcome.created == created
    assert outcome.alive == alive
    assert outcome.statuses == [("running" if a else None) for a in alive]
    assert (outcome.inside.messages_processed, outcome.inside.dead_letters) == (processed, dead)
    check_clean_end(outcome)


# -- restart intensity ---------------------------------------------------------------------


Failure = tuple[int, int, str]  # (child, whole seconds before it, "crash" or "exit")


@st.composite
def crash_runs(
    draw: st.DrawFn, max_restarts: st.SearchStrategy[int]
) -> tuple[int, int, float, list[Failure]]:
    """Children (3-5, PERMANENT), max_restarts, within, and failures: crashes or normal exits."""
    size = draw(st.integers(3, 5))
    limit = draw(max_restarts)
    within = draw(st.sampled_from([2.0, 3.0, 5.0]))
    failure = st.tuples(
        st.integers(0, size - 1), st.integers(0, 3), st.sampled_from(["crash", "exit"])
    )
    crashes = draw(st.lists(failure, min_size=1, max_size=25))
    return size, limit, within, crashes


def intensity_model(limit: int, within: float, crashes: Sequence[Failure]) -> int | None:
    """The index of the failure that exceeds ``limit`` restarts within ``within`` s, if any."""
    times: deque[float] = deque()
    now = 0.0
    for step, (_, gap, _) in enumerate(crashes):
        now += gap
        while times and times[0] <= now - within:
            times.popleft()
        if len(times) >= limit:
            return step
        times.append(now)
    return None


@attrs.define
class IntensityOutcome:
    reached: int
    gave_up: ak.SupervisorGaveUp | None
    ended_at: float
    created: list[int]
    made_at: list[float]
    raised: dict[str, BaseException]
    live_after: int
    tasks_before: int
    tasks_after: int


def run_crashes(size: int, limit: int, within: float, crashes: Sequence[Failure]) -> Any:
    journal = Journal()
    names = names_of(size)
    tree = ak.Supervisor(
        "root",
        strategy=ak.OneForOne(max_restarts=limit, within=within),
        children=[ak.Child(Member, args=(journal,), name=name) for name in names],
    )

    async def scenario() -> IntensityOutcome:
        tasks_before = trio.lowlevel.current_statistics().tasks_living
        reached = -1
        gave_up = None
        rt = None
        try:
            async with ak.open_runtime() as rt:
                await rt.start(tree)
                refs = [rt.lookup(name) for name in names]
                for step, (index, gap, kind) in enumerate(crashes):
                    await trio.sleep(gap)
                    reached = step
                    await refs[index].send(Crash(f"op {step}") if kind == "crash" else Exit())
                    await settle()
                await trio.sleep(1.0)
        except ak.SupervisorGaveUp as exc:
            gave_up = exc
        assert rt is not None
        return IntensityOutcome(
            reached=reached,
            gave_up=gave_up,
            ended_at=trio.current_time(),
            created=[journal.created[name] for name in names],
            made_at=list(journal.made_at),
            raised=journal.raised,
            live_after=rt.stats().actors_live,
            tasks_before=tasks_before,
            tasks_after=trio.lowlevel.current_statistics().tasks_living,
        )

    return run(scenario)


def check_window(made_at: Sequence[float], limit: int, within: float) -> None:
    """No window of ``within`` seconds holds more than ``limit`` restarts."""
    for end in made_at:
        assert sum(1 for t in made_at if end - within < t <= end) <= limit


@SETTINGS
@given(crash_runs(st.integers(0, 4)))
def test_intensity_is_never_exceeded_and_giving_up_happens_exactly_when_it_would_be(
    run_spec: tuple[int, int, float, list[Failure]],
) -> None:
    """Small intensity: never exceeded; giving up happens exactly at the failure exceeding it."""
    # The cause is that crash's exception (ActorStopped for a normal exit); time stops there.
    size, limit, within, crashes = run_spec
    outcome = run_crashes(size, limit, within, crashes)
    expected_step = intensity_model(limit, within, crashes)
    check_window(outcome.made_at, limit, within)
    assert outcome.live_after == 0
    assert outcome.tasks_after == outcome.tasks_before
    done = crashes if expected_step is None else crashes[:expected_step]
    created = [1] * size
    for index, _, _ in done:
        created[index] += 1
    assert outcome.created == created
    if expected_step is None:
        assert outcome.gave_up is None
        assert outcome.ended_at == sum(gap for _, gap, _ in crashes) + 1.0
    else:
        assert outcome.gave_up is not None
        assert outcome.reached == expected_step
        cause = outcome.gave_up.__cause__
        if crashes[expected_step][2] == "crash":
            assert cause is outcome.raised[f"op {expected_step}"]
        else:
            assert isinstance(cause, ak.ActorStopped)
        assert outcome.ended_at == sum(gap for _, gap, _ in crashes[: expected_step + 1])


@SETTINGS
@given(crash_runs(st.just(1000)))
def test_large_intensity_never_gives_up(
    run_spec: tuple[int, int, float, list[Failure]],
) -> None:
    """Large intensity: every crash and exit is restarted and the runtime closes normally."""
    size, limit, within, crashes = run_spec
    outcome = run_crashes(size, limit, within, crashes)
    assert outcome.gave_up is None
    assert sum(outcome.created) == size + len(crashes)
    assert outcome.live_after == 0
    assert outcome.tasks_after == outcome.tasks_before


# -- nothing survives the runtime ----------------------------------------------------------


@st.composite
def shutdown_trees(draw: st.DrawFn) -> tuple[list[tuple[float, float]], list[tuple[int, str]]]:
    """Per child (3-5): (shutdown deadline, how long its on_stop takes); ops to apply."""
    size = draw(st.integers(3, 5))
    children = draw(
        st.lists(
            st.tuples(st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([0.0, 0.25, 1000.0])),
            min_size=size,
            max_size=size,
        )
    )
    ops = draw(st.lists(st.tuples(st.integers(0, size - 1), KINDS), max_size=10))
    return children, ops


@SETTINGS
@given(
    shutdown_trees(),
    st.sampled_from([ak.OneForOne, ak.OneForAll, ak.RestForOne, ak.Escalate]),
)
def test_no_task_survives_the_runtime(
    spec: tuple[list[tuple[float, float]], list[tuple[int, str]]], strategy: type[ak.Strategy]
) -> None:
    """Whatever happened, closing the runtime ends every actor and task in bounded time."""
    # Crashes, exits, escalations (Escalate: the root restarts the sub-supervisor), restarts
    # in progress, on_stops that hang. The bound is twice the children's shutdown deadlines:
    # a group restart under way when the runtime closes first finishes (pausing each sibling
    # within its deadline), then its new instances stop.
    children_spec, ops = spec
    journal = Journal()
    names = names_of(len(children_spec))
    children = [
        ak.Child(Member, args=(journal, stop_for), name=name, shutdown=shutdown)
        for name, (shutdown, stop_for) in zip(names, children_spec, strict=True)
    ]
    tree = ak.Supervisor(
        "root",
        strategy=ak.OneForOne(max_restarts=None),
        children=[ak.Supervisor("sub", strategy=strategy(max_restarts=None), children=children)],
    )
    bound = 2 * sum(shutdown for shutdown, _ in children_spec)

    async def scenario() -> None:
        tasks_before = trio.lowlevel.current_statistics().tasks_living
        async with ak.open_runtime() as rt:
            await rt.start(tree)
            for index, kind in ops:
                message = {"crash": Crash("x"), "exit": Exit(), "ping": Ping()}[kind]
                try:
                    ref = rt.lookup(names[index])
                except ak.ActorNotFound:  # its sub-supervisor is being restarted
                    continue
                await ref.send(message)
                with trio.move_on_after(3 * bound + 10):
                    await settle()
            closing = trio.current_time()
        assert trio.current_time() - closing <= bound
        assert rt.stats().actors_live == 0
        assert trio.lowlevel.current_statistics().tasks_living == tasks_before

    run(scenario)


def test_models_agree_with_the_spec() -> None:
    """The test model itself: one crash of the 2nd of 4 PERMANENT children."""
    types = [PERMANENT] * 4
    ops = [(1, "crash", True)]
    assert model("one", types, ops)[0] == [1, 2, 1, 1]
    assert model("all", types, ops)[0] == [2, 2, 2, 2]
    assert model("rest", types, ops)[0] == [1, 2, 2, 2]
    assert intensity_model(2, 5.0, [(0, 0, "crash"), (0, 0, "exit"), (0, 0, "crash")]) == 2
    assert intensity_model(2, 5.0, [(0, 0, "crash"), (0, 0, "exit"), (0, 5, "crash")]) is None


@pytest.mark.parametrize("group", ["all", "rest"])
def test_group_model_skips_children_stopped_for_good(group: str) -> None:
    """The model: a TEMPORARY child that crashed is gone and not restarted with its group."""
    types = [PERMANENT, TEMPORARY, PERMANENT]
    ops = [(1, "crash", True), (0, "crash", True)]
    created, alive, _, _ = model(group, types, ops)
    assert alive == [True, False, True]
    assert created == [2, 1, 2]
