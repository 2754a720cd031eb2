"""The canonical layout: syntax tree -> lines of text, each remembering which source it came from.

Expressions print with one space around binary operators and `->`, none inside brackets, and parentheses
only where precedence needs them (the tree has none). Statements get 4 spaces of indentation per level.
Line breaks are kept where the author put them at the places the layout allows one (see Renderer) and
added where a line would pass WIDTH columns; a definition header's parameters wrap under its `(` the same
way. Comments are added by comments.py, which places them by the source offsets each line carries.
"""
from __future__ import annotations

import json
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
    if isinstance(e, ast.ListComp):
        return f"[{expr(e.item)} for {e.var} in {expr(e.values)}]"
    if isinstance(e, ast.Chain):
        return " -> ".join([expr(e.head, 1)] + [step(s) for s in e.steps])
    raise TypeError(f"cannot format {type(e).__name__}")


def step(s: ast.Step) -> str:
    return expr(s.expr, 1) + alias_text(s)


_PLAIN_NAME = re.compile(r"(?!\d)\w+")


def alias_text(s: ast.Step) -> str:
    """` as name`, in backticks when the name is not a plain name (`block1-0`), with its item pattern."""
    if s.alias is None:
        return ""
    name = s.alias if _PLAIN_NAME.fullmatch(s.alias) else f"`{s.alias}`"
    pattern = "" if s.children is None else "[" + json.dumps(s.children, ensure_ascii=False) + "]"
    return f" as {name}{pattern}"


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
        """`opener item, item, ...closer`: a new line under the opener's end where the author broke the list
        or where the line would pass WIDTH."""
        pad = " " * (len(indent) + len(opener))
        line, first = opener, start
        for i, item in enumerate(items):
            piece = item + (", " if i < len(items) - 1 else closer)
            authored = i > 0 and "\n" in self.text[spans[i - 1][1]:spans[i][0]]
            if line != opener and (authored or len(indent) + len(line) + len(piece.rstrip()) > WIDTH):
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
        elif isinstance(s, ast.Output) and len(s.items) == 1:
            # one value: laid out as an assignment's chain is (`output x -> Conv2d(...) as conv` breaks before
            # `->` past WIDTH and where the author broke it, rather than being joined into one long line)
            item = s.items[0]
            self.chain_statement(indent, "output " + (f"{item.name} = " if item.name else ""), item.value, s.span)
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
        elif isinstance(s, ast.StateDecl):
            text = f"{s.kind} {s.name}: {_tensor_type(s.type)}"
            if s.init is not None:
                text += f" = {expr(s.init)}"
            text += "".join(f", {o.name}={expr(o.value)}" for o in s.options)
            self.emit(indent, text, s.span.start, s.span.end)
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
        """A statement whose value may run over several lines (chains, lists, argument lists)."""
        start, end = span.start, span.end  # type: ignore[attr-defined]
        r = Renderer(self.text)
        text = prefix + r.render(value, len(indent) + len(prefix), 0)
        self.emit_broken(indent, text, start, end, r.breaks)

    def emit_broken(self, indent: str, text: str, start: int, end: int, breaks: list[tuple[int, int]]) -> None:
        """One Line per physical line; `breaks` holds (end of the code before, start of the code after) of
        each line break, in order, so comments find their line."""
        rows = text.split("\n")
        for k, row in enumerate(rows):
            first = start if k == 0 else breaks[k - 1][1]
            last = end if k == len(rows) - 1 else breaks[k][0]
            if k == 0:
                self.emit(indent, row, first, last)
            else:
                stripped = row.lstrip(" ")
                self.emit(row[:len(row) - len(stripped)], stripped, first, last)

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


