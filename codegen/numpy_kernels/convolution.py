"""Convolutions, plain and transposed, in 1, 2 and 3 spatial dims, with torch's padding rules.

No Python loops over pixels or channels: a convolution is im2col (a `sliding_window_view`, copied once into
rows) followed by one matmul; a transposed convolution loops only over kernel taps, a handful of iterations.
"""
from __future__ import annotations

import numpy as np

from .shared import _ntuple, _windows


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
