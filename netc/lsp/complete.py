"""Completion: what may be typed at the cursor, from the tokens before it and the last successful check.

The text being typed rarely parses, so the context comes from the grammar's own lexer run over the text
up to the cursor (brackets still open, the definition or train section around it, the token before the
word), and the names in scope come from the last analysis that parsed.
"""
from __future__ import annotations

from dataclasses import dataclass

from lark.exceptions import LarkError

from ..dsl.ops import OPS, REQUIRED
from ..dsl.parse import get_parser
from .analysis import Analysis, signature

KEYWORDS = ("network", "block", "input", "output", "if", "elif", "else", "where", "as", "import", "train",
            "and", "or", "not", "true", "false", "none")
_HEADERS = {"NETWORK": "network", "BLOCK": "block", "TRAIN": "train"}


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "op", "block", "attribute", "value", "keyword", "setting"
    detail: str = ""
    insert: str | None = None


@dataclass
class Context:
    word_start: int
    enclosing: tuple[str, str] | None  # ("network" | "block" | "train", name) of the top-level item
    callee: str | None  # the call whose argument list holds the cursor
    after_arrow: bool
    line_start: bool  # only whitespace before the word on its line
    bound: list[str]  # names the enclosing definition binds before the cursor, from its tokens
    blocks: list[str]  # `block NAME` headers anywhere in the text


def context(text: str, offset: int) -> Context:
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    line_begin = text.rfind("\n", 0, start) + 1
    ctx = Context(start, None, None, False, not text[line_begin:start].strip(), [], [])
    item: list[tuple[str, str, int]] = []  # (type, text, bracket depth) of the enclosing item's tokens
    stack: list[tuple[str, str | None]] = []  # open brackets with the name just before each
    header: tuple[str, str] | None = None
    pending_kind: str | None = None
    prev_type, prev_text = "", ""
    last_type, last_text = "", ""  # the last token before the cursor
    try:
        for tok in get_parser().lex(text, dont_ignore=False):
            kind = tok.type
            if kind == "NAME" and prev_type == "BLOCK":
                ctx.blocks.append(str(tok))
            if (tok.start_pos or 0) >= start:
                prev_type = kind
                continue
            if not stack and kind in _HEADERS:
                pending_kind = _HEADERS[kind]
            elif not stack and kind == "NAME" and pending_kind and prev_type in _HEADERS:
                header = (pending_kind, str(tok))
            if kind in _HEADERS and not stack:
                item = []
            item.append((kind, str(tok), len(stack)))
            if kind in ("LPAR", "LSQB", "LBRACE"):
                stack.append((kind, prev_text if prev_type == "NAME" else None))
                if kind == "LBRACE" and len(stack) == 1:
                    ctx.enclosing = header
            elif kind in ("RPAR", "RSQB", "RBRACE") and stack:
                stack.pop()
                if not stack:
                    ctx.enclosing, pending_kind = None, None
            if kind != "_NL":
                prev_type, prev_text = kind, str(tok)
            last_type, last_text = prev_type, prev_text
    except LarkError:
        pass  # an unfinished string or a stray character: the tokens so far are the context
    prev_type, prev_text = last_type, last_text
    if stack and stack[-1][0] == "LPAR":
        ctx.callee = stack[-1][1]
    ctx.bound = _bound_names(item)
    ctx.after_arrow = prev_type == "_ARROW"
    return ctx


def _bound_names(tokens: list[tuple[str, str, int]]) -> list[str]:
    """Parameters and inputs (`name:`), assigned names (`name =` in a body) and chain results (`-> name`
    ending a line): enough to offer names while the text does not parse."""
    names: list[str] = []
    for i, (kind, text, depth) in enumerate(tokens):
        if kind != "NAME":
            continue
        after = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        before = tokens[i - 1][0] if i else ""
        if after == "COLON" and depth <= 1 or after == "EQUAL" and depth == 1 or \
                before == "_ARROW" and after == "_NL" or before == "COMMA" and after == "EQUAL":
            if text not in names:
                names.append(text)
    return names


def completions(a: Analysis | None, text: str, offset: int) -> list[Item]:
    ctx = context(text, offset)
    defs = a.result.definitions if a is not None else {}
    if ctx.enclosing and ctx.enclosing[0] == "train":
        if ctx.line_start:
            from ..dsl.train import SETTINGS

            return [Item(k, "setting", what, f"{k}: ") for k, (what, _) in SETTINGS.items()]
        return _callables(defs, ctx.blocks) + _train_names(a)
    items: list[Item] = []
    if ctx.callee is not None:
        spec = OPS.get(ctx.callee)
        if spec is not None:
            items += [Item(f"{at.name}=", "attribute",
                           ("required" if at.default is REQUIRED else f"default {at.default!r}") + f": {at.doc}")
                      for at in spec.attrs]
        elif ctx.callee in defs:
            items += [Item(f"{p.name}=", "attribute", f"{p.type_name} parameter of {ctx.callee}")
                      for p in defs[ctx.callee].params]
    if ctx.enclosing is not None:
        found = _locals(a, ctx.enclosing[1])
        known = {i.label for i in found}
        items += found + [Item(n, "value") for n in ctx.bound if n not in known]
    if ctx.after_arrow:
        return items + _callables(defs, ctx.blocks)
    items += _callables(defs, ctx.blocks)
    if ctx.callee is None:
        items += [Item(k, "keyword") for k in KEYWORDS]
    return items


def _callables(defs: dict, typed: list[str]) -> list[Item]:  # type: ignore[type-arg]
    ops = [Item(name, "op", spec.doc) for name, spec in sorted(OPS.items())]
    blocks = [Item(name, "block", signature(d)) for name, d in sorted(defs.items()) if d.kind == "block"]
    blocks += [Item(name, "block") for name in typed if name not in defs]
    return blocks + ops


def _locals(a: Analysis | None, definition: str) -> list[Item]:
    if a is None or a.index is None:
        return []
    names: dict[str, str] = {}
    for occ in a.index.occurrences:
        if occ.symbol[0] == "local" and occ.symbol[1] == definition and occ.binds:
            found = a.types.get((occ.start, occ.end))
            names.setdefault(occ.name, found[0] if found else "")
    return [Item(n, "value", t) for n, t in names.items()]


def _train_names(a: Analysis | None) -> list[Item]:
    if a is None or a.index is None:
        return []
    seen = {occ.name for occ in a.index.occurrences if occ.symbol[0] == "alias"}
    return [Item(n, "value", "network alias") for n in sorted(seen)]
