"""Facts about a definition's source: spans of calls, `if` branches, the names values are bound to."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import ast
from ..astwalk import walk

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
    # `y = h`: a name bound to another value, with the `if` arms it sits in and where (a class writes it where
    # an instance's output or a later operand is such an alias: `res = x -> downsample` in one arm, `res = x`
    # in the other)
    aliases: dict[str, list[tuple[str, tuple[tuple[int, int], ...], int]]] = field(default_factory=dict)
    output_names: list[str | None] = field(default_factory=list)  # `output y`: the name each output reads
    # each statement (not an `if`) as (source id, start, end, the names it reads): after `x0 = x` a line that
    # reads `x` by that name is written reading `x`, one that reads `x0` reading `x0`
    reads: list[tuple[int, int, int, frozenset[str]]] = field(default_factory=list)
    _rebound: set[str] | None = field(default=None, repr=False)

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
            read = s.value if isinstance(s, ast.Assign) else s.expr if isinstance(s, ast.ExprStmt) else \
                s if isinstance(s, ast.Output) else None
            if read is not None:
                self.reads.append((id(s.span.source), s.span.start, s.span.end,
                                   frozenset(n.id for n in walk(read) if isinstance(n, ast.Name))))
            if isinstance(s, ast.Input):
                self.inputs.append(s)
            elif isinstance(s, ast.Assign):
                names = [t.id for t in s.targets if isinstance(t, ast.Name)]
                if len(s.targets) == 1 and isinstance(s.targets[0], ast.TupleExpr):
                    names = [t.id for t in s.targets[0].items if isinstance(t, ast.Name)]
                span = _result_span(s.value, callables)
                if span is not None and names:
                    self.bindings[span_key(span)] = names
                if len(names) == 1 and len(s.targets) == 1 and isinstance(s.value, ast.Name):
                    self.aliases.setdefault(names[0], []).append((s.value.id, self.guard_of(s.span), s.span.start))
            elif isinstance(s, ast.ExprStmt):
                e = s.expr
                if isinstance(e, ast.Chain) and isinstance(e.steps[-1].expr, ast.Name) \
                        and e.steps[-1].expr.id not in callables and len(e.steps) >= 2:
                    span = _result_span(ast.Chain(e.span, e.head, e.steps[:-1]), callables)
                    if span is not None:
                        self.bindings[span_key(span)] = [e.steps[-1].expr.id]
            elif isinstance(s, ast.Output):
                self.output_names += [item.value.id if isinstance(item.value, ast.Name) else None for item in s.items]
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

    def names_read_at(self, span: Any) -> frozenset[str] | None:
        """The names read by the statement that holds `span` (None: not inside one)."""
        for source_id, start, end, names in self.reads:
            if source_id == id(span.source) and start <= span.start and span.end <= end:
                return names
        return None

    def rebound_in_ifs(self) -> set[str]:
        """The names some statement inside an `if` arm binds (a layer's result or an alias)."""
        if self._rebound is None:
            self._rebound = {n for key, names in self.bindings.items() if self._guarded(key) for n in names}
            self._rebound |= {n for n, entries in self.aliases.items() for _, guard, _ in entries if guard}
        return self._rebound

    def _guarded(self, key: SpanKey) -> bool:
        source_id, start, end = key
        return any(b.source_id == source_id and b.start <= start and end <= b.end for b in self.branches)

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
