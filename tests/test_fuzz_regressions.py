"""Inputs that once crashed the front end (`internal error`, exit 3), found by the fuzzers and the
torch-oracle op tests. Each must now end in a table (exit 0) or a located diagnostic (exit 1).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from netc.cli import main
from netc.dsl.compiler import compile_source
from netc.dsl.source import Source


def check(tmp_path: Path, text: str, *extra: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "case.net"
    path.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["check", str(path), *extra])
    assert "internal error" not in r.output and "Traceback" not in r.output, r.output
    return r


def net(body: str, inputs: str = "input x: f32[B, 4]") -> str:
    return f"network N {{\n    {inputs}\n    {body}\n    output y\n}}\n"


# -- IndexError in op shape rules on rank-0 (scalar) inputs -------------------------------------------------
def test_transpose_of_a_scalar_is_the_scalar(tmp_path: Path) -> None:
    # was: IndexError in transpose.infer (torch accepts dims -1/0 on a scalar and returns it)
    r = check(tmp_path, net("y = x -> transpose(0, -1)", "input x: f32[]"))
    assert r.exit_code == 0 and "y: f32[]" in r.stdout


def test_transpose_of_a_scalar_out_of_range(tmp_path: Path) -> None:
    r = check(tmp_path, net("y = x -> transpose(0, 1)", "input x: f32[]"))
    assert r.exit_code == 1 and "error[E208]" in r.stderr


@pytest.mark.parametrize("body", [
    "y = concat(x, x)",
    "y = (x, x) -> cat(dim=-1)",
    "y = (x -> split(1))[0]",
    "y = (x -> chunk(2, dim=0))[0]",
])
def test_concat_split_chunk_of_scalars_are_rank_errors(tmp_path: Path, body: str) -> None:
    # was: IndexError (`x.dims[dim]` on an empty shape); torch raises "zero-dimensional tensor cannot be
    # concatenated" / "split expects at least a 1-dimensional tensor"
    r = check(tmp_path, net(body, "input x: f32[]"))
    assert r.exit_code == 1 and "error[E201]" in r.stderr, r.output


# -- integers beyond Python's 4300-digit str() limit ----------------------------------------------------------
@pytest.mark.parametrize("body, needle", [
    ("y = x -> Linear(((10 ** 64) ** 64) ** 2)", "`10 ** 64` is too large"),
    ("y = x -> view(10 ** 10 * 10 ** 10, -1)", "is too large"),
    ("y = x -> Linear(99999999999999999999)", "the number `99999999999999999999` is too large"),
    ("y = x -> Dropout(1e400)", "the number `1e400` is too large"),
    ("y = x -> Dropout(1e300 * 1e300)", "`1e300 * 1e300` is too large"),
])
def test_huge_numbers_are_reported(tmp_path: Path, body: str, needle: str) -> None:
    # was: ValueError "Exceeds the limit (4300 digits) for integer string conversion" while printing
    r = check(tmp_path, net(body))
    assert r.exit_code == 1 and "error[E204]" in r.stderr and needle in r.stderr, r.output


def test_number_literal_longer_than_4300_digits(tmp_path: Path) -> None:
    # was: lark VisitError wrapping int()'s ValueError inside the parser's transformer
    r = check(tmp_path, net("y = x", "input x: f32[B, " + "9" * 5000 + "]"))
    assert r.exit_code == 1 and "error[E204]" in r.stderr and "too large" in r.stderr


def test_symbolic_dim_with_huge_coefficient(tmp_path: Path) -> None:
    r = check(tmp_path, "network N(n: int = 4) {\n    input x: f32[B, n]\n"
                        "    y = x -> view(B * 3037000500 * 3037000500, -1)\n    output y\n}\n")
    assert r.exit_code == 1 and "error[E204]" in r.stderr and "too large" in r.stderr


def test_huge_set_value_is_a_usage_error(tmp_path: Path) -> None:
    r = check(tmp_path, net("y = x -> Linear(3)"), "--set", "B=" + "9" * 4000)
    assert r.exit_code == 2 and "too large" in r.stderr


def test_library_api_reports_the_same() -> None:
    result = compile_source(Source("case.net", net("y = x -> Linear(2 ** 70)")))
    assert not result.ok
    assert [d.code for d in result.diagnostics.errors] == ["E204"]


# -- training blocks --------------------------------------------------------------------------------------
def test_loss_term_without_its_tensor_argument(tmp_path: Path) -> None:
    # was: TypeError "cannot unpack non-iterable NoneType object" in dsl/train.py (`abs()` in a loss)
    text = ("network AE {\n    input x: f32[B, 8]\n    x -> Linear(8) as fc -> recon\n    output recon\n}\n\n"
            "train ae(AE) {\n    loss: mse(recon, x) + 0.1 * mean(abs())\n    optimizer: Adam(lr=1e-3)\n"
            "    epochs: 1\n}\n")
    r = check(tmp_path, text)
    assert r.exit_code == 1 and "error[E507]" in r.stderr and "`abs` needs `x`" in r.stderr, r.output


# -- runaway repetition ---------------------------------------------------------------------------------------
def test_huge_repeat_count_is_reported_not_unrolled(tmp_path: Path) -> None:
    # was: a hang (the mutation fuzzer's `* 1000000` junk after a block repeat); repetition is unrolled
    r = check(tmp_path, net("y = x -> relu * 1000000000"))
    assert r.exit_code == 1 and "error[E211]" in r.stderr and "repeat count of 1,000,000,000" in r.stderr
    assert "NETC_MAX_LAYERS" in r.stderr  # the hint says how to raise the limit


def test_nested_repetition_stops_at_the_layer_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_MAX_LAYERS", "50")  # the real budget (100,000) takes seconds to reach
    text = ("block B {\n    input x: f32[N, 4]\n    x -> relu * 10 -> y\n    output y\n}\n"
            "network Net {\n    input x: f32[N, 4]\n    x -> B * 10 -> y\n    output y\n}\n")
    r = check(tmp_path, text)
    assert r.exit_code == 1 and "more than 50 layers" in r.stderr, r.output
    assert r.stderr.count("error[") == 1  # reported once, then elaboration winds down


def test_layer_budget_counts_per_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_MAX_LAYERS", "30")
    text = "".join(f"network N{i} {{\n    input x: f32[N, 4]\n    x -> relu * 20 -> y\n    output y\n}}\n"
                   for i in range(3))
    r = check(tmp_path, text)
    assert r.exit_code == 0, r.output  # 20 layers each: the budget is per network, not per file


# -- imports ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, reason", [
    ("lib\x00.net", "embedded null byte"),  # was: ValueError from Path.resolve() (the fuzzer's "\x00" junk)
    ("/dev/zero", "only `.net` files can be imported"),  # would be read without end
    (".", "only `.net` files can be imported"),
    ("folder.net", "a folder"),
])
def test_unreadable_imports_are_e404(tmp_path: Path, path: str, reason: str) -> None:
    (tmp_path / "folder.net").mkdir()
    r = check(tmp_path, f'import "{path}"\n' + net("y = x"))
    assert r.exit_code == 1 and "error[E404]" in r.stderr and reason in r.stderr, r.output
