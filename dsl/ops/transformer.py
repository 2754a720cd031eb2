"""torch.nn.TransformerEncoderLayer and TransformerDecoderLayer, with torch's key layout.

`x -> TransformerEncoderLayer(512, 8, dim_feedforward=2048)`; `(tgt, memory) -> TransformerDecoderLayer(...)`.
`causal=true` hides future positions in the (decoder's self-) attention, like torch's is_causal masks.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..dims import IntLike
from ..types import TensorType
from .base import Attr, Bool, Choice, Float, OpSpec, Optional, ShapeError, expect_float, known, positive, register
from .shape import require_equal


class _TransformerLayer(OpSpec):
    family = "attention"
    attentions: ClassVar[tuple[str, ...]] = ("self_attn",)
    attrs = (
        Attr("d_model", Optional(positive), None, inferred=True, doc="features; inferred from the last dim"),
        Attr("nhead", positive),
        Attr("dim_feedforward", positive, 2048),
        Attr("dropout", Float(0.0, 1.0), 0.1),
        Attr("activation", Choice("relu", "gelu"), "relu"),
        Attr("layer_norm_eps", Float(0.0), 1e-5, positional=False),
        Attr("batch_first", Bool, False, positional=False),
        Attr("norm_first", Bool, False, positional=False),
        Attr("bias", Bool, True, positional=False),
        Attr("causal", Bool, False, positional=False, doc="mask out future positions in the self-attention"),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x = xs[0]
        layout = "N, S, E" if a["batch_first"] else "S, N, E"
        if x.rank not in (2, 3):
            raise ShapeError("E201", f"`{self.name}` expects ({layout}) or unbatched (S, E), but the input has rank "
                             f"{x.rank}", label=f"input here is {x}")
        expect_float(x, self.name)
        e = x.dims[-1]
        if a["d_model"] is not None and a["d_model"] != e:
            raise ShapeError("E200", f"`{self.name}` expects d_model={a['d_model']}, but the input's last dim is {e}",
                             label=f"input here is {x}", help="leave d_model out to infer it")
        e = known(e, "d_model")
        if e % a["nhead"]:
            raise ShapeError("E207", f"`{self.name}`: d_model ({e}) must be divisible by nhead ({a['nhead']})")
        a["d_model"] = e
        for m in xs[1:]:
            if m.rank != x.rank:
                raise ShapeError("E201", f"`{self.name}` memory {m} must have the rank of the target {x}")
            expect_float(m, self.name)
            require_equal(m.dims[-1], e, f"`{self.name}` memory features ({m.dims[-1]}) must equal d_model ({e})",
                          "project the memory to d_model first")
            if x.rank == 3:
                b = 0 if a["batch_first"] else 1
                require_equal(m.dims[b], x.dims[b], f"`{self.name}` memory batch ({m.dims[b]}) must equal the "
                              f"target's ({x.dims[b]})", "feed target and memory of the same batch")
            if m.dtype != x.dtype:
                raise ShapeError("E205", f"`{self.name}` memory {m} must have the target's dtype")
        return [x]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        e, f, bias = a["d_model"], a["dim_feedforward"], a["bias"]
        out: dict[str, tuple[IntLike, ...]] = {}
        for att in self.attentions:
            out[f"{att}.in_proj_weight"] = (3 * e, e)
            if bias:
                out[f"{att}.in_proj_bias"] = (3 * e,)
            out[f"{att}.out_proj.weight"] = (e, e)
            if bias:
                out[f"{att}.out_proj.bias"] = (e,)
        for name, shape in (("linear1", (f, e)), ("linear2", (e, f))):
            out[f"{name}.weight"] = shape
            if bias:
                out[f"{name}.bias"] = shape[:1]
        for i in range(len(self.attentions) + 1):
            out[f"norm{i + 1}.weight"] = (e,)
            if bias:
                out[f"norm{i + 1}.bias"] = (e,)
        return out


@register
class TransformerEncoderLayer(_TransformerLayer):
    name = "TransformerEncoderLayer"
    max_inputs = 1
    doc = "Self-attention and a feed-forward block, each with a residual and LayerNorm (post- or pre-norm)."


@register
class TransformerDecoderLayer(_TransformerLayer):
    name = "TransformerDecoderLayer"
    min_inputs = 2
    max_inputs = 2
    attentions = ("self_attn", "multihead_attn")
    doc = "Self-attention, attention over the memory, and a feed-forward block: `(tgt, memory) -> ...`."
