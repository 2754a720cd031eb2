"""The size of `x[:, a:b:c]` along a symbolic dim, and whether it is only approximate (W002).

The checker sizes a slice as ceil((b - a) / c), with a negative integer bound counted from the end and a bound
provably past the end taken as the end. Python
(and torch) also wrap a bound that is negative at run time (`T - 2` for T = 1), clamp every bound to [0, T]
and give an empty slice when the start is past the stop. The size is exact when the bounds are provably in
[0, T] and in order. Otherwise, for a dim that is one symbol and bounds linear in it (with floor divisions), the
sizes are sliced as Python does: every size up to well past the bounds' constants, and a period at two far
sizes (`-2:` is exact from T = 2 on, `T//2 + 1:(T + 1)//2` is always empty, as its formula says). W002
remains where some legal size slices differently, or where the bounds are beyond this reasoning.
"""
from __future__ import annotations

from ..dims import Dim, FloorDiv, IntLike, ceildiv, dims_equal, lower_bound, subs
from ..divisibility import known_modulus


def at_least(v: IntLike, least: int) -> bool:
    """Provably v >= least, for every legal size (sizes are >= 1, or what a `where` states)."""
    if dims_equal(v, least) is True:
        return True
    lb = lower_bound(v)
    return lb is not None and lb >= least


def slice_size(n: IntLike, s: slice, step: int) -> tuple[IntLike, str | None]:
    """The slice's size and, when it is not exact for every legal size, what it assumes."""
    lo = _resolve(n, s.start, 0)
    hi = _resolve(n, s.stop, n)
    span = hi - lo  # type: ignore[operator]
    if isinstance(span, int) and span <= 0:
        return 0, None  # clamping both bounds keeps their order: empty for every size
    size = span if step == 1 else ceildiv(span, step)
    doubt = _doubt(n, s, lo, hi, span)
    if doubt is None or _exact_by_enumeration(n, s, size, step):
        return size, None
    return size, doubt


def _resolve(n: IntLike, b: IntLike | None, default: IntLike) -> IntLike:
    if b is None:
        return default
    at = n + b if isinstance(b, int) and b < 0 else b  # type: ignore[operator]
    if not isinstance(at, int) and at_least(at - n, 0):  # type: ignore[operator]
        return n  # provably at or past the end (`:2*T`, `:T + 1`): Python clamps it to the end, exactly
    return at


def _doubt(n: IntLike, s: slice, lo: IntLike, hi: IntLike, span: IntLike) -> str | None:
    """What the size assumes that the checker cannot prove (None: it is exact)."""
    for b, at in ((s.start, lo), (s.stop, hi)):
        if b is not None and not (at_least(at, 0) and at_least(n - at, 0)):  # type: ignore[operator]
            return f"{-b} <= {n}" if isinstance(b, int) and b < 0 else f"{b} <= {n}"
    if not at_least(span, 0):
        return f"its start {lo} is not past its stop {hi}"
    return None


def _quasi_linear(d: IntLike, name: str) -> tuple[int, int] | None:
    """For a bound built from T, integers, +, integer multiples and floor divisions by integers: (largest
    |integer| in it, product of its denominators); None for anything else (T * T, another symbol)."""
    if isinstance(d, int):
        return abs(d), 1
    big, dens = 0, 1
    for mono, c in d.terms:
        big = max(big, abs(c))
        if len(mono) > 1 or (mono and mono[0][1] != 1):
            return None
        if mono:
            atom = mono[0][0]
            if isinstance(atom, FloorDiv):
                inner = _quasi_linear(atom.num, name)
                if inner is None:
                    return None
                big, dens = max(big, inner[0], atom.den), dens * atom.den * inner[1]
            elif atom.name != name:  # type: ignore[attr-defined]
                return None
    return big, dens


def _exact_by_enumeration(n: IntLike, s: slice, size: IntLike, step: int) -> bool:
    """For a dim that is one symbol T and bounds quasi-linear in T: every bound is a linear function of T plus
    a periodic part, so whether Python's slicing gives `size` settles after T passes the bounds' constants and
    is then periodic, or monotone in its drift. Slice every T up to well past the constants, and one period at
    two far sizes, as Python would."""
    if not isinstance(n, Dim) or len(n.symbols()) != 1:
        return False
    (name,) = n.symbols()
    if n != Dim.sym(name):
        return False
    big, dens = 1, 1
    for b in (s.start, s.stop):
        if b is not None:
            shape = _quasi_linear(b, name)
            if shape is None:
                return False
            big, dens = max(big, shape[0]), dens * shape[1]
    period = step * dens
    if period > 4096 or 64 + 8 * big * period > 20_000:
        return False  # too many sizes to slice: keep the warning
    every = known_modulus(name)
    least = max(1, lower_bound(n) or 1)
    near = range(every * -(-least // every), 64 + 8 * big * period, every)
    far = [every * (base + k) for base in (10 ** 6, 2 * 10 ** 6) for k in range(period)]

    def at(b: IntLike | None, value: int) -> int | None:
        return None if b is None else subs(b, {name: value})  # type: ignore[return-value]

    for value in [*near, *far]:
        want = len(range(*slice(at(s.start, value), at(s.stop, value), step).indices(value)))
        if subs(size, {name: value}) != want:
            return False
    return True
