"""Message strategies: ``messages(Type)`` derives instances from field types (attrs classes and
dataclasses), ``one_of_messages(Actor)`` draws any message an actor or state machine handles."""

from __future__ import annotations

import dataclasses
import enum

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import actorkit as ak
from actorkit.testing.strategies import messages, one_of_messages

FIND = settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck))


def sample(strategy: st.SearchStrategy[object], size: int = 200) -> list[object]:
    """What ``strategy`` draws over ``size`` examples (deterministic, no shrinking)."""
    drawn: list[object] = []

    @settings(FIND, max_examples=size, phases=[Phase.generate])
    @given(strategy)
    def collect(value: object) -> None:
        drawn.append(value)

    collect()
    return drawn


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


@attrs.frozen
class Deposit:
    amount: int


@attrs.frozen
class Order:
    item: str
    quantity: int
    color: Color
    gift: bool = False
    note: str | None = None
    _secret: int = 0
    total: int = attrs.field(init=False, default=0)


@dataclasses.dataclass(frozen=True)
class Shipped:
    order_id: int
    tags: tuple[str, ...]
    weight: float = 1.0


@attrs.frozen
class Ask:
    question: str
    reply_to: ak.ActorRef


@attrs.frozen
class MaybeReply:
    reply_to: ak.ActorRef | None = None


@attrs.frozen
class Many:
    refs: tuple[ak.ActorRef, ...]


class NotAMessageClass:
    def __init__(self, n: int) -> None:
        self.n = n


# -- messages() --------------------------------------------------------------------------------


def test_messages_draws_an_attrs_class_from_its_field_types() -> None:
    """Each field is drawn from its annotation: ints, strs, enums, bools, optionals."""
    orders = sample(messages(Order))
    assert all(isinstance(o, Order) for o in orders)
    assert any(o.quantity > 1000 for o in orders)
    assert any(o.quantity < 0 for o in orders)
    assert any(len(o.item) >= 3 for o in orders)
    assert {o.color for o in orders} == set(Color)
    assert {o.gift for o in orders} == {True, False}
    assert any(o.note is None for o in orders)
    assert any(isinstance(o.note, str) for o in orders)


def test_messages_draws_fields_with_defaults_and_private_attrs_fields() -> None:
    """Defaulted fields and attrs private fields (by their alias) are drawn too; init=False not."""
    orders = sample(messages(Order))
    assert any(o._secret != 0 for o in orders)
    assert all(o.total == 0 for o in orders)
    assert {o._secret for o in sample(messages(Order, secret=st.just(7)), 20)} == {7}


def test_messages_draws_a_dataclass_from_its_field_types() -> None:
    """Dataclasses work the same way, tuples and floats included."""
    shipments = sample(messages(Shipped))
    assert all(isinstance(s, Shipped) for s in shipments)
    assert any(len(s.tags) >= 2 for s in shipments)
    assert any(s.weight != 1.0 for s in shipments)
    assert any(s.order_id > 1000 for s in shipments)


@settings(max_examples=50, database=None)
@given(order=messages(Order, quantity=st.integers(1, 9), item=st.sampled_from(["tea", "cake"])))
def test_messages_overrides_fields_by_name(order: Order) -> None:
    """An override replaces the derived strategy for that field only."""
    assert 1 <= order.quantity <= 9
    assert order.item in {"tea", "cake"}
    assert isinstance(order.color, Color)


@settings(max_examples=30, database=None)
@given(msg=messages(Deposit))
def test_drawn_messages_are_sendable(msg: Deposit) -> None:
    """What messages() draws is an immutable message, accepted by the runtime's check."""
    from actorkit._messages import check_immutable

    check_immutable(msg)


def test_an_unknown_override_name_is_a_type_error() -> None:
    """A misspelt field name fails at once, naming the real fields."""
    with pytest.raises(TypeError, match=r"no field\(s\) named \['amont'\].*\['amount'\]"):
        messages(Deposit, amont=st.integers())


def test_an_actor_ref_field_without_an_override_is_a_type_error() -> None:
    """Refs cannot be generated; the error says which field to pass."""
    with pytest.raises(TypeError, match=r"Ask\.reply_to holds an ActorRef"):
        messages(Ask)
    with pytest.raises(TypeError, match=r"MaybeReply\.reply_to holds an ActorRef"):
        messages(MaybeReply)
    with pytest.raises(TypeError, match=r"Many\.refs holds an ActorRef"):
        messages(Many)


