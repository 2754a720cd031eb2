"""Expression trees: what an attribute or a dimension is, in terms of the class's arguments.

:class:`Tracked` integers remember the expression they came from, so re-running the ops' shape rules on
them yields every attribute and shape as an expression (``cout``, ``(H - 1) // stride + 1``)."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..dims import Dim

PREC_OR, PREC_AND, PREC_NOT, PREC_CMP, PREC_ADD, PREC_MUL, PREC_UNARY, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 10, 11, 12, 13, 100
_BIN_PREC = {"or": PREC_OR, "and": PREC_AND, "+": PREC_ADD, "-": PREC_ADD, "*": PREC_MUL, "/": PREC_MUL,
             "//": PREC_MUL, "%": PREC_MUL, "@": PREC_MUL, "**": PREC_POW}
COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class LoopContext:
    """Inside the loop that builds item `index` of the comprehension at `at`: its variable is written `name`.
    Over a `range` with a constant `step`, an earlier item's variable is `name - (index - j) * step`
    (`channels[i - 1]`: the width the previous item made)."""

    at: int
    index: int
    name: str
    step: int | None = None


class Ctx:
    """Renders the leaves of expression trees: the same parameter reads `cout` in __init__, `self.cout` in forward."""

    def __init__(self, leaf: Callable[[str, str], str], names_locals: bool = False, comment: bool = False) -> None:
        self._leaf = leaf
        # a shape comment: a size no expression follows is written `?` there, and pins nothing
        self.comment = comment
        self.used: set[tuple[str, str]] = set()
        self.needs: set[str] = set()  # module-level names used, e.g. "F"
        # __init__ reads a value the source named (`squeeze = ...`) by its name, computed once at the top;
        # forward and comments write the expression itself
        self.names_locals = names_locals
        # inside the loop that builds one item of a comprehension (see LoopContext); elsewhere None, and a
        # comprehension's variable is written as the value it had in its item
        self.loop: LoopContext | None = None

    def leaf(self, kind: str, name: str) -> str:
        self.used.add((kind, name))
        return self._leaf(kind, name)


# The deepest expression tree the backend follows. A deeper one (a thousand `h = h * 1`) is not followed: the
# value is the instance's own, as for any value the backend cannot follow, instead of a recursion that fails.
MAX_TREE_HEIGHT = 200


class TooDeep(ValueError):
    """An expression deeper than MAX_TREE_HEIGHT (a ValueError, so a shape rule fed one fails as on bad input)."""


class Node:
    prec = PREC_ATOM
    height = 1  # levels of nesting, computed once when a node is made (children are always made first)

    def _measure(self, *children: Node) -> None:
        object.__setattr__(self, "height", 1 + max((c.height for c in children), default=0))

    def render(self, ctx: Ctx) -> str:
        raise NotImplementedError

    def prec_in(self, ctx: Ctx) -> int:
        """How tightly the rendered text binds (a named value is an atom only where it is written by name)."""
        return self.prec

    def has_leaf(self) -> bool:
        return False


@dataclass(frozen=True)
class Leaf(Node):
    kind: str  # "param" (a declared parameter) or "sym" (a size bound from an input's shape)
    name: str

    def render(self, ctx: Ctx) -> str:
        return ctx.leaf(self.kind, self.name)

    def has_leaf(self) -> bool:
        return True


@dataclass(frozen=True)
class Lit(Node):
    value: Any

    @property
    def prec(self) -> int:  # type: ignore[override]
        v = self.value
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            return PREC_UNARY
        if isinstance(v, Dim) and not _ATOMIC_TEXT.fullmatch(str(v)):
            return PREC_ADD  # `H - 1`, `2*H`, `(H)//16`: the loosest a printed dim can bind
        return PREC_ATOM

    def render(self, ctx: Ctx) -> str:
        return literal(self.value, ctx)

    def has_leaf(self) -> bool:
        return isinstance(self.value, Dim)


@dataclass(frozen=True)
class Bin(Node):
    op: str
    left: Node
    right: Node

    def __post_init__(self) -> None:
        self._measure(self.left, self.right)

    @property
    def prec(self) -> int:  # type: ignore[override]
        return PREC_CMP if self.op in COMPARISON_OPS else _BIN_PREC[self.op]

    def render(self, ctx: Ctx) -> str:
        p = self.prec
        if self.op == "**":
            lneed, rneed = PREC_POW + 1, PREC_UNARY
        elif self.op in COMPARISON_OPS:
            lneed = rneed = PREC_CMP + 1
        else:
            lneed, rneed = p, p + 1
        return f"{_paren(self.left, lneed, ctx)} {self.op} {_paren(self.right, rneed, ctx)}"

    def has_leaf(self) -> bool:
        return self.left.has_leaf() or self.right.has_leaf()


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node

    def __post_init__(self) -> None:
        self._measure(self.operand)

    @property
    def prec(self) -> int:  # type: ignore[override]
        return PREC_NOT if self.op == "not" else PREC_UNARY

    def render(self, ctx: Ctx) -> str:
        inner = _paren(self.operand, self.prec, ctx)
        return f"not {inner}" if self.op == "not" else f"-{inner}"

    def has_leaf(self) -> bool:
        return self.operand.has_leaf()


@dataclass(frozen=True)
class Tup(Node):
    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        self._measure(*self.items)

    def render(self, ctx: Ctx) -> str:
        parts = [i.render(ctx) for i in self.items]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"

    def has_leaf(self) -> bool:
        return any(i.has_leaf() for i in self.items)


@dataclass(frozen=True)
class At(Node):
    """An item of a list parameter: `layers[1]`."""

    base: Node
    index: Node

    def __post_init__(self) -> None:
        self._measure(self.base, self.index)

    def render(self, ctx: Ctx) -> str:
        return f"{_paren(self.base, PREC_ATOM, ctx)}[{self.index.render(ctx)}]"

    def has_leaf(self) -> bool:
        return self.base.has_leaf() or self.index.has_leaf()


@dataclass(frozen=True)
class IfExp(Node):
    """A value an `if` of the source chose: `2 if bilinear else 1` (the `factor = 2` inside `if bilinear`)."""

    arms: tuple[tuple[Node, Node], ...]  # (condition, value), in the source's order
    orelse: Node
    prec = 0  # looser than any operator: always parenthesised inside another expression

    def __post_init__(self) -> None:
        self._measure(self.orelse, *(n for arm in self.arms for n in arm))

    def render(self, ctx: Ctx) -> str:
        text = _paren(self.orelse, 1, ctx)
        for cond, value in reversed(self.arms):
            text = f"{_paren(value, 1, ctx)} if {_paren(cond, 1, ctx)} else {text}"
        return text

    def has_leaf(self) -> bool:
        return True


@dataclass(frozen=True, eq=False)
class Local(Node):
    """A compile-time value the source named (`squeeze = (expanded // 4 + 4) // 8 * 8`), one version of it: a
    reassignment (`squeeze = squeeze + 8`) is a new version whose tree refers to the previous one. __init__
    computes it once under its name, as a person writes it; elsewhere the expression is written in place."""

    name: str
    at: int  # where the source gives it this value (an offset): the definitions are written in this order
    tree: Node
    depth: int = 1  # how many named values deep its expression reaches (1: it reads none)

    def __post_init__(self) -> None:
        self._measure(self.tree)  # written in place where names are not used: as deep as its expression

    @property
    def key(self) -> str:
        return f"{self.name}@{self.at}"

    def render(self, ctx: Ctx) -> str:
        if ctx.names_locals:
            return ctx.leaf("local", self.key)
        return _paren(self.tree, self.tree.prec_in(ctx), ctx)

    def prec_in(self, ctx: Ctx) -> int:
        return PREC_ATOM if ctx.names_locals else self.tree.prec_in(ctx)

    def has_leaf(self) -> bool:
        return self.tree.has_leaf()


def locals_in(node: Node) -> list[Local]:
    """The named values a tree reads directly (not those their own definitions read)."""
    if isinstance(node, Local):
        return [node]
    out: list[Local] = []
    for child in vars(node).values() if hasattr(node, "__dict__") else ():
        for c in (child if isinstance(child, tuple) else (child,)):
            for x in (c if isinstance(c, tuple) else (c,)):
                if isinstance(x, Node):
                    out += locals_in(x)
    return out


@dataclass(frozen=True)
class Call(Node):
    """`range(levels)`: the one builtin the source calls on compile-time values."""

    func: str
    args: tuple[Node, ...]

    def __post_init__(self) -> None:
        self._measure(*self.args)

    def render(self, ctx: Ctx) -> str:
        return f"{self.func}({', '.join(a.render(ctx) for a in self.args)})"

    def has_leaf(self) -> bool:
        return any(a.has_leaf() for a in self.args)


def subtrees(node: Node) -> Iterator[Node]:
    """The node and every node below it, through named values too (iteratively: trees can be 200 deep)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Local):
            stack.append(n.tree)
            continue
        for child in vars(n).values() if hasattr(n, "__dict__") else ():
            for c in (child if isinstance(child, tuple) else (child,)):
                for x in (c if isinstance(c, tuple) else (c,)):
                    if isinstance(x, Node):
                        stack.append(x)


