"""A griffe extension that lets mkdocstrings read actorkit's Sphinx-isms without warnings.

actorkit's docstrings are Google style with reST inline roles (:class:`Mailbox`), reST literal
blocks (``Example::`` and an indented block), and Sphinx ``#:`` comments documenting constants
and enum members. mkdocstrings reads Markdown, and griffe only reads string docstrings, so once
the package is loaded this extension:

- turns each role into a cross-reference to the public name it means
  (``[`Mailbox`][actorkit.Mailbox]``), or into plain code when it names something outside
  actorkit (``trio.TooSlowError``) or something private;
- turns each reST literal block into a fenced Python block;
- gives each attribute that has no docstring the ``#:`` comment lines just above it;
- gives each attrs class the ``__init__`` signature attrs generates, and shows a field's
  default rather than the ``attrs.field(...)`` call (griffe does this for dataclasses only);
- shows an attribute set from a parameter in ``__init__`` (``self.actor = actor``) with the
  parameter's type instead of the assignment, and hides values that call private code.

It lives under docs/ (excluded from the site) and is loaded by mkdocs.yml; it changes nothing
in the package itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import griffe

PACKAGE = "actorkit"
#: Public subpackages with a reference page of their own (docs/reference/<name>.md).
SUBPACKAGES = ("net", "testing")

_ROLE = re.compile(r":(?:py:)?(?:class|exc|func|meth|attr|data|obj|const|mod):`(?P<target>[^`]+)`")


class RstCompat(griffe.Extension):
    """Rewrites reST roles, literal blocks and ``#:`` comments once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != PACKAGE:
            return
        # Canonical path of each re-exported object -> its public path (actorkit.Mailbox, or
        # actorkit.net.FramedChannel for what only a public subpackage exports).
        public = {
            member.target_path: f"{PACKAGE}.{name}"
            for name, member in pkg.members.items()
            if member.is_alias and not name.startswith("_")
        }
        for sub in SUBPACKAGES:
            for name, member in pkg[sub].members.items():
                if member.is_alias and not name.startswith("_"):
                    public.setdefault(member.target_path, f"{PACKAGE}.{sub}.{name}")
        for obj in _walk(pkg):
            if obj.is_class and _attrs_decorator(obj) is not None:
                _set_attrs_init(obj)  # type: ignore[arg-type]
            if obj.is_class:
                _tidy_init_attributes(obj)  # type: ignore[arg-type]
            if obj.docstring is None and obj.is_attribute:
                comment = _sphinx_comment(obj)
                if comment:
                    obj.docstring = griffe.Docstring(
                        comment,
                        lineno=obj.lineno,
                        parent=obj,
                        parser=loader.docstring_parser,
                        parser_options=loader.docstring_options,
                    )
            if obj.docstring is not None:
                value = _fence_literal_blocks(obj.docstring.value)
                obj.docstring.value = _ROLE.sub(
                    lambda match, obj=obj: _crossref(match["target"], obj, pkg, public), value
                )


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    """Every object defined in the package (aliases are skipped: their targets are walked)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


_ATTRS_DECORATORS = {
    "attrs.define",
    "attrs.frozen",
    "attrs.mutable",
    "attr.s",
    "attr.attrs",
    "attr.define",
    "attr.frozen",
    "attr.mutable",
}
_ATTRS_FIELDS = {"attrs.field", "attr.ib", "attr.attrib", "attr.field"}


def _call_arguments(expr: Any) -> dict[str, Any]:
    if not isinstance(expr, griffe.ExprCall):
        return {}
    return {arg.name: arg.value for arg in expr.arguments if isinstance(arg, griffe.ExprKeyword)}


def _attrs_decorator(cls: griffe.Class) -> Any:
    for decorator in cls.decorators:
        value = decorator.value
        function = value.function if isinstance(value, griffe.ExprCall) else value
        if isinstance(function, griffe.Expr) and function.canonical_path in _ATTRS_DECORATORS:
            return value
    return None


def _set_attrs_init(cls: griffe.Class) -> None:
    """Give an attrs class the ``__init__`` attrs would generate, unless it defines one."""
    if "__init__" in cls.members:
        return
    class_kw_only = _call_arguments(_attrs_decorator(cls)).get("kw_only") == "True"
    parameters = [griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)]
    for member in list(cls.members.values()):
        if member.is_alias or not member.is_attribute or member.annotation is None:
            continue
        if "property" in member.labels:
            continue
        if "class-attribute" in member.labels and "instance-attribute" not in member.labels:
            continue  # a ClassVar
        value = member.value
        field = (
            _call_arguments(value)
            if isinstance(value, griffe.ExprCall)
            and isinstance(value.function, griffe.Expr)
            and value.function.canonical_path in _ATTRS_FIELDS
            else None
        )
        if field is not None:
            if "factory" in field:
                factory = field["factory"]
                default = (
                    factory.body  # factory=lambda: Backoff(...) shows as Backoff(...)
                    if isinstance(factory, griffe.ExprLambda)
                    else griffe.ExprCall(function=factory, arguments=[])
                )
            else:
                default = field.get("default")
            # Show the default, not the attrs.field(...) call (and its private validators).
            member.value = default
            member.labels.discard("class-attribute")
            if field.get("init") == "False":
                continue
        else:
            default = value
        kind = (
            griffe.ParameterKind.keyword_only
            if class_kw_only or (field or {}).get("kw_only") == "True"
            else griffe.ParameterKind.positional_or_keyword
        )
        parameters.append(
            griffe.Parameter(
                member.name.lstrip("_"),  # attrs strips a private field's underscore
                annotation=member.annotation,
                kind=kind,
                default=default,
                docstring=member.docstring,
            )
        )
    init = griffe.Function(
        "__init__",
        lineno=0,
        endlineno=0,
        parent=cls,
        parameters=griffe.Parameters(*parameters),
        returns="None",
    )
    cls.set_member("__init__", init)


def _tidy_init_attributes(cls: griffe.Class) -> None:
    """Attributes set in ``__init__`` (``self.actor = actor``): show the parameter's type, not
    the assignment; and never show a value that calls private code."""
    init = cls.members.get("__init__")
    parameters = (
        {param.name: param for param in init.parameters}
        if init is not None and not init.is_alias and init.is_function
        else {}
    )
    for member in cls.members.values():
        if member.is_alias or not member.is_attribute or member.value is None:
            continue
        value = str(member.value)
        if value in parameters:
            if member.annotation is None:
                member.annotation = parameters[value].annotation
            member.value = None
        elif re.search(r"(?:^|[^\w.])_\w", value):
            member.value = None


def _sphinx_comment(obj: griffe.Object) -> str:
    """The ``#:`` comment lines right above ``obj``'s definition, without the markers."""
    if obj.lineno is None or obj.filepath is None or isinstance(obj.filepath, list):
        return ""
    try:
        lines = obj.lines_collection[obj.filepath]
    except KeyError:
        return ""
    comment: list[str] = []
    index = obj.lineno - 2
    while index >= 0 and lines[index].strip().startswith("#:"):
        comment.insert(0, lines[index].strip()[2:].strip())
        index -= 1
    return "\n".join(comment)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _fence_literal_blocks(text: str) -> str:
    """Turn each reST literal block (a line ending in ``::``, a blank line, an indented block)
    into a fenced Python block; the ``::`` becomes ``:`` (or goes, on a line of its own)."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    in_fence = False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        is_literal = (
            not in_fence
            and line.rstrip().endswith("::")
            and index + 2 < len(lines)
            and not lines[index + 1].strip()
            and _indent(lines[index + 2]) > _indent(line)
        )
        if not is_literal:
            out.append(line)
            index += 1
            continue
        base = _indent(line)
        lead = line.rstrip()[:-2].rstrip()
        if lead.strip():
            out.append(f"{lead}:")
            out.append("")
        block: list[str] = []
        index += 2
        while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > base):
            block.append(lines[index])
            index += 1
        while block and not block[-1].strip():
            block.pop()
            index -= 1
        cut = min(_indent(item) for item in block if item.strip())
        pad = " " * base
        out.append(f"{pad}```python")
        out.extend(f"{pad}{item[cut:]}" if item.strip() else "" for item in block)
        out.append(f"{pad}```")
    return "\n".join(out)


def _crossref(target: str, obj: griffe.Object, pkg: griffe.Module, public: dict[str, str]) -> str:
    """Markdown for a role's target: a cross-reference if it is public actorkit API, else code."""
    shorten = target.startswith("~")
    target = target.lstrip("~!")
    text = target.rsplit(".", 1)[-1] if shorten else target
    path = _resolve(target, obj, pkg, public)
    return f"[`{text}`][{path}]" if path else f"`{text}`"


