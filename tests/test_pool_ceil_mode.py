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


# Sizes that are expressions of the input's symbol, and symbols with a stated divisibility: the remainder of the
# size modulo the stride is then restricted, so a window may be dropped for every legal size (the size is exact,
# one less, without a warning) or for none.
PRE = {  # the pooled size: how the network makes it, and how torch does
    "L": ("x", lambda x: x),
    "2*L": ("concat(x, x, dim=2)", lambda x: torch.cat([x, x], dim=2)),
    "L//2": ("x -> MaxPool1d(2)", lambda x: torch.nn.functional.max_pool1d(x, 2)),
    "L-1": ("x[:, :, 1:]", lambda x: x[:, :, 1:]),
}


@pytest.mark.parametrize("form", sorted(PRE))
@pytest.mark.parametrize("modulus", [1, 2, 3, 4])
@pytest.mark.parametrize("k, s, p", [(1, 2, 0), (1, 3, 0), (2, 2, 0), (2, 3, 1), (3, 2, 1), (1, 4, 0), (2, 4, 1)])
def test_warning_exactly_when_some_legal_size_drops_a_window(form: str, modulus: int, k: int, s: int,
                                                           p: int) -> None:
    text, pre = PRE[form]
    fact = f" where L % {modulus} == 0" if modulus > 1 else ""
    src = (f"network N {{\n    input x: f32[B, 1, L]{fact}\n    h = {text}\n"
           f"    output y = h -> MaxPool1d({k}, stride={s}, padding={p}, ceil_mode=true)\n}}\n")
    result = netc.check_source(src)
    warned = any(diag.code == "W002" and "ceil_mode" in diag.message for diag in result.diagnostics.items)
    symbolic = result.graphs["N"].outputs[0][1].type.dims[-1]
    pool = torch.nn.MaxPool1d(k, stride=s, padding=p, ceil_mode=True)
    differs = []
    for n in range(modulus, 16 * modulus * s + 8, modulus):
        try:
            want = pool(pre(torch.zeros(1, 1, n))).shape[-1]
        except RuntimeError:
            continue  # not a legal size for torch
        if want > 0 and subs(symbolic, {"L": n}) != want:
            differs.append(n)
    assert warned == bool(differs), (src, warned, differs)


def test_a_window_dropped_for_every_legal_size_gives_the_exact_size() -> None:
    """Stride 2, kernel 1, an even input: torch always drops the window that would start at the end."""
    src = ("network N {\n    input x: f32[B, 1, L] where L % 2 == 0\n"
           "    output y = x -> MaxPool1d(1, stride=2, ceil_mode=true)\n}\n")
    result = netc.check_source(src)
    assert not [d for d in result.diagnostics.items if d.code == "W002"]
    symbolic = result.graphs["N"].outputs[0][1].type.dims[-1]
    assert all(subs(symbolic, {"L": n}) == _torch_out(n, 1, 2, 0, 1) for n in range(2, 40, 2))
