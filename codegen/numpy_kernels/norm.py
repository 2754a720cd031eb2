"""Normalisation and dropout in eval mode: batch norm with its running statistics, layer norm, and dropout
(the identity at inference)."""
from __future__ import annotations

import numpy as np


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
