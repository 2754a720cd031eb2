"""Numbers: the generated PyTorch and NumPy code of sequence models against torch's own modules.

Each test builds a reference model in torch (nn.LSTM, nn.GRU, nn.RNN, nn.MultiheadAttention,
nn.TransformerEncoderLayer / DecoderLayer, nn.Transformer, and the hand-written nanoGPT, BERT and
word_language_model models of test_seq_models.py), loads its state_dict into the netc models with strict=True,
and compares outputs in eval mode: float32 with torch's default tolerances for the torch backend, float64 with
1e-7 for the NumPy backend (the traps: LSTM gate order i, f, g, o; GRU r, z, n with the reset gate applied
after the hidden matmul; exact vs tanh GELU; key padding and causal masks).
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from netc.codegen import get_backend
from netc.dsl.compiler import Result, compile_source
from netc.dsl.source import Source
from netc.verify import verify_network

from .conftest import SAMPLES
from .test_seq_models import BertModel, LSTMClassifier, NanoGPT, RNNModel, Seq2Seq

F32 = {"rtol": 1.3e-6, "atol": 1e-5}
F64 = {"rtol": 1e-7, "atol": 1e-7}
PARITY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- helpers ----------------------------------------------------------------------------------------------------
def front(text: str, overrides: dict[str, int] | None = None, path: str = "case.net") -> Result:
    result = compile_source(Source(path, text), overrides)
    assert result.ok, [f"{d.code}: {d.message}" for d in result.diagnostics.items]
    return result


def sample(name: str, overrides: dict[str, int]) -> Result:
    path = SAMPLES / name
    return front(path.read_text(), overrides, str(path))


class Built:
    """The torch and NumPy builds of one network, loaded with the reference's weights."""

    def __init__(self, result: Result, reference: nn.Module, prefix: str = "") -> None:
        state = {prefix + k: v for k, v in reference.state_dict().items()}
        self.torch = get_backend("torch").build(result)()
        self.torch.load_state_dict(state, strict=True)
        self.torch.eval()
        double = {k: (v.double() if v.is_floating_point() else v).numpy() for k, v in state.items()}
        self.numpy = get_backend("numpy").build(result)(double, dtype=np.float64)


def flat(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in flat(item)]
    return [] if out is None else [out]


def same(ours: Any, theirs: Any, tol: dict[str, float]) -> None:
    ours, theirs = flat(ours), flat(theirs)
    assert len(ours) == len(theirs), f"{len(ours)} outputs vs {len(theirs)}"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        a = torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a
        torch.testing.assert_close(a.to(b.dtype), b, **tol, msg=lambda m, i=i: f"output {i}: {m}")


def to_double(x: Any) -> Any:
    if isinstance(x, tuple):
        return tuple(to_double(v) for v in x)
    return x.double() if isinstance(x, torch.Tensor) and x.is_floating_point() else x


def compare(built: Built, reference: nn.Module, inputs: list[torch.Tensor], reference_inputs: list[Any] | None = None,
            adapt: Any = None) -> None:
    """Generated torch (float32) and NumPy (float64) against the reference on the same inputs."""
    reference.eval()
    ref_in = reference_inputs if reference_inputs is not None else inputs
    adapt = adapt or (lambda out: out)
    with torch.no_grad():
        same(built.torch(*inputs), adapt(reference(*ref_in)), F32)
        ref64 = reference.double()
        ref64_in = [to_double(x) for x in ref_in]
        np_in = [(x.double() if x.is_floating_point() else x).numpy() for x in inputs]
        same(built.numpy(*np_in), adapt(ref64(*ref64_in)), F64)
        reference.float()