def leaves_in(node: Node) -> list[Leaf]:
    """The parameters and input-bound sizes a tree reads (through named values too)."""
    return [n for n in subtrees(node) if isinstance(n, Leaf)]


@dataclass(frozen=True)
class Var(Node):
    """A local variable of the generated forward (`x`, `h1`): an atom."""

    name: str

    def render(self, ctx: Ctx) -> str:
        return self.name


_ATOMIC_TEXT = re.compile(r"[\w.]+")  # a name, a number or an attribute read: binds tighter than any operator


def _paren(node: Node, need: int, ctx: Ctx) -> str:
    text = node.render(ctx)
    return f"({text})" if node.prec_in(ctx) < need else text


_IDENT = re.compile(r"[^\W\d]\w*")


def render_dim(d: Dim, ctx: Ctx) -> str:
    """A symbolic dim as Python, its symbols named as in the rendering context."""
    return _IDENT.sub(lambda m: ctx.leaf("sym", m.group(0)), str(d))


def literal(value: Any, ctx: Ctx | None = None) -> str:
    """Python source for a compile-time value; strings through repr, never spliced."""
    if isinstance(value, Tracked):
        return value.tree.render(ctx) if ctx is not None else repr(int(value))
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Dim):
        if ctx is None:
            raise Unrenderable(f"symbolic size {value}")
        return render_dim(value, ctx)
    if isinstance(value, (tuple, list)):
        parts = [literal(v, ctx) for v in value]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
    if isinstance(value, slice):
        bounds = ["" if b is None else literal(b, ctx) for b in (value.start, value.stop)]
        return ":".join(bounds) + ("" if value.step is None else f":{literal(value.step, ctx)}")
    raise Unrenderable(f"value {value!r}")


