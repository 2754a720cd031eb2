"""PyTorch backend: checked IR -> a standalone Python module with one ``nn.Module`` class per network/block.

How a block becomes one class
-----------------------------
Elaboration unrolls every block instance (ResNet-18 has eight ``BasicBlock`` instances, with different channel
counts, strides and, for some, a ``downsample`` branch). To print one readable class per block, each instance
is *re-inferred* with its arguments replaced by :class:`Tracked` integers: ints that remember the expression they
came from (``cout``, ``(H - 1) // stride + 1``). Running the ops' own shape rules on them yields, for every
attribute and every shape, an expression in the block's parameters, including inferred sizes such as
``in_channels=C``. Each instance is then rendered to text (``__init__`` and ``forward`` lines); the instances of a
block merge into one class when their lines agree and every line present in only some of them is explained by an
``if`` of the source, which is translated into Python. Whatever cannot be merged becomes a separate, specialised
class. Nothing is guessed: each class is checked against every instance it stands for.

The per-op code is the table :data:`EMITTERS` (one small emitter per canonical op name).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import linecache
import re
import sys
import types
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ..dsl import ast
from ..dsl.astwalk import walk
from ..dsl.compiler import Result
from ..dsl.dims import Dim, dims_equal, subs
from ..dsl.elaborate import _arith, _compare
from ..dsl.ir import Module, OpNode, Value
from ..dsl.ops import OPS, REQUIRED, AttrError, ShapeError
from ..dsl.types import FLOAT_DTYPES, TensorType
from .base import GeneratedCode
from .naming import Namespace, attribute_namespace, global_namespace, local_namespace, registered_name

# =====================================================================================================
# Expression trees: what an attribute or a dimension is, in terms of the class's arguments
# =====================================================================================================
PREC_OR, PREC_AND, PREC_NOT, PREC_CMP, PREC_ADD, PREC_MUL, PREC_UNARY, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 10, 11, 12, 13, 100
_BIN_PREC = {"or": PREC_OR, "and": PREC_AND, "+": PREC_ADD, "-": PREC_ADD, "*": PREC_MUL, "/": PREC_MUL,
             "//": PREC_MUL, "%": PREC_MUL, "@": PREC_MUL, "**": PREC_POW}
_CMP = ("==", "!=", "<", "<=", ">", ">=")


class Ctx:
    """Renders the leaves of expression trees: the same parameter reads `cout` in __init__, `self.cout` in forward."""

    def __init__(self, leaf: Callable[[str, str], str]) -> None:
        self._leaf = leaf
        self.used: set[tuple[str, str]] = set()
        self.needs: set[str] = set()  # module-level names used, e.g. "F"

    def leaf(self, kind: str, name: str) -> str:
        self.used.add((kind, name))
        return self._leaf(kind, name)


class Node:
    prec = PREC_ATOM

    def render(self, ctx: Ctx) -> str:
        raise NotImplementedError

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

    @property
    def prec(self) -> int:  # type: ignore[override]
        return PREC_CMP if self.op in _CMP else _BIN_PREC[self.op]

    def render(self, ctx: Ctx) -> str:
        p = self.prec
        if self.op == "**":
            lneed, rneed = PREC_POW + 1, PREC_UNARY
        elif self.op in _CMP:
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

    def render(self, ctx: Ctx) -> str:
        parts = [i.render(ctx) for i in self.items]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"

    def has_leaf(self) -> bool:
        return any(i.has_leaf() for i in self.items)


@dataclass(frozen=True)
class Var(Node):
    """A local variable of the generated forward (`x`, `h1`): an atom."""

    name: str

    def render(self, ctx: Ctx) -> str:
        return self.name


_ATOMIC_TEXT = re.compile(r"[\w.]+")  # a name, a number or an attribute read: binds tighter than any operator


def _paren(node: Node, need: int, ctx: Ctx) -> str:
    text = node.render(ctx)
    return f"({text})" if node.prec < need else text


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
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def tree_of(v: Any) -> Node:
    if isinstance(v, Tracked):
        return v.tree
    if isinstance(v, tuple):
        return Tup(tuple(tree_of(x) for x in v))
    return Lit(int(v) if _is_int(v) else v)


def track(value: Any, tree: Node) -> Any:
    """`value` carrying `tree` when it is an int that depends on the arguments; plain otherwise."""
    if _is_int(value) and tree.has_leaf():
        return Tracked(int(value), tree)
    return int(value) if _is_int(value) else value


def _split(t: Node) -> tuple[Node | None, int]:
    if isinstance(t, Lit) and _is_int(t.value):
        return None, int(t.value)
    if isinstance(t, Bin) and t.op in "+-" and isinstance(t.right, Lit) and _is_int(t.right.value):
        return t.left, int(t.right.value) if t.op == "+" else -int(t.right.value)
    return t, 0


def _join(core: Node | None, k: int) -> Node:
    if core is None:
        return Lit(k)
    if k == 0:
        return core
    return Bin("+", core, Lit(k)) if k > 0 else Bin("-", core, Lit(-k))


def t_add(a: Node, b: Node) -> Node:
    ca, ka = _split(a)
    cb, kb = _split(b)
    core = cb if ca is None else ca if cb is None else Bin("+", ca, cb)
    return _join(core, ka + kb)


def t_sub(a: Node, b: Node) -> Node:
    ca, ka = _split(a)
    cb, kb = _split(b)
    core = ca if cb is None else Unary("-", cb) if ca is None else Bin("-", ca, cb)
    return _join(core, ka - kb)


def t_mul(a: Node, b: Node) -> Node:
    for x, y in ((a, b), (b, a)):
        if isinstance(x, Lit) and _is_int(x.value):
            if x.value == 1:
                return y
            if x.value == 0:
                return Lit(0)
            return Bin("*", x, y)  # constants first: `2 * cout`
    return Bin("*", a, b)


def t_floordiv(a: Node, b: Node) -> Node:
    if isinstance(b, Lit) and b.value == 1:
        return a
    return Bin("//", a, b)


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
        if not _is_int(other):
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
        return track(-int(self), Lit(-int(self)) if isinstance(self.tree, Lit) else Unary("-", self.tree))

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


# =====================================================================================================
# Evaluating .net expressions to (value, tree)
# =====================================================================================================
class EvalError(Exception):
    """The expression is not a compile-time value we can follow (a tensor, an unknown name, ...)."""


@dataclass(frozen=True)
class Val:
    value: Any
    tree: Node


def evaluate(e: ast.Expr, env: dict[str, Val]) -> Val:
    if isinstance(e, ast.Name):
        if e.id not in env:
            raise EvalError(e.id)
        return env[e.id]
    if isinstance(e, (ast.Number, ast.String, ast.Const)):
        return Val(e.value, Lit(e.value))
    if isinstance(e, (ast.TupleExpr, ast.ListExpr)):
        items = [evaluate(i, env) for i in e.items]
        return Val(tuple(i.value for i in items), Tup(tuple(i.tree for i in items)))
    if isinstance(e, ast.UnaryOp):
        v = evaluate(e.operand, env)
        if e.op == "not":
            if not isinstance(v.value, bool):
                raise EvalError("not")
            return Val(not v.value, Unary("not", v.tree))
        if isinstance(v.value, bool) or not isinstance(v.value, (int, float, Dim)):
            raise EvalError("unary")
        if e.op == "+":
            return v
        value = -plain(v.value)
        tree = Lit(value) if isinstance(v.tree, Lit) else Unary("-", v.tree)
        return Val(track(value, tree), tree)
    if isinstance(e, ast.BinOp):
        return _eval_binop(e, env)
    raise EvalError(type(e).__name__)


def _eval_binop(e: ast.BinOp, env: dict[str, Val]) -> Val:
    left, right = evaluate(e.left, env), evaluate(e.right, env)
    a, b = plain(left.value), plain(right.value)
    op = e.op
    if op in ("and", "or"):
        if not isinstance(a, bool) or not isinstance(b, bool):
            raise EvalError(op)
        return Val((a and b) if op == "and" else (a or b), Bin(op, left.tree, right.tree))
    if op in _CMP:
        if isinstance(a, Dim) or isinstance(b, Dim):
            verdict = _compare(op, a, b)  # None when it depends on the symbols: a runtime check (--guards)
        elif isinstance(a, (str, bool)) or isinstance(b, (str, bool)) or a is None or b is None:
            if op not in ("==", "!="):
                raise EvalError(op)
            verdict = (a == b) == (op == "==")
        else:
            verdict = _compare(op, a, b)
        return Val(verdict, Bin(op, left.tree, right.tree))
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
            raise EvalError(op)
    try:
        value = _arith(op, a, b)
    except (ZeroDivisionError, TypeError, ValueError, OverflowError) as exc:
        raise EvalError(str(exc)) from None
    py_op = op
    if op == "/":
        py_op = "//" if _is_int(value) or isinstance(value, Dim) else "/"
    if op == "@":
        raise EvalError("@")
    tree = Bin(py_op, left.tree, right.tree)
    return Val(track(value, tree), tree)


# =====================================================================================================
# Facts about a definition's source: spans of calls, `if` branches, the names values are bound to
# =====================================================================================================
SpanKey = tuple[int, int, int]


def span_key(span: Any) -> SpanKey:
    return (id(span.source), span.start, span.end)


@dataclass
class Branch:
    stmt: ast.If
    index: int  # 0.. for `if`/`elif` conditions, len(branches) for `else`
    start: int
    end: int
    source_id: int


@dataclass
class DefInfo:
    """What the code generator needs to know about one definition's source."""

    defn: ast.Definition
    exprs: dict[SpanKey, Any] = field(default_factory=dict)  # Call / BinOp by span
    branches: list[Branch] = field(default_factory=list)
    bindings: dict[SpanKey, list[str]] = field(default_factory=dict)  # result span -> the names it is bound to
    out_names: dict[SpanKey, list[str]] = field(default_factory=dict)
    inputs: list[ast.Input] = field(default_factory=list)

    @classmethod
    def build(cls, defn: ast.Definition, callables: set[str]) -> DefInfo:
        info = cls(defn)
        for n in walk(defn):
            if isinstance(n, (ast.Call, ast.BinOp, ast.UnaryOp)):
                info.exprs.setdefault(span_key(n.span), n)
        info._scan(defn.body, callables)
        return info

    def _scan(self, stmts: tuple[ast.Stmt, ...], callables: set[str]) -> None:
        for s in stmts:
            if isinstance(s, ast.Input):
                self.inputs.append(s)
            elif isinstance(s, ast.Assign):
                names = [t.id for t in s.targets if isinstance(t, ast.Name)]
                if len(s.targets) == 1 and isinstance(s.targets[0], ast.TupleExpr):
                    names = [t.id for t in s.targets[0].items if isinstance(t, ast.Name)]
                span = _result_span(s.value, callables)
                if span is not None and names:
                    self.bindings[span_key(span)] = names
            elif isinstance(s, ast.ExprStmt):
                e = s.expr
                if isinstance(e, ast.Chain) and isinstance(e.steps[-1].expr, ast.Name) \
                        and e.steps[-1].expr.id not in callables and len(e.steps) >= 2:
                    span = _result_span(ast.Chain(e.span, e.head, e.steps[:-1]), callables)
                    if span is not None:
                        self.bindings[span_key(span)] = [e.steps[-1].expr.id]
            elif isinstance(s, ast.Output):
                for i, item in enumerate(s.items):
                    name = item.name or (item.value.id if isinstance(item.value, ast.Name) else
                                         ("out" if len(s.items) == 1 else f"out{i}"))
                    span = _result_span(item.value, callables)
                    if span is not None:
                        self.out_names.setdefault(span_key(span), []).append(name)
            elif isinstance(s, ast.If):
                arms = list(s.branches) + ([(None, s.orelse)] if s.orelse else [])
                for k, (_, body) in enumerate(arms):
                    if body:
                        self.branches.append(Branch(s, k, body[0].span.start, body[-1].span.end,
                                                    id(body[0].span.source)))
                    self._scan(body, callables)

    def guard_of(self, span: Any) -> tuple[tuple[int, int], ...]:
        """The (if, branch) pairs whose body contains `span`, outermost first."""
        out = [(b.start, id(b.stmt), b.index) for b in self.branches
               if b.source_id == id(span.source) and b.start <= span.start and span.end <= b.end]
        return tuple((i, k) for _, i, k in sorted(out))


