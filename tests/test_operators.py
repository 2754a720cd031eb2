"""Operators of the language: floor division, exact division, and lines that continue an expression."""
from __future__ import annotations

import pytest

import netc
from netc.dsl.compiler import compile_source
from netc.dsl.dims import Dim
from netc.dsl.source import Source


def shapes(src: str, **overrides: int) -> dict[str, tuple]:
    result = netc.check_source(src, overrides=overrides or None)
    graph = next(iter(result.graphs.values()))
    return {name: tuple(v.type.dims) for name, v in graph.outputs}


def errors(src: str) -> str:
    result = compile_source(Source("t.net", src))
    assert not result.ok
    return "\n".join(f"{d.code}: {d.message} | {d.help}" for d in result.diagnostics.items)


@pytest.mark.parametrize("k, width", [(6, 2), (5, 2), (4, 1), (9, 4)])
def test_double_slash_is_floor_division_not_a_comment(k: int, width: int) -> None:
    """`(k - 1) // 2` once silently read as `(k - 1)` with a comment after it."""
    src = f"network N(k: int = {k}) {{\n    input x: f32[B, 4]\n    output y = x -> Linear((k - 1) // 2)\n}}\n"
    assert shapes(src)["y"][-1] == width == (k - 1) // 2


def test_floor_division_of_symbolic_dims_and_negative_numbers() -> None:
    src = ("network N {\n    input x: f32[B, 8, W] where W % 2 == 0\n"
           "    output y = x -> view(B, 8, W // 2, 2), z = x -> mean(dim=2) -> Linear(-7 // -2)\n}\n")
    out = shapes(src)
    assert str(out["y"][2]) == "(W)//2"
    assert out["z"][-1] == 3 == -7 // -2


def test_exact_division_gives_a_float_when_uneven_and_the_error_says_so() -> None:
    src = "network N(k: int = 6) {\n    input x: f32[B, 4]\n    output y = x -> Linear(k / 4)\n}\n"
    text = errors(src)
    assert "E305" in text and "1.5" in text and "use `//` for floor division" in text
    even = "network N(k: int = 8) {\n    input x: f32[B, 4]\n    output y = x -> Linear(k / 4)\n}\n"
    assert shapes(even)["y"][-1] == 2


def test_a_slash_comment_gets_a_hint() -> None:
    src = "network N {\n    input x: f32[B, 4]   // the input\n    output x\n}\n"
    assert "comments start with `#`" in errors(src)


def test_a_line_starting_with_a_binary_operator_continues_the_expression() -> None:
    src = ("network N(k: int = 3) {\n    input x: f32[B, 4]\n    width = 2 * k\n        + 1\n"
           "    y = x -> Linear(width)\n    z = y * 2\n        + y\n        * 3\n"
           "    ok = k > 1\n        and k < 5\n    output z\n}\n")
    assert shapes(src)["z"] == (Dim.sym("B"), 7)
    result = netc.check_source(src)
    ops = [n.op for n in result.graphs["N"].op_nodes()]
    assert ops == ["Linear", "mul", "mul", "add"]  # y * 2 + (y * 3), not (y * 2 + y) * 3
