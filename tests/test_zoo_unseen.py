"""Published architectures the samples did not have before, against plain-torch copies of torchvision 0.29.1's
classes (tests/torchvision_zoo_ref.py): SqueezeNet 1.1, AlexNet, ShuffleNetV2 x1.0, GoogLeNet (no aux heads),
ResNeXt-50 32x4d and Wide ResNet-50-2.

For each: the generated module's state_dict (keys, order, shapes) at the published size is the reference's, and
its parameter count is the `num_params` that torchvision's weight metadata states; on the same random weights the
generated module, the NumPy backend and the reference compute the same logits; the generated constructor takes
the source's parameters, so one compiled class built with other arguments (classes=7, other widths and depths)
matches the reference built with those arguments.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import netc
from netc.codegen import get_backend, numpy_ref

from . import torchvision_zoo_ref as tv
from .conftest import SAMPLES, torch_namespace

# sample -> (the reference built at its published size, torchvision's num_params from its weight metadata)
PUBLISHED: dict[str, tuple[Any, int]] = {
    "squeezenet1_1": (lambda: tv.SqueezeNet11(), 1_235_496),
    "alexnet": (lambda: tv.AlexNet(), 61_100_840),
    "shufflenet_v2_x1_0": (lambda: tv.ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024]), 2_278_604),
    "googlenet": (lambda: tv.GoogLeNet(), 6_624_904),
    "resnext50_32x4d": (lambda: tv.ResNet([3, 4, 6, 3], groups=32, width_per_group=4), 25_028_904),
    "wide_resnet50_2": (lambda: tv.ResNet([3, 4, 6, 3], width_per_group=128), 68_883_240),
}


def _generated_class(sample: str, overrides: dict[str, Any] | None = None) -> type:
    result = netc.check(SAMPLES / f"{sample}.net", overrides)
    assert result.ok, result.diagnostics
    return get_backend("torch").build(result)


@pytest.mark.parametrize("sample", list(PUBLISHED))
def test_published_layout_and_parameter_count(sample: str) -> None:
    make_reference, num_params = PUBLISHED[sample]
    with torch.device("meta"):  # shapes without memory
        reference = make_reference()
        ours = _generated_class(sample)()
    theirs = [(k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == theirs
    assert sum(p.numel() for p in reference.parameters()) == num_params  # the oracle is faithful
    assert sum(p.numel() for p in ours.parameters()) == num_params
    assert netc.check(SAMPLES / f"{sample}.net").graphs[type(ours).__name__].num_params == num_params


def _same_logits(ours: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor,
                 numpy_result: netc.Result | None = None, seed: int = 0) -> None:
    """Random weights (BatchNorm statistics too, so none hides) loaded strictly into both; eval mode."""
    reference = reference.double().eval()
    gen = torch.Generator().manual_seed(seed)
    state = {k: (torch.rand(v.shape, generator=gen, dtype=torch.float64) + 0.5 if "running_var" in k
                 else torch.randn(v.shape, generator=gen, dtype=torch.float64) * 0.3)
             if v.is_floating_point() else v for k, v in reference.state_dict().items()}
    reference.load_state_dict(state, strict=True)
    ours = ours.double().eval()
    ours.load_state_dict(state, strict=True)
    with torch.no_grad():
        want = reference(x)
        got = ours(x)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    if numpy_result is not None:
        model = numpy_ref.build(numpy_result)({k: v.numpy() for k, v in state.items()}, dtype=np.float64)
        np.testing.assert_allclose(model(x.numpy()), want.numpy(), rtol=1e-7, atol=1e-9)


def _image(size: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(size), dtype=torch.float64)


# sample -> cases of (netc parameters, the reference with those arguments, image size). The first case is the
# published model; the others change every parameter the source has. One compiled class (at the defaults) is
# built with each case's arguments; the NumPy backend compiles each case with --set.
CASES: dict[str, list[tuple[dict[str, Any], Any, int]]] = {
    "squeezenet1_1": [({}, lambda: tv.SqueezeNet11(), 35),
                      ({"classes": 7, "dropout": 0.3}, lambda: tv.SqueezeNet11(7, 0.3), 48)],
    "alexnet": [({"classes": 7, "dropout": 0.1}, lambda: tv.AlexNet(7, 0.1), 63)],
    "shufflenet_v2_x1_0": [
        ({}, lambda: tv.ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024]), 32),
        ({"stages_repeats": [2, 1, 3], "stages_out_channels": [8, 16, 24, 32, 40], "classes": 7},
         lambda: tv.ShuffleNetV2([2, 1, 3], [8, 16, 24, 32, 40], 7), 40),
    ],
    "googlenet": [({"classes": 7, "dropout": 0.5}, lambda: tv.GoogLeNet(7, 0.5), 33)],
    "resnext50_32x4d": [
        ({"layers": [1, 1, 1, 1]}, lambda: tv.ResNet([1, 1, 1, 1], groups=32, width_per_group=4), 32),
        ({"classes": 7, "layers": [2, 1, 2, 1], "groups": 4, "width_per_group": 8},
         lambda: tv.ResNet([2, 1, 2, 1], 7, groups=4, width_per_group=8), 35),
    ],
    "wide_resnet50_2": [
        ({"classes": 7, "layers": [1, 2, 1, 1], "width_per_group": 16},
         lambda: tv.ResNet([1, 2, 1, 1], 7, width_per_group=16), 32),
        ({"layers": [1, 1, 1, 1], "groups": 2, "width_per_group": 32},
         lambda: tv.ResNet([1, 1, 1, 1], groups=2, width_per_group=32), 33),
    ],
}
CASE_IDS = [(s, i) for s, cases in CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize(("sample", "case"), CASE_IDS, ids=[f"{s}-{i}" for s, i in CASE_IDS])
def test_logits_equal_torchvisions_with_the_same_arguments(sample: str, case: int) -> None:
    args, make_reference, size = CASES[sample][case]
    torch_args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    ours = _generated_class(sample)(**torch_args)  # the class compiled at the defaults takes the arguments
    numpy_result = netc.check(SAMPLES / f"{sample}.net", args)
    _same_logits(ours, make_reference(), _image(size), numpy_result)


# -- the mechanisms these samples needed fixed ----------------------------------------------------------------
def test_a_python_list_is_a_list_parameter() -> None:
    """`netc.check(path, {"widths": [8, 16]})`: a Python list is the language's list, as `--set widths=[8,16]`
    is (it was refused as "is list, but got a list")."""
    result = netc.check(SAMPLES / "shufflenet_v2_x1_0.net", {"stages_repeats": [1, 2, 1]})
    graph = result.graphs["ShuffleNetV2"]
    assert graph.params["stages_repeats"] == (1, 2, 1)
    names = {e.key.split(".")[0] + "." + e.key.split(".")[1] for e in graph.state_dict() if e.key.startswith("stage")}
    assert names == {"stage2.0", "stage3.0", "stage3.1", "stage4.0"}


GROWING = """
block Grow(growth: int) {
    input x: f32[B, C, H, W]
    output concat(x, x -> Conv2d(growth, 3, padding=1), dim=1)
}
network Net(n: int = 2) {
    input img: f32[B, 4, H, W]
    img -> Grow(3) * n as layers -> y
    output y
}
"""


def test_a_repetition_written_item_by_item_refuses_other_counts() -> None:
    """The items' input widths grow (4, 7, 10, ...), so they are not alike and are listed one by one: the class
    then holds only for the compiled count and says so, where it silently built the compiled count."""
    code, ns = torch_namespace(GROWING)
    assert "Grow(C=4, growth=3)" in code and "Grow(C=7, growth=3)" in code
    net = ns["Net"]
    assert len(net().layers) == 2  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"t\.net:8:12: `Grow\(3\) \* n` is written item by item"):
        net(n=3)  # type: ignore[operator]


HALVES = """
block Half(width: int) {
    input x: f32[B, C, H, W]
    a, b = x -> chunk(2, dim=1)
    output concat(a, b -> Conv2d(width // 2, 1), dim=1)
}
network Net(width: int = 8, n: int = 3) {
    input img: f32[B, 4, H, W]
    s = img -> Conv2d(width // 2, 1) as stem
    concat(s, s, dim=1) -> Half(width) * n as units -> y
    output y
}
"""


def test_halves_concatenated_again_are_the_same_width_for_any_count() -> None:
    """A unit that halves its input and concatenates the halves gives `w // 2 + w // 2` channels, which the next
    unit halves again (`-(-(...) // 2)`): like terms are collected (`2 * (w // 2)`) and a multiple divided exactly
    (`-(-(2 * x) // 2)` is x), so every unit after the first is written alike and the count is a loop."""
    code, ns = torch_namespace(HALVES)
    assert "[Half(C=2 * (width // 2), width=width) for _ in range(n)]" in code
    net = ns["Net"](width=6, n=5)  # type: ignore[operator]
    assert len(net.units) == 5
    assert net(torch.randn(1, 4, 3, 3)).shape == (1, 6, 3, 3)
    assert "is written item by item" not in code
