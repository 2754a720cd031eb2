"""The command line: exit codes, output streams, --set, internal errors, and a real subprocess run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netc.cli import main

from .conftest import ROOT, SAMPLES

MLP = str(SAMPLES / "mnist_mlp.net")


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_check_prints_table_and_total() -> None:
    r = invoke("check", MLP)
    assert r.exit_code == 0
    assert "fc1" in r.stdout and "Linear" in r.stdout and "(B, 128)" in r.stdout
    assert "total parameters: 101,770" in r.stdout
    assert r.stderr == ""


def test_set_makes_shapes_concrete() -> None:
    r = invoke("check", MLP, "--set", "B=32")
    assert r.exit_code == 0 and "(32, 10)" in r.stdout


@pytest.mark.parametrize("bad", ["B", "B=x", "B=-1", "=3"])
def test_malformed_set_is_a_usage_error(bad: str) -> None:
    r = invoke("check", MLP, "--set", bad)
    assert r.exit_code == 2
    assert "--set" in r.stderr


def test_unknown_set_name_suggests_one() -> None:
    r = invoke("check", MLP, "--set", "hiden=3")
    assert r.exit_code == 2 and "did you mean hidden" in r.stderr


def test_missing_file_is_a_usage_error() -> None:
    r = invoke("check", "no/such/file.net")
    assert r.exit_code == 2


def test_user_errors_exit_1_with_diagnostics_on_stderr() -> None:
    r = invoke("check", str(SAMPLES / "errors" / "typos.net"))
    assert r.exit_code == 1
    assert "error[E301]" in r.stderr and r.stdout == ""


def test_network_option() -> None:
    assert invoke("check", MLP, "--network", "MnistMLP").exit_code == 0
    r = invoke("check", MLP, "--network", "MnistMPL")
    assert r.exit_code == 1 and "did you mean `MnistMLP`" in r.stderr


def test_internal_errors_exit_3_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError("simulated bug")

    from netc.dsl import compiler

    monkeypatch.setattr(compiler, "compile_source", boom)  # the CLI imports it when a command runs
    r = invoke("check", MLP)
    assert r.exit_code == 3
    assert "internal error: ValueError: simulated bug" in r.stderr
    assert "Traceback" not in r.stderr
    r = invoke("--traceback", "check", MLP)
    assert r.exit_code == 3 and "Traceback" in r.stderr


def test_ops_lists_and_describes() -> None:
    r = invoke("ops")
    assert r.exit_code == 0 and "Conv2d" in r.stdout and "log_softmax" in r.stdout
    r = invoke("ops", "Conv2d")
    assert "kernel_size" in r.stdout and "required" in r.stdout
    assert invoke("ops", "Conv2e").exit_code == 2


def test_end_to_end_subprocess() -> None:
    proc = subprocess.run([sys.executable, "-m", "netc.cli", "check", "samples/resnet18.net"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "total parameters: 11,689,512" in proc.stdout


def test_non_utf8_file_is_a_diagnostic(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_bytes(b"\xff\xfe\x00")
    r = invoke("check", str(bad))
    assert r.exit_code == 1 and "error[E105]" in r.stderr
