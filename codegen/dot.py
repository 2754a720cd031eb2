"""Architecture diagrams: the typed IR drawn with Graphviz (`netc viz`, and the `dot` backend).

Everything comes from the IR; nothing runs. One node per layer (op, key attributes, parameter count),
edges labelled with the tensor shape (symbolic where symbolic), a cluster per block instance and
sequential container, identical consecutive repeats in a sequential collapsed to one cluster marked ×N,
and `depth` to draw deeply nested modules as single nodes with their total parameters.

Escaping, the one rule: every label is an HTML-like label assembled from :func:`_h`-escaped text, and
every node or cluster id comes from :func:`_ident`, which keeps only ``[A-Za-z0-9_.]`` and hex-encodes
everything else. So no layer name, unicode identifier or string argument can close a label, open a tag,
or inject DOT statements. (The ``graphviz`` package passes a string that starts with ``<`` and ends
with ``>`` through unquoted as HTML, which is why plain-text labels are never handed to it raw.)

The ``graphviz`` package is imported inside the functions that build or render, so importing this
module costs nothing for `netc check`.
"""
from __future__ import annotations

import html
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ..dsl.dims import Dim
from ..dsl.ir import Graph, Module, OpNode, StateNode, Value
from ..dsl.ops import REQUIRED, lookup
from ..dsl.types import TensorType
from .base import GeneratedCode

if TYPE_CHECKING:
    import graphviz

    from ..dsl.compiler import Result

FORMATS = ("svg", "png", "pdf", "dot")
RANKDIRS = ("TB", "LR")
PNG_DPI = 150  # sharp enough for slides and print; SVG and PDF are vector and need none

INSTALL_HINT = ("install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
                "(macOS) or `conda install graphviz` (conda)")


# Associative elementwise ops whose chains (`a + b + c + ...`) are drawn as one n-ary node.
NARY_OPS = frozenset({"add", "mul"})


class DotNotFound(RuntimeError):
    """The Graphviz `dot` program is not on PATH, so only DOT text can be produced."""

    def __init__(self) -> None:
        super().__init__(f"the Graphviz `dot` program was not found on PATH; {INSTALL_HINT}")


# -- style ------------------------------------------------------------------------------------------
FONT = "Helvetica,Arial,sans-serif"
INK = "#333333"
MUTED = "#6b6b6b"
EDGE = "#5c5c5c"
SKIP_EDGE = "#c0504d"  # residual/skip connections: the one accent colour of the picture

# Op family -> (fill, border). Muted fills so that black text stays readable in print and in greyscale.
FAMILY_COLOURS: dict[str, tuple[str, str]] = {
    "conv": ("#d6e4f5", "#5b84b1"),
    "linear": ("#e3dcf0", "#7d6aa8"),
    "norm": ("#fbefc9", "#c9a437"),
    "activation": ("#dcefd6", "#6aa25a"),
    "pool": ("#d3ebeb", "#4f9a9a"),
    "regularization": ("#ececec", "#9a9a9a"),
    "tensor": ("#f6f6f6", "#a8a8a8"),
    "arithmetic": ("#f9dcc8", "#d07a3c"),
    "recurrent": ("#f4d3d3", "#b55c5c"),
    "attention": ("#f1d6e6", "#a8608a"),
}
OTHER_COLOURS = ("#ffffff", "#8c8c8c")
MODULE_COLOURS = ("#ffffff", "#555555")  # a block drawn as one node (--depth)
BLOCK_LEGEND = "block (as one node)"
IO_COLOURS = ("#3a3a3a", "#ffffff", "#c8c8c8")  # fill, text, the small "input" tag


# -- escaping ---------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ID_CHAR = re.compile(r"[^A-Za-z0-9_.]")


