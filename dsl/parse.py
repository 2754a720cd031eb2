"""Text -> AST. The Lark parser is built once per process; Lark errors become diagnostics."""
from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Diagnostics, Label
from .source import Source, Span
from .state_hints import hint_for_line

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammar" / "netc.lark"

# Expressions nested deeper than this are rejected with E104 instead of risking Python's recursion
# limit in the recursive passes after parsing. Real models nest a handful of levels.
MAX_DEPTH = 120

_OPEN = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSE = {v: k for k, v in _OPEN.items()}
_GLYPH = {"LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{", "RBRACE": "}"}

# Newlines are dropped after these tokens (the expression obviously continues) ...
_CONTINUES_AFTER = {"_NL", "LBRACE", "COMMA", "EQUAL", "COLON", "ADD_OP", "MUL_OP", "COMPARE",
                    "_ARROW", "_POW", "AND", "OR", "NOT", "AS", "WHERE", "IMPORT", "IF", "ELIF"}
# `where` continues the line only as the keyword of an input (after its type `]` or its default's name);
# elsewhere it is the op (`x -> where` may end a line).
_WHERE_KEYWORD_AFTER = {"RSQB", "NAME"}
# ... and before these: a line starting with `->` continues the chain, one starting with a binary operator
# continues the expression (`+ bias`, `* scale`, `and ...`); `}` closes the block.
_CONTINUES_BEFORE = {"RBRACE", "_ARROW", "ELSE", "ELIF", "ADD_OP", "MUL_OP", "_POW", "COMPARE", "AND", "OR"}


