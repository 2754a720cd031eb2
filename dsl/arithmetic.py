"""Compile-time arithmetic and comparison of .net values: ints, floats and symbolic dims.

`arith` and `compare` give the language's operators their meaning (`//` floors, `/` is exact or fails, a
comparison of dims may be undecided). The elaborator evaluates expressions with them and the torch backend
evaluates the same expressions when it writes parametric code, so both share this one implementation; it
depends on nothing but the dims.
"""
from __future__ import annotations

from typing import Any

from .dims import Dim, dims_equal, floordiv, lower_bound
from .ops.tensor import exact_div


def arith(op: str, a: Any, b: Any) -> Any:
    """`a op b` for the .net arithmetic operators on ints, floats and symbolic dims (`//` floors; `/` is exact or fails)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "**":
        if isinstance(a, Dim) or isinstance(b, Dim):
            if isinstance(b, int) and b >= 0:
                out: Any = 1
                for _ in range(b):
                    out = out * a
                return out
            raise TypeError("symbolic powers need a non-negative integer exponent")
        if isinstance(b, int) and isinstance(a, int) and abs(b) > 64:
            raise ValueError("exponent too large")
        return a ** b
    if op == "%":
        if isinstance(b, Dim):
            raise TypeError("`%` by a symbolic dimension")
        if isinstance(a, Dim):
            return a - b * floordiv(a, b)  # H % 16 == H - 16*(H//16): a dim expression, decided when H is
        return a % b
    if op == "//":
        if isinstance(a, float) or isinstance(b, float):
            if b == 0:
                raise ZeroDivisionError
            return a // b
        return floordiv(a, b)  # ints as Python's `//`; dims as the floor-division atom `(H - 1)//2`
    if op == "/":
        if isinstance(a, float) or isinstance(b, float):
            return a / b
        if isinstance(b, Dim):
            q = exact_div(a, b)
            if q is None:
                raise TypeError(f"{a} is not divisible by the symbolic {b}")
            return q
        if b == 0:
            raise ZeroDivisionError
        if isinstance(a, Dim):
            q = exact_div(a, b)
            return q if q is not None else floordiv(a, b)
        return a // b if a % b == 0 else a / b
    raise TypeError(f"unknown operator {op}")


def compare(op: str, a: Any, b: Any) -> bool | None:
    """`a op b` for a comparison operator; None when it depends on the values of symbols."""
    if isinstance(a, Dim) or isinstance(b, Dim):
        if op in ("==", "!="):
            same = dims_equal(a, b)
            return None if same is None else (same if op == "==" else not same)
        diff = a - b if op in ("<", "<=") else b - a  # diff < 0 (or <= 0) means true
        strict = op in ("<", ">")
        lb = lower_bound(diff)
        if lb is not None and (lb >= 0 if strict else lb > 0):
            return False
        neg_lb = lower_bound(-diff)  # type: ignore[operator]
        if neg_lb is not None and (neg_lb > 0 if strict else neg_lb >= 0):
            return True
        return None
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def too_large(v: Any) -> bool:
    """Beyond int64 (what torch can hold); unbounded ints would also break printing past 4300 digits."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return abs(v) >= 2 ** 63
    if isinstance(v, float):
        return v in (float("inf"), float("-inf"))
    if isinstance(v, Dim):
        return any(abs(c) >= 2 ** 63 for _, c in v.terms)
    return False


def is_dim(v: Any) -> bool:
    return isinstance(v, Dim) or (isinstance(v, int) and not isinstance(v, bool))