def _visible(text: str) -> str:
    """Control characters (a newline inside a string argument) shown as escapes, so a label stays one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _h(text: object) -> str:
    """Text for inside an HTML-like label: control characters made visible, then &, <, >, quotes escaped."""
    return html.escape(_visible(str(text)), quote=True)


def _ident(*parts: str) -> str:
    """A DOT id from IR names: [A-Za-z0-9_.] kept, every other character hex-encoded as `-hh-`.

    `-` itself is encoded, and the parts are joined with `/`, which is encoded inside a part too, so
    distinct names always give distinct ids.
    """
    return "/".join(_ID_CHAR.sub(lambda m: f"-{ord(m.group()):x}-", p) for p in parts)


def _font(text: str, size: float | None = None, colour: str | None = None) -> str:
    if not text:
        return ""  # Graphviz rejects an empty <FONT></FONT> as a syntax error
    attrs = (f' POINT-SIZE="{size:g}"' if size else "") + (f' COLOR="{colour}"' if colour else "")
    return f"<FONT{attrs}>{text}</FONT>" if attrs else text


def _label(lines: Iterable[str]) -> str:
    """An HTML-like label from already-escaped lines."""
    return "<" + "<BR/>".join(lines) + ">"


# -- text of values, shapes and attributes ------------------------------------------------------------
def _value_text(v: Any) -> str:
    """A parameter or attribute value as it would be written in a .net file (unescaped)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        return repr(v)  # 0.0 stays 0.0, 1e-05 stays 1e-05: as written in a .net file
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_value_text(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return str(v)


def _compact(v: Any) -> str:
    """(2, 2) -> 2, (2, 1) -> 2×1: how papers write strides and paddings."""
    if isinstance(v, tuple):
        if len(set(map(str, v))) == 1:
            return _value_text(v[0])
        return "×".join(_value_text(x) for x in v)
    return _value_text(v)


def shape_text(t: TensorType) -> str:
    """An edge label: the shape with symbolic dims as `str(dim)`; the dtype only when it is not f32."""
    shape = "(" + ", ".join(str(d) for d in t.dims) + ")"
    return shape if t.dtype == "f32" else f"{t.dtype} {shape}"


def _count(n: int) -> str:
    return f"{n:,}"


def _params_text(n: int, times: int = 1) -> str:
    if times > 1:
        return f"{times} × {_count(n)} params"
    return f"{_count(n)} param{'s' if n != 1 else ''}"


# Attributes that read better with a word than as name=value; `None` means "shown in the head part".
_ATTR_WORDS: dict[str, str | None] = {
    "stride": "stride {}", "padding": "pad {}", "dilation": "dilation {}", "groups": "groups {}",
    "output_padding": "out pad {}", "kernel_size": None, "out_channels": None, "in_channels": None,
    "out_features": None, "in_features": None, "num_features": None, "normalized_shape": None,
    "num_embeddings": None, "embedding_dim": None, "output_size": None, "shape": None, "dims": None,
}


def _default(spec: Any, name: str) -> Any:
    at = spec.attr(name)
    if at is None or at.default is REQUIRED:
        return REQUIRED
    try:
        return at.coerce(at.default)
    except Exception:  # noqa: BLE001 - a default that does not coerce is simply "no default to hide"
        return REQUIRED


def key_attributes(node: OpNode) -> list[str]:
    """The attributes a reader needs, most telling first; defaults are left out (unescaped text)."""
    a = node.attrs
    spec = lookup(node.op)
    parts: list[str] = []
    if "out_channels" in a:
        parts.append(f"{_value_text(a.get('in_channels'))}→{_value_text(a['out_channels'])}")
    elif "out_features" in a:
        parts.append(f"{_value_text(a.get('in_features'))}→{_value_text(a['out_features'])}")
    elif "num_embeddings" in a:
        parts.append(f"{_value_text(a['num_embeddings'])}×{_value_text(a['embedding_dim'])}")
    elif "num_features" in a:
        parts.append(_value_text(a["num_features"]))
    elif "normalized_shape" in a:
        parts.append(_compact(a["normalized_shape"]))
    if "kernel_size" in a:
        ks = a["kernel_size"]
        parts.append("×".join(_value_text(k) for k in ks) if isinstance(ks, tuple) else _value_text(ks))
    if "output_size" in a:
        size = a["output_size"]
        parts.append("→ " + ("×".join(_value_text(x) for x in size) if isinstance(size, tuple) else _value_text(size)))
    if "shape" in a:
        parts.append(_value_text(tuple(a["shape"])))
    if "dims" in a:
        parts.append(_value_text(tuple(a["dims"])))
    for name, value in a.items():
        if (name in _ATTR_WORDS and _ATTR_WORDS[name] is None) or name == "tied":
            continue  # shown above, or (tied) on the parameter line
        if spec is not None:
            default = _default(spec, name)
            if default is not REQUIRED and _same(value, default):
                continue
            if name == "stride" and spec.family == "pool" and _same(value, a.get("kernel_size")):
                continue  # torch's pooling stride defaults to the kernel size
        if name == "bias" and value is False:
            parts.append("no bias")
        elif name in _ATTR_WORDS:
            parts.append(str(_ATTR_WORDS[name]).format(_compact(value)))
        elif spec is not None and _default(spec, name) is REQUIRED:
            parts.append(_compact(value))  # required attributes read as torch writes them: split(768, dim=2)
        else:
            parts.append(f"{name}={_compact(value)}")
    return parts


def _same(a: Any, b: Any) -> bool:
    return _value_text(a) == _value_text(b)


def _wrap(parts: list[str], width: int = 34) -> list[str]:
    """Join attribute parts with ', ' into lines of about `width` characters."""
    lines: list[str] = []
    cur = ""
    for p in parts:
        if cur and len(cur) + 2 + len(p) > width:
            lines.append(cur + ",")
            cur = p
        else:
            cur = f"{cur}, {p}" if cur else p
    if cur:
        lines.append(cur)
    return lines


def module_args(mod: Module) -> str:
    """The arguments the instance was given (`cout=128, stride=2`), not the symbols bound from shapes."""
    return ", ".join(f"{k}={_value_text(v)}" for k, v in mod.args.items() if k in mod.arg_source)


def module_title(mod: Module) -> str:
    """`BasicBlock(cout=128, stride=2)` for a block instance, `Sequential` for a container (unescaped)."""
    if mod.kind == "sequential":
        return "Sequential"
    args = module_args(mod)
    return f"{mod.definition}({args})" if args else str(mod.definition)


def network_title(graph: Graph) -> str:
    args = ", ".join(f"{k}={_value_text(v)}" for k, v in graph.params.items())
    return f"{graph.name}({args})" if args else graph.name


def _family(op: str) -> str:
    spec = lookup(op)
    return getattr(spec, "family", "other") if spec is not None else "other"


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


# -- the builder ----------------------------------------------------------------------------------------
@dataclass
class _Edge:
    tail: str
    head: str
    value: Value | None  # None: from a junction to one of its consumers (the shape is on the way in)
    skip: bool = False


@dataclass
class _Cluster:
    """A block instance or sequential container drawn as a cluster; `run` holds the repeats it stands for."""

    module: Module
    run: list[OpNode | Module]
    items: list[Any] = field(default_factory=list)  # _Cluster, or ("op" | "module", node, run)
    junctions: list[tuple[str, Value]] = field(default_factory=list)


@dataclass
class _Drawing:
    """One network's diagram: a plan of clusters and nodes, then the edges between what is drawn.

    Hidden repeats (all but the first of a ×N run) alias their ops to the first instance's, so the
    edge out of a collapsed run leaves from the first instance, as if the run were one block.
    """

    graph: Graph
    prefix: tuple[str, ...]
    depth: int | None
    expand: bool
    alias: dict[int, OpNode] = field(default_factory=dict)  # id(op) of a hidden repeat -> counterpart
    drawn_as: dict[int, str] = field(default_factory=dict)  # id(op) -> node id (itself or its summary)
    context: dict[str, Module] = field(default_factory=dict)  # node id -> the module whose cluster holds it
    clusters: list[_Cluster] = field(default_factory=list)
    # Values with no producer and no network input (a block's optional input made at run time), with the
    # module that uses them: drawn inside that module's cluster.
    loose: list[tuple[str, Value, Module]] = field(default_factory=list)
    families: set[str] = field(default_factory=set)
    top: _Cluster | None = None

    def nid(self, kind: str, name: str) -> str:
        """`op-layer1.0.conv1`; the kind prefixes are ours, so inputs, ops and outputs never collide."""
        return "".join(_ident(p) + "/" for p in self.prefix) + f"{kind}-{_ident(name)}"

    def cluster_id(self, path: str) -> str:
        return "cluster-" + "".join(_ident(p) + "/" for p in self.prefix) + _ident(path)

    # planning --------------------------------------------------------------------------------------
    def plan(self) -> _Cluster:
        root = self.graph.root
        self.top = _Cluster(root, [root])
        for name, _v, _span in self.graph.inputs:
            self.context[self.nid("in", name)] = root
        for name, _v in self.graph.outputs:
            self.context[self.nid("out", name)] = root
        self._plan_body(self.top, 0)
        return self.top

    def _plan_body(self, cluster: _Cluster, level: int) -> None:
        mod = cluster.module
        for run in self._nary(runs(mod, self.expand)):
            first = run[0]
            if isinstance(first, OpNode) and len(run) > 1 and id(run[1]) in self.chained:
                nid = self.nid("op", run[-1].path)  # an n-ary sum or product: one node for the whole chain
                for op in run:
                    self.drawn_as[id(op)] = nid
                self.context[nid] = mod
                self.families.add(_family(first.op))
                cluster.items.append(("nary", run[-1], run))
                continue
            for other in run[1:]:
                self._hide(other, first)
            if isinstance(first, OpNode):
                nid = self.nid("op", first.path)
                self.drawn_as[id(first)] = nid
                self.context[nid] = mod
                self.families.add(_family(first.op))
                cluster.items.append(("op", first, run))
            elif self.depth is not None and level + 1 > self.depth:
                nid = self.nid("mod", first.path)
                for op in first.op_nodes():
                    self.drawn_as[id(op)] = nid
                self.context[nid] = mod
                self.families.add(BLOCK_LEGEND)
                cluster.items.append(("module", first, run))
            else:
                sub = _Cluster(first, run)
                self.clusters.append(sub)
                cluster.items.append(sub)
                self._plan_body(sub, level + 1)

    def _nary(self, body_runs: list[list[OpNode | Module]]) -> list[list[OpNode | Module]]:
        """Merge chains of one associative op (`a + b + c + ...`, parsed as nested binary adds) into one run,
        drawn as one node with every term as an input: 80 terms as 79 stacked nodes took Graphviz minutes.
        A link of the chain is an op whose result only the next link reads."""
        if not hasattr(self, "use_count"):
            self.use_count: dict[int, int] = {}
            for op in self.graph.op_nodes():
                for v in op.inputs:
                    self.use_count[v.id] = self.use_count.get(v.id, 0) + 1
            for _name, v in self.graph.outputs:
                self.use_count[v.id] = self.use_count.get(v.id, 0) + 2  # an output is seen: never folded
            self.chained: set[int] = set()
        out: list[list[OpNode | Module]] = []
        for run in body_runs:
            item = run[0]
            prev = out[-1][-1] if out else None
            if (len(run) == 1 and isinstance(item, OpNode) and item.op in NARY_OPS and isinstance(prev, OpNode)
                    and prev.op == item.op and len(prev.outputs) == 1
                    and any(v.id == prev.outputs[0].id for v in item.inputs)
                    and self.use_count.get(prev.outputs[0].id) == 1
                    and (len(out[-1]) == 1 or id(out[-1][1]) in self.chained)):
                out[-1].append(item)
                self.chained.add(id(item))
                continue
            out.append(run)
        return out

    def _hide(self, other: OpNode | Module, first: OpNode | Module) -> None:
        """Draw `other` (a later identical repeat) as `first`: pair their ops in execution order."""
        a = [first] if isinstance(first, OpNode) else list(first.op_nodes())
        b = [other] if isinstance(other, OpNode) else list(other.op_nodes())
        for x, y in zip(a, b):
            self.alias[id(y)] = x

    def resolve(self, op: OpNode) -> str:
        while id(op) in self.alias:  # aliases point to earlier repeats, so this ends
            op = self.alias[id(op)]
        return self.drawn_as[id(op)]

    # edges -----------------------------------------------------------------------------------------
    def edges(self) -> list[_Edge]:
        """Every drawn edge, in execution order of the consumers.

        A block input used by several layers of the block (ResNet's `x`, feeding `conv1` and the `y + x`
        shortcut) enters the block's cluster once, at a junction point, and fans out inside: so the
        shortcut runs inside its block instead of looping around the cluster borders.
        """
        produced: dict[int, OpNode] = {}
        for op in self.graph.op_nodes():
            for v in op.outputs:
                produced[v.id] = op
        inputs = {v.id: self.nid("in", name) for name, v, _ in self.graph.inputs}

        def source(v: Value, where: Module) -> str:
            if v.id in produced:
                return self.resolve(produced[v.id])
            if v.id in inputs:
                return inputs[v.id]
            # A value made outside any layer (an optional input filled at run time, a declared parameter or
            # buffer): its own small node, in the module that owns it.
            nid = self.nid("value", f"{v.name}.{len(self.loose)}")
            owner = v.producer.parent if isinstance(v.producer, StateNode) else None
            self.loose.append((nid, v, owner or where))
            inputs[v.id] = nid
            return nid

        uses: list[tuple[str, Value]] = []
        for op in self.graph.op_nodes():
            if id(op) in self.alias:
                continue  # a hidden repeat: its inputs come from the previous repeat
            head = self.drawn_as[id(op)]
            uses.extend((head, v) for v in op.inputs)
        uses.extend((self.nid("out", name), v) for name, v in self.graph.outputs)

        junction: dict[tuple[int, int], str] = {}  # (id(module), value id) -> junction node id
        for cl in self.clusters:
            if cl.module.kind != "block":
                continue
            for k, v in enumerate(cl.module.inputs):
                heads = {h for h, u in uses if u.id == v.id and _inside(self.context[h], cl.module)}
                if len(heads) >= 2:
                    jid = self.nid("join", f"{cl.module.path}.input{k}")
                    junction[(id(cl.module), v.id)] = jid
                    self.context[jid] = cl.module
                    cl.junctions.append((jid, v))

        out: list[_Edge] = []
        seen: set[tuple[str, str, int]] = set()

        def tail_for(v: Value, where: Module | None) -> str:
            """The innermost junction of `v` around `where`, fed from further out; else the producer."""
            m = where
            while m is not None:
                jid = junction.get((id(m), v.id))
                if jid is not None:
                    add(tail_for(v, m.parent), jid, v)
                    return jid
                m = m.parent
            return source(v, where if where is not None else self.graph.root)

        def add(tail: str, head: str, v: Value) -> None:
            key = (tail, head, v.id)
            if tail != head and key not in seen:
                seen.add(key)
                out.append(_Edge(tail, head, None if tail in junction.values() else v))

        for head, v in uses:
            add(tail_for(v, self.context[head]), head, v)
        _mark_skips(out)
        return out


def _emit(d: _Drawing, g: graphviz.Digraph, cluster: _Cluster) -> None:
    """Nodes and nested clusters of one planned cluster (the top one is the graph itself)."""
    for jid, _v in cluster.junctions:
        g.node(jid, "", shape="point", width="0.07", height="0.07", style="filled", color=EDGE,
               fillcolor=EDGE)
    for nid, value, where in d.loose:
        if where is cluster.module and cluster is not d.top:
            _loose_node(g, nid, value, where)
    for item in cluster.items:
        if isinstance(item, _Cluster):
            with g.subgraph(name=d.cluster_id(item.module.path)) as c:
                c.attr(label=_cluster_label(item.module, item.run), **_cluster_style(item.module, len(item.run)))
                _emit(d, c, item)
            continue
        kind, node, run = item
        if kind == "nary":
            fill, border = FAMILY_COLOURS.get(_family(node.op), OTHER_COLOURS)
            terms = len({v.id for op in run for v in op.inputs} - {op.outputs[0].id for op in run})
            g.node(d.drawn_as[id(node)], _label([f"<B>{_h(node.op)}</B> of {terms} terms"]),
                   fillcolor=fill, color=border)
        elif kind == "op":
            fill, border = FAMILY_COLOURS.get(_family(node.op), OTHER_COLOURS)
            g.node(d.drawn_as[id(node)], _op_label(node, run), fillcolor=fill, color=border)
        else:
            g.node(d.nid("mod", node.path), _module_label(node, run), shape="box3d", style="filled",
                   margin="0.16,0.09",
                   fillcolor=MODULE_COLOURS[0], color=MODULE_COLOURS[1])


def _loose_node(g: graphviz.Digraph, nid: str, value: Value, where: Module) -> None:
    """An optional input filled at run time: `eps = randn` with its type, in the module that takes it."""
    fill = getattr(getattr(where, "input_defaults", {}).get(value.name), "fill", None)
    name = f"{value.name} = {fill}" if fill else value.name
    if isinstance(value.producer, StateNode):  # `param class_token: ...`: its kind and initializer
        state = value.producer
        name = f"{'param' if state.kind == 'parameter' else 'buffer'} {value.name} = {state.init.kind}"
    g.node(nid, _label([f"<B>{_h(name)}</B>", _font(_h(str(value.type)), 9)]), shape="ellipse",
           style="filled", fillcolor="#ffffff", color=MUTED)


def _draw(d: _Drawing, g: graphviz.Digraph) -> bool:
    """Plan, then emit inputs, body, outputs and edges of one network into `g`; True if it has skips."""
    top = d.plan()
    edges = d.edges()
    for name, value, _span in d.graph.inputs:
        g.node(d.nid("in", name), _io_label("input", name, value.type), **_io_style())
    _emit(d, g, top)
    drawn = {id(cl.module) for cl in d.clusters}
    for nid, value, where in d.loose:
        if id(where) not in drawn:
            _loose_node(g, nid, value, where)
    for name, value in d.graph.outputs:
        g.node(d.nid("out", name), _io_label("output", name, value.type), **_io_style())
    for e in edges:
        attrs: dict[str, str] = {}
        if e.value is not None:
            attrs["label"] = _label([_h(shape_text(e.value.type))])
        if e.skip:
            # Weight 1 (the main path has 4): low enough for the main path to stay straight, high enough
            # that long skips (U-Net) keep straight and nest instead of wandering between ranks.
            attrs.update(color=SKIP_EDGE, fontcolor=SKIP_EDGE, penwidth="1.3", weight="1")
        else:
            attrs["weight"] = "4"
        g.edge(e.tail, e.head, **attrs)
    return any(e.skip for e in edges)


def _inside(m: Module | None, outer: Module) -> bool:
    while m is not None:
        if m is outer:
            return True
        m = m.parent
    return False


def _mark_skips(edges: list[_Edge]) -> None:
    """Mark the shortcut inputs of merge nodes: where a node has several incoming edges, those whose
    source is fewer steps from the inputs than the longest are skip (residual) connections. This holds
    for `y + x` (ResNet) and `x + f(x)` (transformers) alike, whatever the operand order."""
    level: dict[str, int] = {}
    for e in edges:  # edges are in execution order of their heads, so tails are final when read
        level[e.head] = max(level.get(e.head, 0), level.get(e.tail, 0) + 1)
    incoming: dict[str, list[_Edge]] = {}
    for e in edges:
        incoming.setdefault(e.head, []).append(e)
    for group in incoming.values():
        tails = {e.tail for e in group}
        if len(tails) < 2:
            continue
        longest = max(level.get(e.tail, 0) for e in group)
        for e in group:
            if level.get(e.tail, 0) < longest:
                e.skip = True


# -- labels and styles ------------------------------------------------------------------------------------
def _display_name(node: OpNode) -> str | None:
    """Layers with parameters, a user-given name or a sequential index show it (it is their state_dict
    key); generated names of stateless layers (`relu3`) are noise and are left out."""
    if (node.parent is not None and node.parent.kind == "sequential") or node.named or node.params:
        return local_name(node)
    return None


def _op_label(node: OpNode, run: Sequence[OpNode | Module] = ()) -> str:
    times = max(1, len(run))
    head = f"<B>{_h(node.op)}</B>"
    name = _display_name(node)
    if name and times > 1:
        name = _run_name(run)
    if name:
        head += f" {_font(_h(name), colour=MUTED)}"
    if times > 1:
        head += f" <B>×{times}</B>"
    lines = [head]
    lines += [_font(_h(line), 9) for line in _wrap(key_attributes(node))]
    tied: dict[str, str] = getattr(node, "tied", None) or {}
    if node.params and node.num_params:
        lines.append(_font(_h(_params_text(node.num_params, times)), 9, MUTED))
    for pname, key in tied.items():
        lines.append(_font(_h(f"{pname} tied to {key}"), 9, MUTED))
    return _label(lines)


def _io_label(kind: str, name: str, t: TensorType) -> str:
    return _label([_font(_h(kind), 8, IO_COLOURS[2]), f"<B>{_h(name)}</B>", _font(_h(str(t)), 9)])


def _io_style() -> dict[str, str]:
    return {"shape": "box", "style": "rounded,filled", "fillcolor": IO_COLOURS[0], "color": IO_COLOURS[0],
            "fontcolor": IO_COLOURS[1], "margin": "0.14,0.06"}


def _module_label(mod: Module, run: list[OpNode | Module]) -> str:
    head = f"<B>{_h(_run_name(run))}</B>" + (f" <B>×{len(run)}</B>" if len(run) > 1 else "")
    return _label([head, _font(_h(_summary_kind(mod)), 9),
                   _font(_h(_params_text(mod.num_params, len(run))), 9, MUTED)])


def _summary_kind(mod: Module) -> str:
    """`BasicBlock(cout=64)` for a block; `Sequential: BasicBlock ×2` or `Sequential: 27 layers` for a container."""
    if mod.kind != "sequential":
        return module_title(mod)
    kinds: list[list[Any]] = []
    for item in mod.body:
        kind = item.op if isinstance(item, OpNode) else (item.definition or "Sequential")
        if kinds and kinds[-1][0] == kind:
            kinds[-1][1] += 1
        else:
            kinds.append([kind, 1])
    if len(kinds) <= 3:
        return "Sequential: " + ", ".join(f"{k} ×{n}" if n > 1 else str(k) for k, n in kinds)
    return f"Sequential: {len(mod.body)} layers"


def _cluster_label(mod: Module, run: list[OpNode | Module]) -> str:
    """Name, type and parameters on three short left-aligned lines, so edges entering the cluster at
    its centre line do not run through the title."""
    times = len(run)
    head = f"<B>{_h(_run_name(run))}</B>" + (f"  <B>×{times}</B>" if times > 1 else "")
    rows = [head, _h(mod.definition if mod.kind == "block" else "Sequential")]
    args = module_args(mod)
    if args:
        rows.append(_font(_h(args), 9))
    rows.append(_font(_h(_params_text(mod.num_params, times)), 9, MUTED))
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
            + "".join(f'<TR><TD ALIGN="LEFT">{r}</TD></TR>' for r in rows) + "</TABLE>>")


