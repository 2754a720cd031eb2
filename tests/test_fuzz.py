"""Fuzzing the front end: whatever the text, `netc check` ends with a diagnostic or a table, never a crash.

Two sources of text:

* grammar-driven: `hypothesis.extra.lark.from_lark` over the real parser's grammar, with the terminals
  that decide how interesting a program is (names, numbers, strings, keywords) drawn from lists of names
  the elaborator knows (ops, dtypes, parameter types), so that many samples get past the parser;
* mutations of the shipped samples (`samples/*.net`, `samples/errors/*.net`): deleted, duplicated, swapped
  or truncated tokens and characters, and inserted junk.

The property: `compile_source` returns (never raises), its diagnostics render, and `netc check` run
in-process exits 0 with a table or 1 with `error[...]` — never a traceback or `internal error` (exit 3).
Crashes found here are fixed in dsl/ and pinned in tests/test_fuzz_regressions.py.

NETC_FUZZ_SCALE=50 pytest tests/test_fuzz.py runs a campaign 50 times longer than the default.
"""
from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from netc.cli import main
from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import render_all
from netc.dsl.ops import ALIASES, OPS
from netc.dsl.parse import GRAMMAR_PATH, NewlineFilter
from netc.dsl.source import Source
from netc.dsl.summary import format_table

from .conftest import SAMPLES

SCALE = float(os.environ.get("NETC_FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    # Grammar-driven drawing costs hypothesis ~50 ms an example, so the defaults stay small; the
    # environment variable scales every campaign up.
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

WORKDIR = Path(tempfile.mkdtemp(prefix="netc-fuzz-"))
atexit.register(shutil.rmtree, WORKDIR, ignore_errors=True)
CASE = WORKDIR / "case.net"
(WORKDIR / "lib.net").write_text("block Lib(n: int = 4) {\n    input x: f32[B, n]\n    output x -> relu\n}\n")


def check_text(text: str) -> None:
    """The property itself, through the library and through the CLI."""
    result = compile_source(Source(str(CASE), text))
    rendered = render_all(result.diagnostics)
    tables = [format_table(g) for g in result.graphs.values()]
    if result.ok:
        assert len(tables) == len(result.networks) or result.networks == [], (text, rendered)
    else:
        assert "error[" in rendered
    CASE.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(CASE)])
    out = r.output
    assert "Traceback" not in out and "internal error" not in out, f"crash on:\n{text}\n---\n{out}"
    assert r.exit_code in (0, 1), f"exit {r.exit_code} on:\n{text}\n---\n{out}\n{r.exception!r}"
    if r.exit_code == 0:
        assert "total parameters" in r.stdout, out
    else:
        assert "error[" in r.stderr, out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)


# -- grammar-driven ---------------------------------------------------------------------------------------
NAMES = sorted(set(OPS) | set(ALIASES)) + [
    "x", "y", "z", "h", "out", "img", "B", "C", "H", "W", "T", "N", "Net", "Blk", "Lib", "f32", "f64", "i64",
    "bool", "int", "float", "str", "dim", "n", "p", "hidden", "dim", "stride", "padding", "groups", "bias",
    "kernel_size", "out_channels", "other", "shape", "_tmp", "layer1", "randn", "zeros", "data", "loss",
]
NUMBERS = ["0", "1", "2", "3", "4", "8", "16", "64", "100", "0.5", "1.0", "1e-3", "2e400", ".5", "00", "1.",
           "123456789012345678901234567890"]
STRINGS = ['"same"', '"valid"', '"tanh"', '"reflect"', '""', '"lib.net"', '"missing.net"', '"case.net"', '"."',
           '"a\\"b"', '"\\n"']


