"""`netc summary`: per-layer parameters, FLOPs, MACs and memory as a table, JSON or CSV (dsl/cost.py adds up).

Figures are computed once on the network with its symbols left free (formulas in `B`, `T`, `H`, `W`) and then
evaluated with the `--set` values, so the JSON carries both the formula and the number.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from .dsl.compiler import Result, compile_source
from .dsl.cost import OPTIMIZER_STATES, LayerCost, Summary, evaluate, summarize
from .dsl.dims import IntLike
from .dsl.ir import Graph
from .dsl.source import Source

FORMATS = ("table", "json", "csv")


def _num(d: IntLike) -> int | str:
    return d if isinstance(d, int) else str(d)


def _si(d: IntLike, unit: str = "") -> str:
    """12,345,678 -> 12.35M; formulas print as they are."""
    if not isinstance(d, int):
        return str(d)
    for factor, prefix in ((10 ** 12, "T"), (10 ** 9, "G"), (10 ** 6, "M"), (10 ** 3, "k")):
        if abs(d) >= factor:
            return f"{d / factor:.2f}{prefix}{unit}"
    return f"{d}{unit if unit else ''}"


def _bytes(d: IntLike) -> str:
    if not isinstance(d, int):
        return f"{d} bytes"
    for factor, prefix in ((2 ** 30, "GiB"), (2 ** 20, "MiB"), (2 ** 10, "KiB")):
        if d >= factor:
            return f"{d / factor:.2f} {prefix}"
    return f"{d} B"


def _act(d: IntLike) -> str:
    """Activation bytes of a row: a size with its unit, or a formula in bytes (the header says so)."""
    return _bytes(d) if isinstance(d, int) else str(d)


class Report:
    """One network's summary with the `--set` values bound."""

    def __init__(self, summary: Summary, values: dict[str, int], optimizer: str) -> None:
        self.summary = summary
        self.values = values
        self.optimizer = optimizer

    @property
    def graph(self) -> Graph:
        return self.summary.graph

    def ev(self, d: IntLike) -> IntLike:
        return evaluate(d, self.values)

    def layer_dict(self, row: LayerCost) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": row.path, "op": row.op, "depth": row.depth, "params": row.params}
        for key in ("macs", "flops", "activation_bytes"):
            formula = getattr(row, key)
            out[key] = _num(self.ev(formula))
            out[key + "_formula"] = str(formula)
        if not row.counted:
            out["not_counted"] = row.note or "contains ops whose cost is not counted"
        return out

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        train = {k: _num(self.ev(v)) for k, v in s.training_bytes(self.optimizer).items()}
        return {
            "network": self.graph.name,
            "set": self.values,
            "params": self.graph.num_params,
            "param_bytes": s.param_bytes,
            "buffer_bytes": s.buffer_bytes,
            "macs": _num(self.ev(s.macs)), "macs_formula": str(s.macs),
            "flops": _num(self.ev(s.flops)), "flops_formula": str(s.flops),
            "activation_bytes": _num(self.ev(s.activation_bytes)),
            "activation_bytes_formula": str(s.activation_bytes),
            "training": {"optimizer": self.optimizer, **train},
            "not_counted": s.not_counted,
            "layers": [self.layer_dict(r) for r in s.layers],
        }

    def table(self) -> str:
        s = self.summary
        head = ("layer", "op", "params", "MACs", "FLOPs", "activations")
        rows = [head]
        for r in s.layers:
            rows.append(("  " * r.depth + r.path.rsplit(".", 1)[-1] if r.depth else r.path, r.op,
                         f"{r.params:,}" if r.params else "-", _si(self.ev(r.macs)) if r.macs else "-",
                         (_si(self.ev(r.flops)) if r.flops else "-") + ("" if r.counted else " *"),
                         _act(self.ev(r.activation_bytes)) if r.activation_bytes else "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        bound = ", ".join(f"{k}={v}" for k, v in self.values.items())
        lines = [f"network {self.graph.name}" + (f"  ({bound})" if bound else "")]
        rule = "  " + "  ".join("-" * w for w in widths)
        for i, row in enumerate(rows):
            cells = [f"{c:<{w}}" if j < 2 else f"{c:>{w}}" for j, (c, w) in enumerate(zip(row, widths))]
            lines.append(("  " + "  ".join(cells)).rstrip())
            if i == 0:
                lines.append(rule)
        lines.append(rule)
        mem = ", ".join(f"{dtype} {_bytes(b)}" for dtype, b in s.param_bytes.items()) or "none"
        buf = ", ".join(f"{dtype} {_bytes(b)}" for dtype, b in s.buffer_bytes.items())
        macs, flops = self.ev(s.macs), self.ev(s.flops)
        lines.append(f"  parameters: {self.graph.num_params:,} ({mem})" + (f"; buffers: {buf}" if buf else ""))
        lines.append(f"  forward MACs: {macs if not isinstance(macs, int) else f'{macs:,}'}")
        lines.append(f"  forward FLOPs: {flops if not isinstance(flops, int) else f'{flops:,}'}"
                     "  (2 per MAC + element-wise)")
        lines.append(f"  activations: {_bytes(self.ev(s.activation_bytes))}")
        t = s.training_bytes(self.optimizer)
        lines.append(f"  training memory ({self.optimizer}): {_bytes(self.ev(t['total']))} = weights "
                     f"{_bytes(t['weights'])} + gradients {_bytes(t['gradients'])} + optimizer state "
                     f"{_bytes(t['optimizer_state'])} + activations {_bytes(self.ev(t['activations']))}"
                     + (f" + buffers {_bytes(t['buffers'])}" if t["buffers"] else ""))
        if s.not_counted:
            lines.append("  * not counted: " + "; ".join(s.not_counted))
        return "\n".join(lines)


def build_reports(graphs: dict[str, Graph], values: dict[str, int], optimizer: str) -> list[Report]:
    return [Report(summarize(g), values, optimizer) for g in graphs.values()]


def render(reports: list[Report], fmt: str) -> str:
    if fmt == "json":
        data = [r.to_dict() for r in reports]
        return json.dumps(data[0] if len(data) == 1 else data, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        fields = ["network", "layer", "op", "depth", "params", "macs", "flops", "activation_bytes",
                  "macs_formula", "flops_formula", "activation_bytes_formula"]
        writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for r in reports:
            for row in r.summary.layers:
                writer.writerow({"network": r.graph.name, **r.layer_dict(row)})
        return buf.getvalue().rstrip("\n")
    return "\n\n".join(r.table() for r in reports)


def default_optimizer(result: Result) -> str:
    """The first `train` section's optimizer, else Adam."""
    for spec in result.trains:
        for call in spec.optimizers.values():
            name = call.name.lower()
            if name == "sgd":
                return "sgd-momentum" if call.args.get("momentum") else "sgd"
            if name in OPTIMIZER_STATES:
                return name
    return "adam"


def summarize_result(result: Result, source: Source, overrides: dict[str, int], network: str | None, fmt: str,
                     optimizer: str | None) -> str:
    """Re-elaborate with only the network parameters bound, so symbols stay formulas; bind them afterwards."""
    params = {k for g in result.graphs.values() for k in g.params}
    values = {k: v for k, v in overrides.items() if k not in params}
    graphs = result.graphs
    if values:
        free = compile_source(source, {k: v for k, v in overrides.items() if k in params}, network)
        if free.ok and list(free.graphs) == list(graphs):
            graphs = free.graphs
        else:  # the network needs the numbers to elaborate (a size that decides a branch): no formulas
            values = {}
    return render(build_reports(graphs, values, optimizer or default_optimizer(result)), fmt)
