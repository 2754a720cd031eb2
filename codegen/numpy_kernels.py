"""NumPy kernels for netc's reference backend: one readable function per op family, torch semantics.

The generated NumPy code calls these functions; the generator copies the ones a network uses (and the
helpers they need) into the generated file, so that file imports nothing but NumPy. Every function works in
float32 and float64 and keeps its input's dtype. `KERNELS` at the bottom maps each canonical op name of
`netc.dsl.ops.OPS` to the function that computes it (plain NumPy functions for the trivial ops).

No Python loops over pixels or channels: convolutions are im2col (a `sliding_window_view`, copied once into
rows) followed by one matmul; pooling is a reduction over window views. The only loops run over kernel taps
(transposed convolution) or spatial axes (pooling is separable), a handful of iterations each.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_windows = np.lib.stride_tricks.sliding_window_view


def _ntuple(v: int | tuple[int, ...] | list[int], n: int) -> tuple[int, ...]:
    """`3` -> `(3, 3)` for n = 2; tuples pass through."""
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * n


# -- dense layers ----------------------------------------------------------------------------------------------
def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """torch.nn.Linear: y = x W^T + b over the last dim.

    Leading dims are folded into one, so that BLAS sees a single matrix product rather than NumPy
    looping over a stack of small ones (twice as fast for (B, T, d) inputs).
    """
    y = (x.reshape(-1, x.shape[-1]) @ weight.T).reshape(x.shape[:-1] + weight.shape[:1])
    return y if bias is None else y + bias


def embedding(indices: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """torch.nn.Embedding: row lookup (padding_idx only matters for gradients)."""
    return weight[indices]


# -- convolutions ----------------------------------------------------------------------------------------------
def _conv_padding(x: np.ndarray, padding: int | tuple[int, ...] | str, kernel: tuple[int, ...],
                  dilation: tuple[int, ...], padding_mode: str) -> np.ndarray:
    """Pad the spatial dims the way torch does before a convolution.

    padding='same' pads d*(k-1) in total, the odd one on the right (torch's rule for even kernels).
    """
    n = len(kernel)
    if padding == "valid":
        return x
    if padding == "same":
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        pads = [(p, p) for p in _ntuple(padding, n)]
    if not any(lo or hi for lo, hi in pads):
        return x
    widths = [(0, 0)] * (x.ndim - n) + pads
    # torch's padding modes in NumPy's words: reflect excludes the edge, replicate repeats it, circular wraps.
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[padding_mode]
    return np.pad(x, widths, mode=mode)


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int | tuple[int, ...] = 1,
         padding: int | tuple[int, ...] | str = 0, dilation: int | tuple[int, ...] = 1, groups: int = 1,
         padding_mode: str = "zeros") -> np.ndarray:
    """torch.nn.Conv1d/2d/3d (cross-correlation) over the last n dims, n = weight.ndim - 2.

    x is (N, C_in, *spatial) or unbatched (C_in, *spatial); weight is (C_out, C_in/groups, *kernel).
    im2col: view every window of the padded input, copy the windows into a matrix of
    (C_in/groups * prod(kernel)) rows by (prod(out_spatial)) columns, and multiply by the weight matrix,
    once per group, batched over N. The result comes out channels-first, so no transpose is needed.
    """
    n = weight.ndim - 2
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x[None]
    kernel = weight.shape[2:]
    stride, dilation = _ntuple(stride, n), _ntuple(dilation, n)
    x = _conv_padding(x, padding, kernel, dilation, padding_mode)
    batch, c_in = x.shape[:2]
    c_out = weight.shape[0]
    spatial_axes = tuple(range(2, 2 + n))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    # (N, C, *out, *span), then step by the stride over positions and by the dilation inside each window
    win = _windows(x, span, axis=spatial_axes)
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
              + tuple(slice(None, None, d) for d in dilation)]
    out_size = win.shape[2:2 + n]
    # (N, G, C/G, *out, *kernel) -> (N, G, C/G, *kernel, *out) -> (N, G, C/G*prod(kernel), prod(out)): the copy
    win = win.reshape((batch, groups, c_in // groups) + out_size + kernel)
    order = (0, 1, 2) + tuple(range(3 + n, 3 + 2 * n)) + tuple(range(3, 3 + n))
    cols = win.transpose(order).reshape(batch, groups, -1, int(np.prod(out_size)))
    w = weight.reshape(groups, c_out // groups, -1)  # (G, C_out/G, C/G*prod(kernel))
    y = (w @ cols).reshape((batch, c_out) + out_size)  # (N, G, C_out/G, prod(out)) -> (N, C_out, *out)
    if bias is not None:
        y += bias.reshape((c_out,) + (1,) * n)
    return y[0] if unbatched else y


def conv_transpose(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                   stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                   output_padding: int | tuple[int, ...] = 0, groups: int = 1,
                   dilation: int | tuple[int, ...] = 1) -> np.ndarray:
    """torch.nn.ConvTranspose1d/2d/3d; weight is (C_in, C_out/groups, *kernel).

    The gradient of a convolution: every input pixel scatters a weighted copy of the kernel into the output.
    One matmul gives all the contributions (col2im's columns); a loop over the kernel taps (not pixels) adds
    each tap's contributions into a strided slice of the output, which is then cropped by `padding`.
    """
    n = weight.ndim - 2
    unbatched = x.ndim == n + 1
    if unbatched:
        x = x[None]
    stride, padding = _ntuple(stride, n), _ntuple(padding, n)
    output_padding, dilation = _ntuple(output_padding, n), _ntuple(dilation, n)
    batch, c_in = x.shape[:2]
    in_size = x.shape[2:]
    kernel = weight.shape[2:]
    c_out = weight.shape[1] * groups
    # cols[n, g, (o, *k), i] = sum_c w[g, c, (o, *k)] x[n, g, c, i]
    xg = x.reshape(batch, groups, c_in // groups, -1)
    wg = weight.reshape(groups, c_in // groups, -1)
    cols = (wg.transpose(0, 2, 1) @ xg).reshape((batch, c_out) + kernel + in_size)
    out_size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                     for i, s, p, d, k, op in zip(in_size, stride, padding, dilation, kernel, output_padding))
    # The uncropped result; output_padding may reach past it, where only the bias lands.
    full = tuple(max((i - 1) * s + d * (k - 1) + 1, p + o)
                 for i, s, d, k, p, o in zip(in_size, stride, dilation, kernel, padding, out_size))
    y = np.zeros((batch, c_out) + full, dtype=np.result_type(x, weight))
    for tap in np.ndindex(*kernel):
        dst = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, d, i, s in zip(tap, dilation, in_size, stride))
        y[(slice(None), slice(None)) + dst] += cols[(slice(None), slice(None)) + tap]
    y = y[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(padding, out_size))]
    if bias is not None:
        y = y + bias.reshape((c_out,) + (1,) * n)
    y = np.ascontiguousarray(y)
    return y[0] if unbatched else y


# -- pooling ---------------------------------------------------------------------------------------------------
def _pool_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape: with ceil_mode the last window must start inside the input or left pad."""
    span = d * (k - 1) + 1
    out = -(-(size + 2 * p - span) // s) + 1 if ceil_mode else (size + 2 * p - span) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_axis(x: np.ndarray, axis: int, k: int, s: int, p: int, d: int, out: int, reduce: str,
               fill: float) -> np.ndarray:
    """1-D pooling along one axis into `out` windows: pad with `fill`, then combine the k taps.

    Tap t of window i reads x[i*s + t*d]: one strided slice per tap, folded with np.maximum or np.add.
    That is k elementwise passes, much faster in NumPy than reducing a window axis of a strided view.
    """
    size = x.shape[axis]
    needed = (out - 1) * s + d * (k - 1) + 1  # the padded length the windows cover
    right = needed - size - p  # ceil_mode may reach past the right pad; floor mode may leave a tail unused
    if p or right > 0:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (p, max(right, 0))
        x = np.pad(x, widths, constant_values=fill)
    lead = (slice(None),) * axis
    y = x[lead + (slice(0, (out - 1) * s + 1, s),)].copy()
    combine = np.maximum if reduce == "max" else np.add
    for t in range(1, k):
        combine(y, x[lead + (slice(t * d, t * d + (out - 1) * s + 1, s),)], out=y)
    return y


def max_pool(x: np.ndarray, kernel_size: tuple[int, ...], stride: tuple[int, ...] | None = None,
             padding: int | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
             ceil_mode: bool = False) -> np.ndarray:
    """torch.nn.MaxPool1d/2d over the last n = len(kernel_size) dims.

    A max over a box is the max over each axis in turn, so n 1-D passes replace one n-D window
    (k + k reads per output instead of k * k). The padding is -inf, so it never wins.
    """
    n = len(kernel_size)
    stride = kernel_size if stride is None else stride
    padding, dilation = _ntuple(padding, n), _ntuple(dilation, n)
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    for i, axis in enumerate(range(x.ndim - n, x.ndim)):
        k, s, p, d = kernel_size[i], stride[i], padding[i], dilation[i]
        out = _pool_size(x.shape[axis], k, s, p, d, ceil_mode)
        x = _pool_axis(x, axis, k, s, p, d, out, "max", fill)
    return x


def avg_pool(x: np.ndarray, kernel_size: tuple[int, ...], stride: tuple[int, ...] | None = None,
             padding: int | tuple[int, ...] = 0, ceil_mode: bool = False,
             count_include_pad: bool = True) -> np.ndarray:
    """torch.nn.AvgPool1d/2d over the last n = len(kernel_size) dims: window sums along each axis, over a count.

    torch's divisor: with count_include_pad the window clipped to the padded input (a window that ceil_mode
    pushes past the right pad counts only up to it), otherwise the number of real elements under it.
    Both are products of per-axis counts, which come from summing a 1-D mask with the same windows.
    """
    n = len(kernel_size)
    stride = kernel_size if stride is None else stride
    padding = _ntuple(padding, n)
    divisor: np.ndarray | int = 1
    for i, axis in enumerate(range(x.ndim - n, x.ndim)):
        k, s, p, size = kernel_size[i], stride[i], padding[i], x.shape[axis]
        out = _pool_size(size, k, s, p, 1, ceil_mode)
        x = _pool_axis(x, axis, k, s, p, 1, out, "sum", 0)
        mask = np.zeros((out - 1) * s + k, dtype=x.dtype)  # in padded coordinates
        if count_include_pad:
            mask[:size + 2 * p] = 1
        else:
            mask[p:p + size] = 1
        count = _windows(mask, k)[::s].sum(axis=-1)
        divisor = divisor * count.reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return x / divisor


def _adaptive_axis(x: np.ndarray, axis: int, out: int | None, reduce: str) -> np.ndarray:
    """Adaptive pooling along one axis: window i covers [floor(i*L/out), ceil((i+1)*L/out))."""
    size = x.shape[axis]
    if out is None or out == size:
        return x
    if size % out == 0:  # equal windows: a reshape and a reduction
        x = x.reshape(x.shape[:axis] + (out, size // out) + x.shape[axis + 1:])
        return x.max(axis=axis + 1) if reduce == "max" else x.mean(axis=axis + 1)
    i = np.arange(out)
    start = (i * size) // out
    end = -(-((i + 1) * size) // out)
    length = int((end - start).max())
    idx = start[:, None] + np.arange(length)  # (out, length); short windows repeat their last element
    win = np.take(x, np.minimum(idx, end[:, None] - 1), axis=axis)  # (..., out, length, ...)
    if reduce == "max":
        return win.max(axis=axis + 1)
    trailing = (1,) * (x.ndim - axis - 1)
    valid = (idx < end[:, None]).reshape((out, length) + trailing)
    count = (end - start).reshape((out,) + trailing).astype(x.dtype)
    return np.where(valid, win, 0).sum(axis=axis + 1) / count


def adaptive_avg_pool(x: np.ndarray, output_size: tuple[int | None, ...]) -> np.ndarray:
    """torch.nn.AdaptiveAvgPool1d/2d over the last len(output_size) dims; `None` keeps a dim.

    An average over a box of windows is the average along each axis in turn (separable, like pooling).
    """
    n = len(output_size)
    for axis, out in zip(range(x.ndim - n, x.ndim), output_size):
        x = _adaptive_axis(x, axis, out, "avg")
    return x


def adaptive_max_pool(x: np.ndarray, output_size: tuple[int | None, ...]) -> np.ndarray:
    """torch.nn.AdaptiveMaxPool1d/2d over the last len(output_size) dims; `None` keeps a dim."""
    n = len(output_size)
    for axis, out in zip(range(x.ndim - n, x.ndim), output_size):
        x = _adaptive_axis(x, axis, out, "max")
    return x


# -- normalisation ---------------------------------------------------------------------------------------------
def batch_norm(x: np.ndarray, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: np.ndarray | None = None, bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.BatchNorm1d/2d in eval mode over channel dim 1, folded into one scale and shift per channel.

    Without running statistics (track_running_stats=False) torch normalises with the batch's own mean and
    biased variance even in eval mode, and so does this.
    """
    if running_mean is None or running_var is None:
        axes = (0,) + tuple(range(2, x.ndim))
        running_mean, running_var = x.mean(axis=axes), x.var(axis=axes)
    scale = 1 / np.sqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    shape = (-1,) + (1,) * (x.ndim - 2)
    return x * scale.reshape(shape) + shift.reshape(shape)


def layer_norm(x: np.ndarray, normalized_shape: tuple[int, ...], weight: np.ndarray | None = None,
               bias: np.ndarray | None = None, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.LayerNorm: normalise over the trailing dims with the biased variance."""
    axes = tuple(range(-len(normalized_shape), 0))
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    y = centred / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def dropout(x: np.ndarray, p: float = 0.5) -> np.ndarray:
    """torch.nn.Dropout at inference: the identity."""
    return x


# -- activations -----------------------------------------------------------------------------------------------
def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    return np.where(x > 0, x, x * negative_slope)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    # expm1 of the non-positive part only: no overflow warnings from the branch np.where discards
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp of -|x| only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def silu(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def softplus(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """torch.nn.Softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    bx = x * beta
    return np.where(bx > threshold, x, np.log1p(np.exp(np.minimum(bx, threshold))) / beta)


def _erf_taylor_table(step: float = 0.25, top: float = 6.0, terms: int = 24) -> np.ndarray:
    """Taylor coefficients of erf around the centres 0, step, 2 step, ..., top: row n holds erf^(n)(c) / n!.

    erf'(x) = 2/sqrt(pi) exp(-x^2), so for n >= 1 erf^(n)(x) = 2/sqrt(pi) (-1)^(n-1) H_(n-1)(x) exp(-x^2),
    with the physicists' Hermite polynomials H_0 = 1, H_1 = 2x, H_(m+1) = 2x H_m - 2m H_(m-1).
    erf at each centre is the previous centre's series summed one step on (erf(0) = 0): no magic numbers.
    """
    c = np.arange(round(top / step) + 1) * step
    coef = np.zeros((terms, c.size))
    h_prev, h = np.zeros_like(c), np.ones_like(c)
    g = 2 / np.sqrt(np.pi) * np.exp(-c * c)
    factorial = 1.0
    for n in range(1, terms):
        factorial *= n
        coef[n] = (-1) ** (n - 1) * g * h / factorial
        h_prev, h = h, 2 * c * h - 2 * (n - 1) * h_prev
    for k in range(1, c.size):
        coef[0, k] = np.polyval(coef[::-1, k - 1], step)
    return coef


_ERF_STEP = 0.125
_ERF_TOP = 6.0  # erf(6) rounds to 1 in double precision
_ERF_COEF = _erf_taylor_table(_ERF_STEP, _ERF_TOP)
_ERF_COEF32 = _ERF_COEF.astype(np.float32)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (NumPy has none, and netc does not depend on scipy); keeps float32 float32.

    A Taylor series around the nearest of the centres k/8 (|distance| <= 1/16) by Horner's rule: 12 terms in
    float64 (error below 3e-16), or 7 terms in float32 for float32 inputs (error below one float32 ulp).
    NaN stays NaN (its gathers are clipped, and the arithmetic carries it through).
    """
    x = np.asarray(x)
    single = x.dtype == np.float32
    work, table, terms = (np.float32, _ERF_COEF32, 7) if single else (np.float64, _ERF_COEF, 12)
    with np.errstate(invalid="ignore"):
        a = np.minimum(np.abs(x.astype(work, copy=False)), work(_ERF_TOP))
        k = np.rint(a * work(1 / _ERF_STEP)).astype(np.intp)
        d = a - k.astype(work) * work(_ERF_STEP)
        y = np.array(np.take(table[terms - 1], k, mode="clip"))  # an array even for a 0-d x (y[...] = 1 below)
        for row in table[terms - 2::-1]:
            y *= d
            y += np.take(row, k, mode="clip")
    y[a >= _ERF_TOP] = 1
    return np.copysign(y, x).astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """torch.nn.GELU: x * Phi(x) with the exact erf, or torch's tanh formula with approximate='tanh'.

    Python-float constants keep float32 inputs in float32 (NumPy scalars would promote them to float64).
    """
    if approximate == "tanh":
        inner = (2 / np.pi) ** 0.5 * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + np.tanh(inner))
    return x * (0.5 + 0.5 * erf(x * 0.5 ** 0.5))


def softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """exp(x - max) / sum: subtracting the max keeps exp from overflowing."""
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def safe_softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the keys, with 0 for a query whose keys are all masked: torch's SDPA (`_safe_softmax`)."""
    masked = np.isneginf(scores).all(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return np.where(masked, 0.0, softmax(scores, -1)).astype(scores.dtype, copy=False)


def log_softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """x - max - log(sum(exp(x - max))): never takes the log of a rounded-to-zero probability."""
    z = x - x.max(axis=dim, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))


# -- attention ------------------------------------------------------------------------------------------------
def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, attn_mask: np.ndarray | None = None,
              key_padding_mask: np.ndarray | None = None, causal: bool = False,
              scale: float | None = None) -> np.ndarray:
    """F.scaled_dot_product_attention: softmax(q k^T * scale + mask) v over (..., L, E), (..., S, E), (..., S, Ev).

    attn_mask: bool (true = may attend) or float (added); key_padding_mask: bool (N, S), true = a padding key
    nobody attends to; causal: query i sees keys 0..i. A query whose keys are all masked gets 0, as in torch.
    """
    scale = q.shape[-1] ** -0.5 if scale is None else scale  # a Python float keeps float32 float32
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    if causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
    if attn_mask is not None:
        scores = np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == bool else scores + attn_mask
    if key_padding_mask is not None:
        if key_padding_mask.ndim == 2:  # (N, S) -> (N, 1, ..., 1, S): the same for every head and query
            key_padding_mask = key_padding_mask.reshape(
                key_padding_mask.shape[:1] + (1,) * (scores.ndim - 2) + key_padding_mask.shape[1:])
        scores = np.where(key_padding_mask, -np.inf, scores)
    return safe_softmax(scores) @ v


def multihead_attention(query: np.ndarray, key: np.ndarray, value: np.ndarray, num_heads: int,
                        in_proj_weight: np.ndarray | None, in_proj_bias: np.ndarray | None,
                        out_proj_weight: np.ndarray, out_proj_bias: np.ndarray | None,
                        q_proj_weight: np.ndarray | None = None, k_proj_weight: np.ndarray | None = None,
                        v_proj_weight: np.ndarray | None = None, attn_mask: np.ndarray | None = None,
                        key_padding_mask: np.ndarray | None = None, causal: bool = False, batch_first: bool = False,
                        need_weights: bool = False,
                        average_attn_weights: bool = True) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """nn.MultiheadAttention in eval mode: project, split into heads, attend, merge, project.

    Inputs are (L, N, E), (N, L, E) with batch_first, or unbatched (L, E). Masks follow netc's convention
    for both attention ops: a bool attn_mask is true where a query may attend (torch's module uses the
    opposite), a float one is added; key_padding_mask (N, S) is true (or -inf) for keys to ignore.
    Returns the output, and the attention weights (averaged over heads unless told not to) if asked.
    """
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        key_padding_mask = None if key_padding_mask is None else key_padding_mask[None]
    elif batch_first:
        query, key, value = (np.swapaxes(t, 0, 1) for t in (query, key, value))
    length, batch, embed = query.shape
    source = key.shape[0]
    head = embed // num_heads
    if in_proj_weight is not None and query is key and key is value:  # self-attention: one matmul for q, k, v
        projected = np.split(linear(query, in_proj_weight, in_proj_bias), 3, axis=-1)
    else:
        if in_proj_weight is not None:
            q_proj_weight, k_proj_weight, v_proj_weight = np.split(in_proj_weight, 3)
        biases = np.split(in_proj_bias, 3) if in_proj_bias is not None else [None, None, None]
        projected = [linear(t, w, b) for t, w, b in zip((query, key, value),
                                                        (q_proj_weight, k_proj_weight, v_proj_weight), biases)]
    # (L, N, E) -> (N, heads, L, head_dim)
    q, k, v = (t.reshape(t.shape[0], batch, num_heads, head).transpose(1, 2, 0, 3) for t in projected)
    scores = (q @ np.swapaxes(k, -1, -2)) * head ** -0.5  # (N, heads, L, S)
    if causal:
        scores = np.where(np.tril(np.ones((length, source), dtype=bool)), scores, -np.inf)
    if attn_mask is not None:
        if attn_mask.ndim == 3:  # (N * heads, L, S)
            attn_mask = attn_mask.reshape(batch, num_heads, length, source)
        scores = np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == bool else scores + attn_mask
    if key_padding_mask is not None:
        pad = key_padding_mask[:, None, None, :]
        scores = np.where(pad, -np.inf, scores) if pad.dtype == bool else scores + pad
    # torch returns the weights through a plain softmax (NaN for a fully masked query), and attends through
    # SDPA (0 for it) when they are not asked for.
    weights = softmax(scores, -1) if need_weights else safe_softmax(scores)
    out = (weights @ v).transpose(2, 0, 1, 3).reshape(length, batch, embed)
    out = linear(out, out_proj_weight, out_proj_bias)
    if unbatched:
        out, weights = out[:, 0], weights[0]
    elif batch_first:
        out = np.swapaxes(out, 0, 1)
    if not need_weights:
        return out
    return out, (weights.mean(axis=-3) if average_attn_weights else weights)


def positional_encoding(x: np.ndarray, table: np.ndarray, dim: int) -> np.ndarray:
    """x + table[:L], with L the size of x's sequence dim `dim` and the table's features on the last dim."""
    steps = x.shape[dim]
    shape = [1] * x.ndim
    shape[dim], shape[-1] = steps, table.shape[-1]
    return x + table[:steps].reshape(shape)


# -- recurrent layers ------------------------------------------------------------------------------------------
def rnn_weights(params: dict[str, np.ndarray], prefix: str, num_layers: int,
                bidirectional: bool = False) -> list[tuple[np.ndarray | None, ...]]:
    """torch's recurrent parameters by name: (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr) for each
    layer and direction, in torch's order (l0, l0_reverse, l1, ...); absent ones are None."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    directions = ("", "_reverse") if bidirectional else ("",)
    return [tuple(params.get(f"{prefix}{name}_l{layer}{sfx}") for name in names)
            for layer in range(num_layers) for sfx in directions]


def rnn(x: np.ndarray, weights: list[tuple[np.ndarray | None, ...]], h0: np.ndarray | None = None,
        c0: np.ndarray | None = None, mode: str = "LSTM", num_layers: int = 1, bidirectional: bool = False,
        batch_first: bool = False, nonlinearity: str = "tanh") -> tuple[np.ndarray, ...]:
    """nn.RNN / nn.GRU / nn.LSTM in eval mode (no dropout between layers); returns (out, h_n[, c_n]).

    The input projection x W_ih^T + b_ih (+ b_hh where it simply adds) is one matmul over all steps; only
    the recurrence loops, one step at a time, as it must. Gate order is torch's: LSTM i, f, g, o; GRU r, z,
    n, where the reset gate multiplies (W_hn h + b_hn), not h. With proj_size, LSTM projects h by weight_hr.
    """
    unbatched = x.ndim == 2
    if unbatched:
        x = x[:, None]
        h0 = None if h0 is None else h0[:, None]
        c0 = None if c0 is None else c0[:, None]
    elif batch_first:
        x = np.swapaxes(x, 0, 1)  # (L, N, H_in)
    steps, batch = x.shape[:2]
    directions = 2 if bidirectional else 1
    h_n, c_n = [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            i = layer * directions + direction
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[i]
            hidden = w_hh.shape[0] // {"LSTM": 4, "GRU": 3}.get(mode, 1)
            xw = linear(x, w_ih, b_ih)  # (L, N, gates * H): every step's input projection at once
            b_hn = None
            if b_hh is not None and mode == "GRU":  # b_hr, b_hz add; b_hn sits inside r * (W_hn h + b_hn)
                xw[..., :2 * hidden] += b_hh[:2 * hidden]
                b_hn = b_hh[2 * hidden:]
            elif b_hh is not None:
                xw += b_hh
            w_hh_t = w_hh.T
            h = np.zeros((batch, w_hh.shape[1]), dtype=xw.dtype) if h0 is None else h0[i]
            c = None
            if mode == "LSTM":
                c = np.zeros((batch, hidden), dtype=xw.dtype) if c0 is None else c0[i]
            out = np.empty((steps, batch, w_hh.shape[1]), dtype=xw.dtype)
            for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                hw = h @ w_hh_t
                if mode == "LSTM":
                    gates = xw[t] + hw
                    s = sigmoid(gates)  # i, f and o (and g's slot, unused: one call beats three)
                    c = s[:, hidden:2 * hidden] * c + s[:, :hidden] * np.tanh(gates[:, 2 * hidden:3 * hidden])
                    h = s[:, 3 * hidden:] * np.tanh(c)
                    if w_hr is not None:
                        h = h @ w_hr.T
                elif mode == "GRU":
                    rz = sigmoid(xw[t, :, :2 * hidden] + hw[:, :2 * hidden])
                    hn = hw[:, 2 * hidden:] if b_hn is None else hw[:, 2 * hidden:] + b_hn
                    n = np.tanh(xw[t, :, 2 * hidden:] + rz[:, :hidden] * hn)
                    h = n + rz[:, hidden:] * (h - n)  # (1 - z) n + z h
                else:
                    h = np.tanh(xw[t] + hw) if nonlinearity == "tanh" else np.maximum(xw[t] + hw, 0)
                out[t] = h
            outputs.append(out)
            h_n.append(h)
            c_n.append(c)
        x = outputs[0] if directions == 1 else np.concatenate(outputs, axis=-1)
    out, hidden_state = x, np.stack(h_n)
    cell = np.stack(c_n) if mode == "LSTM" else None
    if unbatched:
        out, hidden_state = out[:, 0], hidden_state[:, 0]
        cell = None if cell is None else cell[:, 0]
    elif batch_first:
        out = np.swapaxes(out, 0, 1)
    return (out, hidden_state) if cell is None else (out, hidden_state, cell)


# -- resampling ------------------------------------------------------------------------------------------------
def _nearest_source(n_in: int, n_out: int, scale_factor: float | None, rank: int,
                    dtype: np.dtype) -> np.ndarray:
    """The input index each output index copies, with torch's CPU arithmetic, floor(i * scale).

    torch computes it in float32, except for float64 tensors of rank 3 and 5, which floor a float64
    product rounded to float32; at exact multiples the two can differ by one, so netc follows torch.
    Equal sizes and exact doubling are special-cased to plain integer indices, as torch does.
    """
    i = np.arange(n_out)
    if n_out == n_in:
        return i
    if n_out == 2 * n_in:
        return i >> 1
    if dtype == np.float64 and rank in (3, 5):
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.floor((i * scale).astype(np.float32))
    else:
        scale32 = np.float32(1.0 / scale_factor) if scale_factor else np.float32(n_in) / np.float32(n_out)
        src = np.floor(i.astype(np.float32) * scale32)
    return np.minimum(src.astype(np.intp), n_in - 1)


def _linear_source(n_in: int, n_out: int, scale_factor: float | None, align_corners: bool,
                   dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch's area_pixel_compute_source_index: left and right neighbours and the weight of the right one."""
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        src = np.arange(n_out, dtype=dtype) * dtype.type(scale)
    else:
        scale = 1.0 / scale_factor if scale_factor else n_in / n_out
        src = np.maximum((np.arange(n_out, dtype=dtype) + dtype.type(0.5)) * dtype.type(scale) - dtype.type(0.5), 0)
    left = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    right = left + (left < n_in - 1)
    weight = np.clip(src - left, 0, 1).astype(dtype)
    return left, right, weight


def interpolate(x: np.ndarray, size: tuple[int, ...], scale_factor: tuple[float, ...] | None = None,
                mode: str = "nearest", align_corners: bool | None = None) -> np.ndarray:
    """F.interpolate / nn.Upsample to `size` over the spatial dims (all dims after N, C).

    `scale_factor`, when the user gave one, sets the sampling step (1 / scale_factor), as in torch.
    Both nearest and (bi/tri)linear resampling are separable: one pass per spatial axis.
    """
    n = len(size)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    for k, axis in enumerate(range(x.ndim - n, x.ndim)):
        factor = scale_factor[k] if scale_factor is not None else None
        n_in = x.shape[axis]
        if mode == "nearest":
            x = np.take(x, _nearest_source(n_in, size[k], factor, x.ndim, dtype), axis=axis)
        else:
            left, right, weight = _linear_source(n_in, size[k], factor, bool(align_corners), dtype)
            weight = weight.reshape((-1,) + (1,) * (x.ndim - axis - 1))
            x = np.take(x, left, axis=axis) * (1 - weight) + np.take(x, right, axis=axis) * weight
    return x


# -- tensor plumbing -------------------------------------------------------------------------------------------
def flatten(x: np.ndarray, start_dim: int = 0, end_dim: int = -1) -> np.ndarray:
    """torch.flatten: merge dims start_dim..end_dim (a 0-d tensor becomes shape (1,))."""
    if x.ndim == 0:
        return x.reshape(1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


def split(x: np.ndarray, sizes: tuple[int, ...] | list[int], dim: int = 0) -> list[np.ndarray]:
    """torch.split with a list of section sizes along `dim`."""
    return np.split(x, np.cumsum(sizes)[:-1], axis=dim)


def chunk(x: np.ndarray, chunks: int, dim: int = 0) -> list[np.ndarray]:
    """torch.chunk: pieces of ceil(n / chunks) along `dim`, the last smaller (so maybe fewer than `chunks`)."""
    n = x.shape[dim]
    size = max(-(-n // chunks), 1)
    return np.split(x, list(range(size, n, size)), axis=dim)


def index(x: np.ndarray, items: tuple[object, ...]) -> np.ndarray:
    """x[items] with ints, slices and None: NumPy's basic indexing is torch's for these."""
    return x[tuple(items)]


def arange(start: float, end: float, step: float = 1, dtype: object = np.int64) -> np.ndarray:
    """torch.arange: start, start + step, ... below end. For int64 torch first casts the bounds to it
    (arange(0, 2.5, dtype=int64) is [0, 1]); numpy, and torch for other dtypes, count from the float bounds."""
    if np.dtype(dtype) == np.int64:  # type: ignore[arg-type]
        start, end, step = int(start), int(end), int(step)
    return np.arange(start, end, step, dtype=dtype)


# -- the table -------------------------------------------------------------------------------------------------
# Canonical op name -> the function computing it. A new op in netc.dsl.ops needs an entry here and an emitter
# in numpy_ref.EMITTERS; tests/test_numpy_completeness.py fails until both exist.
KERNELS: dict[str, Callable[..., Any]] = {
    "Linear": linear,
    "Embedding": embedding,
    "Conv1d": conv,
    "Conv2d": conv,
    "Conv3d": conv,
    "ConvTranspose1d": conv_transpose,
    "ConvTranspose2d": conv_transpose,
    "ConvTranspose3d": conv_transpose,
    "MaxPool1d": max_pool,
    "MaxPool2d": max_pool,
    "AvgPool1d": avg_pool,
    "AvgPool2d": avg_pool,
    "AdaptiveAvgPool1d": adaptive_avg_pool,
    "AdaptiveAvgPool2d": adaptive_avg_pool,
    "AdaptiveMaxPool1d": adaptive_max_pool,
    "AdaptiveMaxPool2d": adaptive_max_pool,
    "BatchNorm1d": batch_norm,
    "BatchNorm2d": batch_norm,
    "LayerNorm": layer_norm,
    "Dropout": dropout,
    "Flatten": flatten,
    "flatten": flatten,
    "view": np.reshape,
    "transpose": np.swapaxes,
    "permute": np.transpose,
    "concat": np.concatenate,
    "split": split,
    "chunk": chunk,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "matmul": np.matmul,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "silu": silu,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softplus": softplus,
    "exp": np.exp,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "sum": np.sum,
    "mean": np.mean,
    "max": np.amax,
    "min": np.amin,
    "argmax": np.argmax,
    "index": index,
    "arange": arange,
    "scaled_dot_product_attention": attention,
    "MultiheadAttention": multihead_attention,
    "SinusoidalPositionalEncoding": positional_encoding,
    "LearnedPositionalEncoding": positional_encoding,
    "RNN": rnn,
    "GRU": rnn,
    "LSTM": rnn,
    "Upsample": interpolate,
    "interpolate": interpolate,
}

# The later op families' kernels (numpy_kernels_more builds on the functions above).
from .numpy_kernels_more import KERNELS as _MORE_KERNELS  # noqa: E402

KERNELS.update(_MORE_KERNELS)
