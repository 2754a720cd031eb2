"""Whether a repetition's items can be built by a loop for any count, and how.

Item k+1 of `Block(16) * n` takes the sizes item k made. A loop of alike items is right for any count only
when an item makes the sizes it takes (a fixed point: `Bottleneck(64)` after the first takes and makes
`4 * width`). A DenseNet layer instead makes `C + growth` from `C`: the widths grow by a step, and item k takes
`C0 + k * growth`. That step comes from the block's own analysis (its output sizes in terms of its input
sizes), so it holds for counts the compile did not see; the instance's values are checked against it.

Anything else (widths that halve, or a single compiled item whose next one would differ) cannot be one loop:
the items are written out and the class refuses other counts, naming the line.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..dims import Dim
from ..ir import Module, OpNode
from ..ops import OPS, AttrError, ShapeError
from ..types import TensorType
from .evaluate import Val
from .linear import combine, linear, substitute, tree_of_linear
from .loopvars import LoopVar, Unfollowed, loop_vars_in
from .trees import (
    Leaf,
    Node,
    leaves_in,
    plain,
    t_add,
    t_mul,
    track,
    tree_of,
)

if TYPE_CHECKING:
    from .analysis import Analysis, ChildInfo


@dataclass(frozen=True)
class Steps:
    """Sizes that grow by a step per item: the item's argument `name` is `first + i * step` (in the caller's
    terms), at position `dim` of its input."""

    var: str  # the loop variable the items' arguments read (a LoopVar of this name)
    grows: tuple[tuple[str, int, Node, Node], ...]  # (argument, dim, first, step)


def same_tree(a: Node, b: Node) -> bool:
    """Equal as sums: `init + growth + growth` and `init + 2 * growth` are the same size."""
    return combine(linear(a), linear(b), -1) == ([], 0)


def _same_built(x: object, y: object) -> bool:
    """Two attribute values that write the same constructor argument (as expressions, not only as numbers)."""
    if isinstance(x, tuple) and isinstance(y, tuple):
        return len(x) == len(y) and all(_same_built(u, v) for u, v in zip(x, y))
    if isinstance(x, Dim) or isinstance(y, Dim):
        return isinstance(x, Dim) and isinstance(y, Dim) and x == y
    if isinstance(x, int) and isinstance(y, int) and not isinstance(x, bool) and not isinstance(y, bool):
        return same_tree(tree_of(x), tree_of(y))
    return type(x) is type(y) and x == y


def built_alike(item: OpNode | Module, a: Analysis, own: Callable[[Module], Analysis]) -> bool:
    """Would another item after `item`, taking the sizes it makes, be built exactly as it is? Then a loop of
    alike items is right for any count."""
    outs = [a.types.get(v.id) for v in item.outputs]
    if not outs or len(outs) != len(item.inputs) or any(t is None for t in outs):
        return False
    return _replay(item, outs, a, own)[0]  # type: ignore[arg-type]


def _replay(item: OpNode | Module, inputs: list[TensorType], a: Analysis,
            own: Callable[[Module], Analysis]) -> tuple[bool, list[TensorType] | None]:
    """Whether `item` would be built exactly as it is from `inputs`, and the sizes it then makes (None where
    that is not known)."""
    if isinstance(item, OpNode):
        info = a.nodes.get(id(item))
        if info is None or not info.ok:
            return False, None
        attrs = dict(info.pre)
        try:
            outs = OPS[item.op]().infer(attrs, inputs)
        except (ShapeError, AttrError, TypeError, ValueError, ArithmeticError):
            return False, None
        alike = set(attrs) == set(info.post) and all(_same_built(attrs[k], info.post[k]) for k in attrs)
        return alike, list(outs)
    if item.kind == "sequential":
        xs: list[TensorType] | None = inputs
        for el in item.body:
            if xs is None:
                return False, None  # what the previous layer makes is not known: nor is how this one is built
            alike, xs = _replay(el, xs, a, own)
            if not alike:
                return False, None
        return True, xs
    if len(inputs) != len(item.inputs):
        return False, None
    mine = own(item)
    # the sizes the block builds something from; where its analysis did not follow every layer, all of them
    read = sizes_read(mine) if mine.exact else None
    same_inputs = True
    for v, new_t in zip(item.inputs, inputs):
        t_in, given = mine.types.get(v.id), a.types.get(v.id)
        if t_in is None or given is None or t_in.rank != new_t.rank:
            return False, None
        for j, d in enumerate(t_in.dims):
            leaf = tree_of(d)
            if read is not None and isinstance(leaf, Leaf) and leaf.kind == "sym" and leaf.name not in read:
                continue  # a size the block builds nothing from (a height its convolutions keep or halve)
            if not _same_built(new_t.dims[j], given.dims[j]):
                return False, None
        same_inputs = same_inputs and _same_type(new_t, given)
    # built alike; what it makes is known when it takes the very sizes it took
    outs = [a.types.get(v.id) for v in item.outputs]
    return True, outs if same_inputs and all(t is not None for t in outs) else None  # type: ignore[return-value]


def _same_type(t: TensorType, u: TensorType) -> bool:
    return t.dtype == u.dtype and t.rank == u.rank and all(_same_built(x, y) for x, y in zip(t.dims, u.dims))


def sizes_read(mine: Analysis) -> set[str]:
    """The input sizes a block builds something from: its layers' attributes, its children's arguments, the
    conditions of its `if`s, the sizes of its parameters."""
    trees: list[Node] = []
    for info in mine.nodes.values():
        trees += [tree_of(v) for v in info.post.values() if isinstance(v, (int, tuple)) and not isinstance(v, bool)]
    for child in mine.children.values():
        trees += [v.tree for v in child.args.values()]
    for conds in mine.cond_trees.values():
        trees += [c for c in conds if c is not None]
    for dims, init in mine.state.values():
        trees += [v.tree for v in dims if v is not None] + [v.tree for v in init.values()]
    return {leaf.name for t in trees for leaf in leaves_in(t) if leaf.kind == "sym"}


def reads_loop(item: OpNode | Module, types: dict[int, TensorType], at: int) -> bool:
    """The item's output sizes read the comprehension's variable (`channels[i]`): the next item's input is
    written in terms of it (`channels[i - 1]`), right for any count."""
    t_out = types.get(item.outputs[0].id) if len(item.outputs) == 1 else None
    dims = t_out.dims if t_out is not None else ()
    return any(v.at == at for d in dims if not isinstance(d, Dim) for v in loop_vars_in(tree_of(d)))


def growing(items: list[OpNode | Module], a: Analysis, own: Callable[[Module], Analysis], at: int,
            var: str) -> Steps | None:
    """The steps by which the items' input sizes grow (DenseNet), or None when they do not grow by steps
    that hold for any count. Each item's arguments are rewritten as `first + i * step` (i a LoopVar)."""
    if not items or not all(isinstance(x, Module) and x.kind == "block" for x in items):
        return None
    mods: list[Module] = [x for x in items if isinstance(x, Module)]
    first = mods[0]
    if any(m.definition != first.definition or len(m.inputs) != 1 or len(m.outputs) != 1 for m in mods):
        return None
    mine = own(first)  # the block's output sizes in terms of its own input sizes and parameters
    if not mine.exact:
        return None
    t_in, t_out = mine.types.get(first.inputs[0].id), mine.types.get(first.outputs[0].id)
    if t_in is None or t_out is None or t_in.rank != t_out.rank:
        return None
    infos = [a.children.get(id(m)) for m in mods]
    if any(info is None for info in infos):
        return None
    args0 = infos[0].args  # type: ignore[union-attr]
    grows: list[tuple[str, int, Node, Node]] = []
    by: list[int] = []
    read = sizes_read(mine)
    for j, (x, y) in enumerate(zip(t_in.dims, t_out.dims)):
        if isinstance(x, Dim) or isinstance(y, Dim):
            if not (isinstance(x, Dim) and isinstance(y, Dim) and x == y):
                return None
            continue
        tx, ty = tree_of(x), tree_of(y)
        if isinstance(tx, Leaf) and tx.kind == "sym" and tx.name not in read:
            continue  # nothing is built from it: it may change freely (a height)
        step = tree_of_linear(combine(linear(ty), linear(tx), -1))
        if any(leaf.kind != "param" for leaf in leaves_in(step)):
            return None  # the step depends on the size itself (it halves, doubles...): no loop writes it
        if same_tree(step, tree_of(0)):
            continue
        if not isinstance(tx, Leaf) or tx.kind != "sym" or tx.name not in args0:
            return None  # a size the block fixes, yet its output changes it: not a chain of alike items
        # the step in the caller's terms: the block's parameters as this repetition passes them
        theirs = _in_callers_terms(step, args0)
        if theirs is None:
            return None
        grows.append((tx.name, j, args0[tx.name].tree, theirs))
        by.append(plain(y) - plain(x))  # the step's value for this instance, in the block's own analysis
    if not grows or not _values_agree(mods, infos, grows, by, a):  # type: ignore[arg-type]
        return None
    for k, info in enumerate(infos):
        i = LoopVar(var, at, k, k)
        for name, _, first_tree, step in grows:
            old = info.args[name]  # type: ignore[union-attr]
            tree = t_add(first_tree, t_mul(i, step))
            info.args[name] = Val(track(plain(old.value), tree), tree)  # type: ignore[union-attr]
    return Steps(var, tuple(grows))


