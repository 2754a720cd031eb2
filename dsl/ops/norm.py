"""Normalisation and regularisation: BatchNorm1d/2d, LayerNorm, Dropout."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike, dims_equal
from ..types import TensorType
from .base import (
    Attr,
    AttrError,
    Bool,
    Cost,
    Float,
    OpSpec,
    Optional,
    ShapeError,
    expect_float,
    expect_rank,
    known,
    numel,
    positive,
    register,
)


class _BatchNorm(OpSpec):
    family = "norm"
    ranks: tuple[int, ...] = (4,)
    layout: str = "N, C, H, W"
    attrs = (
        Attr("num_features", Optional(positive), None, inferred=True, doc="channels; inferred from dim 1"),
        Attr("eps", Float(0.0), 1e-5),
        Attr("momentum", Optional(Float(0.0, 1.0)), 0.1),
        Attr("affine", Bool, True),
        Attr("track_running_stats", Bool, True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, self.ranks, self.layout)
        expect_float(x, self.name)
        c = x.dims[1]
        if a["num_features"] is not None and a["num_features"] != c:
            raise ShapeError("E200", f"`{self.name}({a['num_features']})` expects {a['num_features']} channels, "
                             f"but the input has {c}", label=f"input here is {x}",
                             help="leave num_features out to infer it from the input")
        a["num_features"] = known(c, "the number of channels")
        return [x]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        # Inference: the running statistics and the affine fold into one scale and shift per element.
        return Cost(flops=2 * numel(outs[0].dims))  # type: ignore[operator]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        c = a["num_features"]
        return {"weight": (c,), "bias": (c,)} if a["affine"] else {}

    def buffers(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[tuple[IntLike, ...], str]]:
        if not a["track_running_stats"]:
            return {}
        c = a["num_features"]
        return {"running_mean": ((c,), "f32"), "running_var": ((c,), "f32"), "num_batches_tracked": ((), "i64")}


@register
class BatchNorm1d(_BatchNorm):
    name = "BatchNorm1d"
    ranks = (2, 3)
    layout = "N, C or N, C, L"
    doc = "Batch normalisation over (N, C) or (N, C, L)."


@register
class BatchNorm2d(_BatchNorm):
    name = "BatchNorm2d"
    ranks = (4,)
    layout = "N, C, H, W"
    doc = "Batch normalisation over (N, C, H, W)."


@register
class BatchNorm3d(_BatchNorm):
    name = "BatchNorm3d"
    ranks = (5,)
    layout = "N, C, D, H, W"
    doc = "Batch normalisation over (N, C, D, H, W)."


@register
class SyncBatchNorm(_BatchNorm):
    name = "SyncBatchNorm"
    ranks = (2, 3, 4, 5, 6, 7, 8)
    layout = "N, C, *"
    doc = "Batch normalisation whose statistics are shared across processes in distributed training."


def _shape(v: Any) -> tuple[int, ...]:
    if isinstance(v, (tuple, list)):
        if not v:
            raise AttrError("expected at least one dim")
        return tuple(positive(d) for d in v)
    return (positive(v),)


@register
class LayerNorm(OpSpec):
    name = "LayerNorm"
    family = "norm"
    doc = "Layer normalisation over the trailing dims."
    attrs = (
        Attr("normalized_shape", Optional(_shape), None, inferred=True,
             doc="trailing dims to normalise; inferred as the last dim"),
        Attr("eps", Float(0.0), 1e-5),
        Attr("elementwise_affine", Bool, True),
        Attr("bias", Bool, True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, "LayerNorm")
        shape = a["normalized_shape"]
        if shape is None:
            if x.rank < 1:
                raise ShapeError("E201", "`LayerNorm` needs an input with at least one dim")
            shape = (known(x.dims[-1], "the normalised dim"),)
        if len(shape) > x.rank or any(dims_equal(s, d) is False for s, d in zip(shape, x.dims[-len(shape):])):
            raise ShapeError("E200", f"`LayerNorm` normalises trailing dims {list(shape)}, but the input is {x}",
                             label=f"input here is {x}", help="normalized_shape must equal the input's last dims")
        a["normalized_shape"] = tuple(shape)
        return [x]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        # Per element: add to the mean, subtract it, square and add to the variance, normalise; affine: 2 more.
        per = 5 + (2 if a["elementwise_affine"] else 0)
        return Cost(flops=per * numel(outs[0].dims))  # type: ignore[operator]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        if not a["elementwise_affine"]:
            return {}
        shape = a["normalized_shape"]
        return {"weight": shape, "bias": shape} if a["bias"] else {"weight": shape}


@register
class Dropout(OpSpec):
    name = "Dropout"
    family = "regularization"
    doc = "Zeroes elements with probability p during training; identity in eval mode."
    attrs = (Attr("p", Float(0.0, 1.0), 0.5, doc="probability of an element to be zeroed"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        expect_float(xs[0], "Dropout")
        return [xs[0]]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost()  # identity in eval mode, which is what the forward-pass figures describe


__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "expect_rank"]
