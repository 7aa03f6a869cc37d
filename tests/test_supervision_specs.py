"""Supervision specs: validation, Backoff, directive choice, issue #3's example, rt.tree().

The async tests run on Trio's virtual clock (the ``autojump_clock`` fixture below).
"""

from __future__ import annotations

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


# -- messages and actors of issue #3's example --------------------------------------------------


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Balance:
    pass


@attrs.frozen
class Charge:
    cents: int


class Account(ak.Actor):
    """A bank account holding a balance."""

    def __init__(self, opening: int = 0) -> None:
        self.balance = opening

    @ak.on(Deposit)
    async def deposit(self, msg: Deposit) -> int:
        if msg.amount <= 0:
            raise ValueError(f"a deposit must be positive, got {msg.amount}")
        self.balance += msg.amount
        return self.balance

    @ak.on(Balance)
    async def report(self, msg: Balance) -> int:
        return self.balance


class Gateway(ak.Actor):
    """A card gateway whose charges fail when the amount is negative."""

    @ak.on(Charge)
    async def charge(self, msg: Charge) -> str:
        if msg.cents < 0:
            raise ConnectionError("card service unreachable")
        return f"charged {msg.cents}"


class NotAnActor:
    """A plain class: not an ak.Actor."""


def bank_tree() -> ak.Supervisor:
    return ak.Supervisor(
        "bank",
        strategy=ak.OneForOne(
            max_restarts=3, within=5.0, backoff=ak.Backoff(initial=0.05, maximum=2.0)
        ),
        children=[
            ak.Child(Account, args=(100,), name="alice"),
            ak.Child(Account, args=(50,), name="bob", restart=ak.Restart.TRANSIENT, shutdown=2.0),
            ak.Supervisor(
                "gateways",
                strategy=ak.CircuitBreak(failures=5, within=10.0, reset_after=30.0),
                children=[ak.Child(Gateway, name="card-gateway")],
            ),
        ],
    )


# -- issue #3's example ----------------------------------------------------------------------


async def test_issue_example_runs_as_written(autojump_clock: trio.testing.MockClock) -> None:
    """The example of issue #3 runs unchanged and starts the whole tree."""
    tree = ak.Supervisor(
        "bank",
        strategy=ak.OneForOne(
            max_restarts=3, within=5.0, backoff=ak.Backoff(initial=0.05, maximum=2.0)
        ),
        children=[
            ak.Child(Account, args=(100,), name="alice"),
            ak.Child(Account, args=(50,), name="bob", restart=ak.Restart.TRANSIENT, shutdown=2.0),
            ak.Supervisor(
                "gateways",
                strategy=ak.CircuitBreak(failures=5, within=10.0, reset_after=30.0),
                children=[ak.Child(Gateway, name="card-gateway")],
            ),
        ],
    )
    async with ak.open_runtime() as rt:
        await rt.start(tree)
        alice = rt.lookup("alice")
        assert await alice.ask(Balance()) == 100
        assert await rt.lookup("bob").ask(Balance()) == 50
        assert await rt.lookup("card-gateway").ask(Charge(5)) == "charged 5"
        snapshot = rt.tree()
    assert [node.name for node in snapshot.roots] == ["bank"]
    bank = snapshot.roots[0]
    assert [child.name for child in bank.children] == ["alice", "bob", "gateways"]
    gateway = snapshot.find("card-gateway")
    assert gateway is not None
    assert gateway.path == "bank/gateways/card-gateway"
    assert not alice.alive


