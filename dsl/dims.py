"""Symbolic tensor dimensions.

A dimension is a Python ``int`` when it is known, or a :class:`Dim`: a polynomial with integer
coefficients over atoms, where an atom is a named symbol (``B``, ``H``) or a floor division
``(num)//den``. Polynomials are kept in a canonical form, so two dims are equal exactly when their
difference simplifies to zero; anything else is "can't decide" (``None`` from :func:`dims_equal`).

Why our own small type instead of sympy: importing sympy costs ~230 ms, which alone would break the
start-up budget of ``netc check``; and the only rules we need are ring arithmetic plus floor division
by constants (conv/pool output sizes), which fit in this file. symengine is fast but a compiled
dependency with no floor-division simplification of the kind shape rules need.
"""
from __future__ import annotations

import math
from contextvars import ContextVar
from typing import Union

IntLike = Union[int, "Dim"]

# A monomial is a sorted tuple of (atom, power); the empty tuple is the constant monomial.
Monomial = tuple[tuple["Atom", int], ...]


class Atom:
    """A symbol or a floor division; atoms are compared by their printed form."""

    __slots__ = ("key",)
    key: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atom) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: Atom) -> bool:
        return self.key < other.key


class Sym(Atom):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = name


class FloorDiv(Atom):
    __slots__ = ("num", "den")

    def __init__(self, num: Dim, den: int) -> None:
        self.num = num
        self.den = den
        self.key = f"({num})//{den}"