def test_an_actor_ref_field_with_an_override_is_drawn() -> None:
    """With a strategy for the ref field, the message is drawn."""
    sentinel = object()  # any value will do for the strategy's sake; attrs does not check
    assert {a.reply_to for a in sample(messages(Ask, reply_to=st.just(sentinel)), 10)} == {sentinel}


def test_a_class_that_is_neither_attrs_nor_dataclass_is_a_type_error() -> None:
    """Plain classes (and non-classes) are refused with a pointer to from_type/builds."""
    with pytest.raises(TypeError, match="attrs classes and dataclasses"):
        messages(NotAMessageClass)
    with pytest.raises(TypeError, match="takes a message class"):
        messages(Deposit(1))  # type: ignore[arg-type]


# -- one_of_messages() -------------------------------------------------------------------------


class Shop(ak.Actor):
    """Handles three message types of its own, an int, and runtime messages."""

    @ak.on(Deposit)
    async def deposit(self, msg: Deposit) -> None: ...

    @ak.on(Order)
    async def order(self, msg: Order) -> None: ...

    @ak.on(Shipped)
    async def shipped(self, msg: Shipped) -> None: ...

    @ak.on(int)
    async def number(self, msg: int) -> None: ...

    @ak.on(ak.Terminated)
    async def terminated(self, msg: ak.Terminated) -> None: ...

    @ak.on(ak.DeadLetter)
    async def dead(self, msg: ak.DeadLetter) -> None: ...


def test_one_of_messages_covers_every_handled_type_but_runtime_ones() -> None:
    """Every user message type is drawn; Terminated and DeadLetter are not."""
    assert {type(m) for m in sample(one_of_messages(Shop))} == {Deposit, Order, Shipped, int}


def test_one_of_messages_accepts_overrides_per_type() -> None:
    """An override replaces the strategy for its type; the others stay derived."""
    drawn = sample(one_of_messages(Shop, {Deposit: st.just(Deposit(42)), int: st.just(7)}))
    assert {m for m in drawn if isinstance(m, Deposit | int)} == {Deposit(42), 7}
    assert {type(m) for m in drawn} == {Deposit, Order, Shipped, int}


def test_one_of_messages_refuses_an_override_for_an_unhandled_type() -> None:
    """Overriding a type the actor does not handle is a TypeError."""
    with pytest.raises(TypeError, match="has no handler for"):
        one_of_messages(Shop, {Ask: st.nothing()})


class Stage(enum.Enum):
    IDLE = "idle"
    PROCESSING = "processing"
    COMPLETED = "completed"


@attrs.frozen
class Start:
    job: str


@attrs.frozen
class Progress:
    percent: int


@attrs.frozen
class Status:
    pass


class Job(ak.StateMachine):
    """A machine whose handlers are spread over its states, plus one for every state."""

    states = Stage
    initial = Stage.IDLE
    transitions = {  # noqa: RUF012
        Stage.IDLE: {Stage.PROCESSING},
        Stage.PROCESSING: {Stage.COMPLETED},
    }
    state_timeouts = {Stage.PROCESSING: 30.0}  # noqa: RUF012

    @ak.on(Start, state=Stage.IDLE)
    async def start(self, msg: Start) -> None: ...

    @ak.on(Progress, state=Stage.PROCESSING)
    async def progress(self, msg: Progress) -> None: ...

    @ak.on(ak.StateTimeout, state=Stage.PROCESSING)
    async def too_slow(self, msg: ak.StateTimeout) -> None: ...

    @ak.on(Status)
    async def status(self, msg: Status) -> str:
        return self.state.name


def test_one_of_messages_covers_a_state_machine_s_per_state_handlers() -> None:
    """Types handled only in some state are included; StateTimeout is not."""
    assert {type(m) for m in sample(one_of_messages(Job))} == {Start, Progress, Status}


def test_one_of_messages_of_a_state_machine_with_overrides() -> None:
    """Overrides work for a state machine's per-state types too."""
    drawn = sample(one_of_messages(Job, {Progress: st.builds(Progress, st.integers(0, 100))}))
    percents = {m.percent for m in drawn if isinstance(m, Progress)}
    assert percents
    assert all(0 <= p <= 100 for p in percents)
    assert {type(m) for m in drawn} == {Start, Progress, Status}


def test_one_of_messages_needs_a_handler_to_draw_from() -> None:
    """An actor that handles only runtime messages has nothing to draw."""

    class OnlyWatches(ak.Actor):
        @ak.on(ak.Terminated)
        async def gone(self, msg: ak.Terminated) -> None: ...

    with pytest.raises(TypeError, match="handles no message types"):
        one_of_messages(OnlyWatches)
