"""Elaboration: AST -> typed IR.

Binds parameters, evaluates compile-time arithmetic and `if`, instantiates blocks (each instance keeps
its block name, its arguments and its call span), unrolls repetition while keeping the grouping (a
sequential module), and runs every op's shape rule. Errors are reported into the collector; a value
that could not be computed becomes `ERR`, which later steps accept silently so one mistake is reported
once, not at every use.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ast, tensor_operators
from .declarations import DeclarationMixin, DeclaredLayer, declares, register
from .diagnostics import Diagnostics, Label, did_you_mean
from .dims import Dim, IntLike, Sym, add_minimum, dims_equal, floordiv, lower_bound, sym
from .divisibility import add_equal, add_fact, facts_scope, known_modulus, recording, requirement
from .ir import INPUT_FILLS, Constraint, Graph, InputDefault, Module, OpNode, Value
from .limits import ELEMENTS, LAYERS, PARAMS
from .ops import OPS, REQUIRED, AttrError, OpSpec, ShapeError, lookup
from .ops.base import ALIASES, LayerRef, describe
from .ops.tensor import exact_div
from .parse import WHERE_HINT
from .repetition import ContainerMixin, Item, is_container, with_bound
from .source import Span
from .state import declare as declare_state
from .state_hints import PYTORCH_CALLS
from .state_hints import SYNTAX_HINT as STATE_SYNTAX_HINT
from .types import DTYPES, FLOAT_DTYPES, TensorType


class _Err:
    """The value of an expression that already produced an error."""

    def __repr__(self) -> str:
        return "ERR"


ERR: Any = _Err()

PARAM_TYPES = ("int", "float", "bool", "str", "dim", "list")
# Repetition is unrolled, so `Block * 10**9` would run (and allocate) without end. Real models have a few
# thousand layers; past this many op nodes and block instances in one network, elaboration stops with E305.


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


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return s.lower()


def _collect_aliases(stmts: tuple[ast.Stmt, ...]) -> set[str]:
    out: set[str] = set()

    def expr(e: Any) -> None:
        if isinstance(e, ast.Chain):
            expr(e.head)
            for st in e.steps:
                if st.alias:
                    out.add(st.alias)
                expr(st.expr)
        elif isinstance(e, (ast.ListExpr, ast.TupleExpr)):
            for it in e.items:
                expr(it)
        elif isinstance(e, ast.ListComp):
            expr(e.item)
        elif isinstance(e, ast.BinOp):
            expr(e.left)
            expr(e.right)
        elif isinstance(e, ast.Call):
            for a in e.args:
                expr(a.value)

    for s in stmts:
        if isinstance(s, ast.StateDecl):
            out.add(s.name)  # a declared parameter's name is an attribute too: generated names avoid it
        elif isinstance(s, ast.Assign):
            if isinstance(s.value, ast.Call) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name):
                out.add(s.targets[0].id)  # may declare a layer (`linear1 = Linear(ff)`): not a generated name
            expr(s.value)
        elif isinstance(s, ast.ExprStmt):
            expr(s.expr)
        elif isinstance(s, ast.Output):
            for it in s.items:
                expr(it.value)
        elif isinstance(s, ast.If):
            for _, body in s.branches:
                out |= _collect_aliases(body)
            if s.orelse:
                out |= _collect_aliases(s.orelse)
    return out


def check_headers(defs: dict[str, ast.Definition], diags: Diagnostics) -> None:
    """Checks that need no instance: parameter names are unique and their types exist."""
    for defn in defs.values():
        seen: dict[str, Span] = {}
        for p in defn.params:
            if p.name in seen:
                diags.error("E405", f"parameter `{p.name}` of `{defn.name}` is declared twice", p.span,
                            secondary=[Label(seen[p.name], "first declared here")])
            seen.setdefault(p.name, p.span)
            if p.type_name not in PARAM_TYPES:
                guess = did_you_mean(p.type_name, PARAM_TYPES)
                diags.error("E204", f"unknown parameter type `{p.type_name}`", p.type_span,
                            help=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(PARAM_TYPES)}")


class Elaborator(ContainerMixin, DeclarationMixin):
    def __init__(self, definitions: dict[str, ast.Definition], diags: Diagnostics,
                 overrides: dict[str, int] | None = None) -> None:
        self.defs = definitions
        self.diags = diags
        self.overrides = dict(overrides or {})
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

    # -- diagnostics helpers ---------------------------------------------------------------------
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

    # -- entry point -----------------------------------------------------------------------------
    def network(self, name: str) -> Graph | None:
        defn = self.defs[name]
        self.layers = 0
        self.max_layers, self.max_elements = LAYERS.value, ELEMENTS.value
        root = Module("network", "", "", name, {}, defn.span, False)
        params = self._bind_params(defn, [], {}, defn.name_span, top_level=True)
        if params is ERR:
            return None
        root.args = {k: b.value for k, b in params.items()}
        frame = Frame(defn, root, params, None, None, _collect_aliases(defn.body))
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

    # -- parameters ------------------------------------------------------------------------------
    def _bind_params(self, defn: ast.Definition, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                     call_span: Span, top_level: bool = False) -> Any:
        env: dict[str, Binding] = {}
        defaults: dict[str, Span] = {}
        ok = True
        if len(pos) > len(defn.params):
            extra_span = pos[len(defn.params)][1]
            self.error("E306", f"`{defn.name}` takes {len(defn.params)} parameter"
                       f"{'s' if len(defn.params) != 1 else ''}, but {len(pos)} were given", extra_span,
                       label="unexpected argument",
                       help=f"its parameters are ({', '.join(p.name for p in defn.params)})" if defn.params else None)
            ok = False
        names = {p.name for p in defn.params}
        for k, (_, span) in kw.items():
            if k not in names:
                guess = did_you_mean(k, names)
                self.error("E302", f"`{defn.name}` has no parameter `{k}`", span,
                           help=f"did you mean `{guess}`?" if guess else
                           (f"its parameters are: {', '.join(sorted(names))}" if names else None))
                ok = False
        for i, p in enumerate(defn.params):
            if i < len(pos):
                value, span = pos[i]
                if p.name in kw:
                    self.error("E304", f"parameter `{p.name}` of `{defn.name}` is given twice", kw[p.name][1])
                    ok = False
            elif p.name in kw:
                value, span = kw[p.name]
            elif top_level and p.name in self.overrides:
                value, span = self.overrides[p.name], p.span
                self.used_overrides.add(p.name)
                if not _fits(p.type_name, value):
                    self.bad_overrides.append(f"`{p.name}` of `{defn.name}` is {p.type_name}, but got "
                                              f"{describe(value)}")
            elif p.default is not None:
                value, span = self._eval(p.default, env_frame(env, defn)), p.default.span
                defaults[p.name] = p.default.span
            else:
                self.error("E303", f"`{defn.name}` needs a value for its parameter `{p.name}`", call_span,
                           help=f"pass it: `{defn.name}({p.name}=...)`",
                           secondary=[Label(p.span, "declared here")])
                ok = False
                continue
            value = self._coerce_param(p, value, span, defn)
            env[p.name] = Binding(value, p.span, used=True, kind="param", default=defaults.get(p.name))
            if self.observe is not None:
                self.observe(p.span, value)
        return env if ok else ERR

    def _coerce_param(self, p: ast.Param, value: Any, span: Span, defn: ast.Definition) -> Any:
        if value is ERR:
            return ERR
        t = p.type_name
        if t not in PARAM_TYPES:
            return value  # reported once by check_headers
        if not _fits(t, value):
            return self.error("E204", f"parameter `{p.name}` of `{defn.name}` is {t}, but got {describe(value)}",
                              span, secondary=[Label(p.type_span, f"declared {t} here")])
        return float(value) if t == "float" else value

    # -- statements ------------------------------------------------------------------------------
    def _run_body(self, frame: Frame) -> None:
        defn = frame.definition
        self.frames.append(frame)
        try:
            self._run(defn.body, frame)
        finally:
            self.frames.pop()
        if not frame.outputs and not any(isinstance(s, ast.Output) for s in defn.body):
            self.error("E402", f"`{defn.name}` has no `output`", defn.name_span,
                       help="end the body with `output <value>`")
        if frame.provided_inputs is not None and frame.inputs_seen < len(frame.provided_inputs):
            self.error("E308", f"`{defn.name}` takes {frame.inputs_seen} input"
                       f"{'s' if frame.inputs_seen != 1 else ''}, but {len(frame.provided_inputs)} were given",
                       frame.call_span)
        if frame.provided_inputs is None and frame.inputs_seen == 0:
            self.error("E403", f"network `{defn.name}` has no `input`", defn.name_span,
                       help="declare one: `input x: f32[B, 784]`")

    def _run(self, stmts: tuple[ast.Stmt, ...], frame: Frame) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.Input):
                self._input(stmt, frame)
            elif isinstance(stmt, ast.Output):
                self._output(stmt, frame)
            elif isinstance(stmt, ast.Assign):
                call = declares(stmt, self.defs, frame.env)  # `reduction = Linear(...)`: a layer, used later
                if call is not None:
                    self._declaration(stmt, call, frame)
                    continue
                value = self._eval(stmt.value, frame)
                if len(stmt.targets) == 1:
                    self._assign(stmt.targets[0], value, frame)
                else:
                    self._assign(ast.TupleExpr(stmt.span, stmt.targets), value, frame)
            elif isinstance(stmt, ast.ExprStmt):
                self._expr_stmt(stmt, frame)
            elif isinstance(stmt, ast.StateDecl):
                declare_state(self, stmt, frame)
            elif isinstance(stmt, ast.If):
                for cond, body in stmt.branches:
                    c = self._eval(cond, frame)
                    if c is ERR:
                        break
                    if not isinstance(c, bool):
                        self.error("E204", f"an `if` condition must be true or false, but this is {describe(c)}",
                                   cond.span)
                        break
                    if c:
                        self._run(body, frame)
                        break
                else:
                    if stmt.orelse:
                        self._run(stmt.orelse, frame)

    def _expr_stmt(self, stmt: ast.ExprStmt, frame: Frame) -> None:
        e = stmt.expr
        binds = (isinstance(e, ast.Chain) and isinstance(e.steps[-1].expr, ast.Name)
                 and not self._is_callable(e.steps[-1].expr.id, frame))
        self._binding_chain = e  # only a chain statement may end by naming its result
        value = self._eval(e, frame)
        if not binds and _has_tensor(value):
            self.warn("W001", "the result of this expression is never used", e.span,
                      help="bind it with `-> name` at the end of the chain, or `name = ...`")

    def _bind(self, name: str, value: Any, span: Span, frame: Frame, kind: str = "value",
              chain_end: bool = False) -> None:
        old = frame.env.get(name)
        if old is not None and not old.used and old.kind != "param" and _has_tensor(old.value):
            self._unused(name, old)
        frame.env[name] = Binding(value, span, kind=kind, chain_end=chain_end)
        if self.observe is not None:
            self.observe(span, value)

    def _unused(self, name: str, b: Binding) -> None:
        if name.startswith("_"):
            return
        guess = did_you_mean(name, list(OPS) + list(ALIASES)) if b.kind == "value" and not lookup(name) else None
        what = "input" if b.kind == "input" else "value"
        if guess and b.chain_end:
            # `x -> Linear(10) -> relu6`: a misspelt op at the end of a chain would silently bind a value.
            self.error("E310", f"`{name}` is not an op or block, so this chain binds a value `{name}` that is "
                       "never used", b.span, label="binds a value",
                       help=f"did you mean the op `{guess}`? To name the result, write `{name} = ...` or use it")
            return
        self.warn("W001", f"{what} `{name}` is never used", b.span,
                  help=f"did you mean the op `{guess}`?" if guess else "prefix the name with `_` to silence this")

    def _assign(self, target: ast.Expr, value: Any, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, value, target.span, frame)
            return
        if isinstance(target, ast.TupleExpr):
            items = target.items
            if value is ERR:
                for t in items:
                    self._assign(t, ERR, frame)
                return
            if not isinstance(value, tuple) or len(value) != len(items):
                n = len(value) if isinstance(value, tuple) else 1
                self.error("E309", f"cannot unpack {n} value{'s' if n != 1 else ''} into {len(items)} names",
                           target.span, help="the number of names must match the number of values")
                for t in items:
                    self._assign(t, ERR, frame)
                return
            for t, v in zip(items, value):
                self._assign(t, v, frame)
            return
        self.error("E204", "only names can be assigned to", target.span,
                   help="write `name = ...` or `a, b = ...`")

    def _input(self, stmt: ast.Input, frame: Frame) -> None:
        if any(stmt.name == n for n, _, _ in frame.input_values):
            first = next(s for n, _, s in frame.input_values if n == stmt.name)
            self.error("E406", f"input `{stmt.name}` is declared twice", stmt.name_span,
                       secondary=[Label(first, "first declared here")])
            return
        dtype = stmt.type.dtype
        if dtype not in DTYPES:
            guess = did_you_mean(dtype, DTYPES)
            self.error("E204", f"unknown dtype `{dtype}`", stmt.type.dtype_span,
                       help=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(DTYPES)}")
            self._bind(stmt.name, ERR, stmt.name_span, frame, kind="input")
            return
        if not self._optional_input_ok(stmt, frame):
            self._bind(stmt.name, ERR, stmt.name_span, frame, kind="input")
            return
        if frame.provided_inputs is None:
            value = self._network_input(stmt, frame)
        else:
            value = self._block_input(stmt, frame)
        if stmt.default is not None and isinstance(value, Value):
            self._record_default(stmt, frame)
        frame.inputs_seen += 1
        if isinstance(value, Value):
            frame.input_values.append((stmt.name, value, stmt.span))
        self._bind(stmt.name, value, stmt.name_span, frame, kind="input")

    def _network_input(self, stmt: ast.Input, frame: Frame) -> Any:
        dims: list[IntLike] = []
        for d in stmt.type.dims:
            if isinstance(d, ast.Name) and d.id not in frame.env:
                if d.id in self.overrides:
                    self.used_overrides.add(d.id)
                    v = self.overrides[d.id]
                    if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
                        message = f"`{d.id}` is a dimension, so it needs a positive integer, but got {describe(v)}"
                        self.bad_overrides.append(message)
                        return self.error("E204", message, d.span, label="set on the command line")
                    dims.append(self.overrides[d.id])
                    frame.env[d.id] = Binding(self.overrides[d.id], d.span, used=True, kind="param")
                    continue
                if d.id not in self.symbols:
                    self.symbols.append(d.id)
                s = sym(d.id)
                frame.env[d.id] = Binding(s, d.span, used=True, kind="param")
                frame.dim_sources.setdefault(d.id, (stmt.name, stmt.type.dims.index(d)))
                self.symbol_sites.setdefault(d.id, (d.span, stmt.name))
                dims.append(s)
                continue
            v = self._eval(d, frame)
            if v is ERR:
                return ERR
            if not _is_dim(v):
                return self.error("E204", f"a dimension must be an integer, but this is {describe(v)}", d.span)
            if isinstance(v, int) and v < 0:
                return self.error("E203", f"a dimension cannot be negative ({v})", d.span)
            dims.append(v)
        value = Value(stmt.name, TensorType(stmt.type.dtype, tuple(dims)))
        if self._too_many_elements(value.type, stmt.type.span, f"input `{stmt.name}`"):
            return ERR
        violated = [cond for cond in stmt.where if self._constraint(cond, frame) is False]
        # A size that breaks a divisibility `where` (`--set H=100`) would only fail again at every skip.
        return ERR if violated else value

    def _constraint(self, cond: ast.Expr, frame: Frame) -> bool | None:
        if _is_divisibility(cond):
            return self._divisibility_constraint(cond, frame)  # type: ignore[arg-type]
        if not (isinstance(cond, ast.BinOp) and cond.op in ("<", "<=", ">", ">=", "==", "!=")):
            self.error("E204", "a `where` condition must compare two dims, like `T <= ctx`", cond.span)
            return
        left, right = self._eval(cond.left, frame), self._eval(cond.right, frame)
        if left is ERR or right is ERR:
            return
        if not (_is_dim(left) and _is_dim(right)):
            self.error("E204", "a `where` condition must compare two dims", cond.span, help=WHERE_HINT)
            return
        verdict = compare(cond.op, left, right)
        if verdict is False:
            self.error("E209", f"constraint `{cond.span.text}` does not hold: {left} {cond.op} {right} is false",
                       cond.span)
        elif verdict is None:
            self.constraints.append(Constraint(f"{left} {cond.op} {right}", cond.span))
            if cond.op == "==":
                add_equal(left, right)
            _state_minimum(cond.op, left, right)

    def _block_input(self, stmt: ast.Input, frame: Frame) -> Any:
        provided = frame.provided_inputs or []
        defn = frame.definition
        if frame.inputs_seen >= len(provided) and stmt.default is not None:
            return self._unpassed_input(stmt, frame)
        if frame.inputs_seen >= len(provided):
            n_inputs = sum(1 for s in defn.body if isinstance(s, ast.Input))
            self.error("E308", f"`{defn.name}` takes {n_inputs} input{'s' if n_inputs != 1 else ''}, "
                       f"but {len(provided)} {'was' if len(provided) == 1 else 'were'} given", frame.call_span,
                       secondary=[Label(stmt.span, "input declared here")])
            return ERR
        actual = provided[frame.inputs_seen]
        if actual is ERR:
            return ERR
        t = actual.type
        declared = stmt.type
        expected_text = f"{declared.dtype}[{', '.join(d.span.text for d in declared.dims)}]"
        where = [Label(stmt.type.span, "declared here")]
        if len(declared.dims) != t.rank:
            return self.error("E201", f"`{defn.name}` input `{stmt.name}` expects {expected_text} (rank "
                              f"{len(declared.dims)}), but got {t}", frame.call_span, secondary=where)
        if declared.dtype != t.dtype:
            return self.error("E205", f"`{defn.name}` input `{stmt.name}` expects {declared.dtype}, but got {t}",
                              frame.call_span, secondary=where)
        for d, actual_dim in zip(declared.dims, t.dims):
            if isinstance(d, ast.Name) and d.id not in frame.env:
                frame.env[d.id] = Binding(actual_dim, d.span, used=True, kind="param")
                frame.dim_sources.setdefault(d.id, (stmt.name, declared.dims.index(d)))
                continue
            v = self._eval(d, frame)
            if v is ERR:
                return ERR
            same = dims_equal(v, actual_dim) if _is_dim(v) else False
            if same is False:
                return self.error("E200", f"`{defn.name}` input `{stmt.name}` expects {expected_text}, but got {t}",
                                  frame.call_span, secondary=where,
                                  label=(f"expected {v}" if d.span.text == str(v) else f"`{d.span.text}` is {v}")
                                  + f", but the input has {actual_dim}")
            if same is None:
                return self.error("E200", f"`{defn.name}` input `{stmt.name}` needs {v} == {actual_dim}, which the "
                                  "checker cannot prove", frame.call_span, secondary=where, help=_UNPROVEN_HELP)
        for cond in stmt.where:
            self._constraint(cond, frame)
        return Value(stmt.name, t, actual.producer, actual.id)

    # -- optional inputs (`input eps: f32[B, 20] = randn`) -------------------------------------------
    def _optional_input_ok(self, stmt: ast.Input, frame: Frame) -> bool:
        """Check an input's `= fill` and the order of inputs; False when the input cannot be declared."""
        if stmt.default is None:
            if frame.input_defaults:
                first = next(iter(frame.input_defaults))
                self.error("E204", f"required input `{stmt.name}` comes after the optional input `{first}`",
                           stmt.name_span, help="declare optional inputs (`= randn`) after the required ones, "
                           "as `forward` takes them last")
            return True
        fill = stmt.default
        if fill.id not in INPUT_FILLS:
            guess = did_you_mean(fill.id, INPUT_FILLS)
            self.error("E301", f"unknown fill `{fill.id}` for the optional input `{stmt.name}`", fill.span,
                       help=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(INPUT_FILLS)}")
            return False
        if fill.id in ("randn", "rand") and stmt.type.dtype in DTYPES and stmt.type.dtype not in FLOAT_DTYPES:
            self.error("E205", f"`{fill.id}` makes floating-point noise, but input `{stmt.name}` is "
                       f"{stmt.type.dtype}", stmt.type.dtype_span, help="declare it f32, or fill it with `zeros`")
            return False
        ok = True
        for d in stmt.type.dims:
            for name in _names_in(d):
                if name.id not in frame.env and not (frame.provided_inputs is None and name.id in self.overrides):
                    self.error("E300", f"`{name.id}` in the shape of the optional input `{stmt.name}` is not "
                               "bound by an earlier input", name.span, label="not defined here",
                               help="an optional input takes its dims from the inputs before it, parameters "
                               "or numbers: nothing else fixes them when the caller leaves it out")
                    ok = False
        return ok

    def _unpassed_input(self, stmt: ast.Input, frame: Frame) -> Any:
        """A block's optional input the caller did not pass: a fresh value, made inside the block."""
        dims: list[IntLike] = []
        for d in stmt.type.dims:
            v = self._eval(d, frame)
            if v is ERR:
                return ERR
            if not _is_dim(v):
                return self.error("E204", f"a dimension must be an integer, but this is {describe(v)}", d.span)
            dims.append(v)
        for cond in stmt.where:
            self._constraint(cond, frame)
        return Value(stmt.name, TensorType(stmt.type.dtype, tuple(dims)))

    def _record_default(self, stmt: ast.Input, frame: Frame) -> None:
        """Note how to make this input at run time, in the definition's own dim names (see InputDefault)."""
        assert stmt.default is not None
        local = dict(frame.env)
        for name in frame.dim_sources:
            local[name] = Binding(sym(name), stmt.span, used=True, kind="param")
        scratch = env_frame(local, frame.definition)
        dims = tuple(self._eval(d, scratch) for d in stmt.type.dims)
        if any(d is ERR for d in dims):
            return
        used: set[str] = set()
        for d in dims:
            if isinstance(d, Dim):
                used |= d.symbols()
        sources = {n: frame.dim_sources[n] for n in sorted(used) if n in frame.dim_sources}
        frame.input_defaults[stmt.name] = InputDefault(stmt.default.id, stmt.type.dtype, dims, sources)

    # -- divisibility (`where H % 16 == 0`, and what a U-Net's skips require) -----------------------------
    def _divisibility_constraint(self, cond: ast.BinOp, frame: Frame) -> bool | None:
        """`where H % 16 == 0`: checked when H is known (False when violated), else a fact the shape rules
        may use, and a guard for the generated code."""
        mod = cond.left
        assert isinstance(mod, ast.BinOp)
        x, n = self._eval(mod.left, frame), self._eval(mod.right, frame)
        if x is ERR or n is ERR:
            return
        if not _is_dim(x) or isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            self.error("E204", "a divisibility condition reads `H % 16 == 0`: a dim, `%`, a positive integer",
                       cond.span)
            return
        text = mod.left.span.text
        if isinstance(x, int):
            if x % n:
                by_set = isinstance(mod.left, ast.Name) and mod.left.id in self.overrides
                self.error("E209", f"constraint `{cond.span.text}` does not hold: {text} = {x} is not a multiple "
                           f"of {n}", cond.span, label=f"{x} % {n} is {x % n}",
                           notes=[f"{text} = {x} comes from `--set {text}={x}`"] if by_set else [],
                           help=f"{text} must be a multiple of {n}")
                return False
            return True
        if str(x).isidentifier() and dims_equal(x, sym(str(x))) is True:
            add_fact(str(x), n)
        shown = str(x) if str(x).isidentifier() else f"({x})"
        self.constraints.append(Constraint(f"{shown} % {n} == 0", cond.span))

    def _require_divisibility(self, pairs: list[tuple[IntLike, IntLike]], spec: OpSpec, op: str,
                              span: Span) -> None:
        """Turn "can't decide 2*(H//16) == H//8" into "H must be a multiple of 16", at the input binding H.

        Only when every undecided comparison of the op is settled by such a requirement; then the op's
        W002 warnings are replaced by one E207 per symbol, and the requirement becomes a fact, so the
        levels after this one are not reported again.
        """
        reqs = [requirement(a, b) for a, b in pairs]
        if any(r is None for r in reqs) or not any(w.code == "W002" for w in spec.warnings):
            return
        spec.warnings = [w for w in spec.warnings if w.code != "W002"]
        for (a, b), req in zip(pairs, reqs):
            assert req is not None
            for symbol, modulus in req.items():
                had = known_modulus(symbol)
                if had % modulus == 0:
                    continue  # an earlier comparison of this op already required it
                self._report_requirement(symbol, modulus, had, f"`{op}` needs {a} == {b}", span)
                add_fact(symbol, modulus)

    def _report_requirement(self, symbol: str, modulus: int, had: int, needs: str, span: Span) -> None:
        site = self.symbol_sites.get(symbol)
        if site is None:
            self.error("E207", f"`{symbol}` must be a multiple of {modulus}: {needs}", span,
                       help=f"{symbol} must be a multiple of {modulus}")
            return
        dim_span, input_name = site
        same_file = span.source is dim_span.source
        self.error("E207", f"`{symbol}` must be a multiple of {modulus} for the shapes to line up", dim_span,
                   label=(f"input `{input_name}` only promises a multiple of {had}" if had > 1 else
                          f"input `{input_name}` allows any {symbol}"),
                   secondary=[Label(span, f"{needs} here")] if same_file else [],
                   notes=[] if same_file else [f"{needs} at {span.location()}"],
                   help=f"{symbol} must be a multiple of {modulus}: state it on the input with "
                   f"`where {symbol} % {modulus} == 0` (generated code can then check it)")

    def _output(self, stmt: ast.Output, frame: Frame) -> None:
        for i, item in enumerate(stmt.items):
            value = self._eval(item.value, frame)
            if item.name:
                name = item.name
            elif isinstance(item.value, ast.Name):
                name = item.value.id
            else:
                name = "out" if len(stmt.items) == 1 else f"out{i}"
            if any(n == name for n, _, _ in frame.outputs):
                self.error("E406", f"output `{name}` is declared twice", item.span)
                continue
            if value is not ERR and not isinstance(value, Value):
                self.error("E204", f"an output must be a tensor, but this is {describe(value)}", item.value.span)
                value = ERR
            frame.outputs.append((name, value, item.span))

    def _finish_frame(self, frame: Frame) -> None:
        self._unapplied_layers(frame)
        for name, b in frame.env.items():
            if not b.used and b.kind in ("value", "input") and _has_tensor(b.value):
                self._unused(name, b)

    # -- expressions -----------------------------------------------------------------------------
    def _is_callable(self, name: str, frame: Frame) -> bool:
        return (lookup(name) is not None or name in self.defs) and name not in frame.env

    def _lookup(self, e: ast.Name, frame: Frame) -> Any:
        b = frame.env.get(e.id)
        if b is not None and isinstance(b.value, DeclaredLayer):
            b.used = True
            return self.error("E204", f"`{e.id}` is a declared layer, not a value", e.span,
                              help=f"apply it to a value: `x -> {e.id}` or `{e.id}(x)`")
        if b is not None:
            b.used = True
            if self.observe is not None:
                self.observe(e.span, b.value)
            return b.value
        if lookup(e.id) is not None or e.id in self.defs:
            return self.error("E204", f"`{e.id}` is {'an op' if lookup(e.id) else 'a block'}, not a value",
                              e.span, help=f"apply it to a value: `x -> {e.id}` or `{e.id}(x)`")
        guess = did_you_mean(e.id, list(frame.env))
        return self.error("E300", f"unknown name `{e.id}`", e.span, label="not defined here",
                          help=f"did you mean `{guess}`?" if guess else None)

    def _eval(self, e: ast.Expr, frame: Frame) -> Any:
        if isinstance(e, ast.Name):
            return self._lookup(e, frame)
        if isinstance(e, ast.Number):
            if _too_large(e.value):
                text = e.span.text if len(e.span.text) <= 24 else e.span.text[:20] + "..."
                return self.error("E204", f"the number `{text}` is too large", e.span,
                                  help="sizes and counts must fit in 64 bits")
            return e.value
        if isinstance(e, ast.String):
            return e.value
        if isinstance(e, ast.Const):
            return e.value
        if isinstance(e, ast.TupleExpr | ast.ListExpr):
            return tuple(self._eval(i, frame) for i in e.items)
        if isinstance(e, ast.ListComp):
            return self._comprehension(e, frame)
        if isinstance(e, ast.UnaryOp):
            return self._unary(e, frame)
        if isinstance(e, ast.BinOp):
            return self._binop(e, frame)
        if isinstance(e, ast.Call):
            if (isinstance(e.func, ast.Name) and e.func.id == "range" and "range" not in frame.env
                    and not self._is_callable("range", frame)):
                return self._range(e, frame)
            return self._call(e, frame, None, None)
        if isinstance(e, ast.Chain):
            return self._chain(e, frame)
        if isinstance(e, ast.Index):
            return self._index(e, frame)
        return self.error("E204", "this expression is not supported here", e.span)

    def _index(self, e: ast.Index, frame: Frame) -> Any:
        base = self._eval(e.value, frame)
        if base is ERR:
            return ERR
        if isinstance(base, tuple) and len(e.items) == 1 and not isinstance(e.items[0], ast.Slice):
            i = self._eval(e.items[0], frame)
            if i is ERR:
                return ERR
            if not isinstance(i, int) or isinstance(i, bool) or not -len(base) <= i < len(base):
                return self.error("E208", f"index {i!r} is out of range for {len(base)} values", e.items[0].span)
            return base[i]
        if isinstance(base, Value):
            return self._tensor_index(e, base, frame)
        return self.error("E204", f"cannot index {describe(base)}", e.span)

    def _tensor_index(self, e: ast.Index, base: Value, frame: Frame) -> Any:
        """`out[:, -1]` becomes an `index` op whose `items` hold ints or dims, slices, and `none` (a new axis)."""
        items: list[Any] = []
        for it in e.items:
            if isinstance(it, ast.Slice):
                parts = [None if p is None else self._eval(p, frame) for p in (it.lower, it.upper, it.step)]
                if any(p is ERR for p in parts):
                    return ERR
                for p, part in zip(parts, (it.lower, it.upper, it.step)):
                    if p is not None and not _is_dim(p):
                        return self.error("E204", f"a slice bound must be an integer, but this is {describe(p)}",
                                          part.span if part is not None else it.span)
                items.append(slice(*parts))
                continue
            v = self._eval(it, frame)
            if v is ERR:
                return ERR
            if isinstance(v, Value):
                return self.error("E204", "indexing a tensor with another tensor is not supported", it.span,
                                  help="look rows up with `Embedding`, or take parts with slices like `x[:, -1]`")
            if v is not None and not _is_dim(v):
                return self.error("E204", f"an index must be an integer, a slice or `none`, but this is "
                                  f"{describe(v)}", it.span)
            items.append(v)
        return self._apply_op("index", [], {"items": (tuple(items), e.span)}, [base], e.span, None, None, frame)

    def _unary(self, e: ast.UnaryOp, frame: Frame) -> Any:
        v = self._eval(e.operand, frame)
        if v is ERR:
            return ERR
        if e.op == "not":
            if not isinstance(v, bool):
                return self.error("E204", f"`not` needs true or false, got {describe(v)}", e.operand.span)
            return not v
        if isinstance(v, Value):
            return tensor_operators.unary(e.op, v, self._operator_apply(e.span, frame), self._operator_fail(e.span),
                                          lambda t: t.type.dtype == "bool")
        if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
            return self.error("E204", f"`{e.op}` needs a number, got {describe(v)}", e.operand.span)
        return -v if e.op == "-" else v

    def _binop(self, e: ast.BinOp, frame: Frame) -> Any:
        op = e.op
        if op in ("and", "or"):
            left = self._eval(e.left, frame)
            if left is ERR:
                return ERR
            if not isinstance(left, bool):
                return self.error("E204", f"`{op}` needs true or false, got {describe(left)}", e.left.span)
            if (op == "and" and not left) or (op == "or" and left):
                return left
            right = self._eval(e.right, frame)
            if right is ERR:
                return ERR
            if not isinstance(right, bool):
                return self.error("E204", f"`{op}` needs true or false, got {describe(right)}", e.right.span)
            return right
        left, right = self._eval(e.left, frame), self._eval(e.right, frame)
        if left is ERR or right is ERR:
            return ERR
        if isinstance(left, Value) or isinstance(right, Value):
            return self._tensor_binop(e, left, right, frame)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if isinstance(left, (str, bool)) or isinstance(right, (str, bool)) or left is None or right is None:
                if op in ("==", "!="):
                    return (left == right) == (op == "==")
                return self.error("E204", f"cannot compare {describe(left)} and {describe(right)} with `{op}`",
                                  e.span)
            verdict = compare(op, left, right)
            if verdict is None:
                return self.error("E204", f"`{e.span.text}` depends on the symbolic values of {left} and {right}",
                                  e.span, help="conditions are decided at compile time; bind the symbol with --set")
            return verdict
        for side, v in (("left", left), ("right", right)):
            if isinstance(v, bool) or not isinstance(v, (int, float, Dim)):
                return self.error("E204", f"`{op}` needs numbers, but the {side} side is {describe(v)}",
                                  (e.left if side == "left" else e.right).span)
        try:
            out = arith(op, left, right)
        except ZeroDivisionError:
            return self.error("E204", "division by zero", e.span)
        except (TypeError, ValueError, OverflowError) as exc:
            return self.error("E204", f"cannot compute `{e.span.text}`: {exc}", e.span)
        if _too_large(out):
            return self.error("E204", f"`{e.span.text}` is too large", e.span,
                              help="sizes and counts must fit in 64 bits")
        return out

    def _tensor_binop(self, e: ast.BinOp, left: Any, right: Any, frame: Frame) -> Any:
        if not tensor_operators.is_tensor_operator(e.op):
            return self.error("E204", f"`{e.op}` is not defined for tensors", e.span)
        return tensor_operators.binary(e.op, left, right, isinstance(left, Value), isinstance(right, Value),
                                       self._operator_apply(e.span, frame), self._operator_fail(e.span),
                                       lambda t: t.type.is_float, ERR)

    def _operator_apply(self, span: Span, frame: Frame) -> tensor_operators.Apply:
        def apply(name: str, attrs: dict[str, Any], inputs: list[Any]) -> Any:
            kw = {k: (v, span) for k, v in attrs.items()}
            return self._apply_op(name, [], kw, inputs, span, None, None, frame)
        return apply

    def _operator_fail(self, span: Span) -> tensor_operators.Fail:
        return lambda message, help: self.error("E204", message, span, help=help)

    # -- calls, chains, steps ----------------------------------------------------------------------
    def _eval_args(self, args: tuple[ast.Arg, ...], frame: Frame,
                   refs: frozenset[str] = frozenset()) -> tuple[list[tuple[Any, Span]], dict[str, tuple[Any, Span]],
                                                                bool]:
        pos: list[tuple[Any, Span]] = []
        kw: dict[str, tuple[Any, Span]] = {}
        ok = True
        for a in args:
            if a.name in refs and isinstance(a.value, (ast.Name, ast.String)):
                # `tied=wte` names a layer, not a value: resolved against the layers built so far.
                v: Any = a.value.id if isinstance(a.value, ast.Name) else a.value.value
            else:
                v = self._eval(a.value, frame)
            if v is ERR:
                ok = False
            if a.name is None:
                if kw:
                    self.error("E306", "a positional argument cannot follow a named one", a.span)
                    ok = False
                pos.append((v, a.span))
            elif a.name in kw:
                self.error("E304", f"`{a.name}` is given twice", a.span,
                           secondary=[Label(kw[a.name][1], "first given here")])
                ok = False
            else:
                kw[a.name] = (v, a.span)
        return pos, kw, ok

    def _callee(self, func: ast.Expr, frame: Frame) -> str | None:
        if not isinstance(func, ast.Name):
            self.error("E204", "only ops and blocks can be called", func.span)
            return None
        name = func.id
        if lookup(name) is not None or name in self.defs:
            return name
        candidates = list(OPS) + list(ALIASES) + list(self.defs)
        guess = did_you_mean(name, candidates)
        self.error("E301", f"unknown op or block `{name}`", func.span,
                   help=STATE_SYNTAX_HINT if name in PYTORCH_CALLS else
                   f"did you mean `{guess}`?" if guess else "see `netc ops` for the list of ops")
        return None

    def _call(self, e: ast.Call, frame: Frame, chain_in: Any, alias: tuple[str, Span] | None,
              forced_name: str | None = None) -> Any:
        declared = frame.env.get(e.func.id) if isinstance(e.func, ast.Name) else None
        if declared is not None and isinstance(declared.value, DeclaredLayer):  # `reduction(x)`
            declared.used = True
            pos, kw, ok = self._eval_args(e.args, frame, frozenset())
            if not ok or chain_in is ERR or any(v is ERR for v, _ in pos):
                declared.value.uses.append(e.span)  # counts as applied: no second error for it
                return ERR
            if any(v is ERR for v, _ in kw.values()):
                return ERR
            if any(not isinstance(v, Value) for v, _ in [*pos, *kw.values()]):
                return self.error("E204", f"the declared layer `{e.func.id}` takes only tensors here", e.span,
                                  help="its attributes are given where it is declared")
            inputs = tuple(_flatten(chain_in)) if chain_in is not None else ()
            inputs += tuple(v for v, _ in pos)
            # Tensors by keyword (`self_attn(x, key_padding_mask=pad)`) join the declared attributes.
            return self._apply_declared(declared.value, inputs if len(inputs) != 1 else inputs[0], e.span, alias,
                                        frame, kw)
        name = self._callee(e.func, frame)
        spec = lookup(name) if name is not None and name not in frame.env else None
        refs = frozenset(at.name for at in spec.attrs if at.coerce is LayerRef) if spec is not None else frozenset()
        pos, kw, ok = self._eval_args(e.args, frame, refs)
        if name is None or not ok:
            return ERR
        if chain_in is ERR:
            self._check_arguments(name, pos, kw, e.span)
            return ERR
        return self._apply(name, pos, kw, chain_in, e.span, alias, forced_name, frame)

    def _apply(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]], chain_in: Any,
               span: Span, alias: tuple[str, Span] | None, forced_name: str | None, frame: Frame) -> Any:
        inputs: list[Any] = []
        if chain_in is not None:
            inputs.extend(_flatten(chain_in))
        attrs_pos = []
        for v, s in pos:
            if isinstance(v, Value):
                inputs.append(v)
            elif isinstance(v, tuple) and v and all(isinstance(x, Value) for x in _flatten(v)):
                inputs.extend(_flatten(v))  # `LSTM(256, (h, c))`: a state tuple is several inputs
            else:
                attrs_pos.append((v, s))
        if any(v is ERR for v in inputs):
            return ERR
        if any(not isinstance(v, Value) for v in inputs):
            return self.error("E204", f"`{name}` needs tensor inputs, got {describe(next(v for v in inputs if not isinstance(v, Value)))}", span)
        spec = lookup(name)
        if spec is not None:
            # A single-input op applied to several values maps over them (`[q, k, v] -> transpose(1, 2)`).
            if (isinstance(chain_in, tuple) and spec.max_inputs == 1 and len(inputs) > 1
                    and len(inputs) == len(chain_in)):
                return tuple(self._apply_op(name, attrs_pos, kw, [v], span, alias, forced_name, frame,
                                            mapped=True) for v in inputs)
            return self._apply_op(name, attrs_pos, kw, inputs, span, alias, forced_name, frame)
        return self._instantiate(self.defs[name], attrs_pos, kw, inputs, span, alias, forced_name, frame)

    def _chain(self, e: ast.Chain, frame: Frame) -> Any:
        may_bind = e is getattr(self, "_binding_chain", None)
        value = self._eval(e.head, frame)
        for i, step in enumerate(e.steps):
            last = i == len(e.steps) - 1 and may_bind
            if value is ERR:
                # Keep checking names and attributes in later steps so independent typos are still reported.
                if last and isinstance(step.expr, ast.Name) and not self._is_callable(step.expr.id, frame):
                    self._bind(step.expr.id, ERR, step.expr.span, frame)
                else:
                    self._check_step(step.expr, frame)
                continue
            pattern = (step.children, step.children_span) if step.children is not None else None
            value = self._step(step.expr, value, frame, (step.alias, step.alias_span) if step.alias is not None else None,
                               None, last, pattern)
            if self.observe is not None:
                self.observe(step.span, value)
        return value

    def _step(self, expr: ast.Expr, value: Any, frame: Frame, alias: tuple[str, Span] | None,
              forced_name: str | None, last: bool, pattern: tuple[str, Span] | None = None) -> Any:
        container = is_container(expr)
        if pattern is not None and not container:
            return self.error("E311", "a name pattern `[\"...{i}\"]` names the items of a list or repetition, but "
                              "this step is a single layer", pattern[1], help="drop the pattern, or repeat the "
                              "step: `Block(64) * 3 as stage[\"block{i}\"]`")
        if isinstance(expr, ast.Name):
            name = expr.id
            declared = frame.env.get(name)
            if declared is not None and isinstance(declared.value, DeclaredLayer):  # `x -> reduction`
                declared.used = True
                return self._apply_declared(declared.value, value, expr.span, alias, frame)
            if self._is_callable(name, frame):
                return self._apply(name, [], {}, value, expr.span, alias, forced_name, frame)
            if last and forced_name is None:
                if alias:
                    self.error("E204", f"`as {alias[0]}` names a layer, but `{name}` binds a value", alias[1])
                self._bind(name, value, expr.span, frame, chain_end=True)
                return value
            guess = did_you_mean(name, list(OPS) + list(ALIASES) + list(self.defs))
            if name in frame.env:
                return self.error("E301", f"`{name}` is a value, not an op or block", expr.span,
                                  help="only the last step of a chain can name its result")
            return self.error("E301", f"unknown op or block `{name}`", expr.span,
                              help=f"did you mean `{guess}`?" if guess else "see `netc ops` for the list of ops")
        if isinstance(expr, ast.Call):
            return self._call(expr, frame, value, alias, forced_name)
        if container:
            items = self._items(expr, frame)
            if not isinstance(items, list):  # None or ERR: reported
                return ERR
            return self._sequential(items, None, value, expr.span, alias, forced_name, frame, pattern)
        return self.error("E204", "a chain step must be an op, a block, a list of them, or a name to bind",
                          expr.span, help="wrap other expressions in parentheses: `(x -> f) + y`")

    def _check_step(self, expr: ast.Expr, frame: Frame) -> None:
        """Report what can be known about a step without its input: unknown ops, names and attributes."""
        if isinstance(expr, ast.Name):
            declared = frame.env.get(expr.id)
            if declared is not None and isinstance(declared.value, DeclaredLayer):
                declared.used = True
                declared.value.uses.append(expr.span)  # counts as applied: no second error for it
            elif not self._is_callable(expr.id, frame) and expr.id not in frame.env:
                guess = did_you_mean(expr.id, list(OPS) + list(ALIASES) + list(self.defs))
                self.error("E301", f"unknown op or block `{expr.id}`", expr.span,
                           help=f"did you mean `{guess}`?" if guess else "see `netc ops` for the list of ops")
        elif isinstance(expr, ast.Call):
            self._call(expr, frame, ERR, None)
        elif isinstance(expr, ast.ListExpr):
            for item in expr.items:
                self._check_step(item, frame)
        elif isinstance(expr, ast.ListComp):
            self._check_step(expr.item, with_bound(frame, ((expr.var, ERR, expr.var_span),)))
        elif isinstance(expr, ast.Chain):
            for part in (expr.head, *(st.expr for st in expr.steps)):
                self._check_step(part, frame)
        elif isinstance(expr, ast.BinOp) and expr.op in ("*", "+"):
            self._check_step(expr.left, frame)
            if expr.op == "+":
                self._check_step(expr.right, frame)

    def _check_arguments(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                         span: Span) -> None:
        scalars = [(v, s) for v, s in pos if not isinstance(v, Value)]
        spec = lookup(name)
        if spec is not None:
            self._bind_attrs(spec, name, scalars, kw, span)
        elif name in self.defs:
            self._bind_params(self.defs[name], scalars, {k: v for k, v in kw.items()
                                                         if not isinstance(v[0], Value)}, span)

    def _sequential(self, items: list[Item], _unused: Any, value: Any, span: Span,
                    alias: tuple[str, Span] | None, forced_name: str | None, frame: Frame,
                    pattern: tuple[str, Span] | None = None) -> Any:
        names = [str(i) for i in range(len(items))]
        if pattern is not None:
            if alias is None:
                return self.error("E311", "a name pattern needs a container name before it", pattern[1],
                                  help='write `as name["item{i}"]`')
            named = self._child_names(pattern, len(items))
            if named is ERR:
                return ERR
            names = named
        name = self._module_name(frame, forced_name, alias, "sequential")
        if name is None:
            return ERR
        mod = Module("sequential", name, _join(frame.module.path, name), None, {}, span, alias is not None,
                     parent=frame.module)
        if pattern is not None:
            mod.item_pattern = pattern[0]
        frame.module.body.append(mod)
        sub = Frame(frame.definition, mod, frame.env, frame.provided_inputs, frame.call_span, set(), set(), {})
        mod.inputs = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, Value)]
        for item, forced in zip(items, names):
            if value is ERR:
                break
            # A step of a chain written inside a list keeps its own `as` name (`[Conv2d(8, 3) -> BatchNorm2d as bn]`).
            value = self._step(item.expr, value, with_bound(sub, item.bound), item.alias,
                               None if item.alias is not None else forced, False, item.pattern)
        mod.outputs = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, Value)]
        return value

    def _child_names(self, pattern: tuple[str, Span], n: int) -> Any:
        """The names `"block{i+1}"` gives to n items: `{i}` is the index from 0, `{i+K}`/`{i-K}` offsets it."""
        text, span = pattern
        parts = _PLACEHOLDER.split(text)  # literal, sign, offset, literal, ... (a 3-group split)
        if "{i" not in text or any("{" in lit or "}" in lit for lit in parts[::3]):
            return self.error("E311", f"the name pattern \"{text}\" needs exactly the placeholders `{{i}}`, "
                              "`{i+K}` or `{i-K}`", span, help='for example "encoder_layer_{i}" or "block{i+1}"')
        names = []
        for i in range(n):
            out = parts[0]
            for k in range(1, len(parts), 3):
                offset = int(parts[k + 1] or 0) * (-1 if parts[k] == "-" else 1)
                out += str(i + offset) + parts[k + 2]
            names.append(out)
        bad = next((m for m in names if not _valid_layer_name(m)), None)
        if bad is not None:
            return self.error("E311", f"the name pattern \"{text}\" gives the name `{bad}`, which cannot be a "
                              "state_dict key segment", span, help="names must be non-empty and contain no `.`")
        return names  # or ERR, from self.error above

    def _module_name(self, frame: Frame, forced: str | None, alias: tuple[str, Span] | None, base: str) -> str | None:
        if alias is not None and not _valid_layer_name(alias[0]):
            self.error("E311", f"`{alias[0]}` cannot name a layer: state_dict keys join names with `.`", alias[1],
                       help="names must be non-empty and contain no `.`; nest containers to make dotted keys")
            return None
        if forced is not None:
            name = forced
        elif alias is not None:
            name, span = alias
            if name in frame.taken:
                self.error("E307", f"the name `{name}` is already used by another layer here", span,
                           help="every layer in a block needs its own name; they become state_dict keys")
                return None
        else:
            k = frame.counters.get(base, 0)
            while True:
                k += 1
                name = f"{base}{k}"
                if name not in frame.taken and name not in frame.reserved:
                    break
            frame.counters[base] = k
        frame.taken.add(name)
        register(frame.module, name)
        return name

    def _apply_op(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                  inputs: list[Value], span: Span, alias: tuple[str, Span] | None, forced_name: str | None,
                  frame: Frame, mapped: bool = False) -> Any:
        spec_cls = lookup(name)
        assert spec_cls is not None
        if spec_cls.pairwise and name == spec_cls.name and len(inputs) == 2:
            spec_cls = lookup(spec_cls.pairwise)  # `min(x, y)` is torch.minimum, `min(x, dim=1)` a reduction
            assert spec_cls is not None
        if not self._count_layer(span):
            return ERR
        canonical = spec_cls.name
        lo, hi = spec_cls.min_inputs, spec_cls.max_inputs
        if len(inputs) < lo or (hi is not None and len(inputs) > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            got = len(inputs)
            return self.error("E308", f"`{name}` takes {want} input tensor{'s' if want != '1' else ''}, "
                              f"but got {got}", span,
                              help=f"feed it a value: `x -> {name}` or `{name}(x)`" if got == 0 else None)
        # Optional tensor inputs given by keyword (`key_padding_mask=pad`) join the inputs after the others;
        # their attribute holds the input's index so backends know which is which.
        extra = [(k, v) for k, (v, _) in kw.items() if k in spec_cls.tensor_kwargs and isinstance(v, Value)]
        if extra:
            kw = {k: vs for k, vs in kw.items() if k not in dict(extra)}
            inputs = list(inputs) + [v for _, v in extra]
        attrs = self._bind_attrs(spec_cls, name, pos, kw, span)
        if attrs is ERR:
            return ERR
        for i, (k, _) in enumerate(extra):
            attrs[k] = len(inputs) - len(extra) + i
        tie, tie_span = None, span
        for at in spec_cls.attrs:
            if at.coerce is LayerRef and attrs.get(at.name) is not None:
                tie_span = kw[at.name][1]
                tie = self._find_layer(attrs[at.name], frame, tie_span)
                if tie is None:
                    return ERR
                attrs[at.name] = tie.path
        spec = spec_cls()
        types = [v.type for v in inputs]
        try:
            with recording() as undecided:  # comparisons of dims the shape rule could not settle
                out_types = spec.infer(attrs, types)
            params = spec.params(attrs, types)
            buffers = spec.buffers(attrs, types)
        except ShapeError as err:
            label = err.label if err.label is not None else (
                f"input here is {types[0]}" if len(types) == 1 else
                "inputs here are " + ", ".join(str(t) for t in types) if types else "")
            at = _attr_span(spec_cls, pos, kw, err.attr) if err.attr else None
            return self.error(err.code, _op_message(name, err.message), at or span, label=label, help=err.help)
        if any(self._too_many_elements(t, span, f"the output of `{name}`") for t in out_types):
            return ERR
        if undecided:
            self._require_divisibility(undecided, spec, name, span)
        unproven = [w for w in spec.warnings if w.code == "W002" and w.equality]
        if unproven:
            # Two dims the op needs equal that nothing proves equal: the generated module would fail at run time
            # for some binding, so this is an error; a `where` on an input that states the equality settles it.
            return self.error("E200", f"{_op_message(name, unproven[0].message)}, which the checker cannot prove",
                              span, help=_UNPROVEN_HELP)
        for w in spec.warnings:
            self.warn(w.code, w.message, span)
        if params and mapped:
            return self.error("E204", f"`{name}` has parameters, so it cannot be mapped over several values",
                              span, help="apply it to each value separately")
        node_name = self._module_name(frame, forced_name, alias, snake(canonical).replace("_", ""))
        if node_name is None:
            return ERR
        node = OpNode(canonical, attrs, list(inputs), [], node_name, _join(frame.module.path, node_name), span,
                      alias is not None, params, buffers, parent=frame.module,  # type: ignore[arg-type]
                      attr_source=_attr_source(spec_cls, pos, kw))
        node.outputs = [Value(node_name if len(out_types) == 1 else f"{node_name}_{i}", t, node)
                        for i, t in enumerate(out_types)]
        if tie is not None and not self._tie(node, tie, tie_span):
            return ERR
        frame.module.body.append(node)
        return spec.pack(node.outputs)

    def _find_layer(self, ref: str, frame: Frame, span: Span) -> OpNode | None:
        """The layer that `tied=ref` names: `ref` relative to the innermost enclosing module that has it,
        else the one layer in the network whose path ends with `.ref`."""
        scopes: list[Module] = []
        mod: Module | None = frame.module
        while mod is not None:
            scopes.append(mod)
            mod = mod.parent
        for scope in scopes:
            want = _join(scope.path, ref)
            for node in scope.op_nodes():
                if node.path == want:
                    return node
        everything = list(scopes[-1].op_nodes())
        found = [n for n in everything if n.path.endswith("." + ref)]
        if len(found) == 1:
            return found[0]
        if found:
            self.error("E300", f"`{ref}` could name several layers: {', '.join(n.path for n in found)}", span,
                       help=f"write the full path as a string, e.g. `tied=\"{found[0].path}\"`")
            return None
        guess = did_you_mean(ref, [n.path for n in everything] + [n.name for n in everything])
        self.error("E300", f"no layer named `{ref}` before this one", span, label="not defined here",
                   help=f"did you mean `{guess}`?" if guess else "tie to a layer defined earlier, by its `as` name")
        return None

    def _tie(self, node: OpNode, target: OpNode, span: Span) -> bool:
        """Share `weight` with an earlier layer (`Linear(vocab, tied=wte)`); counted once, like torch."""
        if "weight" not in node.params or "weight" not in target.params:
            self.error("E305", f"cannot tie `{node.op}` to `{target.path}` ({target.op}): both need a `weight`",
                       span)
            return False
        mine, theirs = node.params["weight"], target.params["weight"]
        if tuple(mine) != tuple(theirs):
            self.error("E200", f"cannot tie weights of different shapes: `{node.op}` has weight "
                       f"({', '.join(map(str, mine))}) but `{target.path}` has ({', '.join(map(str, theirs))})",
                       span, help="tied layers need the same weight shape, e.g. Linear(vocab) tied to "
                       "Embedding(vocab, d)")
            return False
        node.tied["weight"] = target.tied.get("weight", _join(target.path, "weight"))
        return True

    def _bind_attrs(self, spec: type[OpSpec], name: str, pos: list[tuple[Any, Span]],
                    kw: dict[str, tuple[Any, Span]], span: Span) -> Any:
        out: dict[str, Any] = {}
        ok = True
        positional = [a for a in spec.attrs if a.positional]
        variadic = next((a for a in spec.attrs if a.variadic), None)
        given_span: dict[str, Span] = {}
        i = 0
        for at in positional:
            if at.variadic:
                vals = [v for v, _ in pos[i:]]
                if vals:
                    given_span[at.name] = pos[i][1].to(pos[-1][1])
                    out[at.name] = vals
                i = len(pos)
                break
            if i < len(pos):
                out[at.name], given_span[at.name] = pos[i]
                i += 1
        if i < len(pos):
            n = len(positional)
            self.error("E306", f"`{name}` takes {n} positional argument{'s' if n != 1 else ''}, but got {len(pos)}",
                       pos[i][1], label="unexpected argument",
                       help=f"its attributes are: {', '.join(a.name for a in spec.attrs)}" if spec.attrs else
                       f"`{name}` takes no attributes")
            ok = False
        attr_names = [a.name for a in spec.attrs]
        for k, (v, s) in kw.items():
            at = spec.attr(k)
            if at is None or (at.variadic and variadic is not None and False):
                guess = did_you_mean(k, attr_names)
                self.error("E302", f"`{name}` has no attribute `{k}`", s, label="unknown attribute",
                           help=f"did you mean `{guess}`?" if guess else
                           (f"its attributes are: {', '.join(attr_names)}" if attr_names else
                            f"`{name}` takes no attributes"))
                ok = False
                continue
            if k in out:
                self.error("E304", f"attribute `{k}` of `{name}` is given twice", s,
                           secondary=[Label(given_span[k], "already given here")])
                ok = False
                continue
            out[k], given_span[k] = v, s
        for at in spec.attrs:
            if at.name not in out:
                if at.default is REQUIRED and not at.variadic:
                    self.error("E303", f"`{name}` needs `{at.name}`" + (f" ({at.doc})" if at.doc else ""), span,
                               help=f"pass it: `{name}({at.name}=...)`")
                    ok = False
                    continue
                if at.variadic:
                    out[at.name] = () if at.default is REQUIRED else at.default
                    continue
                out[at.name] = at.coerce(at.default)  # defaults go through the same normalisation
                continue
            try:
                if at.variadic:
                    raw = out[at.name]
                    if at.variadic and len(raw) == 1 and isinstance(raw[0], tuple):
                        raw = list(raw[0])
                    out[at.name] = tuple(at.coerce(x) for x in raw)
                    if not out[at.name] and at.default is REQUIRED:
                        raise AttrError("expected at least one value")
                else:
                    out[at.name] = at.coerce(out[at.name])
            except AttrError as err:
                at_span = given_span.get(at.name, span)
                help_ = None
                if "expected an integer" in str(err) and re.search(r"[^/]/[^/]", at_span.text):
                    help_ = "`/` divides exactly and gives a float when the division is not even; " \
                            "use `//` for floor division"
                self.error("E305", f"invalid `{at.name}` for `{name}`: {err}", at_span, help=help_)
                ok = False
        if variadic is not None and variadic.default is REQUIRED and not out.get(variadic.name) and ok:
            self.error("E303", f"`{name}` needs at least one value for `{variadic.name}`", span)
            ok = False
        return out if ok else ERR

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

    def _instantiate(self, defn: ast.Definition, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                     inputs: list[Value], span: Span, alias: tuple[str, Span] | None, forced_name: str | None,
                     frame: Frame) -> Any:
        if not self._count_layer(span):
            return ERR
        if defn.name in self.cyclic or any(d == defn.name for d, _, _ in self.stack):
            if defn.name not in self.cyclic:
                self.error("E401", f"`{defn.name}` uses itself", span,
                           help="blocks cannot be recursive; repeat them with `* N` instead")
            return ERR
        params = self._bind_params(defn, pos, kw, span)
        if params is ERR:
            return ERR
        name = self._module_name(frame, forced_name, alias, snake(defn.name).replace("_", ""))
        if name is None:
            return ERR
        mod = Module("block" if defn.kind == "block" else "network", name, _join(frame.module.path, name),
                     defn.name, {k: b.value for k, b in params.items()}, span, alias is not None,
                     inputs=list(inputs), parent=frame.module,
                     arg_source={**{p.name: s.text for p, (_, s) in zip(defn.params, pos)},
                                 **{k: _value_text(s) for k, (_, s) in kw.items()}})
        frame.module.body.append(mod)
        sub = Frame(defn, mod, params, list(inputs), span, _collect_aliases(defn.body))
        self.stack.append((defn.name, span, mod.path))
        try:
            self._run_body(sub)
        finally:
            self.stack.pop()
        self._finish_frame(sub)
        mod.input_defaults = dict(sub.input_defaults)
        # Symbols bound from the caller's shapes (C in f32[B, C, H, W]) are arguments of the instance too.
        for k, b in sub.env.items():
            if b.kind == "param" and k not in mod.args:
                mod.args[k] = b.value
        outs = [v for _, v, _ in sub.outputs]
        if any(v is ERR for v in outs) or not outs:
            return ERR
        mod.outputs = list(outs)
        return outs[0] if len(outs) == 1 else tuple(outs)


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


def env_frame(env: dict[str, Binding], defn: ast.Definition) -> Frame:
    """A throwaway frame for evaluating parameter defaults, which may refer to earlier parameters."""
    root = Module("block", "", "", defn.name, {}, defn.span, False)
    return Frame(defn, root, env, [], None, set())


def _attr_span(spec: type[OpSpec], pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
               attr: str) -> Span | None:
    """Where the call wrote attribute `attr`, positionally or by keyword; None when it was left at its default."""
    if attr in kw:
        return kw[attr][1]
    positional = [a.name for a in spec.attrs if a.positional]
    i = positional.index(attr) if attr in positional else -1
    return pos[i][1] if 0 <= i < len(pos) else None


def _attr_source(spec: type[OpSpec], pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]]) -> dict[str, str]:
    out: dict[str, str] = {}
    positional = [a for a in spec.attrs if a.positional]
    for i, (_, span) in enumerate(pos):
        if i < len(positional):
            at = positional[i]
            if at.variadic:
                out[at.name] = ", ".join(s.text for _, s in pos[i:])
                break
            out[at.name] = span.text
    for k, (_, span) in kw.items():
        out[k] = _value_text(span)
    return out


