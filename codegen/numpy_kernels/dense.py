"""Dense layers: torch.nn.Linear and torch.nn.Embedding (a matmul and a row gather)."""
from __future__ import annotations

import numpy as np


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
