"""The op registry: each op declares its attributes, shape rule and parameters once.

An op spec is a class with a tuple of :class:`Attr` and two methods:

* ``infer(a, xs)`` takes the bound attributes (a dict it may complete with inferred values such as
  ``in_features``) and the input tensor types, and returns the output types or raises
  :class:`ShapeError` with a diagnostic code;
* ``params(a, xs)`` / ``buffers(a, xs)`` give the state_dict entries, in torch's order;
* ``cost(a, xs, outs)`` gives the forward pass's arithmetic as a :class:`Cost` of symbolic dims (formulas in
  ``B``, ``T``, ``H``, ``W``), or the op says why it is not counted in ``not_counted``.

Parameter counts, the `netc check` table and every backend read these, so they cannot disagree.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..dims import Dim, IntLike, dims_equal
from ..types import FLOAT_DTYPES, INT_DTYPES, TensorType


class ShapeError(Exception):
    """Raised by a shape rule; the elaborator turns it into a located diagnostic."""

    def __init__(self, code: str, message: str, help: str | None = None, label: str | None = None,
                 warning: bool = False, attr: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help
        self.label = label
        self.warning = warning
        self.attr = attr  # the attribute at fault: the error points at its argument when one was written


class AttrError(Exception):
    """Raised by an attribute coercion: the value has the wrong type or fails validation."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

Coerce = Callable[[Any], Any]


@dataclass(frozen=True)
class Attr:
    name: str
    coerce: Coerce
    default: Any = REQUIRED
    positional: bool = True
    variadic: bool = False  # collects all remaining positional values (view(B, T, -1))
    inferred: bool = False  # filled from the input when omitted (in_features, num_features)
    doc: str = ""


@dataclass
class Warn:
    code: str
    message: str
    # W002 of two dims that must be equal: an error unless `where` facts settle it (a mismatch fails at run
    # time). False where the shape is only approximate (a slice bound, a ceil_mode window) and nothing fails.
    equality: bool = True


@dataclass(frozen=True)
class Cost:
    """The arithmetic of one forward application, as formulas in the input's dims.

    ``macs`` are the multiply-accumulates of matrix products and convolutions; torch's FlopCounterMode (and
    most papers) count each as 2 FLOPs and count nothing else. ``flops`` are the other floating-point
    operations (bias adds, activations, normalisation, softmax, pooling), which that counter leaves out.
    """

    macs: IntLike = 0
    flops: IntLike = 0

    @property
    def total_flops(self) -> IntLike:
        return 2 * self.macs + self.flops  # type: ignore[operator]


class NotCounted(Exception):
    """Raised by ``OpSpec.cost`` for ops that declare no cost (``not_counted`` says why)."""


class OpSpec:
    name: ClassVar[str]
    family: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    attrs: ClassVar[tuple[Attr, ...]] = ()
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    doc: ClassVar[str] = ""
    # Optional tensor inputs passed by keyword (`key_padding_mask=pad`): the elaborator appends them to the
    # node's inputs, in the order given here, and sets the attribute of the same name to the input's index.
    tensor_kwargs: ClassVar[tuple[str, ...]] = ()
    # Return a tuple even for one output (split into one piece is still a list of pieces).
    always_tuple: ClassVar[bool] = False
    # Why this op's arithmetic is not counted by `netc summary` (empty: the op declares `cost`). Every op does
    # one or the other; tests/test_cost.py enforces it.
    not_counted: ClassVar[str] = ""
    # The outputs alias the input's storage (view, transpose, split): no new activation memory.
    is_view: ClassVar[bool] = False
    # With two input tensors the call means this other op (`min(x, y)` is torch.minimum, not a reduction).
    pairwise: ClassVar[str | None] = None

    def __init__(self) -> None:
        self.warnings: list[Warn] = []

    def pack(self, outs: list[Any]) -> Any:
        """How the outputs reach the program: one value, a tuple, or nested tuples (LSTM: `out, (h, c)`)."""
        return outs[0] if len(outs) == 1 and not self.always_tuple else tuple(outs)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        raise NotImplementedError

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        return {}

    def buffers(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[tuple[IntLike, ...], str]]:
        return {}

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        """FLOPs and MACs of one forward application, for the bound attributes and the inferred types."""
        raise NotCounted(self.not_counted or f"`{self.name}` declares no cost")

    @classmethod
    def declares_cost(cls) -> bool:
        return cls.cost is not OpSpec.cost

    @classmethod
    def attr(cls, name: str) -> Attr | None:
        for at in cls.attrs:
            if at.name == name:
                return at
        return None


OPS: dict[str, type[OpSpec]] = {}
ALIASES: dict[str, str] = {}


def register(cls: type[OpSpec]) -> type[OpSpec]:
    if cls.name in OPS or cls.name in ALIASES:
        raise ValueError(f"op {cls.name} registered twice")
    OPS[cls.name] = cls
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def lookup(name: str) -> type[OpSpec] | None:
    return OPS.get(ALIASES.get(name, name))


# -- attribute coercions -------------------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _known_int(v: Any, what: str = "an integer") -> int:
    if isinstance(v, Dim):
        raise AttrError(f"expected {what} known at compile time, got the symbolic `{v}`")
    if not _is_int(v):
        raise AttrError(f"expected {what}, got {describe(v)}")
    return v  # type: ignore[no-any-return]