def _value_text(arg_span: Span) -> str:
    """`stride=2` -> `2`: keyword arguments' spans include the name."""
    text = arg_span.text
    name, eq, rest = text.partition("=")
    return rest.strip() if eq and name.strip().isidentifier() and not rest.startswith("=") else text


def _flatten(v: Any) -> list[Any]:
    """Nested tuples of values, flat: `(x, (h, c))` -> [x, h, c]."""
    if not isinstance(v, tuple):
        return [v]
    return [leaf for item in v for leaf in _flatten(item)]


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _op_message(op: str, message: str) -> str:
    return message if message.startswith("`") else f"`{op}` {message}" if message[:1].islower() else message


def _is_divisibility(cond: ast.Expr) -> bool:
    """`H % 16 == 0`"""
    return (isinstance(cond, ast.BinOp) and cond.op == "==" and isinstance(cond.left, ast.BinOp)
            and cond.left.op == "%" and isinstance(cond.right, ast.Number) and cond.right.value == 0)


def _names_in(e: ast.Expr) -> list[ast.Name]:
    """The names in a dim expression (`2*H + k`)."""
    if isinstance(e, ast.Name):
        return [e]
    if isinstance(e, ast.BinOp):
        return _names_in(e.left) + _names_in(e.right)
    if isinstance(e, ast.UnaryOp):
        return _names_in(e.operand)
    if isinstance(e, ast.Call):
        return [n for a in e.args for n in _names_in(a.value)]
    return []


