"""Symbolic dims: canonical forms, floor division, substitution, and agreement with integer arithmetic."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netc.dsl.dims import Dim, ceildiv, dims_equal, floordiv, subs, sym

H, W, B = sym("H"), sym("W"), sym("B")


def test_conv_output_sizes_print_like_the_formula() -> None:
    conv1 = floordiv(H + 2 * 3 - 7, 2) + 1
    assert str(conv1) == "(H - 1)//2 + 1"
    pool = floordiv(conv1 + 2 * 1 - 3, 2) + 1
    assert str(pool) == "(H - 1)//4 + 1"  # nested floor divisions merge


def test_exact_parts_divide_out() -> None:
    assert floordiv(2 * H + 1, 2) == H
    assert floordiv(4 * H, 2) == 2 * H
    assert str(floordiv(H + 3, 1)) == "H + 3"


def test_equality_is_up_to_simplification() -> None:
    assert dims_equal(H + W, W + H) is True
    assert dims_equal(H * (W + 1), H * W + H) is True
    assert dims_equal(H, W) is None  # depends on the values
    assert dims_equal(3072 * B, 100 * B) is False  # sizes are >= 1
    assert dims_equal(H + 1, H) is False


def test_constants_collapse_to_int() -> None:
    assert isinstance(H - H, int)
    assert (H - H) == 0
    assert isinstance(Dim.const(5).as_int(), int)


dims_values = st.integers(min_value=1, max_value=500)


@given(h=dims_values, w=dims_values, k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_symbolic_formula_agrees_with_integers(h: int, w: int, k: int, s: int, p: int) -> None:
    """Evaluate the symbolic conv/pool formula, then substitute: must equal plain integer arithmetic."""
    sym_out = floordiv(H * W + 2 * p - k, s) + 1
    int_out = (h * w + 2 * p - k) // s + 1
    assert subs(sym_out, {"H": h, "W": w}) == int_out
    sym_ceil = ceildiv(H + 2 * p - k, s) + 1
    assert subs(sym_ceil, {"H": h}) == -((-(h + 2 * p - k)) // s) + 1


@given(a=st.integers(-50, 50), b=st.integers(-50, 50), c=st.integers(1, 9), h=dims_values)
@settings(max_examples=200, deadline=None)
def test_nested_division_matches_integers(a: int, b: int, c: int, h: int) -> None:
    inner = floordiv(H + a, c)
    outer = floordiv(inner + b, c)
    assert subs(outer, {"H": h}) == ((h + a) // c + b) // c
