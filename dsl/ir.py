"""The typed graph IR: what elaboration produces and every backend consumes.

A :class:`Graph` is one network. Its :class:`Module` tree mirrors the ``nn.Module`` tree the torch backend
emits: a module's ``body`` lists, in execution order, the :class:`OpNode` leaves and child modules (block
instances and sequential containers). Values are typed with symbolic dims. No torch types in here.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .dims import IntLike
from .source import Source, Span
from .types import TensorType

if TYPE_CHECKING:
    from . import ast

_ids = itertools.count()


@dataclass(eq=False)
class Value:
    name: str
    type: TensorType
    producer: OpNode | Module | StateNode | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"Value({self.name}: {self.type})"


@dataclass(eq=False)
class OpNode:
    op: str
    attrs: dict[str, Any]
    inputs: list[Value]
    outputs: list[Value]
    name: str
    path: str
    span: Span
    named: bool
    params: dict[str, tuple[int, ...]]
    buffers: dict[str, tuple[tuple[int, ...], str]]
    parent: Module | None = None
    # Source text of each attribute the user wrote (`{"out_features": "hidden"}`), so backends can
    # print `nn.Linear(784, hidden)` where that reads better than the folded value.
    attr_source: dict[str, str] = field(default_factory=dict)
    # Weight tying (`Linear(vocab, tied=wte)`): own parameter name -> the state_dict key of the parameter it
    # shares. Like torch, the state_dict lists the key under both names, but the parameter counts once.
    tied: dict[str, str] = field(default_factory=dict)
    # The call that gave the attributes, when it is not at `span`: a declared layer (`linear1 = Linear(ff)`)
    # is applied later by name, and backends that print attributes as expressions read them from the call.
    call_span: Span | None = None

    @property
    def num_params(self) -> int:
        return sum(_numel(s) for k, s in self.params.items() if k not in self.tied)

    def __repr__(self) -> str:
        return f"OpNode({self.path}: {self.op})"


# How a declared parameter or buffer is filled when the module is built (torch.nn.init's functions and
# torch.zeros/ones/full): `param class_token: f32[1, 1, d] = zeros`, `= trunc_normal(std=0.02)`.
INITIALIZERS: dict[str, tuple[tuple[str, float | None], ...]] = {
    "zeros": (),
    "ones": (),
    "constant": (("value", None),),
    "normal": (("mean", 0.0), ("std", 1.0)),
    "trunc_normal": (("mean", 0.0), ("std", 1.0), ("a", -2.0), ("b", 2.0)),
    "uniform": (("a", 0.0), ("b", 1.0)),
}


@dataclass(frozen=True)
class Init:
    """An initializer with its arguments resolved to numbers (defaults filled in), in INITIALIZERS' order."""

    kind: str
    args: tuple[tuple[str, float], ...] = ()

    def arg(self, name: str) -> float:
        return dict(self.args)[name]


@dataclass(eq=False)
class StateNode:
    """A tensor a module owns, declared by a statement: a learned parameter (`param`) or a buffer (`buffer`).

    Its state_dict key is the module's path and its name; torch lists a module's own parameters, then its own
    buffers, then its children's entries, whatever the order of the statements (see Graph.state_dict)."""

    kind: Literal["parameter", "buffer"]
    name: str  # the attribute of the module
    path: str  # the state_dict key
    type: TensorType  # dims are known integers (a parameter is allocated when the module is built)
    init: Init
    persistent: bool  # False for a buffer that is not saved in the state_dict (`persistent=false`)
    span: Span
    parent: Module | None = None
    value: Value | None = None  # what the name stands for in expressions

    @property
    def num_params(self) -> int:
        return _numel(self.type.dims) if self.kind == "parameter" else 0

    def __repr__(self) -> str:
        return f"StateNode({self.path}: {self.kind} {self.type})"


ModuleKind = Literal["network", "block", "sequential"]

# What fills an optional input that the caller leaves out: a standard normal sample, a uniform sample on
# [0, 1), or constants. `input eps: f32[B, 20] = randn` in the source.
INPUT_FILLS = ("randn", "rand", "zeros", "ones")


@dataclass(frozen=True)
class InputDefault:
    """An optional input (`input eps: f32[B, 20] = randn`): made at run time when the caller leaves it out.

    `dims` are written in the definition's own dim names (`B` as bound by `input x: f32[B, 784]`), with
    parameters folded in, so one generated `forward` serves every call; `dim_sources` says which earlier
    input and axis holds each of those names at run time (`{"B": ("x", 0)}`). Passing the tensor instead
    (a fixed noise) makes the network deterministic, which is how the backends are compared.
    """

    fill: str  # one of INPUT_FILLS
    dtype: str
    dims: tuple[IntLike, ...]
    dim_sources: dict[str, tuple[str, int]]


@dataclass(frozen=True)
class ContainerPart:
    """One part of a container's source, in order: `[Block(128, stride=2)] + Block(128) * (n - 1)` is a listed item,
    then a repetition; `[Res(c, dilation=2 ** i) for i in range(levels)]` is one comprehension. Elaboration unrolls
    them into items; the part keeps the expressions they came from (the count, the iterated values), so a backend
    can write the loop that builds them for any count instead of the items of one compile."""

    kind: Literal["listed", "repeat", "comprehension"]
    items: int  # how many of the container's items it made (consecutive, after the previous part's)
    span: Span
    count: ast.Expr | None = None  # a repetition's count (`n - 1` in `Block(128) * (n - 1)`)
    var: str | None = None  # a comprehension's variable and the values it iterates (`range(levels)`, `widths`)
    values: ast.Expr | None = None
    bound: tuple[Any, ...] = ()  # the values the variable took, one per item


