"""Resampling: `Upsample` (the layer) and `interpolate` (the function), nearest and (bi/tri)linear.

The shape rule follows `torch.nn.functional.interpolate` exactly:

* exactly one of `size` and `scale_factor`; each is one value for every spatial dim or one per dim;
* with `scale_factor` the output size is `floor(float(size) * scale)` (torch truncates the double product);
* `linear` needs a 3-D input (N, C, L), `bilinear` 4-D, `trilinear` 5-D; `nearest` takes any of them;
* `align_corners` is only meaningful for the interpolating modes, and torch rejects it for `nearest`.

With a symbolic input size, the output is `(size * p) // q` where `p / q` is the scale factor as an exact
fraction; we only accept small denominators, where that formula and torch's double product provably agree.
"""
from __future__ import annotations

import math
from typing import Any

from ..dims import Dim, IntLike, floordiv
from ..types import TensorType
from .base import (
    Attr,
    AttrError,
    Bool,
    Choice,
    Cost,
    DimArg,
    OpSpec,
    Optional,
    ShapeError,
    describe,
    expect_float,
    expect_rank,
    numel,
    register,
)

MODES = ("nearest", "linear", "bilinear", "trilinear")
# The rank each interpolating mode needs (torch raises NotImplementedError for the others).
_MODE_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}
_LAYOUT = {3: "N, C, L", 4: "N, C, H, W", 5: "N, C, D, H, W"}
_AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
# A symbolic size times a scale p/q is computed as (size * p) // q. For q a power of two up to 2**16 and
# sizes below 2**36 the double product torch computes is exact, so the two agree; other scales need a
# known size.
_MAX_DENOMINATOR = 2 ** 16


def _size(v: Any) -> Any:
    """An output size: a dim, or a tuple/list of dims (checked against the rank in `infer`)."""
    if isinstance(v, (tuple, list)):
        if not v:
            raise AttrError("expected at least one size")
        return tuple(_size_item(x) for x in v)
    return _size_item(v)


def _size_item(v: Any) -> IntLike:
    d = DimArg(v)
    if isinstance(d, int) and d <= 0:
        raise AttrError(f"sizes must be positive, got {d}")
    return d


