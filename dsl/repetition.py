"""Containers written in a chain step: lists, repetition, comprehensions, `+` of them, and chains inside lists.

A step that is a container becomes one sequential module whose items are named 0, 1, 2 ... (or by a pattern).
This module turns the step's expression into that flat list of items:

- `[A, B, C]`: one item per element. An element that is itself a container (a list, a repetition, a chain
  `Conv -> BatchNorm -> relu`) is one item too: a nested sequential, as torchvision nests `Conv2dNormActivation`
  inside `features`, giving keys `features.0.0.weight`.
- `A * n`: n copies of A.
- `[A(i) for i in range(n)]`: one item per value, with the name bound to it in that item's arguments.
- `P + Q`: the items of P, then the items of Q, in one flat container (torchvision's `_make_layer`:
  `[Bottleneck(512, stride=2)] + Bottleneck(512) * (n - 1) as layer4` gives `layer4.0 ... layer4.{n-1}`).
  A part of a `+` may be empty (`* 0`, `range(0)`); the whole container may not.

The elaborator mixes this class in; it only uses the elaborator's `_eval`, `error`, `warn` and frames.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import ast
from .frames import ERR, Binding, Frame
from .ir import ContainerPart
from .limits import LAYERS
from .ops.base import describe
from .source import Span


@dataclass(frozen=True)
class Item:
    """One item of a container: the expression applied, the names bound for it (a comprehension's variable),
    and, for the steps of a chain written inside a list, the `as` name and item-name pattern it carries."""

    expr: ast.Expr
    bound: tuple[tuple[str, Any, Span], ...] = ()
    alias: tuple[str, Span] | None = None
    pattern: tuple[str, Span] | None = None


def is_repetition(e: ast.Expr) -> bool:
    return (isinstance(e, ast.BinOp) and e.op == "*"
            and isinstance(e.left, (ast.Name, ast.Call, ast.ListExpr, ast.ListComp, ast.Chain)))


def _is_part(e: ast.Expr) -> bool:
    """Something a `+` of containers can join: a container, or a single layer."""
    return is_container(e) or isinstance(e, (ast.Name, ast.Call))


def is_concat(e: ast.Expr) -> bool:
    """`[A] + B * 2`: a `+` whose operands are parts, at least one of them a container (so `A + B` of two
    layers, which more likely means adding two branches' outputs, is not read as a sequence)."""
    if not (isinstance(e, ast.BinOp) and e.op == "+"):
        return False
    leaves = _concat_leaves(e)
    return all(_is_part(p) for p in leaves) and any(is_container(p) for p in leaves)


def _concat_leaves(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.BinOp) and e.op == "+":
        return _concat_leaves(e.left) + _concat_leaves(e.right)
    return [e]


def is_container(e: ast.Expr) -> bool:
    return isinstance(e, (ast.ListExpr, ast.ListComp, ast.Chain)) or is_repetition(e) or is_concat(e)


def _callee_name(e: ast.Expr) -> str | None:
    if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
        return e.func.id
    return e.id if isinstance(e, ast.Name) else None


class ContainerMixin:
    """Expanding container expressions into items, and `range`/comprehension values for `_eval`."""

    max_layers: int
    observe: Any

    if TYPE_CHECKING:  # provided by the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...
        def error(self, code: str, message: str, span: Span | None, **kw: Any) -> Any: ...
        def warn(self, code: str, message: str, span: Span | None, **kw: Any) -> None: ...

    def _items(self, e: ast.Expr, frame: Frame, in_concat: bool = False,
               parts: list[ContainerPart] | None = None) -> list[Item] | None:
        """The flat items of a container expression, or None after reporting an error. `parts` receives the
        source's parts in order (see ContainerPart), for the IR."""
        parts = [] if parts is None else parts
        if isinstance(e, ast.ListExpr):
            self._warn_nested_repetition(e)
            parts.append(ContainerPart("listed", len(e.items), e.span))
            return [Item(it) for it in e.items]
        if isinstance(e, ast.Chain):
            parts.append(ContainerPart("listed", 1 + len(e.steps), e.span))
            return [Item(e.head)] + [Item(st.expr, (), (st.alias, st.alias_span) if st.alias is not None else None,
                                          (st.children, st.children_span) if st.children is not None else None)
                                     for st in e.steps]
        if isinstance(e, ast.ListComp):
            values = self._iteration_values(e, frame)
            if not isinstance(values, tuple):
                return None
            self._observe_values(e, values)
            parts.append(ContainerPart("comprehension", len(values), e.span, var=e.var, values=e.values,
                                       bound=values))
            return [Item(e.item, ((e.var, v, e.var_span),)) for v in values]
        if is_concat(e):
            assert isinstance(e, ast.BinOp)
            out: list[Item] = []
            for part in _concat_leaves(e):
                if is_container(part):
                    items = self._items(part, frame, in_concat=True, parts=parts)
                else:
                    items = [Item(part)]
                    parts.append(ContainerPart("listed", 1, part.span))
                if not isinstance(items, list):
                    return None
                out.extend(items)
            if not out and not in_concat:
                return self.error("E305", "this container has no items: every part of the `+` is empty", e.span,
                                  help="a repetition count or range here must add up to at least one layer")
            return out
        if is_repetition(e):
            assert isinstance(e, ast.BinOp)
            n = self._eval(e.right, frame)
            if n is ERR:
                return None
            smallest = 0 if in_concat else 1
            if not isinstance(n, int) or isinstance(n, bool) or n < smallest:
                what = "a non-negative" if in_concat else "a positive"
                return self.error("E305", f"a repeat count must be {what} integer, got {describe(n)}", e.right.span,
                                  help=None if in_concat or n != 0 else "joined to other layers with `+`, a count "
                                  "may be 0: `[Block(64, stride=2)] + Block(64) * (n - 1)`")
            if n > self.max_layers:
                return self.error(LAYERS.code, f"a repeat count of {n:,} is too large", e.right.span,
                                  help=f"repetition is unrolled into layers; {LAYERS.hint()}")
            parts.append(ContainerPart("repeat", n, e.span, count=e.right))
            return [Item(e.left)] * n
        raise AssertionError(f"not a container: {e}")

    def _warn_nested_repetition(self, e: ast.ListExpr) -> None:
        """`[Bottleneck(512, stride=2), Bottleneck(512) * 2]` nests the repetition as one item (`layer4.1.0`),
        which torchvision's `_make_layer` never does; warn when a repeated layer is also a plain item beside it."""
        plain = {_callee_name(it) for it in e.items if _callee_name(it) is not None}
        for k, it in enumerate(e.items):
            if not is_repetition(it):
                continue
            assert isinstance(it, ast.BinOp)
            name = _callee_name(it.left)
            if name is None or name not in plain:
                continue
            first = next(x for x in e.items if _callee_name(x) == name)
            self.warn("W004", f"this repetition is item {k} of the list, so its `{name}` layers are named "
                      f"`{k}.0`, `{k}.1`, ..., one level deeper than the plain `{name}` beside it", it.span,
                      help=f"for one flat container write `[{first.span.text}] + {it.span.text}`; to nest on "
                      f"purpose, write it as a comprehension: `[{it.left.span.text} for _ in range({it.right.span.text})]`")

    def _iteration_values(self, e: ast.ListComp, frame: Frame) -> tuple[Any, ...] | None:
        values = self._eval(e.values, frame)
        if values is ERR:
            return None
        if not isinstance(values, tuple):
            return self.error("E204", f"`for {e.var} in ...` needs a list of values or `range(n)`, but this is "
                              f"{describe(values)}", e.values.span,
                              help=f"for example `for {e.var} in range(4)` or `for {e.var} in [1, 2, 4, 8]`")
        if len(values) > self.max_layers:
            return self.error(LAYERS.code, f"a comprehension over {len(values):,} values is too large",
                              e.values.span, help=f"comprehensions are unrolled; {LAYERS.hint()}")
        return values

    def _comprehension(self, e: ast.ListComp, frame: Frame) -> Any:
        """`[2 ** i for i in range(4)]` as a value: the tuple of the item evaluated for each value."""
        values = self._iteration_values(e, frame)
        if not isinstance(values, tuple):
            return ERR
        self._observe_values(e, values)
        return tuple(self._eval(e.item, with_bound(frame, ((e.var, v, e.var_span),))) for v in values)

    def _observe_values(self, e: ast.ListComp, values: tuple[Any, ...]) -> None:
        """The language server's hover on the variable lists the values it takes."""
        if self.observe is not None:
            for v in values:
                self.observe(e.var_span, v)

    def _range(self, e: ast.Call, frame: Frame) -> Any:
        """`range(stop)`, `range(start, stop)`, `range(start, stop, step)`: integers, as in Python."""
        if any(a.name is not None for a in e.args) or not 1 <= len(e.args) <= 3:
            return self.error("E306", "`range` takes one to three integers: `range(n)`, `range(a, b)`, "
                              "`range(a, b, step)`", e.span)
        bounds = [self._eval(a.value, frame) for a in e.args]
        if any(b is ERR for b in bounds):
            return ERR
        for b, a in zip(bounds, e.args):
            if not isinstance(b, int) or isinstance(b, bool):
                return self.error("E204", f"`range` needs integers, but this is {describe(b)}", a.value.span)
        if len(bounds) == 3 and bounds[2] == 0:
            return self.error("E204", "a `range` step cannot be 0", e.args[2].value.span)
        r = range(*bounds)
        if len(r) > self.max_layers:
            return self.error(LAYERS.code, f"`range` of {len(r):,} values is too large", e.span,
                              help=LAYERS.hint())
        return tuple(r)


def with_bound(frame: Frame, bound: tuple[tuple[str, Any, Span], ...]) -> Frame:
    """The frame with names bound for one item (a comprehension's variable), sharing everything else."""
    if not bound:
        return frame
    env: dict[str, Binding] = dict(frame.env)
    for name, value, span in bound:
        env[name] = Binding(value, span, used=True, kind="param")
    return dataclasses.replace(frame, env=env)

