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
    """torch.nn.Linear: y = x W^T + b over the last dim."""
    y = x @ weight.T
    return y if bias is None else y + bias


def embedding(indices: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """torch.nn.Embedding: row lookup (padding_idx only matters for gradients)."""
    return weight[indices]


# -- convolutions ----------------------------------------------------------------------------------------------
def _conv_padding(x: np.ndarray, padding: int | tuple[int, ...] | str, kernel: tuple[int, ...], dilation: tuple[int, ...],
                  padding_mode: str) -> np.ndarray:
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
    """1-D pooling along one axis into `out` windows: pad with `fill`, view the windows, reduce each."""
    size = x.shape[axis]
    needed = (out - 1) * s + d * (k - 1) + 1  # the padded length the windows cover
    right = needed - size - p  # ceil_mode may reach past the right pad; floor mode may leave a tail unused
    if p or right > 0:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (p, max(right, 0))
        x = np.pad(x, widths, constant_values=fill)
    x = x[(slice(None),) * axis + (slice(0, needed),)]
    win = _windows(x, d * (k - 1) + 1, axis=axis)  # the window becomes the last axis
    win = win[(slice(None),) * axis + (slice(None, None, s),) + (slice(None),) * (x.ndim - axis - 1)
              + (slice(None, None, d),)]
    return win.max(axis=-1) if reduce == "max" else win.sum(axis=-1)


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


_ERF_STEP = 0.25
_ERF_TOP = 6.0  # erf(6) rounds to 1 in double precision
_ERF_COEF = _erf_taylor_table(_ERF_STEP, _ERF_TOP)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, accurate to a few 1e-16 (NumPy has none, and netc does not depend on scipy).

    A Taylor series around the nearest of the centres k/4 (|distance| <= 1/8), evaluated in float64 by
    Horner's rule; float32 inputs get a float32 result.
    """
    x = np.asarray(x)
    x64 = x.astype(np.float64)
    a = np.abs(x64)
    a = np.where(np.isnan(a), 0.0, np.minimum(a, _ERF_TOP))
    k = np.rint(a / _ERF_STEP).astype(np.intp)
    d = a - k * _ERF_STEP
    y = np.take(_ERF_COEF[-1], k)
    for row in _ERF_COEF[-2::-1]:
        y = y * d + np.take(row, k)
    y = np.where(a >= _ERF_TOP, 1.0, y)
    return (np.sign(x64) * y).astype(x.dtype if x.dtype.kind == "f" else np.float64)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """torch.nn.GELU: x * Phi(x) with the exact erf, or torch's tanh formula with approximate='tanh'."""
    if approximate == "tanh":
        inner = (2 / np.pi) ** 0.5 * (x + 0.044715 * x * x * x)  # Python floats keep float32 float32
        return 0.5 * x * (1 + np.tanh(inner))
    x64 = x.astype(np.float64)
    return (0.5 * x64 * (1 + erf(x64 * np.sqrt(0.5)))).astype(x.dtype)


def softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """exp(x - max) / sum: subtracting the max keeps exp from overflowing."""
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """x - max - log(sum(exp(x - max))): never takes the log of a rounded-to-zero probability."""
    z = x - x.max(axis=dim, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))


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
}
