"""`netc summary`'s arithmetic: every op declares its cost; totals against torch's FlopCounterMode on the
generated modules and against hand derivations for small layers.

torch's counter counts 2 FLOPs per multiply-accumulate of matrix products and convolutions and nothing else,
so it is compared with 2 * MACs. Where it counts nothing at all (the fused CPU LSTM kernel, the fused
MultiheadAttention fast path under no_grad, CPU flash attention) the models run with grad enabled and the math
SDPA kernel; the LSTM is checked against a hand derivation instead (docs/summary.md).
"""
from __future__ import annotations

import json

import pytest

import netc
from netc.cli import main
from netc.dsl.compiler import compile_source
from netc.dsl.cost import evaluate, summarize
from netc.dsl.ops import OPS
from netc.dsl.source import Source

from .conftest import SAMPLES

torch = pytest.importorskip("torch")
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from netc.codegen import get_backend  # noqa: E402


def test_every_op_declares_its_cost_or_says_why_not() -> None:
    missing = [name for name, spec in OPS.items() if not spec.declares_cost() and not spec.not_counted]
    assert not missing, f"ops with neither `cost` nor `not_counted`: {missing}"
    both = [name for name, spec in OPS.items() if spec.declares_cost() and spec.not_counted]
    assert not both, f"ops with both `cost` and `not_counted`: {both}"


