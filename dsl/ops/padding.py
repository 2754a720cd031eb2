"""Padding: `pad` (torch.nn.functional.pad) and the padding layers (ConstantPad2d, ReflectionPad1d, ...).

Padding sizes come in torch's order: the last dim first, (left, right), then (top, bottom), then (front, back).
The modes other than `constant` read the input's edge, so they need the pads to fit the input: reflect needs
pad < size, circular pad <= size. With a symbolic size that the checker cannot bound, that is an error that
names the fix (a `where` on the input that states the size is large enough).
"""
from __future__ import annotations

from typing import Any

from ..dims import lower_bound
from ..types import TensorType
from .base import Attr, AttrError, Choice, Float, Int, OpSpec, ShapeError, describe, register

MODES = ("constant", "reflect", "replicate", "circular")


def _pads(v: Any) -> tuple[int, ...]:
    if not isinstance(v, (tuple, list)):
        raise AttrError(f"expected a tuple of pads, (left, right, ...), got {describe(v)}")
    return tuple(Int()(p) for p in v)


def pad_shape(x: TensorType, pads: tuple[int, ...], mode: str, op: str) -> TensorType:
    """The padded type, with torch's checks (F.pad and the padding layers share them)."""
    if len(pads) % 2:
        raise ShapeError("E305", f"`{op}` needs an even number of pads, (left, right) per dim, got {len(pads)}")
    n = len(pads) // 2
    if mode == "constant":
        if n > x.rank:
            raise ShapeError("E201", f"`{op}` pads {n} dims, but the input has rank {x.rank}",
                             label=f"input here is {x}")
    else:
        if n not in (1, 2, 3) or x.rank not in (n + 1, n + 2):
            raise ShapeError("E201", f"`{op}` in {mode} mode pads {n} trailing dims of a rank-{n + 1} or "
                             f"rank-{n + 2} input, but the input has rank {x.rank}", label=f"input here is {x}")
        if any(p < 0 for p in pads):
            raise ShapeError("E305", f"`{op}` in {mode} mode needs pads of at least 0, got {pads}",
                             help="crop with negative pads in constant mode, or with a slice")
    dims = list(x.dims)
    for i in range(n):
        lo, hi = pads[2 * i], pads[2 * i + 1]
        d = x.rank - 1 - i
        size = dims[d]
        if mode in ("reflect", "circular"):
            # reflect: each pad < size; circular: each pad <= size (it wraps around at most once)
            need = max(lo, hi) + (1 if mode == "reflect" else 0)
            bound = lower_bound(size)
            if bound is None or bound < need:
                if isinstance(size, int):
                    raise ShapeError("E203", f"`{op}` in {mode} mode pads dim {d} (size {size}) by {max(lo, hi)}: "
                                     f"the size must be at least {need}", label=f"input here is {x}")
                raise ShapeError("E203", f"`{op}` in {mode} mode needs dim {d} ({size}) to be at least {need}, "
                                 "and the checker cannot prove it", label=f"input here is {x}",
                                 help=f"state it on the input: `where {size} >= {need}`")
        new = size + lo + hi  # type: ignore[operator]
        if isinstance(new, int) and new < 0:
            raise ShapeError("E203", f"`{op}` would make dim {d} negative ({size} + {lo} + {hi})",
                             label=f"input here is {x}")
        dims[d] = new
    return x.with_dims(tuple(dims))


@register
class pad(OpSpec):  # noqa: N801
    name = "pad"
    family = "padding"
    doc = "torch.nn.functional.pad: (left, right[, top, bottom[, front, back]]) from the last dim inwards."
    attrs = (Attr("pad", _pads, doc="pads per side, last dim first; negative crops (constant mode)"),
             Attr("mode", Choice(*MODES), "constant"),
             Attr("value", Float(), 0.0, doc="fill value in constant mode"))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if a["mode"] != "constant" and a["value"] != 0.0:
            raise ShapeError("E305", f"`value` only applies to constant padding, not {a['mode']}")
        return [pad_shape(x, a["pad"], a["mode"], "pad")]


def _layer_pads(n: int) -> Any:
    def f(v: Any) -> tuple[int, ...]:
        if isinstance(v, (tuple, list)):
            if len(v) != 2 * n:
                raise AttrError(f"expected {2 * n} pads (left, right{', top, bottom' if n > 1 else ''}"
                                f"{', front, back' if n > 2 else ''}), got {len(v)}")
            return tuple(Int()(p) for p in v)
        return (Int()(v),) * (2 * n)
    return f


class _PadNd(OpSpec):
    family = "padding"
    n: int = 1
    mode: str = "constant"

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        return [pad_shape(xs[0], a["padding"], self.mode, self.name)]


_KINDS = {"ConstantPad": "constant", "ZeroPad": "constant", "ReflectionPad": "reflect",
          "ReplicationPad": "replicate", "CircularPad": "circular"}


def _make(kind: str, n: int) -> type[OpSpec]:
    name = f"{kind}{n}d"
    attrs: tuple[Attr, ...] = (Attr("padding", _layer_pads(n), doc="an int for every side, or one per side"),)
    if kind == "ConstantPad":
        attrs += (Attr("value", Float()),)
    doc = f"Pads the last {n} dim{'s' if n > 1 else ''} in {_KINDS[kind]} mode{' with zeros' if kind == 'ZeroPad' else ''}."
    return register(type(name, (_PadNd,), {"name": name, "n": n, "mode": _KINDS[kind], "attrs": attrs, "doc": doc}))


PADDING_LAYERS = {f"{kind}{n}d": _make(kind, n) for kind in _KINDS for n in (1, 2, 3)}
