"""Operators on tensors (`**`, comparisons, unary minus, `min`/`max` of two tensors, `where`), against torch.

The property test draws random expressions over tensors of several dtypes and numbers, prints them with
Python's precedence (as few parentheses as that allows, and some extra ones), and checks that the code both
backends generate from the `.net` text computes what torch computes when Python evaluates the *same text*
on torch tensors: the same values, the same dtype, the same shape. Where torch refuses an expression (a bool
tensor negated or subtracted), netc must refuse it at check time.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.codegen import numpy_ref  # noqa: E402
from netc.dsl.compiler import compile_source  # noqa: E402
from netc.dsl.ir import OpNode  # noqa: E402
from netc.dsl.source import Source  # noqa: E402

EXAMPLES = int(os.environ.get("NETC_OPERATOR_EXAMPLES", "80"))

# Python's binding strengths, loosest first (what both the language and the generated code follow).
CMP, ADD, MUL, UNARY, POW, ATOM = 4, 10, 11, 12, 13, 100
_PREC = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "**": POW,
         "<": CMP, "<=": CMP, ">": CMP, ">=": CMP, "==": CMP, "!=": CMP}

INPUTS = "    input x: f32[B, 3]\n    input y: f32[3]\n    input i: i32[B, 1]\n    input m: bool[B, 3]\n"
NUMBERS = ["0", "1", "2", "3", "0.5", "2.0", "1.5"]


@dataclass(frozen=True)
class E:
    text: str
    prec: int


def _wrap(e: E, need: int) -> str:
    return f"({e.text})" if e.prec < need else e.text


def _bin(op: str, a: E, b: E) -> E:
    p = _PREC[op]
    if op == "**":  # right-associative, and its right operand may be a unary minus
        left, right = _wrap(a, POW + 1), _wrap(b, UNARY)
    elif p == CMP:  # comparisons do not chain in the language: parenthesise comparison operands
        left, right = _wrap(a, CMP + 1), _wrap(b, CMP + 1)
    else:
        left, right = _wrap(a, p), _wrap(b, p + 1)
    return E(f"{left} {op} {right}", p)


@st.composite
def tensor_expr(draw: st.DrawFn, depth: int = 0) -> E:
    """A random expression with at least one tensor in it."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        return E(draw(st.sampled_from(["x", "y", "i", "m", "x", "y"])), ATOM)
    kind = draw(st.sampled_from(["bin", "bin", "bin", "scalar", "scalar", "neg", "pow", "cmp", "minmax", "where"]))
    a = draw(tensor_expr(depth + 1))
    if kind == "bin":
        e = _bin(draw(st.sampled_from(["+", "-", "*", "/"])), a, draw(tensor_expr(depth + 1)))
    elif kind == "scalar":
        op = draw(st.sampled_from(["+", "-", "*", "/", "<", ">=", "==", "!="]))
        n = E(draw(st.sampled_from(NUMBERS)), ATOM)
        e = _bin(op, *((n, a) if draw(st.booleans()) else (a, n)))
    elif kind == "neg":
        e = E(f"-{_wrap(a, UNARY)}", UNARY)
    elif kind == "pow":
        form = draw(st.sampled_from(["exponent", "base", "tensors"]))
        if form == "exponent":
            exponent = draw(st.sampled_from(["0", "1", "2", "3", "2.0", "-1", "-1.0", "(-1)", "-(2)"]))
            e = _bin("**", a, E(exponent, ATOM))
        elif form == "base":
            e = _bin("**", E(draw(st.sampled_from(["2", "3", "0.5", "2.0", "(-2)", "(-0.5)"])), ATOM), a)
        else:
            e = _bin("**", a, draw(tensor_expr(depth + 1)))
    elif kind == "cmp":
        e = _bin(draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="])), a, draw(tensor_expr(depth + 1)))
    elif kind == "minmax":
        e = E(f"{draw(st.sampled_from(['min', 'max']))}({a.text}, {draw(tensor_expr(depth + 1)).text})", ATOM)
    else:
        c = draw(tensor_expr(depth + 1))
        e = E(f"where({_wrap(c, CMP)} > 0, {a.text}, {draw(tensor_expr(depth + 1)).text})", ATOM)
    return E(f"({e.text})", ATOM) if draw(st.integers(0, 4)) == 0 else e


def _torch_inputs() -> dict[str, torch.Tensor]:
    # Small integers (as floats, too): every operation here is then exact or correctly rounded in both
    # libraries, so comparisons of computed values cannot flip on a last-bit difference.
    return {
        "x": torch.tensor([[-2.0, 0.0, 3.0], [1.0, -1.0, 2.0]]),
        "y": torch.tensor([2.0, -3.0, 1.0]),
        "i": torch.tensor([[2], [-1]], dtype=torch.int32),
        "m": torch.tensor([[True, False, True], [False, False, True]]),
    }


def _torch_eval(text: str) -> torch.Tensor:
    """The oracle: Python evaluates the same text on torch tensors, with torch's operators."""
    env = {**_torch_inputs(), "min": torch.minimum, "max": torch.maximum, "where": torch.where}
    return eval(text, {}, env)  # noqa: S307 - text drawn by the test; min, max, where are torch's here


def _program(text: str) -> str:
    return f"network Net {{\n{INPUTS}    out = {text}\n    output out\n}}\n"


def _run_backends(result: netc.Result) -> tuple[np.ndarray, np.ndarray]:
    from netc.codegen import torch as torch_backend
    args = list(_torch_inputs().values())
    with torch.no_grad():
        ours_torch = torch_backend.build(result)().eval()(*args).numpy()
    np_model = numpy_ref.build(result)({}, dtype="float32")
    with np.errstate(all="ignore"):
        ours_numpy = np.asarray(np_model(*[a.numpy() for a in args]))
    return ours_torch, ours_numpy


def _same(ours: np.ndarray, want: np.ndarray, text: str, backend: str) -> None:
    assert ours.dtype == want.dtype, f"{backend}: {text}: dtype {ours.dtype}, torch gives {want.dtype}"
    assert ours.shape == want.shape, f"{backend}: {text}: shape {ours.shape}, torch gives {want.shape}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(ours, want, rtol=1e-6, atol=0, equal_nan=True, err_msg=f"{backend}: {text}")
    else:
        np.testing.assert_array_equal(ours, want, err_msg=f"{backend}: {text}")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.filter_too_much])