async def test_issue_example_start_returns_a_supervisor_ref(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """rt.start returns the root's SupervisorRef, named after the root supervisor."""
    async with ak.open_runtime() as rt:
        sup = await rt.start(bank_tree())
        assert isinstance(sup, ak.SupervisorRef)
        assert sup.name == "bank"
        assert rt.lookup("gateways").name == "gateways"
        assert isinstance(rt.lookup("gateways"), ak.SupervisorRef)


async def test_issue_example_gateway_crash_is_reported_with_its_path(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A crash deep in the example's tree is logged with the full path and restarted."""
    async with ak.open_runtime() as rt:
        await rt.start(bank_tree())
        gateway = rt.lookup("card-gateway")
        with capture_logs() as logs:
            with pytest.raises(ak.ActorCrashed):
                await gateway.ask(Charge(-1))
            assert await gateway.ask(Charge(3)) == "charged 3"
    crashes = [e for e in logs if e["event"] == "actor_crashed"]
    assert len(crashes) == 1
    assert crashes[0]["path"] == "bank/gateways/card-gateway"
    assert crashes[0]["error_type"] == "ConnectionError"
    assert crashes[0]["decision"] == "restart"
    restarted = [e for e in logs if e["event"] == "actor_restarted"]
    assert [e["path"] for e in restarted] == ["bank/gateways/card-gateway"]


# -- spec validation -----------------------------------------------------------------------


def test_child_of_a_non_actor_class_is_a_type_error() -> None:
    """ak.Child(NotAnActor) raises TypeError."""
    with pytest.raises(TypeError, match=r"ak\.Actor"):
        ak.Child(NotAnActor)  # type: ignore[arg-type]


def test_child_of_an_actor_instance_is_a_type_error() -> None:
    """ak.Child takes the class, not an instance of it."""
    with pytest.raises(TypeError):
        ak.Child(Account(1))  # type: ignore[arg-type]


def test_duplicate_child_names_in_one_supervisor_are_a_value_error() -> None:
    """Two children with the same name in one Supervisor raise ValueError naming it."""
    with pytest.raises(ValueError, match="alice"):
        ak.Supervisor(
            "bank",
            children=[ak.Child(Account, name="alice"), ak.Child(Account, name="alice")],
        )


def test_duplicate_names_between_a_child_and_a_sub_supervisor_are_a_value_error() -> None:
    """A child and a sub-supervisor sharing one name in one Supervisor raise ValueError."""
    with pytest.raises(ValueError, match="dup"):
        ak.Supervisor("root", children=[ak.Child(Account, name="dup"), ak.Supervisor("dup")])


def test_same_name_in_different_supervisors_is_accepted_by_the_spec() -> None:
    """Uniqueness is per Supervisor: the spec itself accepts one name in two subtrees."""
    tree = ak.Supervisor(
        "root",
        children=[
            ak.Supervisor("a", children=[ak.Child(Account, name="x")]),
            ak.Supervisor("b", children=[ak.Child(Account, name="y")]),
        ],
    )
    assert [child.name for child in tree.children] == ["a", "b"]


def test_unnamed_children_do_not_clash() -> None:
    """Several unnamed children of one class are accepted."""
    tree = ak.Supervisor("pool", children=[ak.Child(Account), ak.Child(Account)])
    assert len(tree.children) == 2


def test_supervisor_children_that_are_not_specs_but_have_a_name_are_a_type_error() -> None:
    """A child that is not an ak.Child or ak.Supervisor (but has a .name) is a TypeError."""

    @attrs.frozen
    class Named:
        name: str = "x"

    with pytest.raises(TypeError, match=r"ak\.Child or ak\.Supervisor"):
        ak.Supervisor("root", children=[Named()])  # type: ignore[list-item]


def test_supervisor_children_must_be_specs() -> None:
    """An actor class passed instead of ak.Child(...) is a TypeError, not an AttributeError."""
    with pytest.raises(TypeError):
        ak.Supervisor("root", children=[Account])  # type: ignore[list-item]


def test_supervisor_needs_a_name() -> None:
    """A supervisor without a non-empty str name is a TypeError."""
    with pytest.raises(TypeError):
        ak.Supervisor("")


async def test_starting_a_child_spec_as_a_tree_is_a_type_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """rt.start(ak.Child(...)) raises TypeError and starts nothing."""
    async with ak.open_runtime() as rt:
        with pytest.raises(TypeError, match=r"ak\.Supervisor"):
            await rt.start(ak.Child(Account, name="alice"))  # type: ignore[arg-type]
        assert rt.stats().actors_live == 0
        with pytest.raises(ak.ActorNotFound):
            rt.lookup("alice")


@pytest.mark.parametrize(
    "decide",
    [
        {ValueError: "resume"},
        {"ValueError": ak.Directive.RESUME},
        {ValueError(): ak.Directive.RESUME},
        {int: ak.Directive.STOP},
        {ValueError: ak.Restart.PERMANENT},
    ],
    ids=["str-directive", "str-class", "instance", "non-exception", "wrong-enum"],
)
@pytest.mark.parametrize("strategy", [ak.OneForOne, ak.OneForAll, ak.RestForOne, ak.CircuitBreak])
def test_bad_decide_mapping_is_a_type_error(strategy: type[ak.Strategy], decide: Any) -> None:
    """A decide= mapping that is not exception class -> ak.Directive raises TypeError."""
    with pytest.raises(TypeError):
        strategy(decide=decide)


@pytest.mark.parametrize("strategy", [ak.OneForOne, ak.OneForAll, ak.RestForOne, ak.Escalate])
def test_negative_max_restarts_is_a_value_error(strategy: type[ak.Strategy]) -> None:
    """max_restarts below zero raises ValueError; zero and None are accepted."""
    with pytest.raises(ValueError, match="max_restarts"):
        strategy(max_restarts=-1)
    assert strategy(max_restarts=0).max_restarts == 0
    assert strategy(max_restarts=None).max_restarts is None


@pytest.mark.parametrize("within", [0, -1.0])
def test_non_positive_within_is_a_value_error(within: float) -> None:
    """An intensity window that is not positive raises ValueError."""
    with pytest.raises(ValueError, match="within"):
        ak.OneForOne(within=within)


def test_negative_shutdown_is_a_value_error() -> None:
    """A negative shutdown= raises ValueError; None (wait for ever) is accepted."""
    with pytest.raises(ValueError, match="shutdown"):
        ak.Child(Account, shutdown=-1.0)
    assert ak.Child(Account, shutdown=None).shutdown is None


def test_strategy_defaults() -> None:
    """Defaults: 3 restarts in 5 s, no backoff, restart; a circuit has no intensity limit."""
    strategy = ak.OneForOne()
    assert (strategy.max_restarts, strategy.within, strategy.backoff) == (3, 5.0, None)
    assert strategy.directive_for(RuntimeError()) is ak.Directive.RESTART
    circuit = ak.CircuitBreak()
    assert (circuit.failures, circuit.within, circuit.reset_after) == (5, 10.0, 30.0)
    assert (circuit.factor, circuit.max_reset, circuit.max_restarts) == (2.0, None, None)
    child = ak.Child(Account)
    assert (child.restart, child.shutdown) == (ak.Restart.PERMANENT, 5.0)


def test_specs_are_immutable() -> None:
    """Specs are frozen: assigning to a field raises."""
    child = ak.Child(Account, name="alice")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        child.name = "bob"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        bank_tree().strategy.max_restarts = 9  # type: ignore[misc]


# -- directives ----------------------------------------------------------------------------


class AppError(Exception):
    """Base of the application's errors."""


class RetryableError(AppError):
    """An AppError worth retrying."""


class FlakyError(RetryableError):
    """A RetryableError seen often."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (FlakyError(), ak.Directive.RESUME),
        (RetryableError(), ak.Directive.RESUME),
        (AppError(), ak.Directive.STOP),
        (KeyError("k"), ak.Directive.ESCALATE),
        (LookupError(), ak.Directive.ESCALATE),
        (UnicodeError(), ak.Directive.RESTART),
        (RuntimeError(), ak.Directive.RESTART),
    ],
)
def test_most_specific_exception_class_wins(error: Exception, expected: ak.Directive) -> None:
    """directive_for follows the exception's MRO; unlisted exceptions restart."""
    strategy = ak.OneForOne(
        decide={
            AppError: ak.Directive.STOP,
            RetryableError: ak.Directive.RESUME,
            LookupError: ak.Directive.ESCALATE,
            ValueError: ak.Directive.RESTART,
        }
    )
    assert strategy.directive_for(error) is expected


def test_order_of_the_decide_mapping_does_not_matter() -> None:
    """The subclass entry wins whether it is listed before or after its base."""
    forward = ak.OneForAll(decide={Exception: ak.Directive.STOP, KeyError: ak.Directive.RESUME})
    backward = ak.OneForAll(decide={KeyError: ak.Directive.RESUME, Exception: ak.Directive.STOP})
    for strategy in (forward, backward):
        assert strategy.directive_for(KeyError("k")) is ak.Directive.RESUME
        assert strategy.directive_for(ValueError()) is ak.Directive.STOP


# -- Backoff arithmetic --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": -0.1},
        {"maximum": -1.0},
        {"initial": 2.0, "maximum": 1.0},
        {"factor": 0.5},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"reset_after": -1.0},
    ],
    ids=[
        "initial<0",
        "maximum<0",
        "maximum<initial",
        "factor<1",
        "jitter<0",
        "jitter>1",
        "reset<0",
    ],
)
def test_invalid_backoff_arguments_are_value_errors(kwargs: dict[str, float]) -> None:
    """Each invalid Backoff argument raises ValueError."""
    with pytest.raises(ValueError, match="Backoff"):
        ak.Backoff(**kwargs)


