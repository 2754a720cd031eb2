"""What a checked `train` section becomes (:class:`TrainSpec`, with loss expressions as small trees the torch
backend emits), and the values and base the checker's parts share."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ast
from .diagnostics import Diagnostics
from .dims import IntLike, dims_equal
from .ir import Graph, OpNode
from .source import Span
from .types import TensorType

BATCH = "B"  # the batch dim in every type this module prints


# -- the spec: what the runtime and the torch backend consume ------------------------------------
@dataclass(frozen=True)
class FnCall:
    """A checked call with every argument resolved (defaults filled in)."""

    name: str
    args: dict[str, Any]
    span: Span
    arg_spans: dict[str, Span] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LRef:
    """A name in a loss expression: `target`, `x`, a data field, a network output or a noise."""

    name: str
    span: Span


@dataclass(frozen=True)
class LNum:
    value: float
    span: Span


@dataclass(frozen=True)
class LCall:
    """A loss (`cross_entropy`) or a term (`kl_normal`, `sum`, `detach`) applied to sub-expressions."""

    fn: str
    args: tuple[LExpr, ...]
    options: dict[str, Any]
    span: Span


@dataclass(frozen=True)
class LModel:
    """A network applied inside a loss expression (`D(G(z))`): multi-network training only."""

    alias: str
    args: tuple[LExpr, ...]
    span: Span


@dataclass(frozen=True)
class LBin:
    op: str  # + - * / **
    left: LExpr
    right: LExpr
    span: Span


@dataclass(frozen=True)
class LNeg:
    operand: LExpr
    span: Span


@dataclass(frozen=True)
class LIndex:
    value: LExpr
    index: int
    span: Span


LExpr = LRef | LNum | LCall | LModel | LBin | LNeg | LIndex


@dataclass
class ModelSpec:
    alias: str
    network: str
    graph: Graph
    overrides: dict[str, Any]
    span: Span
    required_inputs: list[str]
    output_names: list[str]


@dataclass
class TargetNeed:
    """What the data's target must be, as the loss uses it (synthetic data makes exactly this)."""

    kind: str  # "class" (integer labels in [0, classes)), "binary" (0/1 floats), "real", "dist"
    type: TensorType  # with the batch dim B
    classes: int | None = None


@dataclass
class TrainSpec:
    name: str
    span: Span
    source_path: str
    models: list[ModelSpec]
    data: FnCall
    losses: dict[str, LExpr]  # model alias -> loss, in the order the steps alternate
    loss_spans: dict[str, Span]
    optimizers: dict[str, FnCall]
    lr_groups: list[tuple[str, str, float, Span]]  # (alias, submodule path, lr, span)
    schedule: FnCall | None
    epochs: int | None
    steps: int | None
    batch: int
    metrics: list[FnCall]  # args: resolved "output" and metric-specific ones
    metric_kind: str | None  # "multiclass" or "binary" when metrics apply
    prediction: str | None  # the output that metrics score (single network)
    clip_norm: float | None
    clip_value: float | None
    l1: float
    early_stopping: FnCall | None
    checkpoint: FnCall
    seed: int
    init: tuple[str, Span] | None
    freeze: list[tuple[str, str, Span]]  # (alias, path, span)
    replace: list[tuple[str, str, Span]]
    noises: dict[str, tuple[str, TensorType, Span]]
    input_type: TensorType | None  # what the data's `x` must be (the first network input)
    target: TargetNeed | None
    entry_spans: dict[str, Span] = field(default_factory=dict)
    transforms: list[FnCall] = field(default_factory=list)

    @property
    def single(self) -> bool:
        return len(self.models) == 1

    def resolve(self, path: str) -> Path:
        """A path written in the section, relative to the .net file's folder."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.source_path).resolve().parent / p

    def monitors(self) -> list[str]:
        """The names `early_stopping`, `plateau` and `save(best=...)` may watch."""
        names = ["train_loss", "val_loss"]
        names += [f"val_{metric_name(m)}" for m in self.metrics]
        return names


def metric_name(m: FnCall) -> str:
    if m.name == "top_k":
        return f"top{m.args['k']}"
    return m.name


# -- the checker ---------------------------------------------------------------------------------
class _Err:
    def __repr__(self) -> str:
        return "ERR"


ERR: Any = _Err()


@dataclass
class TVal:
    """A value in a loss expression: a tensor type (None while a data field's type is still free)."""

    type: TensorType | None
    producer: OpNode | None = None  # for lints: the op that made a network output
    ref: str | None = None  # the name it came from, if a plain name
    output: str | None = None  # the network output it is, if any


def _numel(t: TensorType) -> IntLike:
    """Elements per sample: the product of the dims after the batch."""
    n: IntLike = 1
    for d in t.dims[1:]:
        n = n * d  # type: ignore[assignment]
    return n


def _need_text(need: TargetNeed) -> str:
    if need.kind == "class":
        return f"class indices i64{list(map(str, need.type.dims))}".replace("'", "")
    return f"a tensor like {need.type}"


def _same_dims(a: tuple[IntLike, ...], b: tuple[IntLike, ...]) -> bool:
    return len(a) == len(b) and all(dims_equal(x, y) is not False for x, y in zip(a, b))


def _walk(e: LExpr) -> list[LExpr]:
    out: list[LExpr] = [e]
    if isinstance(e, (LCall, LModel)):
        for a in e.args:
            out += _walk(a)
    elif isinstance(e, LBin):
        out += _walk(e.left) + _walk(e.right)
    elif isinstance(e, (LNeg,)):
        out += _walk(e.operand)
    elif isinstance(e, LIndex):
        out += _walk(e.value)
    return out


def walk(e: LExpr) -> list[LExpr]:
    """Every node of a loss expression, pre-order."""
    return _walk(e)


class CheckerBase:
    """What every part of the train checker shares (dsl/train.py builds it; the parts are mixins)."""

    t: ast.TrainDef
    result: Any
    diags: Diagnostics
    overrides: dict[str, Any]
    failed: bool
    models: dict[str, ModelSpec]
    env: dict[str, TVal]
    free: dict[str, TensorType]
    target_need: TargetNeed | None
    noises: dict[str, tuple[str, TensorType, Span]]
    entries: dict[str, list[ast.TrainEntry]]
    labels: TargetNeed | None
    given_target: TensorType | None
    has_target: bool
    reelaborate: bool
    free_numel: dict[str, tuple[int, Span]]
    transforms: list[FnCall]

    def error(self, code: str, message: str, span: Span | None, **kw: Any) -> Any:
        self.failed = True
        self.diags.error(code, message, span, **kw)
        return ERR

    def warn(self, code: str, message: str, span: Span | None, **kw: Any) -> None:
        self.diags.warning(code, message, span, **kw)