@given(e=tensor_expr())
def test_generated_code_computes_what_torch_computes(e: E) -> None:
    text = e.text
    try:
        want = _torch_eval(text)
    except RuntimeError as exc:  # torch refuses it: so must the checker, with a diagnostic
        result = compile_source(Source("t.net", _program(text)))
        assert not result.ok, f"torch refuses `{text}` ({exc}), netc accepts it"
        return
    result = compile_source(Source("t.net", _program(text)))
    if not result.ok:
        codes = {d.code for d in result.diagnostics.items if d.code.startswith("E")}
        # What netc refuses that torch runs: a number divided by an integer tensor (documented).
        assert "/" in text and codes == {"E204"}, f"netc refuses `{text}`: {result.diagnostics.items}"
        return
    declared = result.graphs["Net"].outputs[0][1].type
    want_np = want.numpy()
    assert str(want.dtype).removeprefix("torch.") == {"f32": "float32", "i32": "int32", "i64": "int64",
                                                      "bool": "bool"}[declared.dtype], (text, declared)
    try:
        ours_torch, ours_numpy = _run_backends(result)
    except ValueError as exc:
        # NumPy refuses integers to negative integer powers at run time, where torch computes 0 (documented)
        assume("negative integer powers" not in str(exc))
        raise
    _same(ours_torch, want_np, text, "torch backend")
    _same(ours_numpy, want_np, text, "NumPy backend")


# -- each operator: what failed before -------------------------------------------------------------------
def _ops(text: str, inputs: str = INPUTS) -> list[str]:
    result = netc.check_source(f"network Net {{\n{inputs}    out = {text}\n    output out\n}}\n")
    return [n.op for n in result.graphs["Net"].root.walk() if isinstance(n, OpNode)]


