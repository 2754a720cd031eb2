"""Arithmetic on block parameters and symbols, as the checker computes it and as both backends run it.

A miscompilation once dropped the parentheses of `x * (2 * k - 1)` in generated torch code. This property test
draws random arithmetic over a block's parameters, an input-bound symbol and literals (every operator, nesting,
unary minus, parentheses where the drawing puts them) and checks that the generated Python of both backends
computes the value the checker computed, in two places an expression can stand: as the scalar operand of a
tensor operation (`x * (E)`, `(E) - x`) and as a layer size (`Linear(E)`). The oracle is the checker's own
reading of the source (the IR), which is independent of how either backend prints it.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.codegen import numpy_ref  # noqa: E402
from netc.codegen import torch as torch_backend  # noqa: E402
from netc.dsl.ir import OpNode  # noqa: E402
from netc.verify import random_state  # noqa: E402

EXAMPLES = int(os.environ.get("NETC_ARITH_EXAMPLES", "60"))
BINARY = ["+", "-", "*", "/", "//", "%"]


@st.composite
def arith(draw: st.DrawFn, depth: int = 0) -> str:
    """Source text of a random expression over `p`, `q` (block parameters), `N` (bound from the input) and literals."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(["p", "q", "N", "1", "2", "3", "5", "7", "0.5", "2.5"]))
    kind = draw(st.sampled_from(["bin", "bin", "bin", "neg", "pow"]))
    if kind == "neg":
        text = f"-{draw(arith(depth + 1))}"
    elif kind == "pow":  # small exponents keep values finite
        text = f"{draw(arith(depth + 1))} ** {draw(st.sampled_from(['0', '1', '2', '3', '-1', '(q - p)']))}"
    else:
        op = draw(st.sampled_from(BINARY))
        text = f"{draw(arith(depth + 1))} {op} {draw(arith(depth + 1))}"
    return f"({text})" if draw(st.booleans()) else text


def _compile(src: str) -> netc.Result | None:
    try:
        return netc.check_source(src)
    except netc.CompileError:
        return None  # the checker refused it (division by zero, a non-integer size): nothing to compare


def _run_both(result: netc.Result, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    graph = result.graphs["Net"]
    state = random_state(graph, np.random.default_rng(0))
    model = torch_backend.build(result)().double().eval()
    model.load_state_dict({k: torch.from_numpy(v).double() for k, v in state.items()}, strict=True)
    with torch.no_grad():
        ours_torch = model(torch.from_numpy(x)).numpy()
    ours_numpy = np.asarray(numpy_ref.build(result)(state, dtype="float64")(x))
    return ours_torch, ours_numpy


def _program(body: str, p: int, q: int, n: int) -> str:
    return (f"block Arith(p: int = 4, q: int = 6) {{\n    input x: f32[B, N]\n    {body}\n    output y\n}}\n"
            f"network Net {{\n    input x: f32[B, {n}]\n    x -> Arith({p}, q={q}) as arith -> y\n    output y\n}}\n")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                         HealthCheck.too_slow])
@given(expr=arith(), op=st.sampled_from(["+", "-", "*", "/"]), left=st.booleans(),
       p=st.integers(1, 6), q=st.integers(1, 6), n=st.integers(1, 5))
def test_scalar_operands_compute_what_the_checker_computed(expr: str, op: str, left: bool, p: int, q: int,
                                                           n: int) -> None:
    # a number divided by a tensor is reciprocal(x) * number, as torch computes it
    body = f"y = ({expr}) {op} x" if left else f"y = x {op} ({expr})"
    result = _compile(_program(body, p, q, n))
    assume(result is not None)
    node = next(m for m in result.graphs["Net"].root.walk() if isinstance(m, OpNode) and "other" in m.attrs)
    value = node.attrs["other"]  # the checker's value of `expr` for this instance
    assume(isinstance(value, (int, float)) and np.isfinite(value) and abs(value) < 1e12)
    x = np.full((2, n), 3.0)
    expected = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
                "/": lambda a, b: a / b}[op](*((value, x) if left else (x, value)))
    ours_torch, ours_numpy = _run_both(result, x)
    np.testing.assert_allclose(ours_torch, expected, rtol=1e-9, err_msg=body)
    np.testing.assert_allclose(ours_numpy, expected, rtol=1e-9, err_msg=body)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                         HealthCheck.too_slow])
@given(expr=arith(), p=st.integers(1, 6), q=st.integers(1, 6), n=st.integers(1, 5))
def test_sizes_compute_what_the_checker_computed(expr: str, p: int, q: int, n: int) -> None:
    result = _compile(_program(f"y = x -> Linear({expr}) as fc", p, q, n))
    assume(result is not None)
    width = result.graphs["Net"].outputs[0][1].type.dims[-1]  # the checker's value of `expr`
    assume(isinstance(width, int) and 1 <= width <= 64)
    ours_torch, ours_numpy = _run_both(result, np.ones((2, n)))
    assert ours_torch.shape == ours_numpy.shape == (2, width), f"Linear({expr})"


@pytest.mark.parametrize("body, expected", [
    ("y = x * (2 * p - 1)", lambda x, p, q: x * (2 * p - 1)),
    ("y = x - (p - 1)", lambda x, p, q: x - (p - 1)),
    ("y = x / (p + 1)", lambda x, p, q: x / (p + 1)),
    ("y = x * (q - (p - 1))", lambda x, p, q: x * (q - (p - 1))),
    ("y = x / (q * 4 // (p * 2))", lambda x, p, q: x / (q * 4 // (p * 2))),
    ("y = x * -(p - q)", lambda x, p, q: x * -(p - q)),
    ("y = x * (p - q) ** 2", lambda x, p, q: x * (p - q) ** 2),
    ("y = x * 2 ** -p", lambda x, p, q: x * 2 ** -p),
])
def test_the_reported_miscompilations(body: str, expected: object) -> None:
    """The cases of the bug report, and their cousins, against values computed here by Python itself."""
    result = netc.check_source(_program(body, 3, 5, 4))
    x = np.linspace(-2, 2, 8).reshape(2, 4)
    ours_torch, ours_numpy = _run_both(result, x)
    want = expected(x, 3, 5)  # type: ignore[operator]
    np.testing.assert_allclose(ours_torch, want, rtol=1e-12)
    np.testing.assert_allclose(ours_numpy, want, rtol=1e-12)
