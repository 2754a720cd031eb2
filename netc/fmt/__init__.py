"""`netc fmt`: one canonical layout for `.net` files, from the same parser (and comment tokens) as the
compiler. Imports only the parser, never the elaborator."""
from __future__ import annotations

from ..dsl.diagnostics import Diagnostics, render_all
from ..dsl.parse import parse_with_comments
from ..dsl.source import Source
from .comments import merge
from .layout import Printer

__all__ = ["FormatError", "format_text"]


class FormatError(Exception):
    """The text does not parse; carries the rendered syntax errors."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diagnostics = diagnostics
        super().__init__(render_all(diagnostics))


def format_text(text: str, path: str = "<string>") -> str:
    """The canonical layout of `text`. Raises FormatError when it has syntax errors."""
    diags = Diagnostics()
    program, comments = parse_with_comments(Source(path, text), diags)
    if program is None:
        raise FormatError(diags)
    return merge(text, Printer(text).program(program), comments)
