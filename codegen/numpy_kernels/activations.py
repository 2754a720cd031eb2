"""Element-wise activations and the softmax family, with torch's formulas and float32 kept float32.

NumPy has no erf and netc does not depend on scipy, so `erf` (which the exact GELU needs) is a Taylor series
around fixed centres; its coefficient table is computed from the Hermite recurrence when the module (or the
generated file that copies it) loads.
"""
from __future__ import annotations

import numpy as np


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


_ERF_STEP = 0.125
_ERF_TOP = 6.0  # erf(6) rounds to 1 in double precision
_ERF_COEF = _erf_taylor_table(_ERF_STEP, _ERF_TOP)
_ERF_COEF32 = _ERF_COEF.astype(np.float32)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (NumPy has none, and netc does not depend on scipy); keeps float32 float32.

    A Taylor series around the nearest of the centres k/8 (|distance| <= 1/16) by Horner's rule: 12 terms in
    float64 (error below 3e-16), or 7 terms in float32 for float32 inputs (error below one float32 ulp).
    NaN stays NaN (its gathers are clipped, and the arithmetic carries it through).
    """
    x = np.asarray(x)
    single = x.dtype == np.float32
    work, table, terms = (np.float32, _ERF_COEF32, 7) if single else (np.float64, _ERF_COEF, 12)
    with np.errstate(invalid="ignore"):
        a = np.minimum(np.abs(x.astype(work, copy=False)), work(_ERF_TOP))
        k = np.rint(a * work(1 / _ERF_STEP)).astype(np.intp)
        d = a - k.astype(work) * work(_ERF_STEP)
        y = np.array(np.take(table[terms - 1], k, mode="clip"))  # an array even for a 0-d x (y[...] = 1 below)
        for row in table[terms - 2::-1]:
            y *= d
            y += np.take(row, k, mode="clip")
    y[a >= _ERF_TOP] = 1
    return np.copysign(y, x).astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


def gelu(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """torch.nn.GELU: x * Phi(x) with the exact erf, or torch's tanh formula with approximate='tanh'.

    Python-float constants keep float32 inputs in float32 (NumPy scalars would promote them to float64).
    """
    if approximate == "tanh":
        inner = (2 / np.pi) ** 0.5 * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + np.tanh(inner))
    return x * (0.5 + 0.5 * erf(x * 0.5 ** 0.5))


def softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """exp(x - max) / sum: subtracting the max keeps exp from overflowing."""
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def safe_softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the keys, with 0 for a query whose keys are all masked: torch's SDPA (`_safe_softmax`)."""
    masked = np.isneginf(scores).all(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return np.where(masked, 0.0, softmax(scores, -1)).astype(scores.dtype, copy=False)


def log_softmax(x: np.ndarray, dim: int = -1) -> np.ndarray:
    """x - max - log(sum(exp(x - max))): never takes the log of a rounded-to-zero probability."""
    z = x - x.max(axis=dim, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
