"""`--set NAME=VALUE`: values of every parameter type the language has, typed the way a `.net` file writes them.

`--set B=32` (an int), `--set p=0.1` (a float), `--set bilinear=true` (a bool), `--set mode="nearest"` or
`--set mode=nearest` (a string), `--set kernel=(3, 3)` (a tuple), `--set pad=none`. The front end checks each
value against the type of the parameter it binds (E204), and that a dimension gets a positive integer.
"""
from __future__ import annotations

import ast
import re
from typing import Any

_WORDS = {"true": "True", "false": "False", "none": "None"}
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\b(?:true|false|none)\b')
_BARE = re.compile(r"[A-Za-z_][\w.\-]*")


class OverrideError(ValueError):
    """A value that is none of int, float, bool, string, none or a tuple of them."""


def parse_value(raw: str) -> Any:
    """The typed value of one `--set` right-hand side."""
    text = raw.strip()
    if not text:
        raise OverrideError("expected a value after `=`")
    if text in _WORDS:
        return ast.literal_eval(_WORDS[text])
    if _BARE.fullmatch(text) and text not in ("True", "False", "None"):
        return text  # a bare word is a string: --set mode=bilinear
    python = _TOKEN.sub(lambda m: _WORDS.get(m.group(0), m.group(0)), text)
    try:
        value = ast.literal_eval(python)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise OverrideError(f"cannot read {text!r}: expected a number, true/false, a string, none or a tuple "
                            "such as (3, 3)") from None
    return _check(value, text)


def _check(value: Any, text: str) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_check(v, text) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2 ** 63:
            raise OverrideError(f"{text} is too large (sizes must fit in 64 bits)")
        return value
    raise OverrideError(f"cannot use {text!r}: expected a number, true/false, a string, none or a tuple")
