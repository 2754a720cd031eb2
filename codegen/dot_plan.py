"""Planning one network's diagram before anything is drawn: which ops and modules become nodes, which
become clusters, which repeats and n-ary chains fold into one node, and the edges between what is drawn
(junctions where a block input fans out, skip connections marked).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dsl.ir import Graph, Module, OpNode, StateNode, Value
from .dot_escape import _ident
from .dot_structure import runs
from .dot_style import BLOCK_LEGEND
from .dot_text import _family

# Associative elementwise ops whose chains (`a + b + c + ...`) are drawn as one n-ary node.
NARY_OPS = frozenset({"add", "mul"})


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
