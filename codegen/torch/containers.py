"""Containers written as loops: a repetition or a comprehension of alike items becomes
`nn.Sequential(*[Block(...) for i in range(n)])`, for any count, from the IR's container parts as the parametric
pass followed them."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...dsl.ir import Module
from ...dsl.parametric.analysis import FollowedPart
from ...dsl.parametric.loopvars import first_value
from ...dsl.parametric.trees import (
    PREC_ATOM,
    Call,
    Ctx,
    Lit,
    LoopContext,
    Node,
    Unrenderable,
    is_int,
    t_add,
    t_sub,
)

if TYPE_CHECKING:
    from .render import Renderer


def fmt_call(fn: str, items: list[str]) -> str:
    """`fn(a, b)` on one line when it fits in 88 columns, else one argument per line."""
    one = f"{fn}({', '.join(items)})"
    if len(one) <= 88 and "\n" not in one:
        return one
    body = "".join("    " + it.replace("\n", "\n    ") + ",\n" for it in items)
    return f"{fn}(\n{body})"


def repeated(r: Renderer, m: Module, ctx: Ctx, container: str) -> str | None:
    """`nn.Sequential(*[Block(d=d) for _ in range(layers)])` for a repetition whose items are written alike;
    `[Res(c=c, dilation=2 ** i) for i in range(levels)]` for a comprehension whose items are alike with its
    variable written by name; torchvision's `_make_layer` when only the first differs (`Block(C=64, ...),
    *[Block(C=256, ...) for _ in range(n - 1)]`); listed items joined to repetitions by `+` stay listed.

    Items named by a pattern loop when there is one repetition of alike items; a count or values that are not
    an expression in the class's arguments keep the unrolled form. The parts, with their counts and values as
    expressions, are the front end's (the IR's ContainerPart, followed by the parametric analysis).
    """
    parts = r.a.containers.get(id(m))
    indexed = [x.name for x in m.body] == [str(i) for i in range(len(m.body))]
    if not parts or not m.body or not (indexed or m.item_pattern is not None) \
            or all(fp.tree is None or fp.part.kind == "listed" for fp in parts):
        return None
    texts, ctxs = [], []
    at = 0
    for fp in parts:
        part, tree = fp.part, fp.tree
        for k, x in enumerate(m.body[at: at + part.items]):
            c = r.names.init_ctx()
            if part.kind == "comprehension" and tree is not None and part.var is not None:
                c.loop = LoopContext(part.span.start, k, r.names.loop_var(part.var), _range_step(tree))
            elif fp.steps is not None:  # sizes that grow by a step: `C=init + i * growth`
                c.loop = LoopContext(part.span.start, k, r.names.loop_var(fp.steps.var), 1)
            try:
                texts.append(r._module_text(x, c))
            except Unrenderable:
                return None
            ctxs.append(c)
        at += part.items
    pieces: list[tuple[str, str]] = []  # ("item", text) listed; ("loop", `[text for _ in range(n)]`)
    checks: list[str] = []
    at = 0
    for fp in parts:
        part, tree = fp.part, fp.tree
        mine = texts[at: at + part.items]
        first_at = at
        at += part.items
        if tree is None or part.kind == "listed":
            pieces += [("item", t) for t in mine]
            continue
        if part.kind == "repeat":
            target, values, count = "_", f"range({tree.render(ctx)})", tree.render(ctx)
            if fp.steps is not None:
                target = r.names.loop_var(fp.steps.var)
        else:
            target, values = r.names.loop_var(part.var or "_"), tree.render(ctx)
            count = f"len({values})"
            if isinstance(tree, Call) and tree.func == "range" and len(tree.args) == 1:
                count = tree.args[0].render(ctx)  # `levels`, not `len(range(levels))`
        source = f"`{part.span.text}`"
        if not mine:
            # compiled with a count of 0, no item says what one looks like: other counts are refused
            # with the line, rather than built without them
            where = (f"{part.span.location()}: {source} had no items when compiled, so this class "
                     f"cannot build them; recompile the .net file with the count (--set)")
            checks.append(f"if {count} != 0:\n    raise ValueError({where!r})")
            continue
        if len(set(mine)) > 1 and len(set(mine[1:])) == 1 and len(parts) == 1:
            # only the first differs (it takes the stage's input width): it, then the others alike; fewer
            # than one item is refused, as the compiler refuses it
            first = mine[0]
            if part.kind == "repeat":
                values = f"range({t_sub(tree, Lit(1)).render(ctx)})"
            else:  # the first item reads the first value: `widths[0]`, and the loop the others
                c = r.names.init_ctx()
                c.loop = LoopContext(part.span.start, 0, first_value(tree).render(ctx))
                try:
                    first = r._module_text(m.body[first_at], c)
                except Unrenderable:
                    return None
                ctxs.append(c)
                values = _rest_values(tree, values, ctx)
            pieces.append(("item", first))
            mine = mine[1:]
            where = f"{part.span.location()}: {source} needs at least one item"
            if part.kind == "comprehension":  # the compiler takes none, but this form builds the first item
                where = (f"{part.span.location()}: {source} is written here for at least one item; for none, "
                         f"recompile the .net file with them (--set)")
            checks.append(f"if {count} < 1:\n    raise ValueError({where!r})")
        elif len(set(mine)) > 1:
            _unalike(r, m, mine)
            return None
        pieces.append(("loop", _comprehension(mine[0], target, values)))
    for c in ctxs:
        ctx.used |= c.used
        ctx.needs |= c.needs
    if not indexed:  # items named by a pattern: the loop names them as the pattern does, for any count
        if container != "nn.Sequential":
            return None
        if len(parts) != 1 or len(pieces) != 1 or checks:
            return _named_parts(r, m, parts, texts, ctx)
        only, tree = parts[0].part, parts[0].tree
        assert tree is not None
        grows_by_i = parts[0].steps is not None and r.names.loop_var(parts[0].steps.var) == "i"
        if only.kind == "repeat" and (grows_by_i or not re.search(r"\bi\b", texts[0])):
            values = f"range({tree.render(ctx)})"  # (`i` is the item's index, as the pattern's `{i}` is)
        elif only.kind == "comprehension" and r.names.loop_var(only.var or "") == "i" \
                and isinstance(tree, Call) and tree.func == "range" and len(tree.args) == 1:
            values = tree.render(ctx)  # `for i in range(n)`: the variable is the item's index, as `{i}` is
        else:
            return None
        ctx.needs.add("OrderedDict")
        # the pattern's placeholders (`{i}`, `{i+1}`) are f-string fields; repr quotes the literal parts
        pair = f"(f{m.item_pattern!r}, {texts[0]})"
        one = f"nn.Sequential(OrderedDict({pair} for i in {values}))"
        if len(one) <= 88 and "\n" not in one:
            return one
        body = "    " + pair.replace("\n", "\n    ")
        return f"nn.Sequential(OrderedDict(\n{body}\n    for i in {values}\n))"
    r.pending_checks += checks
    if container == "nn.Sequential":
        args = [("*" + t if kind == "loop" else t) for kind, t in pieces]
    else:  # a ModuleList takes one list: the listed items and the loops, concatenated
        groups: list[tuple[str, list[str]]] = []  # ("item", texts) listed together, or ("loop", [text])
        for kind, t in pieces:
            if kind == "item" and groups and groups[-1][0] == "item":
                groups[-1][1].append(t)
            else:
                groups.append((kind, [t]))
        args = [" + ".join(ts[0] if kind == "loop" else f"[{', '.join(ts)}]" for kind, ts in groups)]
    if len(args) == 1:
        one = f"{container}({args[0]})"
        if len(one) <= 88 and "\n" not in one:
            return one
        star = "*" if args[0].startswith("*") else ""
        inner = args[0][len(star):]
        if len(pieces) == 1 and inner.startswith("["):  # the one loop, broken as before
            body, _, tail = inner[1:-1].rpartition(" for ")
            body = "    " + body.replace("\n", "\n    ")
            return f"{container}({star}[\n{body}\n    for {tail}\n])"
    return fmt_call(container, args)


def _named_parts(r: Renderer, m: Module, parts: list[FollowedPart], texts: list[str], ctx: Ctx) -> str | None:
    """Items named by a pattern, joined by `+` (torchvision's RegNet stage: `block2-0` with the stride, then
    `block2-1 ...` alike): `nn.Sequential(OrderedDict([('block2-0', A(...))] + [(f'block2-{i}', B(...)) for i
    in range(1, d)]))`, each item named by its index in the whole container. None (the items listed, and the
    class pinned to its arguments) when a repetition had no item when compiled, or its items are not alike."""
    assert m.item_pattern is not None
    pieces: list[str] = []
    checks: list[str] = []
    start: Node = Lit(0)
    at = 0
    for fp in parts:
        part, tree = fp.part, fp.tree
        mine, items = texts[at: at + part.items], m.body[at: at + part.items]
        at += part.items
        if part.kind == "listed" or tree is None or (not fp.depends and part.kind != "repeat"):
            names = [x.name for x in items]
            pieces.append("[" + ", ".join(f"({n!r}, {t})" for n, t in zip(names, mine)) + "]")
            start = t_add(start, Lit(len(mine)))
            continue
        if part.kind == "repeat" and not mine:  # compiled with a count of 0: other counts are refused, as above
            where = (f"{part.span.location()}: `{part.span.text}` had no items when compiled, so this class "
                     f"cannot build them; recompile the .net file with the count (--set)")
            checks.append(f"if {tree.render(ctx)} != 0:\n    raise ValueError({where!r})")
            continue
        # (whether one more item would be built alike is the front end's: a part that would not is not followed)
        if part.kind != "repeat" or len(set(mine)) != 1:
            return None
        count = tree
        stop = t_add(start, count)
        bounds = stop.render(ctx) if start == Lit(0) else f"{start.render(ctx)}, {stop.render(ctx)}"
        pieces.append(f"[(f{m.item_pattern!r}, {mine[0]}) for i in range({bounds})]")
        start = stop
    if re.search(r"\bi\b", " ".join(texts)):
        return None  # an item reads a name `i` of its own: the loop variable would shadow it
    ctx.needs.add("OrderedDict")
    r.pending_checks += checks
    body = "\n+ ".join(pieces)
    one = f"nn.Sequential(OrderedDict({body}))"
    if len(one) <= 88 and "\n" not in one:
        return one
    return f"nn.Sequential(OrderedDict(\n    {body.replace(chr(10), chr(10) + '    ')}\n))"


def _unalike(r: Renderer, m: Module, mine: list[str]) -> None:
    other = next((x for x in mine if x != mine[0]), mine[-1])
    r.why[r._rel(m.path).split(".")[0]] = (
        f"the items of `{m.span.text}` ({m.span.location()}) are not all alike (`{mine[0]}`, then "
        f"`{other}`), so its count cannot become a loop; repeat only the items that are alike")


def _comprehension(item: str, target: str, values: str) -> str:
    if not re.search(rf"\b{re.escape(target)}\b", item):
        target = "_"  # the items do not read the variable
    return f"[{item} for {target} in {values}]"


def _range_step(tree: Node) -> int | None:
    """The constant step of `range(...)` (1 unless given), None for other values or a step that is not constant."""
    if not isinstance(tree, Call) or tree.func != "range":
        return None
    if len(tree.args) < 3:
        return 1
    step = tree.args[2]
    return int(step.value) if isinstance(step, Lit) and is_int(step.value) else None


def _rest_values(tree: Node, values: str, ctx: Ctx) -> str:
    """The values after the first: `range(1, n)` for `range(n)`, `widths[1:]` for a list."""
    if isinstance(tree, Call) and tree.func == "range" and len(tree.args) == 1:
        return f"range(1, {tree.args[0].render(ctx)})"
    return f"{values}[1:]" if tree.prec_in(ctx) >= PREC_ATOM else f"({values})[1:]"