class Unrenderable(Exception):
    """A value that has no faithful Python spelling in the context at hand."""


# -- Tracked integers ---------------------------------------------------------------------------------
def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def tree_of(v: Any) -> Node:
    if isinstance(v, Tracked):
        return v.tree
    if isinstance(v, tuple):
        return Tup(tuple(tree_of(x) for x in v))
    return Lit(int(v) if is_int(v) else v)


def track(value: Any, tree: Node) -> Any:
    """`value` carrying `tree` when it is an int that depends on the arguments; plain otherwise."""
    if tree.height > MAX_TREE_HEIGHT:
        raise TooDeep(f"an expression nested {tree.height} deep")
    if is_int(value) and tree.has_leaf():
        return Tracked(int(value), tree)
    return int(value) if is_int(value) else value


def _split(t: Node) -> tuple[Node | None, int]:
    if isinstance(t, Lit) and is_int(t.value):
        return None, int(t.value)
    if isinstance(t, Bin) and t.op in "+-" and isinstance(t.right, Lit) and is_int(t.right.value):
        return t.left, int(t.right.value) if t.op == "+" else -int(t.right.value)
    return t, 0


def _join(core: Node | None, k: int) -> Node:
    if core is None:
        return Lit(k)
    if k == 0:
        return core
    return Bin("+", core, Lit(k)) if k > 0 else Bin("-", core, Lit(-k))


def _merged(a: Node, b: Node, sign: int) -> Node | None:
    """a + b or a - b with like terms merged (`init + growth + growth` is `init + 2 * growth`; ShuffleNet's
    `w // 2 + w // 2` is `2 * (w // 2)`, which t_floordiv halves back to `w // 2`), or None when they share no term (then only their constants fold, and the expression keeps the shape it was written in)."""
    from .linear import combine, linear, shares_terms, tree_of_linear  # linear.py builds on this module's nodes

    la, lb = linear(a), linear(b)
    return tree_of_linear(combine(la, lb, sign)) if shares_terms(la, lb) else None


