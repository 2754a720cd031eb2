"""ONNX lowerings of attention, positional encodings, recurrent layers and resampling."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import TensorProto, helper

from ..dsl.dims import IntLike
from ..dsl.ir import OpNode
from .onnx_builder import Builder, Emitter
from .onnx_ops import _reshape_to


# -- attention --------------------------------------------------------------------------------------------------
def _attention(b: Builder, q: str, k: str, v: str, rank: int, dt: str, scale: float, causal: bool,
               big_l: IntLike, big_s: IntLike, attn_mask: tuple[str, str] | None,
               pad: tuple[str, int] | None, safe: bool = True) -> tuple[str, str]:
    """softmax(q k^T * scale + masks) v over (..., L, E) x (..., S, E) x (..., S, Ev): (output, weights).

    A query whose keys are all masked has no softmax (NaN); `safe` makes its weights 0, as torch's SDPA does
    (and MultiheadAttention, unless it returns the weights)."""
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
    if safe and (attn_mask is not None or pad is not None):
        weights = b.one("Where", [b.one("IsNaN", [weights]), zero, weights])
    return b.one("MatMul", [weights, v]), weights


def sdpa(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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


def mha(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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
    out, weights = _attention(b, q, k, v, 4, dt, 1 / math.sqrt(hd), a["causal"], big_l, big_s, mask, pad,
                              safe=not a["need_weights"])
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


def positional(table: str) -> Emitter:
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


def rnn(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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
def interpolate(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
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
