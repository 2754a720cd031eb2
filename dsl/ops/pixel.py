"""Rearranging pixels and channels: PixelShuffle, PixelUnshuffle, ChannelShuffle, Unfold (im2col), Fold."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike, floordiv
from ..types import TensorType
from .base import Attr, Int, OpSpec, ShapeError, Tuple, expect_float, expect_rank, positive, register
from .shape import require_equal
from .tensor import exact_div


def _divide(n: IntLike, k: int, op: str, what: str, x: TensorType) -> IntLike:
    q = exact_div(n, k)
    if q is None:
        raise ShapeError("E207", f"`{op}` needs {what} ({n}) to be divisible by {k}", label=f"input here is {x}",
                         help="give the input a size that divides, or state it with `where`")
    return q


@register
class PixelShuffle(OpSpec):
    name = "PixelShuffle"
    family = "pixel"
    aliases = ("pixel_shuffle",)
    doc = "(*, C*r*r, H, W) -> (*, C, H*r, W*r)"
    attrs = (Attr("upscale_factor", positive),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank < 3:
            raise ShapeError("E201", f"`{self.name}` needs an input of rank 3 or more (*, C, H, W), but it has "
                             f"rank {x.rank}", label=f"input here is {x}")
        r = a["upscale_factor"]
        c, h, w = x.dims[-3:]
        return [x.with_dims(x.dims[:-3] + (_divide(c, r * r, self.name, "the channels", x), h * r, w * r))]  # type: ignore[operator]


@register
class PixelUnshuffle(OpSpec):
    name = "PixelUnshuffle"
    family = "pixel"
    aliases = ("pixel_unshuffle",)
    doc = "(*, C, H*r, W*r) -> (*, C*r*r, H, W)"
    attrs = (Attr("downscale_factor", positive),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank < 3:
            raise ShapeError("E201", f"`{self.name}` needs an input of rank 3 or more (*, C, H, W), but it has "
                             f"rank {x.rank}", label=f"input here is {x}")
        r = a["downscale_factor"]
        c, h, w = x.dims[-3:]
        oh = _divide(h, r, self.name, "the height", x)
        ow = _divide(w, r, self.name, "the width", x)
        return [x.with_dims(x.dims[:-3] + (c * r * r, oh, ow))]  # type: ignore[operator]


@register
class ChannelShuffle(OpSpec):
    name = "ChannelShuffle"
    family = "pixel"
    aliases = ("channel_shuffle",)
    doc = "Interleaves the channels of `groups` groups (ShuffleNet); (N, C, *) keeps its shape."
    attrs = (Attr("groups", positive),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank < 3:
            raise ShapeError("E201", f"`ChannelShuffle` needs an input of rank 3 or more (N, C, *), but it has "
                             f"rank {x.rank}", label=f"input here is {x}")
        _divide(x.dims[1], a["groups"], self.name, "the channels", x)
        return [x]


def _blocks(sizes: tuple[IntLike, ...], a: dict[str, Any], op: str) -> list[IntLike]:
    out = []
    for i, n in enumerate(sizes):
        k, d, p, s = a["kernel_size"][i], a["dilation"][i], a["padding"][i], a["stride"][i]
        span = n + 2 * p - d * (k - 1) - 1  # type: ignore[operator]
        b = floordiv(span, s) + 1  # type: ignore[operator]
        if isinstance(b, int) and b <= 0:
            raise ShapeError("E203", f"`{op}`: a {n}-pixel dim padded by {p} holds no {k}-wide block "
                             f"(dilation {d})", help="use a larger input, more padding or a smaller kernel")
        out.append(b)
    return out


_WINDOW = (Attr("kernel_size", Tuple(2)), Attr("dilation", Tuple(2), 1), Attr("padding", Tuple(2, Int(0)), 0),
           Attr("stride", Tuple(2), 1))


@register
class Unfold(OpSpec):
    name = "Unfold"
    family = "pixel"
    aliases = ("unfold",)
    doc = "im2col: (N, C, H, W) -> (N, C*kh*kw, L), one column per sliding block."
    attrs = _WINDOW

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (3, 4), "N, C, H, W")
        expect_float(x, self.name)
        kh, kw = a["kernel_size"]
        blocks = _blocks(x.dims[-2:], a, self.name)
        c = x.dims[-3]
        return [x.with_dims(x.dims[:-3] + (c * kh * kw, blocks[0] * blocks[1]))]  # type: ignore[operator]


@register
class Fold(OpSpec):
    name = "Fold"
    family = "pixel"
    aliases = ("fold",)
    doc = "col2im: (N, C*kh*kw, L) -> (N, C, *output_size), summing overlapping blocks."
    attrs = (Attr("output_size", Tuple(2)),) + _WINDOW

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (2, 3), "N, C*kh*kw, L")
        expect_float(x, self.name)
        kh, kw = a["kernel_size"]
        c = _divide(x.dims[-2], kh * kw, self.name, "dim -2 (C times the kernel's size)", x)
        blocks = _blocks(a["output_size"], a, self.name)
        require_equal(x.dims[-1], blocks[0] * blocks[1], f"`Fold` into {a['output_size']} makes "  # type: ignore[operator]
                      f"{blocks[0] * blocks[1]} blocks, but the input has {x.dims[-1]}",  # type: ignore[operator]
                      "the last dim must be the number of sliding blocks that fit the output size")
        return [x.with_dims(x.dims[:-2] + (c,) + tuple(a["output_size"]))]
