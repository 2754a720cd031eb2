"""Escaping for DOT: text made safe inside HTML-like labels (`_h`), node and cluster ids that keep only
``[A-Za-z0-9_.]`` (`_ident`), and the label primitives (`_font`, `_label`) built from escaped text.

Every label of a diagram is assembled from these, so no layer name, unicode identifier or string argument
can close a label, open a tag or inject DOT statements (the rule is spelled out in dot.py's docstring).
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable

# -- escaping ---------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ID_CHAR = re.compile(r"[^A-Za-z0-9_.]")


def _visible(text: str) -> str:
    """Control characters (a newline inside a string argument) shown as escapes, so a label stays one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _h(text: object) -> str:
    """Text for inside an HTML-like label: control characters made visible, then &, <, >, quotes escaped."""
    return html.escape(_visible(str(text)), quote=True)


def _ident(*parts: str) -> str:
    """A DOT id from IR names: [A-Za-z0-9_.] kept, every other character hex-encoded as `-hh-`.

    `-` itself is encoded, and the parts are joined with `/`, which is encoded inside a part too, so
    distinct names always give distinct ids.
    """
    return "/".join(_ID_CHAR.sub(lambda m: f"-{ord(m.group()):x}-", p) for p in parts)


def _font(text: str, size: float | None = None, colour: str | None = None) -> str:
    if not text:
        return ""  # Graphviz rejects an empty <FONT></FONT> as a syntax error
    attrs = (f' POINT-SIZE="{size:g}"' if size else "") + (f' COLOR="{colour}"' if colour else "")
    return f"<FONT{attrs}>{text}</FONT>" if attrs else text


def _label(lines: Iterable[str]) -> str:
    """An HTML-like label from already-escaped lines."""
    return "<" + "<BR/>".join(lines) + ">"