def _cluster_style(mod: Module, times: int) -> dict[str, str]:
    style = {"labeljust": "l", "fontsize": "10", "margin": "10"}
    if mod.kind == "sequential":
        style.update(style="rounded,dashed", color="#9a9a9a", fillcolor="none", penwidth="1")
    else:
        style.update(style="rounded,filled", color="#8a8a8a", fillcolor="#f7f7f7", penwidth="1")
    if times > 1:
        style.update(penwidth="2.2", color="#555555")
    return style


def _legend(families: Iterable[str], skips: bool) -> str:
    cells = []
    for fam in sorted(families):
        fill, border = MODULE_COLOURS if fam == BLOCK_LEGEND else FAMILY_COLOURS.get(fam, OTHER_COLOURS)
        cells.append(f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="1" CELLPADDING="3">'
                     f'{_font(_h(fam), 9)}</TD>')
    if skips:
        cells.append(f'<TD BORDER="0" CELLPADDING="3">{_font(_h("→ skip connection"), 9, SKIP_EDGE)}</TD>')
    if not cells:
        return ""
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0"><TR>' + "".join(cells)
            + "</TR></TABLE>")


def _title(graph: Graph, size: float) -> list[str]:
    name = _h(graph.name)
    args = _h(network_title(graph)[len(graph.name):])
    buffers = sum(e.numel for e in graph.state_dict() if e.kind == "buffer")
    stats = f"{_count(graph.num_params)} parameters" + (f" · {_count(buffers)} buffer elements" if buffers else "")
    return [f'{_font(f"<B>{name}</B>", size)}{_font(args, size * 0.75)}', _font(_h(stats), size * 0.65, MUTED)]


