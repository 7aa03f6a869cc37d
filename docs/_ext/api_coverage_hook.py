"""An mkdocs hook: the API reference must document every public name, and only those.

Each reference page covers one package: ``reference/api.md`` the names ``actorkit/__init__.py``
re-exports, ``reference/net.md`` those of ``actorkit/net/__init__.py`` and
``reference/testing.md`` those of ``actorkit/testing/__init__.py`` (read with ``ast``, so that
building the docs does not import the package). A name missing from its page (or listed there
but no longer exported) is a warning, which ``mkdocs build --strict`` turns into a failed build
that says which ``::: package.Name`` line to add or remove.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger("mkdocs.hooks.api_coverage")

_ROOT = Path(__file__).resolve().parents[2]


class ReferencePage(NamedTuple):
    """A reference page and the package whose re-exports it documents."""

    page: str  # the page's path under docs/
    package: str  # the dotted package name its directives use
    init: Path  # the package's __init__.py

    @property
    def directive(self) -> re.Pattern[str]:
        """``::: package.Name`` for exactly this package (not a subpackage's or parent's)."""
        return re.compile(rf"^::: {re.escape(self.package)}\.(\w+)\s*$", re.MULTILINE)


PAGES = {
    ref.page: ref
    for ref in (
        ReferencePage("reference/api.md", "actorkit", _ROOT / "actorkit" / "__init__.py"),
        ReferencePage(
            "reference/net.md", "actorkit.net", _ROOT / "actorkit" / "net" / "__init__.py"
        ),
        ReferencePage(
            "reference/testing.md",
            "actorkit.testing",
            _ROOT / "actorkit" / "testing" / "__init__.py",
        ),
    )
}


def public_names(init: Path) -> set[str]:
    """The names a package's ``__init__.py`` re-exports (``from ._x import Name as Name``, and
    ``from . import module as module`` for a public submodule)."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if not (alias.asname or alias.name).startswith("_")
    }


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    ref = PAGES.get(page.file.src_uri)
    if ref is None:
        return markdown
    documented = set(ref.directive.findall(markdown))
    exported = public_names(ref.init)
    for name in sorted(exported - documented):
        log.warning(
            f"{ref.page}: {ref.package}.{name} is public but undocumented; "
            f"add '::: {ref.package}.{name}'"
        )
    for name in sorted(documented - exported):
        log.warning(
            f"{ref.page}: {ref.package}.{name} is documented but not exported by {ref.package}"
        )
    return markdown
