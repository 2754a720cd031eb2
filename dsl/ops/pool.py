"""Pooling: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d."""
from __future__ import annotations

from typing import Any

from ..dims import Dim, IntLike, ceildiv, floordiv
from ..residues import evaluate, periodic_bindings
from ..types import TensorType
from .base import (
    Attr,
    Bool,
    Cost,
    Float,
    Int,
    OpSpec,
    Optional,
    ShapeError,
    Tuple,
    Warn,
    expect_float,
    expect_rank,
    numel,
    positive,
    register,
)
from .conv import _LAYOUT, _axis_names


def pool_out(size: IntLike, k: int, s: int, p: int, d: int, ceil_mode: bool, spec: OpSpec) -> IntLike:
    """torch's pooling_output_shape, symbolic where the input size is."""
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff  # type: ignore[operator]
    out: IntLike = (ceildiv(num, s) if ceil_mode else floordiv(num, s)) + 1  # type: ignore[operator]
    if ceil_mode:
        # torch drops the last window when it would start entirely in the right padding.
        if isinstance(out, int) and isinstance(size, int):
            if (out - 1) * s >= size + p:
                out -= 1
        elif isinstance(out, Dim) and eff - p < s:
            # With r = the round-up of the ceil division (0 <= r <= s - 1), the dropped-window condition reads
            # r >= eff - p: it depends on the size modulo s only. Look at every remainder the size can leave.
            drops = _drops_last_window(size, out, s, p)
            if drops == {True}:
                out = out - 1  # the size always leaves such a remainder (`where L % 2 == 0`, stride 2, k 1)
            elif drops != {False}:
                spec.warnings.append(Warn("W002", "ceil_mode output size assumes the last window starts inside "
                                          "the input; it is one less for some input sizes", equality=False))
    return out


def _drops_last_window(size: IntLike, out: IntLike, s: int, p: int) -> set[bool] | None:
    """Whether torch drops the last window, over bindings showing every remainder of the size modulo s."""
    bindings = periodic_bindings(size, s)
    if bindings is None:
        return None
    return {(evaluate(out, b) - 1) * s >= evaluate(size, b) + p for b in bindings}


