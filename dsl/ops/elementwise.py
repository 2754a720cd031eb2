"""The element-wise math family: sqrt, sin, log, abs, ..., clamp, pow, where, masked_fill.

torch computes the float functions of integer tensors in float32; netc asks for a float input instead (an
integer tensor reaching `sqrt` is usually a mistake, and the fix, a float input, is one word). Ops that are
exact on integers (abs, neg, sign, square, floor, ...) keep the input's dtype, as torch does.
"""
from __future__ import annotations

from typing import Any

from ..types import TensorType, promote, promote_scalar
from .base import Any_, Attr, Float, OpSpec, ShapeError, expect_float, register
from .tensor import broadcast


class _Unary(OpSpec):
    family = "math"
    needs_float: bool = True

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if self.needs_float:
            expect_float(x, self.name)
        elif x.dtype == "bool":
            raise ShapeError("E205", f"`{self.name}` needs a numeric input, but it is bool", label=f"input here is {x}")
        return [x]


def _unary(name: str, doc: str, needs_float: bool = True) -> type[OpSpec]:
    return register(type(name, (_Unary,), {"name": name, "doc": doc, "needs_float": needs_float}))


# name -> what it computes; the torch function and the NumPy kernel carry the same name (codegen tables).
FLOAT_UNARY = {
    "sqrt": "square root", "rsqrt": "1 / sqrt(x)", "sin": "sine", "cos": "cosine", "tan": "tangent",
    "asin": "arcsine", "acos": "arccosine", "atan": "arctangent", "sinh": "hyperbolic sine",
    "cosh": "hyperbolic cosine", "asinh": "inverse hyperbolic sine", "acosh": "inverse hyperbolic cosine",
    "atanh": "inverse hyperbolic tangent", "log": "natural logarithm", "log2": "base-2 logarithm",
    "log10": "base-10 logarithm", "log1p": "log(1 + x), accurate near 0", "expm1": "exp(x) - 1, accurate near 0",
    "exp2": "2 to the x", "erf": "the error function", "erfc": "1 - erf(x)", "erfinv": "the inverse error function",
    "reciprocal": "1 / x",
}
EXACT_UNARY = {
    "neg": "-x", "abs": "|x|", "sign": "-1, 0 or 1", "square": "x * x", "floor": "round down",
    "ceil": "round up", "round": "round half to even", "trunc": "round toward zero",
}
for _name, _doc in FLOAT_UNARY.items():
    _unary(_name, _doc)
for _name, _doc in EXACT_UNARY.items():
    _unary(_name, _doc, needs_float=False)


def _scalar_dtype(x: TensorType, *scalars: Any) -> TensorType:
    """torch's promotion of a tensor with Python numbers (see types.promote_scalar)."""
    dtype = x.dtype
    for s in scalars:
        dtype = promote_scalar(dtype, s)
    return x.with_dtype(dtype)


def _number(v: Any) -> Any:
    if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return v
    from .base import AttrError, describe
    raise AttrError(f"expected a number, got {describe(v)}")


def _bound(v: Any) -> Any:
    """A number or none; an int stays an int (it keeps an integer tensor's dtype, a float makes it float)."""
    return _number(v)


@register
class clamp(OpSpec):  # noqa: N801
    name = "clamp"
    family = "math"
    aliases = ("clip",)
    doc = "x limited to [min, max]; either bound may be left out"
    attrs = (Attr("min", _bound, None), Attr("max", _bound, None))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if a["min"] is None and a["max"] is None:
            raise ShapeError("E305", "`clamp` needs `min`, `max` or both", help="e.g. `clamp(min=0.0, max=6.0)`")
        if x.dtype == "bool":
            raise ShapeError("E205", "`clamp` needs a numeric input, but it is bool", label=f"input here is {x}")
        return [_scalar_dtype(x, a["min"], a["max"])]


@register
class pow(OpSpec):  # noqa: N801,A001 - the op is called pow
    name = "pow"
    family = "math"
    min_inputs = 1
    max_inputs = 2
    doc = ("x to the power `exponent` (a number; `x ** 2`), `base` to the power x (`2 ** x`), or x ** y "
           "element-wise for two tensors")
    attrs = (Attr("exponent", _number, None),
             Attr("base", _number, None, positional=False, doc="a number raised to the powers in x (`2 ** x`)"))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        e, b = a["exponent"], a["base"]
        if len(xs) == 2:
            if e is not None or b is not None:
                raise ShapeError("E308", "`pow` takes two tensors or a tensor and a number, not both")
            if all(x.dtype == "bool" for x in xs):
                raise ShapeError("E205", "`pow` of two bool tensors is not defined (nor in torch)")
            return [broadcast(xs[0], xs[1], "pow", self)]
        (x,) = xs
        if (e is None) == (b is None):
            raise ShapeError("E308", "`pow` needs one number: an `exponent` (x ** 2) or a `base` (2 ** x); "
                             "or a second tensor")
        out = x.with_dtype(promote_scalar(x.dtype, e if b is None else b))
        if isinstance(e, int) and e < 0 and not out.is_float:
            raise ShapeError("E205", f"integers cannot be raised to the negative power {e}",
                             label=f"input here is {x}", help="use a float input or a float exponent")
        return [out]


@register
class where(OpSpec):  # noqa: N801
    name = "where"
    family = "math"
    aliases = ("where_",)  # the spelling from when `where` was only a keyword; `where(cond, x, y)` works now
    min_inputs = 2
    max_inputs = 3
    doc = "x where cond is true, else y (a tensor, or the number `other`); all three broadcast"
    attrs = (Attr("other", Any_, None, positional=False, doc="the value where cond is false, when y is a number"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        cond = xs[0]
        if cond.dtype != "bool":
            raise ShapeError("E205", f"`where` needs a bool condition first, but it is {cond.dtype}",
                             label=f"condition here is {cond}", help="make one with a comparison, e.g. `x > 0`")
        other = a["other"]
        if len(xs) == 3:
            if other is not None:
                raise ShapeError("E308", "`where` takes a tensor y or the number `other`, not both")
            values = broadcast(xs[1], xs[2], "where", self)
        else:
            if isinstance(other, bool) or not isinstance(other, (int, float)):
                raise ShapeError("E308", "`where` needs the values for false: a tensor y or a number `other`")
            values = _scalar_dtype(xs[1], other)
        out = broadcast(cond.with_dtype(values.dtype), values, "where", self)
        return [out.with_dtype(values.dtype)]


@register
class masked_fill(OpSpec):  # noqa: N801
    name = "masked_fill"
    family = "math"
    min_inputs = 2
    max_inputs = 2
    doc = "x with `value` where mask is true; x and the mask broadcast together, as in torch"
    attrs = (Attr("value", Float()),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x, mask = xs
        if mask.dtype != "bool":
            raise ShapeError("E205", f"`masked_fill` needs a bool mask, but it is {mask.dtype}",
                             label=f"mask here is {mask}")
        return [broadcast(x, mask.with_dtype(x.dtype), "masked_fill", self).with_dtype(x.dtype)]


__all__ = ["EXACT_UNARY", "FLOAT_UNARY", "promote"]
