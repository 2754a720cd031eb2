"""Chains (`x -> Conv2d(8, 3) -> relu -> y`): each step applied to the value before it.

A step is an op or block (called with the value as its input), a declared layer, a container (its items run
in a sequential module, in order), or, at the end of a chain statement, a name that binds the result. After
an error the later steps are still checked for what can be known without a value, so independent mistakes
are all reported.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .declarations import DeclaredLayer
from .diagnostics import did_you_mean
from .elaborator_base import ElaboratorBase
from .frames import ERR, Frame
from .ir import ContainerPart, Module, Value
from .naming import join
from .ops import OPS
from .ops.base import ALIASES
from .repetition import Item, is_container, with_bound
from .source import Span


class ChainMixin(ElaboratorBase):
    """Running chains and the containers in their steps."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...
        def _bind(self, name: str, value: Any, span: Span, frame: Frame, kind: str = "value",
                  chain_end: bool = False) -> None: ...
        def _is_callable(self, name: str, frame: Frame) -> bool: ...
        def _apply_declared(self, layer: DeclaredLayer, value: Any, span: Span, alias: tuple[str, Span] | None,
                            frame: Frame, tensors: dict[str, tuple[Any, Span]] | None = None) -> Any: ...
        def _apply(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]], chain_in: Any,
                   span: Span, alias: tuple[str, Span] | None, forced_name: str | None, frame: Frame) -> Any: ...
        def _call(self, e: ast.Call, frame: Frame, chain_in: Any, alias: tuple[str, Span] | None,
                  forced_name: str | None = None) -> Any: ...
        def _items(self, e: ast.Expr, frame: Frame, in_concat: bool = False,
                   parts: list[ContainerPart] | None = None) -> list[Item] | None: ...
        def _module_name(self, frame: Frame, forced: str | None, alias: tuple[str, Span] | None,
                         base: str) -> str | None: ...
        def _child_names(self, pattern: tuple[str, Span], n: int) -> Any: ...

    def _chain(self, e: ast.Chain, frame: Frame) -> Any:
        may_bind = e is getattr(self, "_binding_chain", None)
        value = self._eval(e.head, frame)
        for i, step in enumerate(e.steps):
            last = i == len(e.steps) - 1 and may_bind
            if value is ERR:
                # Keep checking names and attributes in later steps so independent typos are still reported.
                if last and isinstance(step.expr, ast.Name) and not self._is_callable(step.expr.id, frame):
                    self._bind(step.expr.id, ERR, step.expr.span, frame)
                else:
                    self._check_step(step.expr, frame)
                continue
            pattern = (step.children, step.children_span) if step.children is not None else None
            value = self._step(step.expr, value, frame, (step.alias, step.alias_span) if step.alias is not None else None,
                               None, last, pattern)
            if self.observe is not None:
                self.observe(step.span, value)
        return value

    def _step(self, expr: ast.Expr, value: Any, frame: Frame, alias: tuple[str, Span] | None,
              forced_name: str | None, last: bool, pattern: tuple[str, Span] | None = None) -> Any:
        container = is_container(expr)
        if pattern is not None and not container:
            return self.error("E311", "a name pattern `[\"...{i}\"]` names the items of a list or repetition, but "
                              "this step is a single layer", pattern[1], help="drop the pattern, or repeat the "
                              "step: `Block(64) * 3 as stage[\"block{i}\"]`")
        if isinstance(expr, ast.Name):
            name = expr.id
            declared = frame.env.get(name)
            if declared is not None and isinstance(declared.value, DeclaredLayer):  # `x -> reduction`
                declared.used = True
                return self._apply_declared(declared.value, value, expr.span, alias, frame)
            if self._is_callable(name, frame):
                return self._apply(name, [], {}, value, expr.span, alias, forced_name, frame)
            if last and forced_name is None:
                if alias:
                    self.error("E204", f"`as {alias[0]}` names a layer, but `{name}` binds a value", alias[1])
                self._bind(name, value, expr.span, frame, chain_end=True)
                return value
            if name in frame.env:
                return self.error("E301", f"`{name}` is a value, not an op or block", expr.span,
                                  help="only the last step of a chain can name its result")
            return self._unknown_op(name, expr.span)
        if isinstance(expr, ast.Call):
            return self._call(expr, frame, value, alias, forced_name)
        if container:
            parts: list[ContainerPart] = []
            items = self._items(expr, frame, parts=parts)
            if not isinstance(items, list):  # None or ERR: reported
                return ERR
            return self._sequential(items, parts, value, expr.span, alias, forced_name, frame, pattern)
        return self.error("E204", "a chain step must be an op, a block, a list of them, or a name to bind",
                          expr.span, help="wrap other expressions in parentheses: `(x -> f) + y`")

    def _unknown_op(self, name: str, span: Span) -> Any:
        guess = did_you_mean(name, list(OPS) + list(ALIASES) + list(self.defs))
        return self.error("E301", f"unknown op or block `{name}`", span,
                          help=f"did you mean `{guess}`?" if guess else "see `netc ops` for the list of ops")

    def _check_step(self, expr: ast.Expr, frame: Frame) -> None:
        """Report what can be known about a step without its input: unknown ops, names and attributes."""
        if isinstance(expr, ast.Name):
            declared = frame.env.get(expr.id)
            if declared is not None and isinstance(declared.value, DeclaredLayer):
                declared.used = True
                declared.value.uses.append(expr.span)  # counts as applied: no second error for it
            elif not self._is_callable(expr.id, frame) and expr.id not in frame.env:
                self._unknown_op(expr.id, expr.span)
        elif isinstance(expr, ast.Call):
            self._call(expr, frame, ERR, None)
        elif isinstance(expr, ast.ListExpr):
            for item in expr.items:
                self._check_step(item, frame)
        elif isinstance(expr, ast.ListComp):
            self._check_step(expr.item, with_bound(frame, ((expr.var, ERR, expr.var_span),)))
        elif isinstance(expr, ast.Chain):
            for part in (expr.head, *(st.expr for st in expr.steps)):
                self._check_step(part, frame)
        elif isinstance(expr, ast.BinOp) and expr.op in ("*", "+"):
            self._check_step(expr.left, frame)
            if expr.op == "+":
                self._check_step(expr.right, frame)

    def _sequential(self, items: list[Item], parts: list[ContainerPart], value: Any, span: Span,
                    alias: tuple[str, Span] | None, forced_name: str | None, frame: Frame,
                    pattern: tuple[str, Span] | None = None) -> Any:
        names = [str(i) for i in range(len(items))]
        if pattern is not None:
            if alias is None:
                return self.error("E311", "a name pattern needs a container name before it", pattern[1],
                                  help='write `as name["item{i}"]`')
            named = self._child_names(pattern, len(items))
            if named is ERR:
                return ERR
            names = named
        name = self._module_name(frame, forced_name, alias, "sequential")
        if name is None:
            return ERR
        mod = Module("sequential", name, join(frame.module.path, name), None, {}, span, alias is not None,
                     parent=frame.module)
        if pattern is not None:
            mod.item_pattern = pattern[0]
        mod.parts = parts
        frame.module.body.append(mod)
        sub = Frame(frame.definition, mod, frame.env, frame.provided_inputs, frame.call_span, set(), set(), {})
        mod.inputs = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, Value)]
        for item, forced in zip(items, names):
            if value is ERR:
                break
            # A step of a chain written inside a list keeps its own `as` name (`[Conv2d(8, 3) -> BatchNorm2d as bn]`).
            value = self._step(item.expr, value, with_bound(sub, item.bound), item.alias,
                               None if item.alias is not None else forced, False, item.pattern)
        mod.outputs = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, Value)]
        return value
