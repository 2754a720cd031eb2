"""Attention and positional encodings.

* `scaled_dot_product_attention(q, k, v, causal=true, dropout=p)` is `F.scaled_dot_product_attention`, plus a
  `key_padding_mask` (bool[B, S], true = a padding key that nobody attends to, torch's convention for
  `nn.MultiheadAttention`) next to torch's own `attn_mask` (true = may attend, or a float mask that is added).
* `MultiheadAttention(embed_dim, num_heads)` is `nn.MultiheadAttention` with its parameter layout
  (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`; separate `q/k/v_proj_weight`
  when the key or value width differs). One input means self-attention; `causal=true` masks the future.
* `SinusoidalPositionalEncoding` adds the fixed sin/cos table of Vaswani et al., kept as a buffer `pe`
  (in the state_dict, not a parameter); `LearnedPositionalEncoding` adds a learned table `weight`.
"""
from __future__ import annotations

from typing import Any

from ..dims import IntLike, dims_equal
from ..types import FLOAT_DTYPES, TensorType
from .base import (
    Attr,
    Bool,
    Cost,
    Float,
    Int,
    OpSpec,
    Optional,
    ShapeError,
    TensorInput,
    Warn,
    expect_float,
    known,
    norm_dim,
    numel,
    positive,
    register,
)
from .tensor import broadcast

_MASK_ATTRS = (
    Attr("attn_mask", TensorInput, None, positional=False,
         doc="tensor by keyword: bool (true = may attend) or float (added to the scores), broadcast to (L, S)"),
    Attr("key_padding_mask", TensorInput, None, positional=False,
         doc="tensor by keyword: bool[N, S], true marks padding keys that are ignored"),
)


def _shape(dims: tuple[IntLike, ...]) -> str:
    return "(" + ", ".join(map(str, dims)) + ")"


def _expect_dims(t: TensorType, want: tuple[IntLike, ...], what: str, spec: OpSpec) -> None:
    bad = t.rank != len(want) or any(dims_equal(p, q) is False for p, q in zip(t.dims, want))
    if bad:
        raise ShapeError("E200", f"{what} must be {_shape(want)}, but it is {t.shape_str()}", label=f"{what} is {t}")
    for p, q in zip(t.dims, want):
        if dims_equal(p, q) is None:
            spec.warnings.append(Warn("W002", f"{what} is assumed to be {_shape(want)}, and it is {t.shape_str()}"))
            return


def _expect_mask_dtype(t: TensorType, what: str, allow_float: bool = True) -> None:
    if t.dtype == "bool" or (allow_float and t.dtype in FLOAT_DTYPES):
        return
    raise ShapeError("E205", f"{what} must be bool{' or float' if allow_float else ''}, but it is {t.dtype}",
                     label=f"{what} is {t}", help="declare masks as `bool[B, T]`")


