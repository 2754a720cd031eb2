"""The names of layers: `as` names, generated names (`linear1`, `conv2`) and the names a pattern gives
(`as layers["block{i+1}"]`).

A layer's name is one segment of its state_dict key, so the rules about names (unique in a body, no `.`,
generated names clear of every `as` name written anywhere in the definition) are kept in this one place.
"""
from __future__ import annotations

import re
from typing import Any

from . import ast
from .declarations import register
from .elaborator_base import ElaboratorBase
from .frames import Frame
from .source import Span


def snake(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return s.lower()


def collect_aliases(stmts: tuple[ast.Stmt, ...]) -> set[str]:
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
                out |= collect_aliases(body)
            if s.orelse:
                out |= collect_aliases(s.orelse)
    return out


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


_PLACEHOLDER = re.compile(r"\{i\s*(?:([+-])\s*(\d+))?\s*\}")


def valid_layer_name(name: str) -> bool:
    """A layer name is one segment of a state_dict key: torch's add_module refuses "" and names with a dot."""
    return bool(name) and "." not in name


class NamingMixin(ElaboratorBase):
    """Names of the modules a body makes: `as` names, generated names, and the names a pattern gives."""

    def _module_name(self, frame: Frame, forced: str | None, alias: tuple[str, Span] | None, base: str) -> str | None:
        if alias is not None and not valid_layer_name(alias[0]):
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
        bad = next((m for m in names if not valid_layer_name(m)), None)
        if bad is not None:
            return self.error("E311", f"the name pattern \"{text}\" gives the name `{bad}`, which cannot be a "
                              "state_dict key segment", span, help="names must be non-empty and contain no `.`")
        return names  # or ERR, from self.error above