def _result_span(e: ast.Expr, callables: set[str]) -> Any:
    """The span of the IR node that produces the value of `e` (None for plain aliases)."""
    if isinstance(e, ast.Chain):
        last = e.steps[-1].expr
        if isinstance(last, ast.Name) and last.id not in callables:
            return None
        return last.span
    if isinstance(e, (ast.Call, ast.BinOp, ast.UnaryOp)):
        return e.span
    return None


def match_args(call: ast.Call | None, source: dict[str, str], positional: list[tuple[str, bool]]) -> dict[str, Any]:
    """Which argument expression of `call` gave each attribute (or block parameter).

    `source` is the IR's record of the text each attribute was given as; tensor arguments (`concat(a, b)`) are
    interleaved with the attributes in the call, so positional ones are matched by text, in order.
    Returns name -> ast.Expr (or a list of them for a variadic attribute).
    """
    if call is None:
        return {}
    kw = {a.name: a.value for a in call.args if a.name is not None}
    pos = [a for a in call.args if a.name is None]
    out: dict[str, Any] = {}
    for name in source:
        if name in kw:
            out[name] = kw[name]
    i = 0
    for name, variadic in positional:
        if name not in source or name in kw:
            continue
        if variadic:
            for k in range(i, len(pos) + 1):
                if ", ".join(p.span.text for p in pos[k:]) == source[name]:
                    out[name] = [p.value for p in pos[k:]]
                    break
            break
        while i < len(pos) and pos[i].span.text != source[name]:
            i += 1
        if i < len(pos):
            out[name] = pos[i].value
            i += 1
    return out


# =====================================================================================================
# Re-inference: every attribute and shape of an instance, as expressions in the class's arguments
# =====================================================================================================
@dataclass
class NodeInfo:
    pre: dict[str, Any]  # attributes as given or defaulted, before the shape rule ran
    post: dict[str, Any]  # after it (inferred sizes filled in)
    given: dict[str, Any]  # attr -> Val (or list of Val) of what the user wrote
    ok: bool  # re-inference reproduced the IR exactly


@dataclass
class ChildInfo:
    args: dict[str, Val]  # the child's parameters and input-bound sizes, in the parent's terms


@dataclass
class Analysis:
    env: dict[str, Val]
    sym_map: dict[str, Any]
    decisions: dict[int, int | None] = field(default_factory=dict)  # id(If) -> arm taken (-1: none)
    cond_trees: dict[int, list[Node | None]] = field(default_factory=dict)
    types: dict[int, TensorType] = field(default_factory=dict)
    nodes: dict[int, NodeInfo] = field(default_factory=dict)
    children: dict[int, ChildInfo] = field(default_factory=dict)
    syms: list[str] = field(default_factory=list)


def same(a: Any, b: Any, sym_map: dict[str, Any]) -> bool:
    """Value equality, with the block's own size symbols mapped to the instance's values."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(same(x, y, sym_map) for x, y in zip(a, b)))
    if isinstance(a, Dim) or isinstance(b, Dim):
        if isinstance(a, bool) or isinstance(b, bool) or not all(isinstance(v, (int, Dim)) for v in (a, b)):
            return False
        a2 = subs(a, sym_map) if isinstance(a, Dim) else a
        return dims_equal(a2, b) is True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b) and (a is None) == (b is None)


def _same_type(t: TensorType, u: TensorType, sym_map: dict[str, Any]) -> bool:
    return t.dtype == u.dtype and same(t.dims, u.dims, sym_map)


class Analyzer:
    def __init__(self, defs: dict[str, ast.Definition], infos: dict[str, DefInfo]) -> None:
        self.defs = defs
        self.infos = infos

    def own(self, mod: Module) -> Analysis:
        """Analyse an instance in terms of its own class's arguments."""
        defn = self.defs[mod.definition or ""]
        env: dict[str, Val] = {}
        for p in defn.params:
            v = mod.args.get(p.name)
            leaf = Leaf("param", p.name)
            env[p.name] = Val(Tracked(int(v), leaf) if _is_int(v) else v, leaf)
        return self.analyze(mod, env, None, {})

    def analyze(self, mod: Module, env0: dict[str, Val], input_types: list[TensorType] | None,
                sym_map: dict[str, Any]) -> Analysis:
        defn = self.defs[mod.definition or ""]
        a = Analysis(dict(env0), sym_map)
        counter = [0]
        self._walk(defn.body, mod, a, input_types, counter)
        for i, v in enumerate(mod.inputs):
            if v.id not in a.types:
                a.types[v.id] = input_types[i] if input_types is not None else v.type
        self._body(mod.body, a, self.infos[defn.name])
        return a

    # -- the definition's statements: inputs, compile-time values, `if` decisions -------------------
    def _walk(self, stmts: tuple[ast.Stmt, ...], mod: Module, a: Analysis, input_types: list[TensorType] | None,
              counter: list[int]) -> None:
        env = a.env
        for s in stmts:
            if isinstance(s, ast.Input):
                i = counter[0]
                counter[0] += 1
                if i < len(mod.inputs):
                    self._input(s, mod.inputs[i], input_types[i] if input_types is not None else None, a)
            elif isinstance(s, ast.Assign):
                targets = list(s.targets[0].items) if (len(s.targets) == 1 and
                                                       isinstance(s.targets[0], ast.TupleExpr)) else list(s.targets)
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                try:
                    val = evaluate(s.value, env)
                    if len(targets) == 1 and names:
                        env[names[0]] = val
                    elif isinstance(val.value, tuple) and len(val.value) == len(names) == len(targets):
                        trees = val.tree.items if isinstance(val.tree, Tup) else tuple(Lit(x) for x in val.value)
                        for n, v, t in zip(names, val.value, trees):
                            env[n] = Val(v, t)
                    else:
                        raise EvalError("unpack")
                except EvalError:
                    for n in names:
                        env.pop(n, None)
            elif isinstance(s, ast.ExprStmt):
                e = s.expr
                if isinstance(e, ast.Chain) and isinstance(e.steps[-1].expr, ast.Name):
                    env.pop(e.steps[-1].expr.id, None)
            elif isinstance(s, ast.If):
                trees: list[Node | None] = []
                verdicts: list[bool | None] = []
                for cond, _ in s.branches:
                    try:
                        v = evaluate(cond, env)
                        trees.append(v.tree)
                        verdicts.append(v.value if isinstance(v.value, bool) else None)
                    except EvalError:
                        trees.append(None)
                        verdicts.append(None)
                a.cond_trees[id(s)] = trees
                decision: int | None = -1
                for k, verdict in enumerate(verdicts):
                    if verdict is None:
                        decision = None
                        break
                    if verdict:
                        decision = k
                        break
                if decision == -1 and s.orelse:
                    decision = len(s.branches)
                a.decisions[id(s)] = decision
                if decision is not None and decision >= 0:
                    body = s.orelse if decision == len(s.branches) else s.branches[decision][1]
                    self._walk(body or (), mod, a, input_types, counter)

    def _input(self, s: ast.Input, value: Value, given: TensorType | None, a: Analysis) -> None:
        env = a.env
        dims: list[Any] = []
        actual_type = given if given is not None else value.type
        for j, d in enumerate(s.type.dims):
            actual = actual_type.dims[j] if j < len(actual_type.dims) else None
            if isinstance(d, ast.Name) and d.id not in env:
                leaf = Leaf("sym", d.id)
                if given is not None:
                    val = Val(actual, tree_of(actual) if not isinstance(actual, Dim) else Lit(actual))
                elif _is_int(actual):
                    val = Val(Tracked(int(actual), leaf), leaf)
                else:
                    val = Val(Dim.sym(d.id), leaf)
                    a.sym_map[d.id] = actual
                env[d.id] = val
                a.syms.append(d.id)
                dims.append(val.value)
                continue
            dv = actual
            if given is None:
                try:
                    ev = evaluate(d, env).value
                    if same(ev, actual, a.sym_map):
                        dv = ev
                except EvalError:
                    pass
            dims.append(dv)
        a.types[value.id] = given if given is not None else TensorType(value.type.dtype, tuple(dims))

    # -- the IR body ----------------------------------------------------------------------------------
    def _body(self, body: list[OpNode | Module], a: Analysis, info: DefInfo) -> None:
        for item in body:
            if isinstance(item, OpNode):
                self._node(item, a, info)
            elif item.kind == "sequential":
                self._body(item.body, a, info)
            else:
                self._child(item, a, info)

    def _node(self, node: OpNode, a: Analysis, info: DefInfo) -> None:
        spec = OPS[node.op]
        xs = [a.types.get(v.id, v.type) for v in node.inputs]
        expr = info.exprs.get(span_key(node.span))
        call = expr if isinstance(expr, ast.Call) else None
        matched = match_args(call, node.attr_source, [(at.name, at.variadic) for at in spec.attrs if at.positional])
        given: dict[str, Any] = {}
        for name, ex in matched.items():
            try:
                given[name] = [evaluate(x, a.env) for x in ex] if isinstance(ex, list) else evaluate(ex, a.env)
            except EvalError:
                pass
        if isinstance(expr, ast.BinOp) and node.attrs.get("other") is not None and "other" not in given:
            # `x * scale`: the scalar side of the expression is the `other` operand.
            for side in (expr.right, expr.left):
                try:
                    v = evaluate(side, a.env)
                    if isinstance(v.value, (int, float)) and not isinstance(v.value, bool):
                        given["other"] = v
                        break
                except EvalError:
                    continue
        pre: dict[str, Any] = {}
        ok = True
        for at in spec.attrs:
            try:
                if at.name in given:
                    g = given[at.name]
                    if at.variadic:
                        raw = [x.value for x in g]
                        if len(raw) == 1 and isinstance(raw[0], tuple):
                            raw = list(raw[0])
                        pre[at.name] = tuple(at.coerce(x) for x in raw)
                    else:
                        pre[at.name] = at.coerce(g.value)
                elif at.name in node.attr_source or at.name in getattr(spec, "tensor_kwargs", ()):
                    pre[at.name] = node.attrs[at.name]  # given, but not an expression we can follow
                elif at.variadic:
                    pre[at.name] = () if at.default is REQUIRED else at.default
                else:
                    pre[at.name] = at.coerce(at.default)
            except (AttrError, TypeError, ValueError):
                ok = False
        post = dict(pre)
        outs: list[TensorType] = []
        if ok:
            try:
                outs = spec().infer(post, xs)
                ok = (all(same(post.get(k), v, a.sym_map) for k, v in node.attrs.items())
                      and len(outs) == len(node.outputs)
                      and all(_same_type(t, v.type, a.sym_map) for t, v in zip(outs, node.outputs)))
            except (ShapeError, AttrError, TypeError, ValueError, ArithmeticError):
                ok = False
        if not ok:
            given = {}
            pre = {}
            for at in spec.attrs:
                default = () if at.variadic else at.coerce(at.default) if at.default is not REQUIRED else None
                keep = at.name in node.attr_source or at.default is REQUIRED or at.inferred
                pre[at.name] = node.attrs[at.name] if keep or not same(node.attrs[at.name], default, {}) else default
            post = dict(node.attrs)
            outs = [v.type for v in node.outputs]
        for v, t in zip(node.outputs, outs):
            a.types[v.id] = t
        a.nodes[id(node)] = NodeInfo(pre, post, given, ok)

    def _child(self, child: Module, a: Analysis, info: DefInfo) -> None:
        cdefn = self.defs[child.definition or ""]
        expr = info.exprs.get(span_key(child.span))
        call = expr if isinstance(expr, ast.Call) else None
        matched = match_args(call, child.arg_source, [(p.name, False) for p in cdefn.params])
        cenv: dict[str, Val] = {}
        for p in cdefn.params:
            actual = child.args.get(p.name)
            val: Val | None = None
            try:
                if p.name in matched:
                    val = evaluate(matched[p.name], a.env)
                elif p.default is not None:
                    val = evaluate(p.default, cenv)
            except EvalError:
                val = None
            if val is not None and p.type_name == "float" and isinstance(val.value, (int, float)):
                val = Val(float(val.value), val.tree)
            if val is None or not same(val.value, actual, a.sym_map):
                val = Val(actual, tree_of(actual) if not isinstance(actual, Dim) else Lit(actual))
            cenv[p.name] = val
        cinputs = [a.types.get(v.id, v.type) for v in child.inputs]
        sub = self.analyze(child, cenv, cinputs, a.sym_map)
        for v in child.outputs:
            a.types[v.id] = sub.types.get(v.id, v.type)
        names = [p.name for p in cdefn.params] + sub.syms
        a.children[id(child)] = ChildInfo({n: sub.env[n] for n in names if n in sub.env})


