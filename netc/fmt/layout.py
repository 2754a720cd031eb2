"""The canonical layout: syntax tree -> lines of text, each remembering which source it came from.

Expressions print with one space around binary operators and `->`, none inside brackets, and parentheses
only where precedence needs them (the tree has none). Statements get 4 spaces of indentation per level.
A chain keeps the line breaks its author put before `->` steps, with continuation lines aligned under the
first `->`, and is broken further before steps wherever a line would pass WIDTH columns. A definition
header whose parameters pass WIDTH wraps them under its `(`. Comments are added by comments.py, which
places them by the source offsets each line carries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..dsl import ast

WIDTH = 120  # as the project's Python (ruff line-length)
INDENT = "    "

_PREC = {"or": 1, "and": 2, "+": 5, "-": 5, "*": 6, "/": 6, "//": 6, "%": 6, "@": 6, "**": 8}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
_POSTFIX, _ATOM = 9, 10


@dataclass
class Line:
    indent: str
    text: str
    first: int  # source offset where the code printed on this line starts
    last: int  # ... and ends
    closer: bool = False  # starts with `}`: comments just before it belong to the body above
    top: bool = False  # the first line of a top-level item (import, definition, train section)


# -- expressions ----------------------------------------------------------------------------------
def precedence(e: object) -> int:
    if isinstance(e, ast.Chain):
        return 0
    if isinstance(e, ast.BinOp):
        return 4 if e.op in _COMPARE else _PREC[e.op]
    if isinstance(e, ast.UnaryOp):
        return 3 if e.op == "not" else 7
    if isinstance(e, ast.Call | ast.Index):
        return _POSTFIX
    return _ATOM


def expr(e: object, min_prec: int = 0) -> str:
    text = _expr(e)
    return f"({text})" if precedence(e) < min_prec else text


def _expr(e: object) -> str:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Number | ast.String):
        return e.span.text  # as written: `1e-3` stays `1e-3`, escapes stay escapes
    if isinstance(e, ast.Const):
        return {True: "true", False: "false", None: "none"}[e.value]
    if isinstance(e, ast.BinOp):
        p = precedence(e)
        if e.op in _COMPARE:  # not associative: `a < b < c` is not in the language
            return f"{expr(e.left, p + 1)} {e.op} {expr(e.right, p + 1)}"
        if e.op == "**":  # postfix ** factor: right-associative
            return f"{expr(e.left, _POSTFIX)} ** {expr(e.right, 7)}"
        return f"{expr(e.left, p)} {e.op} {expr(e.right, p + 1)}"
    if isinstance(e, ast.UnaryOp):
        if e.op == "not":
            return f"not {expr(e.operand, 3)}"
        return f"{e.op}{expr(e.operand, 7)}"
    if isinstance(e, ast.Call):
        return f"{expr(e.func, _POSTFIX)}({', '.join(_arg(a) for a in e.args)})"
    if isinstance(e, ast.Index):
        return f"{expr(e.value, _POSTFIX)}[{', '.join(_subscript(i) for i in e.items)}]"
    if isinstance(e, ast.TupleExpr):
        items = [expr(i) for i in e.items]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(e, ast.ListExpr):
        return f"[{', '.join(expr(i) for i in e.items)}]"
    if isinstance(e, ast.Chain):
        return " -> ".join([expr(e.head, 1)] + [step(s) for s in e.steps])
    raise TypeError(f"cannot format {type(e).__name__}")


def step(s: ast.Step) -> str:
    return expr(s.expr, 1) + (f" as {s.alias}" if s.alias else "")


def _arg(a: ast.Arg) -> str:
    return f"{a.name}={expr(a.value)}" if a.name is not None else expr(a.value)


def _subscript(i: object) -> str:
    if not isinstance(i, ast.Slice):
        return expr(i)
    text = (expr(i.lower) if i.lower else "") + ":" + (expr(i.upper) if i.upper else "")
    return text + (":" + expr(i.step) if i.step else "")


# -- statements -----------------------------------------------------------------------------------
class Printer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[Line] = []

    def emit(self, indent: str, text: str, first: int, last: int, **kw: bool) -> None:
        self.lines.append(Line(indent, text, first, last, **kw))

    def program(self, p: ast.Program) -> list[Line]:
        items: list[ast.Node] = sorted([*p.imports, *p.definitions, *p.trains], key=lambda n: n.span.start)
        previous: ast.Node | None = None
        for item in items:
            start = len(self.lines)
            if isinstance(item, ast.Import):
                path = item.span.text[item.span.text.index('"'):]
                self.emit("", f"import {path}", item.span.start, item.span.end)
            elif isinstance(item, ast.Definition):
                self.definition(item)
            else:
                self.train(item)  # type: ignore[arg-type]
            # One blank line between items; consecutive imports stay together.
            self.lines[start].top = not (isinstance(item, ast.Import) and isinstance(previous, ast.Import))
            previous = item
        return self.lines

    def definition(self, d: ast.Definition) -> None:
        head = f"{d.kind} {d.name}"
        params = [_param(p) for p in d.params]
        if not params:
            self.emit("", head + " {", d.span.start, d.name_span.end + 1)
        else:
            spans = [(p.span.start, p.span.end) for p in d.params]
            self.wrapped("", head + "(", params, ") {", spans, d.span.start)
        self.body(d.body, INDENT)
        self.emit("", "}", d.span.end - 1, d.span.end, closer=True)

    def wrapped(self, indent: str, opener: str, items: list[str], closer: str, spans: list[tuple[int, int]],
                start: int) -> None:
        """`opener item, item, ...closer`, filled up to WIDTH with continuation lines under the opener's end."""
        pad = " " * (len(indent) + len(opener))
        line, first = opener, start
        for i, item in enumerate(items):
            piece = item + (", " if i < len(items) - 1 else closer)
            if line not in (opener,) and len(indent) + len(line) + len(piece.rstrip()) > WIDTH:
                self.emit(indent, line.rstrip(), first, spans[i - 1][1])
                indent, line, first = pad, "", spans[i][0]
            line += piece
        self.emit(indent, line, first, spans[-1][1] + 1)

    def body(self, stmts: tuple[ast.Stmt, ...], indent: str) -> None:
        for s in stmts:
            self.statement(s, indent)

    def statement(self, s: ast.Stmt, indent: str) -> None:
        if isinstance(s, ast.Input):
            text = f"input {s.name}: {_tensor_type(s.type)}"
            if s.default is not None:
                text += f" = {s.default.id}"
            if s.where:
                text += " where " + ", ".join(expr(c) for c in s.where)
            self.emit(indent, text, s.span.start, s.span.end)
        elif isinstance(s, ast.Output):
            items = [(f"{i.name} = " if i.name else "") + expr(i.value) for i in s.items]
            self.emit(indent, "output " + ", ".join(items), s.span.start, s.span.end)
        elif isinstance(s, ast.Assign):
            prefix = ", ".join(expr(t) for t in s.targets) + " = "
            self.chain_statement(indent, prefix, s.value, s.span)
        elif isinstance(s, ast.ExprStmt):
            self.chain_statement(indent, "", s.expr, s.span)
        elif isinstance(s, ast.If):
            self.if_statement(s, indent)
        else:
            raise TypeError(f"cannot format {type(s).__name__}")

    def if_statement(self, s: ast.If, indent: str) -> None:
        for i, (cond, body) in enumerate(s.branches):
            brace = self.text.find("{", cond.span.end)
            if i == 0:
                self.emit(indent, f"if {expr(cond)} {{", s.span.start, brace + 1)
            else:
                close = self.text.rfind("}", 0, cond.span.start)
                self.emit(indent, f"}} elif {expr(cond)} {{", close, brace + 1, closer=True)
            self.body(body, indent + INDENT)
        if s.orelse is not None:
            close = self.text.rfind("}", 0, s.orelse[0].span.start if s.orelse else s.span.end - 1)
            self.emit(indent, "} else {", close, self.text.find("{", close + 1) + 1, closer=True)
            self.body(s.orelse, indent + INDENT)
        self.emit(indent, "}", s.span.end - 1, s.span.end, closer=True)

    def chain_statement(self, indent: str, prefix: str, value: ast.Expr, span: object) -> None:
        start, end = span.start, span.end  # type: ignore[attr-defined]
        if not isinstance(value, ast.Chain):
            self.emit(indent, prefix + expr(value), start, end)
            return
        head = prefix + expr(value.head, 1)
        column = " " * (len(indent) + len(head) + 1)  # continuation lines start with `->` under the first one
        groups: list[list[ast.Step]] = [[]]
        prev_end = value.head.span.end
        for s in value.steps:
            if "\n" in self.text[prev_end:s.span.start] and groups[-1]:
                groups.append([])
            elif "\n" in self.text[prev_end:s.span.start] and s is value.steps[0]:
                groups = [[], []]  # the author put the first step on its own line too
            groups[-1].append(s)
            prev_end = s.span.end
        rows: list[tuple[str, list[ast.Step]]] = []
        for g, group in enumerate(groups):
            lead = indent + head if g == 0 else column + "->"
            rows.extend(_fill(lead, group, first_row=g == 0))
        for r, (text, steps_) in enumerate(rows):
            first = start if r == 0 else steps_[0].span.start
            last = end if r == len(rows) - 1 else (steps_[-1].span.end if steps_ else value.head.span.end)
            lead_indent = indent if r == 0 else column
            self.emit(lead_indent, text[len(lead_indent):], first, last)

    def train(self, t: ast.TrainDef) -> None:
        head = f"train {t.name}"
        if t.models is not None:
            models = [expr(m.network, 1) + (f" as {m.alias}" if m.alias else "") for m in t.models]
            self.wrapped("", head + "(", models, ") {", [(m.span.start, m.span.end) for m in t.models], t.span.start)
        else:
            self.emit("", head + " {", t.span.start, t.name_span.end + 1)
        for e in t.entries:
            target = f" {e.target_span.text}" if e.target_span is not None else ""
            self.emit(INDENT, f"{e.key}{target}: {expr(e.value)}", e.span.start, e.span.end)
        self.emit("", "}", t.span.end - 1, t.span.end, closer=True)


def _fill(lead: str, steps_: list[ast.Step], first_row: bool) -> list[tuple[str, list[ast.Step]]]:
    """Lines of `lead -> step -> step`, broken before a step wherever the line would pass WIDTH."""
    column = " " * (len(lead) - 2 if not first_row else len(lead) + 1)
    rows: list[tuple[str, list[ast.Step]]] = []
    text, taken = lead, []
    for s in steps_:
        piece = step(s)
        sep = " " if text.endswith("->") else " -> "
        if taken and len(text) + len(sep) + len(piece) > WIDTH:
            rows.append((text, taken))
            text, taken, sep = column + "->", [], " "
        text += sep + piece
        taken.append(s)
    rows.append((text, taken))
    return rows


def _param(p: ast.Param) -> str:
    return f"{p.name}: {p.type_name}" + (f" = {expr(p.default)}" if p.default is not None else "")


def _tensor_type(t: ast.TensorTypeExpr) -> str:
    return f"{t.dtype}[{', '.join(expr(d) for d in t.dims)}]"


BLANK_LINES = re.compile(r"\n[ \t\r\f]*\n")
