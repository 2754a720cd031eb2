"""NumPy emitters for the op families added after the core set (numpy_lower.EMITTERS merges this table).

Each emitter returns the right-hand side of the op's line. Most ops are one kernel call whose keyword
arguments are the attributes that differ from torch's defaults (`_kernel`), or a NumPy function.
"""
from __future__ import annotations

from typing import Any

from ..dsl.ir import OpNode
from ..dsl.ops.compare import COMPARISONS
from ..dsl.ops.elementwise import EXACT_UNARY, FLOAT_UNARY
from ..dsl.types import FLOAT_DTYPES
from .numpy_emitters import (
    _activation,
    _adaptive,
    _avg_pool,
    _batch_norm,
    _binary,
    _dropout,
    _interpolate,
    _max_pool,
    _softmax,
)
from .numpy_forward import Emitter, Forward, _call, _dim_or_fail, _lit, _non_default, _str

_NUMPY_NAMES = {"asin": "np.arcsin", "acos": "np.arccos", "atan": "np.arctan", "asinh": "np.arcsinh",
                "acosh": "np.arccosh", "atanh": "np.arctanh", "neg": "np.negative"}
_OWN_KERNELS = {"rsqrt", "erf", "erfc", "erfinv"}  # the rest are NumPy functions of the same name


def _unary(name: str) -> Emitter:
    fn = name if name in _OWN_KERNELS else _NUMPY_NAMES.get(name, f"np.{name}")
    return _activation(fn)


def _kernel(fn: str, *pos: str, params: tuple[str, ...] = (), **defaults: Any) -> Emitter:
    """`fn(x, ..., <attrs in pos>, <params>, <attrs that differ from defaults>=...)`."""
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        args = list(xs) + [_lit(n.attrs[k]) for k in pos] + [f.opt_param(n, k) for k in params]
        return _call(fn, *args, **_non_default(n.attrs, defaults))
    return emit


def _float_result(f: Forward, n: OpNode, expr: str) -> str:
    """torch gives a float result for integer tensors with a float number, or with a float tensor, in the float
    operand's width; NumPy would give float64."""
    if n.outputs[0].type.dtype in FLOAT_DTYPES and any(v.type.dtype not in FLOAT_DTYPES for v in n.inputs):
        return f"({expr}).astype({f.dtype_expr})"
    return expr


def _clamp(f: Forward, n: OpNode, xs: list[str]) -> str:
    return _float_result(f, n, f"np.clip({xs[0]}, {_lit(n.attrs['min'])}, {_lit(n.attrs['max'])})")


def _pow(f: Forward, n: OpNode, xs: list[str]) -> str:
    if n.attrs.get("base") is not None:  # `2 ** x`; a negative base needs its parentheses: `(-2) ** x`
        base = _lit(n.attrs["base"])
        return _float_result(f, n, f"{'(' + base + ')' if base.startswith('-') else base} ** {xs[0]}")
    return _float_result(f, n, f"{xs[0]} ** {xs[1] if len(xs) == 2 else _lit(n.attrs['exponent'])}")


def _extremum(fn: str) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        return _float_result(f, n, f"{fn}({xs[0]}, {xs[1]})")
    return emit


def _where(f: Forward, n: OpNode, xs: list[str]) -> str:
    other = xs[2] if len(xs) == 3 else _lit(n.attrs["other"])
    expr = f"np.where({xs[0]}, {xs[1]}, {other})"
    if len(xs) == 3 and n.outputs[0].type.dtype in FLOAT_DTYPES and any(
            v.type.dtype not in FLOAT_DTYPES for v in n.inputs[1:]):
        return f"({expr}).astype({f.dtype_expr})"  # a float and an integer tensor: torch keeps the float width
    if len(xs) == 2 and n.outputs[0].type.dtype in FLOAT_DTYPES:  # a Python float would make float64
        return f"{expr}.astype({xs[1]}.dtype)" if n.inputs[1].type.dtype in FLOAT_DTYPES else \
            f"({expr}).astype({f.dtype_expr})"
    return expr


def _shape_of(f: Forward, n: OpNode) -> str:
    dims = [_dim_or_fail(f, d) for d in n.outputs[0].type.dims]
    return f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"


def _squeeze(f: Forward, n: OpNode, xs: list[str]) -> str:
    dims = n.inputs[0].type.dims
    picked = n.attrs["dim"]
    picked = range(len(dims)) if picked is None else ((picked,) if isinstance(picked, int) else picked)
    axes = sorted({d % len(dims) for d in picked if dims and dims[d] == 1})
    if not axes:
        return xs[0]
    return f"np.squeeze({xs[0]}, axis={_lit(tuple(axes))})"