# =====================================================================================================
# Per-op emitters
# =====================================================================================================
ALWAYS = object()  # a keyword that is always written (F.softmax needs its dim)


class Attrs:
    """An op node's attributes as Python text in one rendering context (for the emitters)."""

    def __init__(self, node: OpNode, info: NodeInfo, ctx: Ctx, device: str = "None") -> None:
        self.node = node
        self.spec = OPS[node.op]
        self.info = info
        self.ctx = ctx
        self.device = device  # an expression for the device of the forward's inputs (`x.device`)

    def value(self, name: str) -> Any:
        at = self.spec.attr(name)
        if at is not None and at.inferred and name not in self.info.given and self.info.pre.get(name) is None:
            return self.info.post[name]
        return self.info.pre[name]

    def __getitem__(self, name: str) -> str:
        return self.text(name)

    def text(self, name: str, compact: bool = False) -> str:
        g = self.info.given.get(name)
        if isinstance(g, Val):
            return g.tree.render(self.ctx)
        if isinstance(g, list):
            return ", ".join(self.items(name))
        value = self.value(name)
        if compact and isinstance(value, tuple) and value:
            parts = [literal(v, self.ctx) for v in value]
            if all(p == parts[0] for p in parts):
                return parts[0]
        return literal(value, self.ctx)

    def tree(self, name: str) -> Node:
        """The attribute as an expression tree, for operator contexts where precedence decides parentheses."""
        g = self.info.given.get(name)
        if isinstance(g, Val):
            return g.tree
        return Lit(self.value(name))

    def items(self, name: str) -> list[str]:
        """The elements of a variadic attribute (view's shape), as written."""
        g = self.info.given.get(name)
        if isinstance(g, list):
            if len(g) == 1 and isinstance(g[0].value, tuple) and isinstance(g[0].tree, Tup):
                return [t.render(self.ctx) for t in g[0].tree.items]
            return [x.tree.render(self.ctx) for x in g]
        return [literal(v, self.ctx) for v in self.value(name)]

    def include(self, name: str, torch_default: Any) -> bool:
        if torch_default is ALWAYS or name in self.info.given:
            return True
        at = self.spec.attr(name)
        default = at.coerce(torch_default) if at is not None else torch_default
        return not same(self.value(name), default, {})

    def kw(self, name: str, torch_default: Any, keyword: str | None = None) -> str | None:
        if not self.include(name, torch_default):
            return None
        return f"{keyword or name}={self.text(name, compact=True)}"

    def need(self, name: str) -> None:
        self.ctx.needs.add(name)


def _call(fn: str, args: list[str | None]) -> str:
    return f"{fn}({', '.join(a for a in args if a is not None)})"


class Emitter:
    """How one op is written in PyTorch.

    `module(a)` gives the `nn.Module` expression for __init__ (None when torch has no module for the op);
    `forward(xs, a)` gives the functional expression over the input variables `xs`. An op becomes a submodule
    when it has parameters or buffers, when `always_module` is set (Dropout follows `self.training`), or when
    the user named it (`-> MaxPool2d(2) as pool`) or put it in a sequential container.
    """

    always_module = False
    helper: str | None = None  # source of a class the generated file must define (ops torch lacks)

    def module(self, a: Attrs) -> str | None:
        return None

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        """The call of the submodule in forward (`self.lstm(x, (h0, c0))`)."""
        return f"{callee}({', '.join(xs)})"

    def pack(self, targets: list[str], a: Attrs) -> str:
        """The assignment targets for the outputs (`out, (h, c)` for an LSTM)."""
        return ", ".join(targets)

    def forward(self, xs: list[str], a: Attrs) -> str:
        raise Unrenderable(f"`{a.node.op}` is only available as a module")

    @property
    def has_module(self) -> bool:
        return type(self).module is not Emitter.module


class Layer(Emitter):
    """An op that always is an nn.Module: nn.Conv2d(in_channels, out_channels, kernel_size, stride=..., ...)."""

    always_module = True

    def __init__(self, cls: str, pos: tuple[str, ...], kw: dict[str, Any] | None = None) -> None:
        self.cls = cls
        self.pos = pos
        self.kw = kw or {}

    def module(self, a: Attrs) -> str | None:
        return _call(self.cls, [a.text(p, compact=True) for p in self.pos] + [a.kw(k, d) for k, d in self.kw.items()])


class Func(Emitter):
    """A stateless op: a function in forward, or its nn.Module counterpart when it must be a module."""

    def __init__(self, fn: str, pos: tuple[str, ...] = (), kw: dict[str, Any] | None = None,
                 module: str | None = None, module_pos: tuple[str, ...] | None = None,
                 module_kw: dict[str, Any] | None = None) -> None:
        self.fn = fn
        self.pos = pos
        self.kw = kw or {}
        self.cls = module
        self.module_pos = pos if module_pos is None else module_pos
        self.module_kw = self.kw if module_kw is None else module_kw

    def module(self, a: Attrs) -> str | None:
        if self.cls is None:
            return None
        return _call(self.cls, [a.text(p, compact=True) for p in self.module_pos]
                     + [a.kw(k, d) for k, d in self.module_kw.items()])

    @property
    def has_module(self) -> bool:
        return self.cls is not None

    def forward(self, xs: list[str], a: Attrs) -> str:
        if self.fn.startswith("F."):
            a.need("F")
        return _call(self.fn, list(xs) + [a.text(p, compact=True) for p in self.pos]
                     + [a.kw(k, d) for k, d in self.kw.items()])


# Ops whose backward does not read their own output: a ReLU right after one may overwrite that output in
# place, as torchvision's `nn.ReLU(inplace=True)` does, saving a full activation copy per ReLU.
_OVERWRITABLE = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
                 "Linear", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "add", "sub"}
_USES: weakref.WeakKeyDictionary[Module, dict[int, int]] = weakref.WeakKeyDictionary()


def _uses(root: Module) -> dict[int, int]:
    """How often each value is read in the whole network: by an op, or as a block's or the network's output."""
    if root not in _USES:
        counts: dict[int, int] = {}
        for item in [root, *root.walk()]:
            reads = item.inputs if isinstance(item, OpNode) else item.outputs
            for v in reads:
                counts[v.id] = counts.get(v.id, 0) + 1
        _USES[root] = counts
    return _USES[root]


def _may_overwrite_input(node: OpNode) -> bool:
    """True when the node's one input is read by nothing else and its producer's backward does not need it."""
    (x,) = node.inputs
    if not isinstance(x.producer, OpNode) or x.producer.op not in _OVERWRITABLE:
        return False
    root = node.parent
    while root is not None and root.parent is not None:
        root = root.parent
    return root is not None and _uses(root).get(x.id) == 1


class ReLU(Func):
    def forward(self, xs: list[str], a: Attrs) -> str:
        if _may_overwrite_input(a.node):
            a.need("F")
            return f"F.relu({xs[0]}, inplace=True)"
        return super().forward(xs, a)


class Expr(Emitter):
    """A stateless op written as an expression: `x.reshape(B, -1)`, `a @ b`, `torch.cat([a, b], dim=1)`."""

    def __init__(self, fn: Callable[[list[str], Attrs], str]) -> None:
        self.fn = fn

    def forward(self, xs: list[str], a: Attrs) -> str:
        return self.fn(xs, a)


def _binary(symbol: str) -> Expr:
    """`x + y`, `x * (2 * k - 1)`: built as an expression tree, so precedence decides the parentheses."""
    def fn(xs: list[str], a: Attrs) -> str:
        other = Var(xs[1]) if len(xs) == 2 else a.tree("other")
        return Bin(symbol, Var(xs[0]), other).render(a.ctx)
    return Expr(fn)


def _dim_kw(a: Attrs, default: Any = 0) -> str | None:
    return a.kw("dim", default)


def _conv(n: int, transposed: bool) -> Layer:
    if transposed:
        kw = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1}
        return Layer(f"nn.ConvTranspose{n}d", ("in_channels", "out_channels", "kernel_size"), kw)
    kw = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}
    return Layer(f"nn.Conv{n}d", ("in_channels", "out_channels", "kernel_size"), kw)


def _pool(n: int, kind: str) -> Func:
    if kind == "max":
        kw: dict[str, Any] = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}
        return Func(f"F.max_pool{n}d", ("kernel_size",), kw, module=f"nn.MaxPool{n}d")
    kw = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True}
    return Func(f"F.avg_pool{n}d", ("kernel_size",), kw, module=f"nn.AvgPool{n}d")


def _batchnorm(n: int) -> Layer:
    return Layer(f"nn.BatchNorm{n}d", ("num_features",),
                 {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True})


_FLATTEN_MODULE_KW = {"start_dim": 1, "end_dim": -1}


class Recurrent(Layer):
    """nn.RNN / nn.GRU / nn.LSTM: called with the initial state when given, outputs `out, h` or `out, (h, c)`."""

    def __init__(self, cls: str, extra: dict[str, Any], states: int) -> None:
        kw = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        super().__init__(cls, ("input_size", "hidden_size"), {**kw, **extra})
        self.states = states

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        if len(xs) == 1:
            return f"{callee}({xs[0]})"
        state = f"({', '.join(xs[1:])})" if self.states == 2 else xs[1]
        return f"{callee}({xs[0]}, {state})"

    def pack(self, targets: list[str], a: Attrs) -> str:
        if self.states == 2:
            return f"{targets[0]}, ({targets[1]}, {targets[2]})"
        return ", ".join(targets)


def _mask(a: Attrs, xs: list[str], name: str) -> str | None:
    idx = a.value(name)
    return None if idx is None else xs[idx]


