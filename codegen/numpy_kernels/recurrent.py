"""Recurrent layers: nn.RNN, nn.GRU and nn.LSTM (stacked, bidirectional, batch-first), and the reading of
their weights from a state dict in torch's naming."""
from __future__ import annotations

import numpy as np

from .activations import sigmoid
from .dense import linear


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
