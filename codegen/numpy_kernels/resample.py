"""Resampling: torch's interpolate / nn.Upsample (nearest, and linear, bilinear or trilinear), separable, with
torch's CPU index arithmetic, so nearest sampling picks the same source pixels torch does."""
from __future__ import annotations

import numpy as np


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