def _too_large(v: Any) -> bool:
    """Beyond int64 (what torch can hold); unbounded ints would also break printing past 4300 digits."""
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return abs(v) >= 2 ** 63
    if isinstance(v, float):
        return v in (float("inf"), float("-inf"))
    if isinstance(v, Dim):
        return any(abs(c) >= 2 ** 63 for _, c in v.terms)
    return False


def _is_dim(v: Any) -> bool:
    return isinstance(v, Dim) or (isinstance(v, int) and not isinstance(v, bool))


def _has_tensor(v: Any) -> bool:
    if isinstance(v, Value):
        return True
    if isinstance(v, tuple):
        return any(_has_tensor(x) for x in v)
    return False


def _state_minimum(op: str, left: Any, right: Any) -> None:
    """`where T >= 3` (or `3 <= T`, `T > 2`): the least value of a symbol, used by bounds such as pad < size."""
    flipped = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}
    if isinstance(left, int) and isinstance(right, Dim):
        op, left, right = flipped.get(op, op), right, left
    if isinstance(left, Dim) and isinstance(right, int) and op in (">=", ">") and len(left.terms) == 1:
        (mono, c), = left.terms
        if c == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], Sym):
            add_minimum(mono[0][0].name, right + (op == ">"))


_UNPROVEN_HELP = ("if the two are always equal, state it on an input, e.g. `where T == S` (the generated code "
                  "checks it); otherwise make the sizes match: `expand` a size-1 dim, pad, crop or resize one side")

