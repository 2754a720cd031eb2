"""Shape rules and parameter layouts of the sequence ops against real torch modules and functions.

hypothesis draws attributes and input sizes (mostly valid, sometimes not); for each case the test runs the
torch module or function (the oracle), compiles a small `.net` network through the whole front end, and
requires the same output shapes and dtypes and the same state_dict (keys, shapes, order) when torch runs,
and an error diagnostic when torch raises.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from netc.dsl.compiler import compile_source
from netc.dsl.ir import Graph
from netc.dsl.source import Source

TORCH_DTYPES = {"f32": torch.float32, "f64": torch.float64, "i64": torch.int64, "bool": torch.bool}
NETC_DTYPES = {v: k for k, v in TORCH_DTYPES.items()}
# A drawn case may fail only with shape, dtype or attribute errors; anything else means the test wrote bad source.
SHAPE_CODES = {f"E2{i:02d}" for i in range(11)} | {"E305", "E308"}
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Got:
    error: str | None
    types: list[tuple[str, tuple[Any, ...]]]
    state: list[tuple[str, tuple[int, ...]]]
    num_params: int
    text: str


def compile_net(inputs: list[tuple[str, str, tuple[int, ...]]], body: list[str], outputs: str) -> Got:
    """Compile `network Case { inputs; body; output outputs }` and describe the result."""
    lines = ["network Case {"]
    lines += [f"    input {name}: {dt}[{', '.join(map(str, shape))}]" for name, dt, shape in inputs]
    lines += [f"    {line}" for line in body]
    lines += [f"    output {outputs}", "}"]
    text = "\n".join(lines) + "\n"
    result = compile_source(Source("case.net", text))
    errors = [d for d in result.diagnostics.items if d.severity == "error"]
    if errors:
        bad = [f"{d.code}: {d.message}" for d in errors if d.code not in SHAPE_CODES]
        assert not bad, f"the generated source should only fail shape/attribute checks:\n{text}{bad}"
        return Got("; ".join(f"{d.code}: {d.message}" for d in errors), [], [], 0, text)
    g: Graph = result.graphs["Case"]
    types = [(v.type.dtype, tuple(v.type.dims)) for _, v in g.outputs]
    state = [(e.key.split(".", 1)[1], tuple(e.shape)) for e in g.state_dict()]
    return Got(None, types, state, g.num_params, text)


def run_torch(fn: Callable[[], Any]) -> tuple[str | None, list[tuple[str, tuple[int, ...]]]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except (RuntimeError, ValueError, IndexError, AssertionError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}", []
    flat: list[torch.Tensor] = []

    def walk(o: Any) -> None:
        if isinstance(o, (tuple, list)):
            for x in o:
                walk(x)
        elif o is not None:  # MultiheadAttention returns (out, None) without weights
            flat.append(o)

    walk(out)
    return None, [(NETC_DTYPES[t.dtype], tuple(t.shape)) for t in flat]


def torch_state(m: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


def agree(got: Got, torch_error: str | None, torch_types: list[tuple[str, tuple[int, ...]]],
          state: list[tuple[str, tuple[int, ...]]] | None = None, num_params: int | None = None) -> None:
    where = f"\n--- source ---\n{got.text}--- torch: {torch_error or torch_types}\n--- netc: {got.error or got.types}"
    if torch_error is not None:
        assert got.error is not None, "torch rejects this case but netc accepts it" + where
        return
    assert got.error is None, "torch accepts this case but netc reports an error" + where
    assert got.types == torch_types, "output types differ" + where
    if state is not None:
        assert got.state == state, f"state_dict differs: {got.state} vs {state}" + where
    if num_params is not None:
        assert got.num_params == num_params, "parameter count differs" + where


def tensor(dtype: str, shape: tuple[int, ...]) -> torch.Tensor:
    if dtype == "bool":
        return torch.rand(shape) < 0.3
    if dtype == "i64":
        return torch.randint(0, 3, shape)
    return torch.randn(shape, dtype=TORCH_DTYPES[dtype])


def fmt(v: Any) -> str:
    """A Python value as netc source."""
    if v is None or isinstance(v, bool):
        return {True: "true", False: "false", None: "none"}[v]
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "(" + ", ".join(fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def kwargs(**kw: Any) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in kw.items())


def off_by(draw: Any, shape: tuple[int, ...], one_in: int = 6) -> tuple[int, ...]:
    """Usually `shape`; sometimes one dim changed or one dim dropped."""
    k = draw(st.integers(0, one_in - 1))
    if k == 0 and shape:
        i = draw(st.integers(0, len(shape) - 1))
        return shape[:i] + (shape[i] + draw(st.sampled_from((1, 2))),) + shape[i + 1:]
    if k == 1 and shape:
        return shape[1:]
    return shape


# -- RNN, LSTM, GRU ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@SETTINGS
@given(data=st.data())
def test_recurrent_matches_torch(mode: str, data: st.DataObject) -> None:
    draw = data.draw
    hidden = draw(st.integers(1, 5), label="hidden")
    layers = draw(st.integers(1, 3), label="layers")
    attrs: dict[str, Any] = {}
    for name in ("bidirectional", "batch_first", "bias"):
        if draw(st.booleans()):
            attrs[name] = draw(st.booleans())
    if layers > 1 and draw(st.booleans()):
        attrs["dropout"] = 0.25
    if mode == "RNN" and draw(st.booleans()):
        attrs["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    if mode == "LSTM" and draw(st.booleans()):
        attrs["proj_size"] = draw(st.integers(0, hidden))  # == hidden is invalid in torch
    d = 2 if attrs.get("bidirectional") else 1
    h_out = attrs.get("proj_size") or hidden
    steps, batch, feat = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    batched = draw(st.booleans())
    x_shape: tuple[int, ...]
    if batched:
        x_shape = (batch, steps, feat) if attrs.get("batch_first") else (steps, batch, feat)
    else:
        x_shape = (steps, feat)
    if draw(st.integers(0, 9)) == 0:
        x_shape = (2,) + x_shape  # one more leading dim: rank 4 is rejected, rank 3 reads as batched
    with_state = draw(st.booleans())
    lead = (d * layers, batch) if batched else (d * layers,)
    h_shape = off_by(draw, lead + (h_out,))
    c_shape = off_by(draw, lead + (hidden,))
    x_dtype = draw(st.sampled_from(["f32", "f32", "f64", "i64"]))

    x = tensor(x_dtype, x_shape)
    states: Any = None
    if with_state:
        sdt = "f64" if x_dtype == "f64" else "f32"
        h0 = tensor(sdt, h_shape)
        states = (h0, tensor(sdt, c_shape)) if mode == "LSTM" else h0
    try:
        module: nn.Module | None = getattr(nn, mode)(feat, hidden, layers, **attrs)
    except ValueError as exc:  # proj_size >= hidden_size
        err, types, module = str(exc), [], None
    if module is not None:
        if x_dtype == "f64":
            module = module.double()
        err, types = run_torch(lambda: module(x, states) if states is not None else module(x))

    inputs = [("x", x_dtype, x_shape)]
    state_arg = ""
    if with_state:
        sdt = "f64" if x_dtype == "f64" else "f32"
        inputs.append(("h0", sdt, h_shape))
        if mode == "LSTM":
            inputs.append(("c0", sdt, c_shape))
            state_arg = ", (h0, c0)"
        else:
            state_arg = ", h0"
    target = "out, (h, c)" if mode == "LSTM" else "out, h"
    call = f"{mode}({hidden}, {layers}{state_arg}{', ' if attrs else ''}{kwargs(**attrs)})"
    got = compile_net(inputs, [f"{target} = x -> {call} as rnn"], "out, h, c" if mode == "LSTM" else "out, h")
    if module is not None:
        agree(got, err, types, torch_state(module), sum(p.numel() for p in module.parameters()))
    else:
        agree(got, err, types)


def test_lstm_state_dict_order_with_projection_and_both_directions() -> None:
    m = nn.LSTM(3, 6, 2, bidirectional=True, proj_size=2)
    got = compile_net([("x", "f32", (5, 4, 3))], ["out, (h, c) = x -> LSTM(6, 2, bidirectional=true, proj_size=2) "
                                                 "as rnn"], "out, h, c")
    agree(got, None, [("f32", (5, 4, 4)), ("f32", (4, 4, 2)), ("f32", (4, 4, 6))], torch_state(m),
          sum(p.numel() for p in m.parameters()))


def test_recurrent_symbolic_lengths_flow_through() -> None:
    result = compile_source(Source("s.net", "network N {\n input x: f32[B, T, 8]\n"
                                   " out, h = x -> GRU(16, 2, batch_first=true, bidirectional=true)\n"
                                   " output out, h\n}\n"))
    assert result.ok, result.diagnostics.items
    outs = {n: str(v.type) for n, v in result.graphs["N"].outputs}
    assert outs == {"out": "f32[B, T, 32]", "h": "f32[4, B, 16]"}


# -- scaled_dot_product_attention ----------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_sdpa_matches_torch(data: st.DataObject) -> None:
    draw = data.draw
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2), label="batch")
    big_l, big_s, e, ev = (draw(st.integers(1, 4)) for _ in range(4))

    def batch_of() -> tuple[int, ...]:
        # Broadcastable variants of the batch dims, sometimes incompatible ones.
        k = draw(st.integers(0, 7))
        if k == 0 and batch:
            return tuple(1 for _ in batch)
        if k == 1 and batch:
            return tuple(batch[1:])
        if k == 2 and batch:
            return tuple(b + 1 for b in batch)
        return tuple(batch)

    q_shape = tuple(batch) + (big_l, e)
    k_shape = batch_of() + (big_s, e + (1 if draw(st.integers(0, 7)) == 0 else 0))
    v_shape = batch_of() + (big_s + (1 if draw(st.integers(0, 7)) == 0 else 0), ev)
    attrs: dict[str, Any] = {}
    if draw(st.booleans()):
        attrs["causal"] = draw(st.booleans())
    if draw(st.booleans()):
        attrs["scale"] = draw(st.sampled_from([0.5, 1.0]))
    masks = draw(st.sampled_from([(), ("attn",), ("pad",), ("attn_float",), ("attn", "pad")]))
    inputs = [("q", "f32", q_shape), ("k", "f32", k_shape), ("v", "f32", v_shape)]
    extra = ""
    for kind in masks:
        if kind == "pad":
            n0 = batch[0] if batch else 1
            shape = draw(st.sampled_from([(n0, big_s), (1, big_s), (big_s,), (n0, big_s + 1)]))
            inputs.append(("pad", "bool", shape))
            extra += ", key_padding_mask=pad"
        else:
            shape = draw(st.sampled_from([(big_l, big_s), (1, big_s), (big_s,), tuple(batch) + (big_l, big_s),
                                          (big_l + 1, big_s)]))
            inputs.append(("m", "bool" if kind == "attn" else "f32", shape))
            extra = ", attn_mask=m" + extra
    ts = {name: tensor(dt, s) for name, dt, s in inputs}
    causal = attrs.get("causal", False)

    def oracle() -> torch.Tensor:
        # netc's masks in torch's terms: a key padding mask (true = ignore) is the boolean attn_mask
        # ~pad reshaped to (N, 1, ..., 1, S); `causal` with other masks is their conjunction with tril.
        parts: list[torch.Tensor] = []
        if "m" in ts:
            parts.append(ts["m"])
        if "pad" in ts:
            pad = ts["pad"]
            if pad.dim() != (2 if batch else 1):
                raise RuntimeError("key padding mask rank")
            parts.append(~pad.view(pad.shape[0], *([1] * (len(batch) - 1)), 1, pad.shape[-1]) if batch else ~pad)
        if not parts:
            return F.scaled_dot_product_attention(ts["q"], ts["k"], ts["v"], is_causal=causal,
                                                  scale=attrs.get("scale"))
        if causal:
            parts.append(torch.ones(big_l, big_s, dtype=torch.bool).tril())
        mask = parts[0]
        for p in parts[1:]:
            mask = mask & p if mask.dtype == torch.bool else torch.where(p, mask, torch.tensor(float("-inf")))
        return F.scaled_dot_product_attention(ts["q"], ts["k"], ts["v"], attn_mask=mask, scale=attrs.get("scale"))
    err, types = run_torch(oracle)
    got = compile_net(inputs, [f"y = scaled_dot_product_attention(q, k, v{extra}"
                               f"{', ' if attrs else ''}{kwargs(**attrs)})"], "y")
    if k_shape[-2] != v_shape[-2]:
        # Deliberately stricter: torch's CPU kernel for 4-D inputs runs with keys and values of different
        # lengths (its math path rejects them); there is no meaningful result, so netc reports it.
        assert got.error is not None, got.text
        return
    if "m" in ts and ts["m"].dim() < 2:
        # Deliberately stricter: torch takes a 1-D attn_mask for 2-D and 3-D queries but not for 4-D ones
        # ("Dimension out of range"); netc asks for (L, S) always, so the generated code runs at any rank.
        assert got.error is not None, got.text
        return
    agree(got, err, types)


# -- MultiheadAttention ----------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_multihead_attention_matches_torch(data: st.DataObject) -> None:
    draw = data.draw
    heads = draw(st.integers(1, 3), label="heads")
    e = heads * draw(st.integers(1, 3)) + (1 if draw(st.integers(0, 9)) == 0 else 0)
    kdim = draw(st.sampled_from([e, e, draw(st.integers(1, 5))]))
    vdim = draw(st.sampled_from([e, e, draw(st.integers(1, 5))]))
    attrs: dict[str, Any] = {}
    for name in ("batch_first", "bias", "need_weights", "average_attn_weights"):
        if draw(st.booleans()):
            attrs[name] = draw(st.booleans())
    big_l, big_s, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    batched = draw(st.booleans())

    def shape(steps: int, width: int) -> tuple[int, ...]:
        if not batched:
            return (steps, width)
        return (n, steps, width) if attrs.get("batch_first") else (steps, n, width)

    self_attn = kdim == e and vdim == e and big_l == big_s and draw(st.booleans())
    inputs = [("q", "f32", shape(big_l, e))]
    if not self_attn:
        inputs += [("k", "f32", off_by(draw, shape(big_s, kdim), 10)), ("v", "f32", shape(big_s, vdim))]
    mask = draw(st.sampled_from(["none", "pad", "attn2", "attn3"]))
    mkw: dict[str, str] = {}
    torch_kw: dict[str, Any] = {}
    if mask == "pad":
        m_shape = off_by(draw, (n, big_s) if batched else (big_s,), 6)
        inputs.append(("m", "bool", m_shape))
        mkw["key_padding_mask"] = "m"
    elif mask == "attn2":
        inputs.append(("m", "bool", off_by(draw, (big_l, big_s), 6)))
        mkw["attn_mask"] = "m"
    elif mask == "attn3":
        inputs.append(("m", "f32", off_by(draw, ((n * heads) if batched else heads, big_l, big_s), 6)))
        mkw["attn_mask"] = "m"
    ts = {name: tensor(dt, s) for name, dt, s in inputs}
    for k_, v_ in mkw.items():
        torch_kw[k_] = ts[v_]
    ctor = {k_: v_ for k_, v_ in attrs.items() if k_ in ("batch_first", "bias")}
    err = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # netc infers kdim and vdim from the key and value, as it infers Linear's in_features.
            module = nn.MultiheadAttention(e, heads, kdim=ts["q" if self_attn else "k"].shape[-1],
                                           vdim=ts["q" if self_attn else "v"].shape[-1], **ctor).eval()
    except AssertionError as exc:
        err, module = str(exc), None
    if module is not None:
        q = ts["q"]
        k, v = (q, q) if self_attn else (ts["k"], ts["v"])
        err, types = run_torch(lambda: module(q, k, v, need_weights=attrs.get("need_weights", False),
                                              average_attn_weights=attrs.get("average_attn_weights", True),
                                              **torch_kw))
    call_in = "q" if self_attn else "(q, k, v)"
    extra = ", ".join(f"{k_}={v_}" for k_, v_ in mkw.items())
    args = ", ".join(x for x in (f"{e}, {heads}", kwargs(**attrs), extra) if x)
    body = [f"{'y, w' if attrs.get('need_weights') else 'y'} = {call_in} -> MultiheadAttention({args}) as attn"]
    got = compile_net(inputs, body, "y, w" if attrs.get("need_weights") else "y")
    agree(got, err, [] if err else types, torch_state(module) if module is not None and not err else None)


def test_multihead_attention_state_dict_layout() -> None:
    """in_proj_weight / in_proj_bias / out_proj.weight / out_proj.bias, or q/k/v_proj_weight when widths differ."""
    for (kdim, vdim), text in (((8, 8), "x"), ((4, 6), "(x, k, v)")):
        m = nn.MultiheadAttention(8, 2, kdim=kdim, vdim=vdim, batch_first=True)
        got = compile_net([("x", "f32", (2, 5, 8)), ("k", "f32", (2, 3, kdim)), ("v", "f32", (2, 3, vdim))],
                          [f"y = {text} -> MultiheadAttention(8, 2, batch_first=true) as attn",
                           "_unused = k + 0", "_unused2 = v + 0"], "y")
        agree(got, None, [("f32", (2, 5, 8))], torch_state(m), sum(p.numel() for p in m.parameters()))


# -- positional encodings --------------------------------------------------------------------------
def test_sinusoidal_table_is_a_buffer_and_learned_a_parameter() -> None:
    result = compile_source(Source("p.net", "network N {\n input x: f32[B, T, 16]\n"
                                   " y = x -> SinusoidalPositionalEncoding(64) as pos -> "
                                   "LearnedPositionalEncoding(32) as learned\n output y\n}\n"))
    assert result.ok
    g = result.graphs["N"]
    assert [(e.key, e.shape, e.kind) for e in g.state_dict()] == [
        ("pos.pe", (64, 16), "buffer"), ("learned.weight", (32, 16), "parameter")]
    assert g.num_params == 32 * 16
    assert str(g.outputs[0][1].type) == "f32[B, T, 16]"


@pytest.mark.parametrize(("src", "code"), [
    ("input x: f32[2, 70, 16]\n y = x -> SinusoidalPositionalEncoding(64)", "E209"),   # longer than max_len
    ("input x: f32[2, 7, 15]\n y = x -> SinusoidalPositionalEncoding(64)", "E207"),    # odd d_model
    ("input x: f32[2, 7, 16]\n y = x -> LearnedPositionalEncoding(8, dim=-1)", "E208"),  # not the seq dim
    ("input x: i64[2, 7]\n y = x -> LearnedPositionalEncoding(8)", "E205"),
])
def test_positional_encoding_errors(src: str, code: str) -> None:
    result = compile_source(Source("p.net", f"network N {{\n {src}\n output y\n}}\n"))
    assert code in {d.code for d in result.diagnostics.items if d.severity == "error"}


# -- reductions, indexing, arange ------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "argmax"])
@SETTINGS
@given(data=st.data())
def test_reductions_match_torch(op: str, data: st.DataObject) -> None:
    draw = data.draw
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from(["f32", "f64", "i64", "bool"]))
    rank = len(shape)
    dim: Any = draw(st.one_of(st.none(), st.integers(-rank - 1, rank),
                              st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=3).map(tuple)))
    keepdim = draw(st.booleans())
    x = tensor(dtype, shape)
    fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin, "argmax": torch.argmax}[op]

    def run() -> torch.Tensor:
        if dim is None:
            if op in ("max", "min"):
                return fn(x, dim=(), keepdim=keepdim)
            return fn(x, dim=None, keepdim=keepdim) if op != "argmax" else fn(x, keepdim=keepdim)
        return fn(x, dim=dim, keepdim=keepdim)
    err, types = run_torch(run)
    got = compile_net([("x", dtype, shape)], [f"y = x -> {op}(dim={fmt(dim) if dim is not None else 'none'}, "
                                              f"keepdim={fmt(keepdim)})"], "y")
    if err is None and op in ("max", "min") and dtype == "bool":
        pass  # torch.amax supports bool; so does netc
    agree(got, err, types)


@SETTINGS
@given(data=st.data())
def test_indexing_matches_torch(data: st.DataObject) -> None:
    draw = data.draw
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=4)))
    bound = st.one_of(st.none(), st.integers(-6, 6))
    item = st.one_of(
        st.integers(-6, 5),
        st.tuples(bound, bound, st.one_of(st.none(), st.integers(1, 3), st.just(0))).map(lambda t: slice(*t)),
        st.none(),
    )
    items = draw(st.lists(item, min_size=1, max_size=len(shape) + 1))
    x = tensor("f32", shape)
    err, types = run_torch(lambda: x[tuple(items)])

    def text(it: Any) -> str:
        if isinstance(it, slice):
            parts = ["" if p is None else str(p) for p in (it.start, it.stop)]
            return ":".join(parts) + ("" if it.step is None else f":{it.step}")
        return "none" if it is None else str(it)
    got = compile_net([("x", "f32", shape)], [f"y = x[{', '.join(text(i) for i in items)}]"], "y")
    agree(got, err, types)


def test_symbolic_slices_and_indices() -> None:
    result = compile_source(Source("i.net", "network N {\n input x: f32[B, T, 8]\n"
                                   " a = x[:, -1]\n b = x[:, 1:]\n c = x[:, :T - 1, none]\n d = x[0, T - 1]\n"
                                   " output a, b, c, d\n}\n"))
    assert result.ok, [d.message for d in result.diagnostics.items]
    outs = {n: str(v.type) for n, v in result.graphs["N"].outputs}
    assert outs == {"a": "f32[B, 8]", "b": "f32[B, T - 1, 8]", "c": "f32[B, T - 1, 1, 8]", "d": "f32[8]"}
    assert not result.diagnostics.items, "these slices stay within T"


@SETTINGS
@given(start=st.integers(-5, 8), end=st.one_of(st.none(), st.integers(-5, 8)), step=st.integers(-3, 3))
def test_arange_matches_torch(start: int, end: int | None, step: int) -> None:
    args = (start,) if end is None else (start, end, step)
    err, types = run_torch(lambda: torch.arange(*args))
    if end is None and start < 0:
        # torch.arange(-2) raises; netc too (bounds inconsistent with the step's sign).
        pass
    got = compile_net([("x", "f32", (1,))], [f"y = arange({', '.join(map(str, args))})", "_z = x + 0"], "y")
    agree(got, err, types)


def test_arange_of_a_symbol() -> None:
    result = compile_source(Source("a.net", "network N {\n input x: i64[B, T]\n p = arange(T)\n q = arange(1, T, 2)"
                                   "\n r = arange(0.0, 1.0, 0.25)\n _y = x + 0\n output p, q, r\n}\n"))
    assert result.ok
    outs = {n: str(v.type) for n, v in result.graphs["N"].outputs}
    assert outs == {"p": "i64[T]", "q": "i64[(T)//2]", "r": "f32[4]"}
