"""`--set` and `netc.build(..., overrides=)` take every parameter type: int, float, bool, str, and reject
values of the wrong type (usage errors on the command line)."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import netc
from netc.cli import main
from netc.overrides import OverrideError, parse_value

from .conftest import SAMPLES

NET = """network Typed(p: float = 0.5, mode: str = "nearest", wide: bool = false, n: int = 2) {
    input x: f32[B, 3, 8, 8]
    y = x -> Dropout(p) -> Upsample(scale_factor=2, mode=mode)
    if wide {
        y = y -> Conv2d(n * 4, 3) as conv
    } else {
        y = y -> Conv2d(n, 3) as conv
    }
    output y
}
"""


@pytest.mark.parametrize(("raw", "value"), [
    ("32", 32), ("-1", -1), ("0.1", 0.1), ("1e-3", 1e-3), ("true", True), ("false", False), ("none", None),
    ("bilinear", "bilinear"), ('"two words"', "two words"), ("(3, 3)", (3, 3)), ("[1, true, \"a\"]", (1, True, "a")),
])
def test_values_are_typed_like_the_language(raw: str, value: object) -> None:
    assert parse_value(raw) == value and type(parse_value(raw)) is type(value)


@pytest.mark.parametrize("raw", ["", "(1, ", "x + 1", "{1: 2}", "9" * 40])
def test_unreadable_values_are_errors(raw: str) -> None:
    with pytest.raises(OverrideError):
        parse_value(raw)


def test_unet_bilinear_variant_builds_from_the_command_line(tmp_path: Path) -> None:
    plain = netc.check(SAMPLES / "unet.net")
    bilinear = netc.check(SAMPLES / "unet.net", overrides={"bilinear": True})
    assert plain.ok and bilinear.ok
    ops = {n.op for g in bilinear.graphs.values() for n in g.op_nodes()}
    assert "Upsample" in ops and "ConvTranspose2d" not in ops
    assert "ConvTranspose2d" in {n.op for g in plain.graphs.values() for n in g.op_nodes()}
    out = tmp_path / "unet.py"
    r = CliRunner().invoke(main, ["compile", str(SAMPLES / "unet.net"), "--set", "bilinear=true", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "mode='bilinear'" in out.read_text()


def test_build_with_float_str_bool_overrides(tmp_path: Path) -> None:
    path = tmp_path / "typed.net"
    path.write_text(NET)
    model = netc.build(path, overrides={"p": 0.25, "mode": "bilinear", "wide": True, "n": 3})()
    assert model.conv.out_channels == 12
    assert "p=0.25" in repr(model)
    graph = netc.check(path, overrides={"mode": "bilinear"}).graphs["Typed"]
    assert [n.attrs["mode"] for n in graph.op_nodes() if n.op == "Upsample"] == ["bilinear"]
    r = CliRunner().invoke(main, ["check", str(path), "--set", "p=0.1", "--set", "mode=bilinear", "--set",
                                  "wide=true"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(("item", "message"), [
    ("wide=3", "`wide` of `Typed` is bool, but got the int `3`"),
    ("p=true", "`p` of `Typed` is float"),
    ("n=0.5", "`n` of `Typed` is int"),
    ("B=0", "`B` is a dimension, so it needs a positive integer"),
    ("B=x", "`B` is a dimension"),
])
def test_wrong_types_are_usage_errors(tmp_path: Path, item: str, message: str) -> None:
    path = tmp_path / "typed.net"
    path.write_text(NET)
    r = CliRunner().invoke(main, ["check", str(path), "--set", item])
    assert r.exit_code == 2 and message in r.output, r.output