def _repeat(f: Forward, n: OpNode, xs: list[str]) -> str:
    reps = [_dim_or_fail(f, r) for r in n.attrs["repeats"]]
    return f"np.tile({xs[0]}, ({', '.join(reps)}{',' if len(reps) == 1 else ''}))"


def _repeat_interleave(f: Forward, n: OpNode, xs: list[str]) -> str:
    axis = n.attrs["dim"]
    return f"np.repeat({xs[0]}, {_dim_or_fail(f, n.attrs['repeats'])}, axis={axis})"


def _roll(f: Forward, n: OpNode, xs: list[str]) -> str:
    return f"np.roll({xs[0]}, {_lit(n.attrs['shifts'])}, axis={_lit(n.attrs['dims'])})"


def _cumsum(f: Forward, n: OpNode, xs: list[str]) -> str:
    out = n.outputs[0].type.dtype
    if n.inputs[0].type.rank == 0:  # np.cumsum flattens a scalar into one element; torch keeps it 0-d
        return xs[0] if out == n.inputs[0].type.dtype else f"{xs[0]}.astype(np.int64)"
    dtype = "" if out in FLOAT_DTYPES else ", dtype=np.int64"
    return f"np.cumsum({xs[0]}, axis={n.attrs['dim']}{dtype})"


def _ordered(kernel: str, *keys: str, **defaults: Any) -> Emitter:
    def emit(f: Forward, n: OpNode, xs: list[str]) -> str:
        kw = {k: n.attrs[k] for k in keys} | _non_default(n.attrs, defaults)
        return _call(kernel, xs[0], **kw)
    return emit


_PAD_MODES = {"ConstantPad": "constant", "ZeroPad": "constant", "ReflectionPad": "reflect",
              "ReplicationPad": "replicate", "CircularPad": "circular"}


def _layer_pad(f: Forward, n: OpNode, xs: list[str]) -> str:
    mode = _PAD_MODES[n.op[:-2]]
    kw: dict[str, Any] = {} if mode == "constant" else {"mode": mode}
    if n.attrs.get("value"):
        kw["value"] = n.attrs["value"]
    return _call("pad", xs[0], _lit(n.attrs["padding"]), **kw)


def _window(fn: str, *pos: str) -> Emitter:
    return _kernel(fn, *pos, "kernel_size", dilation=(1, 1), padding=(0, 0), stride=(1, 1))


def _instance_norm(f: Forward, n: OpNode, xs: list[str]) -> str:
    dims = int(n.op[-2])
    args = [xs[0], str(dims)] + [f.opt_param(n, k) for k in ("running_mean", "running_var", "weight", "bias")]
    return _call("instance_norm", *args, **_non_default(n.attrs, {"eps": 1e-5}))


def _lp_pool(f: Forward, n: OpNode, xs: list[str]) -> str:
    a = n.attrs
    kw = {"stride": a["stride"]} if a["stride"] != a["kernel_size"] else {}
    kw.update(_non_default(a, {"ceil_mode": False}))
    return _call("lp_pool", xs[0], _lit(a["norm_type"]), _lit(a["kernel_size"]), **kw)