_PARAM_CHECKS = {
    "int": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, Dim),
    "dim": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, Dim),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "list": lambda v: isinstance(v, tuple),  # `widths: list = [64, 128, 256]`, indexed as `widths[i]`
}


def _fits(type_name: str, value: Any) -> bool:
    """Does a value have a parameter type (an unknown type is reported elsewhere, so anything fits it)?"""
    check = _PARAM_CHECKS.get(type_name)
    return check is None or value is ERR or bool(check(value))


def compare(op: str, a: Any, b: Any) -> bool | None:
    """`a op b` for a comparison operator; None when it depends on the values of symbols."""
    if isinstance(a, Dim) or isinstance(b, Dim):
        if op in ("==", "!="):
            same = dims_equal(a, b)
            return None if same is None else (same if op == "==" else not same)
        diff = a - b if op in ("<", "<=") else b - a  # diff < 0 (or <= 0) means true
        strict = op in ("<", ">")
        lb = lower_bound(diff)
        if lb is not None and (lb >= 0 if strict else lb > 0):
            return False
        neg_lb = lower_bound(-diff)  # type: ignore[operator]
        if neg_lb is not None and (neg_lb > 0 if strict else neg_lb >= 0):
            return True
        return None
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


_PLACEHOLDER = re.compile(r"\{i\s*(?:([+-])\s*(\d+))?\s*\}")


