"""Generated torch classes keep the model's parameters: one class per definition, built right for any legal value.

The oracle for a class built with some arguments is the module the compiler builds when the same values are
bound with `--set` (the elaborated IR: its state_dict keys, order and shapes), and for the numbers, the
computation the .net file describes, written here by hand with torch's functional ops.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.cli import main  # noqa: E402
from netc.codegen import get_backend  # noqa: E402


def classes(text: str, path: str = "t.net", **overrides: object) -> dict[str, object]:
    result = netc.check_source(text, path, overrides or None)
    code = get_backend("torch").generate(result).code
    ns: dict[str, object] = {}
    exec(compile(code, f"<{path}>", "exec"), ns)  # noqa: S102 - our generated code
    return ns


NESTED_IF = """
block B(deep: int, wide: int) {
    input x: f32[N, 8]
    y = x -> Linear(8)
    if deep == 1 {
        if wide == 1 {
            y = y -> relu
        }
    }
    output y
}
network Net(deep: int = 1, wide: int = 1) {
    input x: f32[N, 8]
    x -> B(deep, wide) -> B(deep, 0) -> y
    output y
}
"""


@pytest.mark.parametrize(("deep", "wide"), list(itertools.product((0, 1), (0, 1))))
def test_nested_if_sets_every_flag_forward_reads(deep: int, wide: int) -> None:
    ns = classes(NESTED_IF)
    block = ns["B"](deep=deep, wide=wide)  # type: ignore[operator]
    x = torch.randn(3, 8)
    y = block.linear1(x)
    expected = torch.relu(y) if deep == 1 and wide == 1 else y
    torch.testing.assert_close(block(x), expected)


def test_nested_if_verifies(tmp_path: Path) -> None:
    path = tmp_path / "nested.net"
    path.write_text(NESTED_IF)
    out = CliRunner().invoke(main, ["verify", str(path)])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(main, ["compile", str(path), "--target", "torch"])
    assert out.exit_code == 0 and "clashes" not in out.output, out.output
