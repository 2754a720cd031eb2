"""The ONNX backend against torch: every op case of the NumPy completeness suite (torch references written from
torch's documentation) and every sample, run in onnxruntime on the same weights and inputs, after
onnx.checker; dynamic axes named after the source's symbols; located errors for what ONNX cannot express."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netc
from netc.dsl.compiler import compile_source
from netc.dsl.ops import OPS
from netc.dsl.source import Source
from netc.dsl.types import DTYPES, INT_DTYPES
from netc.export import ExportError, build_model, fresh_state, verify_onnx
from netc.verify import random_inputs, random_state

from .conftest import SAMPLES

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402
from netc.codegen import onnx as onnx_backend  # noqa: E402

from .more_cases import MORE_CASES  # noqa: E402
from .test_numpy_completeness import CASES, TOL, Case  # noqa: E402

# The later op families' cases too, for the ops that have a lowering (the rest are E600, tested above).
LOWERED_CASES = CASES + [c for c in MORE_CASES if c.op in onnx_backend.EMITTERS]


def test_every_op_has_an_onnx_lowering_or_is_listed_as_not_lowered() -> None:
    """Every op is lowered, or listed in NOT_LOWERED (exporting it is E600); the list holds no lowered op."""
    assert set(OPS) - set(onnx_backend.EMITTERS) == set(onnx_backend.NOT_LOWERED)
    assert set(onnx_backend.EMITTERS) - set(OPS) == set()


def test_a_listed_unlowered_op_is_a_located_error(tmp_path: Path) -> None:
    src = tmp_path / "p.net"
    src.write_text("network P {\n    input x: f32[B, 4]\n    output y = x -> unsqueeze(1)\n}\n")
    result = CliRunner().invoke(main, ["export", str(src), "-o", str(tmp_path / "p.onnx")])
    assert result.exit_code == 1 and "E600" in result.output and "unsqueeze" in result.output and "p.net:3:" in result.output
    assert not (tmp_path / "p.onnx").exists()


def _run(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


# Cases of the completeness suite that ONNX opset 18 cannot express: each must be a located E600 instead.
NOT_IN_ONNX = ("proj_size=",)


@pytest.mark.parametrize("case", LOWERED_CASES, ids=lambda c: c.op)
def test_op_exported_to_onnx_matches_torch(case: Case) -> None:
    result = netc.check_source(case.source(), path="case.net")
    graph = next(iter(result.graphs.values()))
    if any(marker in case.body for marker in NOT_IN_ONNX):
        with pytest.raises(ExportError) as exc:
            build_model(graph, fresh_state(graph))
        (diag,) = exc.value.diagnostics.items  # type: ignore[union-attr]
        assert diag.code == "E600" and f"`{case.op}`" in diag.message and diag.span.source.path == "case.net"
        return
    concrete = netc.check_source(case.source(), overrides=case.sizes or {"B": 2}) if graph.symbols else result
    rng = np.random.default_rng(0)
    state = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in random_state(graph, rng).items()}
    inputs = random_inputs(next(iter(concrete.graphs.values())), rng, "float32")
    # an ONNX graph takes each input in its declared dtype (`i32` is int32; verify draws every integer as int64)
    inputs = [x.astype(DTYPES[v.type.dtype]) if v.type.dtype in INT_DTYPES else x
              for (_, v, _), x in zip(graph.inputs, inputs)]
    model = build_model(graph, state)  # runs onnx.checker (full check, with shape inference)
    ours = _run(model, {name: x for (name, _, _), x in zip(graph.inputs, inputs)})
    tstate = {k: torch.from_numpy(v) for k, v in state.items()}
    theirs = case.ref({name: torch.from_numpy(x) for (name, _, _), x in zip(graph.inputs, inputs)}, tstate)
    theirs_list = list(theirs) if isinstance(theirs, (tuple, list)) else [theirs]
    assert len(ours) == len(theirs_list)
    for a, b in zip(ours, theirs_list):
        torch.testing.assert_close(torch.from_numpy(np.array(a)), b, **TOL["float32"])


# Small sizes for the big samples (the op mix is what matters); every network of every sample.
SMALL = {
    "gpt2.net": {"vocab": 96, "ctx": 32, "d": 64, "layers": 2, "heads": 4},
    "llama.net": {"vocab_size": 96, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2},
    "bert.net": {"vocab": 96, "d": 64, "layers": 2, "heads": 4, "ff": 128, "max_pos": 32},
    "transformer.net": {"d_model": 32, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2,
                        "dim_feedforward": 64},
    "unet.net": {"base": 8},
    "gru_lm.net": {"vocab": 50, "d": 16},
    "lstm_classifier.net": {"vocab": 50, "emb": 16, "hidden": 16},
    "seq2seq.net": {"src_vocab": 50, "tgt_vocab": 50, "emb": 16, "hidden": 16},
    "vit_b_16.net": {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 4, "hidden_dim": 32,
                     "mlp_dim": 64, "num_classes": 10},
    "convnext_tiny.net": {"c1": 8, "c2": 16, "c3": 32, "c4": 64, "num_classes": 10},
    # AdaptiveAvgPool2d((6, 6)) exports only for known sizes
    "alexnet.net": {"H": 64, "W": 64, "classes": 10},
    # at the smallest size (16x16) onnxruntime 1.32 dies of a floating point exception (SIGFPE) inside
    # InferenceSession.run on the exported GoogLeNet, which torch and the NumPy backend compute; 20x20 and up run
    "googlenet.net": {"H": 32, "W": 32, "classes": 10},
    "resnext50_32x4d.net": {"layers": (1, 1, 1, 1), "groups": 4, "classes": 10},
    "wide_resnet50_2.net": {"layers": (1, 1, 1, 1), "width_per_group": 16, "classes": 10},
    "shufflenet_v2_x1_0.net": {"stages_repeats": (2, 2, 2), "stages_out_channels": (8, 16, 32, 64, 128),
                               "classes": 10},
}
SAMPLE_NETWORKS = [(p.name, name) for p in sorted(SAMPLES.glob("*.net"))
                   for name in netc.check(p, SMALL.get(p.name)).graphs]


@pytest.mark.parametrize(("sample", "network"), SAMPLE_NETWORKS, ids=[f"{s}-{n}" for s, n in SAMPLE_NETWORKS])
def test_every_sample_exports_and_agrees_with_torch(sample: str, network: str) -> None:
    path = SAMPLES / sample
    source = Source(str(path), path.read_text())
    sets = SMALL.get(sample, {})
    result = compile_source(source, sets)
    report = verify_onnx(result, source, sets, network)
    assert report.checks and report.ok, report


def test_dynamic_axes_are_named_after_the_symbols() -> None:
    result = netc.check(SAMPLES / "gpt2.net", SMALL["gpt2.net"])
    graph = result.graphs["GPT2"]
    model = build_model(graph, fresh_state(graph))
    (inp,) = model.graph.input
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["B", "T"]
    (out,) = model.graph.output
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["B", "T", 96]
    # One file, every size: run it at two (B, T) and compare with torch.
    module = netc.build(SAMPLES / "gpt2.net", overrides=SMALL["gpt2.net"])().eval()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in fresh_state(graph).items()})
    for b, t in ((1, 3), (4, 17)):
        idx = np.random.default_rng(b).integers(0, 96, (b, t))
        (got,) = _run(model, {"idx": idx})
        with torch.no_grad():
            want = module(torch.from_numpy(idx))
        torch.testing.assert_close(torch.from_numpy(got), want, **TOL["float32"])


def test_unet_sizes_are_formulas_of_h_and_w() -> None:
    graph = netc.check(SAMPLES / "unet.net", {"base": 8}).graphs["UNet"]
    model = build_model(graph, fresh_state(graph))
    dims = [d.dim_param or d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
    assert dims == ["B", 2, "H", "W"]


def test_fresh_weights_are_torch_like() -> None:
    graph = netc.check(SAMPLES / "transformer.net", SMALL["transformer.net"]).graphs["Transformer"]
    state = fresh_state(graph)
    assert np.all(state["encoder.norm.weight"] == 1) and np.all(state["encoder.norm.bias"] == 0)
    graph = netc.check(SAMPLES / "resnet18.net").graphs["ResNet18"]
    state = fresh_state(graph)
    assert np.all(state["bn1.running_var"] == 1) and np.all(state["bn1.running_mean"] == 0)
    bound = 1 / np.sqrt(3 * 7 * 7)
    assert np.abs(state["conv1.weight"]).max() <= bound and np.abs(state["conv1.weight"]).max() > 0.9 * bound


def test_sinusoidal_table_equals_the_torch_backends_buffer() -> None:
    from netc.export import sinusoidal_table

    text = "network P {\n    input x: f32[B, T, 16]\n    x -> SinusoidalPositionalEncoding(max_len=50) as pos -> y\n" \
           "    output y\n}\n"
    result = netc.check_source(text)
    module = __import__("netc.codegen", fromlist=["get_backend"]).get_backend("torch").build(result)()
    np.testing.assert_allclose(sinusoidal_table(50, 16), module.state_dict()["pos.pe"].numpy(), atol=1e-6)


def test_an_op_without_a_lowering_is_a_located_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(onnx_backend.EMITTERS, "softplus")
    text = "network N {\n    input x: f32[B, 4]\n    x -> softplus as act -> y\n    output y\n}\n"
    graph = netc.check_source(text, path="n.net").graphs["N"]
    with pytest.raises(ExportError) as exc:
        build_model(graph, fresh_state(graph))
    (diag,) = exc.value.diagnostics.items  # type: ignore[union-attr]
    assert diag.code == "E600"
    assert "`softplus` (act)" in diag.message
    assert diag.span is not None and (diag.span.line, diag.span.column) == (3, 10)


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
def test_padding_modes(mode: str) -> None:
    text = f"network N {{\n    input x: f32[B, 2, 7, 6]\n    x -> Conv2d(3, (3, 2), padding=(2, 1), " \
           f"padding_mode=\"{mode}\") as c -> y\n    output y\n}}\n"
    graph = netc.check_source(text).graphs["N"]
    state = fresh_state(graph)
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6)).astype(np.float32)
    (got,) = _run(build_model(graph, state), {"x": x})
    conv = torch.nn.Conv2d(2, 3, (3, 2), padding=(2, 1), padding_mode=mode)
    conv.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in state.items()})
    with torch.no_grad():
        want = conv(torch.from_numpy(x))
    torch.testing.assert_close(torch.from_numpy(got), want, **TOL["float32"])


def test_export_error_for_unfit_weights(tmp_path: Path) -> None:
    from netc.weights import save

    graph = netc.check(SAMPLES / "mnist_mlp.net").graphs["MnistMLP"]
    state = fresh_state(graph)
    state["fc2.weight"] = state["fc2.weight"][:5]
    save(state, tmp_path / "bad.safetensors")
    result = netc.check(SAMPLES / "mnist_mlp.net")
    with pytest.raises(ExportError, match=r"`fc2.weight` is \[5, 128\] in bad.safetensors but \[10, 128\]"):
        verify_onnx(result, Source(str(SAMPLES / "mnist_mlp.net"), (SAMPLES / "mnist_mlp.net").read_text()), {},
                    "MnistMLP", weights=str(tmp_path / "bad.safetensors"))


def test_attention_to_fully_masked_keys_is_zero_as_in_torch() -> None:
    """torch's SDPA gives 0, not NaN, for a query whose keys are all masked; MHA too unless it returns weights."""
    text = """
network Attn {
    input q: f32[2, 3, 5, 4]
    input k: f32[2, 3, 6, 4]
    input v: f32[2, 3, 6, 7]
    input pad: bool[2, 6]
    input x: f32[2, 3, 4]
    input keys: bool[2, 3]
    y = scaled_dot_product_attention(q, k, v, causal=true, key_padding_mask=pad)
    z = x -> MultiheadAttention(4, 2, batch_first=true, key_padding_mask=keys) as mha
    output y, z
}
"""
    graph = netc.check_source(text).graphs["Attn"]
    rng = np.random.default_rng(0)
    state = {k: v.astype(np.float32) for k, v in random_state(graph, rng).items()}
    q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)))
    pad = np.array([[False] * 6, [True] * 6])
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    keys = np.array([[False, False, True], [True, True, True]])
    y, z = _run(build_model(graph, state), {"q": q, "k": k, "v": v, "pad": pad, "x": x, "keys": keys})
    want_y = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(t) for t in (q, k, v)),
        attn_mask=torch.from_numpy(np.tril(np.ones((5, 6), bool)) & ~pad[:, None, None, :]))
    torch.testing.assert_close(torch.from_numpy(y), want_y, **TOL["float32"])
    assert not np.isnan(y).any() and (y[1] == 0).all()
    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True).eval()
    mha.load_state_dict({k_[len("mha."):]: torch.from_numpy(t) for k_, t in state.items()})
    # With grad enabled: torch's fused fast path (eval under no_grad) gives NaN there instead, unlike its own SDPA.
    want_z, _ = mha(*(torch.from_numpy(x),) * 3, key_padding_mask=torch.from_numpy(keys), need_weights=False)
    torch.testing.assert_close(torch.from_numpy(z), want_z.detach(), **TOL["float32"])
    assert (z[1] == want_z.detach().numpy()[1]).all() and not np.isnan(z).any()


