"""Folding a short chain into the expression that consumes it: `x = x + self.attn(self.ln_1(x))`.

The renderer writes one line per step, each with its shape, as torchvision writes a block's trunk. A chain the
source wrote as an operand (`x = x + (x -> LayerNorm as ln_1 -> Attention as attn)`) reads better the way
nanoGPT writes it, as one nested expression. This pass works on the finished forward lines with Python's own
parser, so it only ever moves whole expressions: a run of lines that build one temporary (`h = self.ln_1(x)`,
`h = self.attn(h)`) is folded into the arithmetic line that reads it, when the run only calls the module's
layers (at most a couple), the temporary is read nowhere else and is not a name the source chose (`types =
...` stays), nothing in it works in place, and the result still fits a line.
"""
from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass

MAX_CALLS = 2  # deeper nesting reads worse than the step-by-step lines it replaces
MAX_LINE = 100


@dataclass
class _Line:
    indent: str
    code: str
    comment: str  # including its leading `  # `, or ""
    tree: ast.stmt | None


def _split(line: str) -> _Line:
    stripped = line.lstrip(" ")
    indent = line[: len(line) - len(stripped)]
    code, comment = stripped, ""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(stripped).readline):
            if tok.type == tokenize.COMMENT:
                code, comment = stripped[: tok.start[1]].rstrip(), "  " + stripped[tok.start[1]:]
                break
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return _Line(indent, stripped, "", None)
    try:
        body = ast.parse(code).body
    except SyntaxError:  # `if ...:`, `else:`: a block header, never folded
        return _Line(indent, code, comment, None)
    return _Line(indent, code, comment, body[0] if len(body) == 1 else None)


def _assigned(stmt: ast.stmt | None) -> str | None:
    """`name = ...`: the one plain name a line assigns."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


def _loads(node: ast.AST, name: str) -> list[ast.Name]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]


def _calls(node: ast.AST) -> int:
    return sum(isinstance(n, ast.Call) for n in ast.walk(node))


def _in_place(node: ast.AST) -> bool:
    return any(isinstance(n, ast.keyword) and n.arg == "inplace" for n in ast.walk(node)) or \
        any(isinstance(n, ast.Attribute) and n.attr.endswith("_") and not n.attr.endswith("__") for n in ast.walk(node))


def _atomic(node: ast.expr) -> bool:
    return isinstance(node, (ast.Call, ast.Name, ast.Attribute, ast.Subscript, ast.Constant))


def _replace(code: str, target: ast.Name, text: str) -> str:
    """`code` with the name `target` replaced by `text` (both on one line)."""
    return code[: target.col_offset] + text + code[target.end_col_offset:]


def _layer_call(node: ast.expr) -> bool:
    """`self.attn(h)`: a call of one of the module's own layers."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"


def fold_operand_chains(lines: list[str], keep: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """`lines` with each short operand chain folded into its consumer; names in `keep` are never folded away."""
    parsed = [_split(line) for line in lines]
    j = 0
    while j < len(parsed):
        folded = _fold_into(parsed, j, keep)
        if folded is not None:
            start, line = folded
            parsed[start: j + 1] = [line]
            j = start
        j += 1
    return [p.indent + p.code + p.comment for p in parsed]


def _fold_into(parsed: list[_Line], j: int, keep: set[str]) -> tuple[int, _Line] | None:
    """The run of lines before `j` that builds one operand of line `j`'s arithmetic, folded into it."""
    line = parsed[j]
    stmt = line.tree
    value = stmt.value if isinstance(stmt, (ast.Assign, ast.Return)) else None
    if not isinstance(value, ast.BinOp) or j == 0 or _calls(value):
        return None  # other calls in the consumer would now run before the folded ones
    name = _assigned(parsed[j - 1].tree)
    if name is None or name in keep or parsed[j - 1].indent != line.indent:
        return None
    uses = _loads(value, name)
    if len(uses) != 1 or any(_loads(p.tree, name) if p.tree is not None else name in p.code
                             for p in parsed[j + 1:]) and _assigned(stmt) != name:
        return None
    # the run: consecutive lines `name = <call>` at this indentation, the first not reading `name`
    start = j - 1
    while True:
        rhs = parsed[start].tree.value  # type: ignore[union-attr]
        if not _layer_call(rhs) or _in_place(rhs):
            return None
        reads = _loads(rhs, name)
        if not reads:
            break
        if len(reads) != 1 or start == 0 or _assigned(parsed[start - 1].tree) != name \
                or parsed[start - 1].indent != line.indent:
            return None
        start -= 1
    run = parsed[start:j]
    if sum(_calls(p.tree) for p in run) > MAX_CALLS:  # type: ignore[arg-type]
        return None
    text = ""
    for p in run:
        rhs = p.tree.value  # type: ignore[union-attr]
        rhs_text = p.code[rhs.col_offset: rhs.end_col_offset]
        if text:
            inner = _loads(rhs, name)[0]
            rhs_text = _replace(p.code, inner, text)[rhs.col_offset: rhs.end_col_offset + len(text) - len(name)]
        text = rhs_text
    code = _replace(line.code, uses[0], text if _atomic(run[-1].tree.value) else f"({text})")  # type: ignore[union-attr]
    if len(line.indent + code + line.comment) > MAX_LINE:
        return None
    return start, _Line(line.indent, code, line.comment, ast.parse(code).body[0])
