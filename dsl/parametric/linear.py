"""Sums of terms with integer coefficients: `init + growth + growth` is `init + 2 * growth`.

A DenseNet stage's widths grow by the same amount per layer, and the arithmetic that follows them adds that
amount once per layer. Reading a tree as a linear form (terms with integer coefficients, plus a constant)
merges like terms, so the width after six layers is written `init + 6 * growth`, and two widths can be
subtracted to see whether they differ by a constant step (netc/dsl/parametric/recurrence.py).

Any node that is not a sum, a difference, a negation or a constant times something is one term (a parameter,
`channels[i]`, `(H - 1) // 2`): like terms are equal trees.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .trees import Bin, Leaf, Lit, Local, Node, Unary, is_int

# (term, coefficient) in first-seen order, and the constant
Linear = tuple[list[tuple[Node, int]], int]


def linear(tree: Node) -> Linear:
    """`tree` as a linear form; every tree is one (an unknown operation is a term of its own)."""
    if isinstance(tree, Lit) and is_int(tree.value):
        return [], int(tree.value)
    if isinstance(tree, Bin) and tree.op in ("+", "-"):
        return combine(linear(tree.left), linear(tree.right), 1 if tree.op == "+" else -1)
    if isinstance(tree, Unary) and tree.op == "-":
        return scale(linear(tree.operand), -1)
    if isinstance(tree, Bin) and tree.op == "*":
        for k, other in ((tree.left, tree.right), (tree.right, tree.left)):
            if isinstance(k, Lit) and is_int(k.value):
                return scale(linear(other), int(k.value))
    return [(tree, 1)], 0


def scale(form: Linear, k: int) -> Linear:
    terms, const = form
    return [(t, c * k) for t, c in terms if c * k], const * k


def combine(a: Linear, b: Linear, sign: int = 1) -> Linear:
    """a + b (sign 1) or a - b (sign -1), like terms merged in a's order, then b's new ones."""
    terms = list(a[0])
    for term, coef in b[0]:
        for i, (t, c) in enumerate(terms):
            if _same_term(t, term):
                terms[i] = (t, c + sign * coef)
                break
        else:
            terms.append((term, sign * coef))
    return [(t, c) for t, c in terms if c], a[1] + sign * b[1]


def shares_terms(a: Linear, b: Linear) -> bool:
    return any(_same_term(t, u) for t, _ in a[0] for u, _ in b[0])


def has_terms(form: Linear) -> bool:
    return bool(form[0])


def tree_of_linear(form: Linear) -> Node:
    """The form written as a person would: `init + 6 * growth - 2`, terms in order, the constant last."""
    terms, const = form
    out: Node | None = None
    for term, coef in terms:
        size = abs(coef)
        part = term if size == 1 else Bin("*", Lit(size), term)
        if out is None:
            out = part if coef > 0 else Unary("-", part)
        else:
            out = Bin("+" if coef > 0 else "-", out, part)
    if out is None:
        return Lit(const)
    if const:
        out = Bin("+" if const > 0 else "-", out, Lit(abs(const)))
    return out


def _same_term(a: Node, b: Node) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # a literal whose value does not compare as a plain value (a symbolic size): not like
        return False


def substitute(tree: Node, leaf: Callable[[Leaf], Node | None]) -> Node:
    """`tree` with each parameter or size leaf replaced by `leaf(it)` (kept where that gives None): a block's
    expression in its own terms, written in its caller's."""
    if isinstance(tree, Leaf):
        return leaf(tree) or tree
    if isinstance(tree, Local):  # a named value keeps its name and identity only in its own class
        return substitute(tree.tree, leaf)
    if not dataclasses.is_dataclass(tree):
        return tree
    changes: dict[str, object] = {}
    for f in dataclasses.fields(tree):
        value = getattr(tree, f.name)
        if isinstance(value, Node):
            new: object = substitute(value, leaf)
        elif isinstance(value, tuple) and any(isinstance(x, (Node, tuple)) for x in value):
            new = tuple(_substitute_item(x, leaf) for x in value)
        else:
            continue
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(tree, **changes) if changes else tree  # type: ignore[type-var]


def _substitute_item(x: object, leaf: Callable[[Leaf], Node | None]) -> object:
    if isinstance(x, Node):
        return substitute(x, leaf)
    if isinstance(x, tuple):
        return tuple(_substitute_item(y, leaf) for y in x)
    return x