class Renderer:
    """Expressions laid out from a starting column, keeping the author's line breaks where the layout
    allows one (before a chain's `->`, after a comma in brackets, before a binary operator) and adding
    breaks at the first two where a line would pass WIDTH. Continuation lines align: `->` under the chain's
    first `->` (or two columns right of its head when the first step starts a line), items under the first
    item after the bracket, an operator under its left operand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks: list[tuple[int, int]] = []

    def broken(self, before: int, after: int) -> bool:
        return "\n" in self.text[before:after]

    def newline(self, out: str, column: int, before: int, after: int) -> str:
        self.breaks.append((before, after))
        return out + "\n" + " " * column

    def render(self, e: object, col: int, min_prec: int, reserve: int = 0) -> str:
        """`e` starting at column `col`; `reserve` columns must stay free after it (`as name`, `)`)."""
        if precedence(e) < min_prec:
            return "(" + self.render(e, col + 1, 0, reserve + 1) + ")"
        if isinstance(e, ast.Chain):
            return self.chain(e, col)
        if isinstance(e, ast.ListExpr):
            return self.items("[", [(i, None) for i in e.items], "]", col, reserve)
        if isinstance(e, ast.TupleExpr) and len(e.items) > 1:
            return self.items("(", [(i, None) for i in e.items], ")", col, reserve)
        if isinstance(e, ast.Call) and e.args:
            head = expr(e.func, _POSTFIX) + "("
            return head + self.items("", [(a.value, a) for a in e.args], ")", col + len(head), reserve)
        if isinstance(e, ast.BinOp) and e.op not in _COMPARE and e.op != "**":
            p = precedence(e)
            left = self.render(e.left, col, p)
            if self.broken(e.left.span.end, e.right.span.start):  # the author started a line with the operator
                out = self.newline(left, col, e.left.span.end, e.right.span.start) + f"{e.op} "
                return out + self.render(e.right, col + len(e.op) + 1, p + 1, reserve)
            right_col = _column(left, col) + len(e.op) + 2
            return f"{left} {e.op} " + self.render(e.right, right_col, p + 1, reserve)
        return expr(e)

    def chain(self, e: ast.Chain, col: int) -> str:
        out = self.render(e.head, col, 1)
        arrow: int | None = None  # the column of continuation `->`s
        prev_end = e.head.span.end
        for i, s in enumerate(e.steps):
            flat = step(s)
            here = _column(out, col)
            overflow = here + 4 + len(flat.split("\n")[0]) > WIDTH and i > 0
            if self.broken(prev_end, s.span.start) or overflow:
                if arrow is None:
                    arrow = col + 2
                out = self.newline(out, arrow, prev_end, s.span.start) + "-> "
            else:
                if arrow is None:
                    arrow = here + 1
                out += " -> "
            out += self.step(s, _column(out, col))
            prev_end = s.span.end
        return out

    def step(self, s: ast.Step, col: int) -> str:
        alias = alias_text(s)
        return self.render(s.expr, col, 1, len(alias)) + alias

    def items(self, open_: str, items: list[tuple[object, ast.Arg | None]], close: str, col: int,
              reserve: int = 0) -> str:
        out = open_
        pad = col + len(open_)
        prev_end = None
        for i, (value, arg) in enumerate(items):
            node = arg if arg is not None else value
            start, end = node.span.start, node.span.end  # type: ignore[attr-defined]
            name = f"{arg.name}=" if arg is not None and arg.name is not None else ""
            if i:
                out += ","
                flat = name + expr(value) + (close + " " * reserve if i == len(items) - 1 else ",")
                here = _column(out, col)
                if self.broken(prev_end, start) or here + 1 + len(flat) > WIDTH:  # type: ignore[arg-type]
                    out = self.newline(out, pad, prev_end, start)  # type: ignore[arg-type]
                else:
                    out += " "
            out += name
            out += self.render(value, _column(out, col), 0)
            prev_end = end
        return out + close


def _column(text: str, start_col: int) -> int:
    """The column after `text`, which started at `start_col` and may span lines."""
    nl = text.rfind("\n")
    return start_col + len(text) if nl < 0 else len(text) - nl - 1


def _param(p: ast.Param) -> str:
    return f"{p.name}: {p.type_name}" + (f" = {expr(p.default)}" if p.default is not None else "")


def _tensor_type(t: ast.TensorTypeExpr) -> str:
    return f"{t.dtype}[{', '.join(expr(d) for d in t.dims)}]"


BLANK_LINES = re.compile(r"\n[ \t\r\f]*\n")
