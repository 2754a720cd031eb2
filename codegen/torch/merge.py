"""Merging the rendered instances of one definition into classes."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...dsl import ast
from ...dsl.dims import Dim
from ...dsl.ops import REQUIRED
from .evaluate import EvalError, evaluate
from .exprs import Unrenderable, _is_int, plain
from .guards import _GuardEmitter
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
