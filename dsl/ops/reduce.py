"""Ops that select or summarise elements: reductions (sum, mean, max, min, argmax), `index` (what
`out[:, -1]` elaborates to) and `arange`.

Reductions follow torch: `dim` is one dim, a list of dims, or none for all; `keepdim` keeps reduced dims as
size 1. `max`/`min` return the values only (torch.amax/amin); `argmax` the indices.
"""
from __future__ import annotations

import math
from typing import Any

from ..dims import Dim, IntLike, floordiv
from ..types import DTYPES, FLOAT_DTYPES, TensorType
from .base import (
    Attr,
    AttrError,
    Bool,
    Choice,
    Cost,
    Int,
    OpSpec,
    Optional,
    ShapeError,
    Warn,
    describe,
    expect_float,
    norm_dim,
    numel,
    register,
)
from .slices import slice_size


def _dims(v: Any) -> tuple[int, ...] | None:
    """`dim=1`, `dim=(1, 2)` or `dim=none`."""
    if v is None:
        return None
    items = v if isinstance(v, (tuple, list)) else (v,)
    if not items:
        raise AttrError("expected at least one dim (use `none` to reduce over all dims)")
    for d in items:
        if isinstance(d, bool) or not isinstance(d, int):
            raise AttrError(f"expected dims as integers, got {describe(d)}")
    return tuple(items)


class _Reduce(OpSpec):
    family = "reduce"
    multi_dim = True  # argmax takes a single dim, like torch.argmax
    attrs = (
        Attr("dim", _dims, None, doc="dim or list of dims to reduce; none for all"),
        Attr("keepdim", Bool, False, doc="keep reduced dims with size 1"),
    )

    def out_dtype(self, x: TensorType) -> str:
        return x.dtype

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        dims = a["dim"]
        if isinstance(dims, int):
            dims = (dims,)
        if dims is None:
            reduced = set(range(x.rank))
        else:
            if len(dims) > 1 and not self.multi_dim:
                raise ShapeError("E305", f"`{self.name}` reduces over one dim, but got {list(dims)}")
            norm = [norm_dim(d, x.rank) for d in dims]
            if len(set(norm)) != len(norm):
                raise ShapeError("E305", f"dim {next(d for d in dims if norm.count(norm_dim(d, x.rank)) > 1)} "
                                 "appears more than once in the list of dims")
            reduced = set(norm)
            a["dim"] = tuple(norm) if self.multi_dim else norm[0]
        if dims is None and not a["keepdim"]:
            out: tuple[IntLike, ...] = ()
        else:
            out = tuple(1 if i in reduced else d for i, d in enumerate(x.dims) if a["keepdim"] or i not in reduced)
        return [TensorType(self.out_dtype(x), out)]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=numel(xs[0].dims))  # one addition or comparison per input element


@register
class Sum(_Reduce):
    name = "sum"
    doc = "Sum over dims (integer and bool inputs sum to i64, as in torch)."

    def out_dtype(self, x: TensorType) -> str:
        return x.dtype if x.dtype in FLOAT_DTYPES else "i64"


@register
class Mean(_Reduce):
    name = "mean"
    doc = "Mean over dims; needs a floating-point input."

    def out_dtype(self, x: TensorType) -> str:
        expect_float(x, "mean")
        return x.dtype


@register
class Max(_Reduce):
    name = "max"
    aliases = ("amax",)
    pairwise = "maximum"
    doc = "Largest value over dims (the values only, like torch.amax)."


@register
class Min(_Reduce):
    name = "min"
    aliases = ("amin",)
    pairwise = "minimum"
    doc = "Smallest value over dims (the values only, like torch.amin)."


@register
class ArgMax(_Reduce):
    name = "argmax"
    multi_dim = False
    attrs = (
        Attr("dim", Optional(Int()), None, doc="the dim to reduce; none for the flattened input"),
        Attr("keepdim", Bool, False, doc="keep the reduced dim with size 1"),
    )
    doc = "Index of the largest value along one dim (or of the flattened input with dim=none), as i64."

    def out_dtype(self, x: TensorType) -> str:
        if x.dtype == "bool":
            raise ShapeError("E205", "`argmax` does not support bool inputs (nor does torch)",
                             label=f"input here is {x}")
        return "i64"


# -- indexing ------------------------------------------------------------------------------------
def _index_items(v: Any) -> tuple[Any, ...]:
    items = v if isinstance(v, tuple) else (v,)
    for it in items:
        if isinstance(it, slice):
            for part in (it.start, it.stop, it.step):
                if part is not None and not _is_dim(part):
                    raise AttrError(f"slice bounds must be integers, got {describe(part)}")
        elif it is not None and not _is_dim(it):
            raise AttrError(f"an index must be an integer, a slice or `none`, got {describe(it)}")
    return items


def _is_dim(v: Any) -> bool:
    return isinstance(v, Dim) or (isinstance(v, int) and not isinstance(v, bool))


