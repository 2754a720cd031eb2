"""The NumPy backend: a standalone, readable NumPy implementation of each network's forward pass.

`generate` writes one Python file: the kernels the networks use, copied from `numpy_kernels.py` (so the
file imports nothing but NumPy), then one class per network with its parameters in a dict keyed like the
torch state_dict, `load()` for .npz files or dicts, and a flat `forward` with a shape comment per line.
`build` compiles the same source in memory and returns the class (no files are written).

How an op becomes a line: `EMITTERS` maps each canonical op name to a small function that returns the
right-hand side (`conv(x, p["conv1.weight"], stride=(2, 2), padding=(3, 3))`); the generator names the
result and adds the shape comment. Values that flow straight into the next op reuse one variable (`x`),
the rest are named after their layer (`maxpool`, `view1`; a short name is reused once its value is dead,
so every block reads like the block's own code) or after the block they leave (`layer1_0`).
"""
from __future__ import annotations

import ast
import builtins
import inspect
import json
import linecache
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..dsl.dims import Dim, IntLike, Sym, subs
from ..dsl.ir import Graph, Module, OpNode, Value
from ..dsl.types import DTYPES, FLOAT_DTYPES
from . import naming, numpy_kernels, numpy_kernels_more
from .base import GeneratedCode

TEMPLATES = Path(__file__).parent / "templates" / "numpy"


# -- identifiers -------------------------------------------------------------------------------------------------
class Namespace(naming.Namespace):
    """The NumPy backend's use of the one namespace (codegen/naming.py): here every call names a new value,
    so each gets a fresh identifier; `reserve` and `available` serve the names reused for dead values."""

    def __init__(self, reserved: set[str]) -> None:
        super().__init__("the NumPy module", reserved, "a name the generated code uses")

    def name(self, raw: str, key: Hashable | None = None, what: str = "name") -> str:
        return super().name(raw, object() if key is None else key, what)


def _kernel_names() -> set[str]:
    return set(_kernel_sources())


# Names the generated forward uses for itself; never handed to a value, input or symbol.
_FORWARD_NAMES = {"np", "self", "p", "t", "trace"}


def _reserved() -> set[str]:
    return set(dir(builtins)) | _FORWARD_NAMES | _kernel_names()


def _str(s: str) -> str:
    """A double-quoted Python string literal for `s` (state_dict keys read better that way)."""
    lit = json.dumps(s)
    return lit if ast.literal_eval(lit) == s else repr(s)


