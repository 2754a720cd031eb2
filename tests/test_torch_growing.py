"""Repetitions whose items are built from what the item before makes (netc/dsl/parametric/recurrence.py).

A loop of alike items is right for any count only when each item makes the sizes it is built from. A DenseNet
layer makes `C + growth` channels from `C`, so layer i of a block takes `C0 + i * growth`: that becomes the
loop torchvision writes. Items that change otherwise (widths that halve, or one compiled item whose next one
would differ) are written out, and the class refuses other counts, naming the line, where it used to build the
compiled count (or items that no longer fit) without a word. The oracles are torch modules written here after
torchvision's densenet.py, the compiler's own layout for each `--set`, and parameter counts derived by hand.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import netc  # noqa: E402
from netc.codegen import get_backend  # noqa: E402

from .conftest import ROOT, torch_namespace  # noqa: E402

DENSENET = ROOT / "samples" / "densenet121.net"


# -- torchvision's DenseNet (torchvision/models/densenet.py, BSD-3-Clause), without checkpointing ------------
class _DenseLayer(nn.Module):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        concated = torch.cat(features, 1)
        bottleneck = self.conv1(self.relu1(self.norm1(concated)))
        return self.conv2(self.relu2(self.norm2(bottleneck)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: torch.Tensor) -> torch.Tensor:
        features = [init_features]
        for _, layer in self.items():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                trans = _Transition(num_features, num_features // 2)
                self.features.add_module(f"transition{i + 1}", trans)
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.features(x), inplace=True)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1))


def layout(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def densenet_class() -> type:
    return get_backend("torch").build(netc.check(DENSENET), network="DenseNet121")


def test_densenet121_is_torchvisions_layout_and_count(densenet_class: type) -> None:
    ours, theirs = densenet_class(), DenseNet()
    assert layout(ours) == layout(theirs)
    # torchvision's densenet121 weights meta, "num_params": 7978856
    assert sum(p.numel() for p in ours.parameters()) == 7_978_856


def test_the_generated_dense_block_is_torchvisions_loop() -> None:
    code = get_backend("torch").generate(netc.check(DENSENET)).code
    assert "DenseLayer(C=init + i * growth, growth=growth, bn_size=bn_size)" in code
    assert "for i in range(blocks[0])" in code and "self.transition1 = Transition(C=init + blocks[0] * growth)" in code


@pytest.mark.parametrize("config", [
    dict(growth=4, blocks=(2, 3, 1, 2), init=8, bn_size=2, classes=5),
    dict(growth=3, blocks=(1, 1, 1, 1), init=7, bn_size=1, classes=3),  # odd widths: the transitions floor
    dict(growth=32, blocks=(6, 12, 32, 32), init=64, bn_size=4, classes=1000),  # DenseNet-169
])
def test_other_configurations_equal_torchvision_built_alike(densenet_class: type, config: dict) -> None:
    ours = densenet_class(**config)
    theirs = DenseNet(config["growth"], config["blocks"], config["init"], config["bn_size"], config["classes"])
    assert layout(ours) == layout(theirs)
    if config["classes"] == 1000:
        # DenseNet-169: torchvision's densenet169 weights meta, "num_params": 14149480
        assert sum(p.numel() for p in ours.parameters()) == 14_149_480
        return
    theirs.load_state_dict(ours.state_dict())
    ours.eval()
    theirs.eval()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_a_compile_with_other_counts_gives_the_same_class(tmp_path: Path) -> None:
    """Compiled with one layer per block, the loop is the same: the step comes from the layer's own analysis,
    not from the compiled items."""
    once = get_backend("torch").build(netc.check(DENSENET, {"blocks": [1, 1, 1, 1]}), network="DenseNet121")
    assert layout(once(blocks=(6, 12, 24, 16))) == layout(DenseNet())


# -- repetitions that cannot be one loop refuse other counts -----------------------------------------------
GROWS_ONCE = """
block Blk(w: int) {
    input x: f32[B, C]
    output y = x -> Linear(w) as fc -> relu
}
network N(n: int = 1) {
    input x: f32[B, 8]
    output y = x -> Blk(16) * n as blocks -> Linear(2) as head
}
"""

HALVES = """
block Half() {
    input x: f32[B, C]
    output y = x -> Linear(C / 2) as fc
}
network N(n: int = 3) {
    input x: f32[B, 64]
    output y = x -> Half() * n as blocks -> Linear(2) as head
}
"""


@pytest.mark.parametrize("source, line", [(GROWS_ONCE, "t.net:8:21"), (HALVES, "t.net:8:21")])
def test_items_that_change_from_one_to_the_next_pin_the_count(source: str, line: str) -> None:
    """One compiled `Blk(16)` takes 8 features; a second would take 16. `Half()` items take 64, 32, 16. A loop
    of the compiled item (or of the compiled items) is wrong for other counts: the class refuses them."""
    _, ns = torch_namespace(source)
    net = ns["N"]
    model = net()  # type: ignore[operator]
    assert model(torch.randn(2, 8 if source is GROWS_ONCE else 64)).shape == (2, 2)
    with pytest.raises(ValueError, match=rf"{line}: `\w+\(\w*\) \* n` is written item by item"):
        net(n=2 if source is GROWS_ONCE else 5)  # type: ignore[operator]


def test_a_count_compiled_as_two_makes_the_first_then_a_loop_for_any_count() -> None:
    """Compiled with n = 2, `Blk(16)` is [8 -> 16], [16 -> 16]: the second makes what it takes, so the loop
    after the first is right for any n, and equals the compiler's own layout for `--set n=...`."""
    _, ns = torch_namespace(GROWS_ONCE.replace("n: int = 1", "n: int = 2"))
    for n in (1, 2, 5):
        model = ns["N"](n=n)  # type: ignore[operator]
        expected = get_backend("torch").build(netc.check_source(GROWS_ONCE, "t.net", {"n": n}), network="N")()
        assert layout(model) == layout(expected)
        assert model(torch.randn(2, 8)).shape == (2, 2)


STRIDED = """
network N(n: int = 2) {
    input x: f32[B, 8, 16, 16]
    output y = x -> Conv2d(8, 3, stride=2, padding=1) * n as convs -> HEAD
}
"""


def test_a_size_that_changes_with_the_count_pins_the_layer_built_from_it() -> None:
    """Each stride-2 convolution halves the height; the convolutions are alike, so they loop. A Linear over the
    flattened result is built from the height the compiled count makes (4 x 4 for n = 2: 8 * 4 * 4 = 128
    inputs, hand-derived), so the class refuses other counts; after a global pool nothing depends on it."""
    _, ns = torch_namespace(STRIDED.replace("HEAD", "flatten(1) -> Linear(10) as head"))
    model = ns["N"]()  # type: ignore[operator]
    assert model.head.in_features == 128 and model(torch.randn(2, 8, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"t\.net:4:21: .* makes sizes that change with its count"):
        ns["N"](n=3)  # type: ignore[operator]
    code, ns = torch_namespace(STRIDED.replace("HEAD", "AdaptiveAvgPool2d(1) -> flatten(1) -> Linear(10) as head"))
    for n in (1, 3):
        assert ns["N"](n=n)(torch.randn(2, 8, 16, 16)).shape == (2, 10)  # type: ignore[operator]
    assert "x = self.convs(x)  # (B, 8, ?, ?)" in code  # the height is not one expression for every count
