"""`netc fmt`: every sample is already in the canonical layout; formatting is idempotent, keeps every
comment, and changes no meaning (the syntax tree without spans, and the IR, of the formatted text equal the
original's), over the samples re-spaced at random and over grammar-generated programs."""
from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netc.dsl import ast
from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import Diagnostics
from netc.dsl.parse import get_parser, parse_with_comments
from netc.dsl.source import Source
from netc.fmt import FormatError, format_text

from .conftest import ROOT, SAMPLES
from .test_fuzz import grammar_strategy, templated_program

NETC = str(Path(sys.executable).parent / "netc")
SAMPLE_FILES = sorted(SAMPLES.glob("*.net"))


def shape_of(node: object) -> object:
    """A syntax tree without its spans, comparable with ==."""
    if isinstance(node, ast.Node):
        return (type(node).__name__,) + tuple(
            (f.name, shape_of(getattr(node, f.name))) for f in dataclasses.fields(node)
            if f.name != "span" and not f.name.endswith("_span"))
    if isinstance(node, tuple | list):
        return tuple(shape_of(n) for n in node)
    return node


def parsed(text: str) -> tuple[ast.Program | None, list[str]]:
    program, comments = parse_with_comments(Source("case.net", text), Diagnostics())
    return program, sorted("\n".join(ln.rstrip() for ln in str(c).split("\n")).rstrip() for c in comments)


def ir_of(text: str) -> object:
    """What the compiler makes of `text`: diagnostics (without positions) and every graph's layers,
    shapes, parameters and state_dict."""
    result = compile_source(Source("case.net", text))
    graphs = {}
    for name, g in result.graphs.items():
        layers = [(n.path, type(n).__name__, getattr(n, "op", None), repr(sorted(getattr(n, "attrs", {}).items())),
                   [str(v.type) for v in n.outputs]) for n in g.root.walk()]
        graphs[name] = (layers, [(e.key, e.shape, e.kind, e.tied_to) for e in g.state_dict()],
                        [(n, str(v.type)) for n, v, _ in g.inputs], [(n, str(v.type)) for n, v in g.outputs],
                        g.symbols, [c.text for c in g.constraints])
    return sorted((d.code, d.message) for d in result.diagnostics.items), graphs


def assert_formats_faithfully(text: str) -> str:
    before, comments = parsed(text)
    assert before is not None
    out = format_text(text)
    after, comments_after = parsed(out)
    assert after is not None, f"formatted text does not parse:\n{out}"
    assert shape_of(after) == shape_of(before)
    assert comments_after == comments, "comments were lost or changed"
    assert format_text(out) == out, f"not idempotent:\n{out}"
    return out


# -- the samples ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_every_sample_is_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text, str(path)) == text, f"run `netc fmt {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", sorted((SAMPLES / "errors").glob("*.net")), ids=lambda p: p.stem)
def test_error_samples_are_formatted_unless_they_are_syntax_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        formatted = format_text(text, str(path))
    except FormatError:
        first = path.with_suffix(".expected").read_text().splitlines()[1]
        assert first.startswith("error[E1"), f"{path.name} does not parse but is not a syntax-error sample"
        return
    assert formatted == text, f"run `netc fmt {path.relative_to(ROOT)}`"


