"""The link codec: registered types round-trip; anything else from the wire is refused
without importing or building anything."""

from __future__ import annotations

import dataclasses

import attrs
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actorkit.net import Codec, CodecError, CodecLimits
from actorkit.testing.strategies import messages


@attrs.frozen
class Charge:
    order_id: int
    cents: int
    note: str = ""


@attrs.frozen
class Basket:
    items: tuple[str, ...]
    total: float
    gift: bool


@dataclasses.dataclass(frozen=True)
class Shipment:
    order_id: int
    address: str
    weight: float | None = None


@attrs.frozen
class Nested:
    charge: Charge
    tags: frozenset[str] = frozenset()


REGISTERED = (Charge, Basket, Shipment, Nested)


@pytest.fixture
def codec() -> Codec:
    codec = Codec()
    for message_type in REGISTERED:
        codec.register(message_type)
    return codec


def _codec() -> Codec:
    codec = Codec()
    for message_type in REGISTERED:
        codec.register(message_type)
    return codec


@settings(max_examples=200, deadline=None)
@given(st.one_of([messages(t) for t in REGISTERED]))
def test_every_registered_type_round_trips(message: object) -> None:
    """decode(encode(m)) == m for every registered type (or encode refuses it clearly)."""
    codec = _codec()
    try:
        encoded = codec.encode(message)
    except CodecError as exc:
        refused = str(exc)
        assert "64 bits" in refused
        return
    decoded = codec.decode(encoded)
    # Or equal by repr: a NaN field is never equal to itself.
    assert message == decoded or repr(message) == repr(decoded)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_escape_as_anything_but_codec_error(data: bytes) -> None:
    """Random bytes are refused with CodecError (or decode to a builtin), never anything else."""
    codec = _codec()
    try:
        decoded = codec.decode(data)
    except CodecError:
        return
    assert type(decoded) in (int, float, str, bytes, bool, type(None), *REGISTERED)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([Charge(7, 1250, "x"), Basket(("a", "b"), 2.5, True), Shipment(1, "here")]),
    st.data(),
)
def test_mutated_messages_are_refused_or_decode_to_a_registered_type(
    message: object, data: st.DataObject
) -> None:
    """Flipping bytes of a valid message gives CodecError or a well-typed message."""
    codec = _codec()
    encoded = bytearray(codec.encode(message))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] ^= data.draw(st.integers(1, 255))
    try:
        decoded = codec.decode(bytes(encoded))
    except CodecError:
        return
    assert type(decoded) in (int, float, str, bytes, bool, type(None), *REGISTERED)


@pytest.mark.parametrize(
    "name", ["os.system", "builtins.eval", "subprocess.Popen", "__import__", "Charge.__init__"]
)
def test_unregistered_names_are_refused_by_name(codec: Codec, name: str) -> None:
    """A type name that is not registered is refused, whatever it names."""
    with pytest.raises(CodecError, match="not registered"):
        codec.decode(msgpack.packb([name, {"cmd": "rm -rf /"}]))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"order_id": 1, "cents": 2, "extra": 3}, "extra"),
        ({"cents": 2}, "missing"),
        ({"order_id": "1", "cents": 2}, "expected int"),
        ({"order_id": True, "cents": 2}, "expected int"),
        ({"order_id": 1.5, "cents": 2}, "expected int"),
    ],
)
def test_extra_missing_and_mistyped_fields_are_refused(
    codec: Codec, fields: dict[str, object], problem: str
) -> None:
    """Fields must match the registered type exactly: no extras, no gaps, no coercion."""
    with pytest.raises(CodecError, match=problem):
        codec.decode(msgpack.packb(["Charge", fields]))


def test_deep_nesting_and_huge_containers_are_refused() -> None:
    """Nesting and container sizes are bounded before anything is structured."""
    codec = Codec(CodecLimits(max_depth=8, max_container=100))
    codec.register(Basket)
    deep: object = "x"
    for _ in range(20):
        deep = [deep]
    with pytest.raises(CodecError, match="deeper"):
        codec.decode(msgpack.packb(["Basket", {"items": deep, "total": 1.0, "gift": False}]))
    huge = ["x"] * 1000
    with pytest.raises(CodecError, match="malformed"):
        codec.decode(msgpack.packb(["Basket", {"items": huge, "total": 1.0, "gift": False}]))
    with pytest.raises(CodecError, match="exceeds"):
        Codec(CodecLimits(max_bytes=10)).decode(b"\x00" * 11)


def test_encoding_an_unregistered_type_says_how_to_fix_it(codec: Codec) -> None:
    """Sending a type nobody registered fails at once, naming the fix."""

    @attrs.frozen
    class Secret:
        value: int

    with pytest.raises(CodecError, match=r"rt\.codec\.register"):
        codec.encode(Secret(1))


