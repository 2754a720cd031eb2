"""Re-inference: every attribute and shape of an instance, as expressions in the class's arguments."""
from __future__ import annotations

import bisect
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import ast
from ..astwalk import walk
from ..dims import Dim, dims_equal, subs
from ..ir import ContainerPart, Module, OpNode, Value
from ..ops import OPS, REQUIRED, AttrError, ShapeError
from ..source import Span
from ..types import TensorType
from .definfo import DefInfo, SpanKey, match_args, span_key
from .evaluate import EvalError, Requirements, Val, collecting, evaluate, note_too_deep
from .loopvars import LoopVar
from .recurrence import Steps, after, built_alike, count_dependent, growing, reads_loop
from .trees import (
    Call,
    IfExp,
    Leaf,
    Lit,
    Local,
    Node,
    TooDeep,
    Tracked,
    Tup,
    Unrenderable,
    is_int,
    leaves_in,
    locals_in,
    plain,
    track,
    tree_of,
)


@dataclass
class NodeInfo:
    pre: dict[str, Any]  # attributes as given or defaulted, before the shape rule ran
    post: dict[str, Any]  # after it (inferred sizes filled in)
    given: dict[str, Any]  # attr -> Val (or list of Val) of what the user wrote
    ok: bool  # re-inference reproduced the IR exactly


@dataclass(frozen=True)
class Pin:
    """Why a class holds only for its instances' own arguments: a line, what it does, and the parameters it
    depends on (None: not known, so all of them)."""

    span: Span
    why: str
    params: frozenset[str] | None = None


@dataclass(frozen=True)
class FollowedPart:
    """A part of a container (the IR's ContainerPart) with its count (a repetition) or iterated values (a
    comprehension) as an expression in the class's arguments (None: not followed), and whether other arguments
    could change it."""

    part: ContainerPart
    tree: Node | None
    depends: bool
    # a repetition whose items' input sizes grow by a step (DenseNet): its items' arguments read this loop
    # variable (netc/dsl/parametric/recurrence.py)
    steps: Steps | None = None


@dataclass
class ChildInfo:
    args: dict[str, Val]  # the child's parameters and input-bound sizes, in the parent's terms


MAX_LOCAL_DEPTH = 32  # named values reading named values: deeper chains are written as expressions


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
    # `param`/`buffer` declarations by span: each dim and initializer argument as followed from the source
    # (None where it cannot be followed; the instance's number is written then)
    state: dict[SpanKey, tuple[list[Val | None], dict[str, Val]]] = field(default_factory=dict)
    # exact divisions in the instance's own statements (not its children's): (dividend, divisor, expression)
    divisions: list[tuple[Node, Node, ast.BinOp]] = field(default_factory=list)
    # items of list parameters read in the instance's own statements: (the list, the index, expression)
    indexes: list[tuple[Node, Node, ast.Index]] = field(default_factory=list)
    # what pins the class to the instance's own arguments, with why (a value too deep to follow, a comprehension
    # over the arguments written item by item): the class refuses other arguments, naming these lines
    pinned: list[Pin] = field(default_factory=list)
    # the instance's own analysis names the values its source names (`squeeze`: a Local); the analysis of a
    # child seen from its parent does not (its names mean nothing in the parent's __init__)
    names_locals: bool = False
    locals: dict[str, Local] = field(default_factory=dict)  # Local.key -> Local
    # `if`s whose every arm only assigns compile-time values, all followed into `a if c else b` trees: an arm
    # no instance took is still written correctly, so it needs no "recompile" refusal
    scalar_ifs: set[int] = field(default_factory=set)
    # the names the definition assigns more than once, and their values where each statement starts, by
    # source: a call reads them as they are at its own statement, not after a later `h = h + 1`. Only those
    # names are kept per statement, so a long body costs a lookup per call, not a copy of every value.
    reassigned: frozenset[str] = frozenset()
    snapshots: dict[int, tuple[list[int], list[int], list[dict[str, Val]]]] = field(default_factory=dict)
    # containers by id: each part of the source with its count (a repetition) or iterated values (a
    # comprehension) as an expression in the class's arguments, None where it cannot be followed
    containers: dict[int, list[FollowedPart]] = field(default_factory=dict)
    # while an item of a comprehension is analysed: its variable, as a LoopVar of that item
    loop_env: dict[str, Val] = field(default_factory=dict)
    # every layer's attributes and sizes were followed from the arguments (none is only the instance's value):
    # the analysis tells how the block is built for other arguments too
    exact: bool = True

    def snapshot(self, span: Any) -> None:
        if not self.reassigned:
            return
        starts, ends, values = self.snapshots.setdefault(id(span.source), ([], [], []))
        if starts and span.start < starts[-1]:
            return  # not in source order (never, for one body): keep the lookup's bisection valid
        starts.append(span.start)
        ends.append(span.end)
        values.append({n: self.env[n] for n in self.reassigned if n in self.env})

    def env_at(self, span: Any) -> Mapping[str, Val]:
        """The values the innermost statement holding `span` sees (the final ones outside any statement), with
        the variables of the comprehensions whose item is being analysed."""
        env = self._statement_env(span)
        return ChainMap(self.loop_env, env) if self.loop_env else env

    def _statement_env(self, span: Any) -> Mapping[str, Val]:
        found = self.snapshots.get(id(span.source))
        if found is None:
            return self.env
        starts, ends, values = found
        i = bisect.bisect_right(starts, span.start) - 1
        while i >= 0 and ends[i] < span.end:  # a statement that ended before: look at the one around it
            i -= 1
        return ChainMap(values[i], self.env) if i >= 0 else self.env

    def named(self, name: str, val: Val, at: int) -> Val:
        """`name = <expression>` as a Local, where this analysis names values and the expression is worth a name."""
        if not self.names_locals or isinstance(val.tree, (Leaf, Lit, Local, Tup)):
            return val
        if isinstance(val.value, bool) or not isinstance(val.value, (int, float)):
            return val
        depth = 1 + max((inner.depth for inner in locals_in(val.tree)), default=0)
        if depth > MAX_LOCAL_DEPTH:
            # `h = h + 1` a thousand times: written in place instead, where the arithmetic folds to `w + 1000`
            raise Unrenderable("too many reassignments of one value to name each")
        local = Local(name, at, val.tree, depth)
        self.locals[local.key] = local
        return Val(track(val.value, local) if is_int(val.value) else val.value, local)


