"""What elaboration carries while it runs a body: the frame, its bindings, and `ERR`.

A frame is one body being run: the definition, the module it builds, the names bound so far and the inputs
and outputs seen. Every part of the elaborator reads and writes frames, and so do the modules it mixes in
(repetition, declarations, state); they live apart from the Elaborator so that all of them can import these
without importing it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ast
from .ir import InputDefault, Module, Value
from .source import Span


class _Err:
    """The value of an expression that already produced an error."""

    def __repr__(self) -> str:
        return "ERR"


ERR: Any = _Err()


@dataclass
class Binding:
    value: Any
    span: Span
    used: bool = False
    kind: str = "value"  # "value", "input" or "param"
    default: Span | None = None  # a parameter's default, when the value came from it (errors point there too)
    chain_end: bool = False  # bound by the last bare name of a chain statement (`x -> relu -> y`)


@dataclass
class Frame:
    definition: ast.Definition
    module: Module
    env: dict[str, Binding]
    provided_inputs: list[Value] | None  # None for a top-level network
    call_span: Span | None
    reserved: set[str]  # every `as` name in the definition, so generated names avoid them
    taken: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    inputs_seen: int = 0
    outputs: list[tuple[str, Any, Span]] = field(default_factory=list)
    input_values: list[tuple[str, Value, Span]] = field(default_factory=list)
    # Dim names bound from input shapes -> (input, axis): how optional inputs find their size at run time.
    dim_sources: dict[str, tuple[str, int]] = field(default_factory=dict)
    input_defaults: dict[str, InputDefault] = field(default_factory=dict)


def env_frame(env: dict[str, Binding], defn: ast.Definition) -> Frame:
    """A throwaway frame for evaluating parameter defaults, which may refer to earlier parameters."""
    root = Module("block", "", "", defn.name, {}, defn.span, False)
    return Frame(defn, root, env, [], None, set())
