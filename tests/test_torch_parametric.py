"""Generated torch classes keep the model's parameters: one class per definition, built right for any legal value.

The oracle for a class built with some arguments is the module the compiler builds when the same values are
bound with `--set` (the elaborated IR: its state_dict keys, order and shapes), and for the numbers, the
computation the .net file describes, written here by hand with torch's functional ops.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.cli import main  # noqa: E402
from netc.codegen import get_backend  # noqa: E402

from .conftest import torch_namespace  # noqa: E402


def classes(text: str, path: str = "t.net", **overrides: object) -> dict[str, object]:
    return torch_namespace(text, path, overrides)[1]


NESTED_IF = """
block B(deep: int, wide: int) {
    input x: f32[N, 8]
    y = x -> Linear(8)
    if deep == 1 {
        if wide == 1 {
            y = y -> relu
        }
    }
    output y
}
network Net(deep: int = 1, wide: int = 1) {
    input x: f32[N, 8]
    x -> B(deep, wide) -> B(deep, 0) -> y
    output y
}
"""


@pytest.mark.parametrize(("deep", "wide"), list(itertools.product((0, 1), (0, 1))))
def test_nested_if_sets_every_flag_forward_reads(deep: int, wide: int) -> None:
    ns = classes(NESTED_IF)
    block = ns["B"](deep=deep, wide=wide)  # type: ignore[operator]
    x = torch.randn(3, 8)
    y = block.linear1(x)
    expected = torch.relu(y) if deep == 1 and wide == 1 else y
    torch.testing.assert_close(block(x), expected)


def test_nested_if_verifies(tmp_path: Path) -> None:
    path = tmp_path / "nested.net"
    path.write_text(NESTED_IF)
    out = CliRunner().invoke(main, ["verify", str(path)])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(main, ["compile", str(path), "--target", "torch"])
    assert out.exit_code == 0 and "clashes" not in out.output, out.output


SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def generated(sample: str, network: str | None = None) -> type:
    """The network class generated from the sample with its own defaults."""
    return get_backend("torch").build(netc.check(SAMPLES / sample), network=network)  # type: ignore[no-any-return]


def ir_layout(sample: str, **sets: object) -> list[tuple[str, tuple[int, ...]]]:
    """The state_dict `netc compile --set` builds for these values: keys in order, with shapes."""
    result = netc.check(SAMPLES / sample, sets)
    graph = next(iter(result.graphs.values())) if len(result.graphs) == 1 else result.graphs[result.networks[0]]
    return [(e.key, tuple(int(d) for d in e.shape)) for e in graph.state_dict()]


def source_layout(text: str, path: str, **sets: object) -> list[tuple[str, tuple[int, ...]]]:
    """As `ir_layout`, for a program given as text (its network `Net`)."""
    graph = netc.check_source(text, path, sets).graphs["Net"]
    return [(e.key, tuple(int(d) for d in e.shape)) for e in graph.state_dict()]


def layout(model: object) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]  # type: ignore[attr-defined]


def test_gpt2_layers_is_a_constructor_argument() -> None:
    GPT2 = generated("gpt2.net")
    small = dict(layers=2, d=64, heads=4, vocab=100, ctx=32)
    model = GPT2(**small)
    assert layout(model) == ir_layout("gpt2.net", **small)
    assert model(torch.randint(0, 100, (2, 8))).shape == (2, 8, 100)


@pytest.mark.parametrize(("layers", "heads", "d", "published"), [
    (12, 12, 768, 124_439_808),  # GPT-2 small, /work/shared/reference/README.md
    (24, 16, 1024, 354_823_168),  # medium
    (36, 20, 1280, 774_030_080),  # large
])
def test_gpt2_sizes_from_one_class_have_the_published_counts(layers: int, heads: int, d: int, published: int) -> None:
    GPT2 = generated("gpt2.net")
    with torch.device("meta"):  # shapes only: 774M float32 parameters would take 3 GB
        model = GPT2(layers=layers, heads=heads, d=d)
    assert sum(p.numel() for p in model.parameters()) == published
    assert layout(model) == ir_layout("gpt2.net", layers=layers, heads=heads, d=d)


def test_repeated_blocks_with_several_values_are_a_for_loop() -> None:
    """BERT's encoder passes (x, pad) through its layers: a ModuleList and a for loop, any number of layers."""
    Bert = generated("bert.net")
    for layers in (1, 3):
        sets = dict(layers=layers, d=32, heads=4, ff=64, vocab=50, max_pos=16)
        model = Bert(**sets).eval()
        assert layout(model) == ir_layout("bert.net", **sets)
        ids = torch.randint(0, 50, (2, 5))
        h, pooled = model(ids, torch.zeros_like(ids), torch.zeros(2, 5, dtype=torch.bool))
        # the loop applies the layers in order: the same as calling them one by one
        x = model.embeddings(ids, torch.zeros_like(ids))
        for layer in model.encoder.layer:
            x, _ = layer(x, torch.zeros(2, 5, dtype=torch.bool))
        torch.testing.assert_close(h, x)


