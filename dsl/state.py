"""Parameters and buffers declared by statements: `param class_token: f32[1, 1, d] = zeros`.

A declaration makes a tensor the module owns (torch's `nn.Parameter` or `register_buffer`): its state_dict key
is the module's path and the name as written, and the name is a value in the rest of the body
(`x + pos_embedding`, `expand(class_token, B, -1, -1)`, `x * layer_scale`). Its dims are evaluated like any
expression (numbers, block parameters, `--set` symbols) and must be known integers, since the tensor is
allocated when the module is built. The initializer is one of ir.INITIALIZERS, with numeric arguments.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .diagnostics import did_you_mean
from .dims import Dim
from .frames import ERR, Frame
from .ir import INITIALIZERS, Init, StateNode, Value
from .ops.base import describe
from .state_hints import SYNTAX_HINT
from .types import DTYPES, FLOAT_DTYPES, TensorType

if TYPE_CHECKING:
    from .elaborate import Elaborator

KINDS = {"param": "parameter", "buffer": "buffer"}
# Words a PyTorch user reaches for, and the declaration each one means.
_SYNONYMS = {"parameter": "param", "Parameter": "param", "nn_Parameter": "param", "weight": "param",
             "register_parameter": "param", "register_buffer": "buffer", "buf": "buffer", "buffers": "buffer",
             "params": "param", "var": "param", "variable": "param", "const": "buffer", "constant": "buffer"}
_INIT_LIST = "zeros, ones, constant(v), normal(std=...), trunc_normal(std=...) or uniform(a, b)"


def declare(el: Elaborator, stmt: ast.StateDecl, frame: Frame) -> None:
    """Elaborate one declaration into a StateNode of the frame's module and bind its name."""
    value = _declare(el, stmt, frame)
    el._bind(stmt.name, value, stmt.name_span, frame, kind="state")


def _declare(el: Elaborator, stmt: ast.StateDecl, frame: Frame) -> Any:
    kind = KINDS.get(stmt.kind)
    if kind is None:
        guess = _SYNONYMS.get(stmt.kind) or did_you_mean(stmt.kind, ["param", "buffer", "input"])
        return el.error("E320", f"`{stmt.kind}` does not start a declaration", stmt.kind_span,
                        label="not `param`, `buffer` or `input`",
                        help=(f"did you mean `{guess} {stmt.name}: ...`? " if guess else "") + SYNTAX_HINT)
    dtype = stmt.type.dtype
    if dtype not in DTYPES:
        guess = did_you_mean(dtype, DTYPES)
        return el.error("E204", f"unknown dtype `{dtype}`", stmt.type.dtype_span,
                        help=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(DTYPES)}")
    if kind == "parameter" and dtype not in FLOAT_DTYPES:
        return el.error("E320", f"parameter `{stmt.name}` must have a floating-point dtype, not {dtype}",
                        stmt.type.dtype_span, help="only floating-point tensors can be learned; an integer "
                        "tensor the module keeps is a `buffer`")
    dims: list[int] = []
    for d in stmt.type.dims:
        v = el._eval(d, frame)
        if v is ERR:
            return ERR
        if isinstance(v, Dim):
            return el.error("E210", f"{kind} `{stmt.name}` needs a known size, but this dim is the symbolic `{v}`",
                            d.span, help="a parameter is allocated when the module is built: size it with numbers "
                            "or block parameters, or bind the symbol with `--set`")
        if not isinstance(v, int) or isinstance(v, bool):
            return el.error("E204", f"a dimension must be an integer, but this is {describe(v)}", d.span)
        if v < 0:
            return el.error("E203", f"a dimension cannot be negative ({v})", d.span)
        dims.append(v)
    t = TensorType(dtype, tuple(dims))
    if el._too_many_elements(t, stmt.type.span, f"{kind} `{stmt.name}`"):
        return ERR
    init = _initializer(el, stmt, frame)
    persistent = _options(el, stmt, kind, frame)
    if init is ERR or persistent is ERR:
        return ERR
    if dtype not in FLOAT_DTYPES and init.kind not in ("zeros", "ones", "constant"):
        return el.error("E320", f"`{init.kind}` draws floating-point numbers, but `{stmt.name}` is {dtype}",
                        stmt.init.span if stmt.init else stmt.span, help="fill an integer buffer with zeros, "
                        "ones or constant(v)")
    if stmt.name in frame.taken:
        return el.error("E307", f"the name `{stmt.name}` is already used by another layer here", stmt.name_span,
                        help="every parameter, buffer and layer in a block needs its own name; they become "
                        "state_dict keys")
    frame.taken.add(stmt.name)
    mod = frame.module
    path = f"{mod.path}.{stmt.name}" if mod.path else stmt.name
    node = StateNode(kind, stmt.name, path, t, init, persistent, stmt.span, parent=mod)  # type: ignore[arg-type]
    node.value = Value(stmt.name, t, node)
    mod.state.append(node)
    return node.value


