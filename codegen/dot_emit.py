"""Writing a planned diagram into a `graphviz.Digraph`: the nodes and nested clusters of each planned
cluster, the loose value nodes, the network's inputs and outputs, and the edges with their shapes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..dsl.ir import Module, StateNode, Value
from .dot_escape import _font, _h, _label
from .dot_labels import _cluster_label, _cluster_style, _io_label, _io_style, _module_label, _op_label
from .dot_plan import _Cluster, _Drawing
from .dot_style import EDGE, FAMILY_COLOURS, MODULE_COLOURS, MUTED, OTHER_COLOURS, SKIP_EDGE
from .dot_text import _family, shape_text

if TYPE_CHECKING:
    import graphviz


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
