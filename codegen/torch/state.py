"""`param` and `buffer` declarations as torch code: `nn.Parameter(torch.zeros(1, 1, hidden_dim))`,
`self.register_buffer("mask", torch.ones(5, 5), persistent=False)`. Sizes and initializer arguments are written
in the class's arguments where the analysis could follow them from the source, else as the instance's numbers."""
from __future__ import annotations

from typing import Any

from ...dsl.ir import INITIALIZERS, StateNode
from ...dsl.parametric.evaluate import Val
from ...dsl.parametric.trees import Ctx, Lit, literal
from ...dsl.types import DTYPES


def _text(val: Val | None, actual: Any, ctx: Ctx) -> str:
    if val is not None and not isinstance(val.tree, Lit):
        return val.tree.render(ctx)
    return literal(actual)


def tensor_text(state: StateNode, dims: list[Val | None], given: dict[str, Val], ctx: Ctx) -> str:
    """The expression that makes the declared tensor's initial values, as its initializer says."""
    if len(dims) != state.type.rank:
        dims = [None] * state.type.rank
    sizes = [_text(v, d, ctx) for v, d in zip(dims, state.type.dims)]
    dtype = "" if state.type.dtype == "f32" else f"dtype=torch.{DTYPES[state.type.dtype]}"
    names = [n for n, _ in INITIALIZERS[state.init.kind]]
    by_name = {(names[int(k)] if k.isdigit() and int(k) < len(names) else k): v for k, v in given.items()}
    args = {n: _text(by_name.get(n), v, ctx) for n, v in state.init.args}

    def make(fn: str, *extra: str) -> str:
        inner = ", ".join(sizes)
        if fn == "torch.full":
            inner = "(" + inner + ("," if len(sizes) == 1 else "") + ")"
        return f"{fn}({', '.join(p for p in (inner, *extra, dtype) if p)})"

    kind = state.init.kind
    if kind in ("zeros", "ones"):
        return make(f"torch.{kind}")
    if kind == "constant":
        return make("torch.full", args["value"])
    defaults = dict(INITIALIZERS[kind])
    keywords = ", ".join(f"{n}={args[n]}" for n, v in state.init.args if v != defaults[n] or n in given)
    return f"nn.init.{kind}_({make('torch.empty')}{', ' + keywords if keywords else ''})"


def declaration(state: StateNode, ref: str | None, tensor: str) -> str:
    """The __init__ line: an attribute (`ref`), or a registration under the source's name when it is not one."""
    if state.kind == "parameter":
        made = f"nn.Parameter({tensor})"
        return f"{ref} = {made}" if ref else f"self.register_parameter({state.name!r}, {made})"
    persistent = "" if state.persistent else ", persistent=False"
    return f"self.register_buffer({state.name!r}, {tensor}{persistent})"
