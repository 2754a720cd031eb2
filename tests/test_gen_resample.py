"""Upsample / interpolate against torch: the shape rule, the NumPy kernel, and both generated backends.

Hypothesis draws the input rank and sizes, the mode (also ones that do not fit the rank), `size` and/or
`scale_factor` (also both or neither, wrong lengths, scales whose products are not exact) and `align_corners`
(also where torch forbids it). The checker must accept exactly what torch accepts, with torch's output shape;
with symbolic sizes, its formula must give torch's shape once the sizes are known. The NumPy kernel must
reproduce torch's values (nearest exactly, the linear modes within the reference tolerances).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from netc.cli import main
from netc.codegen import get_backend, numpy_kernels
from netc.dsl.compiler import compile_source
from netc.dsl.dims import subs
from netc.dsl.source import Source

torch = pytest.importorskip("torch")
F = torch.nn.functional

MODES = ("nearest", "linear", "bilinear", "trilinear")
RANK_OF = {"linear": 3, "bilinear": 4, "trilinear": 5}
# Exact binary fractions, and a few that are not (0.3, 1/3, 1.7): their products with a symbolic size are
# refused by the checker, as floor(size * scale) in double precision has no exact integer formula.
SCALES = (0.5, 0.25, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 0.3, 1 / 3, 1.7)
SYMBOLS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Case:
    op: str  # "Upsample" or "interpolate"
    shape: tuple[int, ...]
    mode: str
    size: Any = None  # int or tuple
    scale: Any = None  # float or tuple
    align: bool | None = None

    def source(self, symbolic: bool = False) -> str:
        n = len(self.shape) - 2
        dims = [str(d) for d in self.shape[:2]] + (list(SYMBOLS[n]) if symbolic else [str(d) for d in self.shape[2:]])
        args = []
        if self.size is not None:
            args.append(f"size={_lit(self.size)}")
        if self.scale is not None:
            args.append(f"scale_factor={_lit(self.scale)}")
        args.append(f'mode="{self.mode}"')
        if self.align is not None:
            args.append(f"align_corners={str(self.align).lower()}")
        return (f"network Case {{\n    input x: f32[{', '.join(dims)}]\n"
                f"    x -> {self.op}({', '.join(args)}) -> y\n    output y\n}}\n")

    def torch_shape(self) -> tuple[int, ...] | None:
        x = torch.zeros(self.shape)
        size = list(self.size) if isinstance(self.size, tuple) else self.size
        scale = tuple(self.scale) if isinstance(self.scale, tuple) else self.scale
        try:
            if self.op == "Upsample":
                layer = torch.nn.Upsample(size=size, scale_factor=scale, mode=self.mode, align_corners=self.align)
                return tuple(layer(x).shape)
            return tuple(F.interpolate(x, size=size, scale_factor=scale, mode=self.mode,
                                       align_corners=self.align).shape)
        except (ValueError, RuntimeError, NotImplementedError, TypeError):
            return None


def _lit(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(repr(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


@st.composite
def cases(draw: st.DrawFn, valid: bool = False) -> Case:
    rank = draw(st.sampled_from([3, 4, 5]))
    n = rank - 2
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(draw(st.integers(1, 9)) for _ in range(n))
    fitting = ["nearest"] + [m for m, r in RANK_OF.items() if r == rank]
    mode = draw(st.sampled_from(fitting if valid or draw(st.integers(0, 4)) else MODES))
    how = "size" if valid and draw(st.booleans()) else ("scale" if valid else
                                                        draw(st.sampled_from(["size", "scale", "scale", "both",
                                                                             "neither"])))
    wrong_len = not valid and draw(st.integers(0, 9)) == 0

    def per_axis(item: st.SearchStrategy[Any]) -> Any:
        if draw(st.booleans()):
            return draw(item)
        k = n + (draw(st.sampled_from([-1, 1])) if wrong_len and n > 1 else 0)
        return tuple(draw(item) for _ in range(k))

    size = per_axis(st.integers(1, 12)) if how in ("size", "both") else None
    scale = per_axis(st.sampled_from(SCALES)) if how in ("scale", "both") else None
    if mode == "nearest":
        align = None if valid or draw(st.integers(0, 5)) else draw(st.booleans())
    else:
        align = draw(st.sampled_from([None, True, False]))
    op = draw(st.sampled_from(["Upsample", "interpolate"]))
    case = Case(op, shape, mode, size, scale, align)
    if valid:
        assume(case.torch_shape() is not None)  # e.g. scale 0.5 on a size of 1: an empty output
    return case


def _netc(case: Case, symbolic: bool = False) -> tuple[Any, list[str]]:
    result = compile_source(Source("case.net", case.source(symbolic)))
    codes = [d.code for d in result.diagnostics.errors]
    if not result.ok:
        return None, codes
    return result.graphs["Case"].outputs[0][1].type.dims, codes


@SETTINGS
@given(case=cases())
def test_shape_rule_matches_torch(case: Case) -> None:
    want = case.torch_shape()
    dims, codes = _netc(case)
    if want is None:
        assert dims is None, f"torch rejects this but netc accepts it:\n{case.source()}"
        assert not set(codes) & {"E100", "E101", "E102"}, codes  # a located diagnostic, not a syntax error
    else:
        assert dims is not None, f"torch gives {want} but netc reports {codes}:\n{case.source()}"
        assert tuple(dims) == want, case.source()


def _exact(scale: Any) -> bool:
    scales = scale if isinstance(scale, tuple) else (scale,)
    return all(Fraction(s).denominator <= 2 ** 16 for s in scales)


@SETTINGS
@given(case=cases(valid=True))
def test_symbolic_shape_rule_gives_torchs_shape_once_sizes_are_known(case: Case) -> None:
    want = case.torch_shape()
    assert want is not None, case.source()  # `valid` cases are ones torch accepts
    dims, codes = _netc(case, symbolic=True)
    if dims is None:
        assert case.scale is not None and not _exact(case.scale) and codes == ["E305"], (codes, case.source(True))
        return
    n = len(case.shape) - 2
    values = dict(zip(SYMBOLS[n], case.shape[2:]))
    assert tuple(subs(d, values) for d in dims) == want, case.source(True)


@SETTINGS
@given(case=cases(valid=True), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16))
def test_numpy_kernel_matches_torch(case: Case, dtype: type, seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(case.shape).astype(dtype)
    scale = tuple(case.scale) if isinstance(case.scale, tuple) else case.scale
    size = list(case.size) if isinstance(case.size, tuple) else case.size
    want = F.interpolate(torch.from_numpy(x), size=size, scale_factor=scale, mode=case.mode,
                         align_corners=case.align).numpy()
    n = len(case.shape) - 2
    # As the generated code calls it: the output size from the checker, the scale when the user gave one.
    scales = None if case.scale is None else (case.scale if isinstance(case.scale, tuple) else (case.scale,) * n)
    got = numpy_kernels.interpolate(x, tuple(want.shape[2:]), scale_factor=scales, mode=case.mode,
                                    align_corners=case.align)
    assert got.dtype == want.dtype
    if case.mode == "nearest":
        np.testing.assert_array_equal(got, want)
    else:
        rtol, atol = (1.3e-6, 1e-5) if dtype == np.float32 else (1e-7, 1e-7)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# -- both backends, end to end ----------------------------------------------------------------------------------
CHAIN = """\
network Resample {
    input x: f32[B, 3, H, W]
    x -> Upsample(scale_factor=1.5, mode="bilinear") -> a
    a -> interpolate(size=(5, 3), mode="nearest") -> b
    b -> Upsample(scale_factor=2, mode="bilinear", align_corners=true) -> c
    c -> MaxPool2d(2) -> interpolate(scale_factor=(2, 0.5)) -> d
    output a, d
}
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_verify_a_chain_of_resamplings(dtype: str, tmp_path: Path) -> None:
    path = tmp_path / "resample.net"
    path.write_text(CHAIN, encoding="utf-8")
    r = CliRunner().invoke(main, ["verify", str(path), "--dtype", dtype, "--set", "H=7", "--set", "W=5"])
    assert r.exit_code == 0, r.output
    assert "ok: Resample agrees within tolerance" in r.output


