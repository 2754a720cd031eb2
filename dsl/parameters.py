"""A block's or network's parameters (`block Stage(c: int, n: int = 2)`), bound to a call's arguments.

Positional and keyword arguments, defaults (evaluated in order, so a default may use the parameters before
it), `--set` overrides of a network's parameters, and the declared types. (Not an op's weights, nor the
`param` statements of state.py.)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .diagnostics import Diagnostics, Label, did_you_mean
from .dims import Dim
from .elaborator_base import ElaboratorBase
from .frames import ERR, Binding, Frame, env_frame
from .ops.base import describe
from .source import Span

PARAM_TYPES = ("int", "float", "bool", "str", "dim", "list")


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


class ParameterMixin(ElaboratorBase):
    """Binding a definition's parameters to a call's arguments."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...

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
