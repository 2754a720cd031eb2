"""Shape ops: unsqueeze, squeeze, expand, repeat, repeat_interleave, stack, roll, Unflatten, Identity."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike, dims_equal
from ..types import TensorType, promote
from .base import (
    Attr,
    AttrError,
    DimArg,
    Int,
    IntList,
    OpSpec,
    Optional,
    ShapeError,
    describe,
    norm_dim,
    numel,
    positive,
    register,
)


def _dims_arg(v: Any) -> Any:
    return DimArg(v)


def _variadic(a: dict[str, Any], key: str) -> list[Any]:
    """`expand(2, -1)` and `expand((2, -1))` both give [2, -1]."""
    items = list(a[key])
    if len(items) == 1 and isinstance(items[0], (tuple, list)):
        items = list(items[0])
    return items


def require_equal(p: IntLike, q: IntLike, message: str, help: str) -> None:
    """Two dims that must be equal: an error unless the checker proves it (see docs/diagnostics.md, E200)."""
    same = dims_equal(p, q)
    if same is not True:
        raise ShapeError("E200", message if same is False else f"{message}, unless the symbols make them equal",
                         help=help)


@register
class unsqueeze(OpSpec):  # noqa: N801
    name = "unsqueeze"
    family = "tensor"
    doc = "A new dim of size 1 at `dim` (negative counts from the end of the result)."
    attrs = (Attr("dim", Int()),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        d = norm_dim(a["dim"], x.rank + 1)
        return [x.with_dims(x.dims[:d] + (1,) + x.dims[d:])]


def _squeeze_dims(v: Any) -> Any:
    if v is None:
        return None
    return IntList(v) if isinstance(v, (tuple, list)) else Int()(v)


@register
class squeeze(OpSpec):  # noqa: N801
    name = "squeeze"
    family = "tensor"
    doc = "Removes dims of size 1: all of them, or those of `dim` (an int or a tuple) that are 1."
    attrs = (Attr("dim", _squeeze_dims, None),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        dims = a["dim"]
        if dims is None:
            picked = range(x.rank)
        else:
            picked = [norm_dim(d, x.rank) for d in ((dims,) if isinstance(dims, int) else dims)]
            if len(set(picked)) != len(picked):
                raise ShapeError("E305", f"`squeeze` names a dim twice in {dims}")
        drop = set()
        for d in picked:
            if x.rank == 0:
                continue
            n = x.dims[d]
            if isinstance(n, int):
                if n == 1:
                    drop.add(d)
            elif dims is not None:
                # torch keeps the dim unless it is 1 at run time: the result's rank would depend on the binding
                raise ShapeError("E200", f"`squeeze` of dim {d} (size {n}) keeps or drops it depending on {n}",
                                 label=f"input here is {x}",
                                 help="squeeze only dims known to be 1, or use `view` to state the result's shape")
        return [x.with_dims(tuple(n for i, n in enumerate(x.dims) if i not in drop))]


@register
class expand(OpSpec):  # noqa: N801
    name = "expand"
    family = "tensor"
    doc = "A broadcast view: dims of size 1 grow to the given sizes; -1 keeps a dim; new dims go in front."
    attrs = (Attr("sizes", _dims_arg, variadic=True, doc="the new sizes; -1 keeps the input's"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        sizes = _variadic(a, "sizes")
        if not sizes:
            raise ShapeError("E305", "`expand` needs the new sizes")
        if len(sizes) < x.rank:
            raise ShapeError("E201", f"`expand` got {len(sizes)} sizes for an input of rank {x.rank}",
                             label=f"input here is {x}", help="give one size per dim (-1 keeps a dim)")
        lead = len(sizes) - x.rank
        out: list[IntLike] = []
        for i, s in enumerate(sizes):
            if isinstance(s, int) and s < -1:
                raise ShapeError("E305", f"invalid size {s} in `expand`")
            if i < lead:
                if isinstance(s, int) and s == -1:
                    raise ShapeError("E305", "`expand` cannot use -1 for a new leading dim")
                out.append(s)
                continue
            n = x.dims[i - lead]
            if isinstance(s, int) and s == -1:
                out.append(n)
            elif isinstance(n, int) and n == 1:
                out.append(s)
            else:
                require_equal(n, s, f"`expand` can only grow dims of size 1, but dim {i - lead} is {n}, not {s}",
                              "expand dims of size 1 (use -1 to keep a dim), or `repeat` to copy")
                out.append(n)
        a["sizes"] = tuple(out)
        return [x.with_dims(tuple(out))]


@register
class repeat(OpSpec):  # noqa: N801
    name = "repeat"
    family = "tensor"
    doc = "Tiles the tensor: each dim is copied that many times (extra leading counts add dims)."
    attrs = (Attr("repeats", _dims_arg, variadic=True, doc="copies per dim"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        reps = _variadic(a, "repeats")
        if not reps:
            raise ShapeError("E305", "`repeat` needs the number of copies per dim")
        if len(reps) < x.rank:
            raise ShapeError("E201", f"`repeat` got {len(reps)} counts for an input of rank {x.rank}",
                             label=f"input here is {x}", help="give one count per dim")
        if any(isinstance(r, int) and r < 0 for r in reps):
            raise ShapeError("E305", f"`repeat` counts cannot be negative, got {tuple(reps)}")
        lead = len(reps) - x.rank
        dims = (1,) * lead + x.dims
        return [x.with_dims(tuple(d * r for d, r in zip(dims, reps)))]  # type: ignore[operator]


@register
class repeat_interleave(OpSpec):  # noqa: N801
    name = "repeat_interleave"
    family = "tensor"
    doc = "Repeats each element `repeats` times along `dim` (all elements, flattened, when dim is none)."
    attrs = (Attr("repeats", DimArg), Attr("dim", Optional(Int()), None))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        r = a["repeats"]
        if isinstance(r, int) and r < 0:
            raise ShapeError("E305", f"`repeat_interleave` repeats cannot be negative, got {r}")
        if a["dim"] is None:
            return [x.with_dims((numel(x.dims) * r,))]  # type: ignore[operator]
        if x.rank == 0:
            raise ShapeError("E208", "`repeat_interleave` of a scalar along a dim: a scalar has no dims",
                             help="leave `dim` out to repeat the scalar into a vector")
        d = norm_dim(a["dim"], x.rank)
        return [x.with_dims(x.dims[:d] + (x.dims[d] * r,) + x.dims[d + 1:])]  # type: ignore[operator]


@register
class stack(OpSpec):  # noqa: N801
    name = "stack"
    family = "tensor"
    min_inputs = 1
    max_inputs = None
    doc = "Joins tensors of the same shape along a new dim."
    attrs = (Attr("dim", Int(), 0),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        first = xs[0]
        d = norm_dim(a["dim"], first.rank + 1)
        dtype = first.dtype
        for i, x in enumerate(xs[1:], start=2):
            if x.rank != first.rank:
                raise ShapeError("E201", f"`stack` needs inputs of the same shape: input 1 is {first}, "
                                 f"input {i} is {x}")
            for j, (p, q) in enumerate(zip(first.dims, x.dims)):
                require_equal(p, q, f"`stack` needs inputs of the same shape, but dim {j} is {p} in input 1 and "
                              f"{q} in input {i}", "give every input the same shape (expand or pad one)")
            dtype = promote(dtype, x.dtype)
        return [TensorType(dtype, first.dims[:d] + (len(xs),) + first.dims[d:])]


def _shifts(v: Any) -> Any:
    return IntList(v) if isinstance(v, (tuple, list)) else Int()(v)


@register
class roll(OpSpec):  # noqa: N801
    name = "roll"
    family = "tensor"
    doc = "Shifts elements along dims, wrapping around (all elements, flattened, when dims is none)."
    attrs = (Attr("shifts", _shifts), Attr("dims", Optional(_shifts), None))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        shifts, dims = a["shifts"], a["dims"]
        n_shifts = len(shifts) if isinstance(shifts, tuple) else 1
        if dims is None:
            if n_shifts != 1:
                raise ShapeError("E305", "`roll` with several shifts needs as many `dims`")
            return [x]
        n_dims = len(dims) if isinstance(dims, tuple) else 1
        if n_dims != n_shifts:
            raise ShapeError("E305", f"`roll` got {n_shifts} shifts for {n_dims} dims")
        if x.rank == 0 and n_dims:
            raise ShapeError("E208", "`roll` of a scalar has no dims to shift")
        for d in (dims if isinstance(dims, tuple) else (dims,)):
            norm_dim(d, x.rank)
        return [x]


def _sizes(v: Any) -> tuple[IntLike, ...]:
    if not isinstance(v, (tuple, list)) or not v:
        raise AttrError(f"expected a tuple of sizes, got {describe(v)}")
    return tuple(DimArg(d) for d in v)


@register
class Unflatten(OpSpec):
    name = "Unflatten"
    family = "tensor"
    aliases = ("unflatten",)
    doc = "Splits dim `dim` into `unflattened_size` (one entry may be -1)."
    attrs = (Attr("dim", Int()), Attr("unflattened_size", _sizes))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        from .tensor import exact_div

        (x,) = xs
        if x.rank == 0:
            raise ShapeError("E201", "`Unflatten` needs an input with at least one dim")
        d = norm_dim(a["dim"], x.rank)
        sizes = list(a["unflattened_size"])
        holes = [i for i, s in enumerate(sizes) if isinstance(s, int) and s == -1]
        if len(holes) > 1 or any(isinstance(s, int) and s < -1 for s in sizes):
            raise ShapeError("E305", "only one size can be -1, and none can be below it")
        n = x.dims[d]
        if holes:
            rest = numel(tuple(s for i, s in enumerate(sizes) if i != holes[0]))
            q = exact_div(n, rest)
            if q is None:
                raise ShapeError("E206", f"`Unflatten` cannot split dim {a['dim']} of size {n} into "
                                 f"{tuple(sizes)}", label=f"input here is {x}")
            sizes[holes[0]] = q
        else:
            require_equal(numel(tuple(sizes)), n, f"`Unflatten` sizes {tuple(sizes)} must multiply to dim "
                          f"{a['dim']}'s size {n}", "make the sizes multiply to the dim, or use -1 for one of them")
        return [x.with_dims(x.dims[:d] + tuple(sizes) + x.dims[d + 1:])]


@register
class Identity(OpSpec):
    name = "Identity"
    family = "tensor"
    aliases = ("identity",)
    doc = "Returns its input (a placeholder layer)."

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        return [xs[0]]


__all__ = ["positive", "require_equal"]