def _scaled(t: Node) -> tuple[int, Node]:
    """`3 * x` as (3, x), anything else as (1, t): a multiple that t_floordiv divides exactly."""
    if isinstance(t, Bin) and t.op == "*" and isinstance(t.left, Lit) and is_int(t.left.value):
        return int(t.left.value), t.right
    return 1, t


def t_add(a: Node, b: Node) -> Node:
    merged = _merged(a, b, 1)
    if merged is not None:
        return merged
    ca, ka = _split(a)
    cb, kb = _split(b)
    core = cb if ca is None else ca if cb is None else Bin("+", ca, cb)
    return _join(core, ka + kb)


def t_sub(a: Node, b: Node) -> Node:
    merged = _merged(a, b, -1)
    if merged is not None:
        return merged
    ca, ka = _split(a)
    cb, kb = _split(b)
    core = ca if cb is None else Unary("-", cb) if ca is None else Bin("-", ca, cb)
    return _join(core, ka - kb)


def t_mul(a: Node, b: Node) -> Node:
    for x, y in ((a, b), (b, a)):
        if isinstance(x, Lit) and is_int(x.value):
            if x.value == 1:
                return y
            if x.value == 0:
                return Lit(0)
            if isinstance(y, Bin) and y.op == "*" and isinstance(y.left, Lit) and is_int(y.left.value):
                return Bin("*", Lit(x.value * y.left.value), y.right)  # `2 * (2 * C)` is `4 * C`
            return Bin("*", x, y)  # constants first: `2 * cout`
    return Bin("*", a, b)


def t_floordiv(a: Node, b: Node) -> Node:
    if isinstance(b, Lit) and b.value == 1:
        return a
    if isinstance(b, Lit) and is_int(b.value) and b.value > 0:
        # an exact division of a multiple: `(2 * x) // 2` is x, and `-(2 * x) // 2` (a ceil division's inner
        # step, `-(-n // 2)`) is -x, so `-(-(2 * x) // 2)` is x again
        negated = isinstance(a, Unary) and a.op == "-"
        m, x = _scaled(a.operand if isinstance(a, Unary) and negated else a)
        if m != 1 and m % b.value == 0:
            q = t_mul(Lit(m // b.value), x)
            return t_neg(q) if negated else q
    return Bin("//", a, b)


def t_neg(a: Node) -> Node:
    """-a, with -(-x) as x and a number negated."""
    if isinstance(a, Unary) and a.op == "-":
        return a.operand
    if isinstance(a, Lit) and is_int(a.value):
        return Lit(-int(a.value))
    return Unary("-", a)


class Tracked(int):
    """An int that remembers the expression it was computed from.

    The ops' shape rules only need ints; fed Tracked ints, they return Tracked ints, so the expression of every
    inferred size (`in_channels`, a conv's output height) falls out of the rules themselves.
    """

    tree: Node

    def __new__(cls, value: int, tree: Node) -> Tracked:
        obj = super().__new__(cls, value)
        obj.tree = tree
        return obj

    def _op(self, other: Any, fn: Callable[[int, int], int], tf: Callable[[Node, Node], Node],
            reflected: bool = False) -> Any:
        if not is_int(other):
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        return track(fn(int(a), int(b)), tf(tree_of(a), tree_of(b)))

    def __add__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a + b, t_add)

    def __radd__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a + b, t_add, True)

    def __sub__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a - b, t_sub)

    def __rsub__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a - b, t_sub, True)

    def __mul__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a * b, t_mul)

    def __rmul__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a * b, t_mul, True)

    def __floordiv__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a // b, t_floordiv)

    def __rfloordiv__(self, o: Any) -> Any:
        return self._op(o, lambda a, b: a // b, t_floordiv, True)

    def __neg__(self) -> Any:
        return track(-int(self), t_neg(self.tree))

    def __pos__(self) -> Any:
        return self

    def __reduce__(self) -> Any:
        return (int, (int(self),))


def plain(v: Any) -> Any:
    if isinstance(v, Tracked):
        return int(v)
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    return v
