"""Attention and positional encoding: scaled dot-product attention, nn.MultiheadAttention in eval mode, and
adding a positional table (sinusoidal or learned) to a sequence."""
from __future__ import annotations

import numpy as np

from .activations import safe_softmax, softmax
from .dense import linear


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