def test_transformer_layer_counts_match_nn_transformer() -> None:
    """`Transformer(num_encoder_layers=..., num_decoder_layers=...)` has the keys and count of torch's own model."""
    Transformer = generated("transformer.net")
    for enc, dec in ((2, 1), (1, 3)):
        kw = dict(d_model=16, nhead=2, num_encoder_layers=enc, num_decoder_layers=dec, dim_feedforward=32)
        model = Transformer(**kw)
        ref = torch.nn.Transformer(16, 2, enc, dec, 32)
        assert sorted(layout(model)) == sorted(layout(ref))
        assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
        assert layout(model) == ir_layout("transformer.net", **kw)


@pytest.mark.parametrize("bilinear", [False, True])
def test_unet_bilinear_is_a_constructor_argument(bilinear: bool) -> None:
    """Both arms of `if bilinear` are code in __init__ and forward; each builds what `--set bilinear=...` builds."""
    UNet = generated("unet.net")
    model = UNet(bilinear=bilinear, base=4).eval()
    assert layout(model) == ir_layout("unet.net", bilinear=bilinear, base=4)
    compiled = get_backend("torch").build(netc.check(SAMPLES / "unet.net", {"bilinear": bilinear, "base": 4}))()
    compiled.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model(x), compiled.eval()(x))


@pytest.mark.parametrize(("sample", "kw"), [("gpt2.net", {"d": 769}), ("gpt2.net", {"heads": 13}),
                                            ("bert.net", {"d": 100})])
def test_arguments_the_compiler_rejects_are_refused_by_the_constructor(sample: str, kw: dict[str, int]) -> None:
    """The compiler rejects `--set d=769` (`d / heads` must divide); the class refuses it naming the same line."""
    with pytest.raises(netc.CompileError):
        netc.check(SAMPLES / sample, kw)
    with pytest.raises(ValueError, match=rf"samples/{sample}:\d+:\d+: `d / heads` needs d to be a multiple of heads"):
        generated(sample)(**kw)


INVERTED_RESIDUAL = """
# MobileNetV2's block, written as torchvision's InvertedResidual (conv.0 expands unless t == 1).
block InvertedResidual(cout: int, stride: int, t: int) {
    input x: f32[B, C, H, W]
    if t != 1 {
        h = x -> [[Conv2d(C * t, 1, bias=false), BatchNorm2d, relu6],
                  [Conv2d(C * t, 3, stride=stride, padding=1, groups=C * t, bias=false), BatchNorm2d, relu6],
                  Conv2d(cout, 1, bias=false), BatchNorm2d] as conv
    } else {
        h = x -> [[Conv2d(C, 3, stride=stride, padding=1, groups=C, bias=false), BatchNorm2d, relu6],
                  Conv2d(cout, 1, bias=false), BatchNorm2d] as conv
    }
    if stride == 1 and C == cout {
        y = x + h
    } else {
        y = h
    }
    output y
}

network Mini(classes: int = 10) {
    input img: f32[B, 3, 32, 32]
    img -> [Conv2d(32, 3, stride=2, padding=1, bias=false), BatchNorm2d, relu6] as stem
        -> InvertedResidual(16, 1, 1) as b1
        -> InvertedResidual(24, 2, 6) as b2
        -> InvertedResidual(24, 1, 6) as b3
        -> InvertedResidual(32, 2, 6) as b4
        -> InvertedResidual(32, 1, 6) as b5
        -> AdaptiveAvgPool2d(1) -> flatten(1) -> Linear(classes) as head -> logits
    output logits
}
"""