def respaced(text: str, seed: int) -> str:
    """`text` with random spacing between the tokens of each line and random indentation, the line
    breaks and comments unchanged: the canonical layout must come back exactly."""
    rng = random.Random(seed)
    tokens = list(get_parser().lex(text, dont_ignore=True))
    out: list[str] = []
    pos = 0
    for tok in tokens:
        gap = text[pos:tok.start_pos]
        if tok.type == "WS" or tok.type == "_NL":
            pos = tok.start_pos or 0
            continue
        if "\n" in gap:  # keep the breaks; indent anyhow
            out.append(gap[:gap.rfind("\n") + 1] + " " * rng.randint(0, 9))
        elif gap or (out and out[-1][-1:].isalnum() and str(tok)[:1].isalnum()):
            out.append(" " * rng.randint(1, 3))
        elif rng.random() < 0.3 and out and not out[-1].endswith("\n"):
            out.append(" ")
        out.append(str(tok))
        pos = tok.end_pos or 0
    out.append(text[pos:])
    return "".join(out)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_respaced_samples_come_back_canonical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for seed in range(3):
        messy = respaced(text, seed)
        assert messy != text
        assert ir_of(messy) == ir_of(text)  # the mangling itself kept the meaning
        out = assert_formats_faithfully(messy)
        assert out == text


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_joined_lines_keep_meaning(path: Path) -> None:
    """Chains and lists written on one line (continuations joined) lay out again without changing the IR."""
    text = path.read_text(encoding="utf-8")
    joined = "".join(line.rstrip() + (" " if line.rstrip().endswith(",") and "#" not in line else "\n")
                     for line in text.splitlines())
    if parsed(joined)[0] is None:
        pytest.skip("joining changed the syntax (a comment or a line break that ends a statement)")
    out = assert_formats_faithfully(joined)
    assert ir_of(out) == ir_of(joined)
    assert max(len(line) for line in out.splitlines() if "#" not in line) <= 120


# -- generated programs ---------------------------------------------------------------------------
def with_line_comments(text: str, data: st.DataObject) -> str:
    """Append `# cN` to some lines (`#` comments run to the end of the line, so only there)."""
    lines = text.split("\n")
    for i in range(len(lines)):
        if data.draw(st.booleans()):
            lines[i] += f"  # c{i}"
    return "\n".join(lines)


GENERATED = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@GENERATED
@given(text=grammar_strategy(), data=st.data())
def test_grammar_generated_programs(text: str, data: st.DataObject) -> None:
    text = with_line_comments(text, data)
    if parsed(text)[0] is None:
        return  # the generator's newline placement can end a statement early; nothing to format
    assert_formats_faithfully(text)


@GENERATED
@given(text=templated_program(), data=st.data())
def test_generated_networks_keep_their_ir(text: str, data: st.DataObject) -> None:
    text = with_line_comments(text, data)
    if parsed(text)[0] is None:
        return
    out = assert_formats_faithfully(text)
    assert ir_of(out) == ir_of(text)