@register
class scaled_dot_product_attention(OpSpec):  # noqa: N801 - op names are what users type
    name = "scaled_dot_product_attention"
    family = "attention"
    aliases = ("sdpa",)
    min_inputs = 3
    max_inputs = 3
    tensor_kwargs = ("attn_mask", "key_padding_mask")
    doc = "softmax(q k^T * scale + mask) v over (..., L, E) x (..., S, E) x (..., S, Ev) -> (..., L, Ev)."
    attrs = (
        Attr("causal", Bool, False, positional=False, doc="query i attends to keys 0..i only"),
        Attr("dropout", Float(0.0, 1.0), 0.0, positional=False, doc="dropout on the attention weights (training)"),
        Attr("scale", Optional(Float()), None, positional=False, doc="score scale; default 1/sqrt(E)"),
    ) + _MASK_ATTRS

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        q, k, v = xs[:3]
        for what, t in (("query", q), ("key", k), ("value", v)):
            if t.rank < 2:
                raise ShapeError("E201", f"{what} must have at least 2 dims (..., L, E), but it is {t}",
                                 label=f"{what} is {t}")
            expect_float(t, self.name)
        if dims_equal(q.dims[-1], k.dims[-1]) is False:
            raise ShapeError("E200", f"query and key need the same last dim, but they are {q} and {k}",
                             help="q and k are compared by a dot product over their last dim")
        if dims_equal(k.dims[-2], v.dims[-2]) is False:
            raise ShapeError("E200", f"key and value need the same length (dim -2), but they are {k} and {v}")
        batch = broadcast(TensorType(q.dtype, q.dims[:-2]), TensorType(k.dtype, k.dims[:-2]), self.name, self)
        batch = broadcast(batch, TensorType(v.dtype, v.dims[:-2]), self.name, self)
        big_l, big_s = q.dims[-2], k.dims[-2]
        if a["attn_mask"] is not None:
            m = xs[a["attn_mask"]]
            _expect_mask_dtype(m, "attn_mask")
            if m.rank < 2:
                raise ShapeError("E201", f"attn_mask needs at least 2 dims (L, S), but it is {m}",
                                 label=f"attn_mask is {m}", help="a mask over keys only is a key_padding_mask")
            out = broadcast(m.with_dims(m.dims), TensorType(q.dtype, batch.dims + (big_l, big_s)), self.name, self)
            if out.rank != batch.rank + 2 or any(dims_equal(p, r) is False
                                                  for p, r in zip(out.dims, batch.dims + (big_l, big_s))):
                raise ShapeError("E202", f"attn_mask {m} does not broadcast to the scores "
                                 f"{_shape(batch.dims + (big_l, big_s))}")
        if a["key_padding_mask"] is not None:
            m = xs[a["key_padding_mask"]]
            _expect_mask_dtype(m, "key_padding_mask", allow_float=False)
            want = (batch.dims[0], big_s) if batch.rank else (big_s,)
            if m.rank == 2 and m.dims[0] == 1 and batch.rank:
                want = (1, big_s)  # one mask for the whole batch broadcasts, like an attn_mask would
            _expect_dims(m, want, "key_padding_mask", self)
        return [TensorType(q.dtype, batch.dims + (big_l, v.dims[-1]))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        q, k, v = xs[:3]
        scores = numel(outs[0].dims[:-2]) * q.dims[-2] * k.dims[-2]  # type: ignore[operator]
        # q k^T and weights @ v; a causal mask is counted in full, as torch's counter and kernels do.
        # Element-wise: the scale, the mask, and the softmax's 3 per score.
        return Cost(macs=scores * q.dims[-1] + scores * v.dims[-1], flops=5 * scores)  # type: ignore[operator]


@register
class MultiheadAttention(OpSpec):
    name = "MultiheadAttention"
    family = "attention"
    min_inputs = 1
    max_inputs = 3
    tensor_kwargs = ("attn_mask", "key_padding_mask")
    doc = ("nn.MultiheadAttention: (query, key, value), or one input for self-attention; returns the output "
           "(and the attention weights with need_weights=true).")
    attrs = (
        Attr("embed_dim", positive, doc="model width E (the query's last dim)"),
        Attr("num_heads", positive, doc="parallel heads; embed_dim must be divisible by it"),
        Attr("dropout", Float(0.0, 1.0), 0.0, positional=False, doc="dropout on the attention weights (training)"),
        Attr("bias", Bool, True, positional=False, doc="learn in_proj_bias and out_proj.bias"),
        Attr("batch_first", Bool, False, positional=False, doc="inputs are (N, L, E) instead of (L, N, E)"),
        Attr("causal", Bool, False, positional=False, doc="query i attends to keys 0..i only"),
        Attr("need_weights", Bool, False, positional=False, doc="also output the attention weights"),
        Attr("average_attn_weights", Bool, True, positional=False, doc="average the weights over heads"),
        Attr("kdim", Optional(positive), None, positional=False, inferred=True, doc="key width; inferred"),
        Attr("vdim", Optional(positive), None, positional=False, inferred=True, doc="value width; inferred"),
    ) + _MASK_ATTRS

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        n_main = len(xs) - sum(a[m] is not None for m in ("attn_mask", "key_padding_mask"))
        if n_main == 2:
            raise ShapeError("E308", "`MultiheadAttention` takes (query, key, value), or one input for "
                             "self-attention, but got 2 inputs", help="pass the key twice for key = value")
        q, k, v = (xs[0], xs[0], xs[0]) if n_main == 1 else xs[:3]
        e, heads = a["embed_dim"], a["num_heads"]
        if e % heads:
            raise ShapeError("E207", f"embed_dim ({e}) must be divisible by num_heads ({heads})")
        layout = "N, L, E" if a["batch_first"] else "L, N, E"
        for what, t in (("query", q), ("key", k), ("value", v)):
            expect_float(t, self.name)
            if t.rank not in (2, 3):
                raise ShapeError("E201", f"{what} must be ({layout}) or unbatched (L, E), but it is {t}",
                                 label=f"{what} is {t}")
        if not q.rank == k.rank == v.rank:
            raise ShapeError("E201", f"query, key and value must have the same rank, but they are {q}, {k}, {v}")
        if dims_equal(q.dims[-1], e) is False:
            raise ShapeError("E200", f"`MultiheadAttention({e}, {heads})` expects the query's last dim to be {e}, "
                             f"but it is {q.dims[-1]}", label=f"query is {q}")
        for attr, t, what in (("kdim", k, "key"), ("vdim", v, "value")):
            if a[attr] is not None and dims_equal(a[attr], t.dims[-1]) is False:
                raise ShapeError("E200", f"`MultiheadAttention` expects {attr}={a[attr]}, but the {what}'s last "
                                 f"dim is {t.dims[-1]}", label=f"{what} is {t}")
            a[attr] = known(t.dims[-1], f"the {what}'s last dim ({attr})")
        batched = q.rank == 3
        seq = 1 if batched and a["batch_first"] else 0
        big_l, big_s = q.dims[seq], k.dims[seq]
        if dims_equal(k.dims[seq], v.dims[seq]) is False:
            raise ShapeError("E200", f"key and value must have the same length, but they are {k} and {v}")
        n = q.dims[1 - seq] if batched else None
        if batched:
            for what, t in (("key", k), ("value", v)):
                if dims_equal(t.dims[1 - seq], n) is False:  # type: ignore[arg-type]
                    raise ShapeError("E200", f"query and {what} must have the same batch size, but they are "
                                     f"{q} and {t}")
        if a["key_padding_mask"] is not None:
            m = xs[a["key_padding_mask"]]
            _expect_mask_dtype(m, "key_padding_mask")
            _expect_dims(m, (n, big_s) if batched else (big_s,), "key_padding_mask", self)  # type: ignore[arg-type]
        if a["attn_mask"] is not None:
            m = xs[a["attn_mask"]]
            _expect_mask_dtype(m, "attn_mask")
            if m.rank == 3:
                lead: IntLike = (n * heads) if batched else heads  # type: ignore[operator]
                _expect_dims(m, (lead, big_l, big_s), "attn_mask", self)
            else:
                _expect_dims(m, (big_l, big_s), "attn_mask", self)
        out = q.with_dims(q.dims[:-1] + (e,))
        if not a["need_weights"]:
            return [out]
        w: tuple[IntLike, ...] = (big_l, big_s) if a["average_attn_weights"] else (heads, big_l, big_s)
        return [out, q.with_dims(((n,) if batched else ()) + w)]  # type: ignore[operator]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        n_main = len(xs) - sum(a[m] is not None for m in ("attn_mask", "key_padding_mask"))
        q, k = (xs[0], xs[0]) if n_main == 1 else xs[:2]
        e = a["embed_dim"]
        queries, keys = numel(q.dims[:-1]), numel(k.dims[:-1])  # L * N and S * N
        big_s = k.dims[1 if q.rank == 3 and a["batch_first"] else 0]
        scores = queries * big_s  # type: ignore[operator]  # N * L * S per head
        macs = queries * e * e + keys * e * a["kdim"] + keys * e * a["vdim"]  # type: ignore[operator]  # in-proj
        # q k^T and weights @ v over all heads (E / heads columns each), then out_proj.
        macs = macs + 2 * scores * e + queries * e * e  # type: ignore[operator]
        flops = 5 * scores * a["num_heads"] + ((2 * queries + 2 * keys) * e if a["bias"] else 0)  # type: ignore[operator]
        return Cost(macs=macs, flops=flops)

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        e = a["embed_dim"]
        out: dict[str, tuple[IntLike, ...]] = {}
        if a["kdim"] == e and a["vdim"] == e:
            out["in_proj_weight"] = (3 * e, e)
        else:
            out.update(q_proj_weight=(e, e), k_proj_weight=(e, a["kdim"]), v_proj_weight=(e, a["vdim"]))
        if a["bias"]:
            out["in_proj_bias"] = (3 * e,)
        # out_proj is a sub-module in torch, hence the dotted names.
        out["out_proj.weight"] = (e, e)
        if a["bias"]:
            out["out_proj.bias"] = (e,)
        return out


class _PositionalEncoding(OpSpec):
    family = "attention"
    attrs = (
        Attr("max_len", positive, 5000, doc="longest sequence the table covers"),
        Attr("dim", Int(), -2, positional=False, doc="the sequence dim of the input (0 for L, N, E)"),
        Attr("d_model", Optional(positive), None, positional=False, inferred=True,
             doc="features; inferred from the input's last dim"),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, self.name)
        if x.rank < 2:
            raise ShapeError("E201", f"`{self.name}` needs an input with a sequence dim and a feature dim, "
                             f"but it is {x}")
        seq = norm_dim(a["dim"], x.rank)
        if seq == x.rank - 1:
            raise ShapeError("E208", "`dim` must be the sequence dim, not the last (feature) dim",
                             help="use dim=-2 for (N, L, E) or dim=0 for (L, N, E)")
        a["dim"] = seq
        d = known(x.dims[-1], "the feature dim (d_model)")
        if a["d_model"] is not None and a["d_model"] != d:
            raise ShapeError("E200", f"`{self.name}` expects d_model {a['d_model']}, but the input's last dim is {d}")
        a["d_model"] = d
        steps = x.dims[seq]
        if isinstance(steps, int) and steps > a["max_len"]:
            raise ShapeError("E209", f"the sequence ({steps} steps) is longer than max_len={a['max_len']}",
                             help=f"raise max_len to at least {steps}")
        return [x]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outs[0].dims))  # the addition of the table


@register
class SinusoidalPositionalEncoding(_PositionalEncoding):
    name = "SinusoidalPositionalEncoding"
    aliases = ("PositionalEncoding",)
    doc = ("x + pe[:L], pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...); pe is a buffer, "
           "not a parameter.")

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        out = super().infer(a, xs)
        if a["d_model"] % 2:
            raise ShapeError("E207", f"the sinusoidal table pairs sin and cos, so d_model must be even, "
                             f"but it is {a['d_model']}")
        return out

    def buffers(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[tuple[IntLike, ...], str]]:
        return {"pe": ((a["max_len"], a["d_model"]), "f32")}


@register
class LearnedPositionalEncoding(_PositionalEncoding):
    name = "LearnedPositionalEncoding"
    doc = "x + weight[:L]: a learned position table (max_len, d_model), like an Embedding of arange(L)."

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        return {"weight": (a["max_len"], a["d_model"])}