def _table(rows: list[str]) -> str:
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">'
            + "".join(f"<TR><TD>{r}</TD></TR>" for r in rows) + "</TABLE>>")


# -- public API ---------------------------------------------------------------------------------------------
def build(graphs: Graph | Sequence[Graph], *, depth: int | None = None, expand: bool = False,
          rankdir: str = "TB", dpi: int | None = None, title: str | None = None) -> graphviz.Digraph:
    """The diagram as a `graphviz.Digraph`. Several graphs are drawn side by side, one cluster each."""
    import graphviz

    graph_list = [graphs] if isinstance(graphs, Graph) else list(graphs)
    if not graph_list:
        raise ValueError("no network to draw")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be at least 0, got {depth}")
    single = len(graph_list) == 1
    g = graphviz.Digraph(name=_ident(graph_list[0].name if single else "networks"))
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="11", fontcolor=INK, labelloc="t", labeljust="c",
           nodesep="0.25", ranksep="0.32", newrank="true", outputorder="edgesfirst", bgcolor="white",
           pad="0.2")
    if dpi:
        g.attr(dpi=str(dpi))
    g.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="11", fontcolor=INK,
           margin="0.12,0.05", height="0.3", penwidth="1")
    g.attr("edge", fontname=FONT, fontsize="8.5", fontcolor=MUTED, color=EDGE, arrowsize="0.6", penwidth="1")
    families: set[str] = set()
    any_skip = False
    for graph in graph_list:
        drawing = _Drawing(graph, () if single else (graph.name,), depth, expand)
        if single:
            any_skip |= _draw(drawing, g)
        else:
            with g.subgraph(name="cluster-net-" + _ident(graph.name)) as c:
                c.attr(label=_table(_title(graph, 14)), style="rounded", color="#c8c8c8", margin="14")
                any_skip |= _draw(drawing, c)
        families |= drawing.families
    rows = _title(graph_list[0], 18) if single else [_font(f"<B>{_h(title or 'networks')}</B>", 18)]
    legend = _legend(families, any_skip)
    g.attr(label=_table(rows + ([legend] if legend else [])))  # no layers: no legend (`<TR></TR>` is invalid)
    return g