def _lit(v: Any) -> str:
    """A Python literal for an attribute value (ints, floats, bools, strings, None and tuples of them)."""
    if isinstance(v, (tuple, list)):
        inner = ", ".join(_lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return f"float({str(v)!r})"  # inf and nan have no literal
    if isinstance(v, (bool, int, float)) or v is None:
        return repr(v)
    raise TypeError(f"no literal for {v!r}")


def _shape(values: list[Value]) -> str:
    return ", ".join(v.type.shape_str() for v in values)


# -- the forward pass of one network -------------------------------------------------------------------------------
@dataclass
class Forward:
    """State while lowering one graph: variable names, symbol bindings, the lines of `forward`."""

    graph: Graph
    definitions: dict[str, Any]
    trace: bool
    ns: Namespace = field(default_factory=lambda: Namespace(_reserved()))
    names: dict[int, str] = field(default_factory=dict)  # value id -> variable
    symbols: dict[str, str] = field(default_factory=dict)  # symbol -> variable
    bindable: dict[str, tuple[str, int]] = field(default_factory=dict)  # symbol -> (input variable, axis)
    used_symbols: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    optional: set[str] = field(default_factory=set)  # variables of inputs the caller may leave out
    dtype_expr: str = "self.dtype"

    # -- helpers for emitters ----------------------------------------------------------------------------------
    def param(self, node: OpNode, name: str) -> str:
        return f"p[{_str(node.path + '.' + name if node.path else name)}]"

    def opt_param(self, node: OpNode, name: str) -> str:
        return self.param(node, name) if name in node.params or name in node.buffers else "None"

    def dim(self, d: IntLike) -> str | None:
        """A dim as a Python expression over the symbols bound from the inputs; None if one is not bindable."""
        if isinstance(d, int):
            return str(d)
        syms = d.symbols()
        if not syms <= set(self.bindable):
            return None
        self.used_symbols |= syms
        return str(subs(d, {s: Dim.sym(self.symbols[s]) for s in syms}))

    def var(self, v: Value) -> str:
        return self.names[v.id]


Emitter = Callable[[Forward, OpNode, list[str]], str]


def _call(fn: str, *args: str, **kwargs: Any) -> str:
    """`fn(a, b, k=v)` with positional code strings and keyword attribute values (literals)."""
    parts = list(args) + [f"{k}={_lit(v)}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


def _non_default(a: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The attributes that differ from torch's defaults, so calls show only what matters."""
    out = {}
    for k, default in defaults.items():
        v = a.get(k, default)
        if isinstance(v, tuple) and not isinstance(default, tuple) and all(x == default for x in v):
            continue
        if v != default:
            out[k] = v
    return out


# -- emitters: one per op, each returns the right-hand side of the op's line --------------------------------------
def _linear(f: Forward, n: OpNode, xs: list[str]) -> str:
    return _call("linear", xs[0], f.param(n, "weight"), *([f.param(n, "bias")] if "bias" in n.params else []))


def _embedding(f: Forward, n: OpNode, xs: list[str]) -> str:
    return _call("embedding", xs[0], f.param(n, "weight"))


def _conv(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    bias = [f.param(n, "bias")] if "bias" in n.params else []
    kw = _non_default(a, {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "padding_mode": "zeros"})
    return _call("conv", xs[0], f.param(n, "weight"), *bias, **kw)


def _conv_transpose(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    bias = [f.param(n, "bias")] if "bias" in n.params else []
    kw = _non_default(a, {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1})
    return _call("conv_transpose", xs[0], f.param(n, "weight"), *bias, **kw)


def _max_pool(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    kw = {"stride": a["stride"]} if a["stride"] != a["kernel_size"] else {}
    kw.update(_non_default(a, {"padding": 0, "dilation": 1, "ceil_mode": False}))
    return _call("max_pool", xs[0], _lit(a["kernel_size"]), **kw)


def _avg_pool(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    kw = {"stride": a["stride"]} if a["stride"] != a["kernel_size"] else {}
    kw.update(_non_default(a, {"padding": 0, "ceil_mode": False, "count_include_pad": True}))
    return _call("avg_pool", xs[0], _lit(a["kernel_size"]), **kw)


def _adaptive(kind: str) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        return _call(f"adaptive_{kind}_pool", xs[0], _lit(n.attrs["output_size"]))
    return emit


def _batch_norm(f: Forward, n: OpNode, xs: list[str]) -> str:
    args = [xs[0], f.opt_param(n, "running_mean"), f.opt_param(n, "running_var")]
    if "weight" in n.params:
        args += [f.param(n, "weight"), f.param(n, "bias")]
    return _call("batch_norm", *args, **_non_default(n.attrs, {"eps": 1e-5}))


def _layer_norm(f: Forward, n: OpNode, xs: list[str]) -> str:
    args = [xs[0], _lit(n.attrs["normalized_shape"])]
    if "weight" in n.params:
        args.append(f.param(n, "weight"))
        if "bias" in n.params:
            args.append(f.param(n, "bias"))
    return _call("layer_norm", *args, **_non_default(n.attrs, {"eps": 1e-5}))


def _dropout(f: Forward, n: OpNode, xs: list[str]) -> str:
    return xs[0]  # the identity at inference; the generator writes no line when the names agree


def _flatten(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    args = [xs[0], str(a["start_dim"])] + ([str(a["end_dim"])] if a["end_dim"] != -1 else [])
    return _call("flatten", *args)


def _view(f: Forward, n: OpNode, xs: list[str]) -> str:
    dims: list[str] = []
    for d in n.outputs[0].type.dims:
        text = f.dim(d)
        if text is None:
            if "-1" in dims:
                raise NotImplementedError(f"numpy backend: cannot express the shape of {n.path} from the inputs")
            text = "-1"  # the one dim that no input binds: reshape infers it
        dims.append(text)
    return f"{xs[0]}.reshape({', '.join(dims)})"


def _transpose(f: Forward, n: OpNode, xs: list[str]) -> str:
    if not n.inputs[0].type.dims:
        return xs[0]  # torch transposes a 0-d tensor along "dims" 0/-1 to itself; numpy has no axis to swap
    return f"{xs[0]}.swapaxes({n.attrs['dim0']}, {n.attrs['dim1']})"


def _permute(f: Forward, n: OpNode, xs: list[str]) -> str:
    return f"{xs[0]}.transpose({', '.join(str(d) for d in n.attrs['dims'])})"


def _concat(f: Forward, n: OpNode, xs: list[str]) -> str:
    return f"np.concatenate([{', '.join(xs)}], axis={n.attrs['dim']})"


def _split(f: Forward, n: OpNode, xs: list[str]) -> str:
    dim = n.attrs["dim"]
    sizes = [o.type.dims[dim] for o in n.outputs]
    if all(isinstance(s, int) for s in sizes):
        return _call("split", xs[0], _lit(tuple(sizes)), str(dim))
    return f"np.split({xs[0]}, {len(sizes)}, axis={dim})"  # equal symbolic pieces


def _chunk(f: Forward, n: OpNode, xs: list[str]) -> str:
    return _call("chunk", xs[0], str(n.attrs["chunks"]), str(n.attrs["dim"]))


def _binary(symbol: str) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        other = xs[1] if len(xs) > 1 else _lit(n.attrs["other"])
        expr = f"{xs[0]} {symbol} {other}"
        # torch gives a float result of the float inputs' width where NumPy would give float64 (an integer
        # or bool tensor with a float, with a float tensor, or int / int)
        if n.outputs[0].type.dtype in FLOAT_DTYPES and any(v.type.dtype not in FLOAT_DTYPES for v in n.inputs):
            return f"({expr}).astype({f.dtype_expr})"
        return expr
    return emit


def _matmul(f: Forward, n: OpNode, xs: list[str]) -> str:
    return f"{xs[0]} @ {xs[1]}"


def _activation(fn: str, **defaults: Any) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        return _call(fn, xs[0], **_non_default(n.attrs, defaults))
    return emit


def _softmax(fn: str) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        return _call(fn, xs[0], dim=n.attrs["dim"])
    return emit


def _reduce(method: str) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        if n.inputs[0].type.rank == 0:  # a scalar reduced over its only "dim" (0 or -1) is itself; argmax is 0
            return "np.zeros((), dtype=np.int64)" if method == "argmax" else xs[0]
        dims = n.attrs["dim"]
        if isinstance(dims, int):
            dims = (dims,)
        args = []
        if dims is not None:
            args.append(f"axis={dims[0] if len(dims) == 1 else _lit(tuple(dims))}")
        if n.attrs["keepdim"]:
            args.append("keepdims=True")
        return f"{xs[0]}.{method}({', '.join(args)})"
    return emit


def _index_item(f: Forward, item: Any) -> str:
    if item is None:
        return "None"
    if isinstance(item, slice):
        parts = ["" if b is None else _dim_or_fail(f, b) for b in (item.start, item.stop)]
        return ":".join(parts) + (f":{item.step}" if item.step not in (None, 1) else "")
    return _dim_or_fail(f, item)


def _dim_or_fail(f: Forward, d: IntLike) -> str:
    text = f.dim(d)
    if text is None:
        raise UnsupportedOp(f"the numpy backend cannot compute `{d}` from the inputs' shapes")
    return text


def _index(f: Forward, n: OpNode, xs: list[str]) -> str:
    items = [_index_item(f, it) for it in n.attrs["items"]]
    return f"{xs[0]}[{', '.join(items) if items else '()'}]"


def _arange(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    dtype = n.outputs[0].type.dtype
    # torch casts float bounds to int64 first for an int64 arange (arange(0, 2.5, dtype=int64) is [0, 1]), but
    # counts from the float bounds for other dtypes (int32 gives [0, 1, 2]), as numpy always does
    integral = dtype == "i64"
    bounds = [_dim_or_fail(f, v) if not isinstance(v, float) else repr(int(v) if integral else v)
              for v in (a["start"], a["end"])]
    step = repr(int(a["step"]) if integral and isinstance(a["step"], float) else a["step"])
    np_dtype = f.dtype_expr if dtype == "f32" else f"np.{DTYPES[dtype]}"
    args = bounds if (step == "1" and bounds[0] != "0") else ([bounds[1]] if step == "1" else bounds + [step])
    return f"np.arange({', '.join(args)}, dtype={np_dtype})"


def _mask_kwargs(f: Forward, n: OpNode) -> list[str]:
    """The optional mask inputs of an attention op (their attributes hold the input's index)."""
    return [f"{m}={f.var(n.inputs[n.attrs[m]])}" for m in ("attn_mask", "key_padding_mask")
            if n.attrs.get(m) is not None]


def _sdpa(f: Forward, n: OpNode, xs: list[str]) -> str:
    kw = _mask_kwargs(f, n) + [f"{k}={_lit(v)}" for k, v in _non_default(n.attrs, {"causal": False,
                                                                                      "scale": None}).items()]
    return f"attention({', '.join(xs[:3] + kw)})"


def _mha(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    n_main = len(xs) - sum(a.get(m) is not None for m in ("attn_mask", "key_padding_mask"))
    q, k, v = (xs[0],) * 3 if n_main == 1 else tuple(xs[:3])
    args = [q, k, v, str(a["num_heads"]), f.opt_param(n, "in_proj_weight"), f.opt_param(n, "in_proj_bias"),
            f.param(n, "out_proj.weight"), f.opt_param(n, "out_proj.bias")]
    if "q_proj_weight" in n.params:
        args += [f"{w}={f.param(n, w)}" for w in ("q_proj_weight", "k_proj_weight", "v_proj_weight")]
    args += _mask_kwargs(f, n)
    args += [f"{key}={_lit(val)}" for key, val in _non_default(a, {
        "causal": False, "batch_first": False, "need_weights": False, "average_attn_weights": True}).items()]
    return f"multihead_attention({', '.join(args)})"


def _positional(table: str) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        return _call("positional_encoding", xs[0], f.param(n, table), str(n.attrs["dim"]))
    return emit


def _rnn(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    prefix = n.path + "." if n.path else ""
    weights = _call("rnn_weights", "p", _str(prefix), str(a["num_layers"]),
                    *(["bidirectional=True"] if a["bidirectional"] else []))
    states = xs[1:]
    kw = {"mode": n.op, **_non_default(a, {"num_layers": 1, "bidirectional": False, "batch_first": False,
                                            "nonlinearity": "tanh"})}
    return _call("rnn", xs[0], weights, *states, **kw)


def _interpolate(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    size = [_dim_or_fail(f, d) for d in n.outputs[0].type.dims[2:]]
    args = [xs[0], f"({', '.join(size)}{',' if len(size) == 1 else ''})"]
    if a["scale_factor"] is not None:
        args.append(f"scale_factor={_lit(tuple(a['scale_factor']))}")
    args.append(f"mode={_str(a['mode'])}")
    if a["mode"] != "nearest" and a["align_corners"]:
        args.append("align_corners=True")
    return f"interpolate({', '.join(args)})"


# Canonical op name -> emitter. A new op needs an entry here and a kernel in numpy_kernels.KERNELS
# (tests/test_numpy_completeness.py checks both against netc.dsl.ops.OPS).
EMITTERS: dict[str, Emitter] = {
    "Linear": _linear,
    "Embedding": _embedding,
    "Conv1d": _conv,
    "Conv2d": _conv,
    "Conv3d": _conv,
    "ConvTranspose1d": _conv_transpose,
    "ConvTranspose2d": _conv_transpose,
    "ConvTranspose3d": _conv_transpose,
    "MaxPool1d": _max_pool,
    "MaxPool2d": _max_pool,
    "AvgPool1d": _avg_pool,
    "AvgPool2d": _avg_pool,
    "AdaptiveAvgPool1d": _adaptive("avg"),
    "AdaptiveAvgPool2d": _adaptive("avg"),
    "AdaptiveMaxPool1d": _adaptive("max"),
    "AdaptiveMaxPool2d": _adaptive("max"),
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "LayerNorm": _layer_norm,
    "Dropout": _dropout,
    "Flatten": _flatten,
    "flatten": _flatten,
    "view": _view,
    "transpose": _transpose,
    "permute": _permute,
    "concat": _concat,
    "split": _split,
    "chunk": _chunk,
    "add": _binary("+"),
    "sub": _binary("-"),
    "mul": _binary("*"),
    "div": _binary("/"),
    "matmul": _matmul,
    "relu": _activation("relu"),
    "leaky_relu": _activation("leaky_relu", negative_slope=0.01),
    "elu": _activation("elu", alpha=1.0),
    "gelu": _activation("gelu", approximate="none"),
    "silu": _activation("silu"),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("np.tanh"),
    "softplus": _activation("softplus", beta=1.0),
    "exp": _activation("np.exp"),
    "softmax": _softmax("softmax"),
    "log_softmax": _softmax("log_softmax"),
    "sum": _reduce("sum"),
    "mean": _reduce("mean"),
    "max": _reduce("max"),
    "min": _reduce("min"),
    "argmax": _reduce("argmax"),
    "index": _index,
    "arange": _arange,
    "scaled_dot_product_attention": _sdpa,
    "MultiheadAttention": _mha,
    "SinusoidalPositionalEncoding": _positional("pe"),
    "LearnedPositionalEncoding": _positional("weight"),
    "RNN": _rnn,
    "GRU": _rnn,
    "LSTM": _rnn,
    "Upsample": _interpolate,
    "interpolate": _interpolate,
}


# The later op families' emitters (codegen/numpy_ops.py builds on the emitters above).
from .numpy_ops import EMITTERS as _MORE_EMITTERS  # noqa: E402

EMITTERS.update(_MORE_EMITTERS)

_SEQUENCE_OPS = {"split", "chunk"}  # ops whose kernel returns a list of tensors


class UnsupportedOp(Exception):
    """An op of the registry that this backend cannot generate yet."""


# -- lowering a graph --------------------------------------------------------------------------------------------
def _is_symbol(d: IntLike) -> str | None:
    """The symbol's name when a dim is exactly one symbol (`B`), else None."""
    if isinstance(d, Dim) and len(d.terms) == 1:
        (mono, coef), = d.terms
        if coef == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], Sym):
            return mono[0][0].name
    return None


def _lower(graph: Graph, definitions: dict[str, Any], guards: bool, trace: bool) -> tuple[Forward, list[str]]:
    f = Forward(graph, definitions, trace)
    for s in graph.symbols:  # reserved up front: a symbol may be bound after values are named
        f.symbols[s] = f.ns.name(s)
    inputs = []
    for name, value, _span in graph.inputs:
        var = f.ns.name(name)
        if var != name:
            f.notes.append(f"{graph.name}: input `{name}` is called `{var}` in the generated code")
        f.names[value.id] = var
        inputs.append((var, value))
        for axis, d in enumerate(value.type.dims):
            s = _is_symbol(d)
            if s is not None and s not in f.bindable:
                f.bindable[s] = (var, axis)
    chain = next((c for c in ("x", "h", "y", "z") if f.ns.available(c)), None) or f.ns.name("x")
    f.ns.reserve(chain)
    made_state = _name_state(f, graph)

    ops = list(graph.op_nodes())
    position = {id(n): i for i, n in enumerate(ops)}
    uses: dict[int, list[int]] = {}
    for i, n in enumerate(ops):
        for v in n.inputs:
            uses.setdefault(v.id, []).append(i)
    output_names: dict[int, str] = {}
    for name, v in graph.outputs:
        output_names.setdefault(v.id, name)
    module_outputs: dict[int, str] = {}  # value id -> the outermost module path it leaves
    # A module's output may live in the chain variable only if the module's last op made it: the trace
    # records module outputs when the module ends, and nothing may overwrite them before.
    chain_ok: dict[int, bool] = {}
    for item in graph.root.walk():
        if isinstance(item, Module):
            last = [n for n in item.op_nodes()][-1:] or [None]
            for v in item.outputs:
                module_outputs.setdefault(v.id, item.path)
                chain_ok[v.id] = chain_ok.get(v.id, True) and last[0] is not None and v in last[0].outputs

    # Short names (`view1`, the layer's own name) are reused once their previous value is dead: values inside
    # a block die before the next block starts, so each block reads like the block's own code.
    last_use = {vid: max(at) for vid, at in uses.items()}
    for item in graph.root.walk():  # a block's outputs are read at its end, when the trace records them
        if isinstance(item, Module) and item.outputs:
            end = max((position[id(n)] for n in item.op_nodes()), default=-1)
            for v in item.outputs:
                last_use[v.id] = max(last_use.get(v.id, -1), end)
    holder: dict[str, int] = {}  # reusable short name -> the value id holding it

    def short_name(wanted: str, v: Value, i: int, fallback: str) -> str:
        name = naming.sanitize(wanted)
        if name in holder:
            if last_use.get(holder[name], -1) > i:  # still needed later: keep it, take the long name
                return f.ns.name(fallback)
        elif not f.ns.available(name):
            return f.ns.name(fallback)
        f.ns.reserve(name)
        holder[name] = v.id
        return name

    def name_output(n: OpNode, v: Value, k: int) -> str:
        if v.id in output_names:
            return f.ns.name(output_names[v.id])
        single = len(n.outputs) == 1
        local, path = (n.name, n.path) if single else (f"{n.name}_{k}", f"{n.path}_{k}")
        used = uses.get(v.id, [])
        i = position[id(n)]
        if not used:
            return short_name("_" + local, v, i, "_" + path)
        if single and used == [i + 1] and chain_ok.get(v.id, True):
            return chain  # flows straight into the next op: reuse the chain variable
        if single and v.id in module_outputs:
            return f.ns.name(module_outputs[v.id])
        return short_name(local, v, i, path)

    body: list[str] = []
    record = (lambda key, expr: body.append(f"t[{_str(key)}] = {expr}")) if trace else (lambda key, expr: None)

    def emit_op(n: OpNode) -> None:
        emitter = EMITTERS.get(n.op)
        if emitter is None:
            raise UnsupportedOp(f"the numpy backend does not support `{n.op}` yet ({n.path}, "
                                f"{n.span.location() if n.span else 'unknown location'})")
        for v in n.inputs:
            if v.id not in f.names:
                body.extend(_make_unpassed_input(f, n, v))
        xs = [f.var(v) for v in n.inputs]
        rhs = emitter(f, n, xs)
        outs = [name_output(n, v, k) for k, v in enumerate(n.outputs)]
        for v, name in zip(n.outputs, outs):
            f.names[v.id] = name
        comment = f"# {_shape(n.outputs)}"
        if n.op == "Dropout":
            comment = f"# {n.path}: Dropout(p={n.attrs['p']}) is the identity at inference; {_shape(n.outputs)}"
        if len(outs) > 1 or n.op in _SEQUENCE_OPS:  # returns a tuple or list: unpack it, even into one name
            body.extend(_wrap(f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = ", rhs, f"  {comment}"))
        elif outs[0] == rhs:
            body.append(comment)
        else:
            body.extend(_wrap(f"{outs[0]} = ", rhs, f"  {comment}"))
        record(n.path, outs[0] if len(outs) == 1 and n.op not in _SEQUENCE_OPS else f"({', '.join(outs)},)")

    def emit_module(mod: Module) -> None:
        for item in mod.body:
            if isinstance(item, OpNode):
                emit_op(item)
                continue
            body.append(f"# {_module_header(item, definitions)}")
            emit_module(item)
            if item.outputs:
                outs = [f.var(v) for v in item.outputs]
                record(item.path, outs[0] if len(outs) == 1 else f"({', '.join(outs)},)")

    emit_module(graph.root)
    results = [f.var(v) for _, v in graph.outputs]
    body.append(f"return {', '.join(results)}")

    head = ["p = self.params"] + made_state
    defaults = getattr(graph, "input_defaults", {})
    optional: list[str] = []  # made after the symbols they are sized by are bound
    for (name, _, _), (var, value) in zip(graph.inputs, inputs):
        cast = f"np.asarray({var}, dtype=self.dtype)" if value.type.dtype in FLOAT_DTYPES else f"np.asarray({var})"
        if name in defaults:
            f.optional.add(var)
            made = _fill(f, defaults[name].fill, defaults[name].dtype, _default_shape(f, defaults[name], graph))
            optional += [f"if {var} is None:  # `= {defaults[name].fill}`: made here when the caller leaves it out",
                         f"    {var} = {made}", "else:", f"    {var} = {cast}"]
        else:
            head.append(f"{var} = {cast}")
    bound: set[str] = set()
    if guards:
        head += _guards(f, [(v, t) for v, t in inputs if v not in f.optional], bound)
    for s in sorted(f.used_symbols - bound, key=lambda s: f.bindable[s]):
        var, axis = f.bindable[s]
        head.append(f"{f.symbols[s]} = {var}.shape[{axis}]")
    head += optional
    if guards:
        head += _guards(f, [(v, t) for v, t in inputs if v in f.optional], bound, constraints=False)
    if trace:
        head.append("t = {} if trace is None else trace  # layer path -> output, for `netc verify`")
    return f, head + body


def _name_state(f: Forward, graph: Graph) -> list[str]:
    """Declared parameters and buffers (`param`, `buffer`) are read from the state dict by key; a buffer kept
    out of it (`persistent=false`) is made at the top of forward from its constant initializer."""
    lines: list[str] = []
    for s in graph.root.state_nodes():
        assert s.value is not None
        if s.persistent:
            f.names[s.value.id] = f"p[{_str(s.path)}]"
            continue
        if s.init.kind not in ("zeros", "ones", "constant"):
            raise UnsupportedOp(f"the numpy backend cannot remake `{s.path}`, a buffer outside the state_dict "
                                f"drawn at random ({s.init.kind}); make it persistent or constant")
        value = {"zeros": 0.0, "ones": 1.0}.get(s.init.kind) if s.init.kind != "constant" else s.init.arg("value")
        np_dtype = f.dtype_expr if s.type.dtype in FLOAT_DTYPES else f"np.{DTYPES[s.type.dtype]}"
        var = f.ns.name(s.path.replace(".", "_"))
        f.names[s.value.id] = var
        lines.append(f"{var} = np.full({_shape_code([str(d) for d in s.type.dims])}, {_lit(value)}, "
                     f"dtype={np_dtype})  # buffer {s.path} (not in the state_dict)")
    return lines


def _fill(f: Forward, fill: str, dtype: str, shape: str) -> str:
    """The expression that makes an optional input: noise from the model's generator, or constants."""
    np_dtype = f.dtype_expr if dtype in ("f32", "f64") else f"np.{DTYPES[dtype]}"
    if fill == "randn":
        return f"self.rng.standard_normal({shape}).astype({np_dtype})"
    if fill == "rand":
        return f"self.rng.random({shape}).astype({np_dtype})"
    return f"np.{fill}({shape}, dtype={np_dtype})"  # zeros, ones


def _shape_code(texts: list[str]) -> str:
    return f"({', '.join(texts)}{',' if len(texts) == 1 else ''})"


def _default_shape(f: Forward, default: Any, graph: Graph) -> str:
    """An optional network input's shape, from the symbols bound by the inputs before it."""
    by_name = {name: f.var(v) for name, v, _ in graph.inputs}
    texts = []
    for d in default.dims:
        text = f.dim(d)
        if text is None:  # a name the definition binds itself (`--set B=2` leaves `B` in the default's dims)
            values = {s: Dim.sym(f"{by_name[src]}.shape[{axis}]") for s, (src, axis) in default.dim_sources.items()}
            text = str(subs(d, values))
        texts.append(text)
    return _shape_code(texts)


def _make_unpassed_input(f: Forward, node: OpNode, v: Value) -> list[str]:
    """A block's optional input the caller did not pass: made inside the block, where it is first used."""
    module = node.parent
    while module is not None and v.name not in getattr(module, "input_defaults", {}):
        module = module.parent
    if module is None or v.producer is not None:
        raise UnsupportedOp(f"the numpy backend found no producer for `{v.name}`, used by {node.path}")
    default = module.input_defaults[v.name]
    shape = _shape_code([_dim_or_fail(f, d) for d in v.type.dims])
    var = f.ns.name(f"{module.path}_{v.name}" if module.path else v.name)
    f.names[v.id] = var
    return [f"{var} = {_fill(f, default.fill, default.dtype, shape)}  # {module.path}: `input {v.name} = "
            f"{default.fill}`, not passed; {v.type.shape_str()}"]


def _guards(f: Forward, inputs: list[tuple[str, Value]], bound: set[str], constraints: bool = True) -> list[str]:
    """Shape checks at the top of forward: rank, known sizes, one size per symbol across inputs, `where`.

    A symbol is bound from the first input that has it as a whole dim, right after that input's rank check,
    and only if something reads it (a later check, a constraint, the body).
    """
    checks: dict[str, list[str]] = {}
    for var, value in inputs:  # first pass: the checks, which mark the symbols they read
        checks[var] = []
        for axis, d in enumerate(value.type.dims):
            s = _is_symbol(d)
            if s is not None and f.bindable[s] == (var, axis):
                continue
            text = f.dim(d)
            if text is not None:
                checks[var].append(f"{var}.shape[{axis}] != {text}")
    conditions = [(c.text, _constraint_code(c.text, f)) for c in (f.graph.constraints if constraints else ())]
    lines: list[str] = []
    for var, value in inputs:
        dims = value.type.dims
        expected = f"({', '.join(str(d) for d in dims)}{',' if len(dims) == 1 else ''})"
        message = _str(f"{var}: expected shape {expected}, got ")
        lines.append(f"if {var}.ndim != {len(dims)}:")
        lines.append(f"    raise ValueError({message} + str({var}.shape))")
        for axis, d in enumerate(dims):
            s = _is_symbol(d)
            if s is not None and f.bindable[s] == (var, axis) and s in f.used_symbols and s not in bound:
                lines.append(f"{f.symbols[s]} = {var}.shape[{axis}]")
                bound.add(s)
        if checks[var]:
            lines.append(f"if {' or '.join(checks[var])}:")
            lines.append(f"    raise ValueError({message} + str({var}.shape))")
    for text, cond in conditions:
        if cond is not None:
            lines.append(f"if not ({cond}):")
            lines.append(f"    raise ValueError({_str('the inputs break the constraint ' + text)})")
    return lines


_SAFE_NODES = (ast.Expression, ast.Compare, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.operator,
               ast.unaryop, ast.cmpop)


def _constraint_code(text: str, f: Forward) -> str | None:
    """A `where` condition as Python, rebuilt from a checked AST over bound symbols; None if it is not one."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, _SAFE_NODES):
            return None
        if isinstance(node, ast.Constant) and not isinstance(node.value, int):
            return None
        if isinstance(node, ast.Name):
            if node.id not in f.bindable:
                return None
            f.used_symbols.add(node.id)
            node.id = f.symbols[node.id]
    return ast.unparse(tree.body)


_WIDTH = 112  # generated lines beyond this (after the 8-space indent) wrap their call arguments


def _wrap(lhs: str, rhs: str, comment: str) -> list[str]:
    """`lhs = fn(a, b, ...)` on one line, or its arguments wrapped under the open parenthesis."""
    line = lhs + rhs + comment
    call = ast.parse(rhs, mode="eval").body
    if len(line) <= _WIDTH or not isinstance(call, ast.Call) or not rhs.endswith(")"):
        return [line]
    args = [ast.get_source_segment(rhs, a) or "" for a in call.args]
    args += [f"{k.arg}={ast.get_source_segment(rhs, k.value)}" for k in call.keywords]
    head = lhs + rhs[:call.func.end_col_offset] + "("  # type: ignore[attr-defined]
    lines, current = [], head
    for i, arg in enumerate(args):
        piece = arg + (", " if i < len(args) - 1 else ")")
        if current != head and current.strip() and len(current + piece.rstrip()) > _WIDTH:
            lines.append(current.rstrip())
            current = " " * len(head)
        current += piece
    lines.append(current + comment)
    return lines


def _module_header(mod: Module, definitions: dict[str, Any]) -> str:
    if mod.kind == "sequential":
        return f"{mod.path}: sequential"
    defn = definitions.get(mod.definition or "")
    params = [p.name for p in getattr(defn, "params", ())]
    args = ", ".join(f"{k}={_arg_text(mod.args[k])}" for k in params if k in mod.args)
    return f"{mod.path}: {mod.definition}({args})".replace("\n", " ")


def _arg_text(v: Any) -> str:
    return str(v) if isinstance(v, Dim) else repr(v)


# -- kernels copied into the generated file ------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _kernel_sources() -> dict[str, tuple[int, str, frozenset[str]]]:
    """Top-level functions and constants of the kernel modules: name -> (order, source lines, names they use)."""
    out: dict[str, tuple[int, str, frozenset[str]]] = {}
    for base, module in enumerate((numpy_kernels, numpy_kernels_more)):
        out.update(_module_kernels(inspect.getsource(module), base * 100_000))
    return out


def _module_kernels(src: str, first: int) -> dict[str, tuple[int, str, frozenset[str]]]:
    lines = src.splitlines()
    out: dict[str, tuple[int, str, frozenset[str]]] = {}
    for order, node in enumerate(ast.parse(src).body, start=first):
        if isinstance(node, ast.FunctionDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        else:
            continue
        if "KERNELS" in names:
            continue
        text = "\n".join(lines[node.lineno - 1:node.end_lineno])
        refs = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        for name in names:
            out[name] = (order, text, refs)
    return out


def _kernels_for(code: str) -> str:
    """The kernels `code` calls and everything they need, in numpy_kernels' order."""
    table = _kernel_sources()
    todo = [n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name) and n.id in table]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo.extend(r for r in table[name][2] if r in table)
    chunks = sorted({(table[n][0], table[n][1]) for n in needed})
    return "\n\n\n".join(text for _, text in chunks)


# -- rendering ---------------------------------------------------------------------------------------------------
@dataclass
class _Net:
    name: str
    cls: str
    num_params: int
    inputs_doc: str
    outputs_doc: str
    state: list[tuple[str, tuple[int, ...], str]]
    signature: str
    call_args: str
    returns: str
    body: str


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False, undefined=jinja2.StrictUndefined)
    env.filters["pyrepr"] = lambda v: _str(v) if isinstance(v, str) else repr(v)
    return env


def _render(graphs: list[Graph], definitions: dict[str, Any], source: str | None, guards: bool,
            trace: bool) -> tuple[str, list[str], dict[str, str]]:
    """The module source, notes for the user, and each network's class name."""
    class_ns = Namespace(_reserved())
    nets: list[_Net] = []
    notes: list[str] = []
    classes: dict[str, str] = {}
    forward_code: list[str] = []
    for g in graphs:
        cls = class_ns.name(g.name)
        if cls != g.name:
            notes.append(f"network `{g.name}` is the class `{cls}` in the generated code")
        classes[g.name] = cls
        f, lines = _lower(g, definitions, guards, trace)
        notes += f.notes
        forward_code.append("\n".join(lines))
        params = [f.var(v) for _, v, _ in g.inputs]
        sig = ", ".join(f"{v}: np.ndarray | None = None" if v in f.optional else f"{v}: np.ndarray" for v in params)
        call = ", ".join(params)
        if trace:
            sig += (", " if sig else "") + "trace: dict[str, object] | None = None"
            call += (", " if call else "") + "trace=trace"
        n_out = len(g.outputs)
        returns = "np.ndarray" if n_out == 1 else f"tuple[{', '.join(['np.ndarray'] * n_out)}]"
        nets.append(_Net(
            name=g.name, cls=cls, num_params=g.num_params,
            inputs_doc=", ".join(f"{n} {v.type}" for n, v, _ in g.inputs) or "none",
            outputs_doc=", ".join(f"{n} {v.type}" for n, v in g.outputs) or "none",
            state=[(e.key, tuple(e.shape), e.dtype) for e in g.state_dict()],
            signature=sig, call_args=call, returns=returns,
            body="\n".join(" " * 8 + line if line else "" for line in lines),
        ))
    env = _environment()
    code = env.get_template("module.py.j2").render(
        names=", ".join(g.name for g in graphs), source=source or "<memory>", networks=nets,
        kernels=_kernels_for("\n".join(forward_code)))
    return code, notes, classes


def _graphs(result: Any, network: str | None, first_only: bool) -> list[Graph]:
    if network is not None:
        if network not in result.graphs:
            raise ValueError(f"no network named {network!r}; the networks are {', '.join(result.graphs) or 'none'}")
        return [result.graphs[network]]
    order = [n for n in result.networks if n in result.graphs] or list(result.graphs)
    if not order:
        raise ValueError("nothing to generate: no network elaborated without errors")
    graphs = [result.graphs[n] for n in order]
    return graphs[:1] if first_only else graphs


def generate(result: Any, network: str | None = None, *, guards: bool = False,
             source_path: str | None = None) -> GeneratedCode:
    """The NumPy source for the networks of a front-end `Result` (all of them, or `network`)."""
    code, notes, _ = _render(_graphs(result, network, False), result.definitions, source_path, guards, False)
    return GeneratedCode(code, notes)


def build(result: Any, network: str | None = None, *, trace: bool = False, guards: bool = False) -> type:
    """Compile the generated NumPy class in memory and return it (the first network unless `network`).

    With `trace=True`, `forward(..., trace=d)` also stores every layer's output in `d`, keyed by its path
    (`layer1.0.conv1`, and `layer1.0` for a block's output): what `netc verify` compares with torch.
    """
    graphs = _graphs(result, network, True)
    code, _, classes = _render(graphs, result.definitions, None, guards, trace)
    filename = f"<netc-numpy {graphs[0].name}>"
    # Register the source so tracebacks through the generated forward show its lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": f"netc_numpy_{classes[graphs[0].name]}"}
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - our generated code; user text only in literals
    cls: type = namespace[classes[graphs[0].name]]
    cls.SOURCE = code  # type: ignore[attr-defined]
    return cls


__all__ = ["EMITTERS", "Namespace", "UnsupportedOp", "build", "generate"]
