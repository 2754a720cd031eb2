"""Evaluating .net expressions to (value, tree): the value one instance has, and the expression it came from."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ...dsl import ast
from ...dsl.dims import Dim
from ...dsl.source import Span
from ...dsl.elaborate import arith, compare
from .exprs import _CMP, MAX_TREE_HEIGHT, At, Bin, Lit, Node, TooDeep, Tup, Unary, _is_int, plain, t_add, t_sub, track

# The exact divisions (`d / heads`) met while one instance is analysed, as (dividend, divisor, expression):
# the constructor refuses arguments that do not divide, as the compiler does. None: not collecting.
_REQUIREMENTS: ContextVar[list[tuple[Node, Node, ast.BinOp]] | None] = ContextVar("requirements", default=None)


# The expressions met while one instance is analysed that nest too deeply to follow: the value written is the
# instance's own, so the class refuses other arguments, naming these lines. None: not collecting.
_TOO_DEEP: ContextVar[list[Span] | None] = ContextVar("too_deep", default=None)


@contextmanager
def collecting(into: list[tuple[Node, Node, ast.BinOp]] | None,
               too_deep: list[Span] | None = None) -> Iterator[None]:
    token, deep_token = _REQUIREMENTS.set(into), _TOO_DEEP.set(too_deep)
    try:
        yield
    finally:
        _REQUIREMENTS.reset(token)
        _TOO_DEEP.reset(deep_token)


def note_too_deep(span: Span) -> None:
    """Record the expression at `span` as too deep to follow in the instance being analysed (when collecting)."""
    deep = _TOO_DEEP.get()
    if deep is not None and span not in deep:
        deep.append(span)


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
    if isinstance(e, ast.Index) and len(e.items) == 1 and not isinstance(e.items[0], ast.Slice):
        base, index = evaluate(e.value, env), evaluate(e.items[0], env)
        if not isinstance(base.value, tuple) or isinstance(index.value, bool) or not _is_int(index.value):
            raise EvalError("index")
        try:
            value = base.value[int(index.value)]
        except IndexError:
            raise EvalError("index") from None
        tree = At(base.tree, index.tree)
        return Val(track(plain(value), tree) if _is_int(plain(value)) else value, tree)
    raise EvalError(type(e).__name__)


def _eval_binop(e: ast.BinOp, env: dict[str, Val]) -> Val:
    left, right = evaluate(e.left, env), evaluate(e.right, env)
    a, b = plain(left.value), plain(right.value)
    op = e.op
    if op in ("and", "or"):
        if not isinstance(a, bool) or not isinstance(b, bool):
            raise EvalError(op)
        return Val((a and b) if op == "and" else (a or b), Bin(op, left.tree, right.tree))
    if op in _CMP:
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
        py_op = "//" if _is_int(value) or isinstance(value, Dim) else "/"
        needs = _REQUIREMENTS.get()
        if needs is not None and _is_int(value) and _is_int(a) and _is_int(b) and \
                (left.tree.has_leaf() or right.tree.has_leaf()):
            needs.append((left.tree, right.tree, e))
    if op == "@":
        raise EvalError("@")
    if op in ("+", "-") and _is_int(value) and _is_int(a) and _is_int(b):
        # integer constants fold as Tracked arithmetic folds them (`h + 1 + 1` is `h + 2`): a thousand
        # `h = h + 1` make a flat expression, not one nested a thousand deep
        tree = t_add(left.tree, right.tree) if op == "+" else t_sub(left.tree, right.tree)
    else:
        tree = Bin(py_op, left.tree, right.tree)
    return Val(track(value, tree), tree)
