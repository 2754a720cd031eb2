"""Layers over pairs of inputs: Bilinear, CosineSimilarity, PairwiseDistance; and EmbeddingBag."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike
from ..types import TensorType
from .base import (
    Attr,
    Bool,
    Choice,
    Float,
    Int,
    OpSpec,
    Optional,
    ShapeError,
    expect_float,
    known,
    norm_dim,
    positive,
    register,
)
from .shape import require_equal
from .tensor import broadcast


@register
class Bilinear(OpSpec):
    name = "Bilinear"
    family = "linear"
    min_inputs = 2
    max_inputs = 2
    doc = "y = x1^T A x2 + b: (*, in1) and (*, in2) -> (*, out)."
    attrs = (
        Attr("out_features", positive),
        Attr("bias", Bool, True),
        Attr("in1_features", Optional(positive), None, positional=False, inferred=True),
        Attr("in2_features", Optional(positive), None, positional=False, inferred=True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x1, x2 = xs
        for x in xs:
            expect_float(x, self.name)
            if x.rank < 1:
                raise ShapeError("E201", "`Bilinear` inputs need at least one dim", label=f"input here is {x}")
        if x1.rank != x2.rank:
            raise ShapeError("E201", f"`Bilinear` inputs need the same batch dims, but got {x1} and {x2}")
        for i, (p, q) in enumerate(zip(x1.dims[:-1], x2.dims[:-1])):
            require_equal(p, q, f"`Bilinear` inputs need the same batch dims, but dim {i} is {p} and {q}",
                          "give both inputs the same leading dims")
        if x1.dtype != x2.dtype:
            raise ShapeError("E205", f"`Bilinear` inputs need one dtype, got {x1} and {x2}")
        for key, x in (("in1_features", x1), ("in2_features", x2)):
            given = a[key]
            if given is not None and given != x.dims[-1]:
                raise ShapeError("E200", f"`Bilinear` expects {key}={given}, but the input's last dim is {x.dims[-1]}",
                                 label=f"input here is {x}")
            a[key] = known(x.dims[-1], key)
        return [x1.with_dims(x1.dims[:-1] + (a["out_features"],))]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        out: dict[str, tuple[IntLike, ...]] = {"weight": (a["out_features"], a["in1_features"], a["in2_features"])}
        if a["bias"]:
            out["bias"] = (a["out_features"],)
        return out


def _pair(op: OpSpec, xs: list[TensorType]) -> TensorType:
    x1, x2 = xs
    for x in xs:
        expect_float(x, op.name)
    return broadcast(x1, x2, op.name, op)


@register
class CosineSimilarity(OpSpec):
    name = "CosineSimilarity"
    family = "distance"
    aliases = ("cosine_similarity",)
    min_inputs = 2
    max_inputs = 2
    doc = "x1 . x2 / max(|x1| |x2|, eps) along `dim`, after broadcasting."
    attrs = (Attr("dim", Int(), 1), Attr("eps", Float(0.0), 1e-8))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        b = _pair(self, xs)
        d = norm_dim(a["dim"], b.rank)
        return [b.with_dims(b.dims[:d] + b.dims[d + 1:])]


@register
class PairwiseDistance(OpSpec):
    name = "PairwiseDistance"
    family = "distance"
    aliases = ("pairwise_distance",)
    min_inputs = 2
    max_inputs = 2
    doc = "The p-norm of x1 - x2 + eps over the last dim."
    attrs = (Attr("p", Float(), 2.0), Attr("eps", Float(0.0), 1e-6), Attr("keepdim", Bool, False))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        b = _pair(self, xs)
        if b.rank == 0:
            raise ShapeError("E201", "`PairwiseDistance` needs inputs with at least one dim")
        if max(x.rank for x in xs) == 1 and not a["keepdim"]:
            return [b.with_dims(())]
        return [b.with_dims(b.dims[:-1] + ((1,) if a["keepdim"] else ()))]


@register
class EmbeddingBag(OpSpec):
    name = "EmbeddingBag"
    family = "linear"
    doc = "Sums, averages or maxes the embeddings of each row of (B, N) indices: -> (B, embedding_dim)."
    attrs = (
        Attr("num_embeddings", positive),
        Attr("embedding_dim", positive),
        Attr("mode", Choice("sum", "mean", "max"), "mean"),
        Attr("padding_idx", Optional(Int()), None, positional=False, doc="index left out of every bag"),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank != 2:
            raise ShapeError("E201", f"`EmbeddingBag` takes (B, N) indices, one bag per row, but the input has rank "
                             f"{x.rank}", label=f"input here is {x}",
                             help="1-D indices with offsets are not supported; give each bag its own row")
        if x.dtype not in ("i32", "i64"):
            raise ShapeError("E205", f"`EmbeddingBag` indices must be i64 or i32, but they are {x.dtype}",
                             label=f"input here is {x}")
        n, pad = a["num_embeddings"], a["padding_idx"]
        if pad is not None and not -n <= pad < n:
            raise ShapeError("E305", f"padding_idx {pad} must be within the {n} embeddings")
        return [TensorType("f32", (x.dims[0], a["embedding_dim"]))]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        return {"weight": (a["num_embeddings"], a["embedding_dim"])}