def _follow(e: ast.Expr, env: dict[str, Val]) -> Val | None:
    try:
        return evaluate(e, env)
    except EvalError:
        return None


def _init_args(s: ast.StateDecl) -> tuple[ast.Arg, ...]:
    return s.init.args if isinstance(s.init, ast.Call) else ()


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
        self._reassigned_by_def: dict[str, frozenset[str]] = {}

    def own(self, mod: Module, names_locals: bool = False) -> Analysis:
        """Analyse an instance in terms of its own class's arguments."""
        defn = self.defs[mod.definition or ""]
        env: dict[str, Val] = {}
        for p in defn.params:
            v = mod.args.get(p.name)
            leaf = Leaf("param", p.name)
            env[p.name] = Val(Tracked(int(v), leaf) if is_int(v) else v, leaf)
        needs = Requirements()
        with collecting(needs):
            a = self.analyze(mod, env, None, {}, names_locals)
        a.divisions = needs.divisions
        a.indexes = needs.indexes
        a.pinned += [Pin(span, "nests too deeply for the generated code to follow") for span in needs.too_deep]
        return a

    def _reassigned(self, defn: ast.Definition) -> frozenset[str]:
        if defn.name not in self._reassigned_by_def:
            counts = {p.name: 1 for p in defn.params}  # `kernel = kernel * 2` gives a parameter a second value
            for n in walk(defn):
                if isinstance(n, ast.Assign):
                    targets = n.targets[0].items if len(n.targets) == 1 and isinstance(n.targets[0], ast.TupleExpr) \
                        else n.targets
                    for t in targets:
                        if isinstance(t, ast.Name):
                            counts[t.id] = counts.get(t.id, 0) + 1
            self._reassigned_by_def[defn.name] = frozenset(n for n, k in counts.items() if k > 1)
        return self._reassigned_by_def[defn.name]

    def analyze(self, mod: Module, env0: dict[str, Val], input_types: list[TensorType] | None,
                sym_map: dict[str, Any], names_locals: bool = False) -> Analysis:
        defn = self.defs[mod.definition or ""]
        a = Analysis(dict(env0), sym_map, names_locals=names_locals, reassigned=self._reassigned(defn))
        counter = [0]
        self._walk(defn.body, mod, a, input_types, counter)
        for i, v in enumerate(mod.inputs):
            if v.id not in a.types:
                a.types[v.id] = input_types[i] if input_types is not None else v.type
        for state in mod.state:  # declared tensors: their dims in the class's terms where they follow
            dims, _ = a.state.get(span_key(state.span), ([], {}))
            typed = [d.value if d is not None and same(d.value, actual, a.sym_map) else actual
                     for d, actual in zip(dims, state.type.dims)] if len(dims) == state.type.rank else state.type.dims
            assert state.value is not None
            a.types[state.value.id] = TensorType(state.type.dtype, tuple(typed))
        self._body(mod.body, a, self.infos[defn.name])
        return a

    # -- the definition's statements: inputs, compile-time values, `if` decisions -------------------
    def _walk(self, stmts: tuple[ast.Stmt, ...], mod: Module, a: Analysis, input_types: list[TensorType] | None,
              counter: list[int]) -> None:
        env = a.env
        for s in stmts:
            a.snapshot(s.span)
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
                        env[names[0]] = a.named(names[0], val, s.span.start)
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
            elif isinstance(s, ast.StateDecl):
                a.state[span_key(s.span)] = (
                    [_follow(d, env) for d in s.type.dims],
                    {arg.name or str(k): v for k, arg in enumerate(_init_args(s)) if (v := _follow(arg.value, env))})
                env.pop(s.name, None)
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
                before = dict(env)
                if decision is not None and decision >= 0:
                    body = s.orelse if decision == len(s.branches) else s.branches[decision][1]
                    self._walk(body or (), mod, a, input_types, counter)
                if decision is not None and _chosen_values(s, trees, before, env, a):
                    a.scalar_ifs.add(id(s))

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
                elif is_int(actual):
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
                self._container(item, a, info)
            else:
                self._child(item, a, info)

    def _container(self, m: Module, a: Analysis, info: DefInfo) -> None:
        """A container's items, each comprehension item with its variable bound to a LoopVar (so its arguments
        read `2 ** i`, not item 2's `4`), and the parts' counts and values as expressions."""
        if sum(p.items for p in m.parts) != len(m.body):  # not a container written as parts (a group)
            self._body(m.body, a, info)
            return
        env = a.env_at(m.span)
        parts: list[FollowedPart] = []
        start = 0
        for part in m.parts:
            items = m.body[start:start + part.items]
            start += part.items
            source = part.count if part.kind == "repeat" else part.values
            val = _follow(source, dict(env)) if source is not None else None
            if part.kind == "comprehension":
                ok = val is not None and isinstance(val.value, tuple) and same(val.value, part.bound, a.sym_map)
            else:
                ok = val is not None and is_int(plain(val.value)) and int(plain(val.value)) == part.items
            tree = val.tree if ok and val is not None else None
            # whether other arguments could change it: a followed tree says; one not followed, unless constant
            depends = tree.has_leaf() if tree is not None else (source is not None and _follow(source, {}) is None)
            if part.kind != "comprehension" or part.var is None:
                self._body(items, a, info)
                parts.append(self._loop_form(FollowedPart(part, tree, depends), items, a))
                continue
            outer = a.loop_env
            for k, (el, value) in enumerate(zip(items, part.bound)):
                follows = tree is not None and tree.has_leaf()
                var = LoopVar(part.var, part.span.start, k, value, tree if follows and k == len(items) - 1 else None,
                              tree if follows and k == 0 else None)
                a.loop_env = {**outer, part.var: Val(track(value, var) if is_int(value) else value, var)}
                self._body([el], a, info)
            a.loop_env = outer
            parts.append(self._loop_form(FollowedPart(part, tree, depends), items, a))
        a.containers[id(m)] = parts

    def _loop_form(self, fp: FollowedPart, items: list[OpNode | Module], a: Analysis) -> FollowedPart:
        """Whether the part's items can be a loop for any count: alike items (each makes what the next is
        built from), items whose sizes read the comprehension's variable, or sizes that grow by a step (their
        arguments rewritten as `first + i * step`). Otherwise the items are written out; when the count
        depends on the arguments, the class refuses other values of it, naming the line."""
        part = fp.part
        if fp.tree is None or part.kind == "listed" or not items:
            return fp
        last = items[-1]
        if built_alike(last, a, self.own):
            if fp.depends:
                count_dependent(last, part.span.start, None, a)
            return fp
        if part.kind == "comprehension" and reads_loop(last, a.types, part.span.start):
            return fp
        # sizes that grow by a step: over a repetition, or a comprehension over `range(n)` (its variable is then
        # the item's index, which the step multiplies)
        count = fp.tree if part.kind == "repeat" else _range_count(fp.tree)
        if count is not None:
            steps = growing(items, a, self.own, part.span.start, part.var or "i")
            if steps is not None and isinstance(last, Module):
                after(steps, count, last, a)
                if fp.depends:
                    count_dependent(last, part.span.start, steps, a)
                return FollowedPart(part, fp.tree, fp.depends, steps)
        if fp.depends:
            leaves = leaves_in(fp.tree)
            params = frozenset(leaf.name for leaf in leaves) if all(leaf.kind == "param" for leaf in leaves) else None
            a.pinned.append(Pin(part.span, "is written item by item: each item is built from sizes the one before "
                                           "makes, which a loop over other counts would not follow", params))
        return FollowedPart(part, None, fp.depends)

    def _node(self, node: OpNode, a: Analysis, info: DefInfo) -> None:
        spec = OPS[node.op]
        xs = [a.types.get(v.id, v.type) for v in node.inputs]
        expr = info.exprs.get(span_key(node.call_span or node.span))
        call = expr if isinstance(expr, ast.Call) else None
        matched = match_args(call, node.attr_source, [(at.name, at.variadic) for at in spec.attrs if at.positional])
        given: dict[str, Any] = {}
        env = a.env_at(node.call_span or node.span)
        for name, ex in matched.items():
            try:
                given[name] = [evaluate(x, env) for x in ex] if isinstance(ex, list) else evaluate(ex, env)
            except EvalError:
                pass
        # `x * scale`: the scalar side of the expression is the `other` operand; in `x ** 2` the `exponent`, in
        # `theta ** x` the `base`
        sides = {"other": (expr.right, expr.left), "exponent": (expr.right,), "base": (expr.left,)} \
            if isinstance(expr, ast.BinOp) else {}
        for attr, exprs in sides.items():
            if node.attrs.get(attr) is None or attr in given:
                continue
            for side in exprs:
                try:
                    v = evaluate(side, env)
                    if isinstance(v.value, (int, float)) and not isinstance(v.value, bool):
                        given[attr] = v
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
            except (ShapeError, AttrError, TypeError, ValueError, ArithmeticError) as exc:
                ok = False
                if isinstance(exc, TooDeep):  # a shape rule made a size too deep to follow from tracked ones
                    note_too_deep(expr.span if expr is not None else node.call_span or node.span)
        if not ok:
            a.exact = False
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
        expr = info.exprs.get(span_key(child.call_span or child.span))
        call = expr if isinstance(expr, ast.Call) else None
        matched = match_args(call, child.arg_source, [(p.name, False) for p in cdefn.params])
        cenv: dict[str, Val] = {}
        for p in cdefn.params:
            actual = child.args.get(p.name)
            val: Val | None = None
            try:
                if p.name in matched:
                    val = evaluate(matched[p.name], a.env_at(child.call_span or child.span))
                elif p.default is not None:
                    val = evaluate(p.default, cenv)
            except EvalError:
                val = None
            if val is not None and p.type_name == "float" and isinstance(val.value, (int, float)):
                val = Val(float(val.value), val.tree)
            if val is None or not same(val.value, actual, a.sym_map):
                a.exact = False  # the instance's own value: the argument's expression was not followed
                val = Val(actual, tree_of(actual) if not isinstance(actual, Dim) else Lit(actual))
            cenv[p.name] = val
        cinputs = [a.types.get(v.id, v.type) for v in child.inputs]
        with collecting(None):  # the child's class checks its own divisions
            sub = self.analyze(child, cenv, cinputs, a.sym_map)
        a.exact = a.exact and sub.exact
        for v in child.outputs:
            a.types[v.id] = sub.types.get(v.id, v.type)
        names = [p.name for p in cdefn.params] + sub.syms
        a.children[id(child)] = ChildInfo({n: sub.env[n] for n in names if n in sub.env})