class NewlineFilter:
    """Post-lexer: keeps only the newlines that end statements."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        prev: str | None = None
        pending: Token | None = None
        where_keyword = False
        for tok in stream:
            if tok.type == "_NL":
                if depth == 0 and pending is None:
                    pending = tok
                continue
            if pending is not None:
                continues = prev in _CONTINUES_AFTER and (prev != "WHERE" or where_keyword)
                if prev is not None and not continues and tok.type not in _CONTINUES_BEFORE:
                    yield pending
                pending = None
            if tok.type == "WHERE":
                where_keyword = prev in _WHERE_KEYWORD_AFTER
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            yield tok
            prev = tok.type


@lru_cache(maxsize=1)
def get_parser() -> Lark:
    return _build_parser()


def _build_parser(**options: Any) -> Lark:
    return Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        propagate_positions=True,
        postlex=NewlineFilter(),
        maybe_placeholders=False,
        lexer="basic",  # a contextual lexer would lex past the newlines our post-lexer holds back
        cache=True,
        **options,
    )


# -- comments (for the formatter) -----------------------------------------------------------------
# The parser drops comments (`%ignore`); the formatter needs them back. Lark calls a lexer callback for
# every token of a terminal, ignored ones included, so a second parser built from the same grammar with
# callbacks on the comment terminals hands them over without a second scan of the text.
_comment_sink: list[Token] = []


@lru_cache(maxsize=1)
def _comment_parser() -> Lark:
    text = GRAMMAR_PATH.read_text(encoding="utf-8")
    names = re.findall(r"^%ignore\s+(\w*COMMENT\w*)", text, flags=re.M)
    return _build_parser(lexer_callbacks={name: _comment_sink.append for name in names})


def parse_with_comments(source: Source, diags: Diagnostics) -> tuple[ast.Program | None, list[Token]]:
    """Parse like :func:`parse`, and return the comment tokens too, in source order."""
    _comment_sink.clear()
    try:
        program = parse(source, diags, _comment_parser())
        comments = sorted(_comment_sink, key=lambda t: t.start_pos or 0)
    finally:
        _comment_sink.clear()
    return program, comments


# -- tree -> AST ---------------------------------------------------------------------------------
@v_args(meta=True, inline=True)
class _ToAst(Transformer):
    def __init__(self, source: Source) -> None:
        super().__init__()
        self.src = source
        # Lark's v_args wraps each rule method anew (functools.update_wrapper) on every attribute lookup,
        # i.e. once per tree node; binding them once per parse saves ~5% of the front end's time.
        for name in _RULES:
            setattr(self, name, getattr(self, name))

    def _span(self, meta: object) -> Span:
        return Span(self.src, meta.start_pos, meta.end_pos)  # type: ignore[attr-defined]

    def _tspan(self, tok: Token) -> Span:
        return Span(self.src, tok.start_pos, tok.end_pos)  # type: ignore[arg-type]

    def _node_span(self, node: object) -> Span:
        return node.span if isinstance(node, ast.Node) else self._tspan(node)  # type: ignore[arg-type]

    # atoms
    def name(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.Name(self._tspan(tok), str(tok))

    def where_name(self, meta):  # type: ignore[no-untyped-def]
        return ast.Name(self._span(meta), "where")

    def number(self, meta, tok):  # type: ignore[no-untyped-def]
        text = str(tok)
        # int() refuses literals beyond Python's 4300-digit limit; such a number is just "too large"
        # (inf), which the elaborator reports like any other out-of-range number.
        value: int | float = (float(text) if any(ch in text for ch in ".eE") or len(text) > 4000 else int(text))
        return ast.Number(self._tspan(tok), value)

    def string(self, meta, tok):  # type: ignore[no-untyped-def]
        return ast.String(self._tspan(tok), _unescape(str(tok)[1:-1]))

    def true(self, meta):  # type: ignore[no-untyped-def]
        return ast.Const(self._span(meta), True)

    def false(self, meta):  # type: ignore[no-untyped-def]
        return ast.Const(self._span(meta), False)

    def none(self, meta):  # type: ignore[no-untyped-def]
        return ast.Const(self._span(meta), None)

    def tuple(self, meta, *items):  # type: ignore[no-untyped-def]
        return ast.TupleExpr(self._span(meta), tuple(items))

    def list(self, meta, *items):  # type: ignore[no-untyped-def]
        return ast.ListExpr(self._span(meta), tuple(items))

    def list_comp(self, meta, item, var, values):  # type: ignore[no-untyped-def]
        return ast.ListComp(self._span(meta), item, str(var), self._tspan(var), values)

    # operators
    def binop(self, meta, left, op, right):  # type: ignore[no-untyped-def]
        return ast.BinOp(self._span(meta), str(op), left, right)

    def compare(self, meta, left, op, right):  # type: ignore[no-untyped-def]
        return ast.BinOp(self._span(meta), str(op), left, right)

    def pow_op(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.BinOp(self._span(meta), "**", left, right)

    def or_op(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.BinOp(self._span(meta), "or", left, right)

    def and_op(self, meta, left, right):  # type: ignore[no-untyped-def]
        return ast.BinOp(self._span(meta), "and", left, right)

    def not_op(self, meta, operand):  # type: ignore[no-untyped-def]
        return ast.UnaryOp(self._span(meta), "not", operand)

    def unary(self, meta, op, operand):  # type: ignore[no-untyped-def]
        return ast.UnaryOp(self._span(meta), str(op), operand)

    def arg(self, meta, *children):  # type: ignore[no-untyped-def]
        if len(children) == 2:
            return ast.Arg(self._span(meta), str(children[0]), children[1])
        return ast.Arg(self._span(meta), None, children[0])

    def call(self, meta, func, *args):  # type: ignore[no-untyped-def]
        return ast.Call(self._span(meta), func, tuple(args))

    def slice(self, meta, *children):  # type: ignore[no-untyped-def]
        # Children are the present bounds; recover which by the colons in the source text.
        text = self.src.text[meta.start_pos:meta.end_pos]
        parts: list[ast.Expr | None] = [None, None, None]
        it = iter(children)
        pos = meta.start_pos
        slot = 0
        for child in it:
            colons = self.src.text[pos:child.span.start].count(":")
            slot += colons
            parts[slot] = child
            pos = child.span.end
        del text
        return ast.Slice(self._span(meta), parts[0], parts[1], parts[2])

    def index(self, meta, value, *items):  # type: ignore[no-untyped-def]
        return ast.Index(self._span(meta), value, tuple(items))

    def step(self, meta, expr, alias=None, children=None):  # type: ignore[no-untyped-def]
        if alias is None:
            return ast.Step(self._span(meta), expr, None, None)
        return ast.Step(self._span(meta), expr, _layer_name(alias), self._tspan(alias),
                        children[0] if children else None, children[1] if children else None)

    def child_names(self, meta, pattern):  # type: ignore[no-untyped-def]
        return (_unescape(str(pattern)[1:-1]), self._tspan(pattern))

    def chain(self, meta, head, *steps):  # type: ignore[no-untyped-def]
        return ast.Chain(self._span(meta), head, tuple(steps))

    # statements
    def tensor_type(self, meta, dtype, *dims):  # type: ignore[no-untyped-def]
        return ast.TensorTypeExpr(self._span(meta), str(dtype), self._tspan(dtype), tuple(dims))

    def input_stmt(self, meta, name, ttype, *rest):  # type: ignore[no-untyped-def]
        default = None
        if rest and isinstance(rest[0], tuple):  # the marked `= randn` (where-conditions are AST nodes)
            default, rest = rest[0][1], rest[1:]
        return ast.Input(self._span(meta), str(name), self._tspan(name), ttype, tuple(rest), default)

    def state_stmt(self, meta, kind, name, ttype, *rest):  # type: ignore[no-untyped-def]
        init = rest[0] if rest and not isinstance(rest[0], ast.Arg) else None
        options = tuple(r for r in rest if isinstance(r, ast.Arg))
        return ast.StateDecl(self._span(meta), str(kind), self._tspan(kind), str(name), self._tspan(name), ttype,
                             init, options)

    def state_option(self, meta, name, value):  # type: ignore[no-untyped-def]
        return ast.Arg(self._span(meta), str(name), value)

    def input_default(self, meta, tok):  # type: ignore[no-untyped-def]
        return ("default", ast.Name(self._tspan(tok), str(tok)))

    def output_item(self, meta, *children):  # type: ignore[no-untyped-def]
        if len(children) == 2:
            return ast.OutputItem(self._span(meta), str(children[0]), children[1])
        return ast.OutputItem(self._span(meta), None, children[0])

    def output_stmt(self, meta, *items):  # type: ignore[no-untyped-def]
        return ast.Output(self._span(meta), tuple(items))

    def assign_stmt(self, meta, *children):  # type: ignore[no-untyped-def]
        return ast.Assign(self._span(meta), tuple(children[:-1]), children[-1])

    def expr_stmt(self, meta, expr):  # type: ignore[no-untyped-def]
        return ast.ExprStmt(self._span(meta), expr)

    def body(self, meta, *stmts):  # type: ignore[no-untyped-def]
        return tuple(stmts)

    def elif_clause(self, meta, cond, body):  # type: ignore[no-untyped-def]
        return ("elif", cond, body)

    def else_clause(self, meta, body):  # type: ignore[no-untyped-def]
        return ("else", body)

    def if_stmt(self, meta, cond, body, *rest):  # type: ignore[no-untyped-def]
        branches = [(cond, body)]
        orelse = None
        for part in rest:
            if part[0] == "elif":
                branches.append((part[1], part[2]))
            else:
                orelse = part[1]
        return ast.If(self._span(meta), tuple(branches), orelse)

    # definitions
    def param(self, meta, name, type_name, default=None):  # type: ignore[no-untyped-def]
        return ast.Param(self._span(meta), str(name), str(type_name), self._tspan(type_name), default)

    def param_list(self, meta, *params):  # type: ignore[no-untyped-def]
        return tuple(params)

    def definition(self, meta, kind, name, *rest):  # type: ignore[no-untyped-def]
        params: tuple[ast.Param, ...] = ()
        if len(rest) == 2:
            params, body = rest
        else:
            (body,) = rest
        return ast.Definition(self._span(meta), str(kind), str(name), self._tspan(name), params, body)

    def defkind(self, meta, tok):  # type: ignore[no-untyped-def]
        return str(tok)

    def import_stmt(self, meta, path):  # type: ignore[no-untyped-def]
        return ast.Import(self._span(meta), _unescape(str(path)[1:-1]))

    # training sections
    def train_model(self, meta, network, alias=None):  # type: ignore[no-untyped-def]
        return ast.TrainModel(self._span(meta), network, str(alias) if alias else None,
                              self._tspan(alias) if alias else None)

    def train_models(self, meta, *models):  # type: ignore[no-untyped-def]
        return tuple(models)

    def train_entry(self, meta, key, *rest):  # type: ignore[no-untyped-def]
        target = rest[0] if len(rest) == 2 else None
        name = None
        if target is not None:
            name = _unescape(str(target)[1:-1]) if target.type == "STRING" else str(target)
        return ast.TrainEntry(self._span(meta), str(key), self._tspan(key), name,
                              self._tspan(target) if target is not None else None, rest[-1])

    def train_body(self, meta, *entries):  # type: ignore[no-untyped-def]
        return ("train_body", tuple(entries))

    def train_def(self, meta, name, *rest):  # type: ignore[no-untyped-def]
        models = rest[0] if len(rest) == 2 else None
        return ast.TrainDef(self._span(meta), str(name), self._tspan(name), models, rest[-1][1])

    def start(self, meta, *items):  # type: ignore[no-untyped-def]
        imports = tuple(i for i in items if isinstance(i, ast.Import))
        defs = tuple(i for i in items if isinstance(i, ast.Definition))
        trains = tuple(i for i in items if isinstance(i, ast.TrainDef))
        span = Span(self.src, 0, len(self.src.text))
        return ast.Program(span, imports, defs, trains)


_RULES = [name for name, value in vars(_ToAst).items() if hasattr(value, "visit_wrapper")]


def _layer_name(tok: Token) -> str:
    """The name after `as`: a plain name or keyword as written, a `quoted` or "string" one without its quotes."""
    text = str(tok)
    if tok.type == "QUOTED_NAME":
        return text[1:-1]
    if tok.type == "STRING":
        return _unescape(text[1:-1])
    return text


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    simple = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(simple.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# -- errors --------------------------------------------------------------------------------------
_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "_NL": "a new line",
    "_ARROW": "`->`", "ADD_OP": "`+` or `-`", "MUL_OP": "an operator", "COMPARE": "a comparison",
    "$END": "the end of the file", "_POW": "`**`",
}


def _describe(term: str) -> str:
    if term in _WORDS:
        return _WORDS[term]
    if term in _GLYPH:
        return f"`{_GLYPH[term]}`"
    pattern = {"COMMA": ",", "EQUAL": "=", "COLON": ":"}.get(term)
    if pattern:
        return f"`{pattern}`"
    return f"`{term.lower()}`"


def _expected_words(expected: set[str]) -> str:
    exp = set(expected)
    words: list[str] = []
    if {"NAME", "NUMBER", "LPAR"} <= exp:
        words.append("an expression")
        exp -= {"NAME", "NUMBER", "STRING", "LPAR", "LSQB", "ADD_OP", "NOT", "TRUE", "FALSE", "NONE"}
    if {"ADD_OP", "MUL_OP", "COMPARE"} <= exp:
        words.append("an operator")
        exp -= {"ADD_OP", "MUL_OP", "COMPARE", "_POW", "AND", "OR"}
    words += sorted(_describe(t) for t in exp)
    if len(words) > 6:
        words = words[:6] + ["..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    return f"`{tok}`"


def _unclosed(text: str, upto: int) -> tuple[list[Token], Token | None]:
    """Brackets still open before `upto`, and a closer that does not match its opener, if any."""
    stack: list[Token] = []
    try:
        for tok in get_parser().lex(text, dont_ignore=False):
            if tok.start_pos is not None and tok.start_pos >= upto:
                break
            if tok.type in _OPEN:
                stack.append(tok)
            elif tok.type in _CLOSE:
                if stack and stack[-1].type == _CLOSE[tok.type]:
                    stack.pop()
                else:
                    return stack, tok
    except UnexpectedInput:
        pass
    return stack, None


def _report(source: Source, text: str, err: UnexpectedInput, diags: Diagnostics) -> int:
    """Turn one Lark error into a diagnostic; returns the offset where the error is."""
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        ch = source.text[pos]
        span = Span(source, pos, pos + 1)
        help_ = None
        if ch == "'":
            help_ = 'strings use double quotes: "like this"'
        help_ = _slash_comment_hint(source, pos) or _pytorch_hint(source, pos) or help_
        diags.error("E103", f"unexpected character `{ch}`", span, label="not part of the language", help=help_)
        return pos
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = set(err.accepts or err.expected)
        pos = tok.start_pos if tok.start_pos is not None and tok.type != "$END" else len(source.text)
        stack, bad_close = _unclosed(text, pos)  # the text with earlier broken definitions blanked
        closer_expected = [t for t in ("RPAR", "RSQB", "RBRACE") if t in expected]
        if tok.type == "$END":
            if stack:
                opener = stack[-1]
                diags.error(
                    "E101", f"unclosed `{opener}`",
                    Span(source, opener.start_pos, opener.end_pos),  # type: ignore[arg-type]
                    label="this bracket is never closed",
                    help=f"add `{_GLYPH[_OPEN[opener.type]]}` where the {_describe_scope(opener)} ends",
                )
            else:
                end = len(source.text.rstrip())
                diags.error("E102", "unexpected end of file", Span(source, max(0, end - 1), max(end, 1)),
                            label=f"expected {_expected_words(expected)} after this")
            return pos
        if tok.type in ("RPAR", "RSQB") and (not stack or stack[-1].type == "LBRACE"):
            opener_glyph = _GLYPH[_CLOSE[tok.type]]
            diags.error("E100", f"`{tok}` has no matching `{opener_glyph}`", Span(source, pos, pos + 1),
                        label="unmatched bracket", help="remove it, or add the opening bracket it closes")
            return pos
        if tok.type in _CLOSE and stack and bad_close is None and closer_expected and tok.type not in expected:
            opener = stack[-1]
            want = _GLYPH[_OPEN[opener.type]]
            diags.error(
                "E101", f"unclosed `{opener}`: expected `{want}` before `{tok}`",
                Span(source, opener.start_pos, opener.end_pos),  # type: ignore[arg-type]
                label="this bracket is not closed",
                secondary=[Label(Span(source, tok.start_pos, tok.end_pos), f"expected `{want}` here")],  # type: ignore[arg-type]
            )
            return pos
        if stack and stack[-1].type in ("LPAR", "LSQB") and _OPEN[stack[-1].type] in expected \
                and source.line_col(stack[-1].start_pos)[0] < source.line_col(pos)[0]:  # type: ignore[arg-type]
            # A bracket left open on an earlier line swallowed the newline: point at the opener.
            opener = stack[-1]
            want = _GLYPH[_OPEN[opener.type]]
            diags.error(
                "E101", f"unclosed `{opener}`",
                Span(source, opener.start_pos, opener.end_pos),  # type: ignore[arg-type]
                label="this bracket is not closed",
                secondary=[Label(Span(source, pos, tok.end_pos or pos + 1), f"expected `{want}` before this")],
                help=f"add `{want}` at the end of the {_describe_scope(opener)}",
            )
            return pos
        span = Span(source, pos, tok.end_pos if tok.end_pos is not None else pos + 1)
        if tok.type == "_NL":
            span = Span(source, pos, pos + 1)
        help_ = _slash_comment_hint(source, pos) or _pytorch_hint(source, pos) or _syntax_hint(tok, expected)
        diags.error("E100", f"unexpected {_found(tok)}", span,
                    label=f"expected {_expected_words(expected)}", help=help_)
        return pos
    if isinstance(err, UnexpectedEOF):
        end = len(source.text)
        diags.error("E102", "unexpected end of file", Span(source, max(0, end - 1), end))
        return end
    raise err


def _describe_scope(opener: Token) -> str:
    return {"LBRACE": "block", "LPAR": "argument list", "LSQB": "list"}.get(opener.type, "group")


_SLASH_COMMENT = re.compile(r"(^|[ \t])//[ \t]")


def _slash_comment_hint(source: Source, pos: int) -> str | None:
    """`// text` on the line of a syntax error is most likely a comment written as in C or Java."""
    line_start = source.text.rfind("\n", 0, pos) + 1
    line_end = source.text.find("\n", pos)
    matches = [m for m in _SLASH_COMMENT.finditer(source.text, line_start, len(source.text) if line_end < 0 else line_end)
               if m.start() <= pos]
    if not matches:
        return None  # the error is not in what follows a `//`
    return "`//` is floor division in netc; comments start with `#` (or are enclosed in `/* ... */`)"


WHERE_HINT = ("`where` after an input's type states facts about its dims (`input x: f32[B, T] where T <= 512`); "
              "to pick elements, call the op: `where(x > 0, x, y)`")


def _pytorch_hint(source: Source, pos: int) -> str | None:
    """`nn.Parameter(...)`, `self.register_buffer(...)`: point at the `param`/`buffer` statements."""
    line_start = source.text.rfind("\n", 0, pos) + 1
    line_end = source.text.find("\n", pos)
    return hint_for_line(source.text[line_start:len(source.text) if line_end < 0 else line_end])


def _syntax_hint(tok: Token, expected: set[str]) -> str | None:
    text = str(tok)
    if text == "=" and "EQUAL" not in expected:
        return "`=` binds a name at the start of a line; to compare, use `==`"
    if tok.type == "WHERE":
        return WHERE_HINT
    if tok.type == "NAME" and "_NL" in expected:
        return "put each statement on its own line, or join steps with `->`"
    if tok.type == "NAME" and text in {"def", "class", "return", "for", "while", "lambda"}:
        return f"`{text}` is Python; netc describes networks with `network`, `block`, `input`, `->` and `output`"
    return None


def _depth_ok(tree: Tree, source: Source, diags: Diagnostics) -> bool:
    stack: list[tuple[Tree | Token, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta if isinstance(node, Tree) else node
            start = getattr(meta, "start_pos", 0) or 0
            end = getattr(meta, "end_pos", start + 1) or start + 1
            diags.error("E104", f"expression nested more than {MAX_DEPTH} levels deep", Span(source, start, end),
                        help="split it into named steps")
            return False
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)
    return True


def parse(source: Source, diags: Diagnostics, parser: Lark | None = None) -> ast.Program | None:
    """Parse a whole file; on syntax errors, report one per top-level definition and return None."""
    parser = parser or get_parser()
    text = source.text
    if text.startswith("\ufeff"):  # a UTF-8 byte-order mark, left by some editors: a space keeps the offsets
        text = " " + text[1:]
    failed = False
    for _attempt in range(20):
        try:
            tree = parser.parse(text)
        except UnexpectedInput as err:
            failed = True
            pos = _report(source, text, err, diags)
            text = _blank_definition_at(text, pos)
            if text is None:
                return None
            continue
        if failed:
            return None
        if not _depth_ok(tree, source, diags):
            return None
        return _ToAst(source).transform(tree)  # type: ignore[no-any-return]
    return None


def _blank_definition_at(text: str, pos: int) -> str | None:
    """Blank out the top-level definition holding `pos` (keeping newlines) so later ones still parse."""
    lines = text.splitlines(keepends=True)
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line)
    heads = [i for i, line in enumerate(lines) if line.lstrip().startswith(("network ", "block ", "import ", "train "))
             and not line[:1].isspace()]
    line_no = max((i for i, s in enumerate(starts) if s <= pos), default=0)
    begin = max((h for h in heads if h <= line_no), default=None)
    after = [h for h in heads if h > line_no]
    if begin is None or not after:
        return None  # the error is in the last definition: nothing after it to rescue
    a, b = starts[begin], starts[after[0]]
    return text[:a] + "".join("\n" if ch == "\n" else " " for ch in text[a:b]) + text[b:]
