"""The ONNX backend: an ONNX model (opset 18) straight from the IR, without torch.

Each op node becomes a few standard ONNX nodes (`EMITTERS`); parameters become initializers named by their
state_dict keys. Input dims that are symbols in the source (`B`, `T`, `H`, `W`) become named dynamic axes;
sizes computed from them inside the network (a `view(B, T, heads, d / heads)`) are built in the graph from
`Shape` of the input that binds each symbol, so one file serves every size. What ONNX cannot express is an
:class:`UnsupportedOp` naming the op and its source location, raised before anything is written.

`onnx` and `numpy` are the only imports; the file is checked with `onnx.checker` by the caller.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..dsl.dims import Dim, FloorDiv, IntLike, Sym
from ..dsl.ir import Graph, OpNode, Value
from ..dsl.types import DTYPES

OPSET = 18
_ONNX_DTYPES = {"f16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16, "f32": TensorProto.FLOAT,
                "f64": TensorProto.DOUBLE, "i8": TensorProto.INT8, "u8": TensorProto.UINT8, "i16": TensorProto.INT16,
                "i32": TensorProto.INT32, "i64": TensorProto.INT64, "bool": TensorProto.BOOL}


class UnsupportedOp(Exception):
    """An op (or an attribute of one) that the ONNX backend cannot express; `node` locates it."""

    def __init__(self, node: OpNode | None, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.help = help


@dataclass
class Builder:
    """The graph under construction: nodes, initializers, value names and cached constants."""

    graph: Graph
    weights: dict[str, np.ndarray]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # value id -> tensor name
    taken: set[str] = field(default_factory=set)
    consts: dict[tuple[Any, ...], str] = field(default_factory=dict)
    symbols: dict[str, tuple[str, int]] = field(default_factory=dict)  # symbol -> (input tensor, axis)
    dim_cache: dict[str, str] = field(default_factory=dict)
    node: OpNode | None = None  # the op being lowered, for errors

    def fresh(self, hint: str) -> str:
        base = hint.replace("/", ".") or "t"
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def add(self, op: str, inputs: list[str], outputs: int | list[str] = 1, hint: str | None = None,
            **attrs: Any) -> list[str]:
        base = hint or (self.node.path if self.node is not None else op.lower())
        outs = outputs if isinstance(outputs, list) else [self.fresh(f"{base}.{op}") for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.fresh(f"{base}/{op}"), **attrs))
        return outs

    def one(self, op: str, inputs: list[str], **attrs: Any) -> str:
        return self.add(op, inputs, **attrs)[0]

    def fail(self, message: str, help: str | None = None) -> UnsupportedOp:
        return UnsupportedOp(self.node, message, help)

    # -- constants and parameters ----------------------------------------------------------------------------
    def const(self, array: np.ndarray, hint: str = "const") -> str:
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.consts:
            name = self.fresh(hint)
            self.initializers[name] = numpy_helper.from_array(array, name)
            self.consts[key] = name
        return self.consts[key]

    def ints(self, values: list[int] | tuple[int, ...]) -> str:
        return self.const(np.asarray(values, dtype=np.int64), "ints")

    def scalar(self, value: float | int | bool, dtype: str) -> str:
        return self.const(np.asarray(value, dtype=DTYPES[dtype]), "scalar")

    def param(self, node: OpNode, name: str, transform: Callable[[np.ndarray], np.ndarray] | None = None,
              suffix: str = "") -> str:
        """The initializer of a parameter or buffer, named by its state_dict key (a tied one by its owner's)."""
        key = node.tied.get(name) or (f"{node.path}.{name}" if node.path else name)
        out = key + suffix
        if out not in self.initializers:
            if key not in self.weights:
                raise self.fail(f"the weights have no `{key}`")
            array = self.weights[key]
            if transform is not None:
                array = transform(array)
            self.initializers[out] = numpy_helper.from_array(np.ascontiguousarray(array), out)
            self.taken.add(out)
        return out

    # -- sizes computed at run time --------------------------------------------------------------------------
    def dim(self, d: IntLike) -> str:
        """A 1-element int64 tensor holding `d`, from the shapes of the inputs that bind its symbols."""
        if isinstance(d, int):
            return self.ints([d])
        key = str(d)
        if key not in self.dim_cache:
            total: str | None = None
            for mono, coef in d.terms:
                term: str | None = None if coef == 1 else self.ints([coef])
                for atom, power in mono:
                    factor = self._atom(atom)
                    for _ in range(power):
                        term = factor if term is None else self.one("Mul", [term, factor], hint="size")
                if term is None:
                    term = self.ints([coef])
                total = term if total is None else self.one("Add", [total, term], hint="size")
            self.dim_cache[key] = total or self.ints([0])
        return self.dim_cache[key]

    def _atom(self, atom: Any) -> str:
        if isinstance(atom, Sym):
            if atom.name not in self.symbols:
                raise self.fail(f"the size `{atom.name}` is not a whole dim of any input, so the ONNX graph "
                                "cannot read it from the inputs' shapes",
                                help=f"bind it with --set {atom.name}=N")
            src, axis = self.symbols[atom.name]
            key = f"{src}#{axis}"
            if key not in self.dim_cache:
                shape = self.one("Shape", [src], hint=f"{src}.shape")
                self.dim_cache[key] = self.one("Gather", [shape, self.ints([axis])], hint=atom.name, axis=0)
            return self.dim_cache[key]
        assert isinstance(atom, FloorDiv)
        return self.one("Div", [self.dim(atom.num), self.ints([atom.den])], hint="size")  # sizes are >= 0

    def shape(self, dims: tuple[IntLike, ...]) -> str:
        if all(isinstance(d, int) for d in dims):
            return self.ints([int(d) for d in dims])  # type: ignore[arg-type]
        return self.one("Concat", [self.dim(d) for d in dims], axis=0, hint="shape")

    def cast(self, name: str, have: str, want: str) -> str:
        return name if have == want else self.one("Cast", [name], to=_ONNX_DTYPES[want])

    def var(self, v: Value) -> str:
        if v.id not in self.names:
            raise self.fail(f"`{v.name}` is an optional block input (`= {v.name}`) that the caller leaves out; "
                            "the ONNX backend makes optional inputs only at the network level",
                            help="pass it to the block from a network input")
        return self.names[v.id]


Emitter = Callable[[Builder, OpNode, list[str]], list[str]]


def _rank(v: Value) -> int:
    return v.type.rank


# -- dense, conv, pooling, norms --------------------------------------------------------------------------------
def _linear(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    # MatMul by the transposed weight (stored transposed, so quantizers see a plain MatMul initializer).
    w = b.param(n, "weight", np.transpose, suffix=".T")
    y = b.one("MatMul", [xs[0], w])
    if n.attrs["bias"]:
        y = b.one("Add", [y, b.param(n, "bias")])
    return [y]


def _embedding(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("Gather", [b.param(n, "weight"), xs[0]], axis=0)]


def _conv(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[a["padding_mode"]]
        if mode == "wrap":
            raise b.fail("padding_mode='circular' has no ONNX opset-18 equivalent",
                         help="use padding_mode='zeros', 'reflect' or 'replicate'")
        m = len(k)
        full = [0, 0] + pads[:m] + [0, 0] + pads[m:]
        x = b.one("Pad", [x, b.ints(full)], mode=mode)
        pads = [0] * (2 * m)
    inputs = [x, b.param(n, "weight")] + ([b.param(n, "bias")] if a["bias"] else [])
    y = b.one("Conv", inputs, kernel_shape=k, strides=s, dilations=d, pads=pads, group=a["groups"])
    return [y if batched else b.one("Squeeze", [y, b.ints([0])])]


def _conv_transpose(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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


def _pool(kind: str, spatial: int) -> Emitter:
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


def _adaptive(kind: str, spatial: int) -> Emitter:
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


def _batch_norm(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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


def _layer_norm(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    shape = tuple(a["normalized_shape"])
    ins = [xs[0], b.param(n, "weight") if a["elementwise_affine"] else b.const(np.ones(shape, np.float32), "ones")]
    if a["elementwise_affine"] and a["bias"]:
        ins.append(b.param(n, "bias"))
    return [b.one("LayerNormalization", ins, axis=-len(shape), epsilon=a["eps"])]


# -- tensor plumbing --------------------------------------------------------------------------------------------
def _reshape_to(b: Builder, x: str, dims: tuple[IntLike, ...]) -> str:
    return b.one("Reshape", [x, b.shape(dims)])


def _reshape(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [_reshape_to(b, xs[0], n.outputs[0].type.dims)]


def _transpose(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    r = _rank(n.inputs[0])
    if r == 0:
        return [b.one("Identity", xs)]
    perm = list(range(r))
    d0, d1 = n.attrs["dim0"] % r, n.attrs["dim1"] % r
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return [b.one("Transpose", xs, perm=perm)]


def _permute(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("Transpose", xs, perm=list(n.attrs["dims"]))]


def _concat(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    want = n.outputs[0].type.dtype
    ins = [b.cast(x, v.type.dtype, want) for x, v in zip(xs, n.inputs)]
    return [b.one("Concat", ins, axis=n.attrs["dim"])]


def _split(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    dim = n.attrs["dim"] % _rank(n.inputs[0])
    sizes = tuple(v.type.dims[dim] for v in n.outputs)
    return b.add("Split", [xs[0], b.shape(sizes)], outputs=len(sizes), axis=dim)


def _binary(op: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        want = n.outputs[0].type.dtype
        ins = [b.cast(x, v.type.dtype, want) for x, v in zip(xs, n.inputs)]
        if len(ins) == 1:
            ins.append(b.scalar(n.attrs["other"], want))
        return [b.one(op, ins)]
    return emit


def _matmul(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("MatMul", xs)]


# -- activations ------------------------------------------------------------------------------------------------
def _unary(op: str, **fixed: Any) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        attrs = {k: n.attrs[v] if isinstance(v, str) else v for k, v in fixed.items()}
        return [b.one(op, xs, **attrs)]
    return emit


def _gelu(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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


def _silu(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    return [b.one("Mul", [xs[0], b.one("Sigmoid", xs)])]


def _softplus(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    beta = n.attrs["beta"]
    if beta == 1.0:
        return [b.one("Softplus", xs)]
    dt = n.outputs[0].type.dtype
    return [b.one("Div", [b.one("Softplus", [b.one("Mul", [xs[0], b.scalar(beta, dt)])]), b.scalar(beta, dt)])]


def _softmax(op: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        return [b.one(op, xs, axis=n.attrs["dim"])]
    return emit


# -- reductions, indexing ---------------------------------------------------------------------------------------
def _reduce(op: str) -> Emitter:
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


def _argmax(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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


def _index(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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


def _arange(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    dt = n.outputs[0].type.dtype

    def bound(v: Any) -> str:
        if isinstance(v, Dim):
            return b.one("Squeeze", [b.cast(b.dim(v), "i64", dt)])
        return b.scalar(v, dt)
    return [b.one("Range", [bound(a["start"]), bound(a["end"]), bound(a["step"])])]


# -- attention --------------------------------------------------------------------------------------------------
def _attention(b: Builder, q: str, k: str, v: str, rank: int, dt: str, scale: float, causal: bool,
               big_l: IntLike, big_s: IntLike, attn_mask: tuple[str, str] | None,
               pad: tuple[str, int] | None) -> tuple[str, str]:
    """softmax(q k^T * scale + masks) v over (..., L, E) x (..., S, E) x (..., S, Ev): (output, weights)."""
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    scores = b.one("MatMul", [b.one("Mul", [q, b.scalar(scale, dt)]), b.one("Transpose", [k], perm=perm)])
    neg = b.scalar(-np.inf, dt)
    zero = b.scalar(0.0, dt)
    if causal:
        ones = b.one("ConstantOfShape", [b.shape((big_l, big_s))], value=helper.make_tensor("one", TensorProto.BOOL,
                                                                                              [1], [True]))
        keep = b.one("Trilu", [ones], upper=0)
        scores = b.one("Add", [scores, b.one("Where", [keep, zero, neg])])
    if attn_mask is not None:
        mask, mdt = attn_mask
        scores = b.one("Add", [scores, b.one("Where", [mask, zero, neg]) if mdt == "bool" else b.cast(mask, mdt, dt)])
    if pad is not None:  # (N, S), true = padding: broadcast over the heads and queries
        mask, lead = pad
        m = b.one("Unsqueeze", [mask, b.ints(list(range(1, 1 + lead)))]) if lead else mask
        scores = b.one("Add", [scores, b.one("Where", [m, neg, zero])])
    weights = b.one("Softmax", [scores], axis=-1)
    return b.one("MatMul", [weights, v]), weights


def _sdpa(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    q, k, v = n.inputs[:3]
    dt = n.outputs[0].type.dtype
    e = q.type.dims[-1]
    if a["scale"] is None and not isinstance(e, int):
        raise b.fail("the default scale 1/sqrt(E) needs a known last dim of the query")
    scale = a["scale"] if a["scale"] is not None else 1 / math.sqrt(int(e))  # type: ignore[arg-type]
    rank = n.outputs[0].type.rank
    mask = None
    if a["attn_mask"] is not None:
        mv = n.inputs[a["attn_mask"]]
        mask = (xs[a["attn_mask"]], mv.type.dtype)
    pad = None
    if a["key_padding_mask"] is not None:
        # (N, S) against scores (N, ..., L, S): a new axis for every dim between the batch and S.
        pad = (xs[a["key_padding_mask"]], rank - 2)
        if n.inputs[a["key_padding_mask"]].type.rank == 1:
            pad = (xs[a["key_padding_mask"]], 0)
    out, _ = _attention(b, xs[0], xs[1], xs[2], rank, dt, scale, a["causal"], q.type.dims[-2], k.type.dims[-2],
                        mask, pad)
    return [out]


def _mha(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    n_main = len(xs) - sum(a[m] is not None for m in ("attn_mask", "key_padding_mask"))
    q_in, k_in, v_in = (xs[0],) * 3 if n_main == 1 else tuple(xs[:3])
    qt = n.inputs[0].type
    kt = n.inputs[0 if n_main == 1 else 1].type
    dt, e, heads = qt.dtype, a["embed_dim"], a["num_heads"]
    hd = e // heads
    batched = qt.rank == 3
    # Work in (N, L, E): transpose torch's (L, N, E) layout in and out; an unbatched (L, E) gets N = 1.
    def to_nle(x: str) -> str:
        if not batched:
            return b.one("Unsqueeze", [x, b.ints([0])])
        return x if a["batch_first"] else b.one("Transpose", [x], perm=[1, 0, 2])
    q_in, k_in, v_in = (to_nle(x) for x in (q_in, k_in, v_in))
    seq = 1 if batched and a["batch_first"] else 0
    big_l, big_s = qt.dims[seq], kt.dims[seq]
    big_n: IntLike = qt.dims[1 - seq] if batched else 1

    def proj(x: str, part: int, name: str) -> str:
        if "in_proj_weight" in n.params:
            w = b.param(n, "in_proj_weight", lambda t, p=part: t[p * e:(p + 1) * e].T, suffix=f".{'qkv'[part]}.T")
        else:
            w = b.param(n, name, np.transpose, suffix=".T")
        y = b.one("MatMul", [x, w])
        if a["bias"]:
            y = b.one("Add", [y, b.param(n, "in_proj_bias", lambda t, p=part: t[p * e:(p + 1) * e],
                                         suffix=f".{'qkv'[part]}")])
        return y

    def heads_first(x: str, length: IntLike) -> str:  # (N, L, E) -> (N, heads, L, hd)
        return b.one("Transpose", [_reshape_to(b, x, (big_n, length, heads, hd))], perm=[0, 2, 1, 3])

    q = heads_first(proj(q_in, 0, "q_proj_weight"), big_l)
    k = heads_first(proj(k_in, 1, "k_proj_weight"), big_s)
    v = heads_first(proj(v_in, 2, "v_proj_weight"), big_s)
    mask = None
    if a["attn_mask"] is not None:
        mv = n.inputs[a["attn_mask"]]
        m = xs[a["attn_mask"]]
        if mv.type.rank == 3:  # (N * heads, L, S)
            m = _reshape_to(b, m, (big_n, heads, big_l, big_s))
        mask = (m, mv.type.dtype)
    pad = None
    if a["key_padding_mask"] is not None:
        pv = n.inputs[a["key_padding_mask"]]
        m = xs[a["key_padding_mask"]]
        if not batched:
            m = b.one("Unsqueeze", [m, b.ints([0])])
        if pv.type.dtype != "bool":  # a float padding mask is added, like an attn_mask
            m = b.one("Unsqueeze", [b.cast(m, pv.type.dtype, dt), b.ints([1, 2])])
            mask = (m, dt) if mask is None else (b.one("Add", [b.cast(mask[0], mask[1], dt) if mask[1] != "bool"
                                                               else b.one("Where", [mask[0], b.scalar(0.0, dt),
                                                                                    b.scalar(-np.inf, dt)]), m]), dt)
        else:
            pad = (m, 2)
    out, weights = _attention(b, q, k, v, 4, dt, 1 / math.sqrt(hd), a["causal"], big_l, big_s, mask, pad)
    out = _reshape_to(b, b.one("Transpose", [out], perm=[0, 2, 1, 3]), (big_n, big_l, e))
    out = b.one("MatMul", [out, b.param(n, "out_proj.weight", np.transpose, suffix=".T")])
    if a["bias"]:
        out = b.one("Add", [out, b.param(n, "out_proj.bias")])
    if not batched:
        out = b.one("Squeeze", [out, b.ints([0])])
    elif not a["batch_first"]:
        out = b.one("Transpose", [out], perm=[1, 0, 2])
    if not a["need_weights"]:
        return [out]
    if a["average_attn_weights"]:
        weights = b.one("ReduceMean", [weights, b.ints([1])], keepdims=0)
    if not batched:
        weights = b.one("Squeeze", [weights, b.ints([0])])
    return [out, weights]


def _positional(table: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        x = n.inputs[0].type
        seq = n.attrs["dim"]
        rows = b.one("Slice", [b.param(n, table), b.ints([0]), b.dim(x.dims[seq]), b.ints([0])])
        between = list(range(1, x.rank - 1 - seq))  # axes between the sequence and the features
        if between:
            rows = b.one("Unsqueeze", [rows, b.ints(between)])
        return [b.one("Add", [xs[0], rows])]
    return emit


# -- recurrent --------------------------------------------------------------------------------------------------
# torch stacks gate blocks as LSTM (i, f, g, o) and GRU (r, z, n); ONNX as LSTM (i, o, f, c) and GRU (z, r, h).
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def _rnn(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    if a.get("proj_size"):
        raise b.fail("`LSTM(proj_size=...)` has no ONNX equivalent (ONNX's LSTM has no projection)")
    op = n.op
    h, layers = a["hidden_size"], a["num_layers"]
    dirs = 2 if a["bidirectional"] else 1
    x_t = n.inputs[0].type
    batched = x_t.rank == 3
    x = xs[0]
    if not batched:
        x = b.one("Unsqueeze", [x, b.ints([1])])
    elif a["batch_first"]:
        x = b.one("Transpose", [x], perm=[1, 0, 2])  # ONNX runs (L, N, C)
    order = _GATE_ORDER[op]

    def gates(t: np.ndarray) -> np.ndarray:
        return np.concatenate([t[g * h:(g + 1) * h] for g in order], axis=0)

    states = [b.one("Unsqueeze", [s, b.ints([1])]) if not batched else s for s in xs[1:]]
    finals: list[list[str]] = [[] for _ in range(len(states) or (2 if op == "LSTM" else 1))]
    attrs: dict[str, Any] = {"hidden_size": h, "direction": "bidirectional" if dirs == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1  # torch applies the reset gate after W_hn h + b_hn
    if op == "RNN":
        attrs["activations"] = ["Tanh" if a["nonlinearity"] == "tanh" else "Relu"] * dirs
    for layer in range(layers):
        sfx = [f"l{layer}" + ("_reverse" if d else "") for d in range(dirs)]

        def stacked(kind: str, s: list[str] = sfx, layer: int = layer) -> str:
            arrays = [gates(b.weights[_key(n, f"{kind}_{x}")]) for x in s]
            return b.const(np.stack(arrays).astype(np.float32), f"{n.path}.{kind}_l{layer}.onnx")

        for x_name in sfx:
            for kind in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if a["bias"] else ()):
                if _key(n, f"{kind}_{x_name}") not in b.weights:
                    raise b.fail(f"the weights have no `{_key(n, f'{kind}_{x_name}')}`")
        ins = [x, stacked("weight_ih"), stacked("weight_hh")]
        if a["bias"]:
            ins.append(b.const(np.stack([np.concatenate([gates(b.weights[_key(n, f"bias_ih_{s}")]),
                                                         gates(b.weights[_key(n, f"bias_hh_{s}")])])
                                         for s in sfx]).astype(np.float32), f"{n.path}.bias_l{layer}.onnx"))
        else:
            ins.append("")
        ins.append("")  # sequence_lens
        for s in states:
            ins.append(b.one("Slice", [s, b.ints([layer * dirs]), b.ints([(layer + 1) * dirs]), b.ints([0])]))
        outs = b.add(op, ins, outputs=3 if op == "LSTM" else 2, **attrs)
        y = outs[0]  # (L, dirs, N, H) -> (L, N, dirs * H)
        x = _reshape_to(b, b.one("Transpose", [y], perm=[0, 2, 1, 3]), (_dims(x_t, a)[0], _dims(x_t, a)[1], dirs * h))
        for i, final in enumerate(outs[1:]):
            finals[i].append(final)
    out = x
    if not batched:
        out = b.one("Squeeze", [out, b.ints([1])])
    elif a["batch_first"]:
        out = b.one("Transpose", [out], perm=[1, 0, 2])
    results = [out]
    for parts in finals:
        state = parts[0] if len(parts) == 1 else b.one("Concat", parts, axis=0)
        results.append(b.one("Squeeze", [state, b.ints([1])]) if not batched else state)
    return results


def _key(n: OpNode, name: str) -> str:
    return f"{n.path}.{name}" if n.path else name


def _dims(x: Any, a: dict[str, Any]) -> tuple[IntLike, IntLike]:
    """(L, N) of a recurrent input."""
    if x.rank == 2:
        return x.dims[0], 1
    return (x.dims[1], x.dims[0]) if a["batch_first"] else (x.dims[0], x.dims[1])


# -- resampling -------------------------------------------------------------------------------------------------
def _interpolate(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    a = n.attrs
    mode = a["mode"]
    attrs: dict[str, Any] = {"mode": "nearest" if mode == "nearest" else "linear"}
    if mode == "nearest":
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs["coordinate_transformation_mode"] = "align_corners" if a["align_corners"] else "pytorch_half_pixel"
    if a["scale_factor"] is not None:
        # torch maps coordinates with the scale factor itself, not the ratio of the sizes; so does `scales`.
        scales = np.asarray([1.0, 1.0] + [float(s) for s in a["scale_factor"]], dtype=np.float32)
        return [b.one("Resize", [xs[0], "", b.const(scales, "scales")], **attrs)]
    x_dims = n.inputs[0].type.dims
    sizes = b.shape(x_dims[:2] + tuple(n.outputs[0].type.dims[2:]))
    return [b.one("Resize", [xs[0], "", "", sizes], **attrs)]


EMITTERS: dict[str, Emitter] = {
    "Linear": _linear, "Embedding": _embedding,
    **{f"Conv{k}d": _conv for k in (1, 2, 3)}, **{f"ConvTranspose{k}d": _conv_transpose for k in (1, 2, 3)},
    "MaxPool1d": _pool("max", 1), "MaxPool2d": _pool("max", 2), "AvgPool1d": _pool("avg", 1),
    "AvgPool2d": _pool("avg", 2),
    "AdaptiveAvgPool1d": _adaptive("avg", 1), "AdaptiveAvgPool2d": _adaptive("avg", 2),
    "AdaptiveMaxPool1d": _adaptive("max", 1), "AdaptiveMaxPool2d": _adaptive("max", 2),
    "BatchNorm1d": _batch_norm, "BatchNorm2d": _batch_norm, "LayerNorm": _layer_norm,
    "Dropout": _unary("Identity"),
    "Flatten": _reshape, "flatten": _reshape, "view": _reshape,
    "transpose": _transpose, "permute": _permute, "concat": _concat, "split": _split, "chunk": _split,
    "add": _binary("Add"), "sub": _binary("Sub"), "mul": _binary("Mul"), "div": _binary("Div"),
    "matmul": _matmul,
    "relu": _unary("Relu"), "leaky_relu": _unary("LeakyRelu", alpha="negative_slope"),
    "elu": _unary("Elu", alpha="alpha"), "gelu": _gelu, "silu": _silu, "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"), "softplus": _softplus, "exp": _unary("Exp"),
    "softmax": _softmax("Softmax"), "log_softmax": _softmax("LogSoftmax"),
    "sum": _reduce("ReduceSum"), "mean": _reduce("ReduceMean"), "max": _reduce("ReduceMax"),
    "min": _reduce("ReduceMin"), "argmax": _argmax, "index": _index, "arange": _arange,
    "scaled_dot_product_attention": _sdpa, "MultiheadAttention": _mha,
    "SinusoidalPositionalEncoding": _positional("pe"), "LearnedPositionalEncoding": _positional("weight"),
    "RNN": _rnn, "GRU": _rnn, "LSTM": _rnn,
    "Upsample": _interpolate, "interpolate": _interpolate,
}


# -- the model --------------------------------------------------------------------------------------------------
def _value_info(name: str, v: Value) -> onnx.ValueInfoProto:
    dims: list[int | str | None] = []
    for d in v.type.dims:
        dims.append(d if isinstance(d, int) else str(d))
    return helper.make_tensor_value_info(name, _ONNX_DTYPES[v.type.dtype], dims)


def _is_symbol(d: IntLike) -> str | None:
    if isinstance(d, Dim) and len(d.terms) == 1:
        (mono, coef), = d.terms
        if coef == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], Sym):
            return mono[0][0].name
    return None


def supported(graph: Graph) -> list[OpNode]:
    """The op nodes no emitter exists for (an empty list: every op has one)."""
    return [n for n in graph.op_nodes() if n.op not in EMITTERS]


def to_onnx(graph: Graph, weights: dict[str, np.ndarray], opset: int = OPSET,
            producer: str = "netc") -> onnx.ModelProto:
    """An ONNX model of `graph` with `weights` (state_dict keys -> arrays) as initializers."""
    b = Builder(graph, weights)
    inputs = []
    for name, value, _ in graph.inputs:
        b.taken.add(name)
        b.names[value.id] = name
        inputs.append(_value_info(name, value))
        for axis, d in enumerate(value.type.dims):
            s = _is_symbol(d)
            if s is not None and s not in b.symbols:
                b.symbols[s] = (name, axis)
    for n in graph.op_nodes():
        b.node = n
        emitter = EMITTERS.get(n.op)
        if emitter is None:
            raise UnsupportedOp(n, f"the ONNX backend has no lowering for `{n.op}`")
        outs = emitter(b, n, [b.var(v) for v in n.inputs])
        for v, name in zip(n.outputs, outs):
            b.names[v.id] = name
    b.node = None
    outputs = []
    for name, value in graph.outputs:
        src = b.names[value.id]
        if name in b.taken and src != name:
            name = b.fresh(name)
        b.taken.add(name)
        b.nodes.append(helper.make_node("Identity", [src], [name], name=f"output/{name}"))
        outputs.append(_value_info(name, value))
    onnx_graph = helper.make_graph(b.nodes, graph.name, inputs, outputs, list(b.initializers.values()))
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer)
    model.ir_version = min(model.ir_version, 10)  # what current onnxruntime releases load
    return model
