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
import typing
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


#: Field types a message may hold for the fast path of decoding (see :func:`_flat_fields`).
_SCALARS = frozenset({int, float, str, bytes, bool})


def _flat_fields(cls: type) -> tuple[tuple[str, type], ...] | None:
    """``(name, type)`` of every field of ``cls`` if all are plain scalars taken by ``__init__``
    under their own names, else None.

    Such a class is decoded without cattrs when the fields arrive exactly as they left
    (every key, each value of its exact type): that is the common case, and the result is the
    one cattrs would build. Anything else goes to cattrs, which decides, and explains what is
    wrong. A flat message cannot nest, so it needs no depth check either.
    """
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an unresolvable annotation: cattrs will say so
        return None
    if attrs.has(cls):
        names = [(a.name, a.init and a.alias == a.name) for a in attrs.fields(cls)]
    else:
        names = [(f.name, f.init) for f in dataclasses.fields(cls)]
    spec = []
    for name, by_name in names:
        kind = hints.get(name)
        if not by_name or kind not in _SCALARS:
            return None
        spec.append((name, kind))
    return tuple(spec)


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
        self._flat: dict[type, tuple[tuple[str, type], ...] | None] = {}
        self._packer = msgpack.Packer(use_bin_type=True)
        self._decoders: dict[str, Callable[[Any], Any]] = {}
        self._unstructurers: dict[type, Callable[[Any], Any]] = {}
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
            if type_name == "ref":
                raise ValueError("the type name 'ref' is reserved for refs; pass another name=")
            taken = self._by_name.get(type_name)
            if taken is not None and taken is not klass:
                raise ValueError(
                    f"the type name {type_name!r} is taken by {taken!r}; pass name= to choose "
                    "another"
                )
            self._by_name[type_name] = klass
            self._by_type[klass] = type_name
            self._flat[klass] = _flat_fields(klass)
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
        bound._by_name, bound._by_type, bound._flat = self._by_name, self._by_type, self._flat
        bound._packer = msgpack.Packer(use_bin_type=True)
        bound._decoders, bound._unstructurers = {}, {}
        bound._converter = self._converter.copy()
        bound._encode_ref, bound._decode_ref = encode, decode
        bound._converter.register_unstructure_hook(ActorRef, bound._unstructure_ref)
        bound._converter.register_structure_hook(ActorRef, bound._structure_ref)
        return bound

    def _unstructure_ref(self, ref: ActorRef) -> Any:
        if self._encode_ref is None:
            raise CodecError("refs can only be encoded by a codec bound to a link")
        return self._encode_ref(ref)

    def _ref_decoder(self, value: Any) -> ActorRef:
        return self._structure_ref(value, ActorRef)

    def _structure_ref(self, value: Any, _: type) -> ActorRef:
        if self._decode_ref is None:
            raise CodecError("refs can only be decoded by a codec bound to a link")
        return self._decode_ref(value)

    # -- bytes --------------------------------------------------------------------------------

    def encode(self, message: Any) -> bytes:
        """``message`` as bytes; raises :class:`CodecError` if its type is not registered."""
        cls = type(message)
        unstructure = self._unstructurers.get(cls)
        try:
            if unstructure is not None:
                packed: bytes = self._packer.pack([self._by_type[cls], unstructure(message)])
            else:
                packed = self._packer.pack(self._to_wire(message))
        except (OverflowError, ValueError, TypeError) as exc:
            raise CodecError(
                f"a {type(message).__qualname__} cannot cross a link ({exc}); integers must "
                "fit in 64 bits and fields must be plain data"
            ) from None
        return packed

    def _to_wire(self, message: Any) -> list[Any]:
        """``[type_name, fields]`` for ``message``."""
        if isinstance(message, ActorRef):
            return ["ref", self._unstructure_ref(message)]  # a ref may be a whole message too
        type_name = self._by_type.get(type(message))
        if type_name is None:
            raise unregistered(type(message))
        unstructure = self._converter.get_unstructure_hook(type(message))
        self._unstructurers[type(message)] = unstructure  # encode()'s fast path
        return [type_name, unstructure(message)]

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
        if type(raw) is not list or len(raw) != 2 or type(raw[0]) is not str:
            raise CodecError("a message must be [type_name, fields]")
        type_name, fields = raw
        return (self._decoders.get(type_name) or self._decoder(type_name))(fields)

    def _decoder(self, type_name: str) -> Callable[[Any], Any]:
        """How to build a ``type_name`` from its fields; cached, for registered names only
        (a peer naming a new type in each message must not grow the cache)."""
        decoder: Callable[[Any], Any]
        if type_name == "ref":
            decoder = self._ref_decoder
        elif type_name in _BUILTINS:
            decoder = _builtin_decoder(type_name, _BUILTINS[type_name])
        else:
            cls = self._by_name.get(type_name)
            if cls is None:
                # Refused by name alone: nothing is imported or built for an unknown name.
                raise CodecError(f"the type name {type_name[:80]!r} is not registered here")
            decoder = self._class_decoder(type_name, cls)
        self._decoders[type_name] = decoder
        return decoder

    def _class_decoder(self, type_name: str, cls: type) -> Callable[[Any], Any]:
        structure, max_depth = self._converter.structure, self.limits.max_depth

        def decode(fields: Any) -> Any:
            if not _depth_ok(fields, max_depth):
                raise CodecError(f"a message nests deeper than {max_depth} levels")
            try:
                return structure(fields, cls)
            except CodecError:  # from a ref's hook
                raise
            except Exception as exc:  # cattrs reports bad fields as (groups of) several errors
                raise _bad_fields(type_name, exc) from None

        flat = self._flat.get(cls)
        if flat is None:
            return decode
        size = len(flat)

        def decode_flat(fields: Any) -> Any:
            # The fields exactly as a peer's encode() sends them: build the message directly.
            if type(fields) is dict and len(fields) == size:
                for name, kind in flat:
                    value = fields.get(name)
                    if type(value) is not kind and not (kind is float and type(value) is int):
                        break
                else:
                    try:
                        return cls(**fields)
                    except Exception as exc:  # a validator of the class refused a value
                        raise _bad_fields(type_name, exc) from None
            return decode(fields)  # anything else: cattrs decides, and says what is wrong

        return decode_flat


def unregistered(cls: type) -> CodecError:
    """The error for sending a ``cls`` that no one registered."""
    return CodecError(
        f"{cls.__qualname__} is not registered for peer links; register it on every node with "
        "rt.codec.register(...)"
    )


def _builtin_decoder(type_name: str, kind: type) -> Callable[[Any], Any]:
    def decode(fields: Any) -> Any:
        if type(fields) is not kind:
            raise CodecError(f"a {type_name} carrying a {type(fields).__name__}")
        return fields

    return decode


def _bad_fields(type_name: str, exc: Exception) -> CodecError:
    detail = (
        cattrs.transform_error(exc)
        if isinstance(exc, cattrs.BaseValidationError)
        else [type(exc).__name__]
    )
    return CodecError(f"a {type_name} with bad fields: {'; '.join(detail)[:300]}")
