"""Copying kernels into the generated NumPy file: which kernels of `numpy_kernels.py` and
`numpy_kernels_more.py` a forward pass calls, with everything they need, as source text in their own order.

The generated file imports nothing but NumPy, so the kernels it calls are copied into it rather than imported.
"""
from __future__ import annotations

import ast
import inspect
from functools import lru_cache

from . import numpy_kernels, numpy_kernels_more


# -- kernels copied into the generated file ------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _kernel_sources() -> dict[str, tuple[int, str, frozenset[str]]]:
    """Top-level functions and constants of the kernel modules: name -> (order, source lines, names they use)."""
    out: dict[str, tuple[int, str, frozenset[str]]] = {}
    for base, module in enumerate((numpy_kernels, numpy_kernels_more)):
        out.update(_module_kernels(inspect.getsource(module), base * 100_000))
    return out


def _module_kernels(src: str, first: int) -> dict[str, tuple[int, str, frozenset[str]]]:
    lines = src.splitlines()
    out: dict[str, tuple[int, str, frozenset[str]]] = {}
    for order, node in enumerate(ast.parse(src).body, start=first):
        if isinstance(node, ast.FunctionDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        else:
            continue
        if "KERNELS" in names:
            continue
        text = "\n".join(lines[node.lineno - 1:node.end_lineno])
        refs = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        for name in names:
            out[name] = (order, text, refs)
    return out


def _kernels_for(code: str) -> str:
    """The kernels `code` calls and everything they need, in numpy_kernels' order."""
    table = _kernel_sources()
    todo = [n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name) and n.id in table]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo.extend(r for r in table[name][2] if r in table)
    chunks = sorted({(table[n][0], table[n][1]) for n in needed})
    return "\n\n\n".join(text for _, text in chunks)
