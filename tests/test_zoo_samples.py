"""ViT-B/16 and ConvNeXt-T: torchvision's layouts (tests/reference/tv_*.json, dumped from torchvision 0.29.1), and
forward passes equal to the hand-written torch references of tests/torchvision_ref.py on the same weights."""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import torch

import netc
from netc.codegen import get_backend, numpy_ref

from . import torchvision_ref as tv
from .conftest import REFERENCE, SAMPLES

LAYOUTS = [("vit_b_16.net", "tv_vit_b_16"), ("convnext_tiny.net", "tv_convnext_tiny")]


def _reference(name: str) -> dict[str, Any]:
    return json.loads((REFERENCE / f"{name}.json").read_text())


@pytest.mark.parametrize(("sample", "reference"), LAYOUTS)
def test_state_dict_layout_equals_torchvision(sample: str, reference: str) -> None:
    ref = _reference(reference)
    graph = next(iter(netc.check(SAMPLES / sample).graphs.values()))
    ours = [(e.key, list(e.shape), e.dtype, e.kind) for e in graph.state_dict()]
    theirs = [(e["key"], e["shape"], e["dtype"], e["kind"]) for e in ref["state_dict"]]
    assert ours == theirs
    assert len(ours) == ref["num_state_dict_entries"]
    assert graph.num_params == ref["total_parameters"]


@pytest.mark.parametrize(("sample", "reference"), LAYOUTS)
def test_generated_module_has_torchvisions_state_dict(sample: str, reference: str) -> None:
    """The compiled torch module at full size (on the meta device: shapes without memory) and the NumPy class."""
    ref = _reference(reference)
    result = netc.check(SAMPLES / sample)
    with torch.device("meta"):
        model = get_backend("torch").build(result)()
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == \
        [(e["key"], e["shape"]) for e in ref["state_dict"]]
    assert sum(p.numel() for p in model.parameters()) == ref["total_parameters"]
    state = numpy_ref.build(result).STATE
    assert [(k, list(s)) for k, (s, _) in state.items()] == [(e["key"], e["shape"]) for e in ref["state_dict"]]


def _randomized(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Every entry drawn away from its initial value (zeros class token, 1e-6 layer scale), so none hides."""
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) * 0.5 for k, v in module.state_dict().items()}


def _compare(result: netc.Result, reference: torch.nn.Module, x: torch.Tensor) -> None:
    reference = reference.double().eval()
    state = _randomized(reference, 0)
    reference.load_state_dict(state, strict=True)
    ours = get_backend("torch").build(result)().double().eval()
    ours.load_state_dict(state, strict=True)  # the same keys and shapes, or this raises
    with torch.no_grad():
        want = reference(x)
        got = ours(x)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    numpy_model = numpy_ref.build(result)({k: v.numpy() for k, v in state.items()}, dtype=np.float64)
    np.testing.assert_allclose(numpy_model(x.numpy()), want.numpy(), rtol=1e-7, atol=1e-9)


VIT_SMALL = {"image_size": 32, "patch_size": 8, "num_layers": 3, "num_heads": 4, "hidden_dim": 32, "mlp_dim": 48,
             "num_classes": 10}


def test_vit_forward_equals_the_hand_written_reference() -> None:
    s = VIT_SMALL
    result = netc.check(SAMPLES / "vit_b_16.net", s)
    reference = tv.VisionTransformer(s["image_size"], s["patch_size"], s["num_layers"], s["num_heads"],
                                     s["hidden_dim"], s["mlp_dim"], num_classes=s["num_classes"])
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    _compare(result, reference, x)


def test_vit_b_16_default_settings_are_torchvisions() -> None:
    graph = netc.check(SAMPLES / "vit_b_16.net").graphs["VisionTransformer"]
    assert graph.params == {"image_size": 224, "patch_size": 16, "num_layers": 12, "num_heads": 12,
                            "hidden_dim": 768, "mlp_dim": 3072, "dropout": 0.0, "attention_dropout": 0.0,
                            "num_classes": 1000}
    assert graph.outputs[0][1].type.dims[1:] == (1000,)


CONVNEXT_SMALL = {"c1": 8, "c2": 16, "c3": 24, "c4": 32, "num_classes": 10}


def test_convnext_forward_equals_the_hand_written_reference() -> None:
    s = CONVNEXT_SMALL
    result = netc.check(SAMPLES / "convnext_tiny.net", s)
    setting = [(s["c1"], s["c2"], 3), (s["c2"], s["c3"], 3), (s["c3"], s["c4"], 9), (s["c4"], None, 3)]
    reference = tv.ConvNeXt(setting, stochastic_depth_prob=0.1, num_classes=s["num_classes"])
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    _compare(result, reference, x)


def test_convnext_tiny_full_reference_layout_is_the_file() -> None:
    """The hand-written reference itself reproduces torchvision's dump: it is a faithful oracle."""
    with torch.device("meta"):
        reference = tv.ConvNeXt(tv.CONVNEXT_TINY, stochastic_depth_prob=0.1)
        vit = tv.VisionTransformer(224, 16, 12, 12, 768, 3072)
    for model, name in ((reference, "tv_convnext_tiny"), (vit, "tv_vit_b_16")):
        assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == \
            [(e["key"], e["shape"]) for e in _reference(name)["state_dict"]]


def test_convnext_stochastic_depth_grows_like_torchvisions() -> None:
    """sd_prob = 0.1 * block_id / 17 over the 18 blocks (convnext_tiny's stochastic_depth_prob is 0.1)."""
    graph = netc.check(SAMPLES / "convnext_tiny.net").graphs["ConvNeXt"]
    probs = [n.attrs["p"] for n in graph.op_nodes() if n.op == "StochasticDepth"]
    with torch.device("meta"):
        reference = tv.ConvNeXt(tv.CONVNEXT_TINY, stochastic_depth_prob=0.1)
    theirs = [m.p for m in reference.modules() if isinstance(m, tv.StochasticDepth)]
    assert probs == pytest.approx(theirs, abs=1e-15)
