"""The NumPy emitters of the core ops: one small function per op that returns the right-hand side of the
op's line in the generated forward (`conv(x, p["conv1.weight"], stride=(2, 2))`), and their table.

The later op families' emitters are in numpy_ops.py; numpy_lower.EMITTERS merges both tables.
"""
from __future__ import annotations

from typing import Any

from ..dsl.ir import OpNode
from ..dsl.types import DTYPES, FLOAT_DTYPES
from .numpy_forward import Emitter, Forward, _call, _dim_or_fail, _lit, _non_default, _str


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
