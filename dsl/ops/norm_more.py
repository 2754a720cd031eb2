"""More normalisation layers: GroupNorm, InstanceNorm1d/2d/3d, LocalResponseNorm, CrossMapLRN2d, RMSNorm,
LayerNorm2d."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike, dims_equal
from ..types import TensorType
from .base import (
    Attr,
    Bool,
    Float,
    OpSpec,
    Optional,
    ShapeError,
    expect_float,
    expect_rank,
    known,
    positive,
    register,
)
from .norm import _shape
from .tensor import exact_div


@register
class GroupNorm(OpSpec):
    name = "GroupNorm"
    family = "norm"
    doc = "Normalises each of `num_groups` channel groups over (C/G, *) per sample."
    attrs = (
        Attr("num_groups", positive),
        Attr("num_channels", Optional(positive), None, inferred=True, doc="channels; inferred from dim 1"),
        Attr("eps", Float(0.0), 1e-5),
        Attr("affine", Bool, True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank < 2:
            raise ShapeError("E201", f"`GroupNorm` expects an input of rank 2 or more (N, C, *), but it has rank "
                             f"{x.rank}", label=f"input here is {x}")
        expect_float(x, self.name)
        c = x.dims[1]
        given = a["num_channels"]
        if given is not None and dims_equal(given, c) is not True:
            raise ShapeError("E200", f"`GroupNorm` expects {given} channels, but the input has {c}",
                             label=f"input here is {x}", help="leave num_channels out to infer it from the input")
        c = known(c, "the number of channels")
        if c % a["num_groups"]:
            raise ShapeError("E207", f"`GroupNorm` splits {c} channels into {a['num_groups']} groups, which does "
                             "not divide", label=f"input here is {x}")
        a["num_channels"] = c
        return [x]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        c = a["num_channels"]
        return {"weight": (c,), "bias": (c,)} if a["affine"] else {}


class _InstanceNorm(OpSpec):
    family = "norm"
    n: int = 2
    attrs = (
        Attr("num_features", Optional(positive), None, inferred=True, doc="channels; inferred from the input"),
        Attr("eps", Float(0.0), 1e-5),
        Attr("momentum", Optional(Float(0.0, 1.0)), 0.1),
        Attr("affine", Bool, False),
        Attr("track_running_stats", Bool, False),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (self.n + 1, self.n + 2), "N, C, " + ", ".join("DHW"[3 - self.n:]) if self.n > 1 else "N, C, L")
        expect_float(x, self.name)
        c = x.dims[-self.n - 1]
        given = a["num_features"]
        if given is not None and dims_equal(given, c) is not True:
            raise ShapeError("E200", f"`{self.name}({given})` expects {given} channels, but the input has {c}",
                             label=f"input here is {x}", help="leave num_features out to infer it from the input")
        spatial = x.dims[-self.n:]
        if all(isinstance(d, int) for d in spatial) and all(d == 1 for d in spatial):
            raise ShapeError("E203", f"`{self.name}` needs more than one spatial element per channel, but the input "
                             f"is {x}", label=f"input here is {x}")
        a["num_features"] = known(c, "the number of channels")
        return [x]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        c = a["num_features"]
        return {"weight": (c,), "bias": (c,)} if a["affine"] else {}

    def buffers(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[tuple[IntLike, ...], str]]:
        if not a["track_running_stats"]:
            return {}
        c = a["num_features"]
        return {"running_mean": ((c,), "f32"), "running_var": ((c,), "f32"), "num_batches_tracked": ((), "i64")}


INSTANCE_NORMS = {n: register(type(f"InstanceNorm{n}d", (_InstanceNorm,), {
    "name": f"InstanceNorm{n}d", "n": n,
    "doc": f"Normalises each channel of each sample over its {n}-d extent."})) for n in (1, 2, 3)}


@register
class LocalResponseNorm(OpSpec):
    name = "LocalResponseNorm"
    family = "norm"
    doc = "x / (k + alpha / size * sum of x^2 over `size` neighbouring channels)^beta (AlexNet)."
    attrs = (Attr("size", positive), Attr("alpha", Float(), 1e-4), Attr("beta", Float(), 0.75), Attr("k", Float(), 1.0))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank < 3:
            raise ShapeError("E201", f"`{self.name}` expects an input of rank 3 or more (N, C, *), but it has rank "
                             f"{x.rank}", label=f"input here is {x}")
        expect_float(x, self.name)
        return [x]


@register
class CrossMapLRN2d(LocalResponseNorm):
    name = "CrossMapLRN2d"
    doc = "LocalResponseNorm over (N, C, H, W) (the Lua Torch layer)."

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        expect_rank(xs[0], (4,), "N, C, H, W")
        return super().infer(a, xs)


@register
class RMSNorm(OpSpec):
    name = "RMSNorm"
    family = "norm"
    doc = "x / sqrt(mean(x^2) + eps) * weight over the trailing dims (Llama)."
    attrs = (
        Attr("normalized_shape", Optional(_shape), None, inferred=True,
             doc="trailing dims to normalise; inferred as the last dim"),
        Attr("eps", Optional(Float(0.0)), None, doc="none: the dtype's machine epsilon, as torch"),
        Attr("elementwise_affine", Bool, True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, self.name)
        shape = a["normalized_shape"]
        if shape is None:
            if x.rank < 1:
                raise ShapeError("E201", "`RMSNorm` needs an input with at least one dim")
            shape = (known(x.dims[-1], "the normalised dim"),)
        if len(shape) > x.rank or any(dims_equal(s, d) is not True for s, d in zip(shape, x.dims[-len(shape):])):
            raise ShapeError("E200", f"`RMSNorm` normalises trailing dims {list(shape)}, but the input is {x}",
                             label=f"input here is {x}", help="normalized_shape must equal the input's last dims")
        a["normalized_shape"] = tuple(shape)
        return [x]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        return {"weight": a["normalized_shape"]} if a["elementwise_affine"] else {}


@register
class LayerNorm2d(OpSpec):
    """torchvision's `LayerNorm2d` (ConvNeXt's stem and downsampling): an `nn.LayerNorm` over the channels of an
    (N, C, H, W) tensor, applied by permuting the channels last and back. Its keys are `weight` and `bias` of
    shape (C,), as nn.LayerNorm's."""

    name = "LayerNorm2d"
    family = "norm"
    doc = "Layer normalisation over the channels (dim 1) of N, C, H, W (torchvision's ConvNeXt LayerNorm2d)."
    attrs = (
        Attr("normalized_shape", Optional(positive), None, inferred=True,
             doc="the channels, as torchvision names it; inferred from dim 1"),
        Attr("eps", Float(0.0), 1e-5),
        Attr("elementwise_affine", Bool, True),
        Attr("bias", Bool, True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (4,), "N, C, H, W")
        expect_float(x, self.name)
        c = a["normalized_shape"]
        if c is None:
            a["normalized_shape"] = known(x.dims[1], "the channel dim")
        elif dims_equal(c, x.dims[1]) is not True:
            raise ShapeError("E200", f"`LayerNorm2d` normalises {c} channels, but the input is {x}",
                             label=f"input here is {x}", help="normalized_shape must equal the input's dim 1")
        return [x]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        if not a["elementwise_affine"]:
            return {}
        shape = (a["normalized_shape"],)
        return {"weight": shape, "bias": shape} if a["bias"] else {"weight": shape}


__all__ = ["INSTANCE_NORMS", "exact_div"]
