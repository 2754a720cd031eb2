"""The emitter classes: how one op becomes an `__init__` line (a submodule) and a `forward` expression.

The per-op table built from them is :data:`netc.codegen.torch.ops.EMITTERS`."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...dsl.ir import OpNode
from ...dsl.ops import OPS
from ...dsl.parametric.analysis import NodeInfo, same
from ...dsl.parametric.evaluate import Val
from ...dsl.parametric.trees import Ctx, Lit, Node, Tup, Unrenderable, literal

ALWAYS = object()  # a keyword that is always written (F.softmax needs its dim)


class Attrs:
    """An op node's attributes as Python text in one rendering context (for the emitters)."""

    def __init__(self, node: OpNode, info: NodeInfo, ctx: Ctx, device: str = "None") -> None:
        self.node = node
        self.spec = OPS[node.op]
        self.info = info
        self.ctx = ctx
        self.device = device  # an expression for the device of the forward's inputs (`x.device`)

    def value(self, name: str) -> Any:
        at = self.spec.attr(name)
        if at is not None and at.inferred and name not in self.info.given and self.info.pre.get(name) is None:
            return self.info.post[name]
        return self.info.pre[name]

    def __getitem__(self, name: str) -> str:
        return self.text(name)

    def text(self, name: str, compact: bool = False) -> str:
        g = self.info.given.get(name)
        if isinstance(g, Val):
            return g.tree.render(self.ctx)
        if isinstance(g, list):
            return ", ".join(self.items(name))
        value = self.value(name)
        if compact and isinstance(value, tuple) and value:
            parts = [literal(v, self.ctx) for v in value]
            if all(p == parts[0] for p in parts):
                return parts[0]
        return literal(value, self.ctx)

    def tree(self, name: str) -> Node:
        """The attribute as an expression tree, for operator contexts where precedence decides parentheses."""
        g = self.info.given.get(name)
        if isinstance(g, Val):
            return g.tree
        return Lit(self.value(name))

    def items(self, name: str) -> list[str]:
        """The elements of a variadic attribute (view's shape), as written."""
        g = self.info.given.get(name)
        if isinstance(g, list):
            if len(g) == 1 and isinstance(g[0].value, tuple) and isinstance(g[0].tree, Tup):
                return [t.render(self.ctx) for t in g[0].tree.items]
            return [x.tree.render(self.ctx) for x in g]
        return [literal(v, self.ctx) for v in self.value(name)]

    def include(self, name: str, torch_default: Any) -> bool:
        if torch_default is ALWAYS or name in self.info.given:
            return True
        at = self.spec.attr(name)
        default = at.coerce(torch_default) if at is not None else torch_default
        return not same(self.value(name), default, {})

    def kw(self, name: str, torch_default: Any, keyword: str | None = None) -> str | None:
        if not self.include(name, torch_default):
            return None
        return f"{keyword or name}={self.text(name, compact=True)}"

    def need(self, name: str) -> None:
        self.ctx.needs.add(name)


def _call(fn: str, args: list[str | None]) -> str:
    return f"{fn}({', '.join(a for a in args if a is not None)})"


class Emitter:
    """How one op is written in PyTorch.

    `module(a)` gives the `nn.Module` expression for __init__ (None when torch has no module for the op);
    `forward(xs, a)` gives the functional expression over the input variables `xs`. An op becomes a submodule
    when it has parameters or buffers, when `always_module` is set (Dropout follows `self.training`), or when
    the user named it (`-> MaxPool2d(2) as pool`) or put it in a sequential container.
    """

    always_module = False
    helper: str | None = None  # source of a class the generated file must define (ops torch lacks)

    def module(self, a: Attrs) -> str | None:
        return None

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        """The call of the submodule in forward (`self.lstm(x, (h0, c0))`)."""
        return f"{callee}({', '.join(xs)})"

    def pack(self, targets: list[str], a: Attrs) -> str:
        """The assignment targets for the outputs (`out, (h, c)` for an LSTM)."""
        return ", ".join(targets)

    def forward(self, xs: list[str], a: Attrs) -> str:
        raise Unrenderable(f"`{a.node.op}` is only available as a module")

    @property
    def has_module(self) -> bool:
        return type(self).module is not Emitter.module


class Layer(Emitter):
    """An op that always is an nn.Module: nn.Conv2d(in_channels, out_channels, kernel_size, stride=..., ...)."""

    always_module = True

    def __init__(self, cls: str, pos: tuple[str, ...], kw: dict[str, Any] | None = None) -> None:
        self.cls = cls
        self.pos = pos
        self.kw = kw or {}

    def module(self, a: Attrs) -> str | None:
        return _call(self.cls, [a.text(p, compact=True) for p in self.pos] + [a.kw(k, d) for k, d in self.kw.items()])


class Func(Emitter):
    """A stateless op: a function in forward, or its nn.Module counterpart when it must be a module."""

    def __init__(self, fn: str, pos: tuple[str, ...] = (), kw: dict[str, Any] | None = None,
                 module: str | None = None, module_pos: tuple[str, ...] | None = None,
                 module_kw: dict[str, Any] | None = None) -> None:
        self.fn = fn
        self.pos = pos
        self.kw = kw or {}
        self.cls = module
        self.module_pos = pos if module_pos is None else module_pos
        self.module_kw = self.kw if module_kw is None else module_kw

    def module(self, a: Attrs) -> str | None:
        if self.cls is None:
            return None
        return _call(self.cls, [a.text(p, compact=True) for p in self.module_pos]
                     + [a.kw(k, d) for k, d in self.module_kw.items()])

    @property
    def has_module(self) -> bool:
        return self.cls is not None

    def forward(self, xs: list[str], a: Attrs) -> str:
        if self.fn.startswith("F."):
            a.need("F")
        return _call(self.fn, list(xs) + [a.text(p, compact=True) for p in self.pos]
                     + [a.kw(k, d) for k, d in self.kw.items()])




class Expr(Emitter):
    """A stateless op written as an expression: `x.reshape(B, -1)`, `a @ b`, `torch.cat([a, b], dim=1)`."""

    def __init__(self, fn: Callable[[list[str], Attrs], str]) -> None:
        self.fn = fn

    def forward(self, xs: list[str], a: Attrs) -> str:
        return self.fn(xs, a)
