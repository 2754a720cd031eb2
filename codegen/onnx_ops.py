"""ONNX lowerings of the dense, convolution, pooling, normalisation, tensor, activation and reduction ops."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..dsl.dims import Dim, IntLike
from ..dsl.ir import OpNode
from .onnx_builder import Builder, Emitter, _rank


# -- dense, conv, pooling, norms --------------------------------------------------------------------------------
def linear(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    # MatMul by the transposed weight, stored transposed so that quantizers see a plain MatMul initializer. A
    # tied weight (GPT-2's lm_head is wte) stays one initializer, transposed in the graph, not a second copy.
    if "weight" in n.tied:
        w = b.one("Transpose", [b.param(n, "weight")], perm=[1, 0])
    else:
        w = b.param(n, "weight", np.transpose, suffix=".T")
    y = b.one("MatMul", [xs[0], w])
    if n.attrs["bias"]:
        y = b.one("Add", [y, b.param(n, "bias")])
    return [y]


def embedding(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("Gather", [b.param(n, "weight"), xs[0]], axis=0)]


def conv(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    k, s, d = list(a["kernel_size"]), list(a["stride"]), list(a["dilation"])
    if a["padding"] == "same":
        total = [di * (ki - 1) for di, ki in zip(d, k)]
        pads = [t // 2 for t in total] + [t - t // 2 for t in total]
    elif a["padding"] == "valid":
        pads = [0] * (2 * len(k))
    else:
        pads = list(a["padding"]) * 2
    x = xs[0]
    batched = _rank(n.inputs[0]) == len(k) + 2
    if not batched:
        x = b.one("Unsqueeze", [x, b.ints([0])])
    if a["padding_mode"] != "zeros" and any(pads):
        m = len(k)
        if a["padding_mode"] == "circular":  # Pad's "wrap" mode is opset 19: wrap each axis by slicing instead
            for i in range(m):
                axis, lo, hi = 2 + i, pads[i], pads[m + i]
                parts = [x]
                if lo:
                    parts.insert(0, b.one("Slice", [x, b.ints([-lo]), b.ints([2 ** 62]), b.ints([axis])]))
                if hi:
                    parts.append(b.one("Slice", [x, b.ints([0]), b.ints([hi]), b.ints([axis])]))
                x = b.one("Concat", parts, axis=axis) if len(parts) > 1 else x
        else:
            mode = {"reflect": "reflect", "replicate": "edge"}[a["padding_mode"]]
            x = b.one("Pad", [x, b.ints([0, 0] + pads[:m] + [0, 0] + pads[m:])], mode=mode)
        pads = [0] * (2 * m)
    inputs = [x, b.param(n, "weight")] + ([b.param(n, "bias")] if a["bias"] else [])
    y = b.one("Conv", inputs, kernel_shape=k, strides=s, dilations=d, pads=pads, group=a["groups"])
    return [y if batched else b.one("Squeeze", [y, b.ints([0])])]


def conv_transpose(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    k = list(a["kernel_size"])
    x = xs[0]
    batched = _rank(n.inputs[0]) == len(k) + 2
    if not batched:
        x = b.one("Unsqueeze", [x, b.ints([0])])
    inputs = [x, b.param(n, "weight")] + ([b.param(n, "bias")] if a["bias"] else [])
    y = b.one("ConvTranspose", inputs, kernel_shape=k, strides=list(a["stride"]), dilations=list(a["dilation"]),
              pads=list(a["padding"]) * 2, output_padding=list(a["output_padding"]), group=a["groups"])
    return [y if batched else b.one("Squeeze", [y, b.ints([0])])]


def _batched(b: Builder, n: OpNode, x: str, spatial: int, fn: Callable[[str], str]) -> str:
    """Run `fn` on an (N, C, *spatial) tensor; an unbatched (C, *spatial) input gets a batch of one."""
    if _rank(n.inputs[0]) == spatial + 2:
        return fn(x)
    return b.one("Squeeze", [fn(b.one("Unsqueeze", [x, b.ints([0])])), b.ints([0])])


def pool(kind: str, spatial: int) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        a = n.attrs
        attrs: dict[str, Any] = {"kernel_shape": list(a["kernel_size"]), "strides": list(a["stride"]),
                                 "pads": list(a["padding"]) * 2, "ceil_mode": int(a["ceil_mode"])}
        if kind == "max":
            attrs["dilations"] = list(a["dilation"])
        else:
            attrs["count_include_pad"] = int(a["count_include_pad"])
        op = "MaxPool" if kind == "max" else "AveragePool"
        y = _batched(b, n, xs[0], spatial, lambda x: b.one(op, [x], **attrs))
        if a["ceil_mode"]:
            # torch drops a last window that would start in the right padding; ONNX keeps it: cut it off.
            out = n.outputs[0].type
            axes = list(range(out.rank - spatial, out.rank))
            y = b.one("Slice", [y, b.ints([0] * spatial), b.shape(out.dims[-spatial:]), b.ints(axes)])
        return [y]
    return emit


def adaptive(kind: str, spatial: int) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        sizes = n.inputs[0].type.dims[-spatial:]
        outs = n.outputs[0].type.dims[-spatial:]
        if all(o == 1 for o in outs):
            op = "GlobalAveragePool" if kind == "avg" else "GlobalMaxPool"
            return [_batched(b, n, xs[0], spatial, lambda x: b.one(op, [x]))]
        if not all(isinstance(s, int) for s in sizes):
            raise b.fail(f"`{n.op}` to {tuple(outs)} needs known input sizes in ONNX, but they are "
                         f"{tuple(str(s) for s in sizes)}", help="bind the sizes with --set, or pool to 1")
        # torch's windows: output i of n covers [floor(i * size / n), ceil((i + 1) * size / n)). Averages and
        # maxima over a rectangle are separable, so pool one axis at a time: a window per output, concatenated.
        reduce = "ReduceMean" if kind == "avg" else "ReduceMax"
        rank = n.inputs[0].type.rank
        x = xs[0]
        for i, (size, o) in enumerate(zip(sizes, outs)):
            axis = rank - spatial + i
            if o == size:
                continue
            parts = []
            for j in range(int(o)):  # type: ignore[call-overload]
                lo, hi = (j * int(size)) // int(o), -(-(j + 1) * int(size) // int(o))  # type: ignore[call-overload]
                window = b.one("Slice", [x, b.ints([lo]), b.ints([hi]), b.ints([axis])])
                parts.append(b.one(reduce, [window, b.ints([axis])], keepdims=1))
            x = b.one("Concat", parts, axis=axis)
        return [x]
    return emit


def batch_norm(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    c = a["num_features"]
    if not a["track_running_stats"]:  # batch statistics even at inference: normalise by hand
        axes = b.ints([0] + list(range(2, n.inputs[0].type.rank)))
        dt = n.outputs[0].type.dtype
        centred = b.one("Sub", [xs[0], b.one("ReduceMean", [xs[0], axes], keepdims=1)])
        var = b.one("ReduceMean", [b.one("Mul", [centred, centred]), axes], keepdims=1)
        y = b.one("Div", [centred, b.one("Sqrt", [b.one("Add", [var, b.scalar(a["eps"], dt)])])])
        if a["affine"]:
            shape = [c] + [1] * (n.inputs[0].type.rank - 2)
            y = b.one("Add", [b.one("Mul", [y, b.param(n, "weight", lambda t: t.reshape(shape), ".bcast")]),
                              b.param(n, "bias", lambda t: t.reshape(shape), ".bcast")])
        return [y]
    scale = b.param(n, "weight") if a["affine"] else b.const(np.ones(c, np.float32), "ones")
    bias = b.param(n, "bias") if a["affine"] else b.const(np.zeros(c, np.float32), "zeros")
    return [b.one("BatchNormalization", [xs[0], scale, bias, b.param(n, "running_mean"),
                                         b.param(n, "running_var")], epsilon=a["eps"])]


def layer_norm(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    shape = tuple(a["normalized_shape"])
    ins = [xs[0], b.param(n, "weight") if a["elementwise_affine"] else b.const(np.ones(shape, np.float32), "ones")]
    if a["elementwise_affine"] and a["bias"]:
        ins.append(b.param(n, "bias"))
    return [b.one("LayerNormalization", ins, axis=-len(shape), epsilon=a["eps"])]


def layer_norm_2d(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    """torchvision's LayerNorm2d: channels last, LayerNormalization over them, channels back (as it permutes)."""
    a = n.attrs
    c = a["normalized_shape"]
    ins = [b.one("Transpose", xs, perm=[0, 2, 3, 1]),
           b.param(n, "weight") if a["elementwise_affine"] else b.const(np.ones(c, np.float32), "ones")]
    if a["elementwise_affine"] and a["bias"]:
        ins.append(b.param(n, "bias"))
    y = b.one("LayerNormalization", ins, axis=-1, epsilon=a["eps"])
    return [b.one("Transpose", [y], perm=[0, 3, 1, 2])]