class _PoolNd(OpSpec):
    n: int = 2
    family = "pool"
    dilated: bool = False

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (self.n + 1, self.n + 2), _LAYOUT[self.n])
        if self.name.startswith("AvgPool"):
            expect_float(x, self.name)  # torch averages integers with integer division; netc asks for floats
        k = a["kernel_size"]
        s = a["stride"] if a["stride"] is not None else k
        a["stride"] = s
        p = a["padding"]
        d = a.get("dilation", (1,) * self.n)
        out: list[IntLike] = []
        for i, size in enumerate(x.dims[-self.n:]):
            if 2 * p[i] > k[i]:
                raise ShapeError("E305", f"padding ({p[i]}) should be at most half of the kernel size ({k[i]})",
                                 help=f"use padding <= {k[i] // 2}")
            o = pool_out(size, k[i], s[i], p[i], d[i], a["ceil_mode"], self)
            if isinstance(o, int) and o <= 0:
                raise ShapeError("E203", f"`{self.name}` output {_axis_names(self.n)[i]} would be {o}: the "
                                 f"input {_axis_names(self.n)[i]} {size} is smaller than the kernel {k[i]}",
                                 label=f"input here is {x}", help="pool a larger input or use a smaller kernel")
            out.append(o)
        return [x.with_dims(x.dims[:-self.n] + tuple(out))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        # One comparison or addition per kernel tap of each output element (the average's division folds in).
        return Cost(flops=numel(outs[0].dims) * numel(tuple(a["kernel_size"])))  # type: ignore[operator]


def _pool_attrs(n: int, kind: str) -> tuple[Attr, ...]:
    attrs = [Attr("kernel_size", Tuple(n)), Attr("stride", Optional(Tuple(n)), None, doc="defaults to kernel_size"),
             Attr("padding", Tuple(n, Int(0)), 0)]
    if kind == "max":
        attrs.append(Attr("dilation", Tuple(n), 1))
        attrs.append(Attr("ceil_mode", Bool, False))
    else:
        attrs.append(Attr("ceil_mode", Bool, False))
        attrs.append(Attr("count_include_pad", Bool, True))
    return tuple(attrs)


def _make_pool(name: str, n: int, kind: str) -> type[OpSpec]:
    doc = f"{'Max' if kind == 'max' else 'Average'} pooling over ({_LAYOUT[n]})."
    return register(type(name, (_PoolNd,), {"name": name, "n": n, "attrs": _pool_attrs(n, kind), "doc": doc}))


MaxPool1d = _make_pool("MaxPool1d", 1, "max")
MaxPool2d = _make_pool("MaxPool2d", 2, "max")
AvgPool1d = _make_pool("AvgPool1d", 1, "avg")
AvgPool2d = _make_pool("AvgPool2d", 2, "avg")
MaxPool3d = _make_pool("MaxPool3d", 3, "max")
AvgPool3d = _make_pool("AvgPool3d", 3, "avg")


class _LPPoolNd(_PoolNd):
    """(sum of x^p over each window)^(1/p); no padding, windows as in average pooling."""

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        a["padding"] = (0,) * self.n
        expect_float(xs[0], self.name)  # torch computes integers' powers in float32; netc asks for floats
        return super().infer(a, xs)


def _make_lp(n: int) -> type[OpSpec]:
    attrs = (Attr("norm_type", Float()), Attr("kernel_size", Tuple(n)),
             Attr("stride", Optional(Tuple(n)), None, doc="defaults to kernel_size"), Attr("ceil_mode", Bool, False))
    doc = f"Power-average pooling over ({_LAYOUT[n]}): (sum x^p)^(1/p) per window."
    return register(type(f"LPPool{n}d", (_LPPoolNd,), {"name": f"LPPool{n}d", "n": n, "attrs": attrs, "doc": doc}))


LPPool1d, LPPool2d, LPPool3d = (_make_lp(n) for n in (1, 2, 3))


def _adaptive_size(n: int):  # type: ignore[no-untyped-def]
    item = Optional(positive) if n > 1 else positive  # torch's 1-d adaptive pools take no `None`

    def f(v: Any) -> tuple[int | None, ...]:
        if isinstance(v, (tuple, list)):
            if len(v) != n:
                from .base import AttrError
                raise AttrError(f"expected {n} values, got {len(v)}")
            return tuple(item(x) for x in v)
        return (positive(v),) * n
    return f


class _AdaptiveNd(OpSpec):
    n: int = 2
    family = "pool"

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_rank(x, (self.n + 1, self.n + 2), _LAYOUT[self.n])
        expect_float(x, self.name)  # torch: "mean(): could not infer output dtype", no int max kernel
        spatial = x.dims[-self.n:]
        out = tuple(size if o is None else o for o, size in zip(a["output_size"], spatial))
        return [x.with_dims(x.dims[:-self.n] + out)]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        # The windows tile the input (overlapping by at most one element): about one FLOP per input element.
        return Cost(flops=numel(xs[0].dims))


def _make_adaptive(name: str, n: int, kind: str) -> type[OpSpec]:
    attrs = (Attr("output_size", _adaptive_size(n), doc="target size; `none` keeps that dim"),)
    doc = f"Adaptive {kind} pooling to a fixed output size over ({_LAYOUT[n]})."
    return register(type(name, (_AdaptiveNd,), {"name": name, "n": n, "attrs": attrs, "doc": doc}))


AdaptiveAvgPool1d = _make_adaptive("AdaptiveAvgPool1d", 1, "average")
AdaptiveAvgPool2d = _make_adaptive("AdaptiveAvgPool2d", 2, "average")
AdaptiveMaxPool1d = _make_adaptive("AdaptiveMaxPool1d", 1, "max")
AdaptiveMaxPool2d = _make_adaptive("AdaptiveMaxPool2d", 2, "max")
AdaptiveAvgPool3d = _make_adaptive("AdaptiveAvgPool3d", 3, "average")
AdaptiveMaxPool3d = _make_adaptive("AdaptiveMaxPool3d", 3, "max")
