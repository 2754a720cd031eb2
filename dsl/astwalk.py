"""Walk a syntax tree without recursion (deep trees must not reach Python's recursion limit)."""
from __future__ import annotations

from collections.abc import Iterator

from . import ast


def walk(*roots: object) -> Iterator[object]:
    """Every node below (and including) `roots`, depth first; `if` branches and conditions included."""
    stack: list[object] = list(reversed(roots))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If):
            for cond, body in node.branches:
                stack.append(cond)
                stack.extend(body)
            if node.orelse:
                stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Node):
            for value in vars(node).values():
                if isinstance(value, ast.Node):
                    stack.append(value)
                elif isinstance(value, tuple):
                    stack.extend(v for v in value if isinstance(v, ast.Node))
