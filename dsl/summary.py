"""The `netc check` table: one row per layer with its state_dict path, op, output shape and parameters."""
from __future__ import annotations

from .ir import Graph, Module, OpNode, StateNode


def _shape(node: OpNode | Module) -> str:
    outs = node.outputs
    if not outs:
        return "-"
    return ", ".join(o.type.shape_str() for o in outs) if len(outs) > 1 else outs[0].type.shape_str()


def rows(graph: Graph) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    for name, value, _ in graph.inputs:
        fill = graph.input_defaults.get(name)
        out.append((name, f"input = {fill.fill}" if fill else "input", str(value.type), "-"))  # `= randn`: optional
    _state_rows(graph.root, out)
    for item in graph.root.walk():
        if isinstance(item, OpNode):
            count = f"{item.num_params:,}" if item.params else "-"
            if item.tied:  # a tied weight is counted at its owner (like torch's parameters())
                count = (f"{item.num_params:,} + " if item.num_params else "") + \
                    "tied " + ", ".join(sorted(set(item.tied.values())))
            out.append((item.path, item.op, _shape(item), count))
        elif item.kind == "block" or item.kind == "network":
            out.append((item.path, str(item.definition), _shape(item), f"({item.num_params:,})"))
        if isinstance(item, Module):
            _state_rows(item, out)
    return out


def _state_rows(mod: Module, out: list[tuple[str, str, str, str]]) -> None:
    """The parameters and buffers a module declares (`param`, `buffer`), listed where its rows start."""
    for s in mod.state:
        out.append((s.path, _state_kind(s), s.type.shape_str(), f"{s.num_params:,}" if s.num_params else "-"))


def _state_kind(s: StateNode) -> str:
    if s.kind == "parameter":
        return "param"
    return "buffer" if s.persistent else "buffer (not saved)"


def format_table(graph: Graph) -> str:
    table = [("layer", "op", "output shape", "params")] + rows(graph)
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = [f"network {graph.name}" + (f"({', '.join(f'{k}={v!r}' for k, v in graph.params.items())})"
                                        if graph.params else "")]
    for i, r in enumerate(table):
        lines.append(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}".rstrip())
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    lines.append("  " + "  ".join("-" * w for w in widths))
    outs = ", ".join(f"{n}: {v.type}" for n, v in graph.outputs)
    lines.append(f"  outputs: {outs}")
    sd = graph.state_dict()
    n_buf = sum(e.numel for e in sd if e.kind == "buffer")
    lines.append(f"  total parameters: {graph.num_params:,}" + (f"  (buffers: {n_buf:,} elements)" if n_buf else ""))
    if graph.constraints:
        lines.append("  assumes: " + ", ".join(c.text for c in graph.constraints))
    return "\n".join(lines)
