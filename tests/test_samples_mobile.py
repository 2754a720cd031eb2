"""samples/mobilenet_v3_large.net and samples/efficientnet_b0.net against torchvision.

Layouts: the compiled torch module's state_dict against torchvision 0.29.1's (tests/reference/tv_*.json), key
by key in order, with shapes, dtypes, parameter or buffer, and the totals. Numbers: the compiled module against
MobileNetV3-Large and EfficientNet-B0 written by hand from torchvision's source (tests/handwritten_mobile.py),
on the same weights, in eval mode and in train mode (batch statistics, running-stat updates).
"""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

import netc  # noqa: E402

from . import handwritten_mobile as hw  # noqa: E402
from .conftest import REFERENCE, SAMPLES  # noqa: E402

# sample, network, reference layout, hand-written model, published parameter count (torchvision's docs)
MODELS = {
    "mobilenet_v3_large": ("mobilenet_v3_large.net", "MobileNetV3Large", "tv_mobilenet_v3_large.json",
                           hw.MobileNetV3Large, 5_483_032),
    "efficientnet_b0": ("efficientnet_b0.net", "EfficientNetB0", "tv_efficientnet_b0.json", hw.EfficientNetB0,
                        5_288_548),
}


def build(model: str, **overrides: object) -> torch.nn.Module:
    sample, network, *_ = MODELS[model]
    torch.manual_seed(0)
    return netc.build(SAMPLES / sample, target="torch", network=network, overrides=overrides or None)()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_state_dict_is_torchvisions(model: str) -> None:
    sample, network, reference, _, published = MODELS[model]
    ref = json.loads((REFERENCE / reference).read_text())
    module = build(model)
    params = {name for name, _ in module.named_parameters()}
    ours = [(k, list(v.shape), str(v.dtype).removeprefix("torch."), "parameter" if k in params else "buffer")
            for k, v in module.state_dict().items()]
    theirs = [(e["key"], e["shape"], e["dtype"], e["kind"]) for e in ref["state_dict"]]
    assert ours == theirs
    assert len(ours) == ref["num_state_dict_entries"]
    assert sum(p.numel() for p in module.parameters()) == ref["total_parameters"] == published
    # the checker's count and layout are the module's
    graph = netc.check(SAMPLES / sample).graphs[network]
    assert graph.num_params == published
    assert [(e.key, list(e.shape)) for e in graph.state_dict()] == [(k, s) for k, s, _, _ in ours]


def _randomise(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Weights with BatchNorm statistics and affine parameters far from their identity defaults."""
    gen = torch.Generator().manual_seed(1)
    state = {}
    for key, value in module.state_dict().items():
        if key.endswith("running_var"):
            value = 0.5 + torch.rand(value.shape, generator=gen, dtype=value.dtype)
        elif key.endswith(("running_mean", "bias")) or (key.endswith("weight") and value.ndim == 1):
            value = 0.1 * torch.randn(value.shape, generator=gen, dtype=value.dtype) + (key.endswith("weight"))
        state[key] = value
    return state


@pytest.mark.parametrize("model", sorted(MODELS))
def test_forward_equals_the_hand_written_model(model: str) -> None:
    reference_class = MODELS[model][3]
    ours = build(model).double().eval()
    state = _randomise(ours)
    ours.load_state_dict(state)
    theirs = reference_class().double().eval()
    theirs.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        want = theirs(x)
        got = ours(x)
    assert got.shape == (2, 1000)
    torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-7)
    assert want.std() > 1e-3  # the comparison is not between two near-constant outputs


@pytest.mark.parametrize("model", sorted(MODELS))
def test_training_step_equals_the_hand_written_model(model: str) -> None:
    """Train mode: batch statistics and the running-stat momentum (0.01 in MobileNetV3, torch's 0.1 in
    EfficientNet). Dropout and stochastic depth are off, as they draw noise."""
    overrides = {"dropout": 0.0} | ({"p": 0.0} if model == "efficientnet_b0" else {})
    ours = build(model, **overrides).double().train()
    state = _randomise(ours)
    ours.load_state_dict(state)
    theirs = MODELS[model][3](dropout=0.0, **({"stochastic_depth_prob": 0.0} if "p" in overrides else {}))
    theirs = theirs.double().train()
    theirs.load_state_dict(state, strict=True)
    x = torch.randn(4, 3, 40, 40, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    got, want = ours(x), theirs(x)
    torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-7)
    got.square().sum().backward()
    want.square().sum().backward()
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-7, msg=key)
    for (key, a), b in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-9, msg=key)


@pytest.mark.parametrize("model,published", [("mobilenet_v3_large", 0.217), ("efficientnet_b0", 0.386)])
def test_macs_at_224_are_torchvisions_published_figure(model: str, published: float) -> None:
    """torchvision's weight metadata gives `_ops`, the GMACs of one 224x224 image: 0.217 and 0.386."""
    from netc.dsl.cost import evaluate, summarize

    sample, network, *_ = MODELS[model]
    graph = netc.check(SAMPLES / sample).graphs[network]
    macs = evaluate(summarize(graph).macs, {"B": 1, "H": 224, "W": 224})
    assert round(macs / 1e9, 3) == published


def test_stochastic_depth_and_dropout_draw_as_torchvisions() -> None:
    """Train mode with EfficientNet-B0's own stochastic depth (0.2 * i / 16 for block i) and dropout (0.2): with
    the same seed both models draw the same masks in the same order, so the outputs agree only if every block's
    probability is torchvision's."""
    ours = build("efficientnet_b0").double().train()
    state = _randomise(ours)
    ours.load_state_dict(state)
    theirs = hw.EfficientNetB0().double().train()
    theirs.load_state_dict(state, strict=True)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.manual_seed(5)
    got = ours(x)
    torch.manual_seed(5)
    want = theirs(x)
    torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-7)
    torch.manual_seed(5)
    assert not torch.allclose(theirs.eval()(x), want)  # the draws did change the output
