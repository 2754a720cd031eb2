"""ONNX lowerings of the tensor operators' ops: comparisons (`x > 0`), minimum/maximum, pow, where, masked_fill.

ONNX ops take operands of one type where torch promotes, so operands are cast first: to the dtype torch computes
in (types.promote / promote_scalar), which for an ordering of bool tensors is uint8 (ONNX's Less has no bool).
"""
from __future__ import annotations

from ..dsl.ir import OpNode
from ..dsl.types import promote, promote_scalar
from .onnx_builder import Builder, Emitter

_COMPARE = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}


def _common(n: OpNode) -> str:
    """The dtype torch compares or combines the operands in."""
    dtypes = [v.type.dtype for v in n.inputs]
    common = dtypes[0]
    for d in dtypes[1:]:
        common = promote(common, d)
    if len(dtypes) == 1:
        common = promote_scalar(common, n.attrs.get("other"))
    return common


def compare(name: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        common = _common(n)
        if common == "bool" and name != "eq" and name != "ne":
            common = "u8"  # False < True, as torch orders bools
        ins = [b.cast(x, v.type.dtype, common) for x, v in zip(xs, n.inputs)]
        if len(ins) == 1:
            ins.append(b.scalar(n.attrs["other"], common))
        if name == "ne":
            return [b.one("Not", [b.one("Equal", ins)])]
        return [b.one(_COMPARE[name], ins)]
    return emit


def extremum(op: str) -> Emitter:
    def emit(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
        want = n.outputs[0].type.dtype
        work = "u8" if want == "bool" else want  # ONNX Min/Max have no bool
        ins = [b.cast(x, v.type.dtype, work) for x, v in zip(xs, n.inputs)]
        return [b.cast(b.one(op, ins), work, want)]
    return emit


def pow_(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    want = n.outputs[0].type.dtype
    x = b.cast(xs[0], n.inputs[0].type.dtype, want)
    if len(xs) == 2:
        return [b.one("Pow", [x, b.cast(xs[1], n.inputs[1].type.dtype, want)])]
    if n.attrs.get("base") is not None:
        return [b.one("Pow", [b.scalar(n.attrs["base"], want), x])]
    return [b.one("Pow", [x, b.scalar(n.attrs["exponent"], want)])]


def where(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    want = n.outputs[0].type.dtype
    x = b.cast(xs[1], n.inputs[1].type.dtype, want)
    y = b.cast(xs[2], n.inputs[2].type.dtype, want) if len(xs) == 3 else b.scalar(n.attrs["other"], want)
    return [b.one("Where", [xs[0], x, y])]


def masked_fill(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    want = n.outputs[0].type.dtype
    return [b.one("Where", [xs[1], b.scalar(n.attrs["value"], want), xs[0]])]


EMITTERS: dict[str, Emitter] = {
    **{name: compare(name) for name in ("eq", "ne", "lt", "le", "gt", "ge")},
    "minimum": extremum("Min"), "maximum": extremum("Max"),
    "pow": pow_, "where": where, "masked_fill": masked_fill,
}