def torchvision_inverted_residual(inp: int, oup: int, stride: int, expand_ratio: int) -> tuple[object, bool]:
    """torchvision.models.mobilenetv2.InvertedResidual's layers, from its source (Conv2dNormActivation is
    Conv2d, BatchNorm2d, ReLU6 in an nn.Sequential); returns the `conv` Sequential and use_res_connect."""
    nn = torch.nn
    hidden = int(round(inp * expand_ratio))
    layers: list[object] = []
    if expand_ratio != 1:
        layers.append(nn.Sequential(nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()))
    layers += [nn.Sequential(nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                             nn.BatchNorm2d(hidden), nn.ReLU6()),
               nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
    return nn.Sequential(*layers), stride == 1 and inp == oup


def test_inverted_residual_is_one_class_for_every_configuration() -> None:
    result = netc.check_source(INVERTED_RESIDUAL, "mbv2.net")
    gen = get_backend("torch").generate(result)
    assert "class InvertedResidual(" in gen.code and "InvertedResidual_1" not in gen.code
    assert not any("classes" in n for n in gen.notes), gen.notes
    ns = classes(INVERTED_RESIDUAL, "mbv2.net")
    for C, cout, stride, t in [(32, 16, 1, 1), (16, 24, 2, 6), (24, 24, 1, 6), (8, 8, 1, 1), (8, 12, 2, 3)]:
        block = ns["InvertedResidual"](C=C, cout=cout, stride=stride, t=t).eval()  # type: ignore[operator]
        ref, residual = torchvision_inverted_residual(C, cout, stride, t)
        assert layout(block) == [("conv." + k, s) for k, s in layout(ref)]
        ref.load_state_dict({k[len("conv."):]: v for k, v in block.state_dict().items()})
        x = torch.randn(2, C, 8, 8)
        expected = x + ref.eval()(x) if residual else ref.eval()(x)
        torch.testing.assert_close(block(x), expected)


UNLIKE_REPEAT = """
block Basic(cout: int) {
    input x: f32[B, C, H, W]
    x -> Conv2d(2 * C, 3, padding=1) as conv -> relu -> y
    output y
}
block Stage(cout: int, n: int) {
    input x: f32[B, C, H, W]
    x -> Basic(cout) * n as blocks -> y
    output y
}
network Net {
    input x: f32[B, 3, 8, 8]
    x -> Stage(8, 2) as s1 -> Stage(16, 3) as s2 -> y
    output y
}
"""


def test_a_specialised_class_says_why_in_the_file_and_the_cli(tmp_path: Path) -> None:
    """`Basic(cout) * n` whose items each double their input's channels (C, 2C, 4C: no two alike) cannot be a
    loop: the note names the repetition's line, the second class's docstring the two different containers, and
    each class refuses other counts, naming the line, instead of building the compiled one for them."""
    path = tmp_path / "stage.net"
    path.write_text(UNLIKE_REPEAT)
    out = CliRunner().invoke(main, ["compile", str(path), "--target", "torch", "-o", str(tmp_path / "stage.py")])
    assert out.exit_code == 0, out.output
    why = f"`Basic(cout) * n` ({path}:9:10) is written item by item"
    assert why in out.output and "clashes" not in out.output
    code = (tmp_path / "stage.py").read_text()
    assert "class Stage_1(" in code and "Basic(C=C), Basic(C=2 * C), Basic(C=2 * (2 * C))" in code
    ns: dict[str, object] = {}
    exec(compile(code, "stage.py", "exec"), ns)  # noqa: S102 - our generated code
    assert len(ns["Stage"](C=3, n=2).blocks) == 2  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"stage\.net:9:10: `Basic\(cout\) \* n` is written item by item"):
        ns["Stage"](C=3, n=4)  # type: ignore[operator]


def test_loops_and_branches_compile_as_one_graph() -> None:
    """The for loop over a ModuleList and the flags of `if`s trace into one graph (torch.compile fullgraph)."""
    Bert = generated("bert.net")
    bert = Bert(layers=2, d=32, heads=4, ff=64, vocab=50, max_pos=16).eval()
    ids = torch.randint(0, 50, (2, 5))
    args = (ids, torch.zeros_like(ids), torch.zeros(2, 5, dtype=torch.bool))
    compiled = torch.compile(bert, fullgraph=True, backend="aot_eager")
    for a, b in zip(compiled(*args), bert(*args)):
        torch.testing.assert_close(a, b)
    unet = generated("unet.net")(bilinear=True, base=4).eval()
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(torch.compile(unet, fullgraph=True, backend="aot_eager")(x), unet(x))


def test_a_division_inside_an_if_arm_is_checked_only_on_that_arm() -> None:
    """unet.net's Up halves C only with a transposed conv (`C / 2`) and S + C only when bilinear."""
    import sys

    Up = sys.modules[generated("unet.net").__module__].Up
    Up(C=5, S=3, cout=4, bilinear=True)  # C is odd, but this arm does not divide it
    with pytest.raises(ValueError, match=r"unet.net:\d+:\d+: `C / 2` needs C to be a multiple of 2"):
        Up(C=5, S=3, cout=4, bilinear=False)
    with pytest.raises(ValueError, match=r"`\(S \+ C\) / 2` needs S \+ C to be a multiple of 2"):
        Up(C=4, S=3, cout=4, bilinear=True)
    Up(C=4, S=3, cout=4, bilinear=False)


FIRST_DIFFERS = """
block Basic(cout: int) {
    input x: f32[B, C, H, W]
    x -> Conv2d(cout, 3, padding=1) as conv -> relu -> y
    output y
}
network Net(n: int = 3) {
    input x: f32[B, 3, 8, 8]
    x -> Basic(16) * n as blocks -> y
    output y
}
"""


