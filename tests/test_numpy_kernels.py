"""Every NumPy kernel against the torch module or function it mirrors, on random shapes and attributes.

The oracle is torch itself (torch.nn modules with their own weights, torch.nn.functional): float64 must agree
within rtol = atol = 1e-7 and float32 within torch.testing's defaults (../shared/reference/README.md).
`assert_close` also checks the dtype, so every kernel must keep float32 as float32.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from netc.codegen import numpy_kernels as K

pytest.importorskip("torch")

TOLERANCE = {np.float64: {"rtol": 1e-7, "atol": 1e-7}, np.float32: {"rtol": 1.3e-6, "atol": 1e-5}}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
SETTINGS = settings(max_examples=40, deadline=None)

dtypes = st.sampled_from([np.float32, np.float64])


def rng_of(data: st.DataObject) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def close(ours: np.ndarray | np.generic, theirs: torch.Tensor, dtype: type) -> None:
    torch.testing.assert_close(torch.from_numpy(np.array(ours)), theirs.detach(), **TOLERANCE[dtype])


def module_weights(module: torch.nn.Module) -> dict[str, np.ndarray | None]:
    return {name: (None if p is None else p.detach().numpy()) for name, p in
            [("weight", getattr(module, "weight", None)), ("bias", getattr(module, "bias", None))]}


# -- dense ---------------------------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), dtype=dtypes, lead=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 9),
       n_out=st.integers(1, 9), bias=st.booleans())
def test_linear(data: st.DataObject, dtype: type, lead: list[int], n_in: int, n_out: int, bias: bool) -> None:
    layer = torch.nn.Linear(n_in, n_out, bias=bias, dtype=TORCH_DTYPE[dtype])
    x = rng_of(data).standard_normal((*lead, n_in)).astype(dtype)
    w = module_weights(layer)
    close(K.linear(x, w["weight"], w["bias"]), layer(torch.from_numpy(x)), dtype)


@SETTINGS
@given(data=st.data(), shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), vocab=st.integers(1, 20))
def test_embedding(data: st.DataObject, shape: list[int], vocab: int) -> None:
    layer = torch.nn.Embedding(vocab, 5, dtype=torch.float64)
    idx = rng_of(data).integers(0, vocab, shape)
    close(K.embedding(idx, layer.weight.detach().numpy()), layer(torch.from_numpy(idx)), np.float64)


# -- convolutions --------------------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(data=st.data(), dtype=dtypes, n=st.sampled_from([1, 2, 3]), groups=st.integers(1, 3),
       mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]), bias=st.booleans(),
       batched=st.booleans())
def test_conv(data: st.DataObject, dtype: type, n: int, groups: int, mode: str, bias: bool, batched: bool) -> None:
    cin, cout = groups * data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 3))
    kernel = tuple(data.draw(st.integers(1, 3 if n < 3 else 2)) for _ in range(n))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    kind = data.draw(st.sampled_from(["numbers", "same", "valid"]))
    if kind == "numbers":
        padding: tuple[int, ...] | str = tuple(data.draw(st.integers(0, 2)) for _ in range(n))
        stride = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
        pads = [(p, p) for p in padding]  # type: ignore[union-attr]
    else:
        padding, stride = kind, (1,) * n
        total = [d * (k - 1) for k, d in zip(kernel, dilation)] if kind == "same" else [0] * n
        pads = [(t // 2, t - t // 2) for t in total]
    sizes = []
    for k, d, (lo, hi) in zip(kernel, dilation, pads):
        smallest = max(1, d * (k - 1) + 1 - lo - hi, (max(lo, hi) + 1) if mode != "zeros" else 1)
        sizes.append(data.draw(st.integers(smallest, smallest + 5)))
    conv = getattr(torch.nn, f"Conv{n}d")(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation,
                                          groups=groups, bias=bias, padding_mode=mode, dtype=TORCH_DTYPE[dtype])
    shape = ((data.draw(st.integers(1, 2)),) if batched else ()) + (cin, *sizes)
    x = rng_of(data).standard_normal(shape).astype(dtype)
    w = module_weights(conv)
    ours = K.conv(x, w["weight"], w["bias"], stride=stride, padding=padding, dilation=dilation, groups=groups,
                  padding_mode=mode)
    close(ours, conv(torch.from_numpy(x)), dtype)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), dtype=dtypes, n=st.sampled_from([1, 2, 3]), groups=st.integers(1, 3), bias=st.booleans(),
       batched=st.booleans())
def test_conv_transpose(data: st.DataObject, dtype: type, n: int, groups: int, bias: bool, batched: bool) -> None:
    cin, cout = groups * data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 3))
    kernel = tuple(data.draw(st.integers(1, 4 if n < 3 else 2)) for _ in range(n))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
    padding = tuple(data.draw(st.integers(0, 2)) for _ in range(n))
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    sizes = tuple(data.draw(st.integers(1, 5 if n < 3 else 3)) for _ in range(n))
    out = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
           for i, s, p, d, k, op in zip(sizes, stride, padding, dilation, kernel, output_padding)]
    assume(all(o > 0 for o in out))
    layer = getattr(torch.nn, f"ConvTranspose{n}d")(cin, cout, kernel, stride=stride, padding=padding,
                                                    output_padding=output_padding, groups=groups, bias=bias,
                                                    dilation=dilation, dtype=TORCH_DTYPE[dtype])
    shape = ((data.draw(st.integers(1, 2)),) if batched else ()) + (cin, *sizes)
    x = rng_of(data).standard_normal(shape).astype(dtype)
    w = module_weights(layer)
    ours = K.conv_transpose(x, w["weight"], w["bias"], stride=stride, padding=padding,
                            output_padding=output_padding, groups=groups, dilation=dilation)
    close(ours, layer(torch.from_numpy(x)), dtype)


# -- pooling -------------------------------------------------------------------------------------------------------
def _pool_setup(data: st.DataObject, n: int, dilated: bool) -> tuple:
    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(n))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
    padding = tuple(data.draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(data.draw(st.integers(1, 2)) if dilated else 1 for _ in range(n))
    sizes = tuple(data.draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 9))
                  for k, d, p in zip(kernel, dilation, padding))
    return kernel, stride, padding, dilation, sizes


@settings(max_examples=80, deadline=None)
@given(data=st.data(), dtype=dtypes, n=st.sampled_from([1, 2]), ceil_mode=st.booleans(), batched=st.booleans())
def test_max_pool(data: st.DataObject, dtype: type, n: int, ceil_mode: bool, batched: bool) -> None:
    kernel, stride, padding, dilation, sizes = _pool_setup(data, n, dilated=True)
    pool = getattr(torch.nn, f"MaxPool{n}d")(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    x = rng_of(data).standard_normal(((2,) if batched else ()) + (3, *sizes)).astype(dtype)
    close(K.max_pool(x, kernel, stride, padding, dilation, ceil_mode), pool(torch.from_numpy(x)), dtype)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), dtype=dtypes, n=st.sampled_from([1, 2]), ceil_mode=st.booleans(),
       count_include_pad=st.booleans())
def test_avg_pool(data: st.DataObject, dtype: type, n: int, ceil_mode: bool, count_include_pad: bool) -> None:
    kernel, stride, padding, _, sizes = _pool_setup(data, n, dilated=False)
    pool = getattr(torch.nn, f"AvgPool{n}d")(kernel, stride, padding, ceil_mode=ceil_mode,
                                             count_include_pad=count_include_pad)
    x = rng_of(data).standard_normal((2, 3, *sizes)).astype(dtype)
    close(K.avg_pool(x, kernel, stride, padding, ceil_mode, count_include_pad), pool(torch.from_numpy(x)), dtype)


@SETTINGS
@given(data=st.data(), dtype=dtypes, n=st.sampled_from([1, 2]), kind=st.sampled_from(["Avg", "Max"]))
def test_adaptive_pool(data: st.DataObject, dtype: type, n: int, kind: str) -> None:
    sizes = tuple(data.draw(st.integers(1, 10)) for _ in range(n))
    out = tuple(data.draw(st.one_of(st.none(), st.integers(1, 12)) if n == 2 else st.integers(1, 12))
                for _ in range(n))
    pool = getattr(torch.nn, f"Adaptive{kind}Pool{n}d")(out if n == 2 else out[0])
    x = rng_of(data).standard_normal((2, 3, *sizes)).astype(dtype)
    kernel = K.adaptive_avg_pool if kind == "Avg" else K.adaptive_max_pool
    close(kernel(x, out), pool(torch.from_numpy(x)), dtype)


# -- normalisation -------------------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), dtype=dtypes, layout=st.sampled_from(["1d", "1d-seq", "2d"]), affine=st.booleans(),
       track=st.booleans(), eps=st.sampled_from([1e-5, 1e-3, 0.1]))
def test_batch_norm(data: st.DataObject, dtype: type, layout: str, affine: bool, track: bool, eps: float) -> None:
    c = data.draw(st.integers(1, 5))
    shape = {"1d": (3, c), "1d-seq": (2, c, 4), "2d": (2, c, 3, 4)}[layout]
    bn = getattr(torch.nn, "BatchNorm2d" if layout == "2d" else "BatchNorm1d")(
        c, eps=eps, affine=affine, track_running_stats=track, dtype=TORCH_DTYPE[dtype])
    rng = rng_of(data)
    with torch.no_grad():
        if track:
            bn.running_mean.copy_(torch.from_numpy(rng.standard_normal(c)))
            bn.running_var.copy_(torch.from_numpy(rng.uniform(0.2, 3.0, c)))
        if affine:
            bn.weight.copy_(torch.from_numpy(rng.standard_normal(c)))
            bn.bias.copy_(torch.from_numpy(rng.standard_normal(c)))
    bn.eval()
    x = rng.standard_normal(shape).astype(dtype)
    w = module_weights(bn)
    mean = bn.running_mean.numpy() if track else None
    var = bn.running_var.numpy() if track else None
    close(K.batch_norm(x, mean, var, w["weight"], w["bias"], eps), bn(torch.from_numpy(x)), dtype)


@SETTINGS
@given(data=st.data(), dtype=dtypes, shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       affine=st.booleans(), bias=st.booleans())
def test_layer_norm(data: st.DataObject, dtype: type, shape: list[int], affine: bool, bias: bool) -> None:
    k = data.draw(st.integers(1, len(shape)))
    normalized = tuple(shape[-k:])
    ln = torch.nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=TORCH_DTYPE[dtype])
    rng = rng_of(data)
    if affine:
        with torch.no_grad():
            ln.weight.copy_(torch.from_numpy(rng.standard_normal(normalized)))
            if bias:
                ln.bias.copy_(torch.from_numpy(rng.standard_normal(normalized)))
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = module_weights(ln)
    close(K.layer_norm(x, normalized, w["weight"], w["bias"]), ln(torch.from_numpy(x)), dtype)


def test_dropout_is_the_identity_at_inference() -> None:
    x = np.arange(6.0)
    layer = torch.nn.Dropout(0.9).eval()
    close(K.dropout(x, 0.9), layer(torch.from_numpy(x)), np.float64)


# -- activations ---------------------------------------------------------------------------------------------------
ACTIVATIONS = {
    "relu": (lambda x, a: K.relu(x), lambda t, a: torch.relu(t)),
    "leaky_relu": (lambda x, a: K.leaky_relu(x, a), lambda t, a: F.leaky_relu(t, a)),
    "elu": (lambda x, a: K.elu(x, abs(a) + 0.1), lambda t, a: F.elu(t, abs(a) + 0.1)),
    "gelu": (lambda x, a: K.gelu(x), lambda t, a: F.gelu(t)),
    "gelu_tanh": (lambda x, a: K.gelu(x, "tanh"), lambda t, a: F.gelu(t, approximate="tanh")),
    "silu": (lambda x, a: K.silu(x), lambda t, a: F.silu(t)),
    "sigmoid": (lambda x, a: K.sigmoid(x), lambda t, a: torch.sigmoid(t)),
    "softplus": (lambda x, a: K.softplus(x, abs(a) + 0.1), lambda t, a: F.softplus(t, abs(a) + 0.1)),
    "tanh": (lambda x, a: np.tanh(x), lambda t, a: torch.tanh(t)),
    "exp": (lambda x, a: np.exp(x), lambda t, a: torch.exp(t)),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=dtypes, name=st.sampled_from(sorted(ACTIVATIONS)),
       shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), scale=st.sampled_from([0.1, 1.0, 10.0, 60.0]),
       attr=st.floats(-2, 2))
def test_activations(data: st.DataObject, dtype: type, name: str, shape: list[int], scale: float,
                     attr: float) -> None:
    ours, theirs = ACTIVATIONS[name]
    x = (rng_of(data).standard_normal(shape) * scale).astype(dtype)
    with np.errstate(over="ignore"):  # exp(60) overflows float32 to inf, as in torch
        result = ours(x, attr)
    close(result, theirs(torch.from_numpy(x), attr), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_exact_on_a_dense_grid(dtype: type) -> None:
    """The erf-based gelu everywhere it varies (|x| < 10), including around every Taylor centre."""
    x = np.linspace(-10, 10, 40_001).astype(dtype)
    close(K.gelu(x), F.gelu(torch.from_numpy(x)), dtype)


def test_erf_against_the_standard_library() -> None:
    x = np.concatenate([np.linspace(-7, 7, 20_001), [0.0, -0.0, 1e-300, 5.9999, 6.0, 30.0, -30.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(K.erf(x), expected, rtol=2e-15, atol=1e-16)
    assert np.isnan(K.erf(np.array([np.nan]))).all()
    np.testing.assert_array_equal(K.erf(np.array([np.inf, -np.inf])), [1.0, -1.0])


@SETTINGS
@given(data=st.data(), dtype=dtypes, shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       scale=st.sampled_from([1.0, 50.0, 1000.0]), log=st.booleans())
def test_softmax(data: st.DataObject, dtype: type, shape: list[int], scale: float, log: bool) -> None:
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = (rng_of(data).standard_normal(shape) * scale).astype(dtype)  # large logits: the max must be subtracted
    ours = K.log_softmax(x, dim) if log else K.softmax(x, dim)
    t = torch.from_numpy(x)
    close(ours, torch.log_softmax(t, dim) if log else torch.softmax(t, dim), dtype)


# -- tensor plumbing -----------------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), shape=st.lists(st.integers(1, 4), max_size=4))
def test_flatten(data: st.DataObject, shape: list[int]) -> None:
    x = rng_of(data).standard_normal(shape)
    rank = max(len(shape), 1)
    start = data.draw(st.integers(-rank, rank - 1))
    end = data.draw(st.integers(-rank, rank - 1))
    assume(start % rank <= end % rank)
    close(K.flatten(x, start, end), torch.flatten(torch.from_numpy(x), start, end), np.float64)


@SETTINGS
@given(data=st.data(), shape=st.lists(st.integers(1, 7), min_size=1, max_size=3))
def test_split_and_chunk(data: st.DataObject, shape: list[int]) -> None:
    x = rng_of(data).standard_normal(shape)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=3)) if n > 1 else set())
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    t = torch.from_numpy(x)
    for ours, theirs in zip(K.split(x, sizes, dim), torch.split(t, sizes, dim), strict=True):
        close(ours, theirs, np.float64)
    chunks = data.draw(st.integers(1, 8))
    pieces, expected = K.chunk(x, chunks, dim), torch.chunk(t, chunks, dim)
    assert len(pieces) == len(expected)
    for ours, theirs in zip(pieces, expected):
        close(ours, theirs, np.float64)


@SETTINGS
@given(data=st.data(), left=st.lists(st.integers(1, 3), min_size=1, max_size=4),
       right=st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_matmul_broadcasting_like_torch(data: st.DataObject, left: list[int], right: list[int]) -> None:
    inner = data.draw(st.integers(1, 4))
    a_shape = [*left[:-1], inner] if len(left) > 1 else [inner]
    b_shape = [*right[:-2], inner, right[-1]] if len(right) > 1 else [inner]
    rng = rng_of(data)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    try:
        expected = torch.matmul(torch.from_numpy(a), torch.from_numpy(b))
    except RuntimeError:
        with pytest.raises(ValueError):
            K.KERNELS["matmul"](a, b)
        return
    close(K.KERNELS["matmul"](a, b), expected, np.float64)


# -- recurrent, attention, resampling ----------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=dtypes, mode=st.sampled_from(["RNN", "GRU", "LSTM"]), layers=st.integers(1, 2),
       bidirectional=st.booleans(), batch_first=st.booleans(), batched=st.booleans(), with_state=st.booleans())
def test_rnn(data: st.DataObject, dtype: type, mode: str, layers: int, bidirectional: bool, batch_first: bool,
             batched: bool, with_state: bool) -> None:
    n_in, hidden = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 5))
    steps, batch = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    kw: dict[str, object] = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first,
                             "bias": data.draw(st.booleans())}
    if mode == "RNN":
        kw["nonlinearity"] = data.draw(st.sampled_from(["tanh", "relu"]))
    proj = data.draw(st.integers(0, hidden - 1)) if mode == "LSTM" else 0
    if proj:
        kw["proj_size"] = proj
    layer = getattr(torch.nn, mode)(n_in, hidden, dtype=TORCH_DTYPE[dtype], **kw).eval()
    rng = rng_of(data)
    shape = ((batch, steps) if batch_first else (steps, batch)) if batched else (steps,)
    x = rng.standard_normal((*shape, n_in)).astype(dtype)
    lead = (layers * (2 if bidirectional else 1),) + ((batch,) if batched else ())
    states = [rng.standard_normal((*lead, proj or hidden)).astype(dtype)] if with_state else []
    if with_state and mode == "LSTM":
        states.append(rng.standard_normal((*lead, hidden)).astype(dtype))
    params = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    weights = K.rnn_weights(params, "", layers, bidirectional)
    ours = K.rnn(x, weights, *states, mode=mode, num_layers=layers, bidirectional=bidirectional,
                 batch_first=batch_first, nonlinearity=str(kw.get("nonlinearity", "tanh")))
    tstates = [torch.from_numpy(s) for s in states]
    out, state = layer(torch.from_numpy(x), (tuple(tstates) if mode == "LSTM" else tstates[0]) if states else None)
    theirs = [out, *state] if mode == "LSTM" else [out, state]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        close(a, b, dtype)


@SETTINGS
@given(data=st.data(), dtype=dtypes, batch=st.lists(st.integers(1, 3), max_size=2), causal=st.booleans(),
       mask=st.sampled_from([None, "bool", "float", "padding"]))
def test_scaled_dot_product_attention(data: st.DataObject, dtype: type, batch: list[int], causal: bool,
                                      mask: str | None) -> None:
    length, source = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    e, ev = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    rng = rng_of(data)
    q, k = (rng.standard_normal((*batch, n, e)).astype(dtype) for n in (length, source))
    v = rng.standard_normal((*batch, source, ev)).astype(dtype)
    scale = data.draw(st.one_of(st.none(), st.floats(0.1, 2.0)))
    kw: dict[str, np.ndarray] = {}
    allowed = np.ones((length, source), dtype=bool)
    if mask in ("bool", "float"):
        allowed = rng.random((length, source)) < 0.7
        allowed[:, 0] = True  # every query sees a key: a fully masked row is NaN on both sides anyway
        kw["attn_mask"] = allowed if mask == "bool" else np.where(allowed, 0.0, -np.inf).astype(dtype)
    if causal:
        allowed = allowed & np.tril(np.ones((length, source), dtype=bool))
    theirs_mask = torch.from_numpy(allowed) if mask in ("bool", "float") or causal else None
    if mask == "padding" and batch:
        pad = rng.random((batch[0], source)) < 0.3
        pad[:, 0] = False
        kw["key_padding_mask"] = pad
        keep = ~pad.reshape((batch[0],) + (1,) * len(batch) + (source,))
        theirs_mask = torch.from_numpy(np.broadcast_to(keep & allowed, (*batch, length, source)).copy())
    if causal and mask is None:
        theirs = F.scaled_dot_product_attention(*(torch.from_numpy(t) for t in (q, k, v)), is_causal=True,
                                                scale=scale)
    else:
        theirs = F.scaled_dot_product_attention(*(torch.from_numpy(t) for t in (q, k, v)), attn_mask=theirs_mask,
                                                scale=scale)
    ours = K.attention(q, k, v, causal=causal, scale=scale, **kw)
    close(ours, theirs, dtype)


@SETTINGS
@given(data=st.data(), dtype=dtypes, heads=st.integers(1, 3), layout=st.sampled_from(["LNE", "NLE", "LE"]),
       need_weights=st.booleans(), average=st.booleans(), padding=st.booleans(), causal=st.booleans())
def test_multihead_attention(data: st.DataObject, dtype: type, heads: int, layout: str, need_weights: bool,
                             average: bool, padding: bool, causal: bool) -> None:
    embed = heads * data.draw(st.integers(1, 3))
    kdim, vdim = data.draw(st.sampled_from([embed, 2, 5])), data.draw(st.sampled_from([embed, 3]))
    length, source, batch = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    if causal:
        source = length
    layer = torch.nn.MultiheadAttention(embed, heads, bias=data.draw(st.booleans()), kdim=kdim, vdim=vdim,
                                        batch_first=layout == "NLE", dtype=TORCH_DTYPE[dtype]).eval()
    rng = rng_of(data)

    def shape(n: int, width: int) -> tuple[int, ...]:
        return {"LNE": (n, batch, width), "NLE": (batch, n, width), "LE": (n, width)}[layout]

    q = rng.standard_normal(shape(length, embed)).astype(dtype)
    k = rng.standard_normal(shape(source, kdim)).astype(dtype)
    v = rng.standard_normal(shape(source, vdim)).astype(dtype)
    kw: dict[str, object] = {}
    theirs_kw: dict[str, object] = {}
    if padding:
        pad = rng.random((batch, source) if layout != "LE" else (source,)) < 0.3
        pad[..., 0] = False
        kw["key_padding_mask"] = theirs_kw["key_padding_mask"] = pad
        theirs_kw["key_padding_mask"] = torch.from_numpy(pad)
    if causal:
        kw["causal"] = True
        theirs_kw["attn_mask"] = torch.ones(length, source, dtype=torch.bool).triu(1)  # torch: true = masked
    p = {name: t.detach().numpy() for name, t in layer.state_dict().items()}
    ours = K.multihead_attention(q, k, v, heads, p.get("in_proj_weight"), p.get("in_proj_bias"),
                                 p["out_proj.weight"], p.get("out_proj.bias"), p.get("q_proj_weight"),
                                 p.get("k_proj_weight"), p.get("v_proj_weight"), batch_first=layout == "NLE",
                                 need_weights=need_weights, average_attn_weights=average,
                                 **kw)  # type: ignore[arg-type]
    out, weights = layer(*(torch.from_numpy(t) for t in (q, k, v)), need_weights=need_weights,
                         average_attn_weights=average, **theirs_kw)
    if need_weights:
        close(ours[0], out, dtype)
        close(ours[1], weights, dtype)
    else:
        close(ours, out, dtype)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), dtype=dtypes, mode=st.sampled_from(["nearest", "linear"]), n=st.sampled_from([1, 2, 3]),
       by_scale=st.booleans())
def test_interpolate(data: st.DataObject, dtype: type, mode: str, n: int, by_scale: bool) -> None:
    sizes = tuple(data.draw(st.integers(1, 9 if n < 3 else 5)) for _ in range(n))
    torch_mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[n] if mode == "linear" else "nearest"
    align = data.draw(st.booleans()) if mode == "linear" else None
    x = rng_of(data).standard_normal((2, 3, *sizes)).astype(dtype)
    if by_scale:
        scale = tuple(data.draw(st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0])) for _ in range(n))
        out = tuple(int(np.floor(s * f)) for s, f in zip(sizes, scale))
        assume(all(o > 0 for o in out))
        theirs = F.interpolate(torch.from_numpy(x), scale_factor=scale, mode=torch_mode, align_corners=align)
    else:
        scale = None
        out = tuple(data.draw(st.integers(1, 12 if n < 3 else 6)) for _ in range(n))
        theirs = F.interpolate(torch.from_numpy(x), size=out, mode=torch_mode, align_corners=align)
    close(K.interpolate(x, out, scale, mode=mode, align_corners=align), theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rank", [3, 4, 5])
def test_nearest_indices_follow_torchs_arithmetic_at_exact_multiples(dtype: type, rank: int) -> None:
    """Sizes where i * in / out lands on an integer: torch's float32 index arithmetic rounds some of them
    down (6 -> 74 at i = 37 for 1-D float64); netc must pick the same source pixel."""
    for n_in, n_out in [(6, 74), (12, 74), (14, 46), (21, 69), (26, 22), (39, 33), (39, 66), (30, 58)]:
        shape = (1, 1) + (1,) * (rank - 3) + (n_in,)
        x = np.arange(n_in, dtype=dtype).reshape(shape)
        size = (1,) * (rank - 3) + (n_out,)
        theirs = F.interpolate(torch.from_numpy(x), size=size, mode="nearest")
        close(K.interpolate(x, size), theirs, dtype)


def test_attention_to_fully_masked_keys_is_zero_as_in_torch() -> None:
    """torch's SDPA gives 0 for a query whose keys are all masked (its `_safe_softmax`), not NaN; MHA does too
    unless the weights are asked for. Found by verifying every program the tests compile."""
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 6, 4)), rng.normal(size=(2, 3, 6, 7))
    pad = np.array([[False] * 6, [True] * 6])
    ours = K.attention(q, k, v, key_padding_mask=pad, causal=True)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(t) for t in (q, k, v)),
        attn_mask=torch.from_numpy(np.tril(np.ones((5, 6), bool)) & ~pad[:, None, None, :]))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
    assert not np.isnan(ours).any() and (ours[1] == 0).all()

    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True).double().eval()
    x = rng.normal(size=(2, 3, 4))
    keys = np.array([[False, False, True], [True, True, True]])
    w = {k_: t.detach().numpy() for k_, t in mha.state_dict().items()}
    for need in (False, True):
        out = K.multihead_attention(x, x, x, 2, w["in_proj_weight"], w["in_proj_bias"],
                                                w["out_proj.weight"], w["out_proj.bias"], key_padding_mask=keys,
                                                batch_first=True, need_weights=need)
        ref = mha(*(torch.from_numpy(x),) * 3, key_padding_mask=torch.from_numpy(keys), need_weights=need)
        ours_out = out[0] if need else out
        np.testing.assert_allclose(ours_out, ref[0].detach().numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("dtype", ["i64", "i32", "i16", "f32"])
def test_arange_with_float_bounds_counts_as_torch_does(dtype: str) -> None:
    """torch.arange(0, 2.5, dtype=int64) is [0, 1] (bounds cast first), int32 gives [0, 1, 2] (counted from the
    floats). Found by verifying every compiled program."""
    import netc
    from netc.codegen import numpy_ref

    src = f'network N {{\n    input _u: f32[1]\n    output y = arange(0.5, 3.7, dtype="{dtype}")\n}}\n'
    ours = numpy_ref.build(netc.check_source(src))({})(np.zeros(1, np.float32))
    want = torch.arange(0.5, 3.7, dtype={"i64": torch.int64, "i32": torch.int32, "i16": torch.int16,
                                          "f32": torch.float32}[dtype])
    np.testing.assert_array_equal(ours, want.numpy())


@pytest.mark.parametrize(("threshold", "value"), [(-0.5, 2.5), (0.5, -1.5), (1.9, 7.0), (-2.0, 0.0)])
def test_threshold_on_integers_casts_both_numbers_as_torch_does(threshold: float, value: float) -> None:
    """Found by the session-wide `netc verify`: on int64, torch compares with threshold -0.5 cast to 0."""
    from netc.codegen.numpy_kernels.more import threshold as np_threshold

    x = np.arange(-3, 4, dtype=np.int64).reshape(7, 1)
    expected = F.threshold(torch.from_numpy(x), threshold, value).numpy()
    got = np_threshold(x, threshold, value)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