def _valid_layer_name(name: str) -> bool:
    """A layer name is one segment of a state_dict key: torch's add_module refuses "" and names with a dot."""
    return bool(name) and "." not in name


def arith(op: str, a: Any, b: Any) -> Any:
    """`a op b` for the .net arithmetic operators on ints, floats and symbolic dims (`//` floors; `/` is exact or fails)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "**":
        if isinstance(a, Dim) or isinstance(b, Dim):
            if isinstance(b, int) and b >= 0:
                out: Any = 1
                for _ in range(b):
                    out = out * a
                return out
            raise TypeError("symbolic powers need a non-negative integer exponent")
        if isinstance(b, int) and isinstance(a, int) and abs(b) > 64:
            raise ValueError("exponent too large")
        return a ** b
    if op == "%":
        if isinstance(b, Dim):
            raise TypeError("`%` by a symbolic dimension")
        if isinstance(a, Dim):
            return a - b * floordiv(a, b)  # H % 16 == H - 16*(H//16): a dim expression, decided when H is
        return a % b
    if op == "//":
        if isinstance(a, float) or isinstance(b, float):
            if b == 0:
                raise ZeroDivisionError
            return a // b
        return floordiv(a, b)  # ints as Python's `//`; dims as the floor-division atom `(H - 1)//2`
    if op == "/":
        if isinstance(a, float) or isinstance(b, float):
            return a / b
        if isinstance(b, Dim):
            q = exact_div(a, b)
            if q is None:
                raise TypeError(f"{a} is not divisible by the symbolic {b}")
            return q
        if b == 0:
            raise ZeroDivisionError
        if isinstance(a, Dim):
            q = exact_div(a, b)
            return q if q is not None else floordiv(a, b)
        return a // b if a % b == 0 else a / b
    raise TypeError(f"unknown operator {op}")
