"""The sample programs: parameter counts against hand-derived figures and torchvision's layouts."""
from __future__ import annotations

import json

import pytest

import netc
from netc.dsl.summary import format_table

from .conftest import REFERENCE, SAMPLES

# Hand-derived or published figures, not netc output (see tests/reference/README.md).
EXPECTED_PARAMS = {
    "mnist_mlp.net": ("MnistMLP", 784 * 128 + 128 + 128 * 10 + 10),  # 101,770
    "lenet5.net": ("LeNet5", (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84)
                   + (84 * 10 + 10)),  # 61,706
    "resnet18.net": ("ResNet18", 11_689_512),
    "resnet50.net": ("ResNet50", 25_557_032),  # torchvision's published figure for resnet50
    "resnet152.net": ("ResNet152", 60_192_808),  # torchvision's published figure for resnet152
    "lenet5_digits.net": ("DigitsLeNet5", (1 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120)
                          + (120 * 84 + 84) + (84 * 10 + 10)),
    "vgg11_bn.net": ("VGG11BN", 132_868_840),
}


@pytest.mark.parametrize("sample", sorted(EXPECTED_PARAMS))
def test_parameter_counts(sample: str) -> None:
    network, expected = EXPECTED_PARAMS[sample]
    graph = netc.check(SAMPLES / sample).graphs[network]
    assert graph.num_params == expected


@pytest.mark.parametrize("sample,reference", [("resnet18.net", "resnet18"), ("vgg11_bn.net", "vgg11_bn")])
def test_state_dict_layout_equals_torchvision(sample: str, reference: str) -> None:
    ref = json.loads((REFERENCE / f"{reference}_state_dict.json").read_text())
    graph = next(iter(netc.check(SAMPLES / sample).graphs.values()))
    ours = [(e.key, list(e.shape), e.dtype, e.kind) for e in graph.state_dict()]
    theirs = [(e["key"], e["shape"], e["dtype"], e["kind"]) for e in ref["state_dict"]]
    assert ours == theirs
    assert graph.num_params == ref["total_parameters"]
    assert sum(e.numel for e in graph.state_dict() if e.kind == "buffer") == ref["total_buffer_elements"]


def test_every_sample_checks_cleanly() -> None:
    for path in sorted(SAMPLES.glob("*.net")):
        result = netc.check(path)
        assert result.graphs, path.name
        assert not [d for d in result.diagnostics.items if d.severity == "warning"], path.name


def test_resnet_shapes_follow_the_paper() -> None:
    graph = netc.check(SAMPLES / "resnet18.net").graphs["ResNet18"]
    shapes = {n.path: n.outputs[0].type.dims for n in graph.op_nodes()}
    assert shapes["conv1"][1:] == (64, 112, 112)
    assert shapes["maxpool"][1:] == (64, 56, 56)
    assert shapes["layer4.1.bn2"][1:] == (512, 7, 7)
    assert shapes["fc"][1:] == (1000,)


def test_symbolic_resnet_input_gives_symbolic_shapes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (SAMPLES / "resnet18.net").read_text().replace("f32[B, 3, 224, 224]", "f32[B, 3, H, W]")
    path = tmp_path / "resnet_sym.net"
    path.write_text(text)
    graph = netc.check(path).graphs["ResNet18"]
    shapes = {n.path: n.outputs[0].type.dims for n in graph.op_nodes()}
    assert str(shapes["maxpool"][2]) == "(H - 1)//4 + 1"
    assert shapes["fc"][1] == 1000
    assert graph.num_params == 11_689_512
    # Binding the symbols gives the concrete shapes back.
    bound = netc.check(path, overrides={"H": 224, "W": 224}).graphs["ResNet18"]
    assert {n.path: n.outputs[0].type.dims for n in bound.op_nodes()}["maxpool"][1:] == (64, 56, 56)


def test_check_table_lists_state_dict_paths() -> None:
    graph = netc.check(SAMPLES / "resnet18.net").graphs["ResNet18"]
    table = format_table(graph)
    assert "layer2.0.downsample.0" in table
    assert "total parameters: 11,689,512" in table
