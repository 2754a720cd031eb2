"""Pooling: max and average pooling over windows, and their adaptive forms, with torch's output sizes.

Pooling is separable, so each kernel pools one spatial axis at a time: a window's taps are strided slices
folded together, and adaptive windows are gathered and reduced. The only loops run over the spatial axes and
a window's taps, a handful of iterations each; none over pixels or channels.
"""
from __future__ import annotations

import numpy as np

from .shared import _ntuple, _windows


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