@pytest.mark.parametrize("text, ops", [
    ("x ** 2", ["pow"]),                      # was E204 '**' is not defined for tensors
    ("2 ** x", ["pow"]),
    ("x ** y", ["pow"]),
    ("-x ** 2", ["pow", "neg"]),              # Python: -(x ** 2)
    ("-x * 3", ["neg", "mul"]),               # unary minus is the neg op, and binds tighter than `*`
    ("x > 0", ["gt"]),                        # was E204 '>' is not defined for tensors
    ("0 < x", ["gt"]),                        # Python's reflected comparison
    ("x + 1 >= y * 2", ["add", "mul", "ge"]),  # comparisons bind looser than arithmetic
    ("min(x, y)", ["minimum"]),               # was E308 'min' takes 1 input tensor, but got 2
    ("max(x, i)", ["maximum"]),
    ("min(x, dim=1)", ["min"]),               # the reduction still works
    ("where(m, x, y)", ["where"]),            # `where` was only reachable as `where_`
    ("2 - x", ["neg", "add"]),
    ("2 / x", ["reciprocal", "mul"]),         # what torch's Tensor.__rtruediv__ computes
])
def test_operator_becomes_the_op(text: str, ops: list[str]) -> None:
    assert _ops(text) == ops


@pytest.mark.parametrize("text, dtype", [
    ("x > 0", "bool"), ("i > 0.5", "bool"), ("m * 2", "i64"), ("m + 1.5", "f32"), ("i ** 2", "i32"),
    ("2 ** m", "i64"), ("2.5 ** i", "f32"), ("i ** 2.0", "f32"), ("min(i, m)", "i32"), ("max(x, i)", "f32"),
    ("where(m, m, other=1)", "i64"),
])
def test_dtypes_follow_torch_promotion(text: str, dtype: str) -> None:
    want = _torch_eval(text.replace("other=", ""))
    declared = netc.check_source(_program(text)).graphs["Net"].outputs[0][1].type.dtype
    assert declared == dtype
    assert str(want.dtype) == "torch." + {"bool": "bool", "i64": "int64", "f32": "float32", "i32": "int32"}[dtype]


@pytest.mark.parametrize("text", ["-m", "m - m", "x - m", "1 - m", "m ** m", "+m"])
def test_what_torch_refuses_is_an_error(text: str) -> None:
    with pytest.raises(RuntimeError):
        _torch_eval(text.replace("+m", "m.__pos__()"))
    result = compile_source(Source("t.net", _program(text)))
    assert not result.ok and {d.code for d in result.diagnostics.items if d.code.startswith("E")} <= {"E204", "E205"}


def test_comparison_shapes_broadcast_over_symbolic_dims() -> None:
    src = ("network Net {\n    input x: f32[B, T, 1]\n    input y: f32[T, D]\n"
           "    out = where(x > y, x, 0.0 * y)\n    output out, c = x != y\n}\n")
    outs = dict(netc.check_source(src).graphs["Net"].outputs)
    assert [str(d) for d in outs["out"].type.dims] == ["B", "T", "D"]
    assert outs["c"].type.dtype == "bool"
    bad = compile_source(Source("t.net", "network Net {\n    input x: f32[B, 3]\n    input y: f32[4]\n"
                                         "    output c = x < y\n}\n"))
    assert [d.code for d in bad.diagnostics.items] == ["E202"]


def test_where_is_an_op_name_and_still_an_input_keyword() -> None:
    src = ("network Net {\n    input x: f32[B, T] where T <= 16\n    input m: bool[T]\n"
           "    a = (m, x, -x) -> where\n    b = where(m, x, other=0.5)\n    output a, b\n}\n")
    result = netc.check_source(src)
    assert [c.text for c in result.graphs["Net"].constraints] == ["T <= 16"]
    assert [n.op for n in result.graphs["Net"].root.walk() if isinstance(n, OpNode)] == ["neg", "where", "where"]