def test_backoff_defaults() -> None:
    """Backoff defaults: factor 2, jitter 0.2, reset after twice the maximum."""
    backoff = ak.Backoff(initial=0.05, maximum=2.0)
    assert (backoff.factor, backoff.jitter, backoff.reset_after) == (2.0, 0.2, None)
    assert backoff.quiet_period == 4.0
    assert ak.Backoff(initial=1.0, maximum=2.0, reset_after=7.0).quiet_period == 7.0


def test_backoff_grows_by_factor_up_to_maximum() -> None:
    """Without jitter the delays are initial, initial*factor, ... capped at maximum."""
    backoff = ak.Backoff(initial=0.05, maximum=2.0, jitter=0)
    delays = [backoff.delay(n) for n in range(1, 10)]
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0])
    tripled = ak.Backoff(initial=1.0, maximum=50.0, factor=3.0, jitter=0)
    assert [tripled.delay(n) for n in range(1, 6)] == [1.0, 3.0, 9.0, 27.0, 50.0]


def test_backoff_survives_a_very_long_run_of_attempts() -> None:
    """The 10_000th attempt waits the maximum (no overflow)."""
    assert ak.Backoff(initial=1.0, maximum=30.0, jitter=0).delay(10_000) == 30.0


def test_backoff_jitter_stays_within_its_bounds() -> None:
    """With jitter j each delay lies within base*(1-j)..base*(1+j), and varies."""
    backoff = ak.Backoff(initial=1.0, maximum=8.0, jitter=0.2)
    for attempt in range(1, 6):
        base = min(8.0, 2.0 ** (attempt - 1))
        samples = [backoff.delay(attempt) for _ in range(200)]
        assert all(base * 0.8 <= s <= base * 1.2 for s in samples)
        assert len(set(samples)) > 1


