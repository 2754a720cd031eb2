"""Start-up hygiene: `netc --help` and `netc check` never import torch, graphviz or jinja2.

Those imports cost from tens of milliseconds (jinja2) to seconds (torch) and are only needed by code
generation and drawing, so the front end must not pull them in, not even indirectly. Two independent
checks in fresh interpreters:

* the real `netc` console script under `python -X importtime`, whose log names every module imported;
* the CLI's `main` run in-process by a small driver that then inspects `sys.modules`.

Speed itself is measured by bench/bench_check.py, not asserted here.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLES

HEAVY = ("torch", "graphviz", "jinja2")
MLP = str(SAMPLES / "mnist_mlp.net")
COMMANDS = [["--help"], ["check", MLP], ["check", "--help"], ["ops"], ["ops", "Conv2d"]]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)  # nothing of the user's may import modules for us
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _netc_script() -> Path:
    script = Path(sys.executable).parent / "netc"
    assert script.exists(), f"the netc console script is not installed next to {sys.executable}"
    return script


def imported_modules(importtime_log: str) -> set[str]:
    """Module names from `python -X importtime` output (`import time: self | cumulative | name`)."""
    names = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name)
    return names


def heavy(names: set[str] | list[str]) -> list[str]:
    return sorted(n for n in names if n.split(".")[0] in HEAVY)


def test_importtime_parser_sees_a_heavy_import() -> None:
    """The log parser works: a program that does import jinja2 is caught."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", "import jinja2"], capture_output=True,
                       text=True, env=_env(), cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "jinja2" in heavy(imported_modules(r.stderr))


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_console_script_imports_no_heavy_module(args: list[str]) -> None:
    r = subprocess.run([sys.executable, "-X", "importtime", str(_netc_script()), *args], capture_output=True,
                       text=True, env=_env(), cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    names = imported_modules(r.stderr)
    assert "netc.cli" in names and "click" in names, "the importtime log was not captured"
    assert not heavy(names), f"`netc {' '.join(args)}` imports {heavy(names)}"
    if args[:1] == ["check"] and args[1:2] != ["--help"]:
        assert "total parameters: 101,770" in r.stdout


DRIVER = """
import sys
from netc.cli import main
try:
    main(sys.argv[1:], prog_name="netc")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("HEAVY-MODULES:" + ",".join(loaded))
sys.exit(code)
"""


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_cli_main_leaves_heavy_modules_unloaded(args: list[str]) -> None:
    r = subprocess.run([sys.executable, "-c", DRIVER.format(heavy=set(HEAVY)), *args], capture_output=True,
                       text=True, env=_env(), cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    (line,) = [ln for ln in r.stdout.splitlines() if ln.startswith("HEAVY-MODULES:")]
    assert line == "HEAVY-MODULES:", f"`netc {' '.join(args)}` loaded {line.split(':', 1)[1]}"


def test_failing_check_imports_no_heavy_module(tmp_path: Path) -> None:
    """The error path renders diagnostics without the heavy modules too."""
    bad = tmp_path / "bad.net"
    bad.write_text("network N {\n    input x: f32[B, 3]\n    x -> Linear(4, in_features=5) -> y\n    output y\n}\n")
    r = subprocess.run([sys.executable, "-X", "importtime", str(_netc_script()), "check", str(bad)],
                       capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert r.returncode == 1 and "error[E200]" in r.stderr, r.stderr[-2000:]
    assert not heavy(imported_modules(r.stderr))


# -- `netc --help` and `netc fmt` load neither Lark's parser nor the compiler before they need it ----------
FRONT_END = ("lark", "netc.dsl.compiler", "netc.dsl.elaborate", "netc.dsl.ops", "netc.dsl.parse")
LIGHT = [(["--help"], FRONT_END), (["fmt", "--help"], FRONT_END), (["lsp", "--help"], FRONT_END),
         (["fmt", "--check", MLP], ("netc.dsl.compiler", "netc.dsl.elaborate", "netc.dsl.ops"))]


@pytest.mark.parametrize("args, unwanted", LIGHT, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_light_commands_load_no_front_end(args: list[str], unwanted: tuple[str, ...]) -> None:
    r = subprocess.run([sys.executable, "-X", "importtime", str(_netc_script()), *args], capture_output=True,
                       text=True, env=_env(), cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    names = imported_modules(r.stderr)
    assert "netc.cli" in names, "the importtime log was not captured"
    loaded = sorted(n for n in names if any(n == u or n.startswith(u + ".") for u in unwanted))
    assert not loaded, f"`netc {' '.join(args)}` imports {loaded}"
    if args[0] == "fmt" and "--check" in args:
        assert "netc.dsl.parse" in names  # formatting does parse, with the compiler's own parser