def test_generated_code_computes_symbolic_sizes_like_torch() -> None:
    """Built once with symbolic H and W, both backends run on several sizes and agree with torch's own ops.

    The sizes here are floor divisions multiplied back (`2*((H)//2)`), which generated code must not read
    as `(2*H)//2`.
    """
    result = compile_source(Source("pool_up.net", "network PoolUp {\n    input x: f32[B, 3, H, W]\n"
                                   "    x -> MaxPool2d(2) -> Upsample(scale_factor=2) -> y\n"
                                   "    y -> interpolate(size=(H, W), mode=\"bilinear\") -> z\n"
                                   "    output y, z\n}\n"))
    assert result.ok
    torch_model = get_backend("torch").build(result)()
    numpy_model = get_backend("numpy").build(result)({}, dtype=np.float64)
    for h, w in [(5, 7), (6, 4), (9, 2)]:
        x = np.random.default_rng(h).standard_normal((2, 3, h, w))
        xt = torch.from_numpy(x)
        want_y = F.interpolate(F.max_pool2d(xt, 2), scale_factor=2)
        want_z = F.interpolate(want_y, size=(h, w), mode="bilinear")
        for y, z in (torch_model(xt), numpy_model.forward(x)):
            assert tuple(y.shape) == (2, 3, 2 * (h // 2), 2 * (w // 2))
            np.testing.assert_allclose(np.asarray(y), want_y.numpy(), rtol=1e-7, atol=1e-7)
            np.testing.assert_allclose(np.asarray(z), want_z.numpy(), rtol=1e-7, atol=1e-7)