def padded(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Words need spaces around them, or `network` + `Net` lexes as one name."""
    return strategy.map(lambda s: f" {s} ")


@functools.cache
def grammar_strategy(start: str = "start") -> st.SearchStrategy[str]:
    # get_parser() is loaded from Lark's cache, which drops the grammar object from_lark reads; build the
    # same grammar again, uncached, with extra start rules for the templates below.
    parser = Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="basic",
                  postlex=NewlineFilter(), maybe_placeholders=False, start=["start", "_stmt", "expr"])
    terminals, rules, ignored = parser.grammar.compile([start], ())
    known = {t.name for t in terminals} | set(ignored)
    for rule in rules:
        known |= {sym.name for sym in rule.expansion if sym.is_term}
    explicit: dict[str, st.SearchStrategy[str]] = {}
    for term in parser.terminals:
        value = term.pattern.value
        if term.pattern.type == "str" and value.isidentifier() and term.name in known:
            explicit[term.name] = st.just(f" {value} ")  # keywords
    wanted = {
        "NAME": padded(st.one_of(st.sampled_from(NAMES), st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True))),
        "NUMBER": padded(st.sampled_from(NUMBERS)),
        "STRING": padded(st.sampled_from(STRINGS)),
        "_NL": st.sampled_from(["\n", "\n    ", "\r\n"]),
        "WS": st.just(" "),
        "COMMENT": st.just(" "),  # a real `# ...` would swallow the tokens drawn after it on the line
        "BLOCK_COMMENT": st.sampled_from(["/* c */", "/* multi\nline */"]),
        "LINE_CONT": st.just("\\\n"),
    }
    explicit.update({k: v for k, v in wanted.items() if k in known})
    return from_lark(parser, start=start, explicit=explicit)


@st.composite
def templated_program(draw: st.DrawFn) -> str:
    """Generated statements inside a well-formed network (and maybe a block), so the elaborator sees them."""
    stmts = draw(st.lists(grammar_strategy("_stmt"), min_size=1, max_size=4))
    out = draw(grammar_strategy("expr"))
    body = "\n    ".join(s.replace("\n", " ") for s in stmts)
    net = ("network Net(n: int = 4) {\n    input x: f32[B, 3, 8, 8]\n    input t: i64[B, T]\n"
           f"    {body}\n    output {out}\n}}\n")
    if draw(st.booleans()):
        block_stmts = draw(st.lists(grammar_strategy("_stmt"), min_size=1, max_size=2))
        inner = "\n    ".join(s.replace("\n", " ") for s in block_stmts)
        net = (f"block Blk(k: int = 2) {{\n    input h: f32[B, C, H, W]\n    {inner}\n"
               f"    output {draw(grammar_strategy('expr'))}\n}}\n\n") + net
    return net


@fuzz(60)
@given(text=grammar_strategy())
def test_grammar_generated_programs_never_crash(text: str) -> None:
    check_text(text)


@fuzz(30)
@given(text=templated_program())
def test_generated_statements_in_a_network_never_crash(text: str) -> None:
    check_text(text)


# -- mutations of the samples -----------------------------------------------------------------------------
SAMPLE_TEXTS = {p.name: p.read_text(encoding="utf-8")
                for p in sorted(SAMPLES.glob("*.net")) + sorted((SAMPLES / "errors").glob("*.net"))}
TOKEN = re.compile(r"\w+|->|\*\*|//|[=!<>]=|#[^\n]*|\S|\n")
JUNK = ["(", ")", "[", "]", "{", "}", "->", ",", "=", "==", "*", "**", "/", "@", "\n", " as ", "Linear(", " x ",
        "0", "-1", '"', "/*", "*/", "\\\n", "'", "#", "//", ":", "..", " if ", " else ", " network ", " block ",
        " input ", " output ", "f32[", "B", " * 1000000", " ** 64", "(x)", "[relu, relu]", "1e309", "é", "\t",
        "\x00", "\u2192", "-> split(2)", " where ", " not ", "-> view(-1)", "-> index(0)", "x[0]", "= randn",
        "\ntrain t(Net) {\n", " loss: ", "mse()", "abs()", "bce(", "kl_normal(", " optimizer: ", "Adam(lr=0)",
        " epochs: ", " freeze: [", " metrics: [accuracy]", " data: ", " schedule: ", "D(G(z))", ".detach()"]


@st.composite
def mutated_sample(draw: st.DrawFn) -> str:
    text = SAMPLE_TEXTS[draw(st.sampled_from(sorted(SAMPLE_TEXTS)))]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["del_tok", "dup_tok", "swap_tok", "del_chars", "dup_chars", "junk",
                                     "truncate", "replace_tok"]))
        tokens = [m.span() for m in TOKEN.finditer(text)]
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        a, b = tokens[i]
        if kind == "del_tok":
            text = text[:a] + text[b:]
        elif kind == "dup_tok":
            text = text[:b] + " " + text[a:b] + text[b:]
        elif kind == "swap_tok":
            j = draw(st.integers(0, len(tokens) - 1))
            c, d = tokens[j]
            if (a, b) > (c, d):
                a, b, c, d = c, d, a, b
            if b <= c:
                text = text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
        elif kind == "replace_tok":
            j = draw(st.integers(0, len(tokens) - 1))
            c, d = tokens[j]
            text = text[:a] + text[c:d] + text[b:]
        elif kind == "del_chars":
            n = draw(st.integers(1, 40))
            text = text[:a] + text[a + n:]
        elif kind == "dup_chars":
            n = draw(st.integers(1, 80))
            text = text[:a] + text[a:a + n] + text[a:]
        elif kind == "junk":
            text = text[:a] + draw(st.sampled_from(JUNK)) + text[a:]
        else:
            text = text[:a]
    return text


@fuzz(200)
@given(text=mutated_sample())
def test_mutated_samples_never_crash(text: str) -> None:
    check_text(text)


def test_every_sample_checks_cleanly() -> None:
    """The unmutated samples: the good ones give a table, the broken ones in samples/errors a diagnostic."""
    for text in SAMPLE_TEXTS.values():
        check_text(text)
