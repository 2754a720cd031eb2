"""`input` statements: a network's inputs, whose dim names become symbols (or numbers, with `--set`); a
block's inputs, checked against what its caller passed; and optional inputs (`= randn`), filled when the
caller leaves them out.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .arithmetic import is_dim
from .constraints import UNPROVEN_HELP
from .diagnostics import Label, did_you_mean
from .dims import Dim, IntLike, dims_equal, sym
from .elaborator_base import ElaboratorBase
from .frames import ERR, Binding, Frame, env_frame
from .ir import INPUT_FILLS, InputDefault, Value
from .ops.base import describe
from .source import Span
from .types import DTYPES, FLOAT_DTYPES, TensorType


class InputMixin(ElaboratorBase):
    """`input` statements of networks and blocks."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...
        def _bind(self, name: str, value: Any, span: Span, frame: Frame, kind: str = "value",
                  chain_end: bool = False) -> None: ...
        def _constraint(self, cond: ast.Expr, frame: Frame) -> bool | None: ...

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
            v = self._eval_dim(d, frame)
            if v is ERR:
                return ERR
            if isinstance(v, int) and v < 0:
                return self.error("E203", f"a dimension cannot be negative ({v})", d.span)
            dims.append(v)
        value = Value(stmt.name, TensorType(stmt.type.dtype, tuple(dims)))
        if self._too_many_elements(value.type, stmt.type.span, f"input `{stmt.name}`"):
            return ERR
        violated = [cond for cond in stmt.where if self._constraint(cond, frame) is False]
        # A size that breaks a divisibility `where` (`--set H=100`) would only fail again at every skip.
        return ERR if violated else value

    def _eval_dim(self, d: ast.Expr, frame: Frame) -> Any:
        """A dim of an input's type: an integer or a symbolic dim, or ERR after reporting."""
        v = self._eval(d, frame)
        if v is ERR:
            return ERR
        if not is_dim(v):
            return self.error("E204", f"a dimension must be an integer, but this is {describe(v)}", d.span)
        return v

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
            same = dims_equal(v, actual_dim) if is_dim(v) else False
            if same is False:
                return self.error("E200", f"`{defn.name}` input `{stmt.name}` expects {expected_text}, but got {t}",
                                  frame.call_span, secondary=where,
                                  label=(f"expected {v}" if d.span.text == str(v) else f"`{d.span.text}` is {v}")
                                  + f", but the input has {actual_dim}")
            if same is None:
                return self.error("E200", f"`{defn.name}` input `{stmt.name}` needs {v} == {actual_dim}, which the "
                                  "checker cannot prove", frame.call_span, secondary=where, help=UNPROVEN_HELP)
        for cond in stmt.where:
            self._constraint(cond, frame)
        return Value(stmt.name, t, actual.producer, actual.id)

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
            v = self._eval_dim(d, frame)
            if v is ERR:
                return ERR
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