class MultiheadAttention(Layer):
    """nn.MultiheadAttention; netc's boolean attn_mask says where attention is allowed, torch's the opposite."""

    def __init__(self) -> None:
        super().__init__("nn.MultiheadAttention", ("embed_dim", "num_heads"),
                         {"dropout": 0.0, "bias": True, "kdim": None, "vdim": None, "batch_first": False})

    def module(self, a: Attrs) -> str | None:
        kw = [a.kw(k, d) for k, d in self.kw.items() if k not in ("kdim", "vdim")]
        e = a.value("embed_dim")
        for k in ("kdim", "vdim"):  # torch's None means embed_dim
            if a.value(k) is not None and (k in a.info.given or a.value(k) != e):
                kw.append(f"{k}={a.text(k)}")
        return _call(self.cls, [a.text(p) for p in self.pos] + kw)

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        node = a.node
        masks = [i for i in (a.value("attn_mask"), a.value("key_padding_mask")) if i is not None]
        main = [x for i, x in enumerate(xs) if i not in masks]
        q, k, v = (main[0],) * 3 if len(main) == 1 else main[:3]
        args = [q, k, v]
        kpm = _mask(a, xs, "key_padding_mask")
        if kpm is not None:
            args.append(f"key_padding_mask={kpm}")
        args.append(f"need_weights={a.value('need_weights')!r}")
        mask = _mask(a, xs, "attn_mask")
        seq = 1 if (a.value("batch_first") and node.inputs[0].type.rank == 3) else 0
        future = f"torch.ones({q}.shape[{seq}], {k}.shape[{seq}], dtype=torch.bool, device={q}.device).triu(1)"
        if mask is not None:
            is_bool = node.inputs[a.value("attn_mask")].type.dtype == "bool"
            if a.value("causal"):  # torch's mask says what is hidden: the future, and what netc's mask forbids
                hidden = f"~{mask} | {future}" if is_bool else None
                args.append(f"attn_mask={hidden}" if hidden else
                            f"attn_mask={mask}.masked_fill({future}, float('-inf'))")
            else:
                args.append(f"attn_mask=~{mask}" if is_bool else f"attn_mask={mask}")
        elif a.value("causal"):
            args.append(f"attn_mask={future}")
        if a.value("need_weights"):
            args.append(a.kw("average_attn_weights", True) or "average_attn_weights=True")
        call = f"{callee}({', '.join(args)})"
        return call if a.value("need_weights") else f"{call}[0]"


def _sdpa(xs: list[str], a: Attrs) -> str:
    a.need("F")
    node = a.node
    q, k, v = xs[:3]
    args = [q, k, v]
    mask, kpm = _mask(a, xs, "attn_mask"), _mask(a, xs, "key_padding_mask")
    # netc's masks combine: allowed = attn_mask & ~key_padding_mask & (causal tril). torch takes is_causal only
    # without an attn_mask, so with several they become one boolean mask (a float attn_mask gets -inf).
    allowed: list[str] = []
    if kpm is not None:  # True marks padding; sdpa's boolean mask is True where attention is allowed
        lead = max(node.inputs[0].type.rank - 2, 0)
        index = ", ".join([":"] + ["None"] * lead + [":"]) if lead else ":"
        allowed.append(f"~{kpm}[{index}]")
    causal = bool(a.value("causal"))
    if causal and (mask is not None or kpm is not None):
        allowed.append(f"torch.ones({q}.shape[-2], {k}.shape[-2], dtype=torch.bool, device={q}.device).tril()")
    float_mask = mask is not None and node.inputs[a.value("attn_mask")].type.dtype != "bool"
    if mask is not None and float_mask and allowed:
        args.append(f"attn_mask=torch.where({' & '.join(allowed)}, {mask}, float('-inf'))")
    elif mask is not None or allowed:
        args.append(f"attn_mask={' & '.join(([mask] if mask is not None else []) + allowed)}")
    if a.include("dropout", 0.0):
        args.append(f"dropout_p={a['dropout']} if self.training else 0.0")
    if (causal or "causal" in a.info.given) and mask is None and kpm is None:
        args.append(f"is_causal={a['causal']}")
    scale = a.kw("scale", None)
    if scale:
        args.append(scale)
    return f"F.scaled_dot_product_attention({', '.join(args)})"


_POSITIONAL_FORWARD = """
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[self.dim]
        shape = [1] * x.dim()
        shape[self.dim] = steps
        shape[-1] = x.shape[-1]
        return x + self.{table}[:steps].reshape(shape)"""

SINUSOIDAL_HELPER = '''class SinusoidalPositionalEncoding(nn.Module):
    """x + pe[:L] along `dim`: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d))."""

    def __init__(self, d_model: int, max_len: int = 5000, dim: int = -2) -> None:
        super().__init__()
        self.dim = dim
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        inv_freq = torch.pow(10000.0, -torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * inv_freq)
        pe[:, 1::2] = torch.cos(position * inv_freq)
        self.register_buffer("pe", pe)
''' + _POSITIONAL_FORWARD.format(table="pe")

LEARNED_HELPER = '''class LearnedPositionalEncoding(nn.Module):
    """x + weight[:L] along `dim`: a learned table of positions, like an Embedding of arange(L)."""

    def __init__(self, d_model: int, max_len: int = 5000, dim: int = -2) -> None:
        super().__init__()
        self.dim = dim
        self.weight = nn.Parameter(torch.randn(max_len, d_model))
''' + _POSITIONAL_FORWARD.format(table="weight")


class Positional(Layer):
    """The positional encodings torch has no module for: a small class in the generated file."""

    def __init__(self, name: str, helper: str) -> None:
        super().__init__(name, ("d_model",), {"max_len": 5000, "dim": -2})
        self.helper = helper


def _reduce(method: str) -> Expr:
    def fn(xs: list[str], a: Attrs) -> str:
        args = [] if a.value("dim") is None else [f"dim={a.text('dim', compact=True)}"]
        if a.value("keepdim") and not args and not method.endswith(")"):  # x.sum(keepdim=True) needs its dims
            args.append(f"dim=tuple(range({xs[0]}.dim()))")
        if a.value("keepdim"):
            if not args and not method.endswith(")"):
                args.append("dim=None")  # x.mean(keepdim=True) is a TypeError; x.mean(dim=None, keepdim=True) is not
            args.append("keepdim=True")
        if method.endswith(")"):  # torch.amax(X) -> torch.amax(x, dim=...)
            return _call(method[:-3], [xs[0]] + args)
        return _call(f"{xs[0]}.{method}", args)
    return Expr(fn)


def _index(xs: list[str], a: Attrs) -> str:
    parts = [literal(it, a.ctx) for it in a.value("items")]
    return f"{xs[0]}[{', '.join(parts) if parts else '...'}]"


def _arange(xs: list[str], a: Attrs) -> str:
    from ..dsl.types import DTYPES

    if "end" in a.info.given:
        args = [a["start"], a["end"]]
    else:
        args = [a["start"]]  # arange(end): the only argument binds `start`
    if a.include("step", 1):
        args.append(a["step"])
    dtype = a.value("dtype") or a.node.outputs[0].type.dtype
    args += [f"dtype=torch.{DTYPES[dtype]}", f"device={a.device}"]
    return _call("torch.arange", args)


def _resample_args(a: Attrs) -> list[str | None]:
    return [a.kw("size", None), a.kw("scale_factor", None), a.kw("mode", "nearest"), a.kw("align_corners", None)]


class Resample(Func):
    def __init__(self, module: str | None) -> None:
        super().__init__("F.interpolate", module=module)

    def module(self, a: Attrs) -> str | None:
        return None if self.cls is None else _call(self.cls, _resample_args(a))

    def forward(self, xs: list[str], a: Attrs) -> str:
        a.need("F")
        return _call("F.interpolate", [xs[0]] + _resample_args(a))

# One entry per canonical op name (netc.dsl.ops.OPS). Adding an op = one spec in dsl/ops + one entry here.
EMITTERS: dict[str, Emitter] = {
    # dense
    "Linear": Layer("nn.Linear", ("in_features", "out_features"), {"bias": True}),
    "Embedding": Layer("nn.Embedding", ("num_embeddings", "embedding_dim"), {"padding_idx": None}),
    # convolutions
    "Conv1d": _conv(1, False), "Conv2d": _conv(2, False), "Conv3d": _conv(3, False),
    "ConvTranspose1d": _conv(1, True), "ConvTranspose2d": _conv(2, True), "ConvTranspose3d": _conv(3, True),
    # pooling
    "MaxPool1d": _pool(1, "max"), "MaxPool2d": _pool(2, "max"),
    "AvgPool1d": _pool(1, "avg"), "AvgPool2d": _pool(2, "avg"),
    "AdaptiveAvgPool1d": Func("F.adaptive_avg_pool1d", ("output_size",), module="nn.AdaptiveAvgPool1d"),
    "AdaptiveAvgPool2d": Func("F.adaptive_avg_pool2d", ("output_size",), module="nn.AdaptiveAvgPool2d"),
    "AdaptiveMaxPool1d": Func("F.adaptive_max_pool1d", ("output_size",), module="nn.AdaptiveMaxPool1d"),
    "AdaptiveMaxPool2d": Func("F.adaptive_max_pool2d", ("output_size",), module="nn.AdaptiveMaxPool2d"),
    # normalisation, regularisation
    "BatchNorm1d": _batchnorm(1), "BatchNorm2d": _batchnorm(2),
    "LayerNorm": Layer("nn.LayerNorm", ("normalized_shape",), {"eps": 1e-5, "elementwise_affine": True, "bias": True}),
    "Dropout": Layer("nn.Dropout", (), {"p": 0.5}),
    # tensor plumbing
    "Flatten": Func("torch.flatten", ("start_dim",), {"end_dim": -1}, module="nn.Flatten", module_pos=(),
                    module_kw=_FLATTEN_MODULE_KW),
    "flatten": Func("torch.flatten", ("start_dim",), {"end_dim": -1}, module="nn.Flatten", module_pos=(),
                    module_kw=_FLATTEN_MODULE_KW),
    "view": Expr(lambda xs, a: f"{xs[0]}.reshape({', '.join(a.items('shape'))})"),
    "transpose": Expr(lambda xs, a: f"{xs[0]}.transpose({a['dim0']}, {a['dim1']})"),
    "permute": Expr(lambda xs, a: f"{xs[0]}.permute({', '.join(a.items('dims'))})"),
    "concat": Expr(lambda xs, a: _call("torch.cat", [f"[{', '.join(xs)}]", _dim_kw(a)])),
    "split": Expr(lambda xs, a: _call("torch.split", [xs[0], a.text("split_size_or_sections", compact=True),
                                                      _dim_kw(a)])),
    "chunk": Expr(lambda xs, a: _call("torch.chunk", [xs[0], a["chunks"], _dim_kw(a)])),
    # arithmetic
    "add": _binary("+"), "sub": _binary("-"), "mul": _binary("*"), "div": _binary("/"),
    "matmul": Expr(lambda xs, a: Bin("@", Var(xs[0]), Var(xs[1])).render(a.ctx)),
    # activations
    "relu": ReLU("F.relu", module="nn.ReLU"),
    "leaky_relu": Func("F.leaky_relu", (), {"negative_slope": 0.01}, module="nn.LeakyReLU"),
    "elu": Func("F.elu", (), {"alpha": 1.0}, module="nn.ELU"),
    "gelu": Func("F.gelu", (), {"approximate": "none"}, module="nn.GELU"),
    "silu": Func("F.silu", module="nn.SiLU"),
    "sigmoid": Func("torch.sigmoid", module="nn.Sigmoid"),
    "tanh": Func("torch.tanh", module="nn.Tanh"),
    "softplus": Func("F.softplus", (), {"beta": 1.0}, module="nn.Softplus"),
    "exp": Func("torch.exp"),
    "softmax": Func("F.softmax", (), {"dim": ALWAYS}, module="nn.Softmax"),
    "log_softmax": Func("F.log_softmax", (), {"dim": ALWAYS}, module="nn.LogSoftmax"),
    # recurrent
    "RNN": Recurrent("nn.RNN", {"nonlinearity": "tanh"}, 1),
    "GRU": Recurrent("nn.GRU", {}, 1),
    "LSTM": Recurrent("nn.LSTM", {"proj_size": 0}, 2),
    # attention
    "MultiheadAttention": MultiheadAttention(),
    "scaled_dot_product_attention": Expr(_sdpa),
    "SinusoidalPositionalEncoding": Positional("SinusoidalPositionalEncoding", SINUSOIDAL_HELPER),
    "LearnedPositionalEncoding": Positional("LearnedPositionalEncoding", LEARNED_HELPER),
    # reductions, indexing
    "sum": _reduce("sum"), "mean": _reduce("mean"), "max": _reduce("torch.amax(X)"),
    "min": _reduce("torch.amin(X)"), "argmax": _reduce("torch.argmax(X)"),
    "index": Expr(_index),
    "arange": Expr(_arange),
    # resampling
    "Upsample": Resample("nn.Upsample"),
    "interpolate": Resample(None),
}
HELPER_NAMES = ("SinusoidalPositionalEncoding", "LearnedPositionalEncoding")

