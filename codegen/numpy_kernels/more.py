"""The op families added after the core set, in one module: element-wise math, more activations, selection
(topk, sort, gather), padding, pixel shuffles and fold/unfold, more normalisation and pooling, pairwise ops
and bags, recurrent cells and transformer layers.

They build on the core families' kernels (imported from the sibling modules) and follow the same
conventions (see __init__.py). This module comes last in `FAMILIES`, so its kernels are copied into a
generated file after the core families' ones, the order generated files have always had.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .activations import erf, gelu, relu, sigmoid, softmax
from .attention_layers import multihead_attention
from .dense import linear
from .norm import batch_norm, layer_norm
from .pool import avg_pool
from .shared import _windows


# -- element-wise math -----------------------------------------------------------------------------------------
def rsqrt(x: np.ndarray) -> np.ndarray:
    return 1 / np.sqrt(x)


def erfc(x: np.ndarray) -> np.ndarray:
    return 1 - erf(x)


def erfinv(x: np.ndarray) -> np.ndarray:
    """The inverse of erf: Giles' single-precision approximation, refined by Newton steps on our erf."""
    w = -np.log((1 - x) * (1 + x))
    small = w - 2.5
    big = np.sqrt(np.maximum(w, 5.0)) - 3.0
    p_small = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                          -0.00125372503, -0.00417768164, 0.246640727, 1.50140941], small)
    p_big = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                        -0.0076224613, 0.00943887047, 1.00167406, 2.83297682], big)
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.where(w < 5.0, p_small, p_big) * x
        for _ in range(3):  # Newton on erf(y) - x; erf' = 2/sqrt(pi) exp(-y^2)
            y = y - (erf(y) - x) / (2 / np.sqrt(np.pi) * np.exp(-y * y))
        y = np.where(np.abs(x) == 1, np.copysign(np.inf, x), y)
        return np.where(np.abs(x) > 1, np.nan, y).astype(x.dtype, copy=False)


def masked_fill(x: np.ndarray, mask: np.ndarray, value: float) -> np.ndarray:
    return np.where(mask, np.asarray(value).astype(x.dtype), x)


# -- activations -----------------------------------------------------------------------------------------------
def relu6(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0), 6).astype(x.dtype, copy=False)


def hardtanh(x: np.ndarray, min_val: float = -1.0, max_val: float = 1.0) -> np.ndarray:
    return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)


def hardsigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x + 3, 0, 6) / 6


def hardswish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3, 0, 6) / 6


def mish(x: np.ndarray) -> np.ndarray:
    return x * np.tanh(np.logaddexp(0, x))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: np.ndarray) -> np.ndarray:
    return (_SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))).astype(x.dtype, copy=False)


def celu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)).astype(x.dtype, copy=False)


def rrelu(x: np.ndarray, lower: float = 1 / 8, upper: float = 1 / 3) -> np.ndarray:
    """Eval mode: a leaky ReLU with the mean of the random slopes."""
    return np.where(x >= 0, x, x * ((lower + upper) / 2)).astype(x.dtype, copy=False)


def logsigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0, -x)


def softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


def softshrink(x: np.ndarray, lambd: float = 0.5) -> np.ndarray:
    return np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0)).astype(x.dtype, copy=False)


def hardshrink(x: np.ndarray, lambd: float = 0.5) -> np.ndarray:
    return np.where(np.abs(x) > lambd, x, 0).astype(x.dtype, copy=False)


def tanhshrink(x: np.ndarray) -> np.ndarray:
    return x - np.tanh(x)


def threshold(x: np.ndarray, threshold: float, value: float) -> np.ndarray:
    # torch casts both numbers to the input's dtype first: on int64, threshold -0.5 compares as 0
    return np.where(x > np.asarray(threshold).astype(x.dtype), x, np.asarray(value).astype(x.dtype))


def softmin(x: np.ndarray, dim: int = -1) -> np.ndarray:
    if x.ndim == 0:  # a scalar is its own one-element distribution
        return np.ones_like(x)
    return softmax(-x, dim)


def glu(x: np.ndarray, dim: int = -1) -> np.ndarray:
    a, b = np.split(x, 2, axis=dim)
    return a * sigmoid(b)


