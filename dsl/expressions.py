"""Evaluating expressions: names, numbers, strings, lists, indexing, unary and binary operators.

Numbers and dims are computed at compile time (arithmetic.py); an operator with a tensor operand becomes an
op node (tensor_operators.py says which). Calls, chains and containers have modules of their own (calls.py,
chains.py, repetition.py); `_eval` is where every expression starts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast, tensor_operators
from .arithmetic import arith, compare, is_dim, too_large
from .declarations import DeclaredLayer
from .diagnostics import did_you_mean
from .dims import Dim
from .elaborator_base import ElaboratorBase
from .frames import ERR, Frame
from .ir import Value
from .ops import lookup
from .ops.base import describe
from .source import Span


class ExpressionMixin(ElaboratorBase):
    """Evaluating expressions to values: numbers, dims, strings, tuples, tensors (Values) or ERR."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _comprehension(self, e: ast.ListComp, frame: Frame) -> Any: ...
        def _range(self, e: ast.Call, frame: Frame) -> Any: ...
        def _call(self, e: ast.Call, frame: Frame, chain_in: Any, alias: tuple[str, Span] | None,
                  forced_name: str | None = None) -> Any: ...
        def _chain(self, e: ast.Chain, frame: Frame) -> Any: ...
        def _apply_op(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                      inputs: list[Value], span: Span, alias: tuple[str, Span] | None, forced_name: str | None,
                      frame: Frame, mapped: bool = False) -> Any: ...

    def _is_callable(self, name: str, frame: Frame) -> bool:
        return (lookup(name) is not None or name in self.defs) and name not in frame.env

    def _lookup(self, e: ast.Name, frame: Frame) -> Any:
        b = frame.env.get(e.id)
        if b is not None and isinstance(b.value, DeclaredLayer):
            b.used = True
            return self.error("E204", f"`{e.id}` is a declared layer, not a value", e.span,
                              help=f"apply it to a value: `x -> {e.id}` or `{e.id}(x)`")
        if b is not None:
            b.used = True
            if self.observe is not None:
                self.observe(e.span, b.value)
            return b.value
        if lookup(e.id) is not None or e.id in self.defs:
            return self.error("E204", f"`{e.id}` is {'an op' if lookup(e.id) else 'a block'}, not a value",
                              e.span, help=f"apply it to a value: `x -> {e.id}` or `{e.id}(x)`")
        guess = did_you_mean(e.id, list(frame.env))
        return self.error("E300", f"unknown name `{e.id}`", e.span, label="not defined here",
                          help=f"did you mean `{guess}`?" if guess else None)

    def _eval(self, e: ast.Expr, frame: Frame) -> Any:
        if isinstance(e, ast.Name):
            return self._lookup(e, frame)
        if isinstance(e, ast.Number):
            if too_large(e.value):
                text = e.span.text if len(e.span.text) <= 24 else e.span.text[:20] + "..."
                return self.error("E204", f"the number `{text}` is too large", e.span,
                                  help="sizes and counts must fit in 64 bits")
            return e.value
        if isinstance(e, ast.String):
            return e.value
        if isinstance(e, ast.Const):
            return e.value
        if isinstance(e, ast.TupleExpr | ast.ListExpr):
            return tuple(self._eval(i, frame) for i in e.items)
        if isinstance(e, ast.ListComp):
            return self._comprehension(e, frame)
        if isinstance(e, ast.UnaryOp):
            return self._unary(e, frame)
        if isinstance(e, ast.BinOp):
            return self._binop(e, frame)
        if isinstance(e, ast.Call):
            if (isinstance(e.func, ast.Name) and e.func.id == "range" and "range" not in frame.env
                    and not self._is_callable("range", frame)):
                return self._range(e, frame)
            return self._call(e, frame, None, None)
        if isinstance(e, ast.Chain):
            return self._chain(e, frame)
        if isinstance(e, ast.Index):
            return self._index(e, frame)
        return self.error("E204", "this expression is not supported here", e.span)

    def _index(self, e: ast.Index, frame: Frame) -> Any:
        base = self._eval(e.value, frame)
        if base is ERR:
            return ERR
        if isinstance(base, tuple) and len(e.items) == 1 and not isinstance(e.items[0], ast.Slice):
            i = self._eval(e.items[0], frame)
            if i is ERR:
                return ERR
            if not isinstance(i, int) or isinstance(i, bool) or not -len(base) <= i < len(base):
                return self.error("E208", f"index {i!r} is out of range for {len(base)} values", e.items[0].span)
            return base[i]
        if isinstance(base, Value):
            return self._tensor_index(e, base, frame)
        return self.error("E204", f"cannot index {describe(base)}", e.span)

    def _tensor_index(self, e: ast.Index, base: Value, frame: Frame) -> Any:
        """`out[:, -1]` becomes an `index` op whose `items` hold ints or dims, slices, and `none` (a new axis)."""
        items: list[Any] = []
        for it in e.items:
            if isinstance(it, ast.Slice):
                parts = [None if p is None else self._eval(p, frame) for p in (it.lower, it.upper, it.step)]
                if any(p is ERR for p in parts):
                    return ERR
                for p, part in zip(parts, (it.lower, it.upper, it.step)):
                    if p is not None and not is_dim(p):
                        return self.error("E204", f"a slice bound must be an integer, but this is {describe(p)}",
                                          part.span if part is not None else it.span)
                items.append(slice(*parts))
                continue
            v = self._eval(it, frame)
            if v is ERR:
                return ERR
            if isinstance(v, Value):
                return self.error("E204", "indexing a tensor with another tensor is not supported", it.span,
                                  help="look rows up with `Embedding`, or take parts with slices like `x[:, -1]`")
            if v is not None and not is_dim(v):
                return self.error("E204", f"an index must be an integer, a slice or `none`, but this is "
                                  f"{describe(v)}", it.span)
            items.append(v)
        return self._apply_op("index", [], {"items": (tuple(items), e.span)}, [base], e.span, None, None, frame)

    def _unary(self, e: ast.UnaryOp, frame: Frame) -> Any:
        v = self._eval(e.operand, frame)
        if v is ERR:
            return ERR
        if e.op == "not":
            if not isinstance(v, bool):
                return self.error("E204", f"`not` needs true or false, got {describe(v)}", e.operand.span)
            return not v
        if isinstance(v, Value):
            return tensor_operators.unary(e.op, v, self._operator_apply(e.span, frame), self._operator_fail(e.span),
                                          lambda t: t.type.dtype == "bool")
        if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
            return self.error("E204", f"`{e.op}` needs a number, got {describe(v)}", e.operand.span)
        return -v if e.op == "-" else v

    def _binop(self, e: ast.BinOp, frame: Frame) -> Any:
        op = e.op
        if op in ("and", "or"):
            left = self._eval(e.left, frame)
            if left is ERR:
                return ERR
            if not isinstance(left, bool):
                return self.error("E204", f"`{op}` needs true or false, got {describe(left)}", e.left.span)
            if (op == "and" and not left) or (op == "or" and left):
                return left
            right = self._eval(e.right, frame)
            if right is ERR:
                return ERR
            if not isinstance(right, bool):
                return self.error("E204", f"`{op}` needs true or false, got {describe(right)}", e.right.span)
            return right
        left, right = self._eval(e.left, frame), self._eval(e.right, frame)
        if left is ERR or right is ERR:
            return ERR
        if isinstance(left, Value) or isinstance(right, Value):
            return self._tensor_binop(e, left, right, frame)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if isinstance(left, (str, bool)) or isinstance(right, (str, bool)) or left is None or right is None:
                if op in ("==", "!="):
                    return (left == right) == (op == "==")
                return self.error("E204", f"cannot compare {describe(left)} and {describe(right)} with `{op}`",
                                  e.span)
            verdict = compare(op, left, right)
            if verdict is None:
                return self.error("E204", f"`{e.span.text}` depends on the symbolic values of {left} and {right}",
                                  e.span, help="conditions are decided at compile time; bind the symbol with --set")
            return verdict
        for side, v in (("left", left), ("right", right)):
            if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
                return self.error("E204", f"`{op}` needs numbers, but the {side} side is {describe(v)}",
                                  (e.left if side == "left" else e.right).span)
        try:
            out = arith(op, left, right)
        except ZeroDivisionError:
            return self.error("E204", "division by zero", e.span)
        except (TypeError, ValueError, OverflowError) as exc:
            return self.error("E204", f"cannot compute `{e.span.text}`: {exc}", e.span)
        if too_large(out):
            return self.error("E204", f"`{e.span.text}` is too large", e.span,
                              help="sizes and counts must fit in 64 bits")
        return out

    def _tensor_binop(self, e: ast.BinOp, left: Any, right: Any, frame: Frame) -> Any:
        if not tensor_operators.is_tensor_operator(e.op):
            return self.error("E204", f"`{e.op}` is not defined for tensors", e.span)
        return tensor_operators.binary(e.op, left, right, isinstance(left, Value), isinstance(right, Value),
                                       self._operator_apply(e.span, frame), self._operator_fail(e.span),
                                       lambda t: t.type.is_float, ERR)

    def _operator_apply(self, span: Span, frame: Frame) -> tensor_operators.Apply:
        def apply(name: str, attrs: dict[str, Any], inputs: list[Any]) -> Any:
            kw = {k: (v, span) for k, v in attrs.items()}
            return self._apply_op(name, [], kw, inputs, span, None, None, frame)
        return apply

    def _operator_fail(self, span: Span) -> tensor_operators.Fail:
        return lambda message, help: self.error("E204", message, span, help=help)
