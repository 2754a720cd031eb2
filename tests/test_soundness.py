"""Soundness: a program that `netc check` accepts does not fail at run time, in either backend, for any
binding of its symbols that the checker accepts (issue 12, item 5).

Random small programs combine inputs whose dims are drawn from a few symbols and small integers through ops
that need dims equal (broadcasting arithmetic, concat, stack, matmul); some inputs state
`where` equalities. Whenever the checker accepts a program, it is built with both backends and run on random
sizes that satisfy its `where` facts: nothing may raise, and the output shapes must be the checked ones.
"""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netc.codegen import get_backend, numpy_ref
from netc.dsl.compiler import Result, compile_source
from netc.dsl.dims import Dim, subs
from netc.dsl.source import Source

SYMBOLS = ("A", "B", "C")


def check(text: str) -> Result:
    return compile_source(Source("p.net", text))
DIM = st.sampled_from(["A", "B", "C", "1", "2", "3"])


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    rank = draw(st.integers(1, 3))
    shapes = [[draw(DIM) for _ in range(rank)] for _ in range(2)]
    used = {d for shp in shapes for d in shp}
    equal = draw(st.sampled_from([None, ("A", "B"), ("B", "C")]))
    if equal and not set(equal) <= used:
        equal = None
    where = f" where {equal[0]} == {equal[1]}" if equal else ""
    op = draw(st.sampled_from(["x + y", "x * y", "concat(x, y, dim=0)", "concat(x, y, dim=-1)", "stack(x, y)",
                               "x @ y", "x - y"]))
    text = (f"network P {{\n    input x: f32[{', '.join(shapes[0])}]\n"
            f"    input y: f32[{', '.join(shapes[1])}]{where}\n    z = {op}\n    output z\n}}\n")
    return text, dict(zip(equal, equal[::-1])) if equal else {}


def _bindings(draw: st.DrawFn, symbols: list[str], equal: dict[str, str]) -> dict[str, int]:
    sizes = {s: draw(st.integers(1, 4)) for s in symbols}
    for a, b in equal.items():
        if a in sizes and b in sizes:
            sizes[a] = sizes[b] = max(sizes[a], sizes[b])
    return sizes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(), data=st.data())
def test_accepted_programs_run_for_every_accepted_binding(program: tuple[str, dict[str, str]],
                                                          data: st.DataObject) -> None:
    text, equal = program
    result = check(text)
    if not result.ok:
        return
    graph = result.graphs["P"]
    sizes = _bindings(data.draw, list(graph.symbols), equal)
    shapes = [tuple(int(subs(d, sizes)) if isinstance(d, Dim) else d for d in v.type.dims) for _, v, _ in graph.inputs]
    want = tuple(int(subs(d, sizes)) if isinstance(d, Dim) else d for d in graph.outputs[0][1].type.dims)
    xs = [torch.randn(s, dtype=torch.float64) for s in shapes]
    model = get_backend("torch").build(result)().double()
    out = model(*xs)
    assert tuple(out.shape) == want, text
    ours = numpy_ref.build(result)({}, dtype="float64").forward(*[x.numpy() for x in xs])
    np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-7, atol=1e-7)


def test_the_issue_example_is_an_error_with_a_hint() -> None:
    text = ("network V {\n    input cls: f32[1, 1, 192]\n    input x: f32[B, 196, 192]\n"
            "    y = concat(cls, x, dim=1)\n    output y\n}\n")
    result = check(text)
    (d,) = [d for d in result.diagnostics.items if d.severity == "error"]
    assert d.code == "E200" and "cannot prove" in d.message and "expand" in (d.help or "")
    fixed = text.replace("y = concat(cls, x, dim=1)", "y = concat(expand(cls, B, -1, -1), x, dim=1)")
    assert check(fixed).ok


def test_a_stated_equality_settles_it() -> None:
    text = ("network W {\n    input x: f32[B, T, 4]\n    input y: f32[B, S, 4] where S == T\n"
            "    z = x + y\n    output z\n}\n")
    result = check(text)
    assert result.ok and not result.diagnostics.items
    assert [c.text for c in result.graphs["W"].constraints] == ["S == T"]  # checked by generated guards
