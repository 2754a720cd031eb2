"""The syntax tree: frozen dataclasses, each with a source span. No behaviour lives here."""
from __future__ import annotations

from dataclasses import dataclass

from .source import Span


@dataclass(frozen=True)
class Node:
    span: Span


# -- expressions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Number(Node):
    value: int | float


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Const(Node):
    """`true`, `false` or `none`."""

    value: bool | None


@dataclass(frozen=True)
class BinOp(Node):
    op: str  # + - * / % @ ** == != < <= > >= and or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Node):
    op: str  # - + not
    operand: Expr


@dataclass(frozen=True)
class Arg(Node):
    name: str | None
    value: Expr


@dataclass(frozen=True)
class Call(Node):
    func: Expr
    args: tuple[Arg, ...]


@dataclass(frozen=True)
class Slice(Node):
    lower: Expr | None
    upper: Expr | None
    step: Expr | None


@dataclass(frozen=True)
class Index(Node):
    value: Expr
    items: tuple[Expr | Slice, ...]


@dataclass(frozen=True)
class TupleExpr(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class ListComp(Node):
    """`[item for var in values]`: one item per value, with `var` bound to it (`range(n)` counts from 0)."""

    item: Expr
    var: str
    var_span: Span
    values: Expr


@dataclass(frozen=True)
class Step(Node):
    """One `-> expr [as name]` in a chain."""

    expr: Expr
    alias: str | None
    alias_span: Span | None
    # `as layers["encoder_layer_{i}"]`: how the items of a list or repetition are named (default 0, 1, 2 ...)
    children: str | None = None
    children_span: Span | None = None


@dataclass(frozen=True)
class Chain(Node):
    head: Expr
    steps: tuple[Step, ...]


Expr = Name | Number | String | Const | BinOp | UnaryOp | Call | Index | TupleExpr | ListExpr | ListComp | Chain


# -- statements ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorTypeExpr(Node):
    dtype: str
    dtype_span: Span
    dims: tuple[Expr, ...]


@dataclass(frozen=True)
class Input(Node):
    name: str
    name_span: Span
    type: TensorTypeExpr
    where: tuple[Expr, ...]
    # `= randn`: the input is optional, and this names what fills it when the caller leaves it out.
    default: Name | None = None


@dataclass(frozen=True)
class OutputItem(Node):
    name: str | None
    value: Expr


@dataclass(frozen=True)
class Output(Node):
    items: tuple[OutputItem, ...]


@dataclass(frozen=True)
class Assign(Node):
    targets: tuple[Expr, ...]  # Name or TupleExpr of targets, checked by the elaborator
    value: Expr


@dataclass(frozen=True)
class ExprStmt(Node):
    expr: Expr


@dataclass(frozen=True)
class If(Node):
    branches: tuple[tuple[Expr, tuple[Stmt, ...]], ...]
    orelse: tuple[Stmt, ...] | None


@dataclass(frozen=True)
class StateDecl(Node):
    """`param class_token: f32[1, 1, d] = zeros` or `buffer mask: f32[T, T] = ones, persistent=false`: a tensor
    the module owns. `kind` is the first word as written; the elaborator rejects anything but `param`/`buffer`."""

    kind: str
    kind_span: Span
    name: str
    name_span: Span
    type: TensorTypeExpr
    init: Expr | None  # `zeros`, `normal(std=0.02)`, ...; None when left out (an error, with a hint)
    options: tuple[Arg, ...] = ()  # `persistent=false`


Stmt = Input | Output | Assign | ExprStmt | If | StateDecl


# -- definitions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param(Node):
    name: str
    type_name: str
    type_span: Span
    default: Expr | None


@dataclass(frozen=True)
class Definition(Node):
    kind: str  # "network" or "block"
    name: str
    name_span: Span
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Import(Node):
    path: str


# -- training (checked by dsl/train.py) ----------------------------------------------------------
@dataclass(frozen=True)
class TrainModel(Node):
    """One network a `train` section uses: `Generator as G`, or `DigitsMLP(classes=5)`."""

    network: Expr  # a Name, or a Call of a Name with the network's parameters
    alias: str | None
    alias_span: Span | None


@dataclass(frozen=True)
class TrainEntry(Node):
    """`key [target]: value`, e.g. `loss: cross_entropy`, `optimizer D: Adam(lr=2e-4)`, `lr fc1: 1e-4`."""

    key: str
    key_span: Span
    target: str | None
    target_span: Span | None
    value: Expr


@dataclass(frozen=True)
class TrainDef(Node):
    name: str
    name_span: Span
    models: tuple[TrainModel, ...] | None  # None for `train Net { ... }`: the name is the network
    entries: tuple[TrainEntry, ...]


@dataclass(frozen=True)
class Program(Node):
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
    trains: tuple[TrainDef, ...] = ()
