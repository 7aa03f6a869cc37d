"""``rt.tree()``: an immutable snapshot of the supervision tree, and its readable rendering."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["Tree", "TreeNode", "snapshot"]


@attrs.frozen
class TreeNode:
    """One actor in a :meth:`Runtime.tree` snapshot.

    ``status`` is one of ``starting``, ``running``, ``restarting``, ``backing-off``,
    ``circuit-open``, ``stopping`` or ``stopped``; ``state`` is a state machine's current state.
    """

    name: str
    path: str
    actor_class: str
    status: str
    restarts: int
    mailbox_depth: int
    state: str | None = None
    children: tuple[TreeNode, ...] = ()

    def __str__(self) -> str:
        return "\n".join(self._lines("", ""))

    def _lines(self, first: str, rest: str) -> list[str]:
        details = [self.status]
        if self.state is not None:
            details.append(f"state={self.state}")
        if self.restarts:
            details.append(f"restarts={self.restarts}")
        if self.mailbox_depth:
            details.append(f"mailbox={self.mailbox_depth}")
        lines = [f"{first}{self.name} ({self.actor_class}) {', '.join(details)}"]
        for index, child in enumerate(self.children):
            last = index == len(self.children) - 1
            lines += child._lines(
                rest + ("└── " if last else "├── "), rest + ("    " if last else "│   ")
            )
        return lines

    def find(self, name: str) -> TreeNode | None:
        """The node named ``name`` in this subtree, if any."""
        if self.name == name:
            return self
        for child in self.children:
            found = child.find(name)
            if found is not None:
                return found
        return None


@attrs.frozen
class Tree:
    """The whole runtime: its top-level actors, in spawn order."""

    roots: tuple[TreeNode, ...]

    def __str__(self) -> str:
        return "\n".join(str(root) for root in self.roots) or "(no actors)"

    def find(self, name: str) -> TreeNode | None:
        """The node named ``name`` anywhere in the tree, if any."""
        for root in self.roots:
            found = root.find(name)
            if found is not None:
                return found
        return None


def snapshot(cell: Cell) -> TreeNode:
    """The node of ``cell`` and its live children, as they are now."""
    instance = cell.instance
    state = instance._ak_state_label() if instance is not None else None
    kind = instance._ak_kind() if instance is not None else cell.actor_class.__qualname__
    return TreeNode(
        name=cell.label,
        path=cell.path,
        actor_class=kind,
        status=cell.status,
        restarts=cell.restarts,
        mailbox_depth=len(cell.mailbox),
        state=state,
        children=tuple(snapshot(child) for child in cell.children or ()),
    )
