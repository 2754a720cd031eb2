"""The later op families compiled to both backends, against torch references (tests/more_cases.py), and the
torch.nn coverage figure.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from torch import nn

import netc
from netc.codegen import get_backend
from netc.dsl.ops import ALIASES, OPS

from .more_cases import MORE_CASES
from .test_numpy_completeness import TOL, Case, run_case

# -- coverage of torch.nn ------------------------------------------------------------------------------------------
CONTAINERS = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Container",
              "DataParallel"}


def torch_nn_layers() -> list[str]:
    """torch.nn's layer classes: losses, containers (and the DataParallel wrapper), lazy variants and the
    *Base classes left out."""
    from torch.nn.modules.lazy import LazyModuleMixin
    from torch.nn.modules.loss import _Loss

    return sorted(n for n, c in vars(nn).items()
                  if inspect.isclass(c) and issubclass(c, nn.Module) and not n.startswith("_")
                  and not issubclass(c, (_Loss, LazyModuleMixin)) and n not in CONTAINERS and not n.endswith("Base"))


def covered(names: list[str]) -> list[str]:
    ours = {k.lower().replace("_", "") for k in [*OPS, *ALIASES]}
    return [n for n in names if n.lower().replace("_", "") in ours]


def test_torch_nn_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    layers = torch_nn_layers()
    have = covered(layers)
    share = len(have) / len(layers)
    with capsys.disabled():
        print(f"\ntorch.nn layer coverage: {len(have)} of {len(layers)} ({share:.0%}); missing: "
              f"{', '.join(sorted(set(layers) - set(have)))}")
    assert share >= 0.9


# -- numerics in both backends ---------------------------------------------------------------------------------------
def run_torch_backend(case: Case, dtype: str) -> tuple[list[np.ndarray], list[torch.Tensor]]:
    """The torch backend's module with the same weights and inputs as the NumPy case."""
    ours_np, theirs = run_case(case, dtype)  # also fixes the weights (seed 0) and the reference outputs
    result = netc.check_source(case.source(), overrides=case.sizes or {"B": 2})
    graph = next(iter(result.graphs.values()))
    from netc.verify import random_inputs, random_state

    rng = np.random.default_rng(0)
    state = random_state(graph, rng)
    inputs = random_inputs(graph, rng, dtype)
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    model = get_backend("torch").build(result)().to(tdtype).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with torch.no_grad():
        out = model(*[torch.from_numpy(x) for x in inputs])
    outs = list(out) if isinstance(out, tuple) else [out]
    return [o.numpy() for o in outs], theirs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", MORE_CASES, ids=lambda c: c.op)
def test_numpy_backend_matches_torch(case: Case, dtype: str) -> None:
    ours, theirs = run_case(case, dtype)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        want = np.dtype(dtype) if b.dtype.is_floating_point else np.dtype(bool) if b.dtype == torch.bool else np.int64
        assert np.asarray(a).dtype == want
        torch.testing.assert_close(torch.from_numpy(np.array(a)), b, **TOL[dtype])


@pytest.mark.parametrize("case", MORE_CASES, ids=lambda c: c.op)
def test_torch_backend_matches_torch(case: Case) -> None:
    ours, theirs = run_torch_backend(case, "float64")
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(torch.from_numpy(np.array(a)), b, **TOL["float64"])
