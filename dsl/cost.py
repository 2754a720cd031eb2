"""Compute and memory of a network, from the IR alone: what `netc summary` reports.

Every figure is a symbolic dim (`dims.Dim`) where the input's dims are symbolic, so a GPT-2's attention FLOPs
come out as a formula in `B` and `T`; :func:`evaluate` binds symbols to numbers. The arithmetic of each op is
declared once, beside its shape rule, by ``OpSpec.cost`` (dsl/ops/); this module only adds it up.

Conventions (docs/summary.md):
* MACs are the multiply-accumulates of matrix products and convolutions; FLOPs = 2 * MACs + the other
  element-wise arithmetic the ops declare. torch's FlopCounterMode counts only the 2 * MACs part.
* Activation memory is the bytes of every op's outputs, except ops whose outputs are views of their input.
* Training memory = weights + gradients + optimizer state + the activations kept for backward (taken as all
  activations of one forward pass at the given batch size): an estimate, before the allocator's overhead.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .dims import IntLike, subs
from .ir import Graph, Module, OpNode
from .ops import lookup
from .ops.base import NotCounted, numel
from .types import TensorType

BYTES: dict[str, int] = {"f16": 2, "bf16": 2, "f32": 4, "f64": 8, "i8": 1, "u8": 1, "i16": 2, "i32": 4, "i64": 8,
                         "bool": 1}

# Optimizer state per trainable parameter, in parameter-sized tensors (torch.optim's defaults).
OPTIMIZER_STATES: dict[str, int] = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2, "rmsprop": 1}


@dataclass
class LayerCost:
    """One row of the summary: an op node, or a block/container with its children's totals."""

    path: str
    op: str
    depth: int
    is_module: bool
    params: int
    macs: IntLike = 0
    flops: IntLike = 0
    activation_bytes: IntLike = 0
    counted: bool = True  # False when an op (or an op inside a block) declares no cost
    note: str = ""


@dataclass
class Summary:
    graph: Graph
    layers: list[LayerCost]
    param_bytes: dict[str, int]  # dtype -> bytes, tied parameters once
    buffer_bytes: dict[str, int]
    trainable: int  # parameters with gradients (tied ones once)
    macs: IntLike
    flops: IntLike
    activation_bytes: IntLike
    input_bytes: IntLike
    not_counted: list[str] = field(default_factory=list)  # "path (op): why"

    def training_bytes(self, optimizer: str) -> dict[str, IntLike]:
        weights = sum(self.param_bytes.values())
        grads = 4 * self.trainable
        state = OPTIMIZER_STATES[optimizer] * 4 * self.trainable
        acts = self.activation_bytes + self.input_bytes
        total = weights + sum(self.buffer_bytes.values()) + grads + state + acts  # type: ignore[operator]
        return {"weights": weights, "buffers": sum(self.buffer_bytes.values()), "gradients": grads,
                "optimizer_state": state, "activations": acts, "total": total}


def tensor_bytes(t: TensorType) -> IntLike:
    return BYTES[t.dtype] * numel(t.dims)  # type: ignore[operator]


def node_cost(node: OpNode) -> tuple[IntLike, IntLike, str]:
    """(MACs, FLOPs, why-not-counted) of one op node, from its op's declaration."""
    spec = lookup(node.op)
    assert spec is not None, node.op
    try:
        cost = spec().cost(dict(node.attrs), [v.type for v in node.inputs], [v.type for v in node.outputs])
    except NotCounted as exc:
        return 0, 0, str(exc)
    return cost.macs, cost.total_flops, ""


def _activation(node: OpNode) -> IntLike:
    spec = lookup(node.op)
    if spec is not None and spec.is_view:
        return 0
    total: IntLike = 0
    for v in node.outputs:
        total = total + tensor_bytes(v.type)  # type: ignore[operator]
    return total


def summarize(graph: Graph) -> Summary:
    layers: list[LayerCost] = []
    not_counted: list[str] = []

    def visit(item: OpNode | Module, depth: int) -> LayerCost:
        if isinstance(item, OpNode):
            macs, flops, why = node_cost(item)
            row = LayerCost(item.path, item.op, depth, False, item.num_params, macs, flops, _activation(item),
                            counted=not why, note=why)
            layers.append(row)
            if why:
                not_counted.append(f"{item.path} ({item.op}): {why}")
            return row
        row = LayerCost(item.path, str(item.definition or item.kind), depth, True, item.num_params)
        layers.append(row)
        for child in item.body:
            c = visit(child, depth + 1)
            row.macs = row.macs + c.macs  # type: ignore[operator]
            row.flops = row.flops + c.flops  # type: ignore[operator]
            row.activation_bytes = row.activation_bytes + c.activation_bytes  # type: ignore[operator]
            row.counted = row.counted and c.counted
        return row

    top = [visit(item, 0) for item in graph.root.body]
    param_bytes: dict[str, int] = {}
    buffer_bytes: dict[str, int] = {}
    trainable = 0
    for entry in graph.state_dict():
        if entry.tied_to is not None:
            continue
        size = entry.numel * {"float32": 4, "int64": 8}.get(entry.dtype, 4)
        bucket = param_bytes if entry.kind == "parameter" else buffer_bytes
        bucket[entry.dtype] = bucket.get(entry.dtype, 0) + size
        if entry.kind == "parameter":
            trainable += entry.numel
    input_bytes: IntLike = 0
    for _, value, _ in graph.inputs:
        input_bytes = input_bytes + tensor_bytes(value.type)  # type: ignore[operator]
    macs: IntLike = 0
    flops: IntLike = 0
    acts: IntLike = 0
    for r in top:
        macs, flops, acts = macs + r.macs, flops + r.flops, acts + r.activation_bytes  # type: ignore[operator]
    return Summary(graph, layers, param_bytes, buffer_bytes, trainable, macs, flops, acts, input_bytes, not_counted)


def evaluate(d: IntLike, values: dict[str, int]) -> IntLike:
    """Bind symbols to numbers (`--set B=8`); what stays symbolic stays a formula."""
    return subs(d, values) if values else d  # type: ignore[arg-type]
