"""An mkdocs hook: the API reference must document every public name, and only those.

The public names are the ones ``actorkit/__init__.py`` re-exports (read with ``ast``, so that
building the docs does not import the package). A name missing from ``reference/api.md`` (or
listed there but no longer exported) is a warning, which ``mkdocs build --strict`` turns into a
failed build that says which ``::: actorkit.Name`` line to add or remove.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.api_coverage")

API_PAGE = "reference/api.md"
PACKAGE_INIT = Path(__file__).resolve().parents[2] / "actorkit" / "__init__.py"
_DIRECTIVE = re.compile(r"^::: actorkit\.(\w+)\s*$", re.MULTILINE)


def public_names() -> set[str]:
    """The names ``actorkit/__init__.py`` re-exports (``from ._x import Name as Name``)."""
    tree = ast.parse(PACKAGE_INIT.read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if not (alias.asname or alias.name).startswith("_")
    }


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != API_PAGE:
        return markdown
    documented = set(_DIRECTIVE.findall(markdown))
    exported = public_names()
    for name in sorted(exported - documented):
        log.warning(
            f"{API_PAGE}: actorkit.{name} is public but undocumented; add '::: actorkit.{name}'"
        )
    for name in sorted(documented - exported):
        log.warning(f"{API_PAGE}: actorkit.{name} is documented but not exported by actorkit")
    return markdown
