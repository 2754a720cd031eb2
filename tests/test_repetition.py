"""Repetition that composes: `+` of containers, comprehensions over an index, chains written inside lists.

The oracles are torch modules written here by hand: torchvision's ResNet (`Bottleneck` and `_make_layer`, copied
from torchvision 0.29.1's resnet.py, since torchvision cannot be installed beside torch 2.13.0), and plain
`nn.Sequential` nests for the key layouts. Parameter totals are torchvision's published figures.
"""
from __future__ import annotations

import pytest

import netc
from netc.dsl.compiler import compile_source
from netc.dsl.source import Source

from .conftest import SAMPLES

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402


# -- torchvision's ResNet, copied from torchvision/models/resnet.py (v1.5: the stride on the 3x3 conv) -------------
def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


class TvBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class TvResNet(nn.Module):
    def __init__(self, layers: list[int], num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * TvBottleneck.expansion, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * TvBottleneck.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * TvBottleneck.expansion, stride),
                                       nn.BatchNorm2d(planes * TvBottleneck.expansion))
        layers = [TvBottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * TvBottleneck.expansion
        for _ in range(1, blocks):
            layers.append(TvBottleneck(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _layout(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


# torchvision's figures: resnet50 25,557,032; resnet101 44,549,160; resnet152 60,192,808.
RESNETS = [
    ("resnet50.net", "ResNet50", {}, [3, 4, 6, 3], 25_557_032),
    ("resnet50.net", "ResNet50", {"layers": (3, 4, 23, 3)}, [3, 4, 23, 3], 44_549_160),
    ("resnet152.net", "ResNet152", {}, [3, 8, 36, 3], 60_192_808),
]


@pytest.mark.parametrize("sample,network,overrides,layers,total", RESNETS)
def test_resnet_stages_have_torchvision_layout(sample: str, network: str, overrides: dict, layers: list[int],
                                               total: int) -> None:
    graph = netc.check(SAMPLES / sample, overrides=overrides).graphs[network]
    reference = TvResNet(layers)
    ours = [(e.key, tuple(e.shape)) for e in graph.state_dict()]
    assert ours == _layout(reference)
    assert graph.num_params == total == sum(p.numel() for p in reference.parameters())
    assert f"layer3.{layers[2] - 1}.conv1.weight" in dict(ours) and f"layer3.{layers[2]}.conv1.weight" not in dict(ours)


def test_resnet50_generated_module_computes_torchvision_resnet() -> None:
    torch.manual_seed(0)
    generated = netc.build(SAMPLES / "resnet50.net")().eval()
    reference = TvResNet([3, 4, 6, 3]).eval()
    reference.load_state_dict(generated.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(generated(x), reference(x))


# -- the language ---------------------------------------------------------------------------------------------------
BLOCK = """
block Blk(c: int, stride: int = 1, dilation: int = 1) {
    input x: f32[B, C, H, W]
    output x -> Conv2d(c, 3, stride=stride, padding=dilation, dilation=dilation, bias=false) as conv -> relu
}
"""


def _check(body: str, params: str = "", overrides: dict | None = None):  # type: ignore[no-untyped-def]
    """The compile result (errors included, unlike `netc.check_source`) of a network around `body`."""
    text = BLOCK + f"network N({params}) {{\n    input x: f32[2, 4, 16, 16]\n{body}\n    output y\n}}\n"
    return compile_source(Source("<test>", text), overrides)


def _keys(result) -> list[str]:  # type: ignore[no-untyped-def]
    assert not result.diagnostics.errors, [d.message for d in result.diagnostics.errors]
    return [e.key for e in result.graphs["N"].state_dict()]


@pytest.mark.parametrize("n", [1, 2, 4])
def test_plus_of_list_and_repetition_is_one_flat_container(n: int) -> None:
    keys = _keys(_check("    x -> [Blk(8, stride=2)] + Blk(8) * (n - 1) as layer4 -> y", f"n: int = {n}"))
    assert keys == [f"layer4.{i}.conv.weight" for i in range(n)]


def test_plus_joins_several_parts_in_order() -> None:
    result = _check("    x -> Blk(8) * 2 + [Blk(16, stride=2)] + [Blk(16) for _ in range(2)] as s -> y")
    graph = result.graphs["N"]
    assert [e.key for e in graph.state_dict()] == [f"s.{i}.conv.weight" for i in range(5)]
    assert [e.shape[0] for e in graph.state_dict()] == [8, 8, 16, 16, 16]


def test_plus_with_a_name_pattern() -> None:
    keys = _keys(_check('    x -> [Blk(8, stride=2)] + Blk(8) * 2 as stage["block{i+1}"] -> y'))
    assert keys == ["stage.block1.conv.weight", "stage.block2.conv.weight", "stage.block3.conv.weight"]


def test_plus_generated_torch_module_has_the_flat_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "n.net"
    path.write_text(BLOCK + "network N(n: int = 3) {\n    input x: f32[B, 4, 16, 16]\n"
                    "    output x -> [Blk(8, stride=2)] + Blk(8) * (n - 1) as layer4\n}\n")
    model = netc.build(path)()
    assert isinstance(model.layer4, nn.Sequential) and len(model.layer4) == 3
    assert list(model.state_dict()) == ["layer4.0.conv.weight", "layer4.1.conv.weight", "layer4.2.conv.weight"]
    assert model(torch.randn(1, 4, 16, 16)).shape == (1, 8, 8, 8)


def test_empty_container_and_negative_counts_are_errors() -> None:
    result = _check("    x -> [Blk(8) for _ in range(0)] + Blk(8) * 0 as s -> y")
    assert [d.code for d in result.diagnostics.errors] == ["E305"]
    result = _check("    x -> [Blk(8)] + Blk(8) * (0 - 1) as s -> y")
    assert [d.code for d in result.diagnostics.errors] == ["E305"]
    assert "non-negative" in result.diagnostics.errors[0].message
    result = _check("    x -> Blk(8) * 0 as s -> y")  # alone, a repetition must give a layer
    assert [d.code for d in result.diagnostics.errors] == ["E305"]
    assert "`+`" in (result.diagnostics.errors[0].help or "")


def test_repetition_nested_in_a_list_beside_the_same_block_warns_with_the_flat_spelling() -> None:
    result = _check("    x -> [Blk(8, stride=2), Blk(8) * 2] as layer4 -> y")
    keys = _keys(result)
    assert keys == ["layer4.0.conv.weight", "layer4.1.0.conv.weight", "layer4.1.1.conv.weight"]  # nesting kept
    (warning,) = [d for d in result.diagnostics.items if d.severity == "warning"]
    assert warning.code == "W004"
    assert "`[Blk(8, stride=2)] + Blk(8) * 2`" in (warning.help or "")
    # The comprehension the hint names for deliberate nesting gives the same keys, without the warning.
    quiet = _check("    x -> [Blk(8, stride=2), [Blk(8) for _ in range(2)]] as layer4 -> y")
    assert _keys(quiet) == keys and not quiet.diagnostics.items


def test_index_dependent_items_dilations_and_list_widths() -> None:
    result = _check("    x -> [Blk(widths[i], dilation=2 ** i) for i in range(4)] as s -> y",
                    "widths: list = [8, 16, 32, 64]")
    graph = result.graphs["N"]
    convs = [n for n in graph.op_nodes() if n.op == "Conv2d"]
    assert [n.attrs["dilation"] for n in convs] == [(1, 1), (2, 2), (4, 4), (8, 8)]
    assert [n.params["weight"][0] for n in convs] == [8, 16, 32, 64]
    assert [n.path for n in convs] == [f"s.{i}.conv" for i in range(4)]


def test_comprehension_over_values_with_a_naming_pattern_and_overrides() -> None:
    body = '    x -> [Blk(w) for w in widths] as layers["encoder_layer_{i}"] -> y'
    result = _check(body, "widths: list = [8, 8]", overrides={"widths": (8, 16, 24)})
    assert _keys(result) == [f"layers.encoder_layer_{i}.conv.weight" for i in range(3)]


def test_comprehension_as_a_value_and_range_forms() -> None:
    result = _check("    d = [2 ** i for i in range(1, 7, 2)]\n    x -> Blk(8, dilation=d[2]) as b -> y")
    assert [n.attrs["dilation"] for n in result.graphs["N"].op_nodes() if n.op == "Conv2d"] == [(32, 32)]


def test_comprehension_errors() -> None:
    result = _check("    x -> [Blk(8) for i in 3] as s -> y")
    assert [d.code for d in result.diagnostics.errors] == ["E204"]
    assert "range" in (result.diagnostics.errors[0].help or "")
    result = _check("    x -> [Blk(8) for i in range(2, k=1)] as s -> y")
    assert [d.code for d in result.diagnostics.errors] == ["E306"]
    result = _check("    x -> [Blk(8) for i in range(1, 4, 0)] as s -> y")
    assert [d.code for d in result.diagnostics.errors] == ["E204"]
    result = _check("    x -> [Blk(8) for i in range(2)] as s -> y\n    z = i")  # the name is bound per item only
    assert [d.code for d in result.diagnostics.errors] == ["E300"]


# -- chains inside lists --------------------------------------------------------------------------------------------
def test_chain_inside_a_list_is_a_nested_container_like_torchvision_features() -> None:
    result = _check("    x -> [Conv2d(8, 3, stride=2, padding=1, bias=false) -> BatchNorm2d -> relu6,\n"
                    "          Blk(8),\n"
                    "          Conv2d(16, 1, bias=false) -> BatchNorm2d] as features -> y")
    # torchvision: features = Sequential(Conv2dNormActivation(...), block, Conv2dNormActivation(...)), where
    # Conv2dNormActivation is itself a Sequential(Conv2d, BatchNorm2d, activation).
    reference = nn.Sequential()
    reference.add_module("features", nn.Sequential(
        nn.Sequential(nn.Conv2d(4, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU6()),
        nn.Module(),
        nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16))))
    reference.features[1].conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)  # type: ignore[index]
    ours = [(e.key, tuple(e.shape)) for e in result.graphs["N"].state_dict()]
    assert ours == _layout(reference)
    assert ours[0][0] == "features.0.0.weight"


def test_chain_inside_a_list_keeps_its_step_names_and_composes() -> None:
    keys = _keys(_check("    x -> [Conv2d(8, 1) -> BatchNorm2d as bn -> relu for _ in range(2)] as s -> y"))
    assert keys[:2] == ["s.0.0.weight", "s.0.0.bias"]
    assert "s.1.bn.running_mean" in keys


def test_chain_inside_a_list_runs_in_both_backends(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "features.net"
    path.write_text(BLOCK + "network F {\n    input x: f32[B, 4, 16, 16]\n"
                    "    output x -> [Conv2d(8, 3, padding=1, bias=false) -> BatchNorm2d -> relu,\n"
                    "                 [Blk(8, stride=2)] + Blk(8) * 1] as features\n}\n")
    model = netc.build(path)().eval()
    reference = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval()
    reference.load_state_dict({k.removeprefix("features.0."): v for k, v in model.state_dict().items()
                               if k.startswith("features.0.")})
    x = torch.randn(2, 4, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model.features[0](x), reference(x))
    # conftest runs `netc verify` (the NumPy backend against torch) on this program at the end of the session.


def test_list_parameter_set_on_the_command_line_gives_resnet101() -> None:
    import subprocess
    import sys
    from pathlib import Path
    netc_cli = str(Path(sys.executable).parent / "netc")
    out = subprocess.run([netc_cli, "check", str(SAMPLES / "resnet50.net"), "--set", "layers=[3,4,23,3]"],
                         capture_output=True, text=True, check=True).stdout
    assert "total parameters: 44,549,160" in out and "layer3.22.conv1" in out and "layer3.23" not in out
