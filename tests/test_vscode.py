"""The VS Code package (editors/vscode): its TextMate grammar against hand-written scope assertions and
against reviewed snapshots of every sample, its agreement with grammar/netc.lark, and that it packages
with @vscode/vsce. Needs Node.js; CI installs it (.ci/run sets NETC_REQUIRE_NODE=1, so there a missing
npm fails instead of skipping). Regenerate the snapshots with NETC_UPDATE_SNAPSHOTS=1 and review the diff.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import GRAMMAR, ROOT, SAMPLES, update_snapshots

VSCODE = ROOT / "editors" / "vscode"
SNAPSHOTS = VSCODE / "test" / "snap"


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        if os.environ.get("NETC_REQUIRE_NODE") == "1":
            pytest.fail("npm is required here (NETC_REQUIRE_NODE=1) but not installed")
        pytest.skip("Node.js/npm is not installed; .ci/run installs it")
    if not (VSCODE / "node_modules" / ".bin" / "vsce").exists():
        subprocess.run([found, "ci", "--no-audit", "--no-fund"], cwd=VSCODE, check=True, timeout=600)
    return found


def npx(npm: str, *args: str, cwd: Path = VSCODE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(npm).parent / "npx"), "--no-install", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_grammar_scope_assertions(npm: str) -> None:
    r = npx(npm, "vscode-tmgrammar-test", "test/*.test.net")
    assert r.returncode == 0, r.stdout + r.stderr


def test_grammar_snapshots_of_every_sample(npm: str, tmp_path: Path) -> None:
    samples = sorted(SAMPLES.glob("*.net"))
    for path in samples:
        shutil.copy(path, tmp_path / path.name)
        snap = SNAPSHOTS / (path.name + ".snap")
        if snap.exists():
            shutil.copy(snap, tmp_path / snap.name)
    update = ["-u"] if update_snapshots() else []
    r = npx(npm, "vscode-tmgrammar-snap", "--config", str(VSCODE / "package.json"), *update, f"{tmp_path}/*.net")
    if update:
        for snap in tmp_path.glob("*.snap"):
            shutil.copy(snap, SNAPSHOTS / snap.name)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    missing = [p.name for p in samples if not (SNAPSHOTS / (p.name + ".snap")).exists()]
    assert not missing, f"no snapshot for {missing}; run with NETC_UPDATE_SNAPSHOTS=1 and review"


def test_extension_packages(npm: str, tmp_path: Path) -> None:
    out = tmp_path / "netc.vsix"
    r = npx(npm, "vsce", "package", "--out", str(out))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    names = set(zipfile.ZipFile(out).namelist())
    for wanted in ("extension/package.json", "extension/extension.js", "extension/language-configuration.json",
                   "extension/syntaxes/netc.tmLanguage.json",
                   "extension/node_modules/vscode-languageclient/package.json"):
        assert wanted in names, f"{wanted} is not in the package"
    assert not any(n.startswith("extension/test/") for n in names)


# -- agreement with the language's grammar (no Node needed) ---------------------------------------
def lark_keywords() -> set[str]:
    """Every keyword of grammar/netc.lark: the quoted words of its rules."""
    rules = "\n".join(line for line in GRAMMAR.read_text().splitlines() if not line.lstrip().startswith("//"))
    return {w for w in re.findall(r'"([a-z_]+)"', rules)}


def test_textmate_grammar_knows_every_keyword() -> None:
    grammar = (VSCODE / "syntaxes" / "netc.tmLanguage.json").read_text()
    for word in sorted(lark_keywords()):
        assert re.search(rf"[|(\\b]{word}[|)\\]", grammar), f"keyword `{word}` is not highlighted"


def test_comment_tokens_follow_the_lark_grammar() -> None:
    text = GRAMMAR.read_text()
    line = re.search(r"^COMMENT: /(.*)/$", text, re.M)
    block = re.search(r"^BLOCK_COMMENT: /(.*)/$", text, re.M)
    assert line and block
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    assert re.match(line.group(1), config["comments"]["lineComment"] + " text")
    start, end = config["comments"]["blockComment"]
    assert re.fullmatch(block.group(1), f"{start} text {end}")