def _cell(f: Forward, n: OpNode, xs: list[str]) -> str:
    params = [f.opt_param(n, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    kw: dict[str, Any] = {"mode": n.op} | _non_default(n.attrs, {"nonlinearity": "tanh"})
    return _call("rnn_cell", xs[0], *params, *xs[1:], **kw)


def _transformer(f: Forward, n: OpNode, xs: list[str]) -> str:
    memory = xs[1] if len(xs) > 1 else "None"
    prefix = _str(n.path + "." if n.path else "")
    kw = _non_default(n.attrs, {"activation": "relu", "layer_norm_eps": 1e-5, "batch_first": False,
                                "norm_first": False, "causal": False})
    return _call("transformer_layer", xs[0], memory, "p", prefix, str(n.attrs["nhead"]), **kw)


def _embedding_bag(f: Forward, n: OpNode, xs: list[str]) -> str:
    return _call("embedding_bag", xs[0], f.param(n, "weight"), **_non_default(n.attrs, {"mode": "mean",
                                                                                          "padding_idx": None}))


EMITTERS: dict[str, Emitter] = {
    **{name: _unary(name) for name in (*FLOAT_UNARY, *EXACT_UNARY)},
    "clamp": _clamp,
    "pow": _pow,
    **{name: _binary(symbol) for symbol, name in COMPARISONS.items()},
    "minimum": _extremum("np.minimum"),
    "maximum": _extremum("np.maximum"),
    "where": _where,
    "masked_fill": _kernel("masked_fill", "value"),
    "relu6": _activation("relu6"),
    "hardtanh": _activation("hardtanh", min_val=-1.0, max_val=1.0),
    "hardswish": _activation("hardswish"),
    "hardsigmoid": _activation("hardsigmoid"),
    "mish": _activation("mish"),
    "selu": _activation("selu"),
    "celu": _activation("celu", alpha=1.0),
    "rrelu": _activation("rrelu", lower=1 / 8, upper=1 / 3),
    "logsigmoid": _activation("logsigmoid"),
    "softsign": _activation("softsign"),
    "softshrink": _activation("softshrink", lambd=0.5),
    "hardshrink": _activation("hardshrink", lambd=0.5),
    "tanhshrink": _activation("tanhshrink"),
    "threshold": _kernel("threshold", "threshold", "value"),
    "softmin": _softmax("softmin"),
    "Softmax2d": lambda f, n, xs: _call("softmax", xs[0], dim=-3),
    "glu": lambda f, n, xs: _call("glu", xs[0], dim=n.attrs["dim"]),
    "PReLU": lambda f, n, xs: _call("prelu", xs[0], f.param(n, "weight")),
    "unsqueeze": lambda f, n, xs: f"np.expand_dims({xs[0]}, {n.attrs['dim']})",
    "squeeze": _squeeze,
    "expand": lambda f, n, xs: f"np.broadcast_to({xs[0]}, {_shape_of(f, n)})",
    "repeat": _repeat,
    "repeat_interleave": _repeat_interleave,
    "stack": lambda f, n, xs: f"np.stack([{', '.join(xs)}], axis={n.attrs['dim']})",
    "roll": _roll,
    "Unflatten": lambda f, n, xs: f"{xs[0]}.reshape({_shape_of(f, n)})",
    "Identity": _dropout,
    "cumsum": _cumsum,
    "topk": _ordered("topk", "k", dim=-1, largest=True),
    "sort": _ordered("sort", dim=-1, descending=False),
    "gather": lambda f, n, xs: _call("gather", xs[0], str(n.attrs["dim"]), xs[1]),
    "einsum": lambda f, n, xs: _call("np.einsum", _str(n.attrs["equation"]), *xs),
    "pad": lambda f, n, xs: _call("pad", xs[0], _lit(n.attrs["pad"]),
                                  **_non_default(n.attrs, {"mode": "constant", "value": 0.0})),
    **{f"{kind}{d}d": _layer_pad for kind in _PAD_MODES for d in (1, 2, 3)},
    "PixelShuffle": _kernel("pixel_shuffle", "upscale_factor"),
    "PixelUnshuffle": _kernel("pixel_unshuffle", "downscale_factor"),
    "ChannelShuffle": _kernel("channel_shuffle", "groups"),
    "Unfold": _window("unfold"),
    "Fold": _window("fold", "output_size"),
    "BatchNorm3d": _batch_norm,
    "SyncBatchNorm": _batch_norm,
    "GroupNorm": _kernel("group_norm", "num_groups", params=("weight", "bias"), eps=1e-5),
    **{f"InstanceNorm{d}d": _instance_norm for d in (1, 2, 3)},
    "LocalResponseNorm": _kernel("local_response_norm", "size", alpha=1e-4, beta=0.75, k=1.0),
    "CrossMapLRN2d": _kernel("cross_map_lrn2d", "size", alpha=1e-4, beta=0.75, k=1.0),
    "RMSNorm": _kernel("rms_norm", "normalized_shape", params=("weight",), eps=None),
    "LayerNorm2d": _kernel("layer_norm_2d", "normalized_shape", params=("weight", "bias"), eps=1e-5),
    "MaxPool3d": _max_pool,
    "AvgPool3d": _avg_pool,
    "AdaptiveAvgPool3d": _adaptive("avg"),
    "AdaptiveMaxPool3d": _adaptive("max"),
    **{f"LPPool{d}d": _lp_pool for d in (1, 2, 3)},
    **{name: _dropout for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                                   "StochasticDepth")},
    "Bilinear": _kernel("bilinear", params=("weight", "bias")),
    "CosineSimilarity": _kernel("cosine_similarity", dim=1, eps=1e-8),
    "PairwiseDistance": _kernel("pairwise_distance", p=2.0, eps=1e-6, keepdim=False),
    "EmbeddingBag": _embedding_bag,
    "RNNCell": _cell,
    "GRUCell": _cell,
    "LSTMCell": _cell,
    "TransformerEncoderLayer": _transformer,
    "TransformerDecoderLayer": _transformer,
    "UpsamplingNearest2d": _interpolate,
    "UpsamplingBilinear2d": _interpolate,
}