def describe(v: Any) -> str:
    if isinstance(v, bool):
        return f"the bool `{str(v).lower()}`"
    if isinstance(v, int):
        return f"the int `{v}`"
    if isinstance(v, float):
        return f"the float `{v}`"
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, Dim):
        return f"the dimension `{v}`"
    if v is None:
        return "`none`"
    if isinstance(v, (tuple, list)):
        return "a list"
    return "a tensor"


def Int(lo: int | None = None) -> Coerce:  # noqa: N802 - reads as a type in the spec tables
    def f(v: Any) -> int:
        n = _known_int(v)
        if lo is not None and n < lo:
            raise AttrError(f"must be at least {lo}, got {n}")
        return n
    return f


def positive(v: Any) -> int:
    n = _known_int(v)
    if n <= 0:
        raise AttrError(f"must be positive, got {n}")
    return n


def DimArg(v: Any) -> IntLike:  # noqa: N802
    if isinstance(v, Dim) or _is_int(v):
        return v  # type: ignore[no-any-return]
    raise AttrError(f"expected a dimension, got {describe(v)}")


def Float(lo: float | None = None, hi: float | None = None) -> Coerce:  # noqa: N802
    def f(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise AttrError(f"expected a number, got {describe(v)}")
        x = float(v)
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            raise AttrError(f"must be between {lo} and {hi}, got {v}")
        return x
    return f


def Bool(v: Any) -> bool:  # noqa: N802
    if not isinstance(v, bool):
        raise AttrError(f"expected `true` or `false`, got {describe(v)}")
    return v


def Choice(*options: str) -> Coerce:  # noqa: N802
    def f(v: Any) -> str:
        if not isinstance(v, str) or v not in options:
            raise AttrError(f"expected one of {', '.join(repr(o) for o in options)}, got {describe(v)}")
        return v
    return f


def Tuple(n: int, item: Coerce = positive) -> Coerce:  # noqa: N802
    """An int or an n-tuple of ints, normalised to an n-tuple (kernel_size=3 -> (3, 3))."""
    def f(v: Any) -> tuple[int, ...]:
        if isinstance(v, (tuple, list)):
            if len(v) != n:
                raise AttrError(f"expected {n} values, got {len(v)}")
            return tuple(item(x) for x in v)
        return (item(v),) * n
    return f


def Optional(inner: Coerce) -> Coerce:  # noqa: N802
    def f(v: Any) -> Any:
        return None if v is None else inner(v)
    return f


def IntList(v: Any) -> tuple[int, ...]:  # noqa: N802
    if isinstance(v, (tuple, list)):
        return tuple(_known_int(x) for x in v)
    return (_known_int(v),)


def TensorInput(v: Any) -> Any:  # noqa: N802
    """An optional tensor input given by keyword (see `OpSpec.tensor_kwargs`); holds the input's index.

    The elaborator moves tensors out before coercion, so anything that reaches here is a user mistake.
    """
    if v is None:
        return None
    raise AttrError(f"expected a tensor, got {describe(v)}")


def LayerRef(v: Any) -> Any:  # noqa: N802
    """A reference to an earlier layer by name (`tied=wte`); the elaborator resolves it to that layer's path."""
    if v is None or isinstance(v, str):
        return v
    raise AttrError(f"expected the name of a layer, got {describe(v)}")


def Any_(v: Any) -> Any:  # noqa: N802
    return v


# -- shape helpers ------------------------------------------------------------------------------
def norm_dim(d: int, rank: int, what: str = "dim") -> int:
    """A possibly negative dim index, checked against the rank like torch does."""
    lo, hi = (-rank, rank - 1) if rank > 0 else (-1, 0)
    if d < lo or d > hi:
        raise ShapeError("E208", f"{what} {d} is out of range for a tensor of rank {rank}",
                         help=f"use a dim between {lo} and {hi}")
    return d % rank if rank > 0 else 0


def expect_rank(x: TensorType, ranks: Sequence[int], layout: str) -> None:
    if x.rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError("E201", f"expects a rank-{want} input ({layout}), but it has rank {x.rank}",
                         label=f"input here is {x}")


def expect_float(x: TensorType, op: str) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ShapeError("E205", f"`{op}` needs a floating-point input, but it is {x.dtype}",
                         label=f"input here is {x}",
                         help="integer tensors such as token ids go through `Embedding` first")


def expect_int(x: TensorType, op: str) -> None:
    if x.dtype not in INT_DTYPES:
        raise ShapeError("E205", f"`{op}` needs an integer input (indices), but it is {x.dtype}",
                         label=f"input here is {x}")


def known(d: IntLike, what: str) -> int:
    """A dim that sizes a parameter must be a known integer."""
    if isinstance(d, Dim):
        raise ShapeError("E210", f"needs a known size for {what} to size its parameters, but it is the "
                         f"symbolic `{d}`",
                         help="give this dim a number in the input type, or bind it with `--set`")
    return d


def check_equal(a: IntLike, b: IntLike, spec: OpSpec, message: str, code: str = "E200",
                help: str | None = None) -> None:
    same = dims_equal(a, b)
    if same is False:
        raise ShapeError(code, message, help=help)
    if same is None:
        spec.warnings.append(Warn("W002", f"{message} unless the symbols make them equal"))


def numel(shape: tuple[IntLike, ...]) -> IntLike:
    out: IntLike = 1
    for d in shape:
        out = out * d  # type: ignore[operator]
    return out