def test_block_inputs_left_out_are_made_in_the_graph() -> None:
    text = """
block Shift {
    input x: f32[B, 4]
    input bias: f32[B, 4] = ones
    input noise: f32[B, 4] = randn
    output x + bias, noise
}
network N {
    input x: f32[B, 4]
    y, n = x -> Shift() as shift
    output y, n
}
"""
    result = netc.check_source(text)
    graph = result.graphs["N"]
    model = build_model(graph, fresh_state(graph))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y, n = _run(model, {"x": x})
    np.testing.assert_allclose(y, x + 1, rtol=0, atol=0)
    assert n.shape == (3, 4) and np.isfinite(n).all() and n.std() > 0
    y2, n2 = _run(model, {"x": x[:1]})  # the sizes follow the input
    assert y2.shape == n2.shape == (1, 4)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    first, second = (session.run(None, {"x": x})[1] for _ in range(2))
    assert not np.array_equal(first, second)  # fresh noise on every run


def test_export_cli_writes_one_file_per_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from netc.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "dcgan.net"), "--set", "ngf=8", "--set", "ndf=8"])
    assert result.exit_code == 0, result.output
    for name in ("Generator", "Discriminator"):
        onnx.checker.check_model(str(tmp_path / f"{name}.onnx"), full_check=True)
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "dcgan.net"), "-o", "x.onnx"])
    assert result.exit_code == 2 and "pick one with --network" in result.output
