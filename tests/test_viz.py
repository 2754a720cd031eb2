"""Diagrams: golden DOT snapshots, rendered SVGs counted against hand-derived layer counts, escaping.

The counts below are derived by hand from the architectures (not from our output); each comment says how.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netc
from netc.codegen import dot
from netc.codegen.dot import runs
from netc.codegen.dot_escape import _h, _ident
from netc.dsl.ir import Graph

from .conftest import ROOT, SAMPLES, update_snapshots

SNAPSHOTS = ROOT / "tests" / "snapshots"
SVG = "{http://www.w3.org/2000/svg}"


def graph_of(path: Path | str, **overrides: int) -> Graph:
    result = netc.check(path, overrides or None)
    (graph,) = result.graphs.values()
    return graph


def source_graph(text: str, **overrides: int):  # type: ignore[no-untyped-def]
    result = netc.check_source(text, overrides=overrides or None)
    return list(result.graphs.values())


def svg_counts(svg: bytes) -> dict[str, int]:
    """Graphviz marks each drawn node, cluster and edge with a <g class=...>; count them in the parsed XML."""
    root = ET.fromstring(svg)
    counts = {"node": 0, "cluster": 0, "edge": 0}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class")
        if cls in counts:
            counts[cls] += 1
    return counts


def svg_text(svg: bytes) -> str:
    return "\n".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text"))


def skip_edges(svg: bytes) -> int:
    """Edges drawn in the skip-connection colour."""
    root = ET.fromstring(svg)
    n = 0
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            path = g.find(f"{SVG}path")
            if path is not None and path.get("stroke") == dot.SKIP_EDGE:
                n += 1
    return n


# -- golden snapshots ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", ["mnist_mlp", "resnet18"])
def test_golden_dot(sample: str) -> None:
    text = dot.to_dot(graph_of(SAMPLES / f"{sample}.net"))
    snap = SNAPSHOTS / f"{sample}.dot"
    if update_snapshots():
        snap.parent.mkdir(exist_ok=True)
        snap.write_text(text, encoding="utf-8")
    assert text == snap.read_text(encoding="utf-8"), f"rerun with NETC_UPDATE_SNAPSHOTS=1 and review {snap}"


def test_output_is_deterministic_across_compilations() -> None:
    # Value ids come from a process-wide counter; nothing drawn may depend on them.
    a = dot.to_dot(graph_of(SAMPLES / "resnet18.net"))
    b = dot.to_dot(graph_of(SAMPLES / "resnet18.net"))
    assert a == b


# -- rendered SVG against the architecture ---------------------------------------------------------------
def test_mlp_svg_counts() -> None:
    # x -> fc1 -> relu -> dropout -> fc2 -> softmax -> probs: 5 layers + input + output, a chain of 6 edges.
    svg = dot.render(graph_of(SAMPLES / "mnist_mlp.net"), "svg")
    assert svg_counts(svg) == {"node": 7, "cluster": 0, "edge": 6}
    text = svg_text(svg)
    assert "MnistMLP" in text and "101,770 parameters" in text
    assert "(B, 784)" in text and "(B, 128)" in text and "784→128" in text and "100,480 params" in text


def test_resnet18_collapsed_svg_counts() -> None:
    # Layers drawn: stem conv1, bn1, relu, maxpool (4); layer1.0 stands for layer1.0-1 (7: conv1, bn1, relu,
    # conv2, bn2, add, relu); layer2..4 each .0 with downsample (9) and .1 (7), which differ (stride 2,
    # downsample), so they stay apart; avgpool, flatten, fc (3): 4 + 7 + 3 * 16 + 3 = 62.
    # Each drawn BasicBlock's input x feeds two layers (conv1 and the add, or conv1 and downsample.0), so
    # it enters the block at one junction point: 7 junctions. Nodes: 62 + img + logits + 7 = 71.
    # Clusters: layer1..4, layer1.0, and per layer2..4 two blocks and one downsample: 4 + 1 + 9 = 14.
    # Edges: one per layer input (62, plus 7 adds with two) and one into logits = 70; each junction turns
    # its two direct edges into three: 77.
    svg = dot.render(graph_of(SAMPLES / "resnet18.net"), "svg")
    assert svg_counts(svg) == {"node": 71, "cluster": 14, "edge": 77}
    text = svg_text(svg)
    assert "×2" in text and "layer1.0–1" in text and "2 × 73,984 params" in text
    assert "11,689,512 parameters" in text
    assert skip_edges(svg) == 7  # one shortcut into each drawn block's add


def test_resnet18_expanded_svg_counts() -> None:
    # All 8 blocks: 4 * 7 + 3 * 2 downsample layers + 4 stem + 3 tail = 69 layers, 8 junctions:
    # 69 + 2 + 8 = 79 nodes; clusters 4 + 8 + 3 = 15; edges 69 + 8 adds + 1 output + 8 junctions = 86.
    svg = dot.render(graph_of(SAMPLES / "resnet18.net"), "svg", expand=True)
    assert svg_counts(svg) == {"node": 79, "cluster": 15, "edge": 86}
    assert "×2" not in svg_text(svg)
    assert skip_edges(svg) == 8


def test_resnet18_depth_0_and_1() -> None:
    graph = graph_of(SAMPLES / "resnet18.net")
    # depth 0: layer1..4 become single nodes; a chain img, 4 stem, 4 layers, 3 tail, logits: 13 nodes, 12 edges.
    svg = dot.render(graph, "svg", depth=0)
    assert svg_counts(svg) == {"node": 13, "cluster": 0, "edge": 12}
    assert "147,968 params" in svg_text(svg)  # layer1: 2 * 73,984
    # depth 1: the four layer clusters stay; their blocks become nodes (layer1's two as one ×2): 1+2+2+2 = 7.
    svg = dot.render(graph, "svg", depth=1)
    assert svg_counts(svg) == {"node": 4 + 7 + 3 + 2, "cluster": 4, "edge": 15}
    assert "230,144 params" in svg_text(svg)  # layer2.0 = 73,728 + 256 + 147,456 + 256 + 8,192 + 256


def node_position(svg: bytes, node_id: str) -> tuple[float, float]:
    """Where Graphviz put a node: the anchor of its first text line (SVG y grows downwards)."""
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if g.get("class") == "node" and title is not None and title.text == node_id:
            t = next(g.iter(f"{SVG}text"))
            return float(t.get("x", "nan")), float(t.get("y", "nan"))
    raise AssertionError(f"no node {node_id}")


def test_rankdir_lays_out_left_to_right() -> None:
    graph = graph_of(SAMPLES / "mnist_mlp.net")
    for rankdir in ("TB", "LR"):
        svg = dot.render(graph, "svg", rankdir=rankdir)
        (x0, y0), (x1, y1) = node_position(svg, "in-x"), node_position(svg, "out-probs")
        if rankdir == "TB":
            assert y1 - y0 > 300 and abs(x1 - x0) < 10  # seven boxes stacked downwards
        else:
            assert x1 - x0 > 300 and abs(y1 - y0) < 10
    with pytest.raises(ValueError):
        dot.to_dot(graph, rankdir="BT")


def test_set_binds_symbols_in_edge_labels() -> None:
    svg = dot.render(graph_of(SAMPLES / "mnist_mlp.net", B=32), "svg")
    text = svg_text(svg)
    assert "(32, 784)" in text and "(B, 784)" not in text


def test_symbolic_dims_are_printed_with_str() -> None:
    (graph,) = source_graph("network N { input x: f32[B, 3, H, W]\n"
                            " x -> Conv2d(8, 3, stride=2, padding=1) as c -> y\n output y }")
    text = dot.to_dot(graph)
    assert "(B, 8, (H - 1)//2 + 1, (W - 1)//2 + 1)" in text


def test_every_sample_renders_to_svg() -> None:
    for path in sorted(SAMPLES.glob("*.net")):
        result = netc.check(path)
        graphs = list(result.graphs.values())
        svg = dot.render(graphs, "svg")
        counts = svg_counts(svg)
        inputs = sum(len(g.inputs) for g in graphs)
        outputs = sum(len(g.outputs) for g in graphs)
        assert counts["node"] >= inputs + outputs + 1, path.name
        assert counts["edge"] >= outputs, path.name


def test_png_and_pdf_bytes() -> None:
    graph = graph_of(SAMPLES / "lenet5.net")
    assert dot.render(graph, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert dot.render(graph, "pdf").startswith(b"%PDF")
    assert dot.render(graph, "dot").decode().startswith("digraph LeNet5 {")


# -- repeats ------------------------------------------------------------------------------------------
STACK = """
network Stack {
    input x: f32[B, 8]
    x -> Linear(16) * 3 as stack -> y
    output y
}
"""


def test_repeated_layers_collapse_only_when_identical() -> None:
    (graph,) = source_graph(STACK)
    (seq,) = [m for m in graph.root.body if not hasattr(m, "op")]
    # stack.0 is 8 -> 16, stack.1 and stack.2 are 16 -> 16: only the last two are the same layer.
    assert [[item.name for item in run] for run in runs(seq)] == [["0"], ["1", "2"]]
    assert [[item.name for item in run] for run in runs(seq, expand=True)] == [["0"], ["1"], ["2"]]
    svg = dot.render(graph, "svg")
    # x, stack.0, stack.1-2, y; edges x->0, 0->1, 1(for 2)->y.
    assert svg_counts(svg) == {"node": 4, "cluster": 1, "edge": 3}
    assert "stack.1–2" in svg_text(svg) and "2 × 272 params" in svg_text(svg)  # 16 * 16 + 16 = 272


def test_gpt2_residuals_are_skips_whatever_the_operand_order() -> None:
    # `x = x + (x -> LayerNorm -> attn)`: the residual is the *first* operand here, unlike ResNet's y + x.
    graph = graph_of(SAMPLES / "gpt2.net", layers=3, d=32, heads=2, vocab=50, ctx=16)
    svg = dot.render(graph, "svg")
    assert "h.0–2" in svg_text(svg) and "×3" in svg_text(svg)
    assert skip_edges(svg) == 2  # one block drawn, two residual adds
    assert "weight tied to transformer.wte" in svg_text(svg)


# -- escaping ---------------------------------------------------------------------------------------
HOSTILE = r'''
block Tag(label: str) {
    input x: f32[B, 4]
    x -> Linear(4) as lin -> y
    output y
}
network Évil_名前(title: str = "a\"b{c}<d>&e\nf]; \"x\" -> \"y\" [label=\"</B>") {
    input données: f32[B, 4]
    données -> Tag(title) as tag -> out
    output out
}
'''


def test_hostile_names_and_strings_cannot_break_the_dot() -> None:
    (graph,) = source_graph(HOSTILE)
    text = dot.to_dot(graph)
    svg = dot.render(graph, "svg")  # dot accepts it: no syntax error, no injected statement
    # données, lin, out: 3 nodes; the tag cluster; 2 edges. An injected `"x" -> "y"` would add nodes and an edge.
    assert svg_counts(svg) == {"node": 3, "cluster": 1, "edge": 2}
    shown = svg_text(svg)
    assert 'title="a\\"b{c}<d>&e\\nf]; \\"x\\" -> \\"y\\" [label=\\"</B>"' in shown  # verbatim, newline as \n
    assert "Évil_名前" in shown and "données" in shown
    for line in text.splitlines()[1:-1]:  # every statement on one line: no raw newline leaked into a label
        assert line.startswith("\t")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30))
def test_escaped_text_has_no_markup(s: str) -> None:
    out = _h(s)
    assert not set(out) & set('<>"\n\r\'')
    assert "&" not in out.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").replace(
        "&quot;", "").replace("&#x27;", "")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20))
def test_ids_are_safe_and_injective(a: str, b: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_.\-/]*", _ident(a))
    if a != b:
        assert _ident(a) != _ident(b)


def test_several_networks_share_one_picture() -> None:
    graphs = source_graph("""
