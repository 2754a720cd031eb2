"""Divisibility facts about symbolic dims, and the requirements a network imposes on them.

A U-Net pools H four times and upsamples it back: the skip connection at the deepest level concatenates
`2*(H//16)` with `H//8`. Those are equal for some H and not for others, so plain polynomial comparison can
only say "can't decide". Both become equal once H is a multiple of 16 (write H = 16*K: 2*K and 2*K).

This module keeps, while one network is elaborated:

* the *facts*: `where H % 16 == 0` on an input, or a requirement already reported, as {symbol: modulus};
  :func:`dims.dims_equal` consults them (through :func:`decide`) before answering "can't decide";
* a *recorder* of the comparisons left undecided, so the elaborator can look, after an op's shape rule ran,
  for the smallest modulus that would settle them (:func:`requirement`) and report it at the input that
  binds the symbol, with the `where` clause that states it.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .dims import MINIMA, Dim, FloorDiv, IntLike, Sym, lower_bound, subs

_FACTS: ContextVar[dict[str, int] | None] = ContextVar("netc_divisibility_facts", default=None)
_EQUAL: ContextVar[list[Dim] | None] = ContextVar("netc_equal_dims", default=None)  # differences known to be 0
_UNDECIDED: ContextVar[list[tuple[IntLike, IntLike]] | None] = ContextVar("netc_undecided_dims", default=None)


@contextmanager
def facts_scope() -> Iterator[dict[str, int]]:
    """A fresh set of facts for one network; the dict is live (add_fact writes to it)."""
    facts: dict[str, int] = {}
    token = _FACTS.set(facts)
    equal_token = _EQUAL.set([])
    minima_token = MINIMA.set({})
    try:
        yield facts
    finally:
        _FACTS.reset(token)
        _EQUAL.reset(equal_token)
        MINIMA.reset(minima_token)


def add_equal(a: IntLike, b: IntLike) -> None:
    """`where a == b` on an input: later comparisons may use it (the generated guards check it)."""
    equal = _EQUAL.get()
    diff = a - b  # type: ignore[operator]
    if equal is not None and isinstance(diff, Dim):
        equal.append(diff)


def _by_equalities(diff: Dim) -> bool:
    """Is `diff` zero given the stated equalities? Each is solved for a symbol of coefficient +-1 and
    substituted, in turn."""
    d: IntLike = diff
    for fact in _EQUAL.get() or ():
        for mono, c in fact.terms:
            if abs(c) == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], Sym):
                name = mono[0][0].name
                solved = Dim.sym(name) - c * fact  # s = s - c*(c*s + rest) = -c*rest
                d = subs(d, {name: solved})
                break
        if isinstance(d, int):
            break
    return isinstance(d, int) and d == 0


def add_fact(symbol: str, modulus: int) -> None:
    facts = _FACTS.get()
    if facts is not None and modulus > 1:
        facts[symbol] = math.lcm(facts.get(symbol, 1), modulus)


def known_modulus(symbol: str) -> int:
    """The largest modulus `symbol` is known to be a multiple of (1 when nothing is known)."""
    facts = _FACTS.get()
    return (facts or {}).get(symbol, 1)


@contextmanager
def recording() -> Iterator[list[tuple[IntLike, IntLike]]]:
    """Collect the (a, b) pairs that `dims_equal` could not decide inside this block."""
    pairs: list[tuple[IntLike, IntLike]] = []
    token = _UNDECIDED.set(pairs)
    try:
        yield pairs
    finally:
        _UNDECIDED.reset(token)


def _multiple(symbol: str, modulus: int) -> Dim:
    # H = 16*H': the primed name cannot clash with a user's symbol (names are identifiers).
    return modulus * Dim.sym(f"{symbol}'")  # type: ignore[return-value]


def decide(diff: Dim, a: IntLike, b: IntLike) -> bool | None:
    """`a - b == diff` is not a constant: try again under the facts, else record the pair and give up."""
    if _by_equalities(diff):
        return True
    facts = _FACTS.get()
    if facts:
        names = diff.symbols() & facts.keys()
        if names:
            settled = subs(diff, {s: _multiple(s, facts[s]) for s in names})
            if isinstance(settled, int):
                return settled == 0
            for d in (settled, -settled):  # as in dims_equal: sizes are >= 1, so 2*K - K > 0
                lb = lower_bound(d)  # type: ignore[arg-type]
                if lb is not None and lb > 0:
                    return False
    pairs = _UNDECIDED.get()
    if pairs is not None:
        pairs.append((a, b))
    return None


def _denominators(d: IntLike, out: set[int]) -> set[int]:
    if isinstance(d, Dim):
        for mono, _ in d.terms:
            for atom, _p in mono:
                if isinstance(atom, FloorDiv):
                    out.add(atom.den)
                    _denominators(atom.num, out)
    return out


def requirement(a: IntLike, b: IntLike) -> dict[str, int] | None:
    """The smallest divisibility requirement ({symbol: modulus}) under which a == b, if there is one.

    Candidates are the divisors of the lcm of the floor-division denominators in a - b, smallest first,
    combined with what the facts already say; a single symbol is preferred over several at once.
    """
    diff = (a if isinstance(a, Dim) else Dim.const(a)) - b
    if isinstance(diff, int):
        return None
    names = sorted(diff.symbols())
    dens = _denominators(diff, set())
    if not names or not dens:
        return None
    top = math.lcm(*dens)
    candidates = [m for m in range(2, top + 1) if top % m == 0]
    groups = [[s] for s in names] + ([names] if len(names) > 1 else [])
    for m in candidates:
        for group in groups:
            want = {s: math.lcm(m, known_modulus(s)) for s in group}
            rest = {s: _multiple(s, known_modulus(s)) for s in names if s not in want and known_modulus(s) > 1}
            settled = subs(diff, {**rest, **{s: _multiple(s, k) for s, k in want.items()}})
            if isinstance(settled, int) and settled == 0:
                return want
    return None
