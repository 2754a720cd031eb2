"""Pinning a class to its compiled arguments because of a container part (netc/dsl/parametric/analysis.Pin):
the class refuses other values of the part's count or values, naming its `.net` line, rather than build the
compiled items for them."""
from __future__ import annotations

from ...dsl.ir import Module
from ...dsl.parametric.analysis import Analysis, FollowedPart, Pin
from ...dsl.parametric.trees import leaves_in


def pin_part(a: Analysis, fp: FollowedPart, why: str) -> None:
    """Pin `a`'s class to the parameters the part's count or values read (all of them when not known), unless
    the part is pinned already (the front end pins a part it found cannot loop, to its count's parameters)."""
    if fp.part.kind == "listed" or not fp.depends or any(p.span == fp.part.span for p in a.pinned):
        return
    leaves = leaves_in(fp.tree) if fp.tree is not None else []
    params = frozenset(leaf.name for leaf in leaves) if leaves and all(leaf.kind == "param" for leaf in leaves) \
        else None
    a.pinned.append(Pin(fp.part.span, why, params))


def pin_written_loops(a: Analysis, written: set[int]) -> None:
    """A part whose loop variable (or a size only its compiled count makes, Unfollowed) was written as a value
    somewhere (its items listed one by one, a width it chose read by a later layer) holds only for this
    instance's arguments."""
    for parts in a.containers.values():
        for fp in parts:
            if fp.part.span.start in written:
                why = "is written item by item, not as a loop over its values"
                if fp.part.kind == "repeat" and fp.steps is None:  # a size it makes was written (Unfollowed)
                    why = "makes sizes that change with its count, and a later layer is built from them"
                pin_part(a, fp, why)


def pin_unrolled(a: Analysis, m: Module) -> None:
    """A repetition or comprehension whose count or values the arguments change, written item by item (its
    items are not alike): without the pin, a class built with `stages_repeats=(2, 1, 3)` silently kept the
    compiled counts."""
    for fp in a.containers.get(id(m)) or []:
        pin_part(a, fp, "is written item by item, not as a loop over its values")