network Alpha { input x: f32[B, 4]
 x -> Linear(2) as fc -> y
 output y }
network Beta { input x: f32[B, 4]
 x -> relu -> y
 output y }
""")
    svg = dot.render(graphs, "svg", title="two.net")
    # Each network is a cluster with its own x and y: ids are prefixed, so the two `x` stay two nodes.
    assert svg_counts(svg) == {"node": 6, "cluster": 2, "edge": 4}
    assert "two.net" in svg_text(svg)


def test_backend_entry_point() -> None:
    result = netc.check(SAMPLES / "mnist_mlp.net")
    code = dot.generate(result)
    assert code.code == dot.to_dot(list(result.graphs.values()), title="mnist_mlp.net")
    assert code.code.startswith("digraph MnistMLP {")


def test_optional_block_input_made_at_run_time_is_drawn_in_its_block() -> None:
    (graph,) = source_graph("""
block Noisy(d: int) {
    input x: f32[B, d]
    input eps: f32[B, d] = randn
    output x + eps
}
network N {
    input x: f32[B, 4]
    x -> Noisy(4) as n -> Linear(2) as fc -> y
    output y
}
""")
    text = dot.to_dot(graph)
    # x, eps, add, fc, y; the block n; x->add, eps->add, add->fc, fc->y.
    assert svg_counts(dot.render(graph, "svg")) == {"node": 5, "cluster": 1, "edge": 4}
    cluster = text[text.index('subgraph "cluster-n"'):]
    assert "eps = randn" in cluster[:cluster.index("\n\t}")]