def _inputs(graph, sizes: dict[str, int]) -> list:  # type: ignore[no-untyped-def]
    gen = torch.Generator().manual_seed(0)
    out = []
    for _, value, _ in graph.inputs:
        shape = [int(evaluate(d, sizes)) for d in value.type.dims]
        if value.type.dtype == "bool":
            out.append(torch.zeros(shape, dtype=torch.bool))
        elif value.type.dtype.startswith("i"):
            out.append(torch.randint(0, 2, shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return out


def torch_flops(result, network: str, sizes: dict[str, int]) -> int:  # type: ignore[no-untyped-def]
    """FLOPs of one forward pass of the generated module, as torch's FlopCounterMode counts them."""
    torch.manual_seed(0)
    module = get_backend("torch").build(result, network=network)().eval()
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        module(*_inputs(result.graphs[network], sizes))
    return int(counter.get_total_flops())


def _symbolic(text: str, name: str, params: dict[str, int]):  # type: ignore[no-untyped-def]
    result = compile_source(Source(name, text), params)
    assert result.ok, result.diagnostics.items
    return result


def _spatial(sample: str) -> str:
    return (SAMPLES / sample).read_text().replace("f32[B, 3, 224, 224]", "f32[B, 3, H, W]")


# (id, source text, network, parameters bound, symbol values to evaluate at: two sets, so the formula is tested)
MODELS = [
    ("resnet18", _spatial("resnet18.net"), "ResNet18", {}, [{"B": 1, "H": 64, "W": 64}, {"B": 2, "H": 32, "W": 48}]),
    ("resnet50", _spatial("resnet50.net"), "ResNet50", {}, [{"B": 1, "H": 64, "W": 64}, {"B": 2, "H": 32, "W": 32}]),
    ("gpt2", (SAMPLES / "gpt2.net").read_text(), "GPT2",
     {"vocab": 96, "ctx": 32, "d": 64, "layers": 2, "heads": 4}, [{"B": 1, "T": 8}, {"B": 3, "T": 5}]),
    ("bert", (SAMPLES / "bert.net").read_text(), "BertModel",
     {"vocab": 96, "d": 64, "layers": 2, "heads": 4, "ff": 128, "max_pos": 32}, [{"B": 1, "T": 8}, {"B": 2, "T": 5}]),
    ("unet", (SAMPLES / "unet.net").read_text(), "UNet", {"base": 8}, [{"B": 1, "H": 32, "W": 48}, {"B": 2, "H": 16, "W": 16}]),
    ("unet-bilinear", (SAMPLES / "unet.net").read_text().replace("bilinear: bool = false", "bilinear: bool = true"),
     "UNet", {"base": 8}, [{"B": 1, "H": 32, "W": 32}]),
    ("transformer", (SAMPLES / "transformer.net").read_text(), "Transformer",
     {"d_model": 32, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 64},
     [{"B": 2, "S": 7, "T": 5}]),
    ("dcgan", (SAMPLES / "dcgan.net").read_text(), "Generator", {"ngf": 8}, [{"B": 2}]),
    ("vae", (SAMPLES / "vae.net").read_text(), "VAE", {}, [{"B": 3}]),
    ("gru_lm", (SAMPLES / "gru_lm.net").read_text(), "GRULanguageModel", {"vocab": 50, "d": 16},
     [{"B": 2, "T": 6}]),
    ("lenet5", (SAMPLES / "lenet5.net").read_text(), "LeNet5", {}, [{"B": 2}]),
]


@pytest.mark.parametrize(("text", "network", "params", "points"), [m[1:] for m in MODELS], ids=[m[0] for m in MODELS])
def test_macs_match_torch_flop_counter(text: str, network: str, params: dict[str, int],
                                       points: list[dict[str, int]]) -> None:
    free = _symbolic(text, f"{network}.net", params)
    macs = summarize(free.graphs[network]).macs
    for sizes in points:
        bound = _symbolic(text, f"{network}.net", {**params, **sizes})
        assert 2 * evaluate(macs, sizes) == torch_flops(bound, network, sizes), sizes


def test_gpt2_attention_is_a_formula_in_b_and_t() -> None:
    graph = netc.check(SAMPLES / "gpt2.net").graphs["GPT2"]
    s = summarize(graph)
    # Per layer, q k^T and weights @ v are each B * heads * T * T * (d / heads) MACs: 2 * 768 * B * T^2,
    # times 12 layers. The rest is linear in T: every weight matrix once per token (lm_head included, wte's
    # lookup not), that is (124,439,808 - 50257*768 - 1024*768 - biases and norms) + 50257*768.
    d, layers, vocab = 768, 12, 50257
    per_token = layers * (d * 3 * d + d * d + d * 4 * d + 4 * d * d) + vocab * d
    assert str(s.macs) == f"{2 * d * layers}*B*T**2 + {per_token}*B*T"


def test_hand_derived_small_layers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = """
network Small {
    input x: f32[B, 3, 10, 10]
    input seq: f32[T, B, 8]
    x -> Conv2d(6, 3, stride=2, padding=1) as conv -> relu -> MaxPool2d(2) as pool -> flatten(1) -> y
    y -> Linear(4) as fc -> z
    seq -> LSTM(16, num_layers=2) as lstm -> (out, (h, c))
    output z, out
}
"""
    graph = compile_source(Source("small.net", text), {}).graphs["Small"]
    rows = {r.path: r for r in summarize(graph).layers}
    # conv: output 6 x 5 x 5 per sample, each a dot product over 3 channels x 3 x 3 taps; bias 1 per output.
    assert str(rows["conv"].macs) == f"{6 * 5 * 5 * 3 * 9}*B"
    assert str(rows["conv"].flops) == f"{2 * 6 * 5 * 5 * 3 * 9 + 6 * 5 * 5}*B"
    assert str(rows["relu1"].flops) == f"{6 * 5 * 5}*B"
    assert str(rows["pool"].flops) == f"{6 * 2 * 2 * 4}*B"  # 6 x 2 x 2 outputs, 4 taps each
    assert str(rows["fc"].macs) == f"{24 * 4}*B"
    # LSTM: per step and sequence, 4 gates x 16 units x (input + hidden) per layer: (8 + 16), then (16 + 16).
    assert str(rows["lstm"].macs) == f"{4 * 16 * (8 + 16) + 4 * 16 * (16 + 16)}*B*T"
    # Activations: conv output f32 (600 B/sample), relu (600), pool (96), flatten is a view, fc (16).
    assert str(rows["conv"].activation_bytes) == f"{4 * 150}*B"
    assert rows["flatten1"].activation_bytes == 0


def test_multihead_attention_by_hand() -> None:
    text = """
network Attn {
    input x: f32[B, T, 32]
    x -> MultiheadAttention(32, 4, batch_first=true) as attn -> y
    output y
}
"""
    graph = compile_source(Source("attn.net", text), {}).graphs["Attn"]
    macs = summarize(graph).macs
    # q, k, v and out projections: 4 * T * 32 * 32 per sequence; scores and weighted sum: 2 * T * T * 32.
    assert str(macs) == f"{2 * 32}*B*T**2 + {4 * 32 * 32}*B*T"
    result = compile_source(Source("attn.net", text), {"B": 2, "T": 5})
    assert 2 * evaluate(macs, {"B": 2, "T": 5}) == torch_flops(result, "Attn", {"B": 2, "T": 5})


def test_training_memory_estimate() -> None:
    graph = netc.check(SAMPLES / "mnist_mlp.net", overrides={"B": 32}).graphs["MnistMLP"]
    s = summarize(graph)
    n = 101_770
    t = s.training_bytes("adam")
    assert (t["weights"], t["gradients"], t["optimizer_state"]) == (4 * n, 4 * n, 8 * n)
    # Kept for backward: the input (784), fc1 (128), relu (128), dropout (128), fc2 (10), softmax (10) per sample.
    assert t["activations"] == 32 * 4 * (784 + 128 * 3 + 10 * 2)
    assert s.training_bytes("sgd")["optimizer_state"] == 0


def test_summary_cli_json_binds_symbols(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["summary", str(SAMPLES / "gpt2.net"), "--set", "B=2", "--set", "T=16", "--format", "json"],
             standalone_mode=True)
    assert exc.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["macs_formula"] == "18432*B*T**2 + 123532032*B*T"
    assert data["macs"] == 18432 * 2 * 16 ** 2 + 123532032 * 2 * 16
    assert data["params"] == 124_439_808
    assert data["param_bytes"] == {"float32": 4 * 124_439_808}
    assert data["training"]["optimizer"] == "adam"


def test_summary_cli_csv_and_table(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["summary", str(SAMPLES / "digits_mlp.net"), "--format", "csv"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("network,layer,op,depth,params,macs,flops")
    assert lines[1].startswith("DigitsMLP,fc1,Linear,0,8320,8192*B,")
    with pytest.raises(SystemExit):
        main(["summary", str(SAMPLES / "digits_mlp.net"), "--set", "B=64"])
    out = capsys.readouterr().out
    assert f"forward MACs: {64 * (64 * 128 + 128 * 10):,}" in out
    assert "training memory (adamw)" in out  # the train section's optimizer
