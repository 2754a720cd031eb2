"""Shape guards of the generated NumPy forward (`--guards`): rank and size checks of the inputs, one size
per symbol across inputs, and the network's `where` constraints, each raising ValueError with the expected shape.
"""
from __future__ import annotations

import ast

from ..dsl.dims import symbol_name
from ..dsl.ir import Value
from .numpy_forward import Forward, _str


def _guards(f: Forward, inputs: list[tuple[str, Value]], bound: set[str], constraints: bool = True) -> list[str]:
    """Shape checks at the top of forward: rank, known sizes, one size per symbol across inputs, `where`.

    A symbol is bound from the first input that has it as a whole dim, right after that input's rank check,
    and only if something reads it (a later check, a constraint, the body).
    """
    checks: dict[str, list[str]] = {}
    for var, value in inputs:  # first pass: the checks, which mark the symbols they read
        checks[var] = []
        for axis, d in enumerate(value.type.dims):
            s = symbol_name(d)
            if s is not None and f.bindable[s] == (var, axis):
                continue
            text = f.dim(d)
            if text is not None:
                checks[var].append(f"{var}.shape[{axis}] != {text}")
    conditions = [(c.text, _constraint_code(c.text, f)) for c in (f.graph.constraints if constraints else ())]
    lines: list[str] = []
    for var, value in inputs:
        dims = value.type.dims
        expected = f"({', '.join(str(d) for d in dims)}{',' if len(dims) == 1 else ''})"
        message = _str(f"{var}: expected shape {expected}, got ")
        lines.append(f"if {var}.ndim != {len(dims)}:")
        lines.append(f"    raise ValueError({message} + str({var}.shape))")
        for axis, d in enumerate(dims):
            s = symbol_name(d)
            if s is not None and f.bindable[s] == (var, axis) and s in f.used_symbols and s not in bound:
                lines.append(f"{f.symbols[s]} = {var}.shape[{axis}]")
                bound.add(s)
        if checks[var]:
            lines.append(f"if {' or '.join(checks[var])}:")
            lines.append(f"    raise ValueError({message} + str({var}.shape))")
    for text, cond in conditions:
        if cond is not None:
            lines.append(f"if not ({cond}):")
            lines.append(f"    raise ValueError({_str('the inputs break the constraint ' + text)})")
    return lines


_SAFE_NODES = (ast.Expression, ast.Compare, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.operator,
               ast.unaryop, ast.cmpop)


def _constraint_code(text: str, f: Forward) -> str | None:
    """A `where` condition as Python, rebuilt from a checked AST over bound symbols; None if it is not one."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            return None
        if isinstance(node, ast.Constant) and not isinstance(node.value, int):
            return None
        if isinstance(node, ast.Name):
            if node.id not in f.bindable:
                return None
            f.used_symbols.add(node.id)
            node.id = f.symbols[node.id]
    return ast.unparse(tree.body)
