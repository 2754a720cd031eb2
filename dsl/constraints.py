"""`where` conditions and divisibility: what the shape rules may assume about symbols, and what they require.

`where T <= ctx` is checked when the symbols are known and recorded for the generated code when they are not;
`where H % 16 == 0` becomes a fact the shape rules use. When an op lines up only for some sizes
(`2*(H//16) == H//8`), the requirement is reported once, at the input that binds the symbol (E207).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import ast
from .arithmetic import compare, is_dim
from .diagnostics import Label
from .dims import Dim, IntLike, Sym, add_minimum, dims_equal, sym
from .divisibility import add_equal, add_fact, known_modulus, requirement
from .elaborator_base import ElaboratorBase
from .frames import ERR, Frame
from .ir import Constraint
from .ops import OpSpec
from .parse import WHERE_HINT
from .source import Span

UNPROVEN_HELP = ("if the two are always equal, state it on an input, e.g. `where T == S` (the generated code "
                  "checks it); otherwise make the sizes match: `expand` a size-1 dim, pad, crop or resize one side")


class ConstraintMixin(ElaboratorBase):
    """`where` conditions and divisibility requirements."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _eval(self, e: ast.Expr, frame: Frame) -> Any: ...

    def _constraint(self, cond: ast.Expr, frame: Frame) -> bool | None:
        if _is_divisibility(cond):
            return self._divisibility_constraint(cond, frame)  # type: ignore[arg-type]
        if not (isinstance(cond, ast.BinOp) and cond.op in ("<", "<=", ">", ">=", "==", "!=")):
            self.error("E204", "a `where` condition must compare two dims, like `T <= ctx`", cond.span)
            return
        left, right = self._eval(cond.left, frame), self._eval(cond.right, frame)
        if left is ERR or right is ERR:
            return
        if not (is_dim(left) and is_dim(right)):
            self.error("E204", "a `where` condition must compare two dims", cond.span, help=WHERE_HINT)
            return
        verdict = compare(cond.op, left, right)
        if verdict is False:
            self.error("E209", f"constraint `{cond.span.text}` does not hold: {left} {cond.op} {right} is false",
                       cond.span)
        elif verdict is None:
            self.constraints.append(Constraint(f"{left} {cond.op} {right}", cond.span))
            if cond.op == "==":
                add_equal(left, right)
            _state_minimum(cond.op, left, right)

    def _divisibility_constraint(self, cond: ast.BinOp, frame: Frame) -> bool | None:
        """`where H % 16 == 0`: checked when H is known (False when violated), else a fact the shape rules
        may use, and a guard for the generated code."""
        mod = cond.left
        assert isinstance(mod, ast.BinOp)
        x, n = self._eval(mod.left, frame), self._eval(mod.right, frame)
        if x is ERR or n is ERR:
            return
        if not is_dim(x) or isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            self.error("E204", "a divisibility condition reads `H % 16 == 0`: a dim, `%`, a positive integer",
                       cond.span)
            return
        text = mod.left.span.text
        if isinstance(x, int):
            if x % n:
                by_set = isinstance(mod.left, ast.Name) and mod.left.id in self.overrides
                self.error("E209", f"constraint `{cond.span.text}` does not hold: {text} = {x} is not a multiple "
                           f"of {n}", cond.span, label=f"{x} % {n} is {x % n}",
                           notes=[f"{text} = {x} comes from `--set {text}={x}`"] if by_set else [],
                           help=f"{text} must be a multiple of {n}")
                return False
            return True
        if str(x).isidentifier() and dims_equal(x, sym(str(x))) is True:
            add_fact(str(x), n)
        shown = str(x) if str(x).isidentifier() else f"({x})"
        self.constraints.append(Constraint(f"{shown} % {n} == 0", cond.span))

    def _require_divisibility(self, pairs: list[tuple[IntLike, IntLike]], spec: OpSpec, op: str,
                              span: Span) -> None:
        """Turn "can't decide 2*(H//16) == H//8" into "H must be a multiple of 16", at the input binding H.

        Only when every undecided comparison of the op is settled by such a requirement; then the op's
        W002 warnings are replaced by one E207 per symbol, and the requirement becomes a fact, so the
        levels after this one are not reported again.
        """
        reqs = [requirement(a, b) for a, b in pairs]
        if any(r is None for r in reqs) or not any(w.code == "W002" for w in spec.warnings):
            return
        spec.warnings = [w for w in spec.warnings if w.code != "W002"]
        for (a, b), req in zip(pairs, reqs):
            assert req is not None
            for symbol, modulus in req.items():
                had = known_modulus(symbol)
                if had % modulus == 0:
                    continue  # an earlier comparison of this op already required it
                self._report_requirement(symbol, modulus, had, f"`{op}` needs {a} == {b}", span)
                add_fact(symbol, modulus)

    def _report_requirement(self, symbol: str, modulus: int, had: int, needs: str, span: Span) -> None:
        site = self.symbol_sites.get(symbol)
        if site is None:
            self.error("E207", f"`{symbol}` must be a multiple of {modulus}: {needs}", span,
                       help=f"{symbol} must be a multiple of {modulus}")
            return
        dim_span, input_name = site
        same_file = span.source is dim_span.source
        self.error("E207", f"`{symbol}` must be a multiple of {modulus} for the shapes to line up", dim_span,
                   label=(f"input `{input_name}` only promises a multiple of {had}" if had > 1 else
                          f"input `{input_name}` allows any {symbol}"),
                   secondary=[Label(span, f"{needs} here")] if same_file else [],
                   notes=[] if same_file else [f"{needs} at {span.location()}"],
                   help=f"{symbol} must be a multiple of {modulus}: state it on the input with "
                   f"`where {symbol} % {modulus} == 0` (generated code can then check it)")


def _is_divisibility(cond: ast.Expr) -> bool:
    """`H % 16 == 0`"""
    return (isinstance(cond, ast.BinOp) and cond.op == "==" and isinstance(cond.left, ast.BinOp)
            and cond.left.op == "%" and isinstance(cond.right, ast.Number) and cond.right.value == 0)


def _state_minimum(op: str, left: Any, right: Any) -> None:
    """`where T >= 3` (or `3 <= T`, `T > 2`): the least value of a symbol, used by bounds such as pad < size."""
    flipped = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}
    if isinstance(left, int) and isinstance(right, Dim):
        op, left, right = flipped.get(op, op), right, left
    if isinstance(left, Dim) and isinstance(right, int) and op in (">=", ">") and len(left.terms) == 1:
        (mono, c), = left.terms
        if c == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], Sym):
            add_minimum(mono[0][0].name, right + (op == ">"))
