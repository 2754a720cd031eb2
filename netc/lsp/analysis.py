"""One checked document as the language server sees it: the front end's result, every name resolved, and
the type of every bound name and chain step. No protocol types here (server.py converts), so the bench and
the server run the same code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dsl import ast
from ..dsl.astwalk import walk
from ..dsl.compiler import Result, compile_source
from ..dsl.diagnostics import Diagnostic
from ..dsl.dims import Dim
from ..dsl.ir import Module, OpNode, Value
from ..dsl.ops import REQUIRED, OpSpec, lookup
from ..dsl.source import Source, Span
from .positions import LineMap
from .symbols import Index, Occurrence, build_index

MAX_TYPES = 4  # distinct types kept per span: a block instantiated with many shapes shows a few


@dataclass
class Analysis:
    source: Source
    lines: LineMap
    result: Result
    index: Index | None
    # (start, end) in the main file -> the distinct type texts seen there (several for a block's body).
    types: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    nodes: list[OpNode | Module] = field(default_factory=list)  # the main file's layers, from every graph

    @property
    def program(self) -> ast.Program | None:
        return self.result.program


def analyze(path: str, text: str) -> Analysis:
    source = Source(path, text)
    types: dict[tuple[int, int], list[str]] = {}

    def observe(span: Span, value: Any) -> None:
        if span.source is not source:
            return
        label = type_text(value)
        if label is None:
            return
        seen = types.setdefault((span.start, span.end), [])
        if label not in seen and len(seen) < MAX_TYPES:
            seen.append(label)

    result = compile_source(source, observe=observe)
    index = build_index(result.program, result.definitions) if result.program is not None else None
    nodes: list[OpNode | Module] = []
    for graph in result.graphs.values():
        nodes.extend(n for n in graph.root.walk() if n.span.source is source)
    return Analysis(source, LineMap(text), result, index, types, nodes)


def type_text(value: Any) -> str | None:
    """How a value reads in a hover or hint: `f32[B, 128]`, a tuple of them, or a compile-time number."""
    if isinstance(value, Value):
        return str(value.type)
    if isinstance(value, tuple):
        parts = [type_text(v) for v in value]
        return None if any(p is None for p in parts) else "(" + ", ".join(parts) + ")"  # type: ignore[arg-type]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return repr(value)
    if value is None:
        return "none"
    if isinstance(value, Dim):
        return str(value)
    return None


# -- diagnostics ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """A diagnostic placed in the main file: its range, and its text as the CLI words it."""

    start: int
    end: int
    diagnostic: Diagnostic
    message: str
    related: list[tuple[Span, str]]


def problems(a: Analysis) -> list[Problem]:
    out = []
    for d in a.result.diagnostics.sorted():
        parts = [d.message]
        if d.label:
            parts[0] += f" ({d.label})" if d.span is not None else ""
        parts += [f"note: {n}" for n in d.notes]
        if d.help:
            parts.append(f"help: {d.help}")
        related = [(lab.span, lab.message) for lab in d.secondary]
        if d.span is None:
            start = end = 0
        elif d.span.source is a.source:
            start, end = d.span.start, max(d.span.end, d.span.start + 1)
        else:  # in an imported file: shown on the import that brings it in, located in the message
            start, end = _import_span(a, d.span)
            parts[0] = f"in {d.span.location()}: {parts[0]}"
            related.insert(0, (d.span, d.message))
        out.append(Problem(start, end, d, "\n".join(parts), related))
    return out


def _import_span(a: Analysis, span: Span) -> tuple[int, int]:
    program = a.program
    if program is not None:
        for imp in program.imports:
            if span.source.path.endswith(imp.path.lstrip("./")):
                return imp.span.start, imp.span.end
        if program.imports:
            return program.imports[0].span.start, program.imports[0].span.end
    return 0, 0


# -- hover ----------------------------------------------------------------------------------------
def hover(a: Analysis, offset: int) -> tuple[str, Occurrence] | None:
    """Markdown for what is under the cursor: a value's type, a layer's shapes and parameters, an op's
    documentation, a definition's signature."""
    if a.index is None:
        return None
    occ = a.index.at(offset)
    if occ is None:
        return None
    kind = occ.symbol[0]
    if kind == "op":
        spec = lookup(occ.symbol[1])
        assert spec is not None
        layer = _layer_at(a, occ.start)
        return _layer_text(layer) + op_doc(spec), occ
    if kind == "attr":
        spec = lookup(occ.symbol[1])
        at = spec.attr(occ.symbol[2]) if spec is not None else None
        return (f"`{occ.symbol[1]}` attribute `{occ.name}`: {at.doc}" if at else f"attribute `{occ.name}`"), occ
    if kind == "def":
        d = a.result.definitions.get(occ.name)
        if d is None:
            return None
        layer = _layer_at(a, occ.start) if not occ.binds else None
        return _layer_text(layer) + definition_text(a, d), occ
    if kind == "layer":
        node = next((n for n in a.nodes if n.named and n.name == occ.name), None)
        return (f"layer `{occ.name}`\n\n" + _layer_text(node).rstrip()) if node else f"layer `{occ.name}`", occ
    if kind == "local":
        found = _types_at(a, occ)
        what = _local_kind(a, occ)
        if not found:
            return f"{what} `{occ.name}`", occ
        return f"```netc\n{occ.name}: {' | '.join(found)}\n```\n{what}", occ
    return None


def _types_at(a: Analysis, occ: Occurrence) -> list[str]:
    exact = a.types.get((occ.start, occ.end))
    if exact:
        return exact
    # A parameter is observed over its whole declaration (`hidden: int = 128`).
    for (start, end), found in a.types.items():
        if start == occ.start and end > occ.end:
            return found
    return []