@dataclass(eq=False)
class Module:
    kind: ModuleKind
    name: str  # attribute name in the parent ("" for the root)
    path: str  # dotted path from the root, the state_dict prefix
    definition: str | None  # the block or network it instantiates
    args: dict[str, Any]
    span: Span
    named: bool
    body: list[OpNode | Module] = field(default_factory=list)
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)
    parent: Module | None = None
    arg_source: dict[str, str] = field(default_factory=dict)  # source text of each argument given
    call_span: Span | None = None  # the declaration's call, for a declared block (see OpNode.call_span)
    # `* n as layers["encoder_layer_{i}"]`: the pattern naming the items of a container (placeholders `{i}`,
    # `{i+K}`, `{i-K}`), so a backend can write the loop that names them for any count
    item_pattern: str | None = None
    # a container's source as its parts (empty for a block instance or a group that is not a container)
    parts: list[ContainerPart] = field(default_factory=list)
    # The optional inputs of the definition (network or block), in declaration order, whether or not this
    # call passes them; `inputs` holds only the values the caller passed.
    input_defaults: dict[str, InputDefault] = field(default_factory=dict)
    # Parameters and buffers declared in the body (`param`, `buffer`), in declaration order.
    state: list[StateNode] = field(default_factory=list)
    # The children's names in the order torch registers them, when a layer was declared before its use
    # (`reduction = Linear(...)`, dsl/declarations.py); empty when that is the order of `body` (first use).
    registration: list[str] = field(default_factory=list)

    def registered(self) -> list[OpNode | Module]:
        """The children in registration order: what `__init__` assigns first, and the state_dict's order."""
        if not self.registration:
            return list(self.body)
        rank = {name: i for i, name in enumerate(self.registration)}
        return sorted(self.body, key=lambda el: rank.get(el.name, len(rank)))

    def walk_registered(self) -> Iterator[OpNode | Module]:
        """Like `walk`, in registration order."""
        for item in self.registered():
            yield item
            if isinstance(item, Module):
                yield from item.walk_registered()

    def walk(self) -> Iterator[OpNode | Module]:
        """Every node and sub-module below this one, in execution order (pre-order)."""
        for item in self.body:
            yield item
            if isinstance(item, Module):
                yield from item.walk()

    def op_nodes(self) -> Iterator[OpNode]:
        return (n for n in self.walk() if isinstance(n, OpNode))

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, pre-order."""
        yield self
        for item in self.walk():
            if isinstance(item, Module):
                yield item

    def state_nodes(self) -> Iterator[StateNode]:
        """The declared parameters and buffers of this module and those below it."""
        for mod in self.modules():
            yield from mod.state

    @property
    def num_params(self) -> int:
        return sum(n.num_params for n in self.op_nodes()) + sum(s.num_params for s in self.state_nodes())

    def __repr__(self) -> str:
        return f"Module({self.path or '<root>'}: {self.definition or self.kind})"


@dataclass(frozen=True)
class StateEntry:
    key: str
    shape: tuple[int, ...]
    dtype: str
    kind: Literal["parameter", "buffer"]
    tied_to: str | None = None  # the key of the parameter this entry shares (weight tying), listed earlier

    @property
    def numel(self) -> int:
        return _numel(self.shape)


@dataclass(frozen=True)
class Constraint:
    """A `where` condition that could not be decided at compile time; backends may guard it."""

    text: str
    span: Span


@dataclass(eq=False)
class Graph:
    name: str
    root: Module
    inputs: list[tuple[str, Value, Span]]
    outputs: list[tuple[str, Value]]
    params: dict[str, Any]
    symbols: list[str]
    constraints: list[Constraint]
    source: Source

    def op_nodes(self) -> Iterator[OpNode]:
        return self.root.op_nodes()

    @property
    def input_defaults(self) -> dict[str, InputDefault]:
        """The optional inputs (`= randn`): `forward` takes them as keyword arguments defaulting to None."""
        return self.root.input_defaults

    def state_dict(self) -> list[StateEntry]:
        """Entries in torch's order: a module's parameters, then its buffers, then its children."""
        out: list[StateEntry] = []
        _module_entries(self.root, out)
        return out

    @property
    def num_params(self) -> int:
        """Parameters counted like `sum(p.numel() for p in model.parameters())`: tied ones once."""
        return self.root.num_params


_TORCH_DTYPE_NAMES = {"f32": "float32", "f64": "float64", "f16": "float16", "bf16": "bfloat16", "i64": "int64",
                      "i32": "int32", "i16": "int16", "i8": "int8", "u8": "uint8", "bool": "bool"}


def _module_entries(mod: Module, out: list[StateEntry]) -> None:
    declared = [s for s in mod.state if s.kind == "parameter"] + [s for s in mod.state if s.kind == "buffer"]
    for s in declared:
        if s.persistent:
            out.append(StateEntry(s.path, s.type.dims, _TORCH_DTYPE_NAMES.get(s.type.dtype, s.type.dtype),
                                  s.kind))  # type: ignore[arg-type]
    for item in mod.registered():  # children in the order torch registers them
        if isinstance(item, Module):
            _module_entries(item, out)
            continue
        prefix = item.path + "." if item.path else ""
        for pname, shape in item.params.items():
            out.append(StateEntry(prefix + pname, shape, "float32", "parameter", item.tied.get(pname)))
        for bname, (shape, dtype) in item.buffers.items():
            out.append(StateEntry(prefix + bname, shape, "int64" if dtype == "i64" else "float32", "buffer"))


def _numel(shape: tuple[IntLike, ...]) -> int:
    n = 1
    for d in shape:
        n *= d  # type: ignore[assignment,operator]
    return n
