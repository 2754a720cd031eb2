"""Everything netc does with a program, with the properties each step must keep. Shared by the CI fuzz test
(tests/test_fuzz_deep.py) and the coverage-guided harness (tests/fuzz/atheris_netc.py).

For a program that checks cleanly:
* both backends: the generated source parses (`ast.parse`), imports and builds;
* verify: torch and NumPy, run on random inputs (B=2) and weights, agree layer by layer (`netc verify`'s
  comparison, float64), and the outputs have the shapes the generator tracked while writing the program;
* DOT: the diagram's source is produced; `render=True` also lays it out with Graphviz.
For any text: the front end returns diagnostics (never raises), and they render.
"""
from __future__ import annotations

import ast

from netc.codegen import dot, numpy_ref
from netc.codegen import torch as torch_backend
from netc.dsl.compiler import Result, compile_source
from netc.dsl.diagnostics import render_all
from netc.dsl.source import Source

BATCH = 2


def front_end(text: str, path: str = "fuzz.net") -> Result:
    result = compile_source(Source(path, text))
    rendered = render_all(result.diagnostics)
    assert result.ok or "error[" in rendered, rendered
    return result


def exercise(text: str, result: Result, expected: dict[str, list[tuple[int, ...]]] | None = None,
             render: bool = False) -> None:
    """Every backend on a program that checked cleanly; raises AssertionError with the program on a failure."""
    from netc.verify import verify_network

    assert result.ok, render_all(result.diagnostics)
    code = torch_backend.generate(result).code
    ast.parse(code)
    ast.parse(numpy_ref.generate(result).code)
    source = Source("fuzz.net", text)
    for name in result.graphs:
        # verify builds both backends, runs them on random inputs (B=2) and compares every layer; its output
        # checks carry the torch module's output shapes, compared with the generator's own shape tracking
        report = verify_network(result, source, {"B": BATCH}, name, "float64", 0)
        assert report.ok, [c for c in report.outputs + report.layers if not c.ok]
        if expected is not None:
            got = [c.shape[1:] for c in report.outputs]
            assert got == list(expected[name]), (name, got, expected[name])
    text_dot = dot.to_dot(dot.select(result, None))
    assert text_dot.startswith("digraph")
    if render:
        dot.render_dot(text_dot, "svg")
