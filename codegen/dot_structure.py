"""The structure a diagram collapses: signatures of block instances modulo their names, runs of identical
consecutive repeats in a sequential (drawn once, marked ×N), and the names a reader needs inside a cluster.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..dsl.dims import Dim
from ..dsl.ir import Module, OpNode, Value
from ..dsl.types import TensorType


# -- structure: runs of identical repeats --------------------------------------------------------------
def _canon(v: Any) -> Any:
    if isinstance(v, Dim):
        return ("dim", str(v))
    if isinstance(v, (tuple, list)):
        return tuple(_canon(x) for x in v)
    if isinstance(v, TensorType):
        return ("t", str(v))
    return (type(v).__name__, repr(v))


def signature(item: OpNode | Module) -> tuple[Any, ...]:
    """The structure of an instance, modulo its own name: two instances with equal signatures are the
    same block definition with the same arguments, layers, attributes, shapes and internal wiring."""
    local: dict[int, Any] = {v.id: ("in", k) for k, v in enumerate(item.inputs)}
    out: list[Any] = []

    def ref(v: Value) -> Any:
        return local.get(v.id, ("outside", v.id))

    def visit(x: OpNode | Module, top: bool) -> None:
        name = None if top else x.name
        if isinstance(x, OpNode):
            out.append(("op", name, x.op, tuple((k, _canon(v)) for k, v in x.attrs.items()),
                        tuple(ref(v) for v in x.inputs), tuple(_canon(v.type) for v in x.outputs),
                        tuple((k, _canon(s)) for k, s in x.params.items())))
            for i, v in enumerate(x.outputs):
                local[v.id] = ("node", len(out) - 1, i)
            return
        out.append(("module", name, x.kind, x.definition, tuple((k, _canon(v)) for k, v in x.args.items()),
                    len(x.body)))
        for child in x.body:
            visit(child, False)
        out.append(("outputs", tuple(ref(v) for v in x.outputs)))

    visit(item, True)
    return tuple(out)


def runs(mod: Module, expand: bool = False) -> list[list[OpNode | Module]]:
    """The body of `mod` grouped into runs: consecutive identical items of a sequential, each fed by the
    previous one, form one run (drawn once, marked ×N); everything else is a run of one."""
    out: list[list[OpNode | Module]] = []
    sig: tuple[Any, ...] | None = None
    for item in mod.body:
        if not expand and mod.kind == "sequential" and out:
            prev = out[-1][-1]
            chained = [v.id for v in item.inputs] == [v.id for v in prev.outputs]
            if chained:
                if sig is None:
                    sig = signature(out[-1][0])
                if signature(item) == sig:
                    out[-1].append(item)
                    continue
        out.append([item])
        sig = None
    return out


def local_name(item: OpNode | Module) -> str:
    """The name a reader needs inside the enclosing cluster: `conv1`, `downsample`, and for the indexed
    items of a sequential the container's name too (`layer1.0`, `features.3`), as in state_dict keys."""
    parent = item.parent
    if parent is not None and parent.kind == "sequential" and parent.name:
        return f"{parent.name}.{item.name}"
    return item.name


def _run_name(run: Sequence[OpNode | Module]) -> str:
    """`layer1.0`, or `layer1.0–1` for a collapsed run of repeats."""
    name = local_name(run[0])
    return name if len(run) == 1 else f"{name}–{run[-1].name}"
