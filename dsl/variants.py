"""The same network elaborated with other parameter values, for tools that describe every value at once.

A generated class must build, for any legal arguments, what the compiler builds for them. The compiled
values take one arm of each `if`; to write the other arms as code, a backend needs the IR the compiler
makes when they are taken. This module gives it that IR, from the same elaborator, without diagnostics:
values that make the network illegal simply give no graph.
"""
from __future__ import annotations

from typing import Any

from . import ast
from .compiler import Result, find_cycles
from .diagnostics import Diagnostics
from .elaborate import Elaborator
from .ir import Graph


def elaborate_with(result: Result, network: str, values: dict[str, Any]) -> Graph | None:
    """`network` of `result` elaborated with `values` over the values it was compiled with (None if illegal)."""
    diags = Diagnostics()
    elab = Elaborator(result.definitions, diags, {**result.overrides, **values})
    elab.cyclic = find_cycles(result.definitions, Diagnostics())
    graph = elab.network(network)
    return graph if graph is not None and not diags.has_errors else None


def branch_variants(result: Result, network: str) -> list[dict[str, Any]]:
    """Other values of the network's parameters that can take other arms of its `if`s: each `bool` parameter
    flipped. (An integer's other legal values cannot be read off its declaration, so they are not tried.)"""
    defn: ast.Definition = result.definitions[network]
    graph = result.graphs.get(network)
    if graph is None:
        return []
    out = []
    for p in defn.params:
        value = graph.root.args.get(p.name)
        if p.type_name == "bool" and isinstance(value, bool):
            out.append({p.name: not value})
    return out
