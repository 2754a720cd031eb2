"""The state every part of the elaborator shares, and how every part reports.

The Elaborator is one class put together from mixins, one a job (statements, inputs, constraints,
expressions, calls, chains, op nodes, names). This base holds what they all use: the definitions, the
diagnostics, the stack of block instances (so that an error inside a block says which instance it is in),
the frames being run, and the limits that stop runaway repetition and oversized tensors.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast
from .diagnostics import Diagnostics, Label
from .frames import ERR, Frame
from .ir import Constraint
from .limits import ELEMENTS, LAYERS
from .source import Span
from .types import TensorType


class ElaboratorBase:
    """What every part of the elaborator shares; the Elaborator (elaborate.py) mixes the parts in."""

    # Set by Elaborator.network for each network: the layers counted so far and the limits in force.
    layers: int
    max_layers: int
    max_elements: int

    def __init__(self, definitions: dict[str, ast.Definition], diags: Diagnostics,
                 overrides: dict[str, int] | None = None) -> None:
        self.defs = definitions
        self.diags = diags
        # A list from Python (`netc.check(path, {"widths": [8, 16]})`) is the language's list value, a tuple,
        # as `--set widths=[8,16]` gives; without this it was refused as "is list, but got a list".
        self.overrides = {k: _as_value(v) for k, v in (overrides or {}).items()}
        self.used_overrides: set[str] = set()
        self.bad_overrides: list[str] = []  # `--set` values of the wrong type (the CLI makes them usage errors)
        self.stack: list[tuple[str, Span | None, str]] = []  # (definition, call span, instance path)
        self.frames: list[Frame] = []  # the bodies being run, innermost last
        self.cyclic: set[str] = set()
        self.symbols: list[str] = []
        self.constraints: list[Constraint] = []
        # Each symbol's first appearance in a network input type (its dim, the input's name), where
        # divisibility requirements are reported.
        self.symbol_sites: dict[str, tuple[Span, str]] = {}
        # Tools that read source (the language server) see every bound name and chain step with its value;
        # None when compiling, so the compiler pays one attribute test per binding.
        self.observe: Callable[[Span, Any], None] | None = None

    def _context_notes(self, at: Span | None) -> list[str]:
        notes = []
        for name, span, path in reversed(self.stack[1:]):
            if span is not None and span != at:  # no note when the error already points at the call
                notes.append(f"in `{path}` ({name}), instantiated at {span.location()}")
        return notes[:3]

    def _default_label(self, span: Span | None) -> list[Label]:
        """When the span is a parameter's name whose value came from its default (`layers: int = 0`), a label
        at that default: the mistake is there as much as at the use."""
        if span is None or not self.frames or not span.text.isidentifier():
            return []
        body = self.frames[-1].definition.span
        if span.source is not body.source or not body.start <= span.start < body.end:
            return []  # the span is elsewhere (a call of this block), where the name means something else
        binding = self.frames[-1].env.get(span.text)
        if binding is None or binding.kind != "param" or binding.default is None:
            return []
        return [Label(binding.default, f"`{span.text}` is {binding.default.text} by default")]

    def error(self, code: str, message: str, span: Span | None, **kw: Any) -> Any:
        notes = list(kw.pop("notes", [])) + self._context_notes(span)
        secondary = list(kw.pop("secondary", [])) + self._default_label(span)
        self.diags.error(code, message, span, notes=notes, secondary=secondary, **kw)
        return ERR

    def warn(self, code: str, message: str, span: Span | None, **kw: Any) -> None:
        notes = list(kw.pop("notes", [])) + self._context_notes(span)
        self.diags.warning(code, message, span, notes=notes, **kw)

    def _count_layer(self, span: Span) -> bool:
        """Count an op node or block instance; False past the layer limit (reported once), ending runaway
        repetition."""
        self.layers = getattr(self, "layers", 0) + 1
        if self.layers == self.max_layers + 1:
            self.error(LAYERS.code, f"the network has more than {self.max_layers:,} layers", span,
                       help=f"repetition is unrolled into layers; check the repeat counts ({LAYERS.hint()})")
        return self.layers <= self.max_layers

    def _too_many_elements(self, t: TensorType, span: Span, what: str) -> bool:
        """Report (E213) a tensor whose known size is past the element limit: no machine holds it, and torch
        sizes overflow at 2**63."""
        n = 1
        for d in t.dims:
            if not isinstance(d, int):
                return False  # a symbolic size: bounded when the symbol is bound
            n *= d
        if n <= self.max_elements:
            return False
        self.error(ELEMENTS.code, f"{what} has {n:,} elements", span, label=f"{t}", help=ELEMENTS.hint())
        return True


def _as_value(value: Any) -> Any:
    """An override as the elaborator holds it: Python lists (nested too) become tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_value(v) for v in value)
    return value