@contextmanager
def slow_path() -> Iterator[None]:
    """torch's reference math: no fused "fast path" that zeroes padded positions in eval mode."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


def kw(**attrs: Any) -> str:
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in attrs.items())


# -- RNN, LSTM, GRU -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@PARITY
@given(data=st.data())
def test_recurrent_layers_match_torch(mode: str, data: st.DataObject) -> None:
    draw = data.draw
    hidden, layers = draw(st.integers(1, 5), label="hidden"), draw(st.integers(1, 3), label="layers")
    attrs: dict[str, Any] = {"bidirectional": draw(st.booleans()), "batch_first": draw(st.booleans()),
                             "bias": draw(st.booleans())}
    if mode == "RNN":
        attrs["nonlinearity"] = f'"{draw(st.sampled_from(["tanh", "relu"]))}"'
    if mode == "LSTM":
        attrs["proj_size"] = draw(st.integers(0, hidden - 1))
    feat, steps, batch = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    with_state = draw(st.booleans())
    d = 2 if attrs["bidirectional"] else 1
    h_out = attrs.get("proj_size") or hidden
    x_shape = (batch, steps, feat) if attrs["batch_first"] else (steps, batch, feat)
    torch_attrs = {k: (v.strip('"') if isinstance(v, str) else v) for k, v in attrs.items()}
    ref = getattr(nn, mode)(feat, hidden, layers, **torch_attrs)
    inputs = [torch.randn(x_shape)]
    decl = [f"input x: f32[{', '.join(map(str, x_shape))}]"]
    state = ""
    if with_state:
        inputs.append(torch.randn(d * layers, batch, h_out))
        decl.append(f"input h0: f32[{d * layers}, {batch}, {h_out}]")
        state = ", h0"
        if mode == "LSTM":
            inputs.append(torch.randn(d * layers, batch, hidden))
            decl.append(f"input c0: f32[{d * layers}, {batch}, {hidden}]")
            state = ", (h0, c0)"
    target = "out, (h, c)" if mode == "LSTM" else "out, h"
    text = ("network N {\n    " + "\n    ".join(decl) +
            f"\n    {target} = x -> {mode}({hidden}, {layers}{state}, {kw(**attrs)}) as rnn\n"
            f"    output {'out, h, c' if mode == 'LSTM' else 'out, h'}\n}}\n")
    built = Built(front(text), ref, "rnn.")
    ref_inputs: list[Any] = [inputs[0]]
    if with_state:
        ref_inputs.append(tuple(inputs[1:]) if mode == "LSTM" else inputs[1])
    compare(built, ref, inputs, ref_inputs)


def test_gru_applies_the_reset_gate_after_the_hidden_matmul() -> None:
    """With b_hn != 0, r * (W_hn h + b_hn) and W_hn (r * h) + b_hn differ: torch (and netc) take the first."""
    ref = nn.GRU(3, 4)
    with torch.no_grad():
        ref.bias_hh_l0[8:].fill_(2.0)  # b_hn, the third block of bias_hh (gates r, z, n)
    text = "network N {\n    input x: f32[5, 2, 3]\n    input h0: f32[1, 2, 4]\n" \
           "    out, h = x -> GRU(4, 1, h0) as rnn\n    output out, h\n}\n"
    built = Built(front(text), ref, "rnn.")
    x, h0 = torch.randn(5, 2, 3), torch.randn(1, 2, 4)
    compare(built, ref, [x, h0])
    # The other reading of the formula gives visibly different numbers, so the comparison above can fail.
    w_ih, w_hh, b_ih, b_hh = ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0
    gi, gh = x[0] @ w_ih.T + b_ih, h0[0] @ w_hh.T + b_hh
    r = torch.sigmoid(gi[:, :4] + gh[:, :4])
    z = torch.sigmoid(gi[:, 4:8] + gh[:, 4:8])
    n_before = torch.tanh(gi[:, 8:] + (r * h0[0]) @ w_hh[8:].T + b_hh[8:])
    wrong = (1 - z) * n_before + z * h0[0]
    with torch.no_grad():
        assert not torch.allclose(wrong, built.torch(x, h0)[0][0], atol=1e-3)


# -- attention ----------------------------------------------------------------------------------------------
@PARITY
@given(data=st.data())
def test_multihead_attention_matches_torch(data: st.DataObject) -> None:
    draw = data.draw
    heads = draw(st.integers(1, 3), label="heads")
    e = heads * draw(st.integers(1, 4))
    batch_first, bias = draw(st.booleans()), draw(st.booleans())
    self_attn = draw(st.booleans())
    kdim, vdim = (e, e) if self_attn else (draw(st.sampled_from([e, 3])), draw(st.sampled_from([e, 5])))
    big_l = draw(st.integers(1, 5))
    big_s = big_l if self_attn else draw(st.integers(1, 5))
    n = draw(st.integers(1, 3))
    causal, padded, weights = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    average = draw(st.booleans())

    def shape(steps: int, width: int) -> tuple[int, ...]:
        return (n, steps, width) if batch_first else (steps, n, width)
    ref = nn.MultiheadAttention(e, heads, bias=bias, batch_first=batch_first, kdim=kdim, vdim=vdim)
    q = torch.randn(shape(big_l, e))
    k, v = (q, q) if self_attn else (torch.randn(shape(big_s, kdim)), torch.randn(shape(big_s, vdim)))
    decl = [f"input q: f32[{', '.join(map(str, q.shape))}]"]
    inputs = [q]
    if not self_attn:
        decl += [f"input k: f32[{', '.join(map(str, k.shape))}]", f"input v: f32[{', '.join(map(str, v.shape))}]"]
        inputs += [k, v]
    attrs: dict[str, Any] = {"batch_first": batch_first, "bias": bias, "causal": causal,
                             "need_weights": weights, "average_attn_weights": average}
    ref_kw: dict[str, Any] = {"need_weights": weights, "average_attn_weights": average}
    if padded:
        pad = torch.zeros(n, big_s, dtype=torch.bool)
        pad[:, draw(st.integers(1, big_s)):] = True  # at least one real key per row
        decl.append(f"input pad: bool[{n}, {big_s}]")
        inputs.append(pad)
        attrs["key_padding_mask"] = "pad"
        ref_kw["key_padding_mask"] = pad
    if causal:
        ref_kw["attn_mask"] = ~torch.ones(big_l, big_s, dtype=torch.bool).tril()  # true = not allowed
    call_in = "q" if self_attn else "(q, k, v)"
    text = ("network N {\n    " + "\n    ".join(decl) +
            f"\n    {'y, w' if weights else 'y'} = {call_in} -> MultiheadAttention({e}, {heads}, {kw(**attrs)}) "
            f"as attn\n    output {'y, w' if weights else 'y'}\n}}\n")
    built = Built(front(text), ref, "attn.")
    with slow_path():
        compare(built, WithKwargs(ref, ref_kw), inputs, [q, k, v], adapt=lambda out: out if weights else out[0])


class WithKwargs(nn.Module):
    """A module called with fixed keyword arguments (masks, flags) after the positional inputs."""

    def __init__(self, inner: nn.Module, kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.inner, self.kwargs = inner, kwargs

    def forward(self, *args: Any) -> Any:
        return self.inner(*args, **self.kwargs)


def test_scaled_dot_product_attention_with_padding_and_causal_mask() -> None:
    text = """network N {
    input q: f32[2, 3, 5, 4]
    input k: f32[2, 3, 6, 4]
    input v: f32[2, 3, 6, 7]
    input pad: bool[2, 6]
    y = scaled_dot_product_attention(q, k, v, key_padding_mask=pad, causal=true, scale=0.3)
    output y
}
"""
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 7)
    pad = torch.tensor([[False] * 6, [False, False, False, True, True, True]])

    class Reference(nn.Module):
        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
            scores = q @ k.transpose(-2, -1) * 0.3
            allowed = torch.ones(5, 6, dtype=torch.bool).tril() & ~pad[:, None, None, :]
            return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v
    built = Built(front(text), Reference())
    compare(built, Reference(), [q, k, v, pad])


# -- Transformer layers and nn.Transformer (samples/transformer.net) ---------------------------------------------
def transformer_wrapper(body: str, tmp_path: Path) -> Result:
    """A network around one block of samples/transformer.net, imported by absolute path (from outside the
    wrapper's folder, so the samples folder is named as an import path)."""
    text = f'import "{(SAMPLES / "transformer.net").resolve()}"\n\n{body}'
    path = tmp_path / "wrap.net"
    path.write_text(text)
    result = compile_source(Source(str(path), text), None, import_paths=[SAMPLES])
    assert result.ok, [f"{d.code}: {d.message}" for d in result.diagnostics.items]
    return result


def test_encoder_layer_matches_nn_transformer_encoder_layer(tmp_path: Path) -> None:
    result = transformer_wrapper("""network Enc {
    input x: f32[3, 7, 16]
    input pad: bool[3, 7]
    y, _pad = (x, pad) -> EncoderLayer(16, 4, 24, 0.1) as layer
    output y
}
""", tmp_path)
    ref = nn.TransformerEncoderLayer(16, 4, 24, 0.1, batch_first=True)
    x = torch.randn(3, 7, 16)
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[1, 5:] = True
    pad[2, 2:] = True
    built = Built(result, ref, "layer.")
    with slow_path():
        compare(built, ref, [x, pad], [x, None, pad])


def test_decoder_layer_matches_nn_transformer_decoder_layer(tmp_path: Path) -> None:
    result = transformer_wrapper("""network Dec {
    input x: f32[2, 5, 16]
    input memory: f32[2, 6, 16]
    input pad: bool[2, 6]
    y, _memory, _pad = (x, memory, pad) -> DecoderLayer(16, 2, 32, 0.1) as layer
    output y
}
""", tmp_path)
    ref = nn.TransformerDecoderLayer(16, 2, 32, 0.1, batch_first=True)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    built = Built(result, ref, "layer.")
    with slow_path():
        compare(built, ref, [x, memory, pad],
                [x, memory, causal, None, None, pad, True])  # tgt_mask, memory_mask, tgt_kpm, memory_kpm, causal


def test_transformer_matches_nn_transformer() -> None:
    sizes = {"d_model": 16, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 32,
             "B": 2, "S": 6, "T": 5}
    result = sample("transformer.net", sizes)
    ref = nn.Transformer(16, 4, 2, 2, 32, batch_first=True)
    src, tgt = torch.randn(2, 6, 16), torch.randn(2, 5, 16)
    pad = torch.tensor([[False] * 6, [False] * 3 + [True] * 3])
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    built = Built(result, ref)
    with slow_path(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(built, ref, [src, tgt, pad],
                [src, tgt, None, causal, None, pad, None, pad])  # src_mask, tgt_mask, memory_mask, kpms


# -- whole models: nanoGPT, BERT, the recurrent samples ----------------------------------------------------------
def test_gpt2_matches_nanogpt() -> None:
    result = sample("gpt2.net", {"vocab": 97, "ctx": 16, "d": 32, "layers": 2, "heads": 4, "B": 2, "T": 9})
    ref = NanoGPT(97, 16, 32, 2, 4)
    built = Built(result, ref)
    idx = torch.randint(0, 97, (2, 9))
    compare(built, ref, [idx])
    # The tie survives in the generated module: one parameter under two names, counted once.
    assert built.torch.lm_head.weight is built.torch.transformer.wte.weight
    assert sum(p.numel() for p in built.torch.parameters()) == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize(("name", "sizes", "make"), [
    ("gpt2.net", {"vocab": 61, "ctx": 8, "d": 16, "layers": 1, "heads": 2},
     lambda: [torch.randint(0, 61, (2, 8))]),
    ("transformer.net", {"d_model": 16, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
                         "dim_feedforward": 24},
     lambda: [torch.randn(2, 5, 16), torch.randn(2, 4, 16), torch.tensor([[False] * 5, [False] * 3 + [True] * 2])]),
    ("bert.net", {"vocab": 40, "d": 16, "layers": 1, "heads": 4, "ff": 24, "max_pos": 10},
     lambda: [torch.randint(0, 40, (2, 5)), torch.randint(0, 2, (2, 5)), torch.zeros(2, 5, dtype=torch.bool)]),
])
def test_attention_models_compile_without_graph_breaks(name: str, sizes: dict[str, int], make: Any) -> None:
    """torch.compile(fullgraph=True) traces the generated attention models in one graph (Dynamo fails otherwise;
    the eager backend keeps the test free of a C++ toolchain)."""
    model = get_backend("torch").build(sample(name, sizes))().eval()
    xs = make()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        same(compiled(*xs), model(*xs), F32)


def test_bert_matches_the_hugging_face_layout() -> None:
    sizes = {"vocab": 50, "d": 24, "layers": 2, "heads": 3, "ff": 40, "max_pos": 12, "B": 3, "T": 7}
    result = sample("bert.net", sizes)
    ref = BertModel(50, 24, 2, 3, 40, 12, 2, 0.1)
    built = Built(result, ref)
    ids, types = torch.randint(0, 50, (3, 7)), torch.randint(0, 2, (3, 7))
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[1, 4:] = True
    pad[2, 1:] = True
    compare(built, ref, [ids, types, pad], [ids, types, (~pad).long()])


def test_gru_language_model_matches_word_language_model() -> None:
    result = sample("gru_lm.net", {"vocab": 40, "d": 12, "layers": 2, "T": 6, "B": 3})
    ref = RNNModel("GRU", 40, 12, 12, 2, 0.5, tie_weights=True)
    built = Built(result, ref)
    tokens, hidden = torch.randint(0, 40, (6, 3)), torch.randn(2, 3, 12)
    compare(built, ref, [tokens, hidden], adapt=lambda out: (out[0].view(6, 3, 40), out[1]))
    assert built.torch.decoder.weight is built.torch.encoder.weight


def test_lstm_classifier_and_seq2seq_match_torch() -> None:
    result = sample("lstm_classifier.net", {"vocab": 30, "emb": 6, "hidden": 5, "B": 4, "T": 7})
    ref = LSTMClassifier(30, 6, 5, 2, 2, 0.3)
    tokens = torch.randint(0, 30, (4, 7))
    compare(Built(result, ref), ref, [tokens])
    result = sample("seq2seq.net", {"src_vocab": 25, "tgt_vocab": 20, "emb": 6, "hidden": 5, "B": 3, "S": 7, "T": 4})
    ref2 = Seq2Seq(25, 20, 6, 5, 2, 0.2)
    src, tgt = torch.randint(0, 25, (3, 7)), torch.randint(0, 20, (3, 4))
    compare(Built(result, ref2), ref2, [src, tgt])


# -- netc verify on small configurations of every sequence sample ----------------------------------------------
SMALL = {
    "gpt2.net": {"vocab": 53, "ctx": 16, "d": 16, "layers": 2, "heads": 2, "B": 2, "T": 6},
    "bert.net": {"vocab": 40, "d": 16, "layers": 2, "heads": 4, "ff": 24, "max_pos": 10, "B": 2, "T": 5},
    "transformer.net": {"d_model": 16, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1,
                        "dim_feedforward": 24, "B": 2, "S": 5, "T": 4},
    "lstm_classifier.net": {"vocab": 30, "emb": 6, "hidden": 5, "B": 2, "T": 6},
    "gru_lm.net": {"vocab": 30, "d": 6, "B": 2, "T": 5},
    "seq2seq.net": {"src_vocab": 20, "tgt_vocab": 15, "emb": 6, "hidden": 5, "B": 2, "S": 6, "T": 3},
}


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_verify_small_configurations(name: str, dtype: str) -> None:
    result = sample(name, SMALL[name])
    network = result.networks[0]
    source = Source(str(SAMPLES / name), (SAMPLES / name).read_text())
    report = verify_network(result, source, SMALL[name], network, dtype)
    assert report.ok, [(c.name, c.max_abs) for c in report.layers + report.outputs if not c.ok]
    assert report.outputs, "no outputs were compared"


# -- positional encodings ---------------------------------------------------------------------------------------
def test_sinusoidal_table_is_the_one_of_the_paper() -> None:
    """pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...), as in the PyTorch tutorial's PositionalEncoding."""
    text = """network N {
    input x: f32[B, T, 12]
    y = x -> SinusoidalPositionalEncoding(40) as pos -> LearnedPositionalEncoding(16) as learned
    output y
}
"""
    result = front(text, {"B": 2, "T": 9})
    model = get_backend("torch").build(result)().eval()
    position = torch.arange(40, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, 12, 2, dtype=torch.float64) * (-np.log(10000.0) / 12))
    pe = torch.zeros(40, 12, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    torch.testing.assert_close(model.pos.pe.double(), pe, rtol=1e-6, atol=1e-6)
    assert [k for k, _ in model.named_buffers()] == ["pos.pe"]
    assert [k for k, _ in model.named_parameters()] == ["learned.weight"]
    x = torch.randn(2, 9, 12)
    with torch.no_grad():
        expected = x + pe[:9].float() + model.learned.weight[:9]
        torch.testing.assert_close(model(x), expected, **F32)
        numpy_model = get_backend("numpy").build(result)(
            {k: v.double().numpy() for k, v in model.state_dict().items()}, dtype=np.float64)
        torch.testing.assert_close(torch.from_numpy(numpy_model(x.double().numpy())),
                                   x.double() + model.pos.pe[:9].double() + model.learned.weight[:9].double(), **F64)
