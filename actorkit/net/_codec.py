"""The codec of peer links: messages to bytes and back, by registered type names only.

A message crosses a link as msgpack ``[type_name, fields]``. Only types registered under a
stable name can be encoded or decoded; a name that is not registered is refused before
anything is imported or instantiated, so nothing from the network ever picks the code that
runs (no pickle, no eval, no import by name). Decoding is bounded: the sizes of strings,
byte strings and containers, and the nesting depth, are capped before structuring.

attrs classes and dataclasses are (un)structured with cattrs; refs inside messages are
handled by hooks the link installs (see :meth:`Codec.bind_refs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
import msgpack
from cattrs.preconf.msgpack import make_converter

from .._errors import ActorkitError
from .._ref import ActorRef

__all__ = ["Codec", "CodecError", "CodecLimits"]

T = TypeVar("T")

# Builtin message types, under names no user type can take.
_BUILTINS: dict[str, type] = {
    "int": int,
    "float": float,
    "str": str,
    "bytes": bytes,
    "bool": bool,
    "none": type(None),
}


class CodecError(ActorkitError):
    """A message could not be encoded, or bytes from a peer could not be decoded safely."""


@attrs.frozen
class CodecLimits:
    """Caps applied while decoding, before any object is built."""

    max_bytes: int = 1 << 20
    max_str: int = 1 << 20
    max_bin: int = 1 << 20
    max_container: int = 65_536
    max_depth: int = 32


def _depth_ok(value: Any, limit: int) -> bool:
    """True if ``value`` nests containers no deeper than ``limit`` (checked without recursion;
    only containers are visited, and map keys are always scalars: ``strict_map_key``)."""
    if type(value) is not list and type(value) is not dict:
        return True
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        children = item.values() if type(item) is dict else item
        stack.extend(
            (child, depth + 1) for child in children if type(child) is list or type(child) is dict
        )
    return True


def _strict_converter() -> cattrs.Converter:
    """A msgpack converter that refuses extra fields and never coerces a scalar's type
    (cattrs would otherwise turn the string "7" into the int 7)."""
    converter = make_converter(forbid_extra_keys=True)

    def exactly(expected: type) -> Callable[[Any, type], Any]:
        def structure(value: Any, _: type) -> Any:
            # bool is an int subclass: only a real bool is a bool, and no bool is an int.
            if type(value) is not expected and not (expected is float and type(value) is int):
                raise TypeError(f"expected {expected.__name__}, got {type(value).__name__}")
            return value

        return structure

    for scalar in (int, float, str, bytes, bool):
        converter.register_structure_hook(scalar, exactly(scalar))
    return converter


class Codec:
    """The registry of message types that may cross links, and their encoding.

    Register every type that crosses a link, on every node, under the same name::

        codec.register(Charge)                       # name: "Charge"
        codec.register(Receipt, name="billing.Receipt")

    or as a class decorator ``@codec.register``.
    """

    def __init__(self, limits: CodecLimits | None = None) -> None:
        self.limits = limits or CodecLimits()
        self._by_name: dict[str, type] = dict(_BUILTINS)
        self._by_type: dict[type, str] = {cls: name for name, cls in _BUILTINS.items()}
        self._converter = _strict_converter()
        self._encode_ref: Callable[[ActorRef], Any] | None = None
        self._decode_ref: Callable[[Any], ActorRef] | None = None
        self._converter.register_unstructure_hook(ActorRef, self._unstructure_ref)
        self._converter.register_structure_hook(ActorRef, self._structure_ref)

    def register(self, cls: type[T] | None = None, *, name: str | None = None) -> Any:
        """Allow ``cls`` (an attrs class or dataclass) to cross links, under ``name``
        (default: its qualified name). Returns ``cls``, so it works as a decorator."""

        def add(klass: type[T]) -> type[T]:
            if not (attrs.has(klass) or dataclasses.is_dataclass(klass)):
                raise TypeError(
                    f"only attrs classes and dataclasses can cross a link, not {klass!r}"
                )
            type_name = name or klass.__qualname__
            if not isinstance(type_name, str) or not type_name:
                raise TypeError(f"a type name must be a non-empty str, not {type_name!r}")
            taken = self._by_name.get(type_name)
            if taken is not None and taken is not klass:
                raise ValueError(
                    f"the type name {type_name!r} is taken by {taken!r}; pass name= to choose "
                    "another"
                )
            self._by_name[type_name] = klass
            self._by_type[klass] = type_name
            return klass  # type: ignore[return-value]

        return add if cls is None else add(cls)

    def is_registered(self, cls: type) -> bool:
        """True if instances of ``cls`` may cross a link."""
        return cls in self._by_type

    # -- refs ---------------------------------------------------------------------------------

    def bind_refs(
        self, encode: Callable[[ActorRef], Any], decode: Callable[[Any], ActorRef]
    ) -> Codec:
        """A codec sharing this registry whose refs are encoded and decoded by a link."""
        bound = Codec.__new__(Codec)
        bound.limits = self.limits
        bound._by_name, bound._by_type = self._by_name, self._by_type
        bound._converter = self._converter.copy()
        bound._encode_ref, bound._decode_ref = encode, decode
        bound._converter.register_unstructure_hook(ActorRef, bound._unstructure_ref)
        bound._converter.register_structure_hook(ActorRef, bound._structure_ref)
        return bound

    def _unstructure_ref(self, ref: ActorRef) -> Any:
        if self._encode_ref is None:
            raise CodecError("refs can only be encoded by a codec bound to a link")
        return self._encode_ref(ref)

    def _structure_ref(self, value: Any, _: type) -> ActorRef:
        if self._decode_ref is None:
            raise CodecError("refs can only be decoded by a codec bound to a link")
        return self._decode_ref(value)

    # -- bytes --------------------------------------------------------------------------------

    def encode(self, message: Any) -> bytes:
        """``message`` as bytes; raises :class:`CodecError` if its type is not registered."""
        try:
            packed: bytes = msgpack.packb(self.to_wire(message), use_bin_type=True)
        except (OverflowError, ValueError, TypeError) as exc:
            raise CodecError(
                f"a {type(message).__qualname__} cannot cross a link ({exc}); integers must "
                "fit in 64 bits and fields must be plain data"
            ) from None
        return packed

    def to_wire(self, message: Any) -> list[Any]:
        """``[type_name, fields]`` for ``message`` (for embedding in an envelope)."""
        if isinstance(message, ActorRef):
            return ["ref", self._unstructure_ref(message)]  # a ref may be a whole message too
        type_name = self._by_type.get(type(message))
        if type_name is None:
            raise CodecError(
                f"{type(message).__qualname__} is not registered for peer links; register it "
                "on every node with rt.codec.register(...)"
            )
        return [type_name, self._converter.unstructure(message)]

    def decode(self, data: bytes) -> Any:
        """The message in ``data``; raises :class:`CodecError` for anything unexpected."""
        limits = self.limits
        if len(data) > limits.max_bytes:
            raise CodecError(f"a message of {len(data)} bytes exceeds {limits.max_bytes}")
        try:
            raw = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=True,
                max_str_len=limits.max_str,
                max_bin_len=limits.max_bin,
                max_array_len=limits.max_container,
                max_map_len=limits.max_container,
                max_ext_len=0,
            )
        except Exception as exc:  # msgpack raises several types for malformed input
            raise CodecError(f"malformed message: {type(exc).__name__}") from None
        return self.from_wire(raw)

    def from_wire(self, raw: Any) -> Any:
        """The message ``raw`` (``[type_name, fields]``, already unpacked) stands for."""
        if not (isinstance(raw, list) and len(raw) == 2 and isinstance(raw[0], str)):
            raise CodecError("a message must be [type_name, fields]")
        type_name, fields = raw
        if type_name == "ref":
            return self._structure_ref(fields, ActorRef)
        builtin = _BUILTINS.get(type_name)
        if builtin is not None:
            if type(fields) is not builtin:
                raise CodecError(f"a {type_name} carrying a {type(fields).__name__}")
            return fields
        cls = self._by_name.get(type_name)
        if cls is None:
            # Refused by name alone: nothing is imported or built for an unknown name.
            raise CodecError(f"the type name {type_name[:80]!r} is not registered here")
        if not _depth_ok(fields, self.limits.max_depth):
            raise CodecError(f"a message nests deeper than {self.limits.max_depth} levels")
        try:
            return self._converter.structure(fields, cls)
        except CodecError:
            raise
        except Exception as exc:  # cattrs reports bad fields as (groups of) several errors
            detail = (
                cattrs.transform_error(exc)
                if isinstance(exc, cattrs.BaseValidationError)
                else [type(exc).__name__]
            )
            raise CodecError(f"a {type_name} with bad fields: {'; '.join(detail)[:300]}") from None
