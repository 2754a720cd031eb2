"""Writes merged items as code, turning their `if` guards into Python `if` statements."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...dsl import ast
from ...dsl.parametric.trees import Unrenderable
from .render import Guard, Item

if TYPE_CHECKING:
    from .merge import Merger



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
        fwd_arms: dict[int, set[int]] = {}
        for it in fwd:
            for if_id, k in it.guard:
                fwd_arms.setdefault(if_id, set()).add(k)
        for it in fwd:
            for depth in range(len(it.guard)):
                path = it.guard[:depth + 1]
                key = it.guard[depth]
                if key in self.fconds:
                    continue
                own = [at for at in by_arm_attrs.get(path, []) if attr_arms[at] == {path}]
                stmt = self.m.ifs[key[0]]
                if own:
                    self.fconds[key] = f"self.{own[0]} is not None"
                elif stmt.orelse and key[1] == len(stmt.branches) and \
                        fwd_arms[key[0]] == set(range(len(stmt.branches) + 1)):
                    self.fconds[key] = ""  # the `else` of arms forward all writes: every instance took one
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
            if all(if_id in v.a.scalar_ifs for v in self.m.views):
                continue  # it only chooses values, and their `a if c else b` holds for every argument
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
                cond = self.fconds[(if_id, k)]
                if not cond and idx == 0:
                    raise Unrenderable("an `else` arm apart from its `if`")
                lines.append(("if " if idx == 0 else "elif ") + cond + ":" if cond else "else:")
                lines.extend("    " + b for b in (body or ["pass"]))
            return lines
        observed = {v.a.decisions.get(if_id) for v in self.m.views}
        arm_ids = list(range(n)) + ([n] if stmt.orelse else [-1])
        attrs_in = {k: [it.attr for it in group if it.guard[depth][1] == k and len(it.guard) == depth + 1 and it.attr]
                    for k in arm_ids}
        all_attrs = list(dict.fromkeys(a for k in arm_ids for a in attrs_in[k] if a))
        flags = self.flags.get(if_id, [])
        sources = [b for _, b in stmt.branches] + [stmt.orelse or ()]
        # Only flags of this `if` and nothing nested inside it: the flag is the condition itself. A nested
        # `if` needs its own flags set, so it takes the general form below.
        simple = (not all_attrs and all(not it.text and len(it.guard) == depth + 1 for it in group)
                  and all(fk == 0 for fk, _ in flags)
                  and all(k in observed or not (sources[k] if k >= 0 else ()) for k in arm_ids))
        if simple:  # `self.use_gelu1 = act`
            return [f"self.{f} = {self._cond(if_id, 0)}" for _, f in flags]
        for k in arm_ids:
            arm_items = [it for it in group if it.guard[depth][1] == k]
            body = self._block(arm_items, depth + 1, side)
            body += [f"self.{f} = {fk == k}" for fk, f in flags]
            body += [f"self.{a} = None" for a in all_attrs if a not in attrs_in[k]]
            src = sources[k] if k >= 0 else ()
            if k not in observed and src and not arm_items and \
                    not all(if_id in v.a.scalar_ifs for v in self.m.views):
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