def _range_count(values: Node) -> Node | None:
    """`n` of `range(n)`: the count of a comprehension whose variable is its item's index."""
    return values.args[0] if isinstance(values, Call) and values.func == "range" and len(values.args) == 1 else None


def _chosen_values(s: ast.If, conds: list[Node | None], before: dict[str, Val], env: dict[str, Val],
                   a: Analysis) -> bool:
    """Values an `if` assigns (`factor = 2` in `if bilinear`) become `2 if bilinear else 1`: the expression holds
    for every instance, whichever arm it took. Each arm's plain assignments are evaluated where the arm starts;
    a value some arm cannot give that way keeps the instance's own value (and its own tree).

    True when the `if` does nothing else: every statement of every arm is such an assignment, all followed."""
    if any(c is None for c in conds):
        return False
    arms = [body for _, body in s.branches] + [s.orelse or ()]
    only_values = all(isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                      for body in arms for st in body)
    assigned = [{t.id: st.value for st in body if isinstance(st, ast.Assign) and len(st.targets) == 1
                 for t in st.targets if isinstance(t, ast.Name)} for body in arms]
    only_values = only_values and all(len(arm) == sum(1 for _ in body) for arm, body in zip(assigned, arms))
    for name in dict.fromkeys(n for arm in assigned for n in arm):
        if name not in env:
            only_values = False
            continue
        values: list[Node] = []
        try:
            for arm in assigned:
                if name in arm:
                    values.append(evaluate(arm[name], before).tree)
                elif name in before:
                    values.append(before[name].tree)
                else:
                    raise EvalError(name)
        except EvalError:
            only_values = False
            continue
        tree = IfExp(tuple((c, v) for c, v in zip(conds, values) if c is not None), values[-1])
        value = env[name].value
        env[name] = a.named(name, Val(track(int(value), tree) if is_int(value) else value, tree), s.span.end)
    return only_values