def prelu(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """One slope, or one per channel (dim 1, or dim 0 of a 1-D input)."""
    w = weight if weight.size == 1 or x.ndim < 2 else weight.reshape((-1,) + (1,) * (x.ndim - 2))
    return np.where(x >= 0, x, w * x)


# -- shapes, ordering, selection --------------------------------------------------------------------------------
def topk(x: np.ndarray, k: int, dim: int = -1, largest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    values, indices = sort(x, dim, descending=largest)
    take = (slice(None),) * (dim % max(x.ndim, 1)) + (slice(0, k),)
    return values[take], indices[take]


def sort(x: np.ndarray, dim: int = -1, descending: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Stable: equal values keep their order (torch's stable=True; ties are rare in float data)."""
    if x.ndim == 0:
        return x, np.zeros((), dtype=np.int64)
    key = x.astype(np.int8) if x.dtype == bool else x
    indices = np.argsort(-key if descending else key, axis=dim, kind="stable")
    return np.take_along_axis(x, indices, axis=dim), indices.astype(np.int64)


def gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """torch.gather: the index may be smaller than x in the other dims; those take x's leading part."""
    dim = dim % max(x.ndim, 1)
    part = tuple(slice(None) if i == dim else slice(0, n) for i, n in enumerate(index.shape))
    return np.take_along_axis(x[part], index, axis=dim)


# -- padding ---------------------------------------------------------------------------------------------------
_NUMPY_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x: np.ndarray, pad: tuple[int, ...], mode: str = "constant", value: float = 0.0) -> np.ndarray:
    """F.pad: pads given last dim first, (left, right) per dim; negative pads crop."""
    n = len(pad) // 2
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for i in range(n):
        axis = x.ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        crop[axis] = slice(max(-lo, 0), x.shape[axis] - max(-hi, 0))
        widths[axis] = (max(lo, 0), max(hi, 0))
    x = x[tuple(crop)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(value).astype(x.dtype))
    return np.pad(x, widths, mode=_NUMPY_MODES[mode])


# -- pixels ------------------------------------------------------------------------------------------------------
def pixel_shuffle(x: np.ndarray, r: int) -> np.ndarray:
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    n, c = x.shape[:2]
    return x.reshape(n, groups, c // groups, *x.shape[2:]).swapaxes(1, 2).reshape(x.shape)


def unfold(x: np.ndarray, kernel_size: tuple[int, int], dilation: tuple[int, int] = (1, 1),
           padding: tuple[int, int] = (0, 0), stride: tuple[int, int] = (1, 1)) -> np.ndarray:
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L), rows channel-major then kernel row, column; L row-major."""
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride
    x = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    win = _windows(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    n, c, oh, ow = win.shape[:4]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
    return cols[0] if unbatched else cols


def fold(x: np.ndarray, output_size: tuple[int, int], kernel_size: tuple[int, int],
         dilation: tuple[int, int] = (1, 1), padding: tuple[int, int] = (0, 0),
         stride: tuple[int, int] = (1, 1)) -> np.ndarray:
    """col2im, the adjoint of unfold: each column's values are added back at their block's pixels."""
    unbatched = x.ndim == 2
    if unbatched:
        x = x[None]
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = kernel_size, dilation, padding, stride
    (h, w) = output_size
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    n = x.shape[0]
    c = x.shape[1] // (kh * kw)
    cols = x.reshape(n, c, kh, kw, oh, ow)
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    for i in range(kh):  # one strided add per kernel tap
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
    out = out[:, :, ph:ph + h, pw:pw + w]
    return out[0] if unbatched else out


# -- normalisation ---------------------------------------------------------------------------------------------
def group_norm(x: np.ndarray, num_groups: int, weight: np.ndarray | None = None, bias: np.ndarray | None = None,
               eps: float = 1e-5) -> np.ndarray:
    n, c = x.shape[:2]
    g = x.reshape(n, num_groups, -1)
    mean = g.mean(axis=-1, keepdims=True)
    var = g.var(axis=-1, keepdims=True)
    y = ((g - mean) / np.sqrt(var + eps)).reshape(x.shape)
    shape = (-1,) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def instance_norm(x: np.ndarray, n: int, running_mean: np.ndarray | None = None,
                  running_var: np.ndarray | None = None, weight: np.ndarray | None = None,
                  bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """Eval mode: running statistics when tracked, else each sample's own per-channel statistics."""
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x[None]
    if running_mean is not None and running_var is not None:
        y = batch_norm(x, running_mean, running_var, weight, bias, eps)
    else:
        axes = tuple(range(2, x.ndim))
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        y = (x - mean) / np.sqrt(var + eps)
        shape = (-1,) + (1,) * n
        if weight is not None:
            y = y * weight.reshape(shape) + bias.reshape(shape)  # type: ignore[union-attr]
    return y[0] if unbatched else y


def local_response_norm(x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> np.ndarray:
    """x / (k + alpha * mean of x^2 over `size` channels around c, zero-padded)^beta, as torch computes it."""
    sq = x * x
    widths = [(0, 0)] * x.ndim
    widths[1] = (size // 2, (size - 1) // 2)
    sq = np.pad(sq, widths)
    c = x.shape[1]
    total = sum(sq[:, i:i + c] for i in range(size))
    return x / (k + alpha * total / size) ** beta


def cross_map_lrn2d(x: np.ndarray, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> np.ndarray:
    """nn.CrossMapLRN2d exactly as torch computes it: a running window sum over the channels that, once past
    the first `pre_pad` channels, never subtracts channel 0 (Lua Torch's recurrence, kept for compatibility)."""
    sq = x * x
    channels = x.shape[1]
    pre_pad = (size - 1) // 2 + 1
    cs = np.cumsum(sq, axis=1)
    c = np.arange(channels)
    total = cs[:, np.minimum(c + pre_pad - 1, channels - 1)]
    drop = (cs[:, np.maximum(c - pre_pad, 0)] - cs[:, :1]) * (c > pre_pad).reshape(-1, 1, 1)
    return x * (k + alpha / size * (total - drop)) ** -beta


def rms_norm(x: np.ndarray, normalized_shape: tuple[int, ...], weight: np.ndarray | None = None,
             eps: float | None = None) -> np.ndarray:
    axes = tuple(range(-len(normalized_shape), 0))
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight


def layer_norm_2d(x: np.ndarray, normalized_shape: int, weight: np.ndarray | None = None,
                  bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """torchvision's LayerNorm2d: LayerNorm over the channels of (N, C, H, W), channels moved last and back."""
    y = layer_norm(np.moveaxis(x, 1, -1), (normalized_shape,), weight, bias, eps)
    return np.ascontiguousarray(np.moveaxis(y, -1, 1))


def lp_pool(x: np.ndarray, norm_type: float, kernel_size: tuple[int, ...], stride: tuple[int, ...] | None = None,
            ceil_mode: bool = False) -> np.ndarray:
    """torch's lp_pool: (average of x^p over the window, times its size)^(1/p)."""
    out = avg_pool(x ** norm_type, kernel_size, stride, 0, ceil_mode)
    return (np.sign(out) * np.maximum(np.abs(out), 0) * float(np.prod(kernel_size))) ** (1.0 / norm_type)


# -- pairs, bags -------------------------------------------------------------------------------------------------
def bilinear(x1: np.ndarray, x2: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    y = np.einsum("...i,oij,...j->...o", x1, weight, x2)
    return y if bias is None else y + bias


def cosine_similarity(x1: np.ndarray, x2: np.ndarray, dim: int = 1, eps: float = 1e-8) -> np.ndarray:
    """Each input divided by its norm (at least eps) first, as torch does, then the dot product."""
    x1, x2 = np.broadcast_arrays(x1, x2)
    n1 = np.maximum(np.sqrt((x1 * x1).sum(axis=dim, keepdims=True)), eps)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(axis=dim, keepdims=True)), eps)
    return ((x1 / n1) * (x2 / n2)).sum(axis=dim)


def pairwise_distance(x1: np.ndarray, x2: np.ndarray, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> np.ndarray:
    d = np.abs(x1 - x2 + eps)
    if p == np.inf:
        out = d.max(axis=-1, keepdims=keepdim)
    elif p == 0:
        out = (d != 0).sum(axis=-1, keepdims=keepdim).astype(d.dtype)
    else:
        out = (d ** p).sum(axis=-1, keepdims=keepdim) ** (1 / p)
    return out


def embedding_bag(indices: np.ndarray, weight: np.ndarray, mode: str = "mean",
                  padding_idx: int | None = None) -> np.ndarray:
    """One bag per row of (B, N) indices; padding_idx entries are left out, and an empty bag gives zeros."""
    rows = weight[indices]  # (B, N, D)
    keep = np.ones(indices.shape, dtype=bool) if padding_idx is None else indices != padding_idx % len(weight)
    if mode == "max":
        out = np.where(keep[..., None], rows, -np.inf).max(axis=1)
        return np.where(keep.any(axis=1)[:, None], out, 0).astype(weight.dtype)
    total = np.where(keep[..., None], rows, 0).sum(axis=1)
    if mode == "sum":
        return total
    count = np.maximum(keep.sum(axis=1), 1)[:, None]
    return total / count.astype(weight.dtype)


# -- recurrent cells, transformer layers ---------------------------------------------------------------------------
def rnn_cell(x: np.ndarray, weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray | None,
             bias_hh: np.ndarray | None, *state: np.ndarray, mode: str = "RNNCell",
             nonlinearity: str = "tanh") -> Any:
    """One step of nn.RNNCell / GRUCell / LSTMCell; a missing state is zeros. LSTMCell returns (h, c)."""
    hidden = weight_hh.shape[1]
    h = state[0] if state else np.zeros(x.shape[:-1] + (hidden,), dtype=x.dtype)
    gi = linear(x, weight_ih, bias_ih)
    gh = linear(h, weight_hh, bias_hh)
    if mode == "RNNCell":
        s = gi + gh
        return np.tanh(s) if nonlinearity == "tanh" else np.maximum(s, 0)
    if mode == "GRUCell":
        ir, iz, inn = np.split(gi, 3, axis=-1)
        hr, hz, hn = np.split(gh, 3, axis=-1)
        r, z = sigmoid(ir + hr), sigmoid(iz + hz)
        n = np.tanh(inn + r * hn)
        return (1 - z) * n + z * h
    c = state[1] if len(state) > 1 else np.zeros_like(h)
    i, f, g, o = np.split(gi + gh, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def transformer_layer(x: np.ndarray, memory: np.ndarray | None, p: dict[str, np.ndarray], prefix: str, nhead: int,
                      activation: str = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                      norm_first: bool = False, causal: bool = False) -> np.ndarray:
    """nn.TransformerEncoderLayer (memory None) or DecoderLayer in eval mode, reading torch's keys from p."""
    def get(name: str) -> np.ndarray | None:
        return p.get(prefix + name)

    def attend(att: str, q: np.ndarray, kv: np.ndarray, causal: bool) -> np.ndarray:
        return multihead_attention(q, kv, kv, nhead, get(f"{att}.in_proj_weight"), get(f"{att}.in_proj_bias"),
                                   p[f"{prefix}{att}.out_proj.weight"], get(f"{att}.out_proj.bias"),
                                   causal=causal, batch_first=batch_first)

    def norm(i: int, t: np.ndarray) -> np.ndarray:
        return layer_norm(t, t.shape[-1:], get(f"norm{i}.weight"), get(f"norm{i}.bias"), layer_norm_eps)

    def feed_forward(t: np.ndarray) -> np.ndarray:
        act = relu if activation == "relu" else gelu
        return linear(act(linear(t, p[prefix + "linear1.weight"], get("linear1.bias"))),
                      p[prefix + "linear2.weight"], get("linear2.bias"))

    blocks: list[Callable[[np.ndarray], np.ndarray]] = [lambda t: attend("self_attn", t, t, causal)]
    if memory is not None:
        blocks.append(lambda t: attend("multihead_attn", t, memory, False))
    blocks.append(feed_forward)
    for i, block in enumerate(blocks, start=1):
        x = x + block(norm(i, x)) if norm_first else norm(i, x + block(x))
    return x
