"""`netc verify`: every sample agrees across the backends, and a disagreement is found and located."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from netc import verify as V
from netc.cli import main
from netc.codegen import get_backend, numpy_ref

from .conftest import SAMPLES

ALL_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.net"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *args])
    return result.exit_code, result.output


# The language models at their published sizes take minutes here; their own parameters shrink the widths and
# depths (every op and code path stays). Run `netc verify samples/X.net` for the full sizes.
SMALLER = {
    "bert.net": "vocab=1000 d=64 layers=2 heads=4 ff=128 max_pos=64",
    "gpt2.net": "vocab=1000 ctx=64 d=64 layers=2 heads=4",
    "llama.net": "vocab_size=100 hidden_size=64 intermediate_size=172 num_hidden_layers=2 num_attention_heads=4 "
                 "num_key_value_heads=2",
    "transformer.net": "d_model=64 nhead=4 num_encoder_layers=2 num_decoder_layers=2 dim_feedforward=128",
    "gru_lm.net": "vocab=1000 d=64",
    "seq2seq.net": "src_vocab=500 tgt_vocab=500 emb=32 hidden=64",
    "lstm_classifier.net": "vocab=1000",
    "vit_b_16.net": "image_size=32 patch_size=8 num_layers=2 num_heads=4 hidden_dim=32 mlp_dim=64 num_classes=10",
    "convnext_tiny.net": "c1=8 c2=16 c3=32 c4=64 num_classes=10",
    "resnext50_32x4d.net": "layers=[1,1,1,1] groups=4 classes=10",
    "wide_resnet50_2.net": "layers=[1,1,1,1] width_per_group=16 classes=10",
    "shufflenet_v2_x1_0.net": "stages_repeats=[2,2,2] stages_out_channels=[8,16,32,64,128] classes=10",
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sample", ALL_SAMPLES)
def test_every_sample_verifies(sample: str, dtype: str) -> None:
    sets = [arg for kv in SMALLER.get(sample, "").split() for arg in ("--set", kv)]
    code, out = run(str(SAMPLES / sample), "--dtype", dtype, *sets)
    assert code == 0, out
    assert "MISMATCH" not in out and "agrees within tolerance" in out


def test_float32_with_options() -> None:
    code, out = run(str(SAMPLES / "lenet5.net"), "--dtype", "float32", "--set", "B=3", "--seed", "5")
    assert code == 0, out
    assert out.startswith("LeNet5: NumPy vs PyTorch, float32, seed 5, B=3 (tolerance rtol=1.3e-06, atol=1e-05)")
    assert "inputs: img f32[3, 1, 32, 32]" in out
    assert "logits  (3, 10)" in out


def test_the_first_divergent_layer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NumPy kernel off by 0.1%: verify fails and names fc1, the first layer that uses it, with its line."""
    build = numpy_ref.build

    def broken_build(*args: object, **kw: object) -> type:
        cls = build(*args, **kw)  # type: ignore[arg-type]
        good = cls.forward.__globals__["linear"]
        cls.forward.__globals__["linear"] = lambda x, w, b=None: good(x, w, b) * 1.001
        return cls

    monkeypatch.setattr(numpy_ref, "build", broken_build)
    code, out = run(str(SAMPLES / "mnist_mlp.net"))
    assert code == 1
    assert "first divergence: fc1 (Linear at " in out and "mnist_mlp.net:5:" in out
    assert "error: MnistMLP: NumPy and PyTorch differ beyond tolerance" in out


def test_without_torch_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    code, out = run(str(SAMPLES / "mnist_mlp.net"))
    assert code == 1
    assert "needs PyTorch" in out and "pip install -e '.[torch]'" in out
    assert "Traceback" not in out


def test_a_torch_backend_that_cannot_build_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kw: object) -> type:
        raise NotImplementedError("no such layer")

    monkeypatch.setattr(get_backend("torch"), "build", refuse)
    code, out = run(str(SAMPLES / "mnist_mlp.net"))
    assert code == 1
    assert "error: the torch backend cannot build MnistMLP: NotImplementedError: no such layer" in out


def test_open_symbols_get_the_smallest_sizes_that_check(tmp_path: object) -> None:
    src = """network Pyramid {
        input x: f32[N, 3, H, W]
        x -> Conv2d(4, 3) -> MaxPool2d(2) -> Conv2d(4, 5) -> out
        output out
    }"""
    import netc

    source = netc.Source("pyramid.net", src)
    graph = netc.check_source(src).graphs["Pyramid"]
    sizes, concrete = V.resolve_sizes(source, {}, "Pyramid", graph)
    assert sizes == {"N": 2, "H": 16, "W": 16}  # 8 is too small: (8 - 2) // 2 = 3 < 5
    assert concrete.inputs[0][1].type.dims == (2, 3, 16, 16)
    path = tmp_path / "huge.net"  # type: ignore[operator]
    path.write_text(src.replace("Conv2d(4, 5)", "Conv2d(4, 500)"))
    code, out = run(str(path))
    assert code == 1
    assert "could not find sizes for H, W" in out and "--set H=64" in out


CAUSAL_PADDED = """network N {
    input q: f32[1, 2, 4]
    input pad: bool[1, 2]
    output y = q -> MultiheadAttention(4, 2, batch_first=true, causal=true, key_padding_mask=pad) as attn
}"""


def test_a_key_padding_mask_keeps_its_first_key() -> None:
    """A query whose every key is masked has no defined output: torch's module gives NaN on its fast path (eval,
    no grad) and 0 on its other one. Causal, two keys, 20% of them padding: query 0 (which sees key 0 only) was
    fully masked in one draw of five, and verify failed on torch's NaN. A drawn padding mask keeps key 0, as
    right padding does; other bool inputs are drawn freely."""
    import netc

    graph = netc.check_source(CAUSAL_PADDED).graphs["N"]
    for seed in range(20):
        q, pad = V.random_inputs(graph, np.random.default_rng(seed), "float64")
        assert not pad[..., 0].any()
    free = netc.check_source(CAUSAL_PADDED.replace(", key_padding_mask=pad", "")).graphs["N"]
    assert any(V.random_inputs(free, np.random.default_rng(s), "float64")[1][..., 0].any() for s in range(20))


@pytest.mark.parametrize("ours,theirs,ok", [
    ([1.0, np.nan, np.inf], [1.0, np.nan, np.inf], True),
    ([1.0, np.nan], [1.0, 2.0], False),
    ([np.inf], [-np.inf], False),
    ([1.0 + 0.99 * (1e-7 + 1e-7)], [1.0], True),  # just inside atol + rtol * |b|
    ([1.0 + 1.01 * (1e-7 + 1e-7)], [1.0], False),  # just outside
])
def test_agreement_is_torch_testings(ours: list[float], theirs: list[float], ok: bool) -> None:
    assert V.compare_arrays(np.array(ours), np.array(theirs), "float64")[2] is ok


def test_a_shape_difference_is_a_mismatch() -> None:
    max_abs, _, ok, note = V.compare_arrays(np.zeros((2, 3)), np.zeros((3, 2)), "float32")
    assert not ok and max_abs == float("inf") and note == "shape (2, 3) vs torch (3, 2)"
