"""Comparisons (`x > 0` is `gt`) and the element-wise minimum/maximum of two tensors (`min(x, y)`).

A comparison gives a bool tensor of the broadcast shape, as torch does, whatever the inputs' dtypes; it takes
two tensors or a tensor and the number `other`. `minimum`/`maximum` are torch.minimum/maximum: two tensors,
broadcast, promoted dtype. `min(x, y)` and `max(x, y)` with two tensors reach them (torch.min(x, y) is
torch.minimum), while `min(x, dim=1)` stays a reduction (see reduce.py and `OpSpec.pairwise`).
"""
from __future__ import annotations

from typing import Any

from ..types import TensorType
from .base import Any_, Attr, Cost, OpSpec, ShapeError, numel, register
from .tensor import broadcast

# symbol -> op; the torch method and the NumPy function share the op's semantics (codegen tables).
COMPARISONS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
# `2 < x` is `x > 2`: the op that compares with the number on the right (Python does the same swap).
SWAPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


class _Compare(OpSpec):
    family = "arithmetic"
    min_inputs = 1
    max_inputs = 2
    attrs = (Attr("other", Any_, None, positional=False, doc="a number to compare with when there is one input"),)
    symbol: str = "=="

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        if len(xs) == 2:
            if a["other"] is not None:
                raise ShapeError("E308", f"`{self.name}` takes two tensors or a tensor and `other`, not both")
            return [broadcast(xs[0], xs[1], self.name, self).with_dtype("bool")]
        other = a["other"]
        if isinstance(other, bool) or not isinstance(other, (int, float)):
            raise ShapeError("E308", f"`{self.name}` needs a second operand: another tensor or a number `other`")
        return [xs[0].with_dtype("bool")]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outs[0].dims))


for _symbol, _name in COMPARISONS.items():
    register(type(_name, (_Compare,), {"name": _name, "symbol": _symbol,
                                       "doc": f"x {_symbol} y element-wise, as a bool tensor (`x {_symbol} y`)"}))


class _Extremum(OpSpec):
    family = "arithmetic"
    min_inputs = 2
    max_inputs = 2

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        return [broadcast(xs[0], xs[1], self.name, self)]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outs[0].dims))


@register
class minimum(_Extremum):  # noqa: N801
    name = "minimum"
    doc = "The smaller of x and y element-wise, broadcast (torch.minimum; `min(x, y)` with two tensors)."


@register
class maximum(_Extremum):  # noqa: N801
    name = "maximum"
    doc = "The larger of x and y element-wise, broadcast (torch.maximum; `max(x, y)` with two tensors)."
