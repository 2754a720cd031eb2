"""Comprehension variables and counted sizes in expression trees: what a loop's items read, written by name
inside the loop that builds them and as their compiled value anywhere else (which pins the class to its
arguments, netc/codegen/torch/render.py)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .trees import PREC_ADD, PREC_ATOM, At, Call, Ctx, Lit, Node, literal, subtrees, t_sub

# The comprehensions (by offset) whose variable was written as a value, while one instance is rendered: where
# its values come from the arguments, the class holds only for the instance's own arguments. None: not collecting.
_LOOPS_AS_VALUES: ContextVar[set[int] | None] = ContextVar("loops_as_values", default=None)


@contextmanager
def loops_written_as_values(into: set[int]) -> Iterator[None]:
    token = _LOOPS_AS_VALUES.set(into)
    try:
        yield
    finally:
        _LOOPS_AS_VALUES.reset(token)


@dataclass(frozen=True)
class LoopVar(Node):
    """A comprehension's variable in one of its items: `i` in item 2 of `[Res(c, dilation=2 ** i) for i in
    range(levels)]`. Written by name inside the loop that builds that item; anywhere else (the next item's input
    width, a later layer) it is the value it had, which only that compile's arguments give."""

    var: str
    at: int  # the comprehension (its offset in the source)
    index: int  # the item
    value: Any
    # the values the comprehension iterates, as an expression, when its last item is this one: a later layer
    # reads the last item's width as `channels[levels - 1]` for any count; likewise for the first item
    values_if_last: Node | None = None
    values_if_first: Node | None = None

    def render(self, ctx: Ctx) -> str:
        loop = ctx.loop
        if loop is not None and loop.at == self.at:
            if loop.index == self.index:
                return loop.name
            if loop.step is not None and self.index < loop.index:
                back = (loop.index - self.index) * loop.step  # negative over a falling range
                return f"{loop.name} - {back}" if back > 0 else f"{loop.name} + {-back}"
        elif self.values_if_last is not None:
            return last_value(self.values_if_last).render(ctx)
        elif self.values_if_first is not None:
            return first_value(self.values_if_first).render(ctx)
        written = _LOOPS_AS_VALUES.get()
        if written is not None:
            written.add(self.at)
        return literal(self.value, ctx)

    def prec_in(self, ctx: Ctx) -> int:
        loop = ctx.loop
        if loop is not None and loop.at == self.at:
            if loop.index == self.index:
                return PREC_ATOM
            return PREC_ADD if loop.step is not None and self.index < loop.index else Lit(self.value).prec
        if self.values_if_last is not None:
            return last_value(self.values_if_last).prec_in(ctx)
        if self.values_if_first is not None:
            return first_value(self.values_if_first).prec_in(ctx)
        return Lit(self.value).prec

    def has_leaf(self) -> bool:
        return True  # it depends on the arguments (through the values the comprehension iterates)


@dataclass(frozen=True)
class Unfollowed(Node):
    """A size a repetition makes that changes with its count in no way the analysis follows (a stride-2
    convolution repeated `n` times halves the height `n` times). Only the compiled count makes `value`: code
    that writes it holds for that count alone, so writing it pins the repetition (at `at`) to its count; a
    shape comment shows `?`."""

    value: Any
    at: int  # the repetition (its offset in the source)

    def render(self, ctx: Ctx) -> str:
        if ctx.comment:
            return "?"
        written = _LOOPS_AS_VALUES.get()
        if written is not None:
            written.add(self.at)
        return literal(self.value, ctx)

    def has_leaf(self) -> bool:
        return True


def first_value(values: Node) -> Node:
    """The first value of a comprehension's values: `0` for `range(n)`, `a` for `range(a, b)`, else
    `values[0]`."""
    if isinstance(values, Call) and values.func == "range":
        return Lit(0) if len(values.args) == 1 else values.args[0]
    return At(values, Lit(0))


def last_value(values: Node) -> Node:
    """The last value of a comprehension's values: `n - 1` for `range(n)`, `b - 1` for `range(a, b)`, else
    `values[-1]`."""
    if isinstance(values, Call) and values.func == "range" and len(values.args) <= 2:
        return t_sub(values.args[-1], Lit(1))
    return At(values, Lit(-1))


def loop_vars_in(node: Node) -> list[LoopVar]:
    """The comprehension variables a tree reads (through named values too)."""
    return [n for n in subtrees(node) if isinstance(n, LoopVar)]
