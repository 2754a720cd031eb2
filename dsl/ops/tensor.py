"""Tensor plumbing: flatten, view/reshape, transpose/permute, concat, split/chunk, arithmetic, matmul."""
from __future__ import annotations

from typing import Any

from ..dims import Dim, IntLike, dims_equal, floordiv, lower_bound
from ..types import TensorType, promote, promote_scalar
from .base import (
    Any_,
    Attr,
    AttrError,
    Cost,
    DimArg,
    Int,
    IntList,
    OpSpec,
    ShapeError,
    Warn,
    norm_dim,
    numel,
    positive,
    register,
)


def exact_div(a: IntLike, b: IntLike) -> IntLike | None:
    """a / b when it divides exactly (as polynomials), else None."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b if b != 0 and a % b == 0 else None
    if isinstance(b, int):
        if b == 0:
            return None
        q = floordiv(a, b)
        return q if dims_equal(q * b, a) else None  # type: ignore[operator]
    # b symbolic: divide term by term when b is a single monomial.
    if len(b.terms) != 1:
        return 1 if dims_equal(a, b) else None  # only the trivial case a == b
    (bm, bc), = b.terms
    a_dim = a if isinstance(a, Dim) else Dim.const(a)
    out: dict = {}
    for m, c in a_dim.terms:
        powers = dict(m)
        for atom, p in bm:
            if powers.get(atom, 0) < p:
                return None
            powers[atom] -= p
        if c % bc:
            return None
        mono = tuple(sorted(((at, p) for at, p in powers.items() if p), key=lambda ap: ap[0].key))
        out[mono] = out.get(mono, 0) + c // bc
    from ..dims import normalize
    return normalize(Dim(out))


class _View(OpSpec):
    """Ops that only re-describe or re-slice the input's storage (torch returns views): no arithmetic."""

    family = "tensor"
    is_view = True

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost()


class _Flatten(_View):

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank == 0:
            # torch.flatten of a scalar gives one element; its dims still have to be -1 or 0.
            norm_dim(a["start_dim"], 0, "start_dim")
            norm_dim(a["end_dim"], 0, "end_dim")
            return [x.with_dims((1,))]
        s = norm_dim(a["start_dim"], x.rank, "start_dim")
        e = norm_dim(a["end_dim"], x.rank, "end_dim")
        if s > e:
            raise ShapeError("E208", f"start_dim ({a['start_dim']}) must not come after end_dim ({a['end_dim']})")
        return [x.with_dims(x.dims[:s] + (numel(x.dims[s:e + 1]),) + x.dims[e + 1:])]


@register
class Flatten(_Flatten):
    name = "Flatten"
    doc = "Flattens dims start_dim..end_dim into one (the layer: start_dim=1 keeps the batch)."
    attrs = (Attr("start_dim", Int(), 1), Attr("end_dim", Int(), -1))


@register
class flatten(_Flatten):  # noqa: N801
    name = "flatten"
    doc = "torch.flatten: flattens dims start_dim..end_dim into one (start_dim=0 by default)."
    attrs = (Attr("start_dim", Int(), 0), Attr("end_dim", Int(), -1))


def _shape_arg(v: Any) -> Any:
    return DimArg(v)