class Dim:
    """An immutable polynomial over atoms with integer coefficients, in canonical form."""

    __slots__ = ("terms", "_hash")

    def __init__(self, terms: dict[Monomial, int]) -> None:
        self.terms: tuple[tuple[Monomial, int], ...] = tuple(
            sorted(((m, c) for m, c in terms.items() if c != 0), key=_term_order)
        )
        self._hash = hash(self.terms)

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def sym(name: str) -> Dim:
        return Dim({((Sym(name), 1),): 1})

    @staticmethod
    def const(value: int) -> Dim:
        return Dim({(): value})

    # -- queries ------------------------------------------------------------------------------
    def as_int(self) -> int | None:
        if not self.terms:
            return 0
        if len(self.terms) == 1 and self.terms[0][0] == ():
            return self.terms[0][1]
        return None

    def as_symbol(self) -> str | None:
        """The symbol's name when the dim is exactly one symbol (`B`), else None."""
        if len(self.terms) == 1:
            (mono, coef), = self.terms
            if coef == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], Sym):
                return mono[0][0].name
        return None

    def symbols(self) -> set[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for atom, _p in mono:
                if isinstance(atom, Sym):
                    out.add(atom.name)
                elif isinstance(atom, FloorDiv):
                    out |= atom.num.symbols()
        return out

    def constant_term(self) -> int:
        for mono, c in self.terms:
            if mono == ():
                return c
        return 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return self.as_int() == other
        return isinstance(other, Dim) and self.terms == other.terms

    def __hash__(self) -> int:
        return self._hash

    # -- arithmetic ---------------------------------------------------------------------------
    def __add__(self, other: IntLike) -> IntLike:
        o = _lift(other)
        terms = dict(self.terms)
        for m, c in o.terms:
            terms[m] = terms.get(m, 0) + c
        return normalize(Dim(terms))

    __radd__ = __add__

    def __neg__(self) -> IntLike:
        return normalize(Dim({m: -c for m, c in self.terms}))

    def __sub__(self, other: IntLike) -> IntLike:
        return self + (-_lift(other))

    def __rsub__(self, other: IntLike) -> IntLike:
        return _lift(other) + (-self)

    def __mul__(self, other: IntLike) -> IntLike:
        o = _lift(other)
        terms: dict[Monomial, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in o.terms:
                m = _mono_mul(m1, m2)
                terms[m] = terms.get(m, 0) + c1 * c2
        return normalize(Dim(terms))

    __rmul__ = __mul__

    def __floordiv__(self, other: IntLike) -> IntLike:
        return floordiv(self, other)

    def __rfloordiv__(self, other: IntLike) -> IntLike:
        return floordiv(_lift(other), self)

    # -- printing -----------------------------------------------------------------------------
    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts: list[str] = []
        for i, (mono, c) in enumerate(self.terms):
            mag = abs(c)
            # A floor division next to `*` or a leading `-` needs its own parentheses: printed dims are
            # Python, and `2*(H)//16` would read as (2*H)//16, `-(H)//2` as (-H)//2.
            body = _mono_str(mono, shared=mag != 1 or len(mono) > 1 or (i == 0 and c < 0))
            if body == "":
                text = str(mag)
            elif mag == 1:
                text = body
            else:
                text = f"{mag}*{body}"
            if i == 0:
                parts.append(("-" if c < 0 else "") + text)
            else:
                parts.append((" - " if c < 0 else " + ") + text)
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Dim({self})"


def _term_order(term: tuple[Monomial, int]) -> tuple[int, int, str]:
    mono, _ = term
    degree = sum(p for _, p in mono)
    # Constants last, higher degree first, then by name: `2*H*W + H - 1`.
    return (1 if degree == 0 else 0, -degree, "*".join(a.key for a, _ in mono))


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    powers: dict[Atom, int] = dict(a)
    for atom, p in b:
        powers[atom] = powers.get(atom, 0) + p
    return tuple(sorted(powers.items(), key=lambda ap: ap[0].key))


def _mono_str(mono: Monomial, shared: bool = False) -> str:
    def atom(a: Atom, p: int) -> str:
        text = f"({a.key})" if isinstance(a, FloorDiv) and (shared or p != 1) else a.key
        return text if p == 1 else f"{text}**{p}"

    return "*".join(atom(a, p) for a, p in mono)


def _lift(x: IntLike) -> Dim:
    if isinstance(x, Dim):
        return x
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"not a dimension: {x!r}")
    return Dim.const(x)


def normalize(d: Dim) -> IntLike:
    """Known dims are plain ints; only genuinely symbolic ones stay `Dim`."""
    v = d.as_int()
    return v if v is not None else d


def sym(name: str) -> Dim:
    return Dim.sym(name)


def floordiv(num: IntLike, den: IntLike) -> IntLike:
    """`num // den`, simplified: exact parts are divided out, nested divisions merged."""
    if isinstance(num, int) and isinstance(den, int):
        return num // den
    if isinstance(den, Dim):
        raise TypeError("division by a symbolic dimension")
    if den == 0:
        raise ZeroDivisionError("division by zero")
    if den < 0:
        return floordiv(-_lift(num), -den)
    if den == 1:
        return num
    n = _lift(num)
    quotient: dict[Monomial, int] = {}
    rest: dict[Monomial, int] = {}
    for m, c in n.terms:
        q, r = divmod(c, den)
        if m == () and r == 0:
            # An exact multiple of the divisor moves out: (H - 2)//2 == H//2 - 1, so max-pooling twice
            # reads H//4, not ((H - 2)//2 - 1)//2 + 1.
            quotient[m] = q
        elif m == ():
            # Keep the constant's remainder inside the division: (H - 1)//2 stays as written.
            rest[m] = c
        elif r == 0:
            quotient[m] = q
        else:
            rest[m] = c
    rest_dim = Dim(rest)
    const = rest_dim.as_int()
    if const is not None:
        return normalize(Dim(quotient)) + const // den  # type: ignore[operator]
    # (x//a + c)//b with 0 <= c < a ... the common case: (x//a)//b == x//(a*b).
    if len(rest_dim.terms) == 1 and rest_dim.terms[0][1] == 1:
        (mono, _), = rest_dim.terms
        if len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], FloorDiv):
            inner = mono[0][0]
            return normalize(Dim(quotient)) + floordiv(inner.num, inner.den * den)  # type: ignore[operator]
    atom = FloorDiv(rest_dim, den)
    return normalize(Dim(quotient)) + Dim({((atom, 1),): 1})  # type: ignore[operator]


def ceildiv(num: IntLike, den: IntLike) -> IntLike:
    return -floordiv(-num, den)  # type: ignore[operator]