def _scale(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        if not v:
            raise AttrError("expected at least one scale factor")
        return tuple(_scale_item(x) for x in v)
    return _scale_item(v)


def _scale_item(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise AttrError(f"expected a number, got {describe(v)}")
    if not math.isfinite(v) or v <= 0:
        raise AttrError(f"must be a positive number, got {v}")
    return float(v)


def _per_axis(value: Any, n: int, what: str) -> tuple[Any, ...]:
    if not isinstance(value, tuple):
        return (value,) * n
    if len(value) != n:
        raise ShapeError("E201", f"got {len(value)} {what} values for an input with {n} spatial "
                         f"dim{'s' if n != 1 else ''}",
                         help=f"give one value, or one per spatial dim ({', '.join(_AXES[n])})")
    return value


def scaled_size(size: IntLike, scale: float) -> IntLike:
    """The output size torch computes for one axis: floor(float(size) * scale)."""
    if isinstance(size, int):
        return math.floor(float(size) * scale)
    num, den = scale.as_integer_ratio()  # exact: a double is a binary fraction (no `fractions` import)
    if den > _MAX_DENOMINATOR:
        raise ShapeError("E305", f"scale_factor {scale!r} on the symbolic size `{size}`: the output size "
                         f"floor({size} * {scale!r}) is not exact in integer arithmetic",
                         help="use a scale that is a simple binary fraction (2, 0.5, 1.5, ...), give `size=`, "
                         "or bind the dim with --set")
    return floordiv(size * num, den)  # type: ignore[operator]


class _Resample(OpSpec):
    family = "resample"
    attrs = (
        Attr("size", Optional(_size), None, doc="output spatial size: an int or one per spatial dim"),
        Attr("scale_factor", Optional(_scale), None, doc="multiplier for each spatial size: a number or a tuple"),
        Attr("mode", Choice(*MODES), "nearest", doc="'nearest', 'linear' (3-D), 'bilinear' (4-D), 'trilinear' (5-D)"),
        Attr("align_corners", Optional(Bool), None,
             doc="linear modes only: map corner pixels onto corner pixels (torch's default is false)"),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (3, 4, 5), "N, C, followed by 1 to 3 spatial dims")
        expect_float(x, self.name)
        mode = a["mode"]
        want = _MODE_RANK.get(mode)
        if want is not None and x.rank != want:
            raise ShapeError("E201", f"mode {mode!r} needs a rank-{want} input ({_LAYOUT[want]}), but it has rank "
                             f"{x.rank}", label=f"input here is {x}",
                             help=f"for a rank-{x.rank} input use mode "
                             f"{next(m for m, r in _MODE_RANK.items() if r == x.rank)!r} or 'nearest'")
        if mode == "nearest" and a["align_corners"] is not None:
            raise ShapeError("E305", "align_corners can only be set with the interpolating modes "
                             "'linear', 'bilinear' and 'trilinear'",
                             help="drop `align_corners`, or use mode='bilinear'")
        if (a["size"] is None) == (a["scale_factor"] is None):
            given = "both" if a["size"] is not None else "neither"
            raise ShapeError("E303" if given == "neither" else "E305",
                             f"needs exactly one of `size` and `scale_factor`, but {given} was given",
                             help="e.g. `scale_factor=2` doubles every spatial size; `size=(64, 64)` fixes it")
        n = x.rank - 2
        spatial = x.dims[2:]
        out: list[IntLike] = []
        if a["size"] is not None:
            sizes = _per_axis(a["size"], n, "size")
            a["size"] = tuple(sizes)
            out = list(sizes)
        else:
            scales = _per_axis(a["scale_factor"], n, "scale_factor")
            a["scale_factor"] = tuple(scales)
            for axis, (d, s) in enumerate(zip(spatial, scales)):
                o = scaled_size(d, s)
                if isinstance(o, int) and o <= 0:
                    raise ShapeError("E203", f"output {_AXES[n][axis]} would be {o}: floor({d} * {s!r}) is "
                                     "not positive", help="use a larger scale_factor or input")
                out.append(o)
        for axis, d in enumerate(spatial):
            if isinstance(d, int) and d <= 0:
                raise ShapeError("E203", f"input {_AXES[n][axis]} is {d}; it must be positive")
        return [x.with_dims(x.dims[:2] + tuple(out))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        if a["mode"] == "nearest":
            return Cost()  # copies
        # (bi/tri)linear: a weighted sum of 2^n neighbours per output element, a multiply and an add each.
        return Cost(flops=2 * 2 ** (xs[0].rank - 2) * numel(outs[0].dims))  # type: ignore[operator]


@register
class Upsample(_Resample):
    name = "Upsample"
    doc = "nn.Upsample: resizes the spatial dims (nearest, linear, bilinear, trilinear) by `size` or `scale_factor`."


@register
class interpolate(_Resample):  # noqa: N801 - op names are what users type
    name = "interpolate"
    doc = "F.interpolate: the function form of Upsample, with the same attributes and shape rule."


class _Upsampling2d(_Resample):
    """nn.UpsamplingNearest2d / nn.UpsamplingBilinear2d: Upsample with a fixed mode, on (N, C, H, W)."""

    fixed_mode: str = "nearest"
    attrs = _Resample.attrs[:2]

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        a["mode"] = self.fixed_mode
        a["align_corners"] = True if self.fixed_mode == "bilinear" else None
        return super().infer(a, xs)


@register
class UpsamplingNearest2d(_Upsampling2d):
    name = "UpsamplingNearest2d"
    doc = "Nearest-neighbour upsampling of (N, C, H, W)."


@register
class UpsamplingBilinear2d(_Upsampling2d):
    name = "UpsamplingBilinear2d"
    fixed_mode = "bilinear"
    doc = "Bilinear upsampling of (N, C, H, W) with align_corners=True."


__all__ = ["MODES", "Upsample", "interpolate", "scaled_size", "Dim"]
