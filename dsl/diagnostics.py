"""Diagnostics: located errors and warnings, collected (not raised) so one run reports them all.

Every stage reports into a :class:`Diagnostics`; the renderer prints them the way Rust and Elm do:

    error[E201]: `Linear(10)` expects its input's last dim to be 128, but it is 64
      --> samples/bad_mlp.net:4:32
       |
     4 |     x -> Linear(64) -> relu -> Linear(10, in=128) -> out
       |                                ^^^^^^^^^^^^^^^^^^ input here is f32[B, 64]
       |
       = help: drop `in=128` to infer it
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .source import Span

Severity = Literal["error", "warning"]

# Every code the compiler can emit, with a one-line title. docs/diagnostics.md documents each with an
# example, and a test checks that every code here is documented and produced by some test input.
CODES: dict[str, str] = {
    # E1xx: syntax
    "E100": "syntax error: unexpected token",
    "E101": "unclosed bracket",
    "E102": "unexpected end of file",
    "E103": "unexpected character",
    "E104": "nesting too deep",
    "E105": "cannot read the source file",
    "E106": "source file too large",
    # E2xx: shapes and types
    "E200": "shape mismatch",
    "E201": "wrong rank",
    "E202": "shapes do not broadcast",
    "E203": "impossible dimension",
    "E204": "type error",
    "E205": "wrong dtype",
    "E206": "element count mismatch in reshape",
    "E207": "dimension not divisible",
    "E208": "dimension index out of range",
    "E209": "constraint violated",
    "E210": "parameter size is not known",
    "E211": "too many layers",
    "E212": "too many parameters",
    "E213": "tensor too large",
    # E3xx: names and attributes
    "E300": "unknown name",
    "E301": "unknown op or block",
    "E302": "unknown attribute",
    "E303": "missing attribute",
    "E304": "attribute given twice",
    "E305": "invalid attribute value",
    "E306": "too many arguments",
    "E307": "duplicate layer name",
    "E308": "wrong number of inputs",
    "E309": "cannot unpack",
    "E310": "a chain ends in a misspelt op",
    "E311": "invalid layer name",
    "E320": "invalid parameter or buffer declaration",
    "E313": "a declared layer is never applied, or applied twice",
    # E4xx: definitions and files
    "E400": "duplicate definition",
    "E401": "recursive block",
    "E402": "missing output",
    "E403": "missing input",
    "E404": "cannot import",
    "E405": "duplicate parameter",
    "E406": "duplicate input or output name",
    "E407": "no network to check",
    # E5xx: training sections (dsl/train.py)
    "E500": "unknown network to train",
    "E501": "unknown train setting",
    "E502": "setting given twice",
    "E503": "missing train setting",
    "E504": "unknown loss, optimizer, schedule, metric or data source",
    "E505": "unknown argument",
    "E506": "invalid setting value",
    "E507": "missing argument",
    "E508": "conflicting settings",
    "E509": "loss does not fit the outputs",
    "E510": "unknown name in a train section",
    "E511": "metric does not apply",
    "E512": "data does not fit the network",
    "E513": "cannot read training data or checkpoint",
    "E600": "cannot export to ONNX",
    # Warnings
    "W001": "unused value",
    "W002": "shape equality depends on symbol values",
    "W003": "confusable identifier",
    "W004": "a repetition nested inside a list beside the same layer",
    "W501": "loss input already normalised",
    "W502": "loss input not normalised",
    "W503": "dropout right before the output",
}


@dataclass(frozen=True)
class Label:
    span: Span
    message: str = ""


@dataclass
class Diagnostic:
    code: str
    message: str
    span: Span | None
    severity: Severity = "error"
    label: str = ""
    notes: list[str] = field(default_factory=list)
    help: str | None = None
    secondary: list[Label] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"undocumented diagnostic code {self.code}")

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", -1, -1, self.code)
        return (self.span.source.path, self.span.start, self.span.end, self.code)


class Diagnostics:
    """Collects diagnostics; `has_errors` tells a stage whether the next one can run."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []
        self._seen: set[tuple[str, int, int, str]] = set()

    def add(self, diag: Diagnostic) -> Diagnostic:
        key = (diag.code, *(diag.sort_key()[1:3]), diag.message)
        if key not in self._seen:  # the same block instantiated twice reports its errors once
            self._seen.add(key)  # type: ignore[arg-type]
            self.items.append(diag)
        return diag

    def error(self, code: str, message: str, span: Span | None, **kw: object) -> Diagnostic:
        return self.add(Diagnostic(code, message, span, "error", **kw))  # type: ignore[arg-type]

    def warning(self, code: str, message: str, span: Span | None, **kw: object) -> Diagnostic:
        return self.add(Diagnostic(code, message, span, "warning", **kw))  # type: ignore[arg-type]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        """Errors first, then warnings, each in source order: the first location printed (the one an editor
        or a script jumps to) is the first error's, never a warning's."""
        return sorted(self.items, key=lambda d: (d.severity != "error", *d.sort_key()))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, for hints; case-insensitive matches first (`linear` -> `Linear`)."""
    import difflib  # only when there is a mistake to suggest for (difflib costs start-up time)

    cands = sorted(set(candidates))
    for c in cands:
        if c.lower() == name.lower() and c != name:
            return c
    # Case matters less than letters (`Relu6` is nearer `relu` than `elu`): rank by the case-folded
    # similarity, then by the exact one.
    best: tuple[float, float, str] | None = None
    folded = name.lower()
    for c in cands:
        score = (difflib.SequenceMatcher(None, folded, c.lower()).ratio(),
                 difflib.SequenceMatcher(None, name, c).ratio(), c)
        if score[0] >= 0.6 and (best is None or score > best):  # ties: the last name, as difflib
            best = score
    return best[2] if best else None


