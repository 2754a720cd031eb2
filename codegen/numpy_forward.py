"""The state of lowering one network's forward pass (`Forward`) and the helpers its emitters share.

Emitters (numpy_emitters.py, numpy_ops.py) and the lowering (numpy_lower.py) both need these: the
namespace that names generated variables, the literal and call writers, the dims bound from the inputs,
and the error for what the backend cannot generate. Keeping them here, apart from the emitter tables and
from the lowering, is what lets those modules import them without importing each other.
"""
from __future__ import annotations

import ast
import builtins
import json
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ..dsl.dims import Dim, IntLike, subs
from ..dsl.ir import Graph, OpNode, Value
from . import naming
from .numpy_kernel_copy import _kernel_sources


# -- identifiers -------------------------------------------------------------------------------------------------
class Namespace(naming.Namespace):
    """The NumPy backend's use of the one namespace (codegen/naming.py): here every call names a new value,
    so each gets a fresh identifier; `reserve` and `available` serve the names reused for dead values."""

    def __init__(self, reserved: set[str]) -> None:
        super().__init__("the NumPy module", reserved, "a name the generated code uses")

    def name(self, raw: str, key: Hashable | None = None, what: str = "name") -> str:
        return super().name(raw, object() if key is None else key, what)


def _kernel_names() -> set[str]:
    return set(_kernel_sources())


# Names the generated forward uses for itself; never handed to a value, input or symbol.
_FORWARD_NAMES = {"np", "self", "p", "t", "trace"}


def _reserved() -> set[str]:
    return set(dir(builtins)) | _FORWARD_NAMES | _kernel_names()


def _str(s: str) -> str:
    """A double-quoted Python string literal for `s` (state_dict keys read better that way)."""
    lit = json.dumps(s)
    return lit if ast.literal_eval(lit) == s else repr(s)


def _lit(v: Any) -> str:
    """A Python literal for an attribute value (ints, floats, bools, strings, None and tuples of them)."""
    if isinstance(v, (tuple, list)):
        inner = ", ".join(_lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return f"float({str(v)!r})"  # inf and nan have no literal
    if isinstance(v, (bool, int, float)) or v is None:
        return repr(v)
    raise TypeError(f"no literal for {v!r}")


def _shape(values: list[Value]) -> str:
    return ", ".join(v.type.shape_str() for v in values)


# -- the forward pass of one network -------------------------------------------------------------------------------
@dataclass
class Forward:
    """State while lowering one graph: variable names, symbol bindings, the lines of `forward`."""

    graph: Graph
    definitions: dict[str, Any]
    trace: bool
    ns: Namespace = field(default_factory=lambda: Namespace(_reserved()))
    names: dict[int, str] = field(default_factory=dict)  # value id -> variable
    symbols: dict[str, str] = field(default_factory=dict)  # symbol -> variable
    bindable: dict[str, tuple[str, int]] = field(default_factory=dict)  # symbol -> (input variable, axis)
    used_symbols: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    optional: set[str] = field(default_factory=set)  # variables of inputs the caller may leave out
    dtype_expr: str = "self.dtype"

    # -- helpers for emitters ----------------------------------------------------------------------------------
    def param(self, node: OpNode, name: str) -> str:
        return f"p[{_str(node.path + '.' + name if node.path else name)}]"

    def opt_param(self, node: OpNode, name: str) -> str:
        return self.param(node, name) if name in node.params or name in node.buffers else "None"

    def dim(self, d: IntLike) -> str | None:
        """A dim as a Python expression over the symbols bound from the inputs; None if one is not bindable."""
        if isinstance(d, int):
            return str(d)
        syms = d.symbols()
        if not syms <= set(self.bindable):
            return None
        self.used_symbols |= syms
        return str(subs(d, {s: Dim.sym(self.symbols[s]) for s in syms}))

    def var(self, v: Value) -> str:
        return self.names[v.id]


Emitter = Callable[[Forward, OpNode, list[str]], str]


def _call(fn: str, *args: str, **kwargs: Any) -> str:
    """`fn(a, b, k=v)` with positional code strings and keyword attribute values (literals)."""
    parts = list(args) + [f"{k}={_lit(v)}" for k, v in kwargs.items()]
    return f"{fn}({', '.join(parts)})"


def _non_default(a: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The attributes that differ from torch's defaults, so calls show only what matters."""
    out = {}
    for k, default in defaults.items():
        v = a.get(k, default)
        if isinstance(v, tuple) and not isinstance(default, tuple) and all(x == default for x in v):
            continue
        if v != default:
            out[k] = v
    return out


# -- what the backend cannot generate; dims that must be computed from the inputs -----------------------------
class UnsupportedOp(Exception):
    """An op of the registry that this backend cannot generate yet."""


def _dim_or_fail(f: Forward, d: IntLike) -> str:
    text = f.dim(d)
    if text is None:
        raise UnsupportedOp(f"the numpy backend cannot compute `{d}` from the inputs' shapes")
    return text


