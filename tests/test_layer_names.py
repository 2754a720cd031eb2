"""Any layer name a published model uses can be written, and the generated module keeps it as its key.

torchvision names submodules `block` (MobileNetV3, EfficientNet, ConvNeXt), `block1-0` (RegNet),
`denselayer1` (DenseNet) and `encoder_layer_0` (ViT). The oracles are torch modules built here by hand with
torchvision's own registration calls (`add_module`, `OrderedDict`), whose state_dict keys are compared with
both the IR's and the generated module's.
"""
from __future__ import annotations

from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import netc  # noqa: E402
from netc.codegen import torch as torch_backend  # noqa: E402
from netc.dsl.compiler import compile_source  # noqa: E402
from netc.dsl.source import Source  # noqa: E402

LAYER = """block Layer(c: int) {
    input x: f32[B, C]
    output y = x -> Linear(c) as fc -> relu
}
"""


def keys_of(src: str) -> tuple[list[str], list[str]]:
    """The IR's state_dict keys and the generated torch module's."""
    result = netc.check_source(LAYER + src)
    ir = [e.key for e in next(iter(result.graphs.values())).state_dict()]
    module = torch_backend.build(result)()
    return ir, list(module.state_dict())


def reference_keys(module: nn.Module) -> list[str]:
    return list(module.state_dict())


class Layer(nn.Module):
    def __init__(self, cin: int, c: int) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, c)


@pytest.mark.parametrize("keyword", ["block", "network", "import", "input", "output", "if", "where", "sum"])
def test_keywords_name_layers_after_as(keyword: str) -> None:
    ir, generated = keys_of(f"network N {{\n    input x: f32[B, 4]\n    output y = x -> Linear(2) as {keyword}\n}}\n")
    assert ir == generated == [f"{keyword}.weight", f"{keyword}.bias"]


@pytest.mark.parametrize("written, name", [("`block1-0`", "block1-0"), ('"block1-0"', "block1-0"),
                                           ("`class`", "class"), ("class", "class"), ("`ünïcode`", "ünïcode"),
                                           ("`a b`", "a b"), ("`0`", "0")])
def test_quoted_and_keyword_names_keep_their_keys(written: str, name: str) -> None:
    ir, generated = keys_of(f"network N {{\n    input x: f32[B, 4]\n    output y = x -> Linear(2) as {written}\n}}\n")
    ref = nn.Module()
    ref.add_module(name, nn.Linear(4, 2))
    assert ir == generated == reference_keys(ref)


def test_regnet_style_children_are_registered_with_add_module() -> None:
    """torchvision's RegNet: trunk_output.block1.block1-0 ... (AnyStage.add_module(f"block{i}-{j}", ...))."""
    src = ("network N {\n    input x: f32[B, 4]\n"
           '    output y = x -> Layer(4) * 3 as block1["block1-{i}"] -> Layer(4) as `block2-0`\n}\n')
    ir, generated = keys_of(src)
    stage = nn.Module()
    for j in range(3):
        stage.add_module(f"block1-{j}", Layer(4, 4))
    ref = nn.Module()
    ref.block1 = stage
    ref.add_module("block2-0", Layer(4, 4))
    assert ir == generated == reference_keys(ref)


def test_densenet_and_vit_name_patterns() -> None:
    src = ("network N {\n    input x: f32[B, 4]\n"
           '    x -> Layer(4) * 2 as denseblock1["denselayer{i+1}"] -> h\n'
           '    output y = h -> [Layer(4), Layer(4)] as layers["encoder_layer_{i}"]\n}\n')
    ir, generated = keys_of(src)
    ref = nn.Module()
    ref.denseblock1 = nn.ModuleDict({f"denselayer{i + 1}": Layer(4, 4) for i in range(2)})
    ref.layers = nn.Sequential(OrderedDict((f"encoder_layer_{i}", Layer(4, 4)) for i in range(2)))
    assert ir == generated == reference_keys(ref)


def test_generated_module_with_patterns_runs_and_reads_clean() -> None:
    src = LAYER + ("network N {\n    input x: f32[B, 4]\n"
                   '    output y = x -> Layer(4) * 12 as layers["encoder_layer_{i}"] -> Linear(2) as `head-0`\n}\n')
    code = torch_backend.generate(netc.check_source(src)).code
    assert "from collections import OrderedDict" in code and "self.add_module('head-0'" in code
    compile(code, "<generated>", "exec")
    model = torch_backend.build(netc.check_source(src))()
    assert model(torch.randn(3, 4)).shape == (3, 2)


@pytest.mark.parametrize("step, message", [
    ('Linear(2) as "a.b"', "cannot name a layer"),
    ('Linear(2) as ``', "cannot name a layer"),
    ('Linear(2) * 2 as s["block"]', "needs exactly the placeholders"),
    ('Linear(2) * 2 as s["block{j}"]', "needs exactly the placeholders"),
    ('Linear(2) * 2 as s["x.{i}"]', "which cannot be a state_dict key segment"),
    ('Linear(2) as s["block{i}"]', "this step is a single layer"),
])
def test_bad_names_are_located_errors(step: str, message: str) -> None:
    src = f"network N {{\n    input x: f32[B, 2]\n    output y = x -> {step}\n}}\n"
    result = compile_source(Source("t.net", src))
    errors = [d for d in result.diagnostics.items if d.severity == "error"]
    assert errors and errors[0].code == "E311" and message in errors[0].message, errors
    assert errors[0].span is not None and errors[0].span.location().startswith("t.net:3:")