def to_dot(graphs: Graph | Sequence[Graph], *, depth: int | None = None, expand: bool = False,
           rankdir: str = "TB", dpi: int | None = None, title: str | None = None) -> str:
    """The diagram as DOT text (deterministic: the same IR gives the same bytes)."""
    return build(graphs, depth=depth, expand=expand, rankdir=rankdir, dpi=dpi, title=title).source


def render_dot(dot_text: str, fmt: str) -> bytes:
    """Lay out DOT text with Graphviz into `fmt` (svg, png or pdf). Raises DotNotFound without `dot`."""
    import graphviz

    if fmt not in FORMATS or fmt == "dot":
        raise ValueError(f"cannot render to {fmt!r}; use one of svg, png, pdf")
    try:
        return graphviz.pipe("dot", fmt, dot_text.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise DotNotFound() from None


def render(graphs: Graph | Sequence[Graph], fmt: str = "svg", *, depth: int | None = None, expand: bool = False,
           rankdir: str = "TB", title: str | None = None) -> bytes:
    """The diagram rendered by Graphviz: SVG, PNG or PDF bytes, or DOT text encoded as UTF-8 for "dot"."""
    text = to_dot(graphs, depth=depth, expand=expand, rankdir=rankdir, title=title,
                  dpi=PNG_DPI if fmt == "png" else None)
    if fmt == "dot":
        return text.encode("utf-8")
    return render_dot(text, fmt)


def missing_dot_message(target: str | PurePath, fallback: str | PurePath) -> str:
    """What `netc viz` says when `dot` is missing and only the DOT text could be written."""
    fmt = PurePath(target).suffix.lstrip(".").lower()
    command = f"dot -T{fmt} {shlex.quote(str(fallback))} -o {shlex.quote(str(target))}"
    return (f"error: cannot render {target}: the Graphviz `dot` program is not on PATH\n"
            f"  = note: wrote the diagram as DOT text to {fallback}; with Graphviz installed, `{command}` renders it\n"
            f"  = help: {INSTALL_HINT}\n")


def generate(result: Result, network: str | None = None, *, depth: int | None = None, expand: bool = False,
             rankdir: str = "TB", **_options: Any) -> GeneratedCode:
    """The backend entry point: DOT text for one network of a front-end result, or all of them."""
    graphs = select(result, network)
    return GeneratedCode(to_dot(graphs, depth=depth, expand=expand, rankdir=rankdir,
                                title=_source_title(result)))


def select(result: Result, network: str | None = None) -> list[Graph]:
    if network is not None:
        return [result.graphs[network]]
    return list(result.graphs.values())


def _source_title(result: Result) -> str | None:
    for g in result.graphs.values():
        return PurePath(str(g.source.path)).name
    return None
