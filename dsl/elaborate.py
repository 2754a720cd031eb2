"""Elaboration: AST -> typed IR.

Binds parameters, evaluates compile-time arithmetic and `if`, instantiates blocks (each instance keeps
its block name, its arguments and its call span), unrolls repetition while keeping the grouping (a
sequential module), and runs every op's shape rule. Errors are reported into the collector; a value
that could not be computed becomes `ERR`, which later steps accept silently so one mistake is reported
once, not at every use.

The Elaborator is put together from one mixin a job, each in its own module: statements.py (a body's
statements, binding names), inputs.py, constraints.py (`where`, divisibility), parameters.py (a block's
parameters), expressions.py, calls.py (ops and blocks called, block instances), chains.py (chain steps,
containers run in order), repetition.py (a container's items), op_nodes.py (an op applied: attributes,
shape rule, weights), declarations.py (layers declared before use), naming.py (layer names); their shared
state and diagnostics are in elaborator_base.py, frames and `ERR` in frames.py, compile-time arithmetic in
arithmetic.py. This module is the entry point: `Elaborator(...).network(name)`.
"""
from __future__ import annotations

from .calls import CallMixin
from .chains import ChainMixin
from .constraints import ConstraintMixin
from .declarations import DeclarationMixin
from .divisibility import facts_scope
from .expressions import ExpressionMixin
from .frames import ERR, Binding, Frame, env_frame
from .inputs import InputMixin
from .ir import Graph, Module, Value
from .limits import ELEMENTS, LAYERS, PARAMS
from .naming import NamingMixin, collect_aliases, snake
from .op_nodes import OpNodeMixin
from .parameters import PARAM_TYPES, ParameterMixin, check_headers
from .repetition import ContainerMixin
from .statements import StatementMixin

# The names other modules import from here.
__all__ = ["ERR", "PARAM_TYPES", "Binding", "Elaborator", "Frame", "check_headers", "env_frame", "snake"]


class Elaborator(StatementMixin, InputMixin, ConstraintMixin, ParameterMixin, ExpressionMixin, CallMixin,
                 ChainMixin, OpNodeMixin, NamingMixin, ContainerMixin, DeclarationMixin):
    """Elaborates the networks of a set of definitions: `Elaborator(definitions, diags).network(name)`."""

    def network(self, name: str) -> Graph | None:
        defn = self.defs[name]
        self.layers = 0
        self.max_layers, self.max_elements = LAYERS.value, ELEMENTS.value
        root = Module("network", "", "", name, {}, defn.span, False)
        params = self._bind_params(defn, [], {}, defn.name_span, top_level=True)
        if params is ERR:
            return None
        root.args = {k: b.value for k, b in params.items()}
        frame = Frame(defn, root, params, None, None, collect_aliases(defn.body))
        self.stack.append((name, None, ""))
        self.symbol_sites = {}
        try:
            with facts_scope():  # `where H % 16 == 0` holds for this network only
                self._run_body(frame)
        finally:
            self.stack.pop()
        self._finish_frame(frame)
        outputs = [(n, v) for n, v, _ in frame.outputs if isinstance(v, Value)]
        root.inputs = [v for _, v, _ in frame.input_values]
        root.outputs = [v for _, v in outputs]
        root.input_defaults = dict(frame.input_defaults)
        graph = Graph(name, root, frame.input_values, outputs, root.args, list(self.symbols),
                      list(self.constraints), defn.span.source)
        if _known_params(graph) > PARAMS.value:
            self.error(PARAMS.code, f"network `{name}` has {_known_params(graph):,} parameters", defn.name_span,
                       help=PARAMS.hint())
        return graph


def _known_params(graph: Graph) -> int:
    """The parameters whose count is known (symbolic ones are E210 elsewhere)."""
    total = 0
    for node in graph.op_nodes():
        for key, shape in node.params.items():
            if key in node.tied:
                continue
            n = 1
            for d in shape:
                n = n * d if isinstance(d, int) else 0
            total += n
    return total
