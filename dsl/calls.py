"""Calls (`Linear(10)`, `Block(64, stride=2)`, `reduction(x)`): the arguments evaluated, the callee found,
and the call applied. An op becomes an op node (op_nodes.py); a block becomes an instance, a module that runs
the block's body in a frame of its own.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .declarations import DeclaredLayer
from .diagnostics import Label, did_you_mean
from .elaborator_base import ElaboratorBase
from .frames import ERR, Frame
from .ir import Module, Value
from .naming import collect_aliases, join, snake
from .op_nodes import value_text
from .ops import OPS, OpSpec, lookup
from .ops.base import ALIASES, LayerRef, describe
from .source import Span
from .state_hints import PYTORCH_CALLS
from .state_hints import SYNTAX_HINT as STATE_SYNTAX_HINT


class CallMixin(ElaboratorBase):
    """Calling ops and blocks; an op's node is made by OpNodeMixin, a block's body run by StatementMixin."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...
        def _apply_declared(self, layer: DeclaredLayer, value: Any, span: Span, alias: tuple[str, Span] | None,
                            frame: Frame, tensors: dict[str, tuple[Any, Span]] | None = None) -> Any: ...
        def _apply_op(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                      inputs: list[Value], span: Span, alias: tuple[str, Span] | None, forced_name: str | None,
                      frame: Frame, mapped: bool = False) -> Any: ...
        def _bind_attrs(self, spec: type[OpSpec], name: str, pos: list[tuple[Any, Span]],
                        kw: dict[str, tuple[Any, Span]], span: Span) -> Any: ...
        def _bind_params(self, defn: ast.Definition, pos: list[tuple[Any, Span]],
                         kw: dict[str, tuple[Any, Span]], call_span: Span, top_level: bool = False) -> Any: ...
        def _module_name(self, frame: Frame, forced: str | None, alias: tuple[str, Span] | None,
                         base: str) -> str | None: ...
        def _run_body(self, frame: Frame) -> None: ...
        def _finish_frame(self, frame: Frame) -> None: ...

    def _eval_args(self, args: tuple[ast.Arg, ...], frame: Frame,
                   refs: frozenset[str] = frozenset()) -> tuple[list[tuple[Any, Span]], dict[str, tuple[Any, Span]],
                                                                bool]:
        pos: list[tuple[Any, Span]] = []
        kw: dict[str, tuple[Any, Span]] = {}
        ok = True
        for a in args:
            if a.name in refs and isinstance(a.value, (ast.Name, ast.String)):
                # `tied=wte` names a layer, not a value: resolved against the layers built so far.
                v: Any = a.value.id if isinstance(a.value, ast.Name) else a.value.value
            else:
                v = self._eval(a.value, frame)
            if v is ERR:
                ok = False
            if a.name is None:
                if kw:
                    self.error("E306", "a positional argument cannot follow a named one", a.span)
                    ok = False
                pos.append((v, a.span))
            elif a.name in kw:
                self.error("E304", f"`{a.name}` is given twice", a.span,
                           secondary=[Label(kw[a.name][1], "first given here")])
                ok = False
            else:
                kw[a.name] = (v, a.span)
        return pos, kw, ok

    def _callee(self, func: ast.Expr, frame: Frame) -> str | None:
        if not isinstance(func, ast.Name):
            self.error("E204", "only ops and blocks can be called", func.span)
            return None
        name = func.id
        if lookup(name) is not None or name in self.defs:
            return name
        candidates = list(OPS) + list(ALIASES) + list(self.defs)
        guess = did_you_mean(name, candidates)
        self.error("E301", f"unknown op or block `{name}`", func.span,
                   help=STATE_SYNTAX_HINT if name in PYTORCH_CALLS else
                   f"did you mean `{guess}`?" if guess else "see `netc ops` for the list of ops")
        return None

    def _call(self, e: ast.Call, frame: Frame, chain_in: Any, alias: tuple[str, Span] | None,
              forced_name: str | None = None) -> Any:
        declared = frame.env.get(e.func.id) if isinstance(e.func, ast.Name) else None
        if declared is not None and isinstance(declared.value, DeclaredLayer):  # `reduction(x)`
            declared.used = True
            pos, kw, ok = self._eval_args(e.args, frame, frozenset())
            if not ok or chain_in is ERR or any(v is ERR for v, _ in pos):
                declared.value.uses.append(e.span)  # counts as applied: no second error for it
                return ERR
            if any(v is ERR for v, _ in kw.values()):
                return ERR
            if any(not isinstance(v, Value) for v, _ in [*pos, *kw.values()]):
                return self.error("E204", f"the declared layer `{e.func.id}` takes only tensors here", e.span,
                                  help="its attributes are given where it is declared")
            inputs = tuple(_flatten(chain_in)) if chain_in is not None else ()
            inputs += tuple(v for v, _ in pos)
            # Tensors by keyword (`self_attn(x, key_padding_mask=pad)`) join the declared attributes.
            return self._apply_declared(declared.value, inputs if len(inputs) != 1 else inputs[0], e.span, alias,
                                        frame, kw)
        name = self._callee(e.func, frame)
        spec = lookup(name) if name is not None and name not in frame.env else None
        refs = frozenset(at.name for at in spec.attrs if at.coerce is LayerRef) if spec is not None else frozenset()
        pos, kw, ok = self._eval_args(e.args, frame, refs)
        if name is None or not ok:
            return ERR
        if chain_in is ERR:
            self._check_arguments(name, pos, kw, e.span)
            return ERR
        return self._apply(name, pos, kw, chain_in, e.span, alias, forced_name, frame)

    def _apply(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]], chain_in: Any,
               span: Span, alias: tuple[str, Span] | None, forced_name: str | None, frame: Frame) -> Any:
        inputs: list[Any] = []
        if chain_in is not None:
            inputs.extend(_flatten(chain_in))
        attrs_pos = []
        for v, s in pos:
            if isinstance(v, Value):
                inputs.append(v)
            elif isinstance(v, tuple) and v and all(isinstance(x, Value) for x in _flatten(v)):
                inputs.extend(_flatten(v))  # `LSTM(256, (h, c))`: a state tuple is several inputs
            else:
                attrs_pos.append((v, s))
        if any(v is ERR for v in inputs):
            return ERR
        if any(not isinstance(v, Value) for v in inputs):
            return self.error("E204", f"`{name}` needs tensor inputs, got {describe(next(v for v in inputs if not isinstance(v, Value)))}", span)
        spec = lookup(name)
        if spec is not None:
            # A single-input op applied to several values maps over them (`[q, k, v] -> transpose(1, 2)`).
            if (isinstance(chain_in, tuple) and spec.max_inputs == 1 and len(inputs) > 1
                    and len(inputs) == len(chain_in)):
                return tuple(self._apply_op(name, attrs_pos, kw, [v], span, alias, forced_name, frame,
                                            mapped=True) for v in inputs)
            return self._apply_op(name, attrs_pos, kw, inputs, span, alias, forced_name, frame)
        return self._instantiate(self.defs[name], attrs_pos, kw, inputs, span, alias, forced_name, frame)

    def _check_arguments(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                         span: Span) -> None:
        scalars = [(v, s) for v, s in pos if not isinstance(v, Value)]
        spec = lookup(name)
        if spec is not None:
            self._bind_attrs(spec, name, scalars, kw, span)
        elif name in self.defs:
            self._bind_params(self.defs[name], scalars, {k: v for k, v in kw.items()
                                                         if not isinstance(v[0], Value)}, span)

    def _instantiate(self, defn: ast.Definition, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                     inputs: list[Value], span: Span, alias: tuple[str, Span] | None, forced_name: str | None,
                     frame: Frame) -> Any:
        if not self._count_layer(span):
            return ERR
        if defn.name in self.cyclic or any(d == defn.name for d, _, _ in self.stack):
            if defn.name not in self.cyclic:
                self.error("E401", f"`{defn.name}` uses itself", span,
                           help="blocks cannot be recursive; repeat them with `* N` instead")
            return ERR
        params = self._bind_params(defn, pos, kw, span)
        if params is ERR:
            return ERR
        name = self._module_name(frame, forced_name, alias, snake(defn.name).replace("_", ""))
        if name is None:
            return ERR
        mod = Module("block" if defn.kind == "block" else "network", name, join(frame.module.path, name),
                     defn.name, {k: b.value for k, b in params.items()}, span, alias is not None,
                     inputs=list(inputs), parent=frame.module,
                     arg_source={**{p.name: s.text for p, (_, s) in zip(defn.params, pos)},
                                 **{k: value_text(s) for k, (_, s) in kw.items()}})
        frame.module.body.append(mod)
        sub = Frame(defn, mod, params, list(inputs), span, collect_aliases(defn.body))
        self.stack.append((defn.name, span, mod.path))
        try:
            self._run_body(sub)
        finally:
            self.stack.pop()
        self._finish_frame(sub)
        mod.input_defaults = dict(sub.input_defaults)
        # Symbols bound from the caller's shapes (C in f32[B, C, H, W]) are arguments of the instance too.
        for k, b in sub.env.items():
            if b.kind == "param" and k not in mod.args:
                mod.args[k] = b.value
        outs = [v for _, v, _ in sub.outputs]
        if any(v is ERR for v in outs) or not outs:
            return ERR
        mod.outputs = list(outs)
        return outs[0] if len(outs) == 1 else tuple(outs)


def _flatten(v: Any) -> list[Any]:
    """Nested tuples of values, flat: `(x, (h, c))` -> [x, h, c]."""
    if not isinstance(v, tuple):
        return [v]
    return [leaf for item in v for leaf in _flatten(item)]
