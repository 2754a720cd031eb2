"""Identifiers that look like others: the W003 lint, after rustc's `mixed_script_confusables` and
`confusable_idents`.

`fс1` with a Cyrillic `с` reads as `fc1` but is another name: a layer, value or parameter that a reader
believes is `fc1`. Two checks, both on the lexer's NAME tokens of a file that is not pure ASCII (an ASCII
file skips the whole pass, so it costs nothing in the common case):

* an identifier whose letters come from more than one script (Latin and Cyrillic, Latin and Greek);
* two different identifiers of the file with the same *skeleton*: NFKC-normalised, with each character that
  looks like a Latin letter or digit replaced by it (the common homoglyphs of Unicode's confusables.txt).
"""
from __future__ import annotations

import unicodedata

from .diagnostics import Diagnostics, Label
from .source import Source, Span

# Cyrillic and Greek letters that render like Latin ones (Unicode confusables.txt, the single-character
# entries whose target is an ASCII letter or digit). Kept literal: no data file, no dependency.
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "B", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "о": "o", "р": "p", "с": "c",
    "ԁ": "d", "ѕ": "s", "у": "y", "х": "x", "ԛ": "q", "ԝ": "w", "ү": "y", "ӏ": "l", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y", "Ӏ": "l",
    "З": "3", "б": "6",
    # Greek
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "ι": "i", "κ": "k", "τ": "t", "υ": "u", "χ": "x", "γ": "y",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin look-alikes outside ASCII
    "ı": "i", "ȷ": "j", "ℓ": "l", "ǀ": "l",
}


def skeleton(name: str) -> str:
    """What `name` looks like: equal skeletons are names a reader cannot tell apart."""
    norm = unicodedata.normalize("NFKC", name)
    return "".join(_HOMOGLYPHS.get(ch, ch) for ch in norm)


def _script(ch: str) -> str | None:
    """The script of a letter from its Unicode name (`CYRILLIC SMALL LETTER ES` -> CYRILLIC); None for
    digits, `_` and marks, which belong to every script."""
    if not ch.isalpha():
        return None
    if ch.isascii():
        return "LATIN"
    word = unicodedata.name(ch, "").split(" ")[0]
    return word or None


def scripts(name: str) -> list[str]:
    out: list[str] = []
    for ch in name:
        s = _script(ch)
        if s is not None and s not in out:
            out.append(s)
    return out


def _describe(name: str) -> str:
    odd = [ch for ch in name if not ch.isascii()]
    return ", ".join(f"`{ch}` is {unicodedata.name(ch, f'U+{ord(ch):04X}').lower()}" for ch in dict.fromkeys(odd))


def check_identifiers(source: Source, diags: Diagnostics) -> None:
    """Warn (W003) about mixed-script identifiers and identifiers confusable with another of the file."""
    if source.text.isascii():
        return
    from .parse import get_parser

    first_of: dict[str, Span] = {}  # each distinct name's first occurrence
    try:
        for tok in get_parser().lex(source.text):
            if tok.type == "NAME" and str(tok) not in first_of:
                first_of[str(tok)] = Span(source, tok.start_pos, tok.end_pos)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - a lexing error was reported by the parser already
        return
    by_skeleton: dict[str, str] = {}
    for name, span in first_of.items():
        key = skeleton(name)
        other = by_skeleton.setdefault(key, name)
        if other != name:
            diags.warning("W003", f"`{name}` looks like `{other}` but is another name", span,
                          label=_describe(name) or _describe(other),
                          secondary=[Label(first_of[other], f"`{other}` is here")],
                          help="use one spelling; if they are meant to differ, choose names that look different")
            continue
        used = scripts(name)
        if len(used) > 1:
            diags.warning("W003", f"`{name}` mixes {' and '.join(s.title() for s in used)} letters", span,
                          label=_describe(name),
                          help=f"write it in one script, e.g. `{skeleton(name)}`" if skeleton(name).isascii()
                          else "write it in one script")