def after(steps: Steps, count: Node, last: Module, a: Analysis) -> None:
    """The sizes the repetition makes, for any count: `first + count * step` (the compiled value stays)."""
    v = last.outputs[0]
    t = a.types.get(v.id)
    if t is None:
        return
    dims = list(t.dims)
    for _, j, first_tree, step in steps.grows:
        tree = t_add(first_tree, t_mul(count, step))
        dims[j] = track(plain(dims[j]), tree)
    a.types[v.id] = type(t)(t.dtype, tuple(dims))


def _in_callers_terms(step: Node, args: dict[str, Val]) -> Node | None:
    missing: list[str] = []

    def swap(leaf: Leaf) -> Node | None:
        val = args.get(leaf.name)
        if val is None:
            missing.append(leaf.name)
            return None
        return val.tree

    out = substitute(step, swap)
    return None if missing else out


def _values_agree(mods: list[Module], infos: list[ChildInfo], grows: list[tuple[str, int, Node, Node]],
                  by: list[int], a: Analysis) -> bool:
    """The compiled items' own sizes follow `first + k * step`, the step the block's analysis gives: item k
    takes it, and the last makes the next."""
    out_t = a.types.get(mods[-1].outputs[0].id)
    for (name, j, _, _), step in zip(grows, by):
        values = [plain(info.args[name].value) for info in infos] + [plain(out_t.dims[j]) if out_t else None]
        if not all(isinstance(v, int) for v in values):
            return False
        if any(v != values[0] + k * step for k, v in enumerate(values)):  # type: ignore[operator]
            return False
    return True


def count_dependent(last: OpNode | Module, at: int, steps: Steps | None, a: Analysis) -> None:
    """The sizes a loop's last item makes that change with the count in no way followed here (a height that
    halves per item): marked Unfollowed, so code built from them pins the count (a comment shows `?`)."""
    if len(last.inputs) != len(last.outputs):
        return
    grown = {j for _, j, _, _ in steps.grows} if steps is not None else set()
    for v_in, v_out in zip(last.inputs, last.outputs):
        t_in, t_out = a.types.get(v_in.id), a.types.get(v_out.id)
        if t_in is None or t_out is None or t_in.rank != t_out.rank:
            continue
        dims = list(t_out.dims)
        for j, (x, y) in enumerate(zip(t_in.dims, t_out.dims)):
            if j in grown or isinstance(x, Dim) or isinstance(y, Dim) or same_tree(tree_of(x), tree_of(y)):
                continue
            dims[j] = track(plain(y), Unfollowed(plain(y), at))
        a.types[v_out.id] = type(t_out)(t_out.dtype, tuple(dims))