@register
class view(_View):  # noqa: N801
    name = "view"
    aliases = ("reshape",)
    doc = "Same elements, new shape; one dim may be -1 and is inferred."
    attrs = (Attr("shape", _shape_arg, variadic=True, doc="the new dims; -1 once to infer one"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        shape = list(a["shape"])
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = list(shape[0])
        for d in shape:
            if isinstance(d, int) and d < -1 or d == 0:
                raise ShapeError("E305", f"invalid size {d} in the new shape")
        holes = [i for i, d in enumerate(shape) if isinstance(d, int) and d == -1]
        if len(holes) > 1:
            raise ShapeError("E305", "only one dim can be -1")
        total = numel(x.dims)
        if holes:
            rest = numel(tuple(d for i, d in enumerate(shape) if i != holes[0]))
            q = exact_div(total, rest)
            if q is None:
                raise ShapeError("E206", f"cannot reshape {x} into ({', '.join(map(str, shape))}): "
                                 f"{total} elements are not divisible by {rest}", label=f"input here is {x}")
            shape[holes[0]] = q
        else:
            same = dims_equal(numel(tuple(shape)), total)
            if same is False:
                raise ShapeError("E206", f"cannot reshape {x} ({total} elements) into "
                                 f"({', '.join(map(str, shape))}) ({numel(tuple(shape))} elements)",
                                 label=f"input here is {x}")
            if same is None:
                self.warnings.append(Warn("W002", f"cannot prove that ({', '.join(map(str, shape))}) has as many "
                                          f"elements as {x}"))
        a["shape"] = tuple(shape)
        return [x.with_dims(tuple(shape))]


@register
class transpose(_View):  # noqa: N801
    name = "transpose"
    doc = "Swaps two dims."
    attrs = (Attr("dim0", Int()), Attr("dim1", Int()))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        d0, d1 = norm_dim(a["dim0"], x.rank), norm_dim(a["dim1"], x.rank)
        if x.rank == 0:
            return [x]  # torch accepts dims -1 and 0 on a scalar, which has nothing to swap
        dims = list(x.dims)
        dims[d0], dims[d1] = dims[d1], dims[d0]
        return [x.with_dims(tuple(dims))]


@register
class permute(_View):  # noqa: N801
    name = "permute"
    doc = "Reorders all dims."
    attrs = (Attr("dims", Int(), variadic=True, doc="the source dim for each output dim"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        order = list(a["dims"])
        if len(order) == 1 and isinstance(order[0], tuple):
            order = list(order[0])
        if len(order) != x.rank:
            raise ShapeError("E201", f"`permute` got {len(order)} dims for an input of rank {x.rank}",
                             label=f"input here is {x}")
        norm = [norm_dim(d, x.rank) for d in order]
        if sorted(norm) != list(range(x.rank)):
            raise ShapeError("E305", f"dims {tuple(order)} are not a permutation of 0..{x.rank - 1}")
        a["dims"] = tuple(norm)
        return [x.with_dims(tuple(x.dims[d] for d in norm))]


def _expect_dims(op: str, x: TensorType) -> None:
    if x.rank == 0:  # torch: "zero-dimensional tensor cannot be concatenated", "split expects at least 1-d"
        raise ShapeError("E201", f"`{op}` needs inputs with at least one dim, but got the scalar {x}")


@register
class concat(OpSpec):  # noqa: N801
    name = "concat"
    family = "tensor"
    aliases = ("cat",)
    min_inputs = 1
    max_inputs = None
    doc = "Joins tensors along `dim`; all other dims must match."
    attrs = (Attr("dim", Int(), 0),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        for x in xs:
            _expect_dims("concat", x)
        first = xs[0]
        dim = norm_dim(a["dim"], first.rank)
        total: IntLike = 0
        dtype = first.dtype
        for i, x in enumerate(xs):
            if x.rank != first.rank:
                raise ShapeError("E201", f"`concat` inputs must have the same rank: input 1 is {first}, "
                                 f"input {i + 1} is {x}")
            for j, (p, q) in enumerate(zip(first.dims, x.dims)):
                if j == dim:
                    continue
                same = dims_equal(p, q)
                if same is False:
                    raise ShapeError("E200", f"`concat` along dim {a['dim']} needs equal sizes in dim {j}, "
                                     f"but input 1 is {first} and input {i + 1} is {x}",
                                     help="resize one input (pool, crop or interpolate) before concatenating")
                if same is None:
                    self.warnings.append(Warn("W002", f"`concat` inputs may differ in dim {j}: {p} vs {q}"))
            total = total + x.dims[dim]  # type: ignore[operator]
            dtype = promote(dtype, x.dtype)
        dims = list(first.dims)
        dims[dim] = total
        return [TensorType(dtype, tuple(dims))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost()  # copies, no arithmetic


def _split_arg(v: Any) -> int | tuple[int, ...]:
    """An int is a piece size; a list (even of one) is the sizes of the sections, as in torch.split."""
    return IntList(v) if isinstance(v, (tuple, list)) else Int()(v)


def _split_sizes(n: IntLike, size_or_sections: int | tuple[int, ...], op: str) -> list[IntLike]:
    if isinstance(size_or_sections, int):
        size = size_or_sections
        if isinstance(n, int):
            full, rem = divmod(n, size)
            return [size] * full + ([rem] if rem else [])
        raise ShapeError("E207", f"`{op}` into pieces of {size} needs a known size, but the dim is {n}",
                         help="give a list of section sizes instead")
    total = sum(size_or_sections)
    if dims_equal(total, n) is False:
        raise ShapeError("E200", f"`{op}` sections {list(size_or_sections)} sum to {total}, but the dim is {n}")
    return list(size_or_sections)


@register
class split(_View):  # noqa: N801
    name = "split"
    always_tuple = True
    doc = "Splits along `dim` into pieces of a given size (the last may be smaller) or given sizes."
    attrs = (Attr("split_size_or_sections", _split_arg, doc="an int piece size or a list of sizes"),
             Attr("dim", Int(), 0))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        _expect_dims("split", x)
        dim = norm_dim(a["dim"], x.rank)
        arg = a["split_size_or_sections"]
        if isinstance(arg, int) and arg <= 0:
            raise ShapeError("E305", f"split size must be positive, got {arg}")
        if isinstance(arg, tuple) and any(s < 0 for s in arg):
            raise ShapeError("E305", f"split sections cannot be negative, got {list(arg)}")
        sizes = _split_sizes(x.dims[dim], a["split_size_or_sections"], "split")
        return [x.with_dims(x.dims[:dim] + (s,) + x.dims[dim + 1:]) for s in sizes]


@register
class chunk(_View):  # noqa: N801
    name = "chunk"
    always_tuple = True
    doc = "Splits along `dim` into `chunks` pieces of size ceil(n / chunks), as torch.chunk does."
    attrs = (Attr("chunks", positive), Attr("dim", Int(), 0))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        _expect_dims("chunk", x)
        dim = norm_dim(a["dim"], x.rank)
        n, k = x.dims[dim], a["chunks"]
        if isinstance(n, int):
            size = -(-n // k)
            sizes: list[IntLike] = _split_sizes(n, size, "chunk") if n else [0]
        else:
            q = exact_div(n, k)
            if q is None:
                raise ShapeError("E207", f"`chunk` into {k} needs the dim ({n}) to be known or divisible by {k}")
            sizes = [q] * k
        return [x.with_dims(x.dims[:dim] + (s,) + x.dims[dim + 1:]) for s in sizes]


def broadcast(a: TensorType, b: TensorType, op: str, spec: OpSpec) -> TensorType:
    """NumPy/torch broadcasting of two shapes, right-aligned."""
    out: list[IntLike] = []
    for i in range(1, max(a.rank, b.rank) + 1):
        p = a.dims[-i] if i <= a.rank else 1
        q = b.dims[-i] if i <= b.rank else 1
        if p == 1:
            out.append(q)
        elif q == 1:
            out.append(p)
        else:
            same = dims_equal(p, q)
            if same is False:
                raise ShapeError("E202", f"`{op}` cannot broadcast {a} with {b}: dim {-i} is {p} vs {q}",
                                 help="shapes broadcast when, from the right, each pair of dims is equal or 1")
            if same is None:
                spec.warnings.append(Warn("W002", f"`{op}` of {a} and {b} assumes {p} == {q}"))
            out.append(p)
    return TensorType(promote(a.dtype, b.dtype), tuple(reversed(out)))


class _Binary(OpSpec):
    """x (op) y for two tensors, or a tensor and the scalar `other`."""

    family = "arithmetic"
    min_inputs = 1
    max_inputs = 2
    attrs = (Attr("other", Any_, None, positional=False, doc="a scalar operand when there is one input"),)
    symbol: str = "+"

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (out,) = self._infer(a, xs)
        if self.name == "div" and not out.is_float:
            return [out.with_dtype("f32")]  # true division: torch.div of integers gives floats
        return [out]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outs[0].dims))

    def _infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        if self.name == "sub" and any(x.dtype == "bool" for x in xs):
            # torch refuses it too ("Subtraction, the `-` operator, with a bool tensor is not supported")
            raise ShapeError("E205", "`-` is not defined for bool tensors", help="use `not`-style logic with "
                             "`where`, or compare: `x != y`")
        if len(xs) == 2:
            if a["other"] is not None:
                raise ShapeError("E308", f"`{self.name}` takes two tensors or a tensor and `other`, not both")
            return [broadcast(xs[0], xs[1], self.name, self)]
        other = a["other"]
        if isinstance(other, bool) or not isinstance(other, (int, float)):
            raise ShapeError("E308", f"`{self.name}` needs a second operand: another tensor or a number `other`")
        x = xs[0]
        return [x.with_dtype(promote_scalar(x.dtype, other))]


def _binary(name: str, symbol: str, doc: str) -> type[OpSpec]:
    return register(type(name, (_Binary,), {"name": name, "symbol": symbol, "doc": doc}))


add = _binary("add", "+", "Element-wise sum with broadcasting.")
sub = _binary("sub", "-", "Element-wise difference with broadcasting.")
mul = _binary("mul", "*", "Element-wise product with broadcasting.")
div = _binary("div", "/", "Element-wise true division with broadcasting.")


@register
class matmul(OpSpec):  # noqa: N801
    name = "matmul"
    family = "arithmetic"
    min_inputs = 2
    max_inputs = 2
    doc = "torch.matmul: matrix product with broadcast batch dims; 1-D operands are vectors."

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x, y = xs
        if x.rank == 0 or y.rank == 0:
            raise ShapeError("E201", "`matmul` needs inputs with at least one dim")
        xd = list(x.dims) if x.rank > 1 else [1] + list(x.dims)
        yd = list(y.dims) if y.rank > 1 else list(y.dims) + [1]
        if x.dtype != y.dtype:
            # Unlike element-wise ops, torch.matmul does not promote: f32 @ f64 is an error.
            raise ShapeError("E205", f"`matmul` needs operands of the same dtype, but got {x} @ {y}",
                             help="convert one operand so both have the same dtype")
        same = dims_equal(xd[-1], yd[-2])
        if same is False:
            raise ShapeError("E200", f"`matmul` inner dims differ: {x} @ {y} ({xd[-1]} vs {yd[-2]})",
                             help="the last dim of the left operand must equal the second-to-last of the right")
        if same is None:
            self.warnings.append(Warn("W002", f"`matmul` assumes {xd[-1]} == {yd[-2]}"))
        batch = broadcast(TensorType(x.dtype, tuple(xd[:-2])), TensorType(y.dtype, tuple(yd[:-2])), "matmul", self)
        dims = list(batch.dims) + [xd[-2], yd[-1]]
        if x.rank == 1:
            dims.pop(-2)
        if y.rank == 1:
            dims.pop(-1)
        return [TensorType(promote(x.dtype, y.dtype), tuple(dims))]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(macs=numel(outs[0].dims) * xs[0].dims[-1])  # type: ignore[operator]


__all__ = ["lower_bound", "AttrError"]