def _local_kind(a: Analysis, occ: Occurrence) -> str:
    d = a.result.definitions.get(occ.symbol[1])
    if d is None:
        return "value"
    if any(p.name == occ.name for p in d.params):
        return f"parameter of `{d.name}`"
    for node in walk(*d.body):
        if isinstance(node, ast.Input):
            if node.name == occ.name:
                return f"input of `{d.name}`"
            if any(isinstance(e, ast.Name) and e.id == occ.name for e in node.type.dims):
                return f"dimension of `{d.name}`, bound by the input `{node.name}`"
    return f"value in `{d.name}`"


def _layer_at(a: Analysis, offset: int) -> OpNode | Module | None:
    """The innermost layer whose call covers `offset`, from the first graph that has one."""
    best = None
    for n in a.nodes:
        if n.span.start <= offset < n.span.end and (best is None or n.span.end - n.span.start
                                                     < best.span.end - best.span.start):
            best = n
    return best


def _layer_text(node: OpNode | Module | None) -> str:
    if node is None:
        return ""
    ins = ", ".join(str(v.type) for v in node.inputs) or "-"
    outs = ", ".join(str(v.type) for v in node.outputs) or "-"
    lines = ["```netc", f"{node.path or '<root>'}: {ins} -> {outs}", "```"]
    if isinstance(node, OpNode):
        for pname, shape in node.params.items():
            tied = f" (tied to `{node.tied[pname]}`)" if pname in node.tied else ""
            lines.append(f"- `{pname}`: [{', '.join(str(d) for d in shape)}]{tied}")
        if node.params:
            lines.append(f"\n{node.num_params:,} parameters")
    else:
        lines.append(f"{node.num_params:,} parameters")
    return "\n".join(lines) + "\n\n---\n\n"


def op_doc(spec: type[OpSpec]) -> str:
    lines = [f"**{spec.name}** ({spec.family}): {spec.doc}", ""]
    if spec.aliases:
        lines += [f"also spelled: {', '.join(spec.aliases)}", ""]
    for at in spec.attrs:
        default = "required" if at.default is REQUIRED else f"= `{at.default!r}`"
        how = " (keyword)" if not at.positional else (" (...)" if at.variadic else "")
        lines.append(f"- `{at.name}` {default}{how}: {at.doc}")
    return "\n".join(lines)


def signature(d: ast.Definition) -> str:
    params = ", ".join(p.name + ": " + p.type_name + (f" = {p.default.span.text}" if p.default else "")
                       for p in d.params)
    return f"{d.kind} {d.name}" + (f"({params})" if d.params else "")


def definition_text(a: Analysis, d: ast.Definition) -> str:
    lines = ["```netc", signature(d), "```"]
    graph = a.result.graphs.get(d.name)
    if graph is not None:
        lines.append("inputs: " + ", ".join(f"`{n}: {v.type}`" for n, v, _ in graph.inputs))
        lines.append("\noutputs: " + ", ".join(f"`{n}: {v.type}`" for n, v in graph.outputs))
        lines.append(f"\n{graph.num_params:,} parameters")
    if d.span.source is not a.source:
        lines.append(f"\ndefined in {d.name_span.location()}")
    return "\n".join(lines)


# -- inlay hints and outline ----------------------------------------------------------------------
def inlay_hints(a: Analysis, start: int = 0, end: int | None = None) -> list[tuple[int, str]]:
    """`: f32[B, 128]` after each chain step whose type is the same in every instance."""
    if a.program is None:
        return []
    stop = len(a.source.text) if end is None else end
    out = []
    for node in walk(*a.program.definitions):
        if isinstance(node, ast.Definition):
            continue
        if isinstance(node, ast.Step) and start <= node.span.end <= stop:
            found = a.types.get((node.span.start, node.span.end))
            if found and len(found) == 1:
                out.append((node.span.end, f": {found[0]}"))
    return sorted(out)


@dataclass
class Outline:
    name: str
    kind: str  # "network", "block", "train", "import", "input", "output", "layer", "value"
    span: Span
    selection: Span
    detail: str = ""
    children: list[Outline] = field(default_factory=list)


def outline(a: Analysis) -> list[Outline]:
    program = a.program
    if program is None:
        return []
    items: list[Outline] = [Outline(i.path, "import", i.span, i.span) for i in program.imports]
    for d in program.definitions:
        item = Outline(d.name, d.kind, d.span, d.name_span, signature(d))
        for node in walk(*d.body):
            if isinstance(node, ast.Input):
                item.children.append(Outline(node.name, "input", node.span, node.name_span, node.type.span.text))
            elif isinstance(node, ast.StateDecl):
                item.children.append(Outline(node.name, node.kind, node.span, node.name_span, node.type.span.text))
            elif isinstance(node, ast.Output):
                for out in node.items:
                    name = out.name or out.value.span.text
                    item.children.append(Outline(name, "output", out.span, out.span))
            elif isinstance(node, ast.Step) and node.alias and node.alias_span is not None:
                item.children.append(Outline(node.alias, "layer", node.span, node.alias_span, node.expr.span.text))
        item.children.sort(key=lambda o: o.span.start)
        items.append(item)
    for t in program.trains:
        train = Outline(t.name, "train", t.span, t.name_span, "train")
        for e in t.entries:
            label = e.key + (f" {e.target}" if e.target else "")
            train.children.append(Outline(label, "setting", e.span, e.key_span, e.value.span.text))
        items.append(train)
    return sorted(items, key=lambda o: o.span.start)
