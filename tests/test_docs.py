"""The documentation site: `mkdocs build --strict` succeeds, the reference pages are generated from the code
(every op, train setting and command appears), and every code block of the tutorials runs as written.

Tutorial blocks run in order in a fresh folder: a ```netc block with a title is saved under that name, a
```console block's `$ ` lines are run there and must print the lines shown (`...` skips any number of
lines; a block that shows `error[` expects exit status 1, others 0), a ```python block is run with the
folder on the import path.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netc.cli import main
from netc.dsl.ops import OPS
from netc.dsl.train import SETTINGS

from .conftest import ROOT

DOCS = ROOT / "docs"
TUTORIALS = [DOCS / "tutorials" / f"{name}.md" for name in ("mlp", "resnet", "gpt", "gan")]
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


def test_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ops = (site / "reference" / "ops" / "index.html").read_text()
    missing = [name for name in OPS if f'id="{name.lower()}"' not in ops]
    assert not missing, f"ops missing from the reference: {missing}"
    train = (site / "reference" / "train" / "index.html").read_text()
    assert all(f"<code>{key}</code>" in train for key in SETTINGS)
    commands = (site / "reference" / "commands" / "index.html").read_text()
    assert all(f"netc {name}" in commands for name in main.commands)
    language = (site / "language" / "index.html").read_text()
    rules = re.findall(r"^[?!]*(\w+):", (ROOT / "grammar" / "netc.lark").read_text(), re.M)
    assert rules and all(rule in language for rule in rules)  # the grammar itself, every rule


def test_ops_markdown_command() -> None:
    r = subprocess.run([str(Path(sys.executable).parent / "netc"), "ops", "--format", "markdown"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    assert {m for m in re.findall(r"^### (\w+)$", r.stdout, re.M)} == set(OPS)


def blocks(page: Path) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in BLOCK.finditer(page.read_text())]


def expect_lines(shown: list[str], actual: str) -> None:
    """Every shown line appears in `actual`, in order; `...` stands for any number of lines."""
    lines = [ln.rstrip() for ln in actual.splitlines()]
    at = 0
    free = True
    for want in shown:
        if want.strip() == "...":
            free = True
            continue
        found = next((i for i in range(at, len(lines)) if lines[i] == want.rstrip()), None) if free else \
            (at if at < len(lines) and lines[at] == want.rstrip() else None)
        assert found is not None, f"expected line not printed: {want!r}\n--- output ---\n{actual}"
        at, free = found + 1, False


def run_console(block: str, cwd: Path) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            assert commands, f"output before any command: {line!r}"
            commands[-1][1].append(line)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(cwd)}
    for command, shown in commands:
        r = subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
        want = 1 if any("error[" in s for s in shown) else 0
        assert r.returncode == want, f"`{command}` exited {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        expect_lines(shown, r.stdout + r.stderr)


@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_as_written(page: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    found = blocks(page)
    assert found, f"{page.name} has no code blocks"
    for lang, info, body in found:
        if lang == "netc":
            title = re.search(r'title="([^"]+)"', info)
            assert title, f"a netc block in {page.name} has no title= to save it under"
            (tmp_path / title.group(1)).write_text(body)
        elif lang == "console":
            run_console(body, tmp_path)
        elif lang == "python":
            r = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True,
                               timeout=600, env={**os.environ, "PYTHONPATH": str(tmp_path)})
            assert r.returncode == 0, f"python block failed:\n{body}\n{r.stderr[-3000:]}"
        else:
            pytest.fail(f"{page.name}: a ```{lang} block cannot be run; tutorials use netc, console and python")


def test_tutorial_sources_are_formatted(tmp_path: Path) -> None:
    from netc.fmt import format_text

    for page in TUTORIALS:
        for lang, info, body in blocks(page):
            if lang == "netc":
                assert format_text(body) == body, f"{page.name} {info}: run netc fmt on it"
