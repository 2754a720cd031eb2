"""Registry x NumPy backend: every op has an emitter and a kernel, and each, compiled from a real `.net`
program through the whole front end, computes what torch computes.

`CASES` holds, per op, small programs and a torch reference written from torch's documentation (functional
calls on the same weights and inputs). A new op in netc.dsl.ops fails `test_every_op_has_a_case` until it
gets a case here, an emitter in numpy_ref.EMITTERS and a kernel in numpy_kernels.KERNELS. An op without an
emitter is reported by an explicit `UnsupportedOp` error naming the op and its source line (tested below).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual spelling

import netc
from netc.codegen import numpy_kernels, numpy_ref
from netc.dsl.ops import OPS
from netc.verify import random_inputs, random_state

T = dict[str, torch.Tensor]


@dataclass
class Case:
    op: str
    body: str  # the network's statements; inputs are x (and y) unless the body declares others
    ref: Callable[[T, T], Any]  # (inputs by name, state_dict) -> torch output(s)
    inputs: str = "input x: f32[2, 3, 8]"
    sizes: dict[str, int] | None = None  # values of the symbols, if the inputs have any

    def source(self) -> str:
        lines = [self.inputs] + [line.strip() for line in self.body.strip().splitlines()]
        return "network Case {\n" + "\n".join("    " + s for s in lines) + "\n}\n"


def module(cls: type, prefix: str, s: T, like: torch.Tensor, *args: Any, **kwargs: Any) -> torch.nn.Module:
    """A torch module of `cls` holding the state entries under `prefix`, in eval mode."""
    m = cls(*args, **kwargs, dtype=like.dtype).eval()
    m.load_state_dict({k[len(prefix):]: v for k, v in s.items() if k.startswith(prefix)}, strict=True)
    return m


def bn(x: torch.Tensor, s: T, key: str) -> torch.Tensor:
    return F.batch_norm(x, s[f"{key}.running_mean"], s[f"{key}.running_var"], s[f"{key}.weight"], s[f"{key}.bias"],
                        training=False, eps=1e-5)


X2 = "input x: f32[2, 6]\n    input y: f32[2, 6]"
QKV = "input q: f32[2, 3, 5, 4]\n    input k: f32[2, 3, 6, 4]\n    input v: f32[2, 3, 6, 7]"
SEQ = "input x: f32[4, 2, 3]"  # (L, N, H_in)
IMG = "input x: f32[2, 4, 9, 8]"
VOL = "input x: f32[1, 2, 5, 6, 5]"
CASES: list[Case] = [
    Case("Linear", "x -> Linear(5) as fc -> out\noutput out",
         lambda i, s: F.linear(i["x"], s["fc.weight"], s["fc.bias"])),
    Case("Linear", "x -> Linear(5, bias=false) as fc -> out\noutput out",
         lambda i, s: F.linear(i["x"], s["fc.weight"])),
    Case("Embedding", "x -> Embedding(11, 4) as emb -> out\noutput out",
         lambda i, s: F.embedding(i["x"], s["emb.weight"]), inputs="input x: i64[2, 5]"),
    Case("Conv1d", "x -> Conv1d(4, 3, stride=2, padding=2, dilation=2) as c -> out\noutput out",
         lambda i, s: F.conv1d(i["x"], s["c.weight"], s["c.bias"], stride=2, padding=2, dilation=2)),
    Case("Conv2d", "x -> Conv2d(6, (3, 2), padding=1, groups=2, padding_mode=\"reflect\") as c -> out\noutput out",
         lambda i, s: F.conv2d(F.pad(i["x"], (1, 1, 1, 1), mode="reflect"), s["c.weight"], s["c.bias"], groups=2),
         inputs=IMG),
    Case("Conv2d", "x -> Conv2d(3, 4, padding=\"same\", bias=false) as c -> out\noutput out",
         lambda i, s: F.conv2d(i["x"], s["c.weight"], padding="same"), inputs=IMG),
    Case("Conv3d", "x -> Conv3d(3, 2, stride=(1, 2, 2)) as c -> out\noutput out",
         lambda i, s: F.conv3d(i["x"], s["c.weight"], s["c.bias"], stride=(1, 2, 2)), inputs=VOL),
    Case("ConvTranspose1d", "x -> ConvTranspose1d(2, 4, stride=3, padding=1, output_padding=2) as c -> out\noutput out",
         lambda i, s: F.conv_transpose1d(i["x"], s["c.weight"], s["c.bias"], stride=3, padding=1,
                                         output_padding=2)),
    Case("ConvTranspose2d", "x -> ConvTranspose2d(4, 4, 2, 1, bias=false) as c -> out\noutput out",
         lambda i, s: F.conv_transpose2d(i["x"], s["c.weight"], stride=2, padding=1), inputs=IMG),
    Case("ConvTranspose3d", "x -> ConvTranspose3d(2, 2, stride=2, groups=2) as c -> out\noutput out",
         lambda i, s: F.conv_transpose3d(i["x"], s["c.weight"], s["c.bias"], stride=2, groups=2), inputs=VOL),
    Case("MaxPool1d", "x -> MaxPool1d(3, stride=2, padding=1, ceil_mode=true) -> out\noutput out",
         lambda i, s: F.max_pool1d(i["x"], 3, 2, 1, ceil_mode=True)),
    Case("MaxPool2d", "x -> MaxPool2d(3, stride=2, padding=1, dilation=(1, 2)) -> out\noutput out",
         lambda i, s: F.max_pool2d(i["x"], 3, 2, 1, dilation=(1, 2)), inputs=IMG),
    Case("AvgPool1d", "x -> AvgPool1d(3, stride=2, padding=1, count_include_pad=false) -> out\noutput out",
         lambda i, s: F.avg_pool1d(i["x"], 3, 2, 1, count_include_pad=False)),
    Case("AvgPool2d", "x -> AvgPool2d(2, stride=2, padding=1, ceil_mode=true) -> out\noutput out",
         lambda i, s: F.avg_pool2d(i["x"], 2, 2, 1, ceil_mode=True), inputs=IMG),
    Case("AdaptiveAvgPool1d", "x -> AdaptiveAvgPool1d(3) -> out\noutput out",
         lambda i, s: F.adaptive_avg_pool1d(i["x"], 3)),
    Case("AdaptiveAvgPool2d", "x -> AdaptiveAvgPool2d((4, none)) -> out\noutput out",
         lambda i, s: F.adaptive_avg_pool2d(i["x"], (4, None)), inputs=IMG),
    Case("AdaptiveMaxPool1d", "x -> AdaptiveMaxPool1d(5) -> out\noutput out",
         lambda i, s: F.adaptive_max_pool1d(i["x"], 5)),
    Case("AdaptiveMaxPool2d", "x -> AdaptiveMaxPool2d((2, 3)) -> out\noutput out",
         lambda i, s: F.adaptive_max_pool2d(i["x"], (2, 3)), inputs=IMG),
    Case("BatchNorm1d", "x -> BatchNorm1d as bn -> out\noutput out", lambda i, s: bn(i["x"], s, "bn")),
    Case("BatchNorm2d", "x -> BatchNorm2d(eps=0.001) as bn -> out\noutput out",
         lambda i, s: F.batch_norm(i["x"], s["bn.running_mean"], s["bn.running_var"], s["bn.weight"],
                                   s["bn.bias"], training=False, eps=1e-3), inputs=IMG),
    Case("BatchNorm2d", "x -> BatchNorm2d(affine=false, track_running_stats=false) as bn -> out\noutput out",
         lambda i, s: F.batch_norm(i["x"], None, None, training=True), inputs=IMG),
    Case("LayerNorm", "x -> LayerNorm as ln -> out\noutput out",
         lambda i, s: F.layer_norm(i["x"], (8,), s["ln.weight"], s["ln.bias"])),
    Case("LayerNorm", "x -> LayerNorm((3, 8), elementwise_affine=false) as ln -> out\noutput out",
         lambda i, s: F.layer_norm(i["x"], (3, 8))),
    Case("Dropout", "x -> Dropout(0.5) -> out\noutput out", lambda i, s: i["x"]),
    Case("Flatten", "x -> Flatten -> out\noutput out", lambda i, s: torch.flatten(i["x"], 1)),
    Case("flatten", "x -> flatten(0, 1) -> out\noutput out", lambda i, s: torch.flatten(i["x"], 0, 1)),
    Case("view", "x -> view(2, 4, -1) -> out\noutput out", lambda i, s: i["x"].view(2, 4, -1)),
    Case("view", "x -> reshape(B, 24) -> out\noutput out", lambda i, s: i["x"].reshape(2, 24),
         inputs="input x: f32[B, 3, 8]"),
    Case("transpose", "x -> transpose(0, -1) -> out\noutput out", lambda i, s: i["x"].transpose(0, -1)),
    Case("permute", "x -> permute(2, 0, 1) -> out\noutput out", lambda i, s: i["x"].permute(2, 0, 1)),
    Case("concat", "out = concat(x, y, dim=1)\noutput out", lambda i, s: torch.cat([i["x"], i["y"]], 1), inputs=X2),
    Case("split", "a, b = x -> split((2, 6), dim=-1)\noutput a, b", lambda i, s: torch.split(i["x"], [2, 6], -1)),
    Case("split", "a, b, c = x -> split(3, dim=2)\noutput a, b, c", lambda i, s: torch.split(i["x"], 3, 2)),
    Case("chunk", "a, b, c = x -> chunk(3, dim=2)\noutput a, b, c", lambda i, s: torch.chunk(i["x"], 3, 2)),
    Case("add", "out = x + y\noutput out", lambda i, s: i["x"] + i["y"], inputs=X2),
    Case("add", "out = x + 2.5\noutput out", lambda i, s: i["x"] + 2.5),
    Case("sub", "out = x - y\noutput out", lambda i, s: i["x"] - i["y"], inputs=X2),
    Case("neg", "out = 1 - x\noutput out", lambda i, s: 1 - i["x"]),  # torch's rsub, as -x + 1 (exact)
    Case("mul", "out = x * y\noutput out", lambda i, s: i["x"] * i["y"], inputs=X2),
    Case("div", "out = x / y\noutput out", lambda i, s: i["x"] / i["y"], inputs=X2),
    Case("div", "out = x / 4\noutput out", lambda i, s: i["x"] / 4),
    Case("matmul", "out = x @ y\noutput out", lambda i, s: i["x"] @ i["y"],
         inputs="input x: f32[2, 3, 4]\n    input y: f32[4, 5]"),
    Case("relu", "x -> relu -> out\noutput out", lambda i, s: F.relu(i["x"])),
    Case("leaky_relu", "x -> leaky_relu(0.2) -> out\noutput out", lambda i, s: F.leaky_relu(i["x"], 0.2)),
    Case("elu", "x -> elu(alpha=0.5) -> out\noutput out", lambda i, s: F.elu(i["x"], 0.5)),
    Case("gelu", "x -> gelu -> out\noutput out", lambda i, s: F.gelu(i["x"])),
    Case("gelu", "x -> gelu(approximate=\"tanh\") -> out\noutput out",
         lambda i, s: F.gelu(i["x"], approximate="tanh")),
    Case("silu", "x -> silu -> out\noutput out", lambda i, s: F.silu(i["x"])),
    Case("sigmoid", "x -> sigmoid -> out\noutput out", lambda i, s: torch.sigmoid(i["x"])),
    Case("tanh", "x -> tanh -> out\noutput out", lambda i, s: torch.tanh(i["x"])),
    Case("softplus", "x -> softplus(beta=2.0) -> out\noutput out", lambda i, s: F.softplus(i["x"], 2.0)),
    Case("exp", "x -> exp -> out\noutput out", lambda i, s: torch.exp(i["x"])),
    Case("softmax", "x -> softmax(dim=1) -> out\noutput out", lambda i, s: torch.softmax(i["x"], 1)),
    Case("log_softmax", "x -> log_softmax(dim=0) -> out\noutput out", lambda i, s: torch.log_softmax(i["x"], 0)),
    Case("sum", "x -> sum(dim=(1, 2), keepdim=true) -> out\noutput out", lambda i, s: i["x"].sum((1, 2), True)),
    Case("mean", "x -> mean(dim=1) -> out\noutput out", lambda i, s: i["x"].mean(1)),
    Case("max", "x -> max -> out\noutput out", lambda i, s: torch.amax(i["x"], ())),
    Case("min", "x -> min(dim=-1, keepdim=true) -> out\noutput out", lambda i, s: torch.amin(i["x"], -1, True)),
    Case("argmax", "x -> argmax(dim=1) -> out\noutput out", lambda i, s: torch.argmax(i["x"], 1)),
    Case("index", "out = x[:, -1]\noutput out", lambda i, s: i["x"][:, -1]),
    Case("index", "out = x[1, 1:, none, 2:7:2]\noutput out", lambda i, s: i["x"][1, 1:, None, 2:7:2]),
    Case("arange", "out = arange(1, T, 2)\noutput out", lambda i, s: torch.arange(1, 8, 2),
         inputs="input x: f32[B, T]", sizes={"B": 2, "T": 8}),
    Case("arange", "out = x + arange(0.0, 2.0, 0.5)\noutput out", lambda i, s: i["x"] + torch.arange(0.0, 2.0, 0.5),
         inputs="input x: f32[3, 4]"),
    Case("scaled_dot_product_attention", "out = scaled_dot_product_attention(q, k, v)\noutput out",
         lambda i, s: F.scaled_dot_product_attention(i["q"], i["k"], i["v"]), inputs=QKV),
    Case("scaled_dot_product_attention",
         "out = scaled_dot_product_attention(q, q, v, causal=true, scale=0.3)\noutput out",
         lambda i, s: F.scaled_dot_product_attention(i["q"], i["q"], i["v"], is_causal=True, scale=0.3),
         inputs="input q: f32[2, 5, 4]\n    input v: f32[2, 5, 3]"),
    Case("scaled_dot_product_attention", "out = scaled_dot_product_attention(q, k, v, key_padding_mask=pad)\n"
         "output out", lambda i, s: F.scaled_dot_product_attention(i["q"], i["k"], i["v"],
                                                                  attn_mask=~i["pad"][:, None, None, :]),
         inputs=QKV + "\n    input pad: bool[2, 6]"),
    Case("MultiheadAttention", "out = x -> MultiheadAttention(8, 2) as attn\noutput out",
         lambda i, s: module(torch.nn.MultiheadAttention, "attn.", s, i["x"], 8, 2)(i["x"], i["x"], i["x"])[0],
         inputs="input x: f32[5, 2, 8]"),
    Case("MultiheadAttention", "out, w = (q, kv, kv) -> MultiheadAttention(8, 2, batch_first=true, need_weights=true,"
         " average_attn_weights=false, causal=true) as attn\noutput out, w",
         lambda i, s: module(torch.nn.MultiheadAttention, "attn.", s, i["q"], 8, 2, batch_first=True, kdim=6,
                             vdim=6)(i["q"], i["kv"], i["kv"], average_attn_weights=False,
                                     attn_mask=torch.ones(5, 5, dtype=torch.bool).triu(1)),
         inputs="input q: f32[2, 5, 8]\n    input kv: f32[2, 5, 6]"),
    Case("MultiheadAttention", "out = x -> MultiheadAttention(8, 4, key_padding_mask=pad) as attn\noutput out",
         lambda i, s: module(torch.nn.MultiheadAttention, "attn.", s, i["x"], 8, 4)(
             i["x"], i["x"], i["x"], key_padding_mask=i["pad"])[0],
         inputs="input x: f32[5, 2, 8]\n    input pad: bool[2, 5]"),
    Case("SinusoidalPositionalEncoding", "x -> SinusoidalPositionalEncoding(max_len=10) as pos -> out\noutput out",
         lambda i, s: i["x"] + s["pos.pe"][:3]),
    Case("LearnedPositionalEncoding", "x -> LearnedPositionalEncoding(6, dim=0) as pos -> out\noutput out",
         lambda i, s: i["x"] + s["pos.weight"][:2, None, :], inputs="input x: f32[2, 3, 8]"),
    Case("RNN", "out, h = x -> RNN(5, nonlinearity=\"relu\") as rnn\noutput out, h",
         lambda i, s: module(torch.nn.RNN, "rnn.", s, i["x"], 3, 5, nonlinearity="relu")(i["x"]), inputs=SEQ),
    Case("GRU", "out, h = x -> GRU(4, 2, bidirectional=true, batch_first=true) as gru\noutput out, h",
         lambda i, s: module(torch.nn.GRU, "gru.", s, i["x"], 3, 4, 2, bidirectional=True, batch_first=True)(i["x"]),
         inputs=SEQ),
    Case("LSTM", "out, (h, c) = x -> LSTM(6, 2, (h0, c0), proj_size=3) as lstm\noutput out, h, c",
         lambda i, s: (lambda o: (o[0], *o[1]))(module(torch.nn.LSTM, "lstm.", s, i["x"], 3, 6, 2, proj_size=3)(
             i["x"], (i["h0"], i["c0"]))),
         inputs=SEQ + "\n    input h0: f32[2, 2, 3]\n    input c0: f32[2, 2, 6]"),
    Case("LSTM", "out, (h, c) = x -> LSTM(4) as lstm\noutput out, h, c",
         lambda i, s: (lambda o: (o[0], *o[1]))(module(torch.nn.LSTM, "lstm.", s, i["x"], 3, 4)(i["x"])),
         inputs="input x: f32[5, 3]"),
    Case("Upsample", "x -> Upsample(scale_factor=2, mode=\"bilinear\") -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], scale_factor=2, mode="bilinear"), inputs=IMG),
    Case("Upsample", "x -> Upsample(size=(7, 13)) -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], size=(7, 13)), inputs=IMG),
    Case("Upsample", "x -> Upsample(scale_factor=1.5, mode=\"trilinear\", align_corners=true) -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], scale_factor=1.5, mode="trilinear", align_corners=True), inputs=VOL),
    Case("interpolate", "x -> interpolate(size=11, mode=\"linear\") -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], size=11, mode="linear")),
    Case("interpolate", "x -> interpolate(scale_factor=0.7) -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], scale_factor=0.7)),
]


def run_case(case: Case, dtype: str = "float64") -> tuple[list[np.ndarray], list[torch.Tensor]]:
    result = netc.check_source(case.source(), overrides=None)
    graph = next(iter(result.graphs.values()))
    assert case.op in {n.op for n in graph.op_nodes()}, f"the program does not use {case.op}"
    concrete = netc.check_source(case.source(), overrides=case.sizes or {"B": 2}) if graph.symbols else result
    rng = np.random.default_rng(0)
    state = random_state(graph, rng)
    inputs = random_inputs(next(iter(concrete.graphs.values())), rng, dtype)
    model = numpy_ref.build(result)(state, dtype=dtype)
    ours = model.forward(*inputs)
    ours_list = list(ours) if isinstance(ours, tuple) else [ours]
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    tstate = {k: torch.from_numpy(v).to(tdtype) if v.dtype.kind == "f" else torch.from_numpy(v)
              for k, v in state.items()}
    tin = {name: torch.from_numpy(x) for (name, _, _), x in zip(graph.inputs, inputs)}
    theirs = case.ref(tin, tstate)
    theirs_list = list(theirs) if isinstance(theirs, (tuple, list)) else [theirs]
    return ours_list, theirs_list


TOL = {"float64": {"rtol": 1e-7, "atol": 1e-7}, "float32": {"rtol": 1.3e-6, "atol": 1e-5}}


def test_every_op_has_a_case_an_emitter_and_a_kernel() -> None:
    ops = set(OPS)
    from .more_cases import MORE_CASES  # the later op families, also run by tests/test_ops_more.py

    assert ops - {c.op for c in CASES + MORE_CASES} == set(), "ops without a NumPy test case"
    assert ops - set(numpy_ref.EMITTERS) == set(), "ops without an emitter in numpy_ref.EMITTERS"
    assert ops - set(numpy_kernels.KERNELS) == set(), "ops without a kernel in numpy_kernels.KERNELS"
    assert set(numpy_ref.EMITTERS) - ops == set(), "emitters for ops the registry does not have"
    assert set(numpy_kernels.KERNELS) - ops == set(), "kernels for ops the registry does not have"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.op)
def test_op_compiled_to_numpy_matches_torch(case: Case, dtype: str) -> None:
    ours, theirs = run_case(case, dtype)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert np.asarray(a).dtype == (np.dtype(dtype) if b.dtype.is_floating_point else np.int64)
        torch.testing.assert_close(torch.from_numpy(np.array(a)), b, **TOL[dtype])


def test_an_op_without_an_emitter_is_an_explicit_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(numpy_ref.EMITTERS, "softplus")
    result = netc.check_source(Case("softplus", "x -> softplus as act -> out\noutput out", lambda i, s: 0).source(),
                               path="case.net")
    with pytest.raises(numpy_ref.UnsupportedOp, match=r"does not support `softplus` yet \(act, case\.net:3:"):
        numpy_ref.build(result)