def _fmt_slice(s: slice) -> str:
    text = ("" if s.start is None else str(s.start)) + ":" + ("" if s.stop is None else str(s.stop))
    return text + (f":{s.step}" if s.step is not None else "")


@register
class index(OpSpec):  # noqa: N801
    name = "index"
    family = "tensor"
    is_view = True
    aliases = ("getitem",)
    doc = ("x[items]: what `out[:, -1]` becomes. Items are integers or dims (drop the dim), slices "
           "`start:stop:step` (step > 0) and `none` (a new dim of size 1).")
    attrs = (Attr("items", _index_items, doc="ints, dims, slices and none, one per indexed dim"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        items = a["items"]
        used = len([it for it in items if it is not None])
        if used > x.rank:
            raise ShapeError("E208", f"too many indices: {used} for a tensor of rank {x.rank}",
                             label=f"indexed here is {x}")
        out: list[IntLike] = []
        d = 0
        for it in items:
            if it is None:
                out.append(1)
                continue
            n = x.dims[d]
            if isinstance(it, slice):
                out.append(self._slice_len(n, it, d))
            elif isinstance(it, int) and isinstance(n, int) and not -n <= it < n:
                raise ShapeError("E208", f"index {it} is out of range for dim {d} of size {n}",
                                 label=f"indexed here is {x}", help=f"use an index between {-n} and {n - 1}")
            d += 1
        return [x.with_dims(tuple(out) + x.dims[d:])]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost()  # a view of the input

    def _slice_len(self, n: IntLike, s: slice, d: int) -> IntLike:
        step = 1 if s.step is None else s.step
        if not isinstance(step, int):
            raise ShapeError("E305", f"a slice step must be a known integer, got `{step}`")
        if step <= 0:
            raise ShapeError("E305", f"slice step must be positive (torch has no negative steps), got {step}")
        start, stop = s.start, s.stop
        if start is None and stop is None and step == 1:
            return n  # `:` keeps the dim as it is (the same object: a size that remembers its expression keeps it)
        if isinstance(n, int) and (start is None or isinstance(start, int)) and (stop is None or isinstance(stop, int)):
            return len(range(*slice(start, stop, step).indices(n)))

        size, doubt = slice_size(n, s, step)
        if doubt is not None:
            self.warnings.append(Warn("W002", f"slice `{_fmt_slice(s)}` of dim {d} (size {n}) assumes {doubt}",
                                      equality=False))
        return size


# -- arange --------------------------------------------------------------------------------------
def _number(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
        raise AttrError(f"expected a number or a dimension, got {describe(v)}")
    return v


@register
class arange(OpSpec):  # noqa: N801
    name = "arange"
    family = "tensor"
    min_inputs = 0
    max_inputs = 0
    doc = "torch.arange: arange(end) or arange(start, end, step); i64 for integers, f32 if any bound is a float."
    attrs = (
        Attr("start", _number, doc="the end alone when it is the only argument"),
        Attr("end", Optional(_number), None),
        Attr("step", _number, 1),
        Attr("dtype", Optional(Choice(*DTYPES)), None, positional=False, doc="element type, e.g. \"f32\""),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        start, end, step = a["start"], a["end"], a["step"]
        if end is None:
            start, end = 0, start
            a["start"], a["end"] = start, end
        if isinstance(step, Dim):
            raise ShapeError("E305", f"the step of `arange` must be a known number, got `{step}`")
        given_span = end - start  # torch checks the step's sign against the bounds before any truncation
        if a["dtype"] == "i64":
            # torch casts the bounds to int64 first, truncating: arange(0, 2.5, dtype=i64) is [0, 1]. (Other
            # integer dtypes size the result from the float bounds, ceil(2.5) = 3 elements.)
            start, end, step = (int(v) if isinstance(v, float) else v for v in (start, end, step))
        if step == 0:
            raise ShapeError("E305", "the step of `arange` must not be zero")
        floats = any(isinstance(v, float) for v in (start, end, step))
        if floats:
            if isinstance(start, Dim) or isinstance(end, Dim):
                raise ShapeError("E305", "`arange` with a float step needs known bounds")
            n: IntLike = math.ceil((end - start) / step)
        else:
            span = end - start
            if isinstance(span, int):
                n = -(-span // step)
            else:
                # ceil(span / step) as a floor division, which prints and simplifies better: (T - 1 + 2)//2.
                n = floordiv(span + step - 1, step) if step > 0 else floordiv(-span - step - 1, -step)  # type: ignore[operator]
        if isinstance(given_span, (int, float)) and given_span * step < 0:
            raise ShapeError("E305", f"`arange({start}, {end}, {step})`: the bounds are inconsistent with the "
                             "sign of the step", help="torch raises here instead of returning an empty tensor")
        dtype = a["dtype"] or ("f32" if floats else "i64")
        return [TensorType(dtype, (n,))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost()  # fills a range: no arithmetic on data


__all__ = ["ArgMax", "Max", "Mean", "Min", "Sum", "arange", "index"]
