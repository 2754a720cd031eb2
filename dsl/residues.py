"""Bindings of a dim's symbols that cover every remainder the dim can leave, for rules that depend on one.

Whether torch's ceil_mode pooling drops its last window depends only on the input size modulo the stride. A
size like `H`, `2*H`, `(H + 1)//2` or `H` with `where H % 4 == 0` leaves a remainder that is periodic in each
symbol: shifting a symbol by `modulus * period` (period = the stride times every floor-division denominator in
the size) shifts the size by a multiple of the stride. One period of each symbol, taken at large values (where
every size is legal), therefore shows every remainder any legal binding gives, and nothing else.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator

from .dims import Dim, FloorDiv, IntLike, subs
from .divisibility import known_modulus

# Beyond this many bindings the caller falls back to its conservative answer.
MAX_BINDINGS = 4096
_START = 1000  # far above any size where a window or kernel would not fit


def _denominators(d: Dim) -> int:
    product = 1
    for mono, _ in d.terms:
        for atom, _power in mono:
            if isinstance(atom, FloorDiv):
                product *= atom.den * _denominators(atom.num)
    return product


def periodic_bindings(d: IntLike, modulus: int) -> Iterator[dict[str, int]] | None:
    """Bindings of the symbols of `d` that show every value of `d mod modulus` legal sizes give (each symbol a
    multiple of what `where ... % m == 0` states), or None when there would be more than MAX_BINDINGS."""
    if isinstance(d, int):
        return iter([{}])
    names = sorted(d.symbols())
    period = modulus * _denominators(d)
    if period ** len(names) > MAX_BINDINGS:
        return None
    ranges = [[known_modulus(n) * (_START + k) for k in range(period)] for n in names]
    return (dict(zip(names, values)) for values in itertools.product(*ranges))


def evaluate(d: IntLike, binding: dict[str, int]) -> int:
    value = subs(d, binding)  # type: ignore[arg-type]
    assert isinstance(value, int), (d, binding)
    return value