def test_registration_rules(codec: Codec) -> None:
    """Only attrs/dataclass types register; a name is one type's; it works as a decorator."""
    with pytest.raises(TypeError):
        codec.register(dict)

    @attrs.frozen
    class Other:
        value: int

    with pytest.raises(ValueError, match="taken"):
        codec.register(Other, name="Charge")

    @codec.register(name="billing.Refund")
    @attrs.frozen
    class Refund:
        cents: int

    assert Refund(5) == codec.decode(codec.encode(Refund(5)))
    assert codec.is_registered(Refund)


# -- the fast path for flat messages ------------------------------------------------------------


def _positive(_instance: object, _attribute: object, value: int) -> None:
    if value < 0:
        raise ValueError("must not be negative")


@attrs.frozen
class Flat:
    """Only scalar fields: decoded without cattrs when the fields arrive exactly as sent."""

    count: int = attrs.field(validator=_positive)
    ratio: float
    on: bool
    name: str
    data: bytes
    note: str = "none"


_SCALARS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.none(),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=2),
)
_KEYS = st.sampled_from(["count", "ratio", "on", "name", "data", "note", "extra"])


_VALID = st.fixed_dictionaries(
    {
        "count": st.integers(min_value=0, max_value=2**63 - 1),
        "ratio": st.one_of(st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1)),
        "on": st.booleans(),
        "name": st.text(max_size=8),
        "data": st.binary(max_size=8),
        "note": st.text(max_size=8),
    }
)


@st.composite
def _nearly_valid(draw: st.DrawFn) -> dict[str, object]:
    """Fields as a peer sends them, with perhaps one value swapped for any scalar, one key
    dropped, or one key added."""
    fields = draw(_VALID)
    change = draw(st.sampled_from(["none", "value", "drop", "add"]))
    if change == "value":
        fields[draw(st.sampled_from(sorted(fields)))] = draw(_SCALARS)
    elif change == "drop":
        del fields[draw(st.sampled_from(sorted(fields)))]
    elif change == "add":
        fields["extra"] = draw(_SCALARS)
    return fields


@settings(max_examples=500, deadline=None)
@given(st.one_of(_nearly_valid(), st.dictionaries(_KEYS, _SCALARS, max_size=7)))
def test_the_flat_fast_path_decides_exactly_as_cattrs(fields: dict[str, object]) -> None:
    """For any fields at all, decoding a flat type gives what cattrs alone gives: the same
    message, or a refusal (the fast path hands anything unusual to cattrs)."""
    fast, slow = _both_outcomes(fields)
    assert slow == fast


def _both_outcomes(fields: dict[str, object]) -> list[object]:
    fast, slow = Codec(), Codec()
    fast.register(Flat)
    slow.register(Flat)
    slow._flat[Flat] = None  # cattrs decides everything
    outcomes: list[object] = []
    for codec in (fast, slow):
        try:
            outcomes.append(codec.decode(msgpack.packb(["Flat", fields])))
        except CodecError as exc:
            outcomes.append(type(exc))
    return outcomes


@pytest.mark.parametrize("value", [7, 0, -1, True, False, 1.5, "s", b"b", None, [1]])
@pytest.mark.parametrize("key", ["count", "ratio", "on", "name", "data", "note"])
def test_the_flat_fast_path_agrees_with_cattrs_on_every_swapped_value(
    key: str, value: object
) -> None:
    """Every field, given a value of every scalar kind: the fast path and cattrs agree."""
    fields = {"count": 3, "ratio": 0.5, "on": True, "name": "n", "data": b"d", "note": "x"}
    fast, slow = _both_outcomes({**fields, key: value})
    assert slow == fast


def test_the_flat_fast_path_is_taken_and_keeps_the_rules() -> None:
    codec = Codec()
    codec.register(Flat)
    assert codec._flat[Flat] is not None
    good = Flat(3, 0.5, True, "n", b"d", "x")
    assert good == codec.decode(codec.encode(good))
    fields = {"count": 3, "ratio": 1, "on": False, "name": "n", "data": b"d", "note": "x"}
    assert 1 == codec.decode(msgpack.packb(["Flat", fields])).ratio  # an int is a float
    for bad in ({"on": 1}, {"count": True}, {"count": -1}, {"extra": 1}):
        with pytest.raises(CodecError):
            codec.decode(msgpack.packb(["Flat", {**fields, **bad}]))
    codec.register(Nested)
    assert codec._flat[Nested] is None  # a field that is itself a message: cattrs decodes it


def test_the_name_ref_is_reserved(codec: Codec) -> None:
    @attrs.frozen
    class Ref:
        value: int

    with pytest.raises(ValueError, match="reserved"):
        codec.register(Ref, name="ref")
