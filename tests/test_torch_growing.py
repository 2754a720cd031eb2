"""Repetitions whose items are built from what the item before makes (netc/dsl/parametric/recurrence.py).

A loop of alike items is right for any count only when each item makes the sizes it is built from. A DenseNet
layer makes `C + growth` channels from `C`, so layer i of a block takes `C0 + i * growth`: that becomes the
loop torchvision writes. Items that change otherwise (widths that halve, or one compiled item whose next one
would differ) are written out, and the class refuses other counts, naming the line, where it used to build the
compiled count (or items that no longer fit) without a word. The oracles are copies of torchvision's densenet.py
(tests/torchvision_zoo_ref.py), the compiler's own layout for each `--set`, and parameter counts derived by hand.
"""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import netc  # noqa: E402
from netc.codegen import get_backend  # noqa: E402

from .conftest import ROOT, torch_namespace  # noqa: E402
from .torchvision_zoo_ref import DenseNet  # noqa: E402

DENSENET = ROOT / "samples" / "densenet121.net"


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
