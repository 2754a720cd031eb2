"""ceil_mode: the checker warns (W002) exactly when torch drops the last window for some input sizes."""
from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.dsl.dims import subs  # noqa: E402


def _torch_out(size: int, k: int, s: int, p: int, d: int) -> int:
    pool = torch.nn.MaxPool1d(k, stride=s, padding=p, dilation=d, ceil_mode=True)
    return pool(torch.zeros(1, 1, size)).shape[-1]


@pytest.mark.parametrize("k, s, p, d", [c for c in itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2))
                                        if 2 * c[2] <= c[0]])
def test_warning_only_where_torch_drops_a_window(k: int, s: int, p: int, d: int) -> None:
    src = (f"network N {{\n    input x: f32[B, 1, L]\n"
           f"    output y = x -> MaxPool1d({k}, stride={s}, padding={p}, dilation={d}, ceil_mode=true)\n}}\n")
    result = netc.check_source(src)
    warned = any(diag.code == "W002" for diag in result.diagnostics.items)
    symbolic = result.graphs["N"].outputs[0][1].type.dims[-1]
    eff = d * (k - 1) + 1
    sizes = [n for n in range(max(1, eff - 2 * p), eff + 4 * s + 8)]
    differs = [n for n in sizes if subs(symbolic, {"L": n}) != _torch_out(n, k, s, p, d)]
    assert warned == bool(differs), (warned, differs)


def test_the_reported_false_warning() -> None:
    src = ("network N {\n    input x: f32[B, 8, H, W]\n"
           "    output y = x -> MaxPool2d(3, stride=1, padding=1, ceil_mode=true)\n}\n")
    assert not [d for d in netc.check_source(src).diagnostics.items if d.code == "W002"]