# -- the command ----------------------------------------------------------------------------------
def test_fmt_command(tmp_path: Path) -> None:
    messy = tmp_path / "messy.net"
    messy.write_text("network N{\n  input x:f32[B,4]\n x->Linear( 2 )->y # out\n  output y }\n")
    canonical = "network N {\n    input x: f32[B, 4]\n    x -> Linear(2) -> y  # out\n    output y\n}\n"
    r = subprocess.run([NETC, "fmt", "--check", str(messy)], capture_output=True, text=True)
    assert r.returncode == 1 and "+    x -> Linear(2) -> y  # out" in r.stdout and "would reformat" in r.stderr
    r = subprocess.run([NETC, "fmt", "--diff", str(messy)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("---") and messy.read_text() != canonical
    r = subprocess.run([NETC, "fmt", str(messy)], capture_output=True, text=True)
    assert r.returncode == 0 and messy.read_text() == canonical
    r = subprocess.run([NETC, "fmt", "--check", str(messy)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == ""


def test_fmt_refuses_syntax_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text("network N {\n    input x: f32[B\n}\n")
    r = subprocess.run([NETC, "fmt", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and "error[E101]" in r.stderr and "Traceback" not in r.stderr
    assert bad.read_text() == "network N {\n    input x: f32[B\n}\n"
    with pytest.raises(FormatError):
        format_text(bad.read_text())


def test_comments_in_joined_code() -> None:
    """Code the layout joins onto one line: `#` comments that were inside it move above the line (only the
    last can stay at its end); block comments stay in order at its end."""
    text = ("network N {\n    input x: f32[B,  # batch\n                 4]  # four\n"
            "    x -> relu(/* inline */ ) -> y\n    output y\n}\n")
    assert assert_formats_faithfully(text) == (
        "network N {\n    # batch\n    input x: f32[B, 4]  # four\n"
        "    x -> relu() -> y    /* inline */\n    output y\n}\n")  # aligned with the line above


def test_blank_lines_and_indentation() -> None:
    text = ("import \"a.net\"\nimport \"b.net\"\nblock A {\n\n\n  input x: f32[B]\n\n\n\n  output x\n\n}\n"
            "# about B\nnetwork B {\n input x: f32[B]\n if true {\n x = x -> relu\n } else {\n # nothing\n }\n"
            " output x\n}\n")
    assert assert_formats_faithfully(text) == (
        "import \"a.net\"\nimport \"b.net\"\n\nblock A {\n    input x: f32[B]\n\n    output x\n}\n\n"
        "# about B\nnetwork B {\n    input x: f32[B]\n    if true {\n        x = x -> relu\n    } else {\n"
        "        # nothing\n    }\n    output x\n}\n")


def test_lines_starting_with_an_operator_stay_broken() -> None:
    text = "network N {\n    input x: f32[B, 4]\n    y = x * 2  # double\n  + x\n     - 1\n    output y\n}\n"
    assert assert_formats_faithfully(text) == (
        "network N {\n    input x: f32[B, 4]\n    y = x * 2  # double\n        + x\n        - 1\n    output y\n}\n")
    assert ir_of(format_text(text)) == ir_of(text)


def test_containers_comprehensions_chains_in_lists_and_declarations_round_trip() -> None:
    text = ("block Blk(c: int, d: int = 1) {\n  input x: f32[B, C, H, W]\n  conv = Conv2d(c, 3, padding=d, dilation=d)\n"
            "  output x -> conv -> relu\n}\n"
            "network N(widths: list = [4,8]) {\n    input x: f32[B, 3, 16, 16]\n"
            "    y = x -> [Blk( widths[i],d=2**i ) for i in range(2)] as a\n"
            "      -> [Blk(8)]+Blk(8)*0+[Conv2d(8, 1)->BatchNorm2d as bn->relu] as b\n    output y\n}\n")
    out = assert_formats_faithfully(text)
    assert "[Blk(widths[i], d=2 ** i) for i in range(2)] as a" in out
    assert "[Blk(8)] + Blk(8) * 0 + [Conv2d(8, 1) -> BatchNorm2d as bn -> relu] as b" in out
    assert "    conv = Conv2d(c, 3, padding=d, dilation=d)\n" in out
    assert ir_of(out) == ir_of(text)


def test_an_output_chain_breaks_as_an_assigned_one_does() -> None:
    """`output x -> ...` keeps the author's break before `->` and breaks past the width (it was joined into one
    130-column line: samples/googlenet.net's BasicConv2d)."""
    text = ("block Basic(cout: int) {\n    input x: f32[B, C, H, W]\n"
            "    output x -> Conv2d(cout, 3, stride=1, padding=1, bias=false) as conv\n"
            "             -> BatchNorm2d(eps=0.001) as bn -> relu\n}\n\n"
            "network N {\n    input x: f32[B, 3, 8, 8]\n"
            "    output y = x -> Conv2d(8, 3, stride=1, padding=1, bias=false) as conv -> BatchNorm2d(eps=0.001) "
            "as bn -> relu -> relu\n}\n")
    out = assert_formats_faithfully(text)
    assert "    output x -> Conv2d(cout, 3, stride=1, padding=1, bias=false) as conv\n" \
           "             -> BatchNorm2d(eps=0.001) as bn -> relu\n" in out
    assert "bn -> relu\n                 -> relu\n" in out
    assert all(len(line) <= 120 for line in out.splitlines())
    assert ir_of(out) == ir_of(text)
