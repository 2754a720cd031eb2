"""Ops that order, select or accumulate along a dim: cumsum, topk, sort, gather, and einsum."""
from __future__ import annotations

import re
from typing import Any

from ..dims import IntLike, dims_equal, lower_bound
from ..types import TensorType, promote
from .base import (
    Attr,
    AttrError,
    Bool,
    Int,
    OpSpec,
    ShapeError,
    describe,
    expect_int,
    norm_dim,
    register,
)
from .shape import require_equal
from .tensor import broadcast


@register
class cumsum(OpSpec):  # noqa: N801
    name = "cumsum"
    family = "indexing"
    doc = "Running sum along `dim`; integer and bool inputs sum in i64, as torch does."
    attrs = (Attr("dim", Int()),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        norm_dim(a["dim"], x.rank)
        return [x if x.is_float else x.with_dtype("i64")]


class _Ordered(OpSpec):
    family = "indexing"
    always_tuple = True

    def _dim(self, a: dict[str, Any], x: TensorType) -> int:
        if x.dtype == "bool" and self.name == "topk":
            raise ShapeError("E205", "`topk` needs a numeric input, but it is bool", label=f"input here is {x}")
        return norm_dim(a["dim"], x.rank)


@register
class topk(_Ordered):  # noqa: N801
    name = "topk"
    doc = "The k largest (or smallest) elements along `dim` and their indices: `values, indices = x -> topk(5)`."
    attrs = (Attr("k", Int(0)), Attr("dim", Int(), -1), Attr("largest", Bool, True), Attr("sorted", Bool, True))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        d = self._dim(a, x)
        k = a["k"]
        n = x.dims[d] if x.rank else 1
        room = lower_bound(n - k)  # type: ignore[operator]
        if room is None or room < 0:
            if isinstance(n, int):
                raise ShapeError("E208", f"`topk({k})` needs at least {k} elements along dim {a['dim']}, but there "
                                 f"are {n}", label=f"input here is {x}")
            raise ShapeError("E208", f"`topk({k})` needs dim {a['dim']} ({n}) to have at least {k} elements, and "
                             "the checker cannot prove it", label=f"input here is {x}",
                             help=f"state it on the input: `where {n} >= {k}`")
        dims = x.dims[:d] + (k,) + x.dims[d + 1:] if x.rank else ()
        return [x.with_dims(dims), TensorType("i64", dims)]


@register
class sort(_Ordered):  # noqa: N801
    name = "sort"
    doc = "Sorted values along `dim` and the indices they came from: `values, indices = x -> sort`."
    attrs = (Attr("dim", Int(), -1), Attr("descending", Bool, False), Attr("stable", Bool, False))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        self._dim(a, x)
        return [x, x.with_dtype("i64")]


@register
class gather(OpSpec):  # noqa: N801
    name = "gather"
    family = "indexing"
    min_inputs = 2
    max_inputs = 2
    doc = "out[i][j] = x[index[i][j]][j] along `dim` (torch.gather); the result has the index's shape."
    attrs = (Attr("dim", Int()),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x, index = xs
        expect_int(index, "gather")
        if index.dtype not in ("i64", "i32"):
            raise ShapeError("E205", f"`gather` indices must be i64 or i32, but they are {index.dtype}",
                             label=f"index here is {index}")
        if index.rank != x.rank and not (x.rank == 0 and index.rank == 1) and not (x.rank == 1 and index.rank == 0):
            raise ShapeError("E201", f"`gather` needs an index of the input's rank: {x} vs {index}")
        d = norm_dim(a["dim"], max(x.rank, 1))
        for i, (p, q) in enumerate(zip(x.dims, index.dims)):
            if i == d:
                continue
            room = lower_bound(p - q)  # type: ignore[operator]
            if room is None or room < 0:
                if isinstance(p, int) and isinstance(q, int):
                    raise ShapeError("E200", f"`gather`: index dim {i} ({q}) is larger than the input's ({p})")
                raise ShapeError("E200", f"`gather` needs index dim {i} ({q}) to be at most the input's ({p}), "
                                 "and the checker cannot prove it", help=f"state it with `where {q} <= {p}`")
        return [index.with_dtype(x.dtype)]


_SUBSCRIPT = re.compile(r"^[a-zA-Z]*(\.\.\.)?[a-zA-Z]*$")


def _equation(v: Any) -> str:
    if not isinstance(v, str):
        raise AttrError(f"expected an equation such as \"bij,bjk->bik\", got {describe(v)}")
    return v.replace(" ", "")


@register
class einsum(OpSpec):  # noqa: N801
    name = "einsum"
    family = "indexing"
    min_inputs = 1
    max_inputs = None
    doc = "Einstein summation: `einsum(\"bhqd,bhkd->bhqk\", q, k)`; `...` stands for the broadcast dims."
    attrs = (Attr("equation", _equation),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        eq = a["equation"]
        lhs, arrow, rhs = eq.partition("->")
        terms = lhs.split(",")
        if len(terms) != len(xs):
            raise ShapeError("E308", f"`einsum` equation has {len(terms)} operands, but {len(xs)} tensors are given")
        if not all(_SUBSCRIPT.match(t) for t in terms) or (arrow and not _SUBSCRIPT.match(rhs)):
            raise ShapeError("E305", f"`einsum` equation {eq!r} must use letters, commas, one `->` and `...`")
        sizes: dict[str, IntLike] = {}
        counts: dict[str, int] = {}
        ellipsis: TensorType | None = None
        dtype = xs[0].dtype
        for t, x in zip(terms, xs):
            letters = t.replace("...", "")
            if len(set(letters)) != len(letters):
                raise ShapeError("E305", f"`einsum` subscript {t!r} repeats a letter (diagonals are not supported)")
            has_dots = "..." in t
            if len(letters) > x.rank or (not has_dots and len(letters) != x.rank):
                raise ShapeError("E201", f"`einsum` subscript {t!r} has {len(letters)} dims, but the operand is {x}")
            n_dots = x.rank - len(letters)
            before = t.split("...")[0] if has_dots else letters
            dims = list(x.dims)
            dot_dims = dims[len(before):len(before) + n_dots] if has_dots else []
            lettered = dims[:len(before)] + dims[len(before) + n_dots:]
            if has_dots:
                part = TensorType(x.dtype, tuple(dot_dims))
                ellipsis = part if ellipsis is None else broadcast(ellipsis, part, "einsum", self)
            for ch, n in zip(letters, lettered):
                counts[ch] = counts.get(ch, 0) + 1
                if ch not in sizes or sizes[ch] == 1:
                    sizes[ch] = n
                elif n != 1:
                    require_equal(sizes[ch], n, f"`einsum` index `{ch}` is {sizes[ch]} in one operand and {n} in "
                                  "another", "the dims an index names must be equal (or 1)")
            dtype = promote(dtype, x.dtype)
        if len({x.dtype for x in xs}) > 1:
            raise ShapeError("E205", "`einsum` needs operands of one dtype, but got "
                             + ", ".join(str(x) for x in xs))
        if not arrow:
            rhs = ("..." if ellipsis is not None else "") + "".join(sorted(c for c, k in counts.items() if k == 1))
        out_letters = rhs.replace("...", "")
        if len(set(out_letters)) != len(out_letters) or any(c not in sizes for c in out_letters):
            raise ShapeError("E305", f"`einsum` output {rhs!r} must name each input index at most once")
        if "..." in rhs and ellipsis is None:
            raise ShapeError("E305", "`einsum` output has `...`, but no operand does")
        dots = ellipsis.dims if ellipsis is not None else ()
        if ellipsis is not None and "..." not in rhs and dots:
            raise ShapeError("E305", "`einsum` output must keep the `...` dims of its operands")
        head, _, tail = rhs.partition("...")
        out = tuple(sizes[c] for c in head) + (dots if "..." in rhs else ()) + tuple(sizes[c] for c in tail)
        return [TensorType(dtype, out)]


__all__ = ["dims_equal"]
