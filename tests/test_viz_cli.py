"""`netc viz`: one test per option, output formats from the extension, and a machine without Graphviz."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from netc.cli import main

from .conftest import SAMPLES
from .test_viz import svg_counts, svg_text

MLP = str(SAMPLES / "mnist_mlp.net")
RESNET = str(SAMPLES / "resnet18.net")
TWO = """
network Encoder { input x: f32[B, 8]
 x -> Linear(4) as fc -> z
 output z }
network Decoder { input z: f32[B, 4]
 z -> Linear(8) as fc -> relu -> x
 output x }
"""


def viz(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["viz", *args], env=env)


def test_default_output_is_the_stem_with_svg_in_the_current_folder(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = viz(MLP)
    assert r.exit_code == 0, r.output
    assert "wrote mnist_mlp.svg" in r.stderr
    assert svg_counts((tmp_path / "mnist_mlp.svg").read_bytes())["node"] == 7
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "mnist_mlp.svg").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


@pytest.mark.parametrize("ext, magic", [("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF"),
                                        ("dot", b"digraph MnistMLP {"), ("SVG", b"<?xml")])
def test_output_format_follows_the_extension(tmp_path: Path, ext: str, magic: bytes) -> None:
    out = tmp_path / f"mlp.{ext}"
    r = viz(MLP, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(magic)


def test_unknown_extension_is_a_usage_error(tmp_path: Path) -> None:
    r = viz(MLP, "-o", str(tmp_path / "mlp.jpeg"))
    assert r.exit_code == 2 and ".svg, .png, .pdf or .dot" in r.stderr
    assert not (tmp_path / "mlp.jpeg").exists()


def test_network_option_picks_one(tmp_path: Path) -> None:
    src = tmp_path / "two.net"
    src.write_text(TWO, encoding="utf-8")
    both, one = tmp_path / "both.svg", tmp_path / "one.svg"
    assert viz(str(src), "-o", str(both)).exit_code == 0
    assert viz(str(src), "--network", "Decoder", "-o", str(one)).exit_code == 0
    # Both: two clusters, x fc z and z fc relu x = 7 nodes. Decoder alone: z, fc, relu, x and no cluster.
    assert svg_counts(both.read_bytes()) == {"node": 7, "cluster": 2, "edge": 5}
    assert svg_counts(one.read_bytes()) == {"node": 4, "cluster": 0, "edge": 3}
    r = viz(str(src), "--network", "Decodr", "-o", str(one))
    assert r.exit_code == 1 and "Decoder" in r.stderr


def test_depth_option(tmp_path: Path) -> None:
    out = tmp_path / "r.svg"
    assert viz(RESNET, "--depth", "0", "-o", str(out)).exit_code == 0
    assert svg_counts(out.read_bytes()) == {"node": 13, "cluster": 0, "edge": 12}  # see test_viz for the count
    assert viz(RESNET, "--depth", "-1", "-o", str(out)).exit_code == 2


def test_expand_option(tmp_path: Path) -> None:
    out = tmp_path / "r.svg"
    assert viz(RESNET, "--expand", "-o", str(out)).exit_code == 0
    counts = svg_counts(out.read_bytes())
    assert counts["cluster"] == 15 and "×2" not in svg_text(out.read_bytes())


def test_rankdir_option(tmp_path: Path) -> None:
    out = tmp_path / "m.dot"
    assert viz(MLP, "--rankdir", "lr", "-o", str(out)).exit_code == 0
    assert "rankdir=LR" in out.read_text(encoding="utf-8")
    assert viz(MLP, "--rankdir", "BT", "-o", str(out)).exit_code == 2


def test_set_option(tmp_path: Path) -> None:
    out = tmp_path / "m.svg"
    assert viz(MLP, "--set", "B=32", "--set", "hidden=64", "-o", str(out)).exit_code == 0
    text = svg_text(out.read_bytes())
    assert "(32, 64)" in text and "784→64" in text and "50,890 parameters" in text  # 784*64+64 + 64*10+10
    assert viz(MLP, "--set", "hiden=64", "-o", str(out)).exit_code == 2


def test_source_errors_exit_1_without_output(tmp_path: Path) -> None:
    out = tmp_path / "e.svg"
    r = viz(str(SAMPLES / "errors" / "typos.net"), "-o", str(out))
    assert r.exit_code == 1 and "error[" in r.stderr and not out.exists()


def _no_dot_path(tmp_path: Path) -> str:
    """A PATH on which `dot` cannot be found (an empty folder)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    assert shutil.which("dot", path=str(empty)) is None
    return str(empty)


def test_missing_dot_writes_the_dot_file_and_says_how_to_install(tmp_path: Path) -> None:
    out = tmp_path / "mlp.svg"
    r = viz(MLP, "-o", str(out), env={"PATH": _no_dot_path(tmp_path)})
    assert r.exit_code == 1
    assert not out.exists()
    dot_file = tmp_path / "mlp.dot"
    assert dot_file.read_text(encoding="utf-8").startswith("digraph MnistMLP {")
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz", str(dot_file)):
        assert hint in r.stderr
    assert "Traceback" not in r.output


def test_missing_dot_in_a_real_process(tmp_path: Path) -> None:
    # End to end: a fresh interpreter whose PATH hides Graphviz (the interpreter is called by absolute path).
    out = tmp_path / "r.png"
    env = {k: v for k, v in os.environ.items() if k != "PATH"}
    env["PATH"] = _no_dot_path(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "netc.cli", "viz", RESNET, "-o", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "the Graphviz `dot` program is not on PATH" in proc.stderr and "Traceback" not in proc.stderr
    text = (tmp_path / "r.dot").read_text(encoding="utf-8")
    assert "dpi=150" in text  # the DOT written is the one the PNG would have been rendered from
    ET.fromstring(subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, check=True).stdout)