def _initializer(el: Elaborator, stmt: ast.StateDecl, frame: Frame) -> Any:
    e = stmt.init
    if e is None:
        return el.error("E320", f"`{stmt.name}` needs an initializer", stmt.type.span,
                        label="add `= zeros` (or another initializer) after the type",
                        help=f"write `{stmt.kind} {stmt.name}: {stmt.type.span.text} = zeros`; the initializers are "
                        f"{_INIT_LIST}")
    if isinstance(e, ast.Name):
        func, args = e, ()
    elif isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
        func, args = e.func, e.args
    else:
        return el.error("E320", f"the initializer of `{stmt.name}` must be one of {_INIT_LIST}", e.span,
                        help="scale after the fact in the body if you need to (`x * layer_scale`), or use "
                        "`constant(v)` for a filled tensor")
    spec = INITIALIZERS.get(func.id)
    if spec is None:
        guess = {"randn": "normal", "rand": "uniform", "full": "constant", "empty": "zeros",
                 "trunc_normal_": "trunc_normal", "normal_": "normal", "uniform_": "uniform",
                 "zeros_": "zeros", "ones_": "ones", "constant_": "constant", "fill": "constant"}.get(func.id) \
            or did_you_mean(func.id, INITIALIZERS)
        return el.error("E320", f"unknown initializer `{func.id}`", func.span,
                        help=(f"did you mean `{guess}`? " if guess else "") + f"the initializers are {_INIT_LIST}")
    names = [n for n, _ in spec]
    given: dict[str, float] = {}
    for i, a in enumerate(args):
        key = a.name if a.name is not None else (names[i] if i < len(names) else None)
        if key is None or key not in names:
            what = f"`{func.id}` takes " + (", ".join(f"`{n}`" for n in names) if names else "no arguments")
            return el.error("E320", f"unexpected argument to `{func.id}`", a.span, help=what)
        if key in given:
            return el.error("E304", f"argument `{key}` of `{func.id}` is given twice", a.span)
        v = el._eval(a.value, frame)
        if v is ERR:
            return ERR
        if isinstance(v, bool) or not isinstance(v, int | float):
            return el.error("E305", f"`{key}` of `{func.id}` must be a number, but this is {describe(v)}", a.value.span)
        given[key] = float(v)
    resolved: list[tuple[str, float]] = []
    for n, default in spec:
        if n not in given and default is None:
            return el.error("E303", f"`{func.id}` needs `{n}`", e.span, help=f"write `{func.id}({n}=...)`")
        resolved.append((n, given.get(n, default)))  # type: ignore[arg-type]
    init = Init(func.id, tuple(resolved))
    if func.id in ("normal", "trunc_normal") and init.arg("std") <= 0:
        return el.error("E305", f"`std` of `{func.id}` must be positive", e.span)
    if func.id in ("uniform", "trunc_normal") and not init.arg("a") < init.arg("b"):
        return el.error("E305", f"`{func.id}` needs a < b, but got a={init.arg('a')}, b={init.arg('b')}", e.span)
    return init


def _options(el: Elaborator, stmt: ast.StateDecl, kind: str, frame: Frame) -> Any:
    persistent = True
    for opt in stmt.options:
        if kind != "buffer" or opt.name != "persistent":
            allowed = "a buffer takes `persistent=true|false`" if kind == "buffer" else \
                "a parameter takes no options (a tensor that is not learned is a `buffer`)"
            return el.error("E320", f"unknown option `{opt.name}` of {kind} `{stmt.name}`", opt.span, help=allowed)
        v = el._eval(opt.value, frame)
        if v is ERR:
            return ERR
        if not isinstance(v, bool):
            return el.error("E305", f"`persistent` must be true or false, but this is {describe(v)}", opt.value.span)
        persistent = v
    return persistent