# The later op families' emitters (codegen/torch_ops.py builds on the emitter classes above).
from .torch_ops import EMITTERS as _MORE_EMITTERS  # noqa: E402
from .torch_ops import HELPER_NAMES as _MORE_HELPERS  # noqa: E402

EMITTERS.update(_MORE_EMITTERS)
HELPER_NAMES += _MORE_HELPERS


# =====================================================================================================
# Rendering one instance: its __init__ and forward lines, in its class's terms
# =====================================================================================================
Guard = tuple[tuple[int, int], ...]


@dataclass
class Item:
    key: str  # path relative to the class, the identity of a line across instances
    guard: Guard
    raw: str  # the IR name, for flag names
    text: str
    attr: str | None = None  # init items: the attribute they assign
    shapes: list[list[str]] = field(default_factory=list)  # forward items: output shapes, dim by dim
    used: frozenset[tuple[str, str]] = frozenset()


@dataclass
class View:
    mod: Module
    a: Analysis
    init: list[Item]
    fwd: list[Item]
    ret: str
    params: list[str]
    needs: set[str]


@dataclass
class Unit:
    key: str
    guard: Guard
    raw: str
    span: Any
    inputs: list[Value]
    outputs: list[Value]
    make: Callable[[list[str]], tuple[str, Ctx, Callable[[list[str]], str]]]


@dataclass
class Arg:
    raw: str
    kind: str  # "param" or "sym"
    py: str
    annotation: str
    default: Any = REQUIRED

    @property
    def has_default(self) -> bool:
        return self.default is not REQUIRED


@dataclass
class ClassPlan:
    name: str
    definition: str
    views: list[View]
    signature: list[Arg] = field(default_factory=list)
    keyword_only: bool = False
    init_lines: list[str] = field(default_factory=list)
    fwd_lines: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    returns: int = 1
    doc: str = ""


class DefNames:
    """The identifiers of one definition, shared by all its instances so that they agree."""

    def __init__(self, defname: str, reserved_globals: set[str]) -> None:
        scope = f"`{defname}`"
        self.attrs = attribute_namespace(scope)
        self.locals = local_namespace(scope)
        self.args = local_namespace(scope, reserved_globals)

    def arg(self, raw: str) -> str:
        return self.args.name(raw, ("arg", raw), what="parameter")

    def init_ctx(self) -> Ctx:
        return Ctx(lambda kind, raw: self.arg(raw))

    def fwd_ctx(self) -> Ctx:
        return Ctx(lambda kind, raw: ("self." + self.attrs.name(raw, ("param", raw), what="parameter"))
                   if kind == "param" else self.locals.name(raw, ("sym", raw), what="size"))

    def comment_ctx(self) -> Ctx:
        return Ctx(lambda kind, raw: self.arg(raw) if kind == "param" else self.locals.name(raw, ("sym", raw)))


def fmt_call(fn: str, items: list[str]) -> str:
    one = f"{fn}({', '.join(items)})"
    if len(one) <= 88 and "\n" not in one:
        return one
    body = "".join("    " + it.replace("\n", "\n    ") + ",\n" for it in items)
    return f"{fn}(\n{body})"


class Renderer:
    """Renders the instances of one definition."""

    def __init__(self, gen: Generator, defname: str) -> None:
        self.gen = gen
        self.defname = defname
        self.dinfo = gen.infos[defname]
        self.names = gen.def_names[defname]

    def render(self, mod: Module, a: Analysis) -> View:
        self.mod, self.a = mod, a
        self.init: list[Item] = []
        self.units: list[Unit] = []
        self.needs: set[str] = set()
        self.inline: list[Module] = []  # containers written inline (nn.ModuleDict), not called as one
        first = self.dinfo.inputs[0].name if self.dinfo.inputs else None
        self.device = f"{self.names.locals.name(first, ('var', first))}.device" if first else "None"
        self._walk(mod.body, None, None)
        return self._name_values(mod, a)

    def _rel(self, path: str) -> str:
        return path[len(self.mod.path) + 1:] if self.mod.path else path

    # -- __init__ side ----------------------------------------------------------------------------
    def _module_text(self, el: OpNode | Module, ctx: Ctx) -> str:
        if isinstance(el, OpNode):
            text = EMITTERS[el.op].module(Attrs(el, self.a.nodes[id(el)], ctx))
            if text is None:
                raise Unrenderable(f"`{el.op}` has no nn.Module form")
            return text
        if el.kind == "sequential":
            if not self._seq_able(el):
                raise Unrenderable("nested container")
            items = [self._module_text(x, ctx) for x in el.body]
            if [x.name for x in el.body] == [str(i) for i in range(len(el.body))]:
                return fmt_call("nn.Sequential", items)
            # items named by a pattern (`denselayer1`, `encoder_layer_0`) keep their names as keys
            ctx.needs.add("OrderedDict")
            pairs = [f"({x.name!r}, {t})" for x, t in zip(el.body, items)]
            one = "[" + ", ".join(pairs) + "]"
            if len(one) > 88 or "\n" in one:
                one = "[\n" + "".join("    " + p.replace("\n", "\n    ") + ",\n" for p in pairs) + "]"
            return fmt_call("nn.Sequential", [fmt_call("OrderedDict", [one])])
        return self._call_text(el, ctx)

    def _call_text(self, el: Module, ctx: Ctx) -> str:
        plan = self.gen.class_of[id(el)]
        cinfo = self.a.children[id(el)]
        parts = []
        for arg in plan.signature:
            val = cinfo.args.get(arg.raw)
            if val is None:
                raise Unrenderable(f"argument {arg.raw} of {plan.name}")
            if arg.has_default and isinstance(val.tree, Lit) and same(val.value, arg.default, {}):
                continue
            parts.append(f"{arg.py}={val.tree.render(ctx)}")
        return fmt_call(plan.name, parts)

    def _seq_able(self, m: Module) -> bool:
        """Can this container be an nn.Sequential called as one (a chain of single-tensor modules)?"""
        if len(m.inputs) != 1 or len(m.outputs) != 1 or not m.body:
            return False
        prev = m.inputs[0]
        for el in m.body:
            if isinstance(el, OpNode):
                if not EMITTERS[el.op].has_module or el.op in ("split", "chunk"):
                    return False
            elif el.kind == "sequential" and not self._seq_able(el):
                return False
            if len(el.inputs) != 1 or len(el.outputs) != 1 or el.inputs[0].id != prev.id:
                return False
            prev = el.outputs[0]
        return m.outputs[0].id == prev.id

    def _add_module(self, el: OpNode | Module, text: str, ctx: Ctx, prefix: str | None,
                    entries: list[tuple[str, str, set[tuple[str, str]]]] | None) -> str:
        if prefix is None:
            guard = self.dinfo.guard_of(el.span)
            if registered_name(el.name):
                # `block1-0`, `class`: registered under the source's name, so the state_dict keys follow it
                if guard:
                    raise Unrenderable(f"a layer named `{el.name}` inside an `if`")
                attr, ref = None, f"getattr(self, {el.name!r})"
                line = f"self.add_module({el.name!r}, {text})"
            else:
                attr = self.names.attrs.name(el.name, ("mod", el.name), what="layer")
                ref = f"self.{attr}"
                line = f"{ref} = {text}"
            for pname, key in (el.tied.items() if isinstance(el, OpNode) else ()):
                # weight tying: the same Parameter under both names, as torch's state_dict lists it
                base = self.mod.path + "." if self.mod.path else ""
                if not key.startswith(base):
                    raise Unrenderable(f"`{el.name}` shares a weight with `{key}`, outside its block")
                tied_key = self.gen.generated_key(self.mod, key[len(base):])
                line += f"\n{ref}.{pname} = self.get_parameter({tied_key!r})"
            self.init.append(Item(self._rel(el.path), guard, el.name, line, attr=attr, used=frozenset(ctx.used)))
            self.needs |= ctx.needs
            return ref
        assert entries is not None
        entries.append((el.name, text, ctx.used))
        self.needs |= ctx.needs
        return f"{prefix}[{el.name!r}]"

    # -- forward side -----------------------------------------------------------------------------
    def _walk(self, body: list[OpNode | Module], prefix: str | None,
              entries: list[tuple[str, str, set[tuple[str, str]]]] | None) -> None:
        for el in body:
            callee: str | None = None
            if isinstance(el, OpNode):
                em = EMITTERS[el.op]
                info = self.a.nodes[id(el)]
                as_module = bool(el.params or el.buffers) or em.always_module or \
                    (el.named and em.has_module and prefix is None)
                if em.helper is not None:
                    self.needs.add("helper:" + em.helper)
                if as_module:
                    ctx = self.names.init_ctx()
                    callee = self._add_module(el, self._module_text(el, ctx), ctx, prefix, entries)

                    def mcall(xs: list[str], el: OpNode = el, info: NodeInfo = info, em: Emitter = em,
                              callee: str = callee) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                        ctx = self.names.fwd_ctx()
                        a = Attrs(el, info, ctx, self.device)
                        return em.module_call(callee, xs, a), ctx, functools.partial(em.pack, a=a)
                    self._unit(el, mcall)
                else:
                    def make(xs: list[str], el: OpNode = el, info: NodeInfo = info,
                             em: Emitter = em) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                        ctx = self.names.fwd_ctx()
                        a = Attrs(el, info, ctx, self.device)
                        return em.forward(xs, a), ctx, functools.partial(em.pack, a=a)
                    self._unit(el, make)
                continue
            elif el.kind == "sequential" and not self._seq_able(el):
                sub: list[tuple[str, str, set[tuple[str, str]]]] = []
                if prefix is None:
                    attr = self.names.attrs.name(el.name, ("mod", el.name), what="layer")
                    sub_prefix = f"self.{attr}"
                else:
                    sub_prefix = f"{prefix}[{el.name!r}]"
                self.inline.append(el)
                self._walk(el.body, sub_prefix, sub)
                if sub:
                    text = fmt_call("nn.ModuleDict", ["{" + ", ".join(f"{k!r}: {t}" for k, t, _ in sub) + "}"]) \
                        if len(sub) == 1 else "nn.ModuleDict({\n" + "".join(
                            f"    {k!r}: {t.replace(chr(10), chr(10) + '    ')},\n" for k, t, _ in sub) + "})"
                    ctx = self.names.init_ctx()
                    for _, _, used in sub:
                        ctx.used |= used
                    self._add_module(el, text, ctx, prefix, entries)
                continue
            else:
                ctx = self.names.init_ctx()
                callee = self._add_module(el, self._module_text(el, ctx), ctx, prefix, entries)

            def call(xs: list[str], callee: str = callee) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                return f"{callee}({', '.join(xs)})", self.names.fwd_ctx(), ", ".join
            self._unit(el, call)

    def _unit(self, el: OpNode | Module, make: Callable[[list[str]], tuple[str, Ctx, Any]]) -> None:
        key = self._rel(el.path)
        raw = key.replace(".", "_") if el.name.isdigit() else el.name  # `head.0` -> `head_0`
        self.units.append(Unit(key, self.dinfo.guard_of(el.span), raw, el.span, list(el.inputs),
                               list(el.outputs), make))

    def _name_values(self, mod: Module, a: Analysis) -> View:
        """Choose a variable for every value: the user's names where they gave one, chains reuse a name."""
        units, loc = self.units, self.names.locals
        uses: dict[int, list[int]] = {}
        for i, u in enumerate(units):
            for v in u.inputs:
                uses.setdefault(v.id, []).append(i)
        for v in mod.outputs:
            uses.setdefault(v.id, []).append(len(units))
        produced: dict[int, int] = {}
        pref: dict[int, str] = {}
        consumed: dict[SpanKey, int] = {}
        for i, u in enumerate(units):
            for v in u.outputs:
                produced[v.id] = i
            k = span_key(u.span)
            names = self.dinfo.bindings.get(k) or self.dinfo.out_names.get(k)
            if names:
                start = consumed.get(k, 0)
                for j, v in enumerate(u.outputs):
                    if start + j < len(names):
                        pref[v.id] = names[start + j]
                consumed[k] = start + len(u.outputs)
        for m in self.inline:
            names = self.dinfo.bindings.get(span_key(m.span)) or self.dinfo.out_names.get(span_key(m.span))
            for v, n in zip(m.outputs, names or []):
                pref.setdefault(v.id, n)
        input_ids = {v.id for v in mod.inputs}
        prop: dict[int, str] = {}
        for i in range(len(units) - 1, -1, -1):  # a chain's intermediates may take the name of its result
            u = units[i]
            out0 = u.outputs[0].id if len(u.outputs) == 1 else None
            name = pref.get(out0) or prop.get(out0) if out0 is not None else None
            if name and u.inputs:
                src = u.inputs[0]
                p = produced.get(src.id)
                if (src.id not in pref and src.id not in input_ids and uses.get(src.id) == [i]
                        and p is not None and len(units[p].outputs) == 1):
                    prop[src.id] = name

        def last(vid: int) -> int:
            return max(uses.get(vid, [-1]))

        var: dict[int, str] = {}
        holder: dict[str, int] = {}
        params = []
        for i, v in enumerate(mod.inputs):
            raw = self.dinfo.inputs[i].name if i < len(self.dinfo.inputs) else v.name
            n = loc.name(raw, ("var", raw), what="input")
            var[v.id] = n
            holder[n] = v.id
            params.append(n)
        # Optional inputs (`= randn`) this call leaves out are still parameters of forward (None, then made
        # there), so every instance has the same signature; the block's body uses the value made inside.
        for inp in self.dinfo.inputs[len(mod.inputs):]:
            if inp.name not in getattr(mod, "input_defaults", {}):
                break
            n = loc.name(inp.name, ("var", inp.name), what="input")
            params.append(n)
            for v in [v for u in units for v in u.inputs] + list(mod.outputs):
                if v.producer is None and v.name == inp.name and v.id not in var:
                    var[v.id] = n
                    holder[n] = v.id
                    input_ids.add(v.id)
        fwd: list[Item] = []
        for i, u in enumerate(units):
            args = [var[v.id] for v in u.inputs]
            expr, ctx, pack = u.make(args)
            self.needs |= ctx.needs
            targets = []
            for k, v in enumerate(u.outputs):
                if not uses.get(v.id):
                    targets.append("_")
                    continue
                # the user's name; else continue the chain in its input's variable (a fresh `x` when that
                # input is a parameter of forward); else the name of the chain's result; else the layer's name
                cands: list[tuple[str, bool]] = []  # (raw name, or an existing variable when True)
                if v.id in pref:
                    cands.append((pref[v.id], False))
                if k == 0 and u.inputs and last(u.inputs[0].id) == i:
                    if u.inputs[0].id in input_ids:
                        cands.append(("x", False))
                    cands.append((var[u.inputs[0].id], True))
                if v.id in prop:
                    cands.append((prop[v.id], False))
                cands.append((u.raw, False))
                cands += [(f"{u.raw}_{j}", False) for j in range(1, len(units) + len(mod.inputs) + 2)]
                chosen = None
                for c, existing in cands:
                    # a name not handed out yet holds nothing, so registering it only when chosen keeps the
                    # namespace (and the rename notes) to the names the code really uses
                    name = c if existing else loc.get(("var", c))
                    if name is None:
                        chosen = loc.name(c, ("var", c), what="value")
                        break
                    if holder.get(name) is None or last(holder[name]) <= i:
                        chosen = name
                        break
                assert chosen is not None
                var[v.id] = chosen
                holder[chosen] = v.id
                targets.append(chosen)
            text = expr if all(t == "_" for t in targets) else f"{pack(targets)} = {expr}"
            cctx = self.names.comment_ctx()
            shapes = [[self._dim_text(d, cctx) for d in a.types.get(v.id, v.type).dims] for v in u.outputs]
            fwd.append(Item(u.key, u.guard, u.raw, text, shapes=shapes, used=frozenset(ctx.used)))
        ret = "return " + ", ".join(var[v.id] for v in mod.outputs)
        return View(mod, a, self.init, fwd, ret, params, self.needs)

    @staticmethod
    def _dim_text(d: Any, ctx: Ctx) -> str:
        if isinstance(d, Tracked):
            return d.tree.render(ctx)
        if isinstance(d, Dim):
            return render_dim(d, ctx)
        return str(d)