def test_where_in_an_expression_position_gets_a_hint() -> None:
    result = compile_source(Source("t.net", "network Net {\n    input x: f32[B, T]\n    y = x where x > 0\n"
                                            "    output y\n}\n"))
    (d,) = result.diagnostics.items
    assert d.code == "E100" and "where(x > 0, x, y)" in (d.help or "")


# -- ONNX: the same expressions through onnxruntime ----------------------------------------------------------------
ONNX_EXPRESSIONS = [
    "x > 0", "0.5 <= x", "i < y", "m == (x > 0)", "m != m", "m < (x > 0)", "i >= 1.5", "x == i",
    "min(x, y)", "max(x, i)", "min(m, m)", "max(i, m)",
    "x ** 2", "-x ** 2", "2 ** x", "(-2) ** i", "x ** y", "i ** 2", "m ** 2", "2.5 ** i", "i ** 2.0",
    "where(m, x, y)", "where(x > 0, i, x)", "where(m, i, other=1.5)", "masked_fill(x, m, -1.0)",
    "2 - x", "2 / x", "-(x * 3)",
]


@pytest.mark.parametrize("text", ONNX_EXPRESSIONS)
def test_onnx_export_computes_what_torch_computes(text: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    from netc.export import build_model

    graph = netc.check_source(_program(text)).graphs["Net"]
    model = build_model(graph, {})
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {name: t.numpy() for name, t in _torch_inputs().items()}
    (ours,) = session.run(None, feeds)
    want = _torch_eval(text.replace("other=", "")).numpy() if "masked_fill" not in text else \
        _torch_inputs()["x"].masked_fill(_torch_inputs()["m"], -1.0).numpy()
    _same(np.asarray(ours), want, text, "ONNX")


# -- the other tools: formatter, diagram, costs ----------------------------------------------------------------------
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(e=tensor_expr())
def test_formatter_keeps_the_meaning_of_tensor_expressions(e: E) -> None:
    """fmt's output parses to the same graph (same ops, same attributes), and formatting again changes nothing."""
    from netc.fmt import format_text

    src = _program(e.text)
    first = compile_source(Source("t.net", src))
    assume(first.ok)
    formatted = format_text(src)
    again = compile_source(Source("t.net", formatted))

    def ops(result: netc.Result) -> list[tuple[str, str]]:
        return [(n.op, repr(sorted(n.attrs.items()))) for n in result.graphs["Net"].root.walk()
                if isinstance(n, OpNode)]
    assert ops(again) == ops(first), formatted
    assert format_text(formatted) == formatted


@pytest.mark.parametrize("text, want", [
    ("-x ** 2", "-x ** 2"), ("(-x) ** 2", "(-x) ** 2"), ("x ** -y", "x ** -y"), ("(x > 0) == (y < 1)",
                                                                                 "(x > 0) == (y < 1)"),
    ("x + 1 >= y * 2", "x + 1 >= y * 2"), ("2 ** (x + 1)", "2 ** (x + 1)"), ("where(x > 0, x, y)",
                                                                          "where(x > 0, x, y)"),
])
def test_formatter_prints_operators_with_their_needed_parentheses(text: str, want: str) -> None:
    from netc.fmt import format_text

    assert f"out = {want}\n" in format_text(_program(text))


def test_diagram_draws_the_operator_ops() -> None:
    from netc.codegen import dot

    graph = netc.check_source(_program("where(x > 0, min(x, y), 2 ** x)")).graphs["Net"]
    text = dot.to_dot(graph)
    for label in ("gt", "other=0", "minimum", "pow", "base=2", "where"):
        assert label in text, label
    assert text.count(dot.FAMILY_COLOURS["arithmetic"][0]) >= 2  # gt and minimum are drawn as arithmetic


def test_costs_count_one_flop_per_element() -> None:
    from netc.dsl.cost import summarize

    graph = netc.check_source(_program("max(x > 0, m) * (2 ** x)"), overrides={"B": 5}).graphs["Net"]
    rows = {r.op: r for r in summarize(graph).layers}
    for op in ("gt", "maximum", "pow", "mul"):
        assert rows[op].flops == 15, op  # 5 x 3 output elements
    assert rows["gt"].activation_bytes == 15  # a bool is one byte
