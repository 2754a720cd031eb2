"""The ONNX backend's graph builder (codegen/onnx.py drives it; onnx_ops.py and onnx_seq.py lower the ops).

Parameters become initializers named by their state_dict keys. Sizes computed inside the network from symbols
(`view(B, T, heads, d / heads)`) are built in the graph from `Shape` of the input that binds each symbol, so one
file serves every size. What ONNX cannot express raises :class:`UnsupportedOp` with the node that has it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..dsl.dims import FloorDiv, IntLike, Sym
from ..dsl.ir import Graph, Module, OpNode, Value
from ..dsl.types import DTYPES

OPSET = 18
_ONNX_DTYPES = {"f16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16, "f32": TensorProto.FLOAT,
                "f64": TensorProto.DOUBLE, "i8": TensorProto.INT8, "u8": TensorProto.UINT8, "i16": TensorProto.INT16,
                "i32": TensorProto.INT32, "i64": TensorProto.INT64, "bool": TensorProto.BOOL}


class UnsupportedOp(Exception):
    """An op (or an attribute of one) that the ONNX backend cannot express; `node` locates it."""

    def __init__(self, node: OpNode | None, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.message = message
        self.help = help


@dataclass
class Builder:
    """The graph under construction: nodes, initializers, value names and cached constants."""

    graph: Graph
    weights: dict[str, np.ndarray]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # value id -> tensor name
    taken: set[str] = field(default_factory=set)
    consts: dict[tuple[Any, ...], str] = field(default_factory=dict)
    symbols: dict[str, tuple[str, int]] = field(default_factory=dict)  # symbol -> (input tensor, axis)
    dim_cache: dict[str, str] = field(default_factory=dict)
    node: OpNode | None = None  # the op being lowered, for errors

    def fresh(self, hint: str) -> str:
        base = hint.replace("/", ".") or "t"
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def add(self, op: str, inputs: list[str], outputs: int | list[str] = 1, hint: str | None = None,
            **attrs: Any) -> list[str]:
        base = hint or (self.node.path if self.node is not None else op.lower())
        outs = outputs if isinstance(outputs, list) else [self.fresh(f"{base}.{op}") for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.fresh(f"{base}/{op}"), **attrs))
        return outs

    def one(self, op: str, inputs: list[str], **attrs: Any) -> str:
        return self.add(op, inputs, **attrs)[0]

    def fail(self, message: str, help: str | None = None) -> UnsupportedOp:
        return UnsupportedOp(self.node, message, help)

    # -- constants and parameters ----------------------------------------------------------------------------
    def const(self, array: np.ndarray, hint: str = "const") -> str:
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.consts:
            name = self.fresh(hint)
            self.initializers[name] = numpy_helper.from_array(array, name)
            self.consts[key] = name
        return self.consts[key]

    def ints(self, values: list[int] | tuple[int, ...]) -> str:
        return self.const(np.asarray(values, dtype=np.int64), "ints")

    def scalar(self, value: float | int | bool, dtype: str) -> str:
        return self.const(np.asarray(value, dtype=DTYPES[dtype]), "scalar")

    def param(self, node: OpNode, name: str, transform: Callable[[np.ndarray], np.ndarray] | None = None,
              suffix: str = "") -> str:
        """The initializer of a parameter or buffer, named by its state_dict key (a tied one by its owner's)."""
        key = node.tied.get(name) or (f"{node.path}.{name}" if node.path else name)
        out = key + suffix
        if out not in self.initializers:
            if key not in self.weights:
                raise self.fail(f"the weights have no `{key}`")
            array = self.weights[key]
            if transform is not None:
                array = transform(array)
            self.initializers[out] = numpy_helper.from_array(np.ascontiguousarray(array), out)
            self.taken.add(out)
        return out

    # -- sizes computed at run time --------------------------------------------------------------------------
    def dim(self, d: IntLike) -> str:
        """A 1-element int64 tensor holding `d`, from the shapes of the inputs that bind its symbols."""
        if isinstance(d, int):
            return self.ints([d])
        key = str(d)
        if key not in self.dim_cache:
            total: str | None = None
            for mono, coef in d.terms:
                term: str | None = None if coef == 1 else self.ints([coef])
                for atom, power in mono:
                    factor = self._atom(atom)
                    for _ in range(power):
                        term = factor if term is None else self.one("Mul", [term, factor], hint="size")
                if term is None:
                    term = self.ints([coef])
                total = term if total is None else self.one("Add", [total, term], hint="size")
            self.dim_cache[key] = total or self.ints([0])
        return self.dim_cache[key]

    def _atom(self, atom: Any) -> str:
        if isinstance(atom, Sym):
            if atom.name not in self.symbols:
                raise self.fail(f"the size `{atom.name}` is not a whole dim of any input, so the ONNX graph "
                                "cannot read it from the inputs' shapes",
                                help=f"bind it with --set {atom.name}=N")
            src, axis = self.symbols[atom.name]
            key = f"{src}#{axis}"
            if key not in self.dim_cache:
                shape = self.one("Shape", [src], hint=f"{src}.shape")
                self.dim_cache[key] = self.one("Gather", [shape, self.ints([axis])], hint=atom.name, axis=0)
            return self.dim_cache[key]
        assert isinstance(atom, FloorDiv)
        return self.one("Div", [self.dim(atom.num), self.ints([atom.den])], hint="size")  # sizes are >= 0

    def shape(self, dims: tuple[IntLike, ...]) -> str:
        if all(isinstance(d, int) for d in dims):
            return self.ints([int(d) for d in dims])  # type: ignore[arg-type]
        return self.one("Concat", [self.dim(d) for d in dims], axis=0, hint="shape")

    def cast(self, name: str, have: str, want: str) -> str:
        return name if have == want else self.one("Cast", [name], to=_ONNX_DTYPES[want])

    def var(self, v: Value) -> str:
        if v.id not in self.names:
            self.names[v.id] = self._unpassed(v)
        return self.names[v.id]

    def _unpassed(self, v: Value) -> str:
        """A block's optional input the caller leaves out (`input eps: f32[B, 4] = randn`), made where it is used.

        A network's own optional inputs are inputs of the ONNX graph instead (callers pass fixed noise)."""
        module = next((m for m in self.graph.root.walk() if isinstance(m, Module) and v.name in m.input_defaults
                       and (any(v is x for n in m.op_nodes() for x in n.inputs) or any(v is o for o in m.outputs))),
                      None)
        if module is None or v.producer is not None:
            raise self.fail(f"found no producer for `{v.name}`")
        default = module.input_defaults[v.name]
        dtype = _ONNX_DTYPES[default.dtype]
        shape = self.shape(v.type.dims)
        hint = f"{module.path}.{v.name}" if module.path else v.name
        if default.fill in ("zeros", "ones"):
            value = helper.make_tensor("fill", dtype, [1], [1 if default.fill == "ones" else 0])
            return self.one("ConstantOfShape", [shape], value=value, hint=hint)
        like = self.one("ConstantOfShape", [shape], value=helper.make_tensor("fill", dtype, [1], [0]), hint=hint)
        op = "RandomNormalLike" if default.fill == "randn" else "RandomUniformLike"
        return self.one(op, [like], hint=hint)


Emitter = Callable[[Builder, OpNode, list[str]], list[str]]


def _rank(v: Value) -> int:
    return v.type.rank
