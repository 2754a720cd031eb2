"""Operators on tensors: which op `x ** 2`, `2 - x`, `0 < x`, `-x` become, the way torch's own operators do.

A tensor with a tensor is the op with two inputs. A tensor with a number is the op with the number as an
attribute; the number on the left goes where torch's reflected operator (`__rsub__`, `__rpow__`, ...) puts it:
`2 + x` is `x + 2`, `2 < x` is `x > 2`, `2 - x` is `-x + 2` (exact in IEEE arithmetic), `2 / x` is
`reciprocal(x) * 2` (exactly what `Tensor.__rtruediv__` computes) and `2 ** x` is `pow(x, base=2)`
(torch.pow(2, x)). The dtypes then follow from each op's shape rule, which promotes as torch does.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ops.compare import COMPARISONS, SWAPPED

ARITHMETIC = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow"}
BINARY = {**ARITHMETIC, **COMPARISONS}

# apply(op, attrs, inputs) -> the value, or ERR after reporting; fail(message, help) -> ERR after reporting.
Apply = Callable[[str, dict[str, Any], list[Any]], Any]
Fail = Callable[[str, str | None], Any]


def is_tensor_operator(op: str) -> bool:
    return op in BINARY


def binary(op: str, left: Any, right: Any, left_is_tensor: bool, right_is_tensor: bool, apply: Apply,
           fail: Fail, is_float: Callable[[Any], bool], err: Any) -> Any:
    """`left op right` where at least one side is a tensor."""
    name = BINARY[op]
    if left_is_tensor and right_is_tensor:
        return apply(name, {}, [left, right])
    if name == "matmul":
        return fail("`@` needs two tensors", "multiply by a number with `*`")
    tensor, number = (left, right) if left_is_tensor else (right, left)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return fail(f"`{op}` of a tensor and {_describe(number)} is not defined",
                    "the other operand must be a tensor or a number")
    if left_is_tensor:
        return apply(name, {"exponent" if name == "pow" else "other": number}, [tensor])
    # The number is on the left.
    if name in ("add", "mul"):
        return apply(name, {"other": number}, [tensor])
    if name in SWAPPED:
        return apply(SWAPPED[name], {"other": number}, [tensor])
    if name == "pow":
        return apply("pow", {"base": number}, [tensor])
    if name == "sub":
        neg = apply("neg", {}, [tensor])
        return err if neg is err else apply("add", {"other": number}, [neg])
    # name == "div": torch computes `2 / x` as x.reciprocal() * 2
    if not is_float(tensor):
        return fail("dividing a number by an integer tensor is not supported",
                    "make the tensor a float input first (torch would give f32 here)")
    inv = apply("reciprocal", {}, [tensor])
    return err if inv is err else apply("mul", {"other": number}, [inv])


def unary(op: str, tensor: Any, apply: Apply, fail: Fail, is_bool: Callable[[Any], bool]) -> Any:
    """`-x` is `neg(x)`; `+x` is x itself (torch refuses both on bool tensors)."""
    if is_bool(tensor):  # as torch: "Negation, the `-` operator, on a bool tensor is not supported"
        return fail(f"`{op}` is not defined for bool tensors", "to invert a mask, compare it: `m == 0`")
    return tensor if op == "+" else apply("neg", {}, [tensor])


def _describe(v: Any) -> str:
    from .ops.base import describe
    return describe(v)