def expand(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    """torch's expand: ONNX Expand to the output shape the checker computed (its -1s already resolved)."""
    return [b.one("Expand", [xs[0], b.shape(n.outputs[0].type.dims)])]


# -- tensor plumbing --------------------------------------------------------------------------------------------
def _reshape_to(b: Builder, x: str, dims: tuple[IntLike, ...]) -> str:
    return b.one("Reshape", [x, b.shape(dims)])


def reshape(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [_reshape_to(b, xs[0], n.outputs[0].type.dims)]


def transpose(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    r = _rank(n.inputs[0])
    if r == 0:
        return [b.one("Identity", xs)]
    perm = list(range(r))
    d0, d1 = n.attrs["dim0"] % r, n.attrs["dim1"] % r
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return [b.one("Transpose", xs, perm=perm)]


def permute(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("Transpose", xs, perm=list(n.attrs["dims"]))]


def concat(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    want = n.outputs[0].type.dtype
    ins = [b.cast(x, v.type.dtype, want) for x, v in zip(xs, n.inputs)]
    return [b.one("Concat", ins, axis=n.attrs["dim"])]


def split(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    dim = n.attrs["dim"] % _rank(n.inputs[0])
    sizes = tuple(v.type.dims[dim] for v in n.outputs)
    return b.add("Split", [xs[0], b.shape(sizes)], outputs=len(sizes), axis=dim)


def binary(op: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        want = n.outputs[0].type.dtype
        ins = [b.cast(x, v.type.dtype, want) for x, v in zip(xs, n.inputs)]
        if len(ins) == 1:
            ins.append(b.scalar(n.attrs["other"], want))
        return [b.one(op, ins)]
    return emit


def matmul(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("MatMul", xs)]


# -- activations ------------------------------------------------------------------------------------------------
def unary(op: str, **fixed: Any) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        attrs = {k: n.attrs[v] if isinstance(v, str) else v for k, v in fixed.items()}
        return [b.one(op, xs, **attrs)]
    return emit


def gelu(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    dt = n.outputs[0].type.dtype
    x = xs[0]
    if n.attrs["approximate"] == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.one("Mul", [b.one("Mul", [x, x]), x])
        inner = b.one("Add", [x, b.one("Mul", [cube, b.scalar(0.044715, dt)])])
        t = b.one("Tanh", [b.one("Mul", [inner, b.scalar(math.sqrt(2 / math.pi), dt)])])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        t = b.one("Erf", [b.one("Mul", [x, b.scalar(1 / math.sqrt(2), dt)])])
    half = b.one("Mul", [x, b.scalar(0.5, dt)])
    return [b.one("Mul", [half, b.one("Add", [t, b.scalar(1.0, dt)])])]


def silu(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("Mul", [xs[0], b.one("Sigmoid", xs)])]


def softplus(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    beta = n.attrs["beta"]
    if beta == 1.0:
        return [b.one("Softplus", xs)]
    dt = n.outputs[0].type.dtype
    return [b.one("Div", [b.one("Softplus", [b.one("Mul", [xs[0], b.scalar(beta, dt)])]), b.scalar(beta, dt)])]


def softmax(op: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        return [b.one(op, xs, axis=n.attrs["dim"])]
    return emit


# -- reductions, indexing ---------------------------------------------------------------------------------------
def reduce(op: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        x = xs[0]
        have, want = n.inputs[0].type.dtype, n.outputs[0].type.dtype
        x = b.cast(x, have, want)
        if have == "bool" and op in ("ReduceMax", "ReduceMin"):
            raise b.fail(f"`{n.op}` of a bool tensor has no ONNX equivalent")
        dims = n.attrs["dim"]
        ins = [x] if dims is None else [x, b.ints(list(dims) if isinstance(dims, tuple) else [dims])]
        return [b.one(op, ins, keepdims=int(n.attrs["keepdim"]))]
    return emit


def argmax(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    x = xs[0]
    dim = n.attrs["dim"]
    if dim is None:
        x = b.one("Reshape", [x, b.ints([-1])])
        y = b.one("ArgMax", [x], axis=0, keepdims=0)
        if n.attrs["keepdim"]:
            y = _reshape_to(b, y, n.outputs[0].type.dims)
        return [y]
    return [b.one("ArgMax", [x], axis=dim, keepdims=int(n.attrs["keepdim"]))]


_BIG = 2 ** 62


def index(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    x = xs[0]
    d = 0  # the axis of the current (output) tensor that the next item indexes
    for item in n.attrs["items"]:
        if item is None:
            x = b.one("Unsqueeze", [x, b.ints([d])])
            d += 1
        elif isinstance(item, slice):
            start = 0 if item.start is None else item.start
            stop = _BIG if item.stop is None else item.stop
            step = 1 if item.step is None else item.step
            x = b.one("Slice", [x, b.dim(start), b.dim(stop), b.ints([d]), b.ints([step])])
            d += 1
        else:  # an integer or a dim: take it and drop the axis
            x = b.one("Gather", [x, b.one("Squeeze", [b.dim(item)])], axis=d)
    return [x]


def arange(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    dt = n.outputs[0].type.dtype

    def bound(v: Any) -> str:
        if isinstance(v, Dim):
            return b.one("Squeeze", [b.cast(b.dim(v), "i64", dt)])
        return b.scalar(v, dt)
    return [b.one("Range", [bound(a["start"]), bound(a["end"]), bound(a["step"])])]
