"""Dropout variants and torchvision's stochastic depth: random in training, the identity in eval mode."""
from __future__ import annotations

from typing import Any

from ..types import TensorType
from .base import Attr, Choice, Float, OpSpec, ShapeError, expect_float, register


class _DropoutLike(OpSpec):
    family = "regularization"
    ranks: tuple[int, ...] = ()  # empty: any rank from `min_rank`
    min_rank: int = 0
    layout: str = ""
    attrs = (Attr("p", Float(0.0, 1.0), 0.5, doc="probability of an element (or channel) to be zeroed"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if (self.ranks and x.rank not in self.ranks) or x.rank < self.min_rank:
            want = " or ".join(str(r) for r in self.ranks) if self.ranks else f"{self.min_rank} or more"
            raise ShapeError("E201", f"`{self.name}` expects a rank-{want} input{self.layout}, but it has rank "
                             f"{x.rank}", label=f"input here is {x}")
        expect_float(x, self.name)
        return [x]


def _dropout(name: str, doc: str, ranks: tuple[int, ...] = (), min_rank: int = 0, layout: str = "") -> type[OpSpec]:
    ns = {"name": name, "doc": doc, "ranks": ranks, "min_rank": min_rank, "layout": layout}
    return register(type(name, (_DropoutLike,), ns))


Dropout1d = _dropout("Dropout1d", "Zeroes whole channels of (N, C, L) with probability p when training.", (2, 3),
                     layout=" (N, C, L)")
Dropout2d = _dropout("Dropout2d", "Zeroes whole channels of (N, C, H, W) with probability p when training.", (3, 4),
                     layout=" (N, C, H, W)")
Dropout3d = _dropout("Dropout3d", "Zeroes whole channels of (N, C, D, H, W) with probability p when training.",
                     (4, 5), layout=" (N, C, D, H, W)")
AlphaDropout = _dropout("AlphaDropout", "Dropout that keeps SELU's zero mean and unit variance.")
FeatureAlphaDropout = _dropout("FeatureAlphaDropout", "AlphaDropout of whole channels.", min_rank=2,
                               layout=" (N, C, *)")


@register
class StochasticDepth(OpSpec):
    name = "StochasticDepth"
    family = "regularization"
    aliases = ("stochastic_depth",)
    doc = ("torchvision.ops.StochasticDepth: drops the whole residual branch with probability p when training, "
           "per sample (mode \"row\") or per batch (\"batch\"), scaling the rest by 1 / (1 - p).")
    attrs = (Attr("p", Float(0.0, 1.0)), Attr("mode", Choice("row", "batch")))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, self.name)
        if a["mode"] == "row" and x.rank == 0:
            raise ShapeError("E201", "`StochasticDepth` in row mode needs a batch dim, but the input is a scalar")
        return [x]
