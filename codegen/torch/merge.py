"""Merging the rendered instances of one definition into classes."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ...dsl import ast
from ...dsl.dims import Dim
from ...dsl.ops import REQUIRED
from ...dsl.parametric.evaluate import EvalError, Val, evaluate
from ...dsl.parametric.loopvars import loop_vars_in
from ...dsl.parametric.trees import (
    PREC_AND,
    PREC_MUL,
    Bin,
    IfExp,
    Leaf,
    Lit,
    Local,
    Tracked,
    Unrenderable,
    is_int,
    literal,
    plain,
)
from .guards import _GuardEmitter, _message
from .nesting import fold_operand_chains
from .render import Arg, ClassPlan, Item, View

if TYPE_CHECKING:
    from .generator import Generator



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


def _ident(it: Item) -> str:
    return f"{it.key}|{it.guard}" if it.guard else it.key


def _tuple_text(items: list[str]) -> str:
    """`w` for one item (compared alone), `(w, k)` for several."""
    return items[0] if len(items) == 1 else f"({', '.join(items)})"


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
            lists = self._split_by_arm([getattr(v, side) for v in views])
            # A line is identified by its layer and the `if` arm it sits in: `up` may be a different layer in
            # each arm of `if bilinear`.
            order = _topo([[_ident(it) for it in lst] for lst in lists])
            if order is None:
                return None
            table: dict[str, list[tuple[int, Item]]] = {}
            for vi, lst in enumerate(lists):
                for it in lst:
                    table.setdefault(_ident(it), []).append((vi, it))
            for key, rows in table.items():
                if len({it.text for _, it in rows}) != 1 and len({it.plain or it.text for _, it in rows}) == 1:
                    # an add in place in some instances and not in others: the plain sum in all of them
                    table[key] = rows = [(vi, dataclasses.replace(it, text=it.plain or it.text, plain=None))
                                         for vi, it in rows]
                if len({it.text for _, it in rows}) != 1 or len({it.guard for _, it in rows}) != 1:
                    return None
            merged.append((order, table))
        for guarded in (True, False):
            plan = self._build(name, merged, guarded)
            if plan is not None:
                return plan
        return None

    def _split_by_arm(self, lists: list[list[Item]]) -> list[list[Item]]:
        """A line outside any `if` written differently in instances that took different arms of one `if`
        (ShuffleNet's `branch2` takes `C` after `right = x` in the stride arm, `-(-C // 2)` after the `chunk` of
        the other): each version is that arm's line, as if written inside it, so the instances make one class
        with `if stride > 1: ... else: ...` rather than a class per arm."""
        texts: dict[str, set[str]] = {}
        for lst in lists:
            for it in lst:
                if not it.guard:
                    texts.setdefault(it.key, set()).add(it.plain or it.text)
        differing = {k for k, ts in texts.items() if len(ts) > 1}
        if not differing:
            return lists
        ifs = [i for i in self.ifs if all(v.a.decisions.get(i) is not None for v in self.views)
               and len({v.a.decisions.get(i) for v in self.views}) > 1]
        moved: dict[str, int] = {}
        for key in differing:
            for if_id in ifs:
                by_arm: dict[int | None, set[str]] = {}
                for v, lst in zip(self.views, lists):
                    for it in lst:
                        if it.key == key and not it.guard:
                            by_arm.setdefault(v.a.decisions.get(if_id), set()).add(it.plain or it.text)
                stmt = self.ifs[if_id]
                arms = set(range(len(stmt.branches))) | {len(stmt.branches) if stmt.orelse else -1}
                # every arm seen: an argument taking an arm no instance took would find no version of the line
                if all(len(ts) == 1 for ts in by_arm.values()) and set(by_arm) == arms:
                    moved[key] = if_id
                    break
        if not moved:
            return lists
        return [[dataclasses.replace(it, guard=((moved[it.key], v.a.decisions[moved[it.key]]),))
                 if it.key in moved and not it.guard else it for it in lst]
                for v, lst in zip(self.views, lists)]

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
        if guarded:
            fwd_items = self._hoist(fwd_items)
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
        checks = self._pinned_arguments(used) + self._checks(used) + self._index_checks(used)
        definitions = self._local_definitions(used)
        if definitions is None:
            return None
        stored = [raw for kind, raw in sorted(fwd_used) if kind == "param"]
        used |= {("param", raw) for raw in stored}
        plan = ClassPlan(name, self.defname, self.views)
        plan.signature, plan.keyword_only = self._signature(used)
        head = [f"self.{self.names.attrs.name(raw, ('param', raw), what='parameter')} = {self.names.arg(raw)}"
                for raw in self._ordered(stored)]
        derived = [line for a in plan.signature if a.derived is not None
                   for line in (f"if {a.py} is None:", f"    {a.py} = {a.derived}")]
        plan.init_lines = derived + definitions + checks + head + init_lines
        plan.fwd_lines = fold_operand_chains(
            self._unpack({raw for kind, raw in fwd_used if kind == "sym"}) + fwd_lines + [self.views[0].ret],
            keep=self._source_names())
        plan.params = self.views[0].params
        plan.returns = len(self.views[0].mod.outputs)
        return plan

    def _source_names(self) -> set[str]:
        """The forward variables named by the source (`types = ids -> Embedding`, an input, an output)."""
        info = self.dinfo
        layers = {it.raw for v in self.views for it in v.init}  # `input_layernorm = RMSNorm()` declares a layer
        raws = ({n for names in info.bindings.values() for n in names} - layers) | set(info.aliases) | \
            {n for n in info.output_names if n} | {inp.name for inp in info.inputs}
        return {py for raw in raws if (py := self.names.locals.get(("var", raw))) is not None}

    def _local_definitions(self, used: set[tuple[str, str]]) -> list[str] | None:
        """`squeeze = (expanded // 4 + 4) // 8 * 8`, then `if squeeze < 8: squeeze = 8`: the values the source
        named that __init__ reads, each computed once, in the source's order. Adds what they read to `used`.

        None when the instances do not define them alike, or when one name's versions cannot share one Python
        variable (a line reads an earlier version after a later one is computed): the class is then written with
        the expressions in place."""
        wanted = [raw for kind, raw in used if kind == "local"]
        if not wanted:
            return []
        read_by_lines = set(wanted)
        found: dict[str, Local] = {}
        texts: dict[str, list[str]] = {}
        reads: dict[str, set[str]] = {}
        while wanted:
            key = wanted.pop()
            if key in found:
                continue
            per_view = [v.a.locals.get(key) for v in self.views]
            if any(x is None for x in per_view):
                return None
            rendered = set()
            for local in per_view:
                assert local is not None
                ctx = self.names.init_ctx()
                rendered.add(tuple(self._definition(local, ctx)))
                used |= ctx.used
                reads.setdefault(key, set()).update(raw for kind, raw in ctx.used if kind == "local")
            if len(rendered) != 1:
                return None
            found[key] = per_view[0]  # type: ignore[assignment]
            texts[key] = list(rendered.pop())
            wanted += list(reads[key])
        order = sorted(found, key=lambda k: found[k].at)
        position = {k: i for i, k in enumerate(order)}
        py = {k: self.names.local(k) for k in order}
        # every read sees the version it means: none of that variable's later values is computed before it
        readers = [(position[k], r) for k in order for r in reads.get(k, ())] + \
                  [(len(order), r) for r in read_by_lines]
        for at, r in readers:
            if any(py[o] == py[r] and position[r] < position[o] < at for o in order):
                return None
        return [line for k in order for line in texts[k]]

    def _definition(self, local: Local, ctx: Any) -> list[str]:
        """One named value's lines: `name = expr`, or an `if` that reassigns it where the source's `if` did."""
        name = ctx.leaf("local", local.key)
        tree = local.tree
        if isinstance(tree, IfExp) and isinstance(tree.orelse, Local) and self.names.local(tree.orelse.key) == name:
            ctx.leaf("local", tree.orelse.key)
            lines: list[str] = []
            for i, (cond, value) in enumerate(tree.arms):
                lines += [f"{'if' if i == 0 else 'elif'} {cond.render(ctx)}:", f"    {name} = {value.render(ctx)}"]
            return lines
        return [f"{name} = {tree.render(ctx)}"]

    def _hoist(self, items: list[Item]) -> list[Item]:
        """Forward lines the same in every arm of an `if` are written once, outside it: both arms of
        `if bilinear` call `self.up(x)`, whatever `self.up` is."""
        for if_id, stmt in self.ifs.items():
            if not stmt.orelse:
                continue  # an arm that takes no branch runs none of the lines
            inside = [it for it in items if any(g[0] == if_id for g in it.guard)]
            if not inside or any(it.guard[-1][0] != if_id for it in inside):
                continue  # nothing here, or an `if` nested inside this one
            arms: dict[int, list[tuple[str, str, Any]]] = {}
            for it in inside:
                arms.setdefault(it.guard[-1][1], []).append((it.key, it.text, it.guard[:-1]))
            bodies = list(arms.values())
            if len(arms) != len(stmt.branches) + 1 or any(b != bodies[0] for b in bodies):
                continue
            first = next(iter(arms))
            per_arm: dict[int, list[Item]] = {}
            for it in inside:
                per_arm.setdefault(it.guard[-1][1], []).append(it)
            hoisted = {id(it): dataclasses.replace(it, guard=it.guard[:-1], shapes=_merge_shapes(
                [arm[i].shapes for arm in per_arm.values()])) for i, it in enumerate(per_arm[first])}
            items = [hoisted.get(id(it), it) for it in items if it not in inside or it.guard[-1][1] == first]
        return items

    def _pinned_arguments(self, used: set[tuple[str, str]]) -> list[str]:
        """`if (w,) != (4,): raise ValueError(...)`: something was written as the instances' own values (a value
        too deep to follow, a comprehension over the arguments written item by item), so the class refuses
        other arguments, naming the line, rather than build something else."""
        pins = [pin for v in self.views for pin in v.a.pinned]
        wanted = None if any(pin.params is None for pin in pins) else set().union(*(pin.params or () for pin in pins))
        params = [p.name for p in self.dinfo.defn.params if wanted is None or p.name in wanted]
        if not pins or not params:
            return []
        ctx = self.names.init_ctx()
        names = _tuple_text([Leaf("param", p).render(ctx) for p in params])
        compiled = list(dict.fromkeys(_tuple_text([literal(plain(v.mod.args.get(p)), ctx) for p in params])
                                      for v in self.views))
        used |= ctx.used
        span, why = pins[0].span, pins[0].why
        text = span.text if len(span.text) <= 60 else span.text[:57] + "..."
        msg = (f"{span.location()}: `{text}` {why}, so this class is built only for the arguments it was compiled "
               f"with; recompile the .net file with the others (--set)")
        test = f"!= {compiled[0]}" if len(compiled) == 1 else f"not in ({', '.join(compiled)})"
        return [f"if {names} {test}:", f"    raise ValueError({_message(msg)})"]

    def _checks(self, used: set[tuple[str, str]]) -> list[str]:
        """`if d % heads != 0: raise ValueError(...)`: the exact divisions every instance needs, as the compiler
        requires them, refused at construction with the .net line (not later as a shape error in forward)."""
        out: list[str] = []
        for v in self.views:
            for num, den, expr in v.a.divisions:
                if _always_divides(num, den):
                    continue
                ctx = self.names.init_ctx()
                try:
                    n, d = _paren_text(num, ctx), _paren_text(den, ctx)
                    arm = self._arm_condition(v, expr, ctx)
                except Unrenderable:
                    continue
                if any(kind not in ("param", "local") and (kind, raw) not in used for kind, raw in ctx.used):
                    continue  # a size bound by an input at forward time (not a constructor argument)
                msg = (f"{expr.span.location()}: `{expr.span.text}` needs {expr.left.span.text} to be a multiple "
                       f"of {expr.right.span.text}")
                line = f"if {arm}{n} % {d} != 0:"
                if line not in out:
                    out += [line, f"    raise ValueError({_message(msg)})"]
                    used |= ctx.used
        return out

    def _index_checks(self, used: set[tuple[str, str]]) -> list[str]:
        """`if not -len(channels) <= levels - 1 < len(channels): raise ValueError(...)`: the items of list
        parameters every instance reads, refused at construction with the .net line as the compiler refuses
        them (not later as Python's IndexError). An item a comprehension reads is checked for its last value."""
        out: list[str] = []
        for v in self.views:
            for base, index, expr in v.a.indexes:
                if any(lv.values_if_last is None and lv.values_if_first is None for lv in loop_vars_in(index)) \
                        or loop_vars_in(base):
                    continue  # a middle item of a comprehension: those of its first and last items cover it
                ctx = self.names.init_ctx()
                try:
                    b, i = _paren_text(base, ctx), index.render(ctx)
                    arm = self._arm_condition(v, expr, ctx)
                except Unrenderable:
                    continue
                if any(kind not in ("param", "local") and (kind, raw) not in used for kind, raw in ctx.used):
                    continue  # a size bound by an input at forward time (not a constructor argument)
                if i.isdigit():  # a constant index (`channels[0]`, or the first item of `range(levels)`)
                    line = f"if {arm}len({b}) <= {i}:"
                else:
                    line = f"if {arm}not -len({b}) <= {i} < len({b}):"
                msg = (f"{expr.span.location()}: `{expr.span.text}` is out of range: `{expr.value.span.text}` "
                       f"has too few items")
                if line not in out:
                    out += [line, f"    raise ValueError({_message(msg)})"]
                    used |= ctx.used
        return out

    def _arm_condition(self, v: View, expr: ast.BinOp | ast.Index, ctx: Any) -> str:
        """`bilinear and `: the conditions of the `if` arms the division sits in (empty outside any `if`)."""
        parts: list[str] = []
        for if_id, k in self.dinfo.guard_of(expr.span):
            stmt = self.ifs[if_id]
            trees = v.a.cond_trees.get(if_id) or []
            upto = min(k + 1, len(stmt.branches))
            if len(trees) < upto or any(tr is None for tr in trees[:upto]):
                raise Unrenderable("condition")
            texts = [_paren_text(tr, ctx, PREC_AND + 1) for tr in trees[:upto]]
            if k < len(stmt.branches):
                parts += [f"not {x}" for x in texts[:k]] + [texts[k]]
            else:
                parts += [f"not {x}" for x in texts]
        return "".join(f"{p} and " for p in parts)

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
                default = plain(v.value) if (is_network and v is not None and is_int(v.value)) else REQUIRED
                out.append(Arg(s, "sym", self.names.arg(s), "int", default))
        for p in defn.params:
            # a network's constructor takes every parameter of its definition, also one that only bounds an
            # input (`where T <= max_len`); a block's takes the ones its body uses, which its callers pass
            if p.name not in raws and not is_network:
                continue
            default: Any = REQUIRED
            if is_network:
                default = self.views[0].mod.args.get(p.name, REQUIRED)
                derived = self._derived_default(p)
                if derived is not None:
                    out.append(Arg(p.name, "param", self.names.arg(p.name), _annotation(p.type_name, default),
                                   None, derived))
                    continue
            elif p.default is not None:
                try:
                    default = evaluate(p.default, {}).value
                    if p.type_name == "float" and isinstance(default, int) and not isinstance(default, bool):
                        default = float(default)
                except EvalError:
                    default = REQUIRED
            if isinstance(default, Dim):
                default = REQUIRED
            value = self.views[0].mod.args.get(p.name, default)
            out.append(Arg(p.name, "param", self.names.arg(p.name), _annotation(p.type_name, value), default))
        seen_default = False
        keyword_only = False
        for arg in out:
            if arg.has_default:
                seen_default = True
            elif seen_default:
                keyword_only = True
        return out, keyword_only

    def _derived_default(self, p: ast.Param) -> str | None:
        """The Python text of a default that is an expression in the definition's other parameters."""
        if p.default is None or p.name in self.gen.result.overrides:  # `--set head_dim=8` is the default then
            return None
        try:
            evaluate(p.default, {})
            return None  # a constant default is written as a literal
        except EvalError:
            pass
        env: dict[str, Val] = {}
        for q in self.gen.defs[self.defname].params:
            if q.name != p.name:
                v, leaf = self.views[0].mod.args.get(q.name), Leaf("param", q.name)
                env[q.name] = Val(Tracked(int(v), leaf) if is_int(v) else v, leaf)
        try:
            tree = evaluate(p.default, env).tree
        except EvalError:
            return None
        return tree.render(self.names.init_ctx())

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


def _annotation(type_name: str, value: Any) -> str:
    """The Python type of a parameter: a `list` is a tuple (the default is one; a tuple default is immutable)."""
    if type_name == "list":
        kinds = {type(plain(x)).__name__ for x in value} if isinstance(value, (tuple, list)) else set()
        return f"tuple[{kinds.pop()}, ...]" if len(kinds) == 1 else "tuple"
    return {"int": "int", "dim": "int", "float": "float", "bool": "bool", "str": "str"}.get(type_name, "int")


def _merge_shapes(all_shapes: list[list[list[str]]]) -> list[list[str]]:
    first = all_shapes[0]
    if any(len(s) != len(first) or any(len(a) != len(b) for a, b in zip(s, first)) for s in all_shapes):
        return [["?"] for _ in first]
    return [[d if all(s[o][j] == d for s in all_shapes) else "?" for j, d in enumerate(out)]
            for o, out in enumerate(first)]


def _paren_text(node: Any, ctx: Any, need: int = PREC_MUL + 1) -> str:
    """A tree's text as an operand (of `%` by default), parenthesised unless it binds as tightly."""
    text = node.render(ctx)
    return text if node.prec_in(ctx) >= need else f"({text})"


def _literal_values(node: Any) -> list[int] | None:
    """The ints a tree can be when it holds no argument but through `if`s (`2 if bilinear else 1`), else None."""
    if isinstance(node, Lit) and is_int(node.value):
        return [int(node.value)]
    if isinstance(node, Local):
        return _literal_values(node.tree)
    if isinstance(node, IfExp):
        out: list[int] = []
        for value in [v for _, v in node.arms] + [node.orelse]:
            vals = _literal_values(value)
            if vals is None:
                return None
            out += vals
        return out
    return None


def _always_divides(num: Any, den: Any) -> bool:
    """`16 * base` by `2 if bilinear else 1`: a constant factor of the dividend that every divisor divides."""
    divisors = _literal_values(den)
    if not divisors or 0 in divisors:
        return False
    factor = _literal_values(num)
    if factor is None and isinstance(num, Bin) and num.op == "*":
        factor = _literal_values(num.left) or _literal_values(num.right)
    return factor is not None and all(f % d == 0 for f in factor for d in divisors)