def test_backoff_jitter_uses_the_given_uniform() -> None:
    """delay() asks uniform(low, high) for the jittered value and returns it."""
    backoff = ak.Backoff(initial=2.0, maximum=8.0, jitter=0.5)
    calls: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        calls.append((low, high))
        return high

    assert backoff.delay(2, uniform) == 6.0
    assert calls == [(2.0, 6.0)]


# -- rt.tree() -----------------------------------------------------------------------------


async def test_tree_snapshot_describes_every_node(autojump_clock: trio.testing.MockClock) -> None:
    """rt.tree() gives name, path, class, status, restarts and mailbox depth of each node."""
    async with ak.open_runtime() as rt:
        await rt.start(bank_tree())
        tree = rt.tree()
    assert isinstance(tree, ak.Tree)
    bank = tree.find("bank")
    assert isinstance(bank, ak.TreeNode)
    assert bank.path == "bank"
    assert bank.actor_class.startswith("Supervisor")
    alice = tree.find("alice")
    assert alice is not None
    assert (alice.path, alice.actor_class, alice.status) == ("bank/alice", "Account", "running")
    assert (alice.restarts, alice.mailbox_depth, alice.children) == (0, 0, ())
    gateways = tree.find("gateways")
    assert gateways is not None
    assert [child.name for child in gateways.children] == ["card-gateway"]
    assert gateways.find("card-gateway") is tree.find("card-gateway")
    assert tree.find("nobody") is None


async def test_tree_is_an_immutable_snapshot(autojump_clock: trio.testing.MockClock) -> None:
    """A snapshot cannot be changed and does not follow later changes."""
    async with ak.open_runtime() as rt:
        sup = await rt.start(bank_tree())
        before = rt.tree()
        await sup.stop_child("alice")
        after = rt.tree()
    node = before.find("alice")
    assert node is not None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        node.status = "stopped"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        before.roots = ()  # type: ignore[misc]
    assert isinstance(before.roots, tuple)
    assert isinstance(node.children, tuple)
    assert before.find("alice") is node
    assert after.find("alice") is None


async def test_tree_renders_as_indented_text(autojump_clock: trio.testing.MockClock) -> None:
    """str(rt.tree()) names every actor, one per line, children indented under parents."""
    async with ak.open_runtime() as rt:
        await rt.start(bank_tree())
        text = str(rt.tree())
    lines = text.splitlines()
    assert len(lines) == 5
    names = ["bank", "alice", "bob", "gateways", "card-gateway"]
    for line, name in zip(lines, names, strict=True):
        assert name in line
        assert "running" in line

    def indent(line: str) -> int:
        return len(line) - len(line.lstrip(" │├└─"))

    depths = [indent(line) for line in lines]
    assert depths[0] == 0
    assert depths[1] == depths[2] == depths[3] > 0
    assert depths[4] > depths[3]
    assert "(Account)" in lines[1]
    assert "(Gateway)" in lines[4]


async def test_tree_of_an_empty_runtime(autojump_clock: trio.testing.MockClock) -> None:
    """A runtime without actors has an empty tree that still renders."""
    async with ak.open_runtime() as rt:
        tree = rt.tree()
    assert tree.roots == ()
    assert str(tree) == "(no actors)"
