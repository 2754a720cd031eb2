"""Tensor plumbing: flatten, split, chunk, indexing and arange with torch's semantics where NumPy's differ
(the rest of the shape ops are plain NumPy functions in the `KERNELS` table)."""
from __future__ import annotations

import numpy as np


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