# =====================================================================================================
# Merging instances into classes
# =====================================================================================================
def _topo(seqs: list[list[str]]) -> list[str] | None:
    """One order of all keys that keeps every instance's order (None when the instances disagree)."""
    first: dict[str, tuple[int, int]] = {}
    succ: dict[str, set[str]] = {}
    indeg: dict[str, int] = {}
    for vi, seq in enumerate(seqs):
        for pos, k in enumerate(seq):
            first.setdefault(k, (vi, pos))
            succ.setdefault(k, set())
            indeg.setdefault(k, 0)
            if pos and k not in succ[seq[pos - 1]]:
                succ[seq[pos - 1]].add(k)
                indeg[k] += 1
    ready = sorted((first[k], k) for k, d in indeg.items() if d == 0)
    out: list[str] = []
    while ready:
        _, k = ready.pop(0)
        out.append(k)
        for s in succ[k]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append((first[s], s))
                ready.sort()
    return out if len(out) == len(first) else None


class Merger:
    """Tries to write a group of instances of one definition as one class."""

    def __init__(self, gen: Generator, defname: str, views: list[View]) -> None:
        self.gen = gen
        self.defname = defname
        self.views = views
        self.dinfo = gen.infos[defname]
        self.names = gen.def_names[defname]
        self.ifs = {id(b.stmt): b.stmt for b in self.dinfo.branches}

    def plan(self, name: str) -> ClassPlan | None:
        views = self.views
        if len({v.ret for v in views}) != 1 or len({tuple(v.params) for v in views}) != 1:
            return None
        merged = []
        for side in ("init", "fwd"):
            lists = [getattr(v, side) for v in views]
            order = _topo([[it.key for it in lst] for lst in lists])
            if order is None:
                return None
            table: dict[str, list[tuple[int, Item]]] = {}
            for vi, lst in enumerate(lists):
                for it in lst:
                    table.setdefault(it.key, []).append((vi, it))
            for rows in table.values():
                if len({it.text for _, it in rows}) != 1 or len({it.guard for _, it in rows}) != 1:
                    return None
            merged.append((order, table))
        for guarded in (True, False):
            plan = self._build(name, merged, guarded)
            if plan is not None:
                return plan
        return None

    def _present_ok(self, table: dict[str, list[tuple[int, Item]]], guarded: bool) -> bool:
        n = len(self.views)
        for rows in table.values():
            present = {vi for vi, _ in rows}
            guard = rows[0][1].guard if guarded else ()
            for vi, v in enumerate(self.views):
                expected = all(v.a.decisions.get(i) == k for i, k in guard)
                if any(v.a.decisions.get(i) is None for i, _ in guard):
                    return False
                if expected != (vi in present):
                    return False
            if not guard and len(present) != n:
                return False
        return True

    def _build(self, name: str, merged: list[Any], guarded: bool) -> ClassPlan | None:
        (iorder, itable), (forder, ftable) = merged
        if not (self._present_ok(itable, guarded) and self._present_ok(ftable, guarded)):
            return None

        def pick(order: list[str], table: dict[str, list[tuple[int, Item]]]) -> list[Item]:
            out = []
            for key in order:
                rows = table[key]
                it = rows[0][1]
                shapes = _merge_shapes([r.shapes for _, r in rows])
                out.append(Item(it.key, it.guard if guarded else (), it.raw, it.text, it.attr, shapes,
                                frozenset().union(*(r.used for _, r in rows))))
            return out

        init_items, fwd_items = pick(iorder, itable), pick(forder, ftable)
        used: set[tuple[str, str]] = set()
        for it in init_items:
            used |= it.used
        fwd_used: set[tuple[str, str]] = set()
        for it in fwd_items:
            fwd_used |= it.used
        emitter = _GuardEmitter(self, guarded)
        try:
            init_lines, fwd_lines = emitter.emit(init_items, fwd_items)
        except Unrenderable:
            return None
        used |= emitter.used
        stored = [raw for kind, raw in sorted(fwd_used) if kind == "param"]
        used |= {("param", raw) for raw in stored}
        plan = ClassPlan(name, self.defname, self.views)
        plan.signature, plan.keyword_only = self._signature(used)
        head = [f"self.{self.names.attrs.name(raw, ('param', raw), what='parameter')} = {self.names.arg(raw)}"
                for raw in self._ordered(stored)]
        plan.init_lines = head + init_lines
        plan.fwd_lines = self._unpack({raw for kind, raw in fwd_used if kind == "sym"}) + fwd_lines + [self.views[0].ret]
        plan.params = self.views[0].params
        plan.returns = len(self.views[0].mod.outputs)
        return plan

    def _ordered(self, raws: list[str]) -> list[str]:
        order = [p.name for p in self.gen.defs[self.defname].params]
        return sorted(raws, key=lambda r: order.index(r) if r in order else len(order))

    def _signature(self, used: set[tuple[str, str]]) -> tuple[list[Arg], bool]:
        defn = self.gen.defs[self.defname]
        raws = {raw for _, raw in used}
        syms = list(dict.fromkeys(s for v in self.views for s in v.a.syms))
        is_network = defn.kind == "network"
        out: list[Arg] = []
        for s in syms:
            if s in raws:
                v = self.views[0].a.env.get(s)
                default = plain(v.value) if (is_network and v is not None and _is_int(v.value)) else REQUIRED
                out.append(Arg(s, "sym", self.names.arg(s), "int", default))
        types_ = {"int": "int", "dim": "int", "float": "float", "bool": "bool", "str": "str"}
        for p in defn.params:
            if p.name not in raws:
                continue
            default: Any = REQUIRED
            if is_network:
                default = self.views[0].mod.args.get(p.name, REQUIRED)
            elif p.default is not None:
                try:
                    default = evaluate(p.default, {}).value
                    if p.type_name == "float" and isinstance(default, int) and not isinstance(default, bool):
                        default = float(default)
                except EvalError:
                    default = REQUIRED
            if isinstance(default, Dim):
                default = REQUIRED
            out.append(Arg(p.name, "param", self.names.arg(p.name), types_.get(p.type_name, "int"), default))
        seen_default = False
        keyword_only = False
        for arg in out:
            if arg.has_default:
                seen_default = True
            elif seen_default:
                keyword_only = True
        return out, keyword_only

    def _unpack(self, syms: set[str]) -> list[str]:
        """`B, T, _ = x.shape` for the sizes forward needs, from the first input that declares them."""
        lines = []
        done: set[str] = set()
        params = {p.name for p in self.gen.defs[self.defname].params}
        for i, inp in enumerate(self.dinfo.inputs):
            if i >= len(self.views[0].params):
                break
            targets = []
            for d in inp.type.dims:
                if isinstance(d, ast.Name) and d.id in syms and d.id not in done and d.id not in params:
                    done.add(d.id)
                    targets.append(self.names.locals.name(d.id, ("sym", d.id)))
                else:
                    targets.append("_")
            named = [(j, t) for j, t in enumerate(targets) if t != "_"]
            x = self.views[0].params[i]
            if len(named) == 1:
                lines.append(f"{named[0][1]} = {x}.shape[{named[0][0]}]")
            elif named:
                lines.append(f"{', '.join(targets)} = {x}.shape")
        return lines


