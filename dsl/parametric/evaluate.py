"""Evaluating .net expressions to (value, tree): the value one instance has, and the expression it came from."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .. import ast
from ..arithmetic import arith, compare
from ..dims import Dim
from ..source import Span
from .trees import (
    COMPARISON_OPS,
    MAX_TREE_HEIGHT,
    At,
    Bin,
    Call,
    Lit,
    Node,
    TooDeep,
    Tup,
    Unary,
    is_int,
    plain,
    t_add,
    t_sub,
    track,
)


@dataclass
class Requirements:
    """What one instance's own statements require of its arguments, met while it is analysed: the constructor
    refuses arguments that break them, naming the line, as the compiler does."""

    # exact divisions (`d / heads`): (dividend, divisor, expression)
    divisions: list[tuple[Node, Node, ast.BinOp]] = field(default_factory=list)
    # items of list parameters (`channels[i]`): (the list, the index, expression)
    indexes: list[tuple[Node, Node, ast.Index]] = field(default_factory=list)
    # expressions nested too deep to follow: the value written is the instance's own, so the class refuses
    # other arguments
    too_deep: list[Span] = field(default_factory=list)


_COLLECTED: ContextVar[Requirements | None] = ContextVar("requirements", default=None)


@contextmanager
def collecting(into: Requirements | None) -> Iterator[None]:
    """Collect the requirements met while analysing (None: not collecting, as for a child seen from its parent,
    whose class checks its own)."""
    token = _COLLECTED.set(into)
    try:
        yield
    finally:
        _COLLECTED.reset(token)


def note_too_deep(span: Span) -> None:
    """Record the expression at `span` as too deep to follow in the instance being analysed (when collecting)."""
    collected = _COLLECTED.get()
    if collected is not None and span not in collected.too_deep:
        collected.too_deep.append(span)


class EvalError(Exception):
    """The expression is not a compile-time value we can follow (a tensor, an unknown name, ...)."""


class TooDeepError(EvalError):
    """A compile-time value, but one nested deeper than the backend follows (MAX_TREE_HEIGHT)."""


@dataclass(frozen=True)
class Val:
    value: Any
    tree: Node


def evaluate(e: ast.Expr, env: dict[str, Val]) -> Val:
    try:
        v = _evaluate(e, env)
        if v.tree.height > MAX_TREE_HEIGHT:  # a float or a condition, which `track` does not see
            raise TooDeep(f"an expression nested {v.tree.height} deep")
    except TooDeep as exc:
        note_too_deep(e.span)
        raise TooDeepError(str(exc)) from None
    return v


def _evaluate(e: ast.Expr, env: dict[str, Val]) -> Val:
    if isinstance(e, ast.Name):
        if e.id not in env:
            raise EvalError(e.id)
        return env[e.id]
    if isinstance(e, (ast.Number, ast.String, ast.Const)):
        return Val(e.value, Lit(e.value))
    if isinstance(e, (ast.TupleExpr, ast.ListExpr)):
        items = [evaluate(i, env) for i in e.items]
        return Val(tuple(i.value for i in items), Tup(tuple(i.tree for i in items)))
    if isinstance(e, ast.UnaryOp):
        v = evaluate(e.operand, env)
        if e.op == "not":
            if not isinstance(v.value, bool):
                raise EvalError("not")
            return Val(not v.value, Unary("not", v.tree))
        if isinstance(v.value, bool) or not isinstance(v.value, (int, float, Dim)):
            raise EvalError("unary")
        if e.op == "+":
            return v
        value = -plain(v.value)
        tree = Lit(value) if isinstance(v.tree, Lit) else Unary("-", v.tree)
        return Val(track(value, tree), tree)
    if isinstance(e, ast.BinOp):
        return _eval_binop(e, env)
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "range" and "range" not in env:
        return _eval_range(e, env)
    if isinstance(e, ast.Index) and len(e.items) == 1 and not isinstance(e.items[0], ast.Slice):
        base, index = evaluate(e.value, env), evaluate(e.items[0], env)
        if not isinstance(base.value, tuple) or isinstance(index.value, bool) or not is_int(index.value):
            raise EvalError("index")
        try:
            value = base.value[int(index.value)]
        except IndexError:
            raise EvalError("index") from None
        tree = At(base.tree, index.tree)
        collected = _COLLECTED.get()
        if collected is not None and tree.has_leaf():
            collected.indexes.append((base.tree, index.tree, e))
        return Val(track(plain(value), tree) if is_int(plain(value)) else value, tree)
    raise EvalError(type(e).__name__)


def _eval_binop(e: ast.BinOp, env: dict[str, Val]) -> Val:
    left, right = evaluate(e.left, env), evaluate(e.right, env)
    a, b = plain(left.value), plain(right.value)
    op = e.op
    if op in ("and", "or"):
        if not isinstance(a, bool) or not isinstance(b, bool):
            raise EvalError(op)
        return Val((a and b) if op == "and" else (a or b), Bin(op, left.tree, right.tree))
    if op in COMPARISON_OPS:
        if isinstance(a, Dim) or isinstance(b, Dim):
            verdict = compare(op, a, b)  # None when it depends on the symbols: a runtime check (--guards)
        elif isinstance(a, (str, bool)) or isinstance(b, (str, bool)) or a is None or b is None:
            if op not in ("==", "!="):
                raise EvalError(op)
            verdict = (a == b) == (op == "==")
        else:
            verdict = compare(op, a, b)
        return Val(verdict, Bin(op, left.tree, right.tree))
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
            raise EvalError(op)
    try:
        value = arith(op, a, b)
    except (ZeroDivisionError, TypeError, ValueError, OverflowError) as exc:
        raise EvalError(str(exc)) from None
    py_op = op
    if op == "/":
        py_op = "//" if is_int(value) or isinstance(value, Dim) else "/"
        collected = _COLLECTED.get()
        if collected is not None and is_int(value) and is_int(a) and is_int(b) and \
                (left.tree.has_leaf() or right.tree.has_leaf()):
            collected.divisions.append((left.tree, right.tree, e))
    if op == "@":
        raise EvalError("@")
    if op in ("+", "-") and is_int(value) and is_int(a) and is_int(b):
        # integer constants fold as Tracked arithmetic folds them (`h + 1 + 1` is `h + 2`): a thousand
        # `h = h + 1` make a flat expression, not one nested a thousand deep
        tree = t_add(left.tree, right.tree) if op == "+" else t_sub(left.tree, right.tree)
    else:
        tree = Bin(py_op, left.tree, right.tree)
    return Val(track(value, tree), tree)


MAX_RANGE = 1_000_000  # a `range` the compiler accepted is far shorter (its layer limit); a guard, not a rule


def _eval_range(e: ast.Call, env: dict[str, Val]) -> Val:
    """`range(levels)`: its values, and the call as a tree, for the loop a comprehension over it becomes."""
    if any(a.name is not None for a in e.args) or not 1 <= len(e.args) <= 3:
        raise EvalError("range")
    args = [evaluate(a.value, env) for a in e.args]
    if not all(is_int(plain(a.value)) for a in args):
        raise EvalError("range")
    try:
        r = range(*(int(plain(a.value)) for a in args))
    except ValueError:
        raise EvalError("range") from None
    if len(r) > MAX_RANGE:
        raise EvalError("range")
    return Val(tuple(r), Call("range", tuple(a.tree for a in args)))
