"""Layers declared before their use, so the state_dict follows torch's registration order.

By default a layer is registered where it is first used, so state_dict keys follow the order of use. A published
model sometimes registers a layer before another that it uses first: torchvision's Swin `PatchMerging` assigns
`self.reduction` before `self.norm` and calls `norm` first; `nn.TransformerEncoderLayer` assigns `linear1` before
`norm1`. Written like the `__init__` it mirrors, an assignment of a layer without an input declares it:

    reduction = Linear(4 * C, 2 * C, bias=false)   # registered here, as `reduction`
    x -> LayerNorm(4 * C) as norm -> reduction -> y   # `norm` registered here, used first

A declared layer is registered at its declaration and named by it; it is applied exactly once, by name in a chain
(`x -> reduction`) or as a call (`reduction(x)`), in the body that declares it. Declaring it and never applying it,
or applying it twice (which in torch would share its weights), is E313. The rule, in docs/language.md: children
are registered in the order their declarations and first uses appear in the body.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import ast
from .frames import ERR, Frame
from .ir import Module, Value
from .ops import lookup
from .source import Span


@dataclass(eq=False)
class DeclaredLayer:
    """`name = Op(attrs)` without an input: the op or block, its evaluated arguments, where it was declared."""

    name: str
    span: Span  # the name in the declaration
    callee: str
    pos: list[tuple[Any, Span]]
    kw: dict[str, tuple[Any, Span]]
    call_span: Span
    module: Module
    uses: list[Span] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"layer `{self.name}`"


def declares(stmt: ast.Assign, defs: dict[str, ast.Definition], env: dict[str, Any]) -> ast.Call | None:
    """The call when `stmt` may declare a layer: one name assigned a call of an op that takes input tensors,
    or of a block with a required input. Whether it does depends on its arguments (no tensor among them)."""
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name) or not isinstance(stmt.value, ast.Call):
        return None
    func = stmt.value.func
    if not isinstance(func, ast.Name) or func.id in env:
        return None
    spec = lookup(func.id)
    if spec is not None:
        return stmt.value if spec.min_inputs >= 1 else None
    defn = defs.get(func.id)
    if defn is not None and any(isinstance(s, ast.Input) and s.default is None for s in defn.body):
        return stmt.value
    return None


def _has_value(v: Any) -> bool:
    if isinstance(v, Value):
        return True
    return isinstance(v, tuple) and any(_has_value(x) for x in v)


class DeclarationMixin:
    """The elaborator's handling of declared layers; it mixes this class in."""

    defs: dict[str, ast.Definition]

    if TYPE_CHECKING:  # provided by the elaborator
        def error(self, code: str, message: str, span: Span | None, **kw: Any) -> Any: ...

    def _declaration(self, stmt: ast.Assign, call: ast.Call, frame: Frame) -> None:
        """Declare the layer, or, when a tensor is among the arguments, apply the call as an assignment does."""
        target = stmt.targets[0]
        assert isinstance(target, ast.Name)
        name = self._callee(call.func, frame)  # type: ignore[attr-defined]
        if name is None:
            self._assign(target, ERR, frame)  # type: ignore[attr-defined]
            return
        pos, kw, ok = self._eval_args(call.args, frame, _layer_refs(name))  # type: ignore[attr-defined]
        if not ok:
            self._assign(target, ERR, frame)  # type: ignore[attr-defined]
            return
        if any(_has_value(v) for v, _ in [*pos, *kw.values()]):
            value = self._apply(name, pos, kw, None, call.span, None, None, frame)  # type: ignore[attr-defined]
            self._assign(target, value, frame)  # type: ignore[attr-defined]
            return
        if target.id in frame.taken:
            self.error("E307", f"the name `{target.id}` is already used by another layer here", target.span,
                       help="every layer in a block needs its own name; they become state_dict keys")
            self._assign(target, ERR, frame)  # type: ignore[attr-defined]
            return
        self._check_arguments(name, pos, kw, call.span)  # type: ignore[attr-defined]
        frame.reserved.add(target.id)  # generated names keep clear of it
        frame.taken.add(target.id)  # and `as` names may not take it (E307); released when it is applied
        register(frame.module, target.id, declared=True)
        self._bind(target.id, DeclaredLayer(target.id, target.span, name, pos, kw, call.span, frame.module),  # type: ignore[attr-defined]
                   target.span, frame, kind="layer")

    def _apply_declared(self, layer: DeclaredLayer, value: Any, span: Span, alias: tuple[str, Span] | None,
                        frame: Frame, tensors: dict[str, tuple[Any, Span]] | None = None) -> Any:
        if alias is not None:
            return self.error("E313", f"`{layer.name}` is a declared layer, named by its declaration", alias[1],
                              help=f"drop `as {alias[0]}`, or rename the declaration")
        if frame.module is not layer.module:
            return self.error("E313", f"the declared layer `{layer.name}` is applied inside a container", span,
                              help="apply a declared layer directly in the body that declares it")
        if layer.uses:
            return self.error("E313", f"the declared layer `{layer.name}` is applied twice", span,
                              help="a declared layer is applied once; declare another for a second layer",
                              secondary=[_label(layer.uses[0], "first applied here")])
        layer.uses.append(span)
        # The node's span is where it is applied (shape errors point there; its attributes were checked at the
        # declaration, and an attribute's own error points into the declaration through its argument's span).
        kw = {**layer.kw, **(tensors or {})}
        frame.taken.discard(layer.name)
        out = self._apply(layer.callee, layer.pos, kw, value, span,  # type: ignore[attr-defined]
                          (layer.name, layer.span), None, frame)
        applied = frame.module.body[-1] if frame.module.body else None
        if applied is not None and applied.name == layer.name:
            applied.call_span = layer.call_span
        return out

    def _unapplied_layers(self, frame: Frame) -> None:
        for name, b in frame.env.items():
            if isinstance(b.value, DeclaredLayer) and not b.value.uses and b.value.module is frame.module:
                self.error("E313", f"layer `{name}` is declared but never applied", b.span,
                           help=f"apply it to a value: `x -> {name}` or `{name}(x)`; a declaration only says "
                           "where the layer is registered")


def register(module: Module, name: str, declared: bool = False) -> None:
    """Record a child's registration. Only a module with a declared layer keeps the order explicitly (from its
    first declaration on, every child is recorded); elsewhere the order of its body is the order of use."""
    if declared and not module.registration:
        module.registration.extend(el.name for el in module.body)
    if (declared or module.registration) and name not in module.registration:
        module.registration.append(name)


def _layer_refs(name: str) -> frozenset[str]:
    from .ops.base import LayerRef
    spec = lookup(name)
    return frozenset(at.name for at in spec.attrs if at.coerce is LayerRef) if spec is not None else frozenset()


def _label(span: Span, message: str) -> Any:
    from .diagnostics import Label
    return Label(span, message)