def test_a_repetition_whose_first_item_differs_is_first_then_a_loop() -> None:
    """torchvision's `_make_layer`: the first block takes the stage's input width, the n - 1 others are alike.
    For each n, the class built with it has the layout the compiler gives for `--set n=...`; n = 0, which the
    compiler refuses, the constructor refuses too, naming the line."""
    code = get_backend("torch").generate(netc.check_source(FIRST_DIFFERS, "first.net")).code
    assert "nn.Sequential(Basic(C=3, cout=16), *[Basic(C=16, cout=16) for _ in range(n - 1)])" in code, code
    cls = get_backend("torch").build(netc.check_source(FIRST_DIFFERS, "first.net"), network="Net")
    for n in (1, 2, 5):
        model = cls(n=n)
        assert layout(model) == source_layout(FIRST_DIFFERS, "first.net", n=n)
        assert model(torch.randn(2, 3, 8, 8)).shape == (2, 16, 8, 8)
    with pytest.raises(netc.CompileError, match="E305"):
        netc.check_source(FIRST_DIFFERS, "first.net", {"n": 0})
    with pytest.raises(ValueError, match=r"first\.net:9:10: `Basic\(16\) \* n` needs at least one item"):
        cls(n=0)


LISTED_AND_LOOPED = """
block Pair(w: int) {
    input x: f32[B, C]
    input m: f32[B, C]
    output x -> Linear(w) as f, m
}
network Net(n: int = 2) {
    input x: f32[B, 8]
    input m: f32[B, 8]
    y, _m = (x, m) -> [Pair(8), Pair(8)] + Pair(8) * n + [Pair(8)] as layers
    output y
}
"""


def test_listed_items_and_a_loop_make_one_module_list() -> None:
    """Items that pass two values along: one ModuleList, the listed items and the loop concatenated, for any n
    (0 included: joined by `+`, a count may be 0)."""
    code = get_backend("torch").generate(netc.check_source(LISTED_AND_LOOPED, "ml.net")).code
    assert "[Pair(C=8, w=8), Pair(C=8, w=8)] + [Pair(C=8, w=8) for _ in range(n)] + [Pair(C=8, w=8)]" in code
    cls = get_backend("torch").build(netc.check_source(LISTED_AND_LOOPED, "ml.net"), network="Net")
    for n in (0, 1, 3):
        model = cls(n=n)
        assert layout(model) == source_layout(LISTED_AND_LOOPED, "ml.net", n=n)
        assert model(torch.randn(2, 8), torch.randn(2, 8)).shape == (2, 8)


ZERO_COUNT = """
block Blk(w: int) {
    input x: f32[N, C]
    output x -> Linear(w) as fc
}
network Net(n: int = 0) {
    input x: f32[N, 4]
    output x -> [Blk(4)] + Blk(4) * n as layers
}
"""


def test_a_repetition_compiled_with_no_items_refuses_other_counts() -> None:
    """With n = 0 no item was compiled, so nothing says what one is: `Net(n=2)` is refused with the line instead
    of building the n = 0 network (it used to, silently)."""
    cls = get_backend("torch").build(netc.check_source(ZERO_COUNT, "zero.net"), network="Net")
    assert len(cls().layers) == 1
    with pytest.raises(ValueError, match=r"zero\.net:8:28: `Blk\(4\) \* n` had no items when compiled"):
        cls(n=2)


ALIAS_IN_ELSE = """
block B(cout: int) {
    input x: f32[N, cin]
    h = x -> Linear(cout) as fc
    if cin != cout {
        res = x -> Linear(cout) as downsample
    } else {
        res = x
    }
    output h + res
}
network Net(w: int = 8) {
    input x: f32[N, w]
    x -> B(16) -> B(16) -> y
    output y
}
"""

ALIAS_BEFORE_IF = ALIAS_IN_ELSE.replace("""    if cin != cout {
        res = x -> Linear(cout) as downsample
    } else {
        res = x
    }""", """    res = x
    if cin != cout {
        res = x -> Linear(cout) as downsample
    }""")


@pytest.mark.parametrize("text", [ALIAS_IN_ELSE, ALIAS_BEFORE_IF], ids=["else-arm", "before-if"])
def test_a_name_that_aliases_the_input_in_one_arm_is_one_class(text: str) -> None:
    """`res = x` in the arm without the downsample layer (locuslab's TCN, torchvision's identity): one class
    whose forward binds `res` on both paths, built right whichever arm the arguments take (it used to be two
    classes, one of which read `res` before binding it)."""
    ns = classes(text)
    assert "B_1" not in ns
    for cin, cout in ((8, 16), (16, 16)):
        block = ns["B"](cin=cin, cout=cout)  # type: ignore[operator]
        x = torch.randn(3, cin)
        expected = block.fc(x) + (block.downsample(x) if cin != cout else x)
        torch.testing.assert_close(block(x), expected)
        assert (block.downsample is None) == (cin == cout)
