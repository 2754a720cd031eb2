"""Helpers several kernel families share: window views (the im2col and pooling windows) and `_ntuple`.

Copied into a generated file only when a kernel that uses them is: `conv` and the pooling kernels do.
"""
from __future__ import annotations

import numpy as np

_windows = np.lib.stride_tricks.sliding_window_view


def _ntuple(v: int | tuple[int, ...] | list[int], n: int) -> tuple[int, ...]:
    """`3` -> `(3, 3)` for n = 2; tuples pass through."""
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * n