# -- rendering -----------------------------------------------------------------------------------

_COLOURS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "blue": "\x1b[1;34m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"


MAX_LINE_SHOWN = 120  # a longer source line is shown as the part around its marks, cut with "..."
_CONTEXT = 24  # characters kept before the first mark of a cut line


def _window(text: str, marks: list[tuple[int, int]], primary: int | None) -> tuple[str, int]:
    """The part of a source line to show, and how many columns it is shifted left: the whole line when it is
    short, else a slice of MAX_LINE_SHOWN characters around the marks (the primary one first, when they do not
    all fit), with "..." where it is cut, as rustc shows a long line."""
    if len(text) <= MAX_LINE_SHOWN:
        return text, 0
    first = min(col for col, _ in marks)
    last = max(col + length for col, length in marks)
    if last - first > MAX_LINE_SHOWN - _CONTEXT and primary is not None:
        first = primary
    start = max(0, first - 1 - _CONTEXT)  # 0-based index of the first character shown
    end = min(len(text), start + MAX_LINE_SHOWN)
    start = max(0, min(start, end - MAX_LINE_SHOWN))
    head = "..." if start > 0 else ""
    tail = "..." if end < len(text) else ""
    return head + text[start:end] + tail, start - len(head)


def render(diag: Diagnostic, colour: bool = False) -> str:
    def c(kind: str, text: str) -> str:
        return f"{_COLOURS[kind]}{text}{_RESET}" if colour else text

    head = c(diag.severity, f"{diag.severity}[{diag.code}]") + c("bold", f": {diag.message}")
    lines = [head]
    if diag.span is not None:
        labels = [Label(diag.span, diag.label)] + list(diag.secondary)
        numbers = [lab.span.line for lab in labels]
        width = len(str(max(numbers)))
        pad = " " * width
        lines.append(f"{pad}{c('blue', '-->')} {diag.span.location()}")
        lines.append(f"{pad} {c('blue', '|')}")
        by_line: dict[int, list[Label]] = {}
        for lab in labels:
            by_line.setdefault(lab.span.line, []).append(lab)
        for line_no in sorted(by_line):
            source = by_line[line_no][0].span.source
            text = source.line_text(line_no).expandtabs(1)
            marks = []  # (label, first column, length), 1-based, in the full line
            for lab in sorted(by_line[line_no], key=lambda lab: lab.span.start):
                col = lab.span.column
                end_line, end_col = source.line_col(lab.span.end)
                marks.append((lab, col, max(1, (end_col - col) if end_line == line_no else (len(text) - col + 1))))
            shown, shift = _window(text, [(col, length) for _, col, length in marks],
                                   next((col for lab, col, _ in marks if lab is labels[0]), None))
            lines.append(f"{str(line_no).rjust(width)} {c('blue', '|')} {shown}")
            for lab, col, length in marks:
                # clipped to the part of the line that is shown
                first = min(max(col - shift, 1), len(shown))
                length = max(1, min(col + length - shift, len(shown) + 1) - first)
                primary = lab is labels[0]
                under = " " * (first - 1) + ("^" if primary else "-") * length
                suffix = f" {lab.message}" if lab.message else ""
                lines.append(f"{pad} {c('blue', '|')} " + c(diag.severity if primary else "blue", under + suffix))
        if diag.notes or diag.help:
            lines.append(f"{pad} {c('blue', '|')}")
        for note in diag.notes:
            lines.append(f"{pad} {c('blue', '=')} note: {note}")
        if diag.help:
            lines.append(f"{pad} {c('blue', '=')} help: {diag.help}")
    else:
        for note in diag.notes:
            lines.append(f"  = note: {note}")
        if diag.help:
            lines.append(f"  = help: {diag.help}")
    return "\n".join(line.rstrip() for line in lines)


def render_all(diags: Diagnostics, colour: bool = False) -> str:
    parts = [render(d, colour) for d in diags.sorted()]
    n_err = len(diags.errors)
    n_warn = len(diags.items) - n_err
    summary = []
    if n_err:
        summary.append(f"{n_err} error{'s' if n_err != 1 else ''}")
    if n_warn:
        summary.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
    if summary:
        parts.append(" and ".join(summary) + " found")
    return "\n\n".join(parts) + "\n"


class CompileError(Exception):
    """Raised by the public API when a source has errors; carries the diagnostics."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diagnostics = diagnostics
        super().__init__(render_all(diagnostics))