def _resolve(
    target: str, obj: griffe.Object, pkg: griffe.Module, public: dict[str, str]
) -> str | None:
    if any(part.startswith("_") for part in target.split(".")):
        return None  # private: not rendered, so nothing to link to
    # A member of the class the docstring belongs to: :meth:`on_start` in Actor's docstring.
    cls = obj if obj.is_class else obj.parent
    if cls is not None and cls.is_class and cls.path in public:
        try:
            cls[target]
        except KeyError:
            pass
        else:
            return f"{public[cls.path]}.{target}"
    # A public name, or a member of one: :class:`Mailbox`, :meth:`Runtime.spawn`.
    if target.startswith(f"{PACKAGE}."):
        target = target[len(PACKAGE) + 1 :]
    if target.split(".", 1)[0] in pkg.members:
        try:
            pkg[target]
        except (KeyError, griffe.AliasResolutionError):
            return None
        return f"{PACKAGE}.{target}"
    # A public name of the subpackage the docstring is in: :class:`FramedChannel` in net.
    parts = obj.path.split(".")
    sub = parts[1] if len(parts) > 1 and parts[1] in SUBPACKAGES else None
    if sub is not None and target.split(".", 1)[0] in pkg[sub].members:
        try:
            pkg[sub][target]
        except (KeyError, griffe.AliasResolutionError):
            return None
        return f"{PACKAGE}.{sub}.{target}"
    return None
