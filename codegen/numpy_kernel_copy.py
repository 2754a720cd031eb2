"""Copying kernels into the generated NumPy file: which kernels of the `numpy_kernels` family modules a
forward pass calls, with everything they need, as source text in their own order.

The generated file imports nothing but NumPy, so the kernels it calls are copied into it rather than imported.
One table holds every top-level function and constant of every family module, so a kernel in one module that
uses a helper from another (`conv` and shared.py's `_windows`, `transformer_layer` and `multihead_attention`)
pulls that helper in; the imports between the modules are never copied. The order is `numpy_kernels.FAMILIES`
and, within a module, source order: the same for every run, whichever kernels a network uses.
"""
from __future__ import annotations

import ast
import inspect
from functools import lru_cache

from .numpy_kernels import FAMILIES


# -- kernels copied into the generated file ------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _kernel_sources() -> dict[str, tuple[int, str, frozenset[str]]]:
    """Top-level functions and constants of the kernel modules: name -> (order, source lines, names they use).

    `order` is the module's place in FAMILIES times 100,000 plus the statement's place in the module. A name
    defined in two modules would make the copy depend on which one won, so it is refused rather than resolved.
    """
    out: dict[str, tuple[int, str, frozenset[str]]] = {}
    for place, module in enumerate(FAMILIES):
        found = _module_kernels(inspect.getsource(module), place * 100_000)
        clash = out.keys() & found.keys()
        if clash:
            raise RuntimeError(f"{module.__name__} redefines kernel names: {sorted(clash)}")
        out.update(found)
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
        text = "\n".join(lines[node.lineno - 1:node.end_lineno])
        refs = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        for name in names:
            out[name] = (order, text, refs)
    return out


def _kernels_for(code: str) -> str:
    """The kernels `code` calls and everything they need, in FAMILIES' order."""
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