def dims_equal(a: IntLike, b: IntLike) -> bool | None:
    """True or False when decidable, None when it depends on symbol values."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    diff = _lift(a) - _lift(b)
    if isinstance(diff, int):
        return diff == 0
    # Dims are sizes, so every symbol is at least 1: `3072*B` can never equal `100*B`.
    for d in (diff, -diff):
        lb = lower_bound(d)
        if lb is not None and lb > 0:
            return False
    # Facts such as `where H % 16 == 0` may still settle it (dsl/divisibility.py); imported here because
    # that module builds on this one, and only undecided comparisons pay for the import.
    from .divisibility import decide

    return decide(diff, a, b)  # type: ignore[arg-type]


def subs(d: IntLike, values: dict[str, IntLike]) -> IntLike:
    """Substitute symbols by ints or dims, re-simplifying."""
    if isinstance(d, int):
        return d
    total: IntLike = 0
    for mono, c in d.terms:
        term: IntLike = c
        for atom, p in mono:
            if isinstance(atom, Sym):
                v: IntLike = values.get(atom.name, Dim.sym(atom.name))
            else:
                assert isinstance(atom, FloorDiv)
                v = floordiv(subs(atom.num, values), atom.den)
            for _ in range(p):
                term = term * v  # type: ignore[operator]
        total = total + term  # type: ignore[operator]
    return total


# `where T >= 3` on an input: the least value of each symbol, for this network (dsl/divisibility.facts_scope).
MINIMA: ContextVar[dict[str, int] | None] = ContextVar("netc_symbol_minima", default=None)


def add_minimum(symbol: str, least: int) -> None:
    minima = MINIMA.get()
    if minima is not None and least > minima.get(symbol, 1):
        minima[symbol] = least


def _least(mono: tuple) -> int:  # type: ignore[type-arg]
    minima = MINIMA.get() or {}
    out = 1
    for atom, power in mono:
        out *= minima.get(atom.name, 1) ** power
    return out


def lower_bound(d: IntLike) -> int | None:
    """A lower bound assuming every symbol is >= 1 (or the least value a `where` states), or None when none is
    cheap to find."""
    if isinstance(d, int):
        return d
    total = 0
    for mono, c in d.terms:
        if mono == ():
            total += c
            continue
        if c < 0:
            return _lower_bound_of_floors(d)
        if len(mono) == 1 and isinstance(mono[0][0], FloorDiv) and mono[0][1] == 1:
            inner = lower_bound(mono[0][0].num)  # floor is monotone: (T + 1)//2 >= (1 + 1)//2
            total += c * (inner // mono[0][0].den if inner is not None else 0)
            continue
        total += c * (_least(mono) if all(isinstance(a, Sym) for a, _ in mono) else 0)
    return total


def _lower_bound_of_floors(d: Dim) -> int | None:
    """`T - T//2` and the like: a floor division bounded by its rational value, from above where it is
    subtracted (c * (n//k) >= c * n/k for c < 0) and from below where it is added ((n - k + 1)/k <= n//k).
    The bounds, scaled by the common denominator L, form a polynomial without those floors; d is an integer,
    so d >= ceil(lower_bound(L * bound) / L)."""
    dens = [a.den for mono, _ in d.terms for a, _p in mono if isinstance(a, FloorDiv)]
    if not dens:
        return None
    scale = math.lcm(*dens)
    acc: IntLike = 0
    for mono, c in d.terms:
        if len(mono) == 1 and isinstance(mono[0][0], FloorDiv) and mono[0][1] == 1:
            fd = mono[0][0]
            num = fd.num if c < 0 else fd.num - (fd.den - 1)
            acc = acc + c * (scale // fd.den) * num
        elif all(isinstance(a, Sym) for a, _ in mono):
            acc = acc + scale * c * (Dim({mono: 1}) if mono else 1)
        else:
            return None
    inner = lower_bound(normalize(acc) if isinstance(acc, Dim) else acc)
    return None if inner is None else -(-inner // scale)


def fmt(d: IntLike) -> str:
    return str(d)


def is_dim(x: object) -> bool:
    return isinstance(x, Dim) or (isinstance(x, int) and not isinstance(x, bool))


def symbol_name(d: IntLike) -> str | None:
    """The symbol's name when a dim is exactly one symbol (`B`), else None (for ints too)."""
    return d.as_symbol() if isinstance(d, Dim) else None
