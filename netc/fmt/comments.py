"""Put the comments back into the laid-out lines, where they were, and join everything into text.

A comment alone on its line stays alone on its line, above the code that followed it, indented like that
code (like the body when that code is a closing `}`). A comment after code stays at the end of the line
holding that code. A comment inside code that the layout joined onto one line (an argument list written
over several lines) moves above that line (alone on its line) or to its end (after code).

Blank lines: exactly one between top-level items, none right after `{` or right before `}`, and inside
bodies at most one wherever the author left one or more.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from lark import Token

from .layout import BLANK_LINES, INDENT, WIDTH, Line


@dataclass
class _Comment:
    start: int
    end: int
    text: str
    own_line: bool


def merge(text: str, lines: list[Line], tokens: list[Token]) -> str:
    comments = [_comment(text, t) for t in tokens]
    above: dict[int, list[_Comment]] = {}  # line index -> comments on their own lines before it
    after: dict[int, list[_Comment]] = {}  # line index -> comments at its end
    tail: list[_Comment] = []  # own-line comments after all the code
    firsts = [ln.first for ln in lines]
    for c in comments:
        inside = _containing(lines, firsts, c.start)
        if inside is not None:
            (above if c.own_line else after).setdefault(inside, []).append(c)
            continue
        nxt = bisect.bisect_right(firsts, c.start)  # the first line starting after the comment
        if c.own_line or nxt == 0:
            if nxt < len(lines):
                above.setdefault(nxt, []).append(c)
            else:
                tail.append(c)
        else:
            after.setdefault(nxt - 1, []).append(c)

    # A `#` comment runs to the end of its line: of several that end up after the same code, only the last
    # can stay there; the others move above the line.
    for i, found in after.items():
        hashes = [c for c in found if c.text.startswith("#")]
        for c in hashes[:-1]:
            found.remove(c)
            above.setdefault(i, []).append(c)
    out: list[str] = []
    code_width = _aligned_columns(lines, after)
    prev_end: int | None = None  # source end of the previous thing written (None at the start of the file)
    prev_opens = False  # the previous line ended with `{`

    def blank(start: int, forced: bool) -> None:
        if prev_end is None or prev_opens:
            return
        if forced or BLANK_LINES.search(text, prev_end, start):
            out.append("")

    for i, line in enumerate(lines):
        group = above.get(i, [])
        top_gap = line.top and i > 0
        for k, c in enumerate(group):
            blank(c.start, forced=top_gap and k == 0)
            indent = line.indent + INDENT if line.closer else line.indent
            out.extend(_place(indent, c.text))
            prev_end, prev_opens = c.end, False
        if not line.closer:
            blank(line.first, forced=top_gap and not group)
        code = line.indent + line.text
        trailing = "".join("  " + c.text for c in after.get(i, []))
        out.append(code.ljust(code_width.get(i, len(code))) + trailing)
        prev_end = max([line.last] + [c.end for c in after.get(i, [])])
        prev_opens = line.text.endswith("{")
    for c in tail:
        blank(c.start, forced=False)
        out.extend(_place("", c.text))
        prev_end, prev_opens = c.end, False
    return "\n".join(ln.rstrip() for ln in out) + "\n" if out else ""


def _aligned_columns(lines: list[Line], after: dict[int, list[_Comment]]) -> dict[int, int]:
    """Trailing comments of consecutive lines line up (as gofmt does): each line's code is padded to the
    longest code of its run, unless that would push the line past WIDTH (then two spaces, as alone)."""
    widths: dict[int, int] = {}
    run: list[int] = []
    for i in range(len(lines) + 1):
        if i < len(lines) and i in after:
            run.append(i)
            continue
        longest = max((len(lines[j].indent + lines[j].text) for j in run), default=0)
        for j in run:
            comment = sum(2 + len(c.text.split("\n")[0]) for c in after[j])
            if longest + comment <= WIDTH:
                widths[j] = longest
        run = []
    return widths


def _comment(text: str, tok: Token) -> _Comment:
    start, end = tok.start_pos or 0, tok.end_pos or 0
    line_begin = text.rfind("\n", 0, start) + 1
    return _Comment(start, end, str(tok).rstrip(), not text[line_begin:start].strip())


def _containing(lines: list[Line], firsts: list[int], offset: int) -> int | None:
    i = bisect.bisect_right(firsts, offset) - 1
    if i >= 0 and lines[i].first <= offset < lines[i].last:
        return i
    return None


def _place(indent: str, comment: str) -> list[str]:
    """A comment's lines at `indent` (a block comment's later lines keep their own indentation)."""
    first, *rest = comment.split("\n")
    return [indent + first] + [ln.rstrip() for ln in rest]
