"""Language features end to end through the front end: each test states what a user would expect."""
from __future__ import annotations

from pathlib import Path

import pytest

from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import render_all
from netc.dsl.ir import Graph
from netc.dsl.source import Source


def check(text: str, overrides: dict[str, int] | None = None, path: str = "t.net") -> dict[str, Graph]:
    result = compile_source(Source(path, text), overrides)
    assert result.ok, render_all(result.diagnostics)
    return result.graphs


def errors(text: str) -> list[str]:
    return [d.code for d in compile_source(Source("t.net", text)).diagnostics.sorted() if d.severity == "error"]


def shapes(graph: Graph) -> dict[str, tuple]:
    return {n.path: n.outputs[0].type.dims for n in graph.op_nodes()}


def test_parameters_defaults_and_arithmetic() -> None:
    g = check("""
network N(d: int = 64, heads: int = 4, ratio: float = 0.5) {
    input x: f32[B, d]
    x -> Linear(4 * d) -> Linear(d / heads + 1) -> Dropout(ratio / 2) -> y
    output y
}""")["N"]
    assert shapes(g)["linear1"][1] == 256
    assert shapes(g)["linear2"][1] == 17
    assert next(n for n in g.op_nodes() if n.op == "Dropout").attrs["p"] == 0.25


def test_if_elif_else_is_decided_at_compile_time() -> None:
    src = """
network N(mode: int = {mode}) {{
    input x: f32[B, 8]
    if mode == 0 {{
        y = x -> Linear(1)
    }} elif mode == 1 {{
        y = x -> Linear(2)
    }}
    else {{
        y = x -> Linear(3)
    }}
    output y
}}"""
    for mode, width in [(0, 1), (1, 2), (2, 3)]:
        g = check(src.format(mode=mode))["N"]
        assert g.outputs[0][1].type.dims[1] == width


def test_repetition_and_lists_make_indexed_containers() -> None:
    g = check("""
block MLPBlock(d: int) {
    input x: f32[B, d]
    x -> Linear(d) as fc -> relu -> y
    output y
}
network N(layers: int = 3) {
    input x: f32[B, 16]
    x -> MLPBlock(16) * layers as blocks -> [Linear(8), relu, Linear(2)] as head -> y
    output y
}""")["N"]
    keys = [e.key for e in g.state_dict()]
    assert keys == ["blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.1.fc.weight", "blocks.1.fc.bias",
                    "blocks.2.fc.weight", "blocks.2.fc.bias", "head.0.weight", "head.0.bias",
                    "head.2.weight", "head.2.bias"]
    assert g.num_params == 3 * (16 * 16 + 16) + (16 * 8 + 8) + (8 * 2 + 2)


def test_several_outputs_split_and_unpacking() -> None:
    g = check("""
network N {
    input x: f32[B, 12]
    a, b, c = x -> split(4, dim=1)
    s = concat(a, c, dim=1)
    output s, total = a + b
}""")["N"]
    assert [(n, v.type.dims[1]) for n, v in g.outputs] == [("s", 8), ("total", 4)]


def test_chained_values_bind_and_reuse() -> None:
    g = check("""
network N {
    input x: f32[B, 3, 32, 32]
    skip = x
    x -> Conv2d(3, 3, padding=1) -> relu -> y
    output relu(y + skip) * 0.5
}""")["N"]
    assert g.outputs[0][1].type.dims[1:] == (3, 32, 32)


def test_set_binds_symbols_and_parameters() -> None:
    g = check("network N(d: int = 4) {\n input x: f32[B, d]\n x -> Linear(2) -> y\n output y\n}\n",
              overrides={"B": 32, "d": 10})["N"]
    assert g.inputs[0][1].type.dims == (32, 10)
    assert g.num_params == 10 * 2 + 2


def test_where_constraints_are_checked_or_kept() -> None:
    src = "network N(ctx: int = 8) {\n input x: f32[B, T, 4] where T <= ctx\n output x\n}\n"
    g = check(src)["N"]
    assert [c.text for c in g.constraints] == ["T <= 8"]
    assert compile_source(Source("t.net", src), {"T": 9}).diagnostics.errors[0].code == "E209"
    assert not check(src, {"T": 8})["N"].constraints


def test_imports_bring_blocks(tmp_path: Path) -> None:
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "stem.net").write_text(
        "block Stem(c: int) {\n input x: f32[B, C, H, W]\n x -> Conv2d(c, 3, padding=1) -> y\n output y\n}\n")
    main = tmp_path / "main.net"
    main.write_text('import "layers/stem.net"\nnetwork N {\n input x: f32[B, 3, 8, 8]\n'
                    ' x -> Stem(4) as stem -> y\n output y\n}\n')
    result = compile_source(Source(str(main), main.read_text()))
    assert result.ok, render_all(result.diagnostics)
    assert [e.key for e in result.graphs["N"].state_dict()] == ["stem.conv2d1.weight", "stem.conv2d1.bias"]


def test_comments_and_line_continuations() -> None:
    g = check("""
# a comment
network N {   # another
    /* a block
       comment */
    input x: f32[B, 4]
    x -> Linear(4)
      -> relu
      -> y
    output y
}""")
    assert "N" in g


def test_block_input_binds_symbols_from_caller() -> None:
    g = check("""
block Proj(out: int) {
    input x: f32[B, C]
    x -> Linear(out) as fc -> y
    output y
}
network N {
    input x: f32[B, 24]
    x -> Proj(5) as p -> y
    output y
}""")["N"]
    block = next(m for m in g.root.walk() if getattr(m, "definition", None) == "Proj")
    assert block.args["C"] == 24 and block.args["out"] == 5


@pytest.mark.parametrize("src,codes", [
    ("network N {\n input x: f32[B, 4]\n x -> Linear(2) -> y\n}\n", ["E402"]),
    ("network N {\n input x: f32[B, 4]\n y = x -> Linear(2, bias=1)\n output y\n}\n", ["E305"]),
    ("network N {\n input x: f32[B, 4]\n if B == 2 { y = x }\n output x\n}\n", ["E204"]),
    ("network N {\n input x: i64[B, 4]\n y = x -> Linear(2)\n output y\n}\n", ["E205"]),
])
def test_small_errors(src: str, codes: list[str]) -> None:
    assert errors(src) == codes


def test_a_dim_named_like_a_definition_is_not_a_call() -> None:
    # The dim `B` is a value; only calls and chain steps use a definition (this once reported E401).
    g = check("network B {\n input x: f32[B, 4]\n x -> relu -> y\n output y\n}\n")
    assert "B" in g
