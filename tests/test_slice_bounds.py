"""Slices of symbolic dims: W002 ("assumes ...") exactly when Python's clamping makes torch's slice differ from
the checker's size for some legal size, with torch as the oracle over small sizes.

The checker sizes `x[:, a:b]` as b - a; torch clamps bounds to [0, T] and an empty slice to 0. Bounds whose
range the checker proves (`T//2:`, `:T - 1`, `1:`) get no warning; bounds that can fall outside
(`-2:` for T = 1, `2:`, `:2*T`, `T - 1:1`) do.
"""
from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.dsl.dims import subs  # noqa: E402

BOUNDS = ["", "0", "1", "2", "-1", "-2", "T", "T - 1", "T - 2", "T//2", "T//2 + 1", "(T + 1)//2", "2*T", "T + 1",
          "T//3*2"]
STEPS = ["", "2", "3"]
SIZES = range(1, 30)


def _py(bound: str, t: int) -> int | None:
    return None if bound == "" else eval(bound, {}, {"T": t})  # noqa: S307 - the test's own bounds


@pytest.mark.parametrize("start, stop", [c for c in itertools.product(BOUNDS, BOUNDS) if c[0] or c[1]])
@pytest.mark.parametrize("step", STEPS)
def test_warning_exactly_when_torch_slices_differently(start: str, stop: str, step: str) -> None:
    text = f"{start}:{stop}" + (f":{step}" if step else "")
    src = f"network N {{\n    input x: f32[B, T]\n    output y = x[:, {text}]\n}}\n"
    result = netc.check_source(src)
    warned = any(d.code == "W002" for d in result.diagnostics.items)
    size = result.graphs["N"].outputs[0][1].type.dims[-1]
    differs = []
    for t in SIZES:
        want = torch.zeros(1, t)[:, slice(_py(start, t), _py(stop, t), int(step) if step else None)].shape[-1]
        if subs(size, {"T": t}) != want:
            differs.append(t)
    assert warned == bool(differs), (text, str(size), warned, differs)


def test_a_least_size_settles_a_negative_bound() -> None:
    src = "network N {\n    input x: f32[B, T] where T >= 2\n    output y = x[:, -2:]\n}\n"
    assert not [d for d in netc.check_source(src).diagnostics.items if d.code == "W002"]