def _merge_shapes(all_shapes: list[list[list[str]]]) -> list[list[str]]:
    first = all_shapes[0]
    if any(len(s) != len(first) or any(len(a) != len(b) for a, b in zip(s, first)) for s in all_shapes):
        return [["?"] for _ in first]
    return [[d if all(s[o][j] == d for s in all_shapes) else "?" for j, d in enumerate(out)]
            for o, out in enumerate(first)]


class _GuardEmitter:
    """Writes merged items as code, turning their `if` guards into Python `if` statements."""

    def __init__(self, merger: Merger, guarded: bool) -> None:
        self.m = merger
        self.guarded = guarded
        self.used: set[tuple[str, str]] = set()
        self.conds: dict[int, list[str]] = {}
        self.fconds: dict[tuple[int, int], str] = {}
        self.flags: dict[int, list[tuple[int, str]]] = {}

    def _cond(self, if_id: int, k: int) -> str:
        if if_id not in self.conds:
            texts: list[str] = []
            stmt = self.m.ifs[if_id]
            for arm in range(len(stmt.branches)):
                rendered = set()
                for v in self.m.views:
                    trees = v.a.cond_trees.get(if_id)
                    tree = trees[arm] if trees and arm < len(trees) else None
                    if tree is None:
                        if v.a.decisions.get(if_id) is not None and v.a.decisions[if_id] < arm \
                                and v.a.decisions[if_id] >= 0:
                            continue  # an earlier arm was taken; this condition was never needed
                        raise Unrenderable("condition")
                    ctx = self.m.names.init_ctx()
                    rendered.add(tree.render(ctx))
                    self.used |= ctx.used
                if len(rendered) != 1:
                    raise Unrenderable("condition differs between instances")
                texts.append(rendered.pop())
            self.conds[if_id] = texts
        return self.conds[if_id][k]

    def emit(self, init: list[Item], fwd: list[Item]) -> tuple[list[str], list[str]]:
        if not self.guarded:
            return [self._line(it) for it in init], [self._line(it) for it in fwd]
        # forward conditions: `self.<module> is not None` where an arm owns a module, else a flag
        by_arm_attrs: dict[tuple[tuple[int, int], ...], list[str]] = {}
        for it in init:
            if it.attr and it.guard:
                by_arm_attrs.setdefault(it.guard, []).append(it.attr)
        attr_arms: dict[str, set[Guard]] = {}
        for g, attrs in by_arm_attrs.items():
            for at in attrs:
                attr_arms.setdefault(at, set()).add(g)
        extra: list[Item] = []
        for it in fwd:
            for depth in range(len(it.guard)):
                path = it.guard[:depth + 1]
                key = it.guard[depth]
                if key in self.fconds:
                    continue
                own = [at for at in by_arm_attrs.get(path, []) if attr_arms[at] == {path}]
                if own:
                    self.fconds[key] = f"self.{own[0]} is not None"
                else:
                    if_stmt = self.m.ifs[key[0]]
                    flag = self.m.names.attrs.name(f"use_{it.raw}", ("flag", if_stmt.span.start, key[1]),
                                                   what="flag")
                    self.fconds[key] = f"self.{flag}"
                    self.flags.setdefault(key[0], []).append((key[1], flag))
                    if not any(x.guard[:depth + 1] == path for x in init + extra):
                        extra.append(Item(f"flag:{flag}", path, it.raw, ""))
        # `if`s whose other arms were never elaborated must refuse those arguments at construction
        for if_id, stmt in self.m.ifs.items():
            seen = {v.a.decisions.get(if_id) for v in self.m.views}
            if None in seen or any(x.guard and x.guard[0][0] == if_id for x in init + extra):
                continue
            arms = [b for _, b in stmt.branches] + ([stmt.orelse] if stmt.orelse else [])
            if any(body and k not in seen for k, body in enumerate(arms)) and self._top_level(stmt):
                taken = next(iter(seen))
                extra.append(Item(f"check:{stmt.span.start}", ((if_id, taken),), "", ""))
        return self._block(init + extra, 0, "init"), self._block(fwd, 0, "fwd")

    def _top_level(self, stmt: ast.If) -> bool:
        return any(s is stmt for s in self.m.gen.defs[self.m.defname].body)

    def _line(self, it: Item) -> str:
        if not it.shapes:
            return it.text
        shape = ", ".join("(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")") for dims in it.shapes)
        return f"{it.text}  # {shape}"

    def _block(self, items: list[Item], depth: int, side: str) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(items):
            it = items[i]
            if len(it.guard) <= depth:
                if it.text:
                    out.extend(self._line(it).split("\n"))
                i += 1
                continue
            if_id = it.guard[depth][0]
            j = i
            while j < len(items) and len(items[j].guard) > depth and items[j].guard[depth][0] == if_id:
                j += 1
            out.extend(self._if(if_id, items[i:j], depth, side))
            i = j
        return out

    def _if(self, if_id: int, group: list[Item], depth: int, side: str) -> list[str]:
        stmt = self.m.ifs[if_id]
        n = len(stmt.branches)
        lines: list[str] = []
        if side == "fwd":
            arms = sorted({it.guard[depth][1] for it in group}, key=lambda k: (k < 0, k))
            for idx, k in enumerate(arms):
                body = self._block([it for it in group if it.guard[depth][1] == k], depth + 1, side)
                lines.append(("if " if idx == 0 else "elif ") + self.fconds[(if_id, k)] + ":")
                lines.extend("    " + b for b in (body or ["pass"]))
            return lines
        observed = {v.a.decisions.get(if_id) for v in self.m.views}
        arm_ids = list(range(n)) + ([n] if stmt.orelse else [-1])
        attrs_in = {k: [it.attr for it in group if it.guard[depth][1] == k and len(it.guard) == depth + 1 and it.attr]
                    for k in arm_ids}
        all_attrs = list(dict.fromkeys(a for k in arm_ids for a in attrs_in[k] if a))
        flags = self.flags.get(if_id, [])
        sources = [b for _, b in stmt.branches] + [stmt.orelse or ()]
        simple = (not all_attrs and all(not it.text for it in group) and all(fk == 0 for fk, _ in flags)
                  and all(k in observed or not (sources[k] if k >= 0 else ()) for k in arm_ids))
        if simple:  # `self.use_gelu1 = act`
            return [f"self.{f} = {self._cond(if_id, 0)}" for _, f in flags]
        for k in arm_ids:
            arm_items = [it for it in group if it.guard[depth][1] == k]
            body = self._block(arm_items, depth + 1, side)
            body += [f"self.{f} = {fk == k}" for fk, f in flags]
            body += [f"self.{a} = None" for a in all_attrs if a not in attrs_in[k]]
            src = sources[k] if k >= 0 else ()
            if k not in observed and src and not arm_items:
                loc = stmt.span.location()
                body = [f"raise ValueError({_message(f'{loc}: these arguments take a branch of this `if` that was not compiled; recompile the .net file with them')})"]
            if k == -1 and not body:
                continue
            if k == -1 or k == n:
                lines.append("else:")
            else:
                lines.append(("if " if k == 0 else "elif ") + self._cond(if_id, k) + ":")
            lines.extend("    " + b for b in (body or ["pass"]))
        return lines


def _message(text: str) -> str:
    """A Python string literal for a message (repr: quotes and newlines in user text are escaped)."""
    return repr(text)


# =====================================================================================================
# The whole file
# =====================================================================================================
class CodegenError(Exception):
    """The IR uses something this backend cannot write down faithfully."""


