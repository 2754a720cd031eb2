"""The entries of a `train` section and the calls in them, checked against dsl/train_registry.py's tables."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast
from .diagnostics import Label, did_you_mean
from .source import Span
from .train_registry import (
    _ALIASES,
    REQUIRED,
    SETTINGS,
    Fn,
    P,
    _positive,
)
from .train_spec import (
    ERR,
    CheckerBase,
    FnCall,
)


class ArgsChecker(CheckerBase):
    """Settings and calls: `key: value` entries, and `name(args)` checked against a table of functions."""

    # -- entries ---------------------------------------------------------------------------------
    def _collect_entries(self) -> None:
        for entry in self.t.entries:
            key = entry.key
            if key not in SETTINGS:
                real = _ALIASES.get(key) or did_you_mean(key, SETTINGS)
                self.error("E501", f"unknown setting `{key}` in `train {self.t.name}`", entry.key_span,
                           help=f"did you mean `{real}`?" if real else
                           f"the settings are: {', '.join(SETTINGS)}")
                continue
            rule = SETTINGS[key][1]
            if rule == "required" and entry.target is None:
                self.error("E503", f"`{key}` needs a name before the colon", entry.key_span,
                           help={"lr": "write `lr fc: 1e-3` for the submodule `fc`",
                                 "noise": "write `noise z: normal(f32[B, 100])`"}[key])
                continue
            if rule == "no" and entry.target is not None:
                self.error("E508", f"`{key}` takes no name before the colon", entry.target_span,
                           help=f"write `{key}: ...`")
                continue
            same = [e for e in self.entries.get(key, []) if e.target == entry.target]
            if same:
                what = f"`{key} {entry.target}`" if entry.target else f"`{key}`"
                self.error("E502", f"{what} is set twice", entry.key_span,
                           secondary=[Label(same[0].key_span, "first set here")], help="keep one of them")
                continue
            self.entries.setdefault(key, []).append(entry)

    def _entry(self, key: str) -> ast.TrainEntry | None:
        got = self.entries.get(key)
        return got[0] if got else None

    def _int_setting(self, key: str, check: Callable[[Any], str | None] = _positive) -> int | None:
        entry = self._entry(key)
        if entry is None:
            return None
        v = _literal(entry.value)
        if v is ERR or isinstance(v, bool) or not isinstance(v, int):
            return self._bad(entry, f"`{key}` must be an integer", "a whole number, e.g. `10`")
        problem = check(v)
        if problem:
            return self._bad(entry, f"`{key}` {problem}, but it is {v}")
        return v

    def _float_setting(self, key: str, check: Callable[[Any], str | None]) -> float | None:
        entry = self._entry(key)
        if entry is None:
            return None
        v = _literal(entry.value)
        if v is ERR or isinstance(v, bool) or not isinstance(v, (int, float)):
            return self._bad(entry, f"`{key}` must be a number")
        problem = check(v)
        if problem:
            return self._bad(entry, f"`{key}` {problem}, but it is {v}")
        return float(v)

    def _bad(self, entry: ast.TrainEntry, message: str, help: str | None = None) -> None:
        self.error("E506", message, entry.value.span, help=help)
        return None

    def _call_setting(self, key: str, table: dict[str, Fn], what: str) -> FnCall | None:
        entry = self._entry(key)
        if entry is None:
            return None
        call = self._call(entry.value, table, what)
        return None if call is ERR else call

    def _call(self, expr: ast.Expr, table: dict[str, Fn], what: str) -> Any:
        """Check `Name` or `Name(args)` against a table of functions; returns an FnCall or ERR."""
        func, args = expr, ()
        if isinstance(expr, ast.Call):
            func, args = expr.func, expr.args
        if not isinstance(func, ast.Name):
            return self.error("E506", f"expected {what} here", expr.span,
                              help=f"one of: {', '.join(table)}")
        fn = table.get(func.id)
        if fn is None:
            guess = did_you_mean(func.id, table)
            return self.error("E504", f"unknown {what} `{func.id}`", func.span,
                              help=f"did you mean `{guess}`?" if guess else f"the {what}s are: {', '.join(table)}")
        values = self._bind_args(fn, args, expr.span, what, tensors=False)
        if values is ERR:
            return ERR
        positional = [p.name for p in fn.params if p.positional]
        spans = {a.name or positional[min(i, len(positional) - 1)]: a.value.span for i, a in enumerate(args)
                 if a.name or positional}
        return FnCall(fn.name, values, expr.span, spans)

    def _bind_args(self, fn: Fn, args: tuple[ast.Arg, ...], span: Span, what: str, tensors: bool) -> Any:
        """Match arguments to parameters like Python does; literal values are checked and coerced.

        With `tensors`, parameters of kind "tensor" keep their AST (typed by the caller)."""
        out: dict[str, Any] = {}
        positional = [p for p in fn.params if p.positional]
        names = [p.name for p in fn.params]
        ok = True
        n_pos = 0
        for arg in args:
            if arg.name is None:
                if n_pos >= len(positional):
                    self.error("E505", f"`{fn.name}` takes {len(positional)} positional argument"
                               f"{'s' if len(positional) != 1 else ''}, but more were given", arg.span,
                               help=f"name them: {', '.join(p.name + '=...' for p in fn.params if not p.positional)}"
                               if len(positional) < len(fn.params) else None)
                    ok = False
                    continue
                param = positional[n_pos]
                n_pos += 1
            else:
                param = next((p for p in fn.params if p.name == arg.name), None)
                if param is None:
                    guess = did_you_mean(arg.name, names)
                    self.error("E505", f"{what} `{fn.name}` has no argument `{arg.name}`", arg.span,
                               help=f"did you mean `{guess}`?" if guess else
                               (f"its arguments are: {', '.join(names)}" if names else f"`{fn.name}` takes none"))
                    ok = False
                    continue
                if param.name in out:
                    self.error("E505", f"argument `{param.name}` of `{fn.name}` is given twice", arg.span)
                    ok = False
                    continue
            if param.kind == "tensor":
                out[param.name] = arg.value if tensors else ERR
                continue
            value = self._coerce(param, arg.value, fn)
            if value is ERR:
                ok = False
            out[param.name] = value
        for p in fn.params:
            if p.name in out:
                continue
            if p.default is REQUIRED:
                if p.kind == "tensor" and tensors:
                    out[p.name] = None  # filled in by the caller (the default target, ...)
                    continue
                self.error("E507", f"{what} `{fn.name}` needs `{p.name}`", span,
                           help=f"pass it: `{fn.name}({p.name}=...)`" + (f" ({p.doc})" if p.doc else ""))
                ok = False
                continue
            out[p.name] = p.default
        return out if ok else ERR

    def _coerce(self, p: P, expr: ast.Expr, fn: Fn) -> Any:
        value = _literal(expr)
        if p.kind in ("name", "str") and isinstance(expr, ast.Name):
            value = expr.id
        if p.kind == "names" and isinstance(expr, ast.ListExpr):
            value = [e.id if isinstance(e, ast.Name) else _literal(e) for e in expr.items]
        want = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string",
                "name": "a name", "pair": "a pair of numbers like (0.9, 0.999)", "names": "a list of names",
                "floats": "a number or a list of numbers like (0.5, 0.5, 0.5)"}[p.kind]
        good = {
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "str": lambda v: isinstance(v, str),
            "name": lambda v: isinstance(v, str),
            "pair": lambda v: isinstance(v, tuple) and len(v) == 2 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v),
            "names": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "floats": lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)) or (
                isinstance(v, (tuple, list)) and len(v) > 0 and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)),
        }[p.kind]
        if p.default is None and isinstance(expr, ast.Const) and expr.value is None:
            return None
        if value is ERR or not good(value):
            return self.error("E506", f"`{p.name}` of `{fn.name}` must be {want}", expr.span,
                              help=f"{p.name}: {p.doc}" if p.doc else None)
        if p.kind == "float":
            value = float(value)
        if p.kind == "pair":
            value = tuple(float(x) for x in value)
        if p.kind == "floats":
            value = tuple(float(x) for x in value) if isinstance(value, (tuple, list)) else float(value)
        if p.choices and value not in p.choices:
            guess = did_you_mean(value, p.choices)
            return self.error("E506", f"`{p.name}` of `{fn.name}` cannot be `{value}`", expr.span,
                              help=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(p.choices)}")
        if p.check is not None:
            problem = p.check(value)
            if problem:
                return self.error("E506", f"`{p.name}` of `{fn.name}` {problem}, but it is {value}", expr.span)
        return value


def _literal(e: ast.Expr) -> Any:
    """The Python value of a literal expression (numbers, strings, booleans, tuples, arithmetic), or ERR."""
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.String):
        return e.value
    if isinstance(e, ast.Const):
        return e.value
    if isinstance(e, ast.UnaryOp) and e.op in ("-", "+"):
        v = _literal(e.operand)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if e.op == "-" else v
        return ERR
    if isinstance(e, ast.BinOp) and e.op in ("+", "-", "*", "/", "**"):
        a, b = _literal(e.left), _literal(e.right)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            return ERR
        try:
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                    "**": lambda: a ** b}[e.op]()
        except (ZeroDivisionError, OverflowError):
            return ERR
    if isinstance(e, (ast.TupleExpr, ast.ListExpr)):
        items = [_literal(i) for i in e.items]
        return ERR if any(i is ERR for i in items) else tuple(items)
    return ERR
