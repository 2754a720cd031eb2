"""Dense layers: Linear and Embedding."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike
from ..types import TensorType
from .base import (
    Attr,
    Bool,
    Cost,
    Int,
    LayerRef,
    OpSpec,
    Optional,
    ShapeError,
    expect_float,
    expect_int,
    known,
    numel,
    positive,
    register,
)


@register
class Linear(OpSpec):
    name = "Linear"
    family = "linear"
    aliases = ("Dense",)
    doc = "y = x W^T + b over the last dim."
    attrs = (
        Attr("out_features", positive, doc="size of each output sample"),
        Attr("bias", Bool, True, doc="learn an additive bias"),
        Attr("in_features", Optional(positive), None, positional=False, inferred=True,
             doc="size of each input sample; inferred from the input's last dim"),
        Attr("tied", LayerRef, None, positional=False,
             doc="share `weight` with an earlier layer (`tied=wte`); counted once"),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank < 1:
            raise ShapeError("E201", "`Linear` needs an input with at least one dim", label=f"input here is {x}")
        expect_float(x, "Linear")
        last = x.dims[-1]
        given = a["in_features"]
        if given is not None and given != last:
            raise ShapeError("E200", f"`Linear` expects its input's last dim to be {given}, but it is {last}",
                             label=f"input here is {x}",
                             help=f"drop `in_features={given}` to infer it from the input")
        a["in_features"] = known(last, "the input's last dim (in_features)")
        return [x.with_dims(x.dims[:-1] + (a["out_features"],))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        n = numel(outs[0].dims)
        return Cost(macs=n * a["in_features"], flops=n if a["bias"] else 0)  # type: ignore[operator]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        out = {"weight": (a["out_features"], a["in_features"])}
        if a["bias"]:
            out["bias"] = (a["out_features"],)
        return out


@register
class Embedding(OpSpec):
    name = "Embedding"
    family = "linear"
    doc = "A lookup table: integer indices -> learned vectors."
    attrs = (
        Attr("num_embeddings", positive, doc="size of the vocabulary"),
        Attr("embedding_dim", positive, doc="size of each vector"),
        Attr("padding_idx", Optional(Int()), None, positional=False, doc="index whose vector gets no gradient"),
        Attr("tied", LayerRef, None, positional=False,
             doc="share `weight` with an earlier layer (`tied=decoder`); counted once"),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_int(x, "Embedding")
        if x.dtype not in ("i32", "i64"):
            raise ShapeError("E205", f"`Embedding` indices must be i64 or i32, but they are {x.dtype}",
                             label=f"input here is {x}", help="declare the input as i64")
        pad = a["padding_idx"]
        n = a["num_embeddings"]
        if pad is not None and not -n <= pad < n:
            raise ShapeError("E305", f"padding_idx {pad} must be within the {n} embeddings")
        return [TensorType("f32", x.dims + (a["embedding_dim"],))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost()  # a table lookup: memory traffic, no arithmetic

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        return {"weight": (a["num_embeddings"], a["embedding_dim"])}
