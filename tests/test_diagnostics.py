"""Diagnostics: snapshot tests of every broken sample, and every code documented and exercised.

The `.expected` files were written by running netc and then read line by line by a person; regenerate them
only deliberately, with NETC_UPDATE_SNAPSHOTS=1, and review the diff.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from netc.cli import main
from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import CODES, Diagnostics, Label, render, render_all
from netc.dsl.parse import MAX_DEPTH
from netc.dsl.source import Source, Span

from .conftest import ROOT, SAMPLES, update_snapshots

ERROR_SAMPLES = sorted((SAMPLES / "errors").glob("*.net"))


def run_check(path: Path) -> tuple[int, str]:
    rel = path.relative_to(ROOT).as_posix()
    result = CliRunner().invoke(main, ["check", rel])
    return result.exit_code, result.stderr + result.stdout


EXPORT_ERROR_SAMPLES = sorted((SAMPLES / "errors" / "export").glob("*.net"))


def run_export(path: Path) -> tuple[int, str]:
    rel = path.relative_to(ROOT).as_posix()
    result = CliRunner().invoke(main, ["export", rel, "-o", str(path.with_suffix(".onnx").name)])
    return result.exit_code, result.stderr + result.stdout


@pytest.mark.parametrize("path", EXPORT_ERROR_SAMPLES, ids=lambda p: p.stem)
def test_export_error_sample_snapshot(path: Path, in_repo_root: Path) -> None:
    pytest.importorskip("onnx")
    code, text = run_export(path)
    actual = f"# exit: {code}\n{text}"
    expected_path = path.with_suffix(".expected")
    if update_snapshots():
        expected_path.write_text(actual, encoding="utf-8")
    assert actual == expected_path.read_text(encoding="utf-8")
    assert not path.with_suffix(".onnx").exists() and not (ROOT / path.with_suffix(".onnx").name).exists()


@pytest.mark.parametrize("path", ERROR_SAMPLES, ids=lambda p: p.stem)
def test_error_sample_snapshot(path: Path, in_repo_root: Path) -> None:
    code, text = run_check(path)
    actual = f"# exit: {code}\n{text}"
    expected_path = path.with_suffix(".expected")
    if update_snapshots():
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"missing snapshot {expected_path.name}; run with NETC_UPDATE_SNAPSHOTS=1"
    assert actual == expected_path.read_text(encoding="utf-8")


def test_there_are_enough_error_samples() -> None:
    assert len(ERROR_SAMPLES) >= 8


def test_error_samples_fail_and_warning_sample_passes(in_repo_root: Path) -> None:
    for path in ERROR_SAMPLES:
        code, text = run_check(path)
        if path.stem == "warnings":
            assert code == 0 and "warning[" in text and "error[" not in text
        else:
            assert code == 1, path.name
            assert "error[E" in text
            assert "Traceback" not in text


def _codes_in(text: str) -> set[str]:
    return set(re.findall(r"(?:error|warning)\[([EW]\d{3})\]", text))


def test_every_code_is_documented() -> None:
    doc = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## ([EW]\d{3})\b", doc, flags=re.M))
    assert documented == set(CODES), f"undocumented: {set(CODES) - documented}, stale: {documented - set(CODES)}"


def test_every_code_is_produced_by_some_input(in_repo_root: Path, tmp_path: Path) -> None:
    seen: set[str] = set()
    for path in ERROR_SAMPLES:
        seen |= _codes_in(run_check(path)[1])
    # The codes that no .net sample can show: deep nesting, an unreadable file, a file too large.
    deep = "network D {\n  input x: f32[B, 4]\n  y = " + "relu(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH + \
        "\n  output y\n}\n"
    seen |= _codes_in(render_all(compile_source(Source("deep.net", deep)).diagnostics))
    bad = tmp_path / "latin1.net"
    bad.write_bytes(b"network \xff {}\n")
    seen |= _codes_in(CliRunner().invoke(main, ["check", str(bad)]).stderr)
    for path in EXPORT_ERROR_SAMPLES:  # E6xx: files that check but cannot be exported
        seen |= _codes_in(run_export(path)[1])
    # A source past the size limit (8 MiB by default: a file that large does not belong in the repository).
    big = tmp_path / "big.net"
    big.write_text("# padding\n" * 200)
    seen |= _codes_in(CliRunner().invoke(main, ["check", str(big)], env={"NETC_MAX_SOURCE_BYTES": "1000"}).stderr)
    assert seen == set(CODES), f"never produced: {sorted(set(CODES) - seen)}"


def test_deep_nesting_is_a_diagnostic_not_a_crash() -> None:
    # Calls nest in the tree (plain parentheses do not); 5000 levels would blow Python's recursion limit.
    deep = "network D {\n  input x: f32[B, 4]\n  y = " + "relu(" * 5000 + "x" + ")" * 5000 + "\n  output y\n}\n"
    result = compile_source(Source("deep.net", deep))
    assert [d.code for d in result.diagnostics.errors] == ["E104"]


def test_render_layout_matches_the_design() -> None:
    src = Source("bad.net", "network A {\n    x -> Linear(10, in=128) -> out\n}\n")
    diags = Diagnostics()
    start = src.text.index("Linear")
    end = src.text.index(") ->") + 1
    diags.error("E200", "msg", Span(src, start, end), label="input here is f32[B, 64]", help="drop it")
    assert render(diags.items[0]) == (
        "error[E200]: msg\n"
        " --> bad.net:2:10\n"
        "  |\n"
        "2 |     x -> Linear(10, in=128) -> out\n"
        "  |          ^^^^^^^^^^^^^^^^^^ input here is f32[B, 64]\n"
        "  |\n"
        "  = help: drop it"
    )


def _marked(rendered: str) -> list[tuple[str, str]]:
    """(the source text above each run of ^ or -, the run) in a rendered diagnostic: what the caret points at."""
    out, shown = [], ""
    for row in rendered.splitlines():
        gutter, bar, rest = row.partition("| ")
        if not bar:
            continue
        if gutter.strip().isdigit():  # `2 | <source>`: the line the marks below it point into
            shown = rest
            continue
        m = re.search(r"\^+|-+", rest)  # the first run is the mark; the label's words follow it
        if m:
            out.append((shown[m.start():m.end()], m.group()))
    return out


@pytest.mark.parametrize("where", [0.0, 0.5, 1.0])
def test_a_long_source_line_is_cut_around_its_marks(where: float) -> None:
    """A 3,000-character line (a long chain) is not echoed whole: the part around the mark is shown, cut with
    "...", and the caret still sits under the text it names, at the start, middle and end of the line."""
    steps = [f"Linear({i})" for i in range(300)]
    k = int(where * (len(steps) - 1))
    line = "    x -> " + " -> ".join(steps) + " -> y"
    src = Source("long.net", "network A {\n" + line + "\n}\n")
    start = src.text.index(steps[k] + " ")
    diags = Diagnostics()
    diags.error("E200", "msg", Span(src, start, start + len(steps[k])), label="here")
    text = render(diags.items[0])
    assert max(len(r) for r in text.splitlines()) < 140, text
    assert _marked(text) == [(steps[k], "^" * len(steps[k]))]
    assert ("..." in text.splitlines()[3]) and " --> long.net:2:" in text


def test_two_marks_too_far_apart_for_one_cut_keep_the_primary() -> None:
    line = "    x -> " + " -> ".join(f"Linear({i})" for i in range(300)) + " -> y"
    src = Source("long.net", "network A {\n" + line + "\n}\n")
    first, last = src.text.index("Linear(3)"), src.text.index("Linear(290)")
    diags = Diagnostics()
    diags.error("E200", "msg", Span(src, last, last + len("Linear(290)")), label="here")
    diags.items[0].secondary.append(Label(Span(src, first, first + len("Linear(3)")), "from here"))
    marked = _marked(render(diags.items[0]))
    assert marked[1] == ("Linear(290)", "^" * len("Linear(290)"))
    assert marked[0][1] == "-"  # the secondary mark, off the cut to the left, at its edge


def test_colour_only_when_asked() -> None:
    src = Source("a.net", "network A {}\n")
    diags = Diagnostics()
    diags.error("E403", "no input", Span(src, 8, 9))
    assert "\x1b[" not in render_all(diags, colour=False)
    assert "\x1b[" in render_all(diags, colour=True)
