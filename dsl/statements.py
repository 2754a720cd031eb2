"""The statements of a body: run in order, `if`, assignment and unpacking, expression statements, `output`.

Binding a name is what statements do, so this is also where a value bound and never used is reported
(W001), or a misspelt op at the end of a chain that bound a value instead (E310).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .declarations import declares
from .diagnostics import did_you_mean
from .elaborator_base import ElaboratorBase
from .frames import ERR, Binding, Frame
from .ir import Value
from .ops import OPS, lookup
from .ops.base import ALIASES, describe
from .source import Span
from .state import declare as declare_state


class StatementMixin(ElaboratorBase):
    """Running a body's statements and binding names."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...
        def _input(self, stmt: ast.Input, frame: Frame) -> None: ...
        def _declaration(self, stmt: ast.Assign, call: ast.Call, frame: Frame) -> None: ...
        def _is_callable(self, name: str, frame: Frame) -> bool: ...
        def _unapplied_layers(self, frame: Frame) -> None: ...

    def _run_body(self, frame: Frame) -> None:
        defn = frame.definition
        self.frames.append(frame)
        try:
            self._run(defn.body, frame)
        finally:
            self.frames.pop()
        if not frame.outputs and not any(isinstance(s, ast.Output) for s in defn.body):
            self.error("E402", f"`{defn.name}` has no `output`", defn.name_span,
                       help="end the body with `output <value>`")
        if frame.provided_inputs is not None and frame.inputs_seen < len(frame.provided_inputs):
            self.error("E308", f"`{defn.name}` takes {frame.inputs_seen} input"
                       f"{'s' if frame.inputs_seen != 1 else ''}, but {len(frame.provided_inputs)} were given",
                       frame.call_span)
        if frame.provided_inputs is None and frame.inputs_seen == 0:
            self.error("E403", f"network `{defn.name}` has no `input`", defn.name_span,
                       help="declare one: `input x: f32[B, 784]`")

    def _run(self, stmts: tuple[ast.Stmt, ...], frame: Frame) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Input):
                self._input(stmt, frame)
            elif isinstance(stmt, ast.Output):
                self._output(stmt, frame)
            elif isinstance(stmt, ast.Assign):
                call = declares(stmt, self.defs, frame.env)  # `reduction = Linear(...)`: a layer, used later
                if call is not None:
                    self._declaration(stmt, call, frame)
                    continue
                value = self._eval(stmt.value, frame)
                if len(stmt.targets) == 1:
                    self._assign(stmt.targets[0], value, frame)
                else:
                    self._assign(ast.TupleExpr(stmt.span, stmt.targets), value, frame)
            elif isinstance(stmt, ast.ExprStmt):
                self._expr_stmt(stmt, frame)
            elif isinstance(stmt, ast.StateDecl):
                declare_state(self, stmt, frame)
            elif isinstance(stmt, ast.If):
                for cond, body in stmt.branches:
                    c = self._eval(cond, frame)
                    if c is ERR:
                        break
                    if not isinstance(c, bool):
                        self.error("E204", f"an `if` condition must be true or false, but this is {describe(c)}",
                                   cond.span)
                        break
                    if c:
                        self._run(body, frame)
                        break
                else:
                    if stmt.orelse:
                        self._run(stmt.orelse, frame)

    def _expr_stmt(self, stmt: ast.ExprStmt, frame: Frame) -> None:
        e = stmt.expr
        binds = (isinstance(e, ast.Chain) and isinstance(e.steps[-1].expr, ast.Name)
                 and not self._is_callable(e.steps[-1].expr.id, frame))
        self._binding_chain = e  # only a chain statement may end by naming its result
        value = self._eval(e, frame)
        if not binds and _has_tensor(value):
            self.warn("W001", "the result of this expression is never used", e.span,
                      help="bind it with `-> name` at the end of the chain, or `name = ...`")

    def _bind(self, name: str, value: Any, span: Span, frame: Frame, kind: str = "value",
              chain_end: bool = False) -> None:
        old = frame.env.get(name)
        if old is not None and not old.used and old.kind != "param" and _has_tensor(old.value):
            self._unused(name, old)
        frame.env[name] = Binding(value, span, kind=kind, chain_end=chain_end)
        if self.observe is not None:
            self.observe(span, value)

    def _unused(self, name: str, b: Binding) -> None:
        if name.startswith("_"):
            return
        guess = did_you_mean(name, list(OPS) + list(ALIASES)) if b.kind == "value" and not lookup(name) else None
        what = "input" if b.kind == "input" else "value"
        if guess and b.chain_end:
            # `x -> Linear(10) -> relu6`: a misspelt op at the end of a chain would silently bind a value.
            self.error("E310", f"`{name}` is not an op or block, so this chain binds a value `{name}` that is "
                       "never used", b.span, label="binds a value",
                       help=f"did you mean the op `{guess}`? To name the result, write `{name} = ...` or use it")
            return
        self.warn("W001", f"{what} `{name}` is never used", b.span,
                  help=f"did you mean the op `{guess}`?" if guess else "prefix the name with `_` to silence this")

    def _assign(self, target: ast.Expr, value: Any, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, value, target.span, frame)
            return
        if isinstance(target, ast.TupleExpr):
            items = target.items
            if value is ERR:
                for t in items:
                    self._assign(t, ERR, frame)
                return
            if not isinstance(value, tuple) or len(value) != len(items):
                n = len(value) if isinstance(value, tuple) else 1
                self.error("E309", f"cannot unpack {n} value{'s' if n != 1 else ''} into {len(items)} names",
                           target.span, help="the number of names must match the number of values")
                for t in items:
                    self._assign(t, ERR, frame)
                return
            for t, v in zip(items, value):
                self._assign(t, v, frame)
            return
        self.error("E204", "only names can be assigned to", target.span,
                   help="write `name = ...` or `a, b = ...`")

    def _output(self, stmt: ast.Output, frame: Frame) -> None:
        for i, item in enumerate(stmt.items):
            value = self._eval(item.value, frame)
            if item.name:
                name = item.name
            elif isinstance(item.value, ast.Name):
                name = item.value.id
            else:
                name = "out" if len(stmt.items) == 1 else f"out{i}"
            if any(n == name for n, _, _ in frame.outputs):
                self.error("E406", f"output `{name}` is declared twice", item.span)
                continue
            if value is not ERR and not isinstance(value, Value):
                self.error("E204", f"an output must be a tensor, but this is {describe(value)}", item.value.span)
                value = ERR
            frame.outputs.append((name, value, item.span))

    def _finish_frame(self, frame: Frame) -> None:
        self._unapplied_layers(frame)
        for name, b in frame.env.items():
            if not b.used and b.kind in ("value", "input") and _has_tensor(b.value):
                self._unused(name, b)


def _has_tensor(v: Any) -> bool:
    if isinstance(v, Value):
        return True
    if isinstance(v, tuple):
        return any(_has_tensor(x) for x in v)
    return False