class Generator:
    def __init__(self, result: Result, network: str | None, guards: bool, source_path: str | None) -> None:
        from ..dsl.ops.base import ALIASES

        self.result = result
        self.defs = result.definitions
        self.guards = guards
        if network is not None:
            self.graphs = [result.graphs[network]]
        else:
            names = [n for n in result.networks if n in result.graphs]
            names += [n for n in result.graphs if n not in names]
            self.graphs = [result.graphs[n] for n in names]
        if not self.graphs:
            raise CodegenError("there is no network to generate")
        self.source_path = source_path or self.graphs[0].source.path
        self.callables = set(OPS) | set(ALIASES) | set(self.defs)
        self.infos: dict[str, DefInfo] = {}
        self.def_names: dict[str, DefNames] = {}
        self.class_of: dict[int, ClassPlan] = {}
        self.plans: list[ClassPlan] = []
        self.notes: list[str] = []
        self.cls_ns = global_namespace()

    # -- which classes, in which order ---------------------------------------------------------------
    def _collect(self) -> tuple[dict[str, list[Module]], list[str]]:
        instances: dict[str, list[Module]] = {}
        children: dict[str, list[str]] = {}

        def under(m: Module, owner: str) -> None:
            for el in m.body:
                if isinstance(el, Module):
                    if el.kind == "sequential":
                        under(el, owner)
                    else:
                        d = el.definition or ""
                        instances.setdefault(d, []).append(el)
                        children.setdefault(owner, [])
                        if d not in children[owner]:
                            children[owner].append(d)
                        under(el, d)

        roots = []
        for g in self.graphs:
            instances.setdefault(g.name, []).append(g.root)
            roots.append(g.name)
            under(g.root, g.name)
        order: list[str] = []
        seen: set[str] = set()

        def visit(d: str) -> None:
            if d in seen:
                return
            seen.add(d)
            for c in children.get(d, []):
                visit(c)
            order.append(d)

        for r in roots:
            visit(r)
        return instances, order

    def run(self) -> GeneratedCode:
        instances, order = self._collect()
        for d in order:
            self.infos[d] = DefInfo.build(self.defs[d], self.callables)
        for helper in HELPER_NAMES:
            self.cls_ns.reserve(helper)
        first_names = {d: self.cls_ns.name(d, (d, 0), what="class") for d in order}
        reserved = set(first_names.values())
        for d in order:
            names = DefNames(d, reserved)
            for inp in self.infos[d].inputs:
                names.locals.name(inp.name, ("var", inp.name), what="input")
            self.def_names[d] = names
        analyzer = Analyzer(self.defs, self.infos)
        try:
            for d in order:
                views = [Renderer(self, d).render(inst, analyzer.own(inst)) for inst in instances[d]]
                self._classes(d, views, first_names[d])
        except Unrenderable as exc:
            raise CodegenError(f"cannot write this network in PyTorch: {exc}") from None
        return GeneratedCode(self._emit(), self._notes())

    def _classes(self, d: str, views: list[View], first_name: str) -> None:
        plan = Merger(self, d, views).plan(first_name)
        if plan is not None:
            groups, plans = [views], [plan]
        else:
            groups, plans = [], []
            for v in views:
                for gi, g in enumerate(groups):
                    p = Merger(self, d, g + [v]).plan(plans[gi].name)
                    if p is not None:
                        g.append(v)
                        plans[gi] = p
                        break
                else:
                    name = first_name if not groups else self.cls_ns.name(d, (d, len(groups)), what="class")
                    for other in self.def_names.values():
                        other.args.forbid(name)
                    p = Merger(self, d, [v]).plan(name)
                    if p is None:
                        raise Unrenderable(f"an instance of `{d}` ({v.mod.path or d})")
                    groups.append([v])
                    plans.append(p)
            if len(plans) > 1:
                self.notes.append(
                    f"`{d}` is written as {len(plans)} classes ({', '.join(p.name for p in plans)}): its instances "
                    "differ in ways that no `if` of the source explains")
        for p in plans:
            if self.guards:
                self._add_guards(p)
            p.doc = self._doc(p)
            for v in p.views:
                self.class_of[id(v.mod)] = p
            self.plans.append(p)

    # -- --guards ---------------------------------------------------------------------------------------
    def _add_guards(self, p: ClassPlan) -> None:
        info = self.infos[p.definition]
        view = p.views[0]
        lines: list[str] = []
        first_pos: dict[str, str] = {}
        for i, inp in enumerate(info.inputs):
            if i >= len(p.params) or i >= len(view.mod.inputs):
                break
            x = p.params[i]
            t = view.a.types.get(view.mod.inputs[i].id, view.mod.inputs[i].type)
            conds = [f"{x}.dim() == {len(t.dims)}"]
            for j, d in enumerate(t.dims):
                decl = inp.type.dims[j] if j < len(inp.type.dims) else None
                if _is_int(d) and not isinstance(d, Tracked):
                    conds.append(f"{x}.shape[{j}] == {int(d)}")
                elif isinstance(decl, ast.Name):
                    if decl.id in first_pos:
                        conds.append(f"{x}.shape[{j}] == {first_pos[decl.id]}")
                    else:
                        first_pos[decl.id] = f"{x}.shape[{j}]"
            conds.append(f"{x}.is_floating_point()" if t.dtype in FLOAT_DTYPES else f"not {x}.is_floating_point()")
            declared = f"{inp.type.dtype}[{', '.join(d.span.text for d in inp.type.dims)}]"
            msg = _message(f"{inp.span.location()}: input `{inp.name}` must be {declared}, got shape ")
            lines.append(f"assert {' and '.join(conds)}, (")
            lines.append(f"    {msg} + str(tuple({x}.shape)) + \" \" + str({x}.dtype))")
            for cond in inp.where:
                try:
                    tree = evaluate(cond, view.a.env).tree
                    text = tree.render(Ctx(lambda kind, raw: self._guard_leaf(p, kind, raw, first_pos, view)))
                except (EvalError, Unrenderable):
                    continue
                where = f"{cond.span.location()}: constraint `{cond.span.text}` does not hold"
                lines.append(f"assert {text}, {_message(where)}")
        p.fwd_lines = lines + p.fwd_lines

    def _guard_leaf(self, p: ClassPlan, kind: str, raw: str, first_pos: dict[str, str], view: View) -> str:
        """Sizes read straight from the inputs; parameters from `self` (stored for the guard if need be)."""
        if kind == "sym":
            if raw not in first_pos:
                raise Unrenderable(raw)
            return first_pos[raw]
        names = self.def_names[p.definition]
        if any(a.raw == raw for a in p.signature):
            attr = names.attrs.name(raw, ("param", raw), what="parameter")
            line = f"self.{attr} = {names.arg(raw)}"
            if line not in p.init_lines:
                p.init_lines.insert(0, line)
            return f"self.{attr}"
        return literal(plain(view.a.env[raw].value))

    # -- text -----------------------------------------------------------------------------------------
    def _doc(self, p: ClassPlan) -> str:
        defn = self.defs[p.definition]
        loc = _doc_safe(f"{defn.name_span.source.path}:{defn.name_span.line}")
        what = "Network" if defn.kind == "network" else "Block"
        head = f"{what} `{p.name}` from {loc}, compiled by netc."
        if defn.kind != "network" or len(p.views) != 1:
            return head
        view = p.views[0]
        names = self.def_names[p.definition]
        ctx = names.comment_ctx()

        def shape(v: Value) -> str:
            t = view.a.types.get(v.id, v.type)
            dims = [Renderer._dim_text(d, ctx) for d in t.dims]
            return f"({', '.join(dims)}{',' if len(dims) == 1 else ''}) {t.dtype}"

        ins = ", ".join(f"{n} {shape(v)}" for n, v in zip(p.params, view.mod.inputs))
        graph = next((g for g in self.graphs if g.root is view.mod), None)
        out_names = [n for n, _ in graph.outputs] if graph is not None else [v.name for v in view.mod.outputs]
        outs = ", ".join(f"{names.locals.name(n, ('var', n))} {shape(v)}" for n, v in zip(out_names, view.mod.outputs))
        return f"{head}\n\n    Inputs: {ins}.\n    Returns: {outs}.\n    "

    def _emit(self) -> str:
        from .. import __version__

        env = _jinja()
        needs_f = any("F" in v.needs for p in self.plans for v in p.views)
        needs_ordered_dict = any("OrderedDict" in v.needs for p in self.plans for v in p.views)
        helpers = sorted({n for p in self.plans for v in p.views for n in v.needs if n.startswith("helper:")})
        classes = [h[len("helper:"):] for h in helpers]
        for p in self.plans:
            sig = ["self"] + (["*"] if p.keyword_only and p.signature else [])
            for arg in p.signature:
                text = f"{arg.py}: {arg.annotation}"
                if arg.has_default:
                    text += f" = {literal(arg.default)}"
                sig.append(text)
            optional = self._optional_inputs(p)
            fsig = ["self"] + [f"{x}: torch.Tensor | None = None" if x in optional else f"{x}: torch.Tensor"
                               for x in p.params]
            p.fwd_lines = [line for x in p.params if x in optional for line in optional[x]] + p.fwd_lines
            returns = "torch.Tensor" if p.returns == 1 else f"tuple[{', '.join(['torch.Tensor'] * p.returns)}]"
            classes.append(env.get_template("class.py.j2").render(
                name=p.name, doc=p.doc, init_signature=", ".join(sig), init_lines=p.init_lines,
                forward_signature=", ".join(fsig), returns=returns, forward_lines=p.fwd_lines).rstrip("\n"))
        nets = [self.class_of[id(g.root)].name for g in self.graphs]
        src = _comment_safe(self.source_path)
        text = env.get_template("module.py.j2").render(
            version=__version__, source=src, uses_functional=needs_f, uses_ordered_dict=needs_ordered_dict, classes=classes,
            docstring=_doc_safe(f"PyTorch modules for {', '.join(nets)}, generated by netc from {self.source_path}."))
        return text.rstrip("\n") + "\n"

    def _optional_inputs(self, p: ClassPlan) -> dict[str, list[str]]:
        """Trailing inputs declared `= randn` (or rand, zeros, ones): made in forward when not passed."""
        from ..dsl.types import DTYPES

        defaults = getattr(p.views[0].mod, "input_defaults", None) or {}
        info = self.infos[p.definition]
        raw_to_py = {inp.name: py for inp, py in zip(info.inputs, p.params)}
        out: dict[str, list[str]] = {}
        for inp in reversed(info.inputs):  # only a tail of optional inputs can default to None in Python
            d = defaults.get(inp.name)
            if d is None or inp.name not in raw_to_py:
                break
            try:
                # The declared dims, in this class's terms: sizes from the inputs before it, parameters from
                # `self` (`VAE(latent=10)` makes (B, 10) noise), through the same leaves as the guards.
                sources = {raw: f"{raw_to_py[src]}.shape[{axis}]" for raw, (src, axis) in d.dim_sources.items()
                           if src in raw_to_py}
                ctx = Ctx(lambda kind, raw, sources=sources: self._guard_leaf(p, kind, raw, sources, p.views[0]))
                dims = [evaluate(e, p.views[0].a.env).tree.render(ctx) for e in inp.type.dims]
            except (EvalError, Unrenderable):
                break
            x = raw_to_py[inp.name]
            first = p.params[0]
            fill = {"randn": "torch.randn", "rand": "torch.rand", "zeros": "torch.zeros", "ones": "torch.ones"}[d.fill]
            out[x] = [f"if {x} is None:",
                      f"    {x} = {fill}({', '.join(dims)}, dtype=torch.{DTYPES[d.dtype]}, device={first}.device)"]
        return out

    def _notes(self) -> list[str]:
        out: list[str] = []
        spaces: list[Namespace] = [self.cls_ns]
        for names in self.def_names.values():
            spaces += [names.attrs, names.args, names.locals]
        for ns in spaces:
            for r in ns.renames:
                msg = r.message()
                if r.what == "layer":
                    msg += f"; its state_dict keys read `{r.new}.` where the .net file says `{r.old}.`"
                if msg not in out:
                    out.append(msg)
        return out + self.notes

    def generated_key(self, mod: Module, key: str) -> str:
        """The state_dict key under `mod`'s generated class for the IR key `key` (relative to `mod`).

        A layer the namespace renamed (`eval` -> `eval_1`: an nn.Module method) changes every key below it;
        containers (nn.Sequential, nn.ModuleDict) keep the IR's names, block instances use their class's names.
        """
        out: list[str] = []
        here: Module | None = mod
        names = self.def_names.get(mod.definition or "")
        for part in key.split("."):
            child = next((el for el in here.body if el.name == part), None) if here is not None else None
            attr = names.attrs.get(("mod", part)) if names is not None and child is not None else None
            out.append(attr or part)
            if isinstance(child, Module):
                here = child
                names = None if child.kind == "sequential" else self.def_names.get(child.definition or "")
            else:
                here, names = None, None  # a parameter's own name
        return ".".join(out)

    def network_class(self, network: str | None) -> str:
        g = self.graphs[0] if network is None else self.result.graphs[network]
        return self.class_of[id(g.root)].name


def _comment_safe(text: str) -> str:
    """User text (a path) inside a comment: no character may end the comment's line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _doc_safe(text: str) -> str:
    return _comment_safe(text).replace("\\", "\\\\").replace('"', '\\"')


_JINJA: Any = None


def _jinja() -> Any:
    global _JINJA
    if _JINJA is None:
        import jinja2

        _JINJA = jinja2.Environment(loader=jinja2.PackageLoader("netc.codegen", "templates/torch"),
                                    autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return _JINJA


# =====================================================================================================
# Public entry points
# =====================================================================================================
def generate(result: Result, network: str | None = None, *, guards: bool = False,
             source_path: str | None = None) -> GeneratedCode:
    """PyTorch source for the networks of `result` (all of them, or `network`)."""
    trains = getattr(result, "trains", None) if network is None else None
    if trains:
        # A section may train a network the file imports: generate its class too (one module, one script).
        extra = {m.network: m.graph for t in trains for m in t.models if m.network not in result.graphs}
        if extra:
            result = dataclasses.replace(result, graphs={**result.graphs, **extra})
    gen = Generator(result, network, guards, source_path)
    out = gen.run()
    if trains:
        # The file's `train` sections, as Recipe classes after the networks (netc/train/emit.py).
        from ..train.emit import append_recipes

        out = append_recipes(out, trains, gen.network_class, gen.cls_ns)
    return out


# Each built class's map from IR paths to its own (see Generator.generated_key), for what addresses the
# module by IR names (verify). Kept beside the class, not on it: a class attribute could shadow a layer.
_PATHS: weakref.WeakKeyDictionary[type, Callable[[str], str]] = weakref.WeakKeyDictionary()


def generated_paths(cls: type) -> Callable[[str], str]:
    """Maps an IR path (a layer's, or a state_dict key) to the path in `cls`, a class from `build`: they differ
    where the namespace renamed a layer (`eval` -> `eval_1`)."""
    return _PATHS[cls]


def build(result: Result, network: str | None = None) -> type:
    """Compile the generated source in memory and return the network's nn.Module class (no files written)."""
    gen = Generator(result, network, False, None)
    code = gen.run().code
    digest = hashlib.sha1(code.encode("utf-8")).hexdigest()[:12]
    name = f"netc_generated_{digest}"
    filename = f"<netc:{gen.source_path}:{digest}>"
    module = types.ModuleType(name, f"Generated by netc from {gen.source_path}")
    module.__file__ = filename
    # Registered like an imported module, so tracebacks show the generated lines and pickling finds the classes.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    exec(compile(code, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated text, never user text
    sys.modules[name] = module
    cls: type = getattr(module, gen.network_class(network))
    root = (gen.graphs[0] if network is None else result.graphs[network]).root
    _PATHS[cls] = functools.partial(gen.generated_key, root)
    return cls


__all__ = ["EMITTERS", "Emitter", "Expr", "Func", "Layer", "build", "generate", "generated_paths", "Hashable"]
