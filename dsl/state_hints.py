"""How a PyTorch user's spellings of parameters and buffers map to the `param`/`buffer` statements.

Shared by the parser (`nn.Parameter(...)`, `self.register_buffer(...)` are syntax errors at the `.`), the
elaborator (`Parameter(...)`, `register_buffer(...)`, `zeros(...)` called as ops) and dsl/state.py. Kept free of
heavy imports: the parser loads it.
"""
from __future__ import annotations

import re

SYNTAX_HINT = ("declare it with a statement: `param name: f32[d1, d2] = zeros` for a learned tensor (nn.Parameter), "
               "`buffer name: f32[d1, d2] = zeros` for a buffer (register_buffer; add `, persistent=false` to "
               "keep it out of the state_dict)")

# Calls that make or register a module's own tensor in PyTorch, written as if they were ops.
PYTORCH_CALLS = frozenset({"Parameter", "nn_Parameter", "register_parameter", "register_buffer", "zeros", "ones",
                           "empty", "randn", "rand", "full", "tensor", "zeros_like", "ones_like"})
_PYTORCH_TEXT = re.compile(r"\b(nn\.Parameter|register_buffer|register_parameter|torch\.(zeros|ones|empty|randn|rand|"
                           r"full|tensor)|self\.\w+\s*=)")


def hint_for_line(line: str) -> str | None:
    """The hint for a syntax error on a line that reads like PyTorch's way of declaring a tensor."""
    return SYNTAX_HINT if _PYTORCH_TEXT.search(line) else None
