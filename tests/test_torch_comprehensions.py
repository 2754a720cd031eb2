"""Comprehensions (`[Block(channels[i], dilation=2 ** i) for i in range(levels)]`) become loops in the generated
class, so its constructor builds any count and any widths; where the items cannot be one loop, the class refuses
other values of what they iterate, naming the line (it used to write the compiled items and ignore `levels`).

Oracles: the module the compiler builds when the same values are bound with `--set` (its state_dict keys and
shapes), parameter counts derived by hand, and the authors' TemporalConvNet (github.com/locuslab/TCN, `tcn.py`)
written here in PyTorch without weight normalisation, on the same weights.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import netc  # noqa: E402
from netc.codegen import get_backend  # noqa: E402
from netc.dsl.compiler import compile_file  # noqa: E402
from netc.dsl.diagnostics import CompileError  # noqa: E402

from .conftest import torch_namespace  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def layout(model: object) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]  # type: ignore[attr-defined]


def ir_layout(path: Path | str, text: str | None = None, network: str = "Net",
              **sets: object) -> list[tuple[str, tuple[int, ...]]]:
    result = netc.check(path, sets) if text is None else netc.check_source(text, str(path), sets)
    assert result.ok, result.diagnostics
    return [(e.key, tuple(int(d) for d in e.shape)) for e in result.graphs[network].state_dict()]


# -- the TCN sample against the authors' code --------------------------------------------------------------
class Chomp1d(nn.Module):
    def __init__(self, chomp_size: int) -> None:
        super().__init__()
        self.chomp_size = chomp_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :-self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    """locuslab/TCN's TemporalBlock, weight_norm left out (its state_dict would hold weight_g/weight_v)."""

    def __init__(self, n_inputs: int, n_outputs: int, kernel_size: int, stride: int, dilation: int, padding: int,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride, padding=padding, dilation=dilation)
        self.chomp1 = Chomp1d(padding)
        self.relu1 = nn.ReLU()
        self.dropout1 = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride, padding=padding, dilation=dilation)
        self.chomp2 = Chomp1d(padding)
        self.relu2 = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1,
                                 self.conv2, self.chomp2, self.relu2, self.dropout2)
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return self.relu(out + res)


class TemporalConvNet(nn.Module):
    def __init__(self, num_inputs: int, num_channels: list[int], kernel_size: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        layers = []
        num_levels = len(num_channels)
        for i in range(num_levels):
            dilation_size = 2 ** i
            in_channels = num_inputs if i == 0 else num_channels[i - 1]
            out_channels = num_channels[i]
            layers += [TemporalBlock(in_channels, out_channels, kernel_size, stride=1, dilation=dilation_size,
                                     padding=(kernel_size - 1) * dilation_size, dropout=dropout)]
        self.network = nn.Sequential(*layers)


def tcn_parameters(inputs: int, channels: tuple[int, ...], kernel: int, classes: int) -> int:
    """By hand: two convolutions per level, a 1x1 convolution where the width changes, and the linear head."""
    total, cin = 0, inputs
    for c in channels:
        total += (c * cin * kernel + c) + (c * c * kernel + c) + ((c * cin + c) if cin != c else 0)
        cin = c
    return total + channels[-1] * classes + classes


TCN_CASES = [dict(levels=8, channels=(25,) * 8), dict(levels=3, channels=(8, 16, 32)),
             dict(levels=1, channels=(6,)), dict(levels=5, channels=(4, 4, 8, 8, 16), kernel=3, inputs=2)]


@pytest.mark.parametrize("kw", TCN_CASES, ids=lambda kw: f"levels={kw['levels']}")
def test_tcn_class_builds_any_depth_and_widths(kw: dict[str, object]) -> None:
    """One generated class, constructed with each configuration, is the network `--set` compiles for it."""
    cls = get_backend("torch").build(netc.check(SAMPLES / "tcn.net"), network="TCN")
    model = cls(**kw)  # type: ignore[operator]
    assert layout(model) == ir_layout(SAMPLES / "tcn.net", network="TCN", **kw)
    expected = tcn_parameters(int(kw.get("inputs", 1)), kw["channels"], int(kw.get("kernel", 7)), 10)  # type: ignore[arg-type]
    assert sum(p.numel() for p in model.parameters()) == expected


def test_tcn_default_count_is_the_papers_sequential_mnist_model() -> None:
    assert netc.check(SAMPLES / "tcn.net").graphs["TCN"].num_params == tcn_parameters(1, (25,) * 8, 7, 10) == 66_510


def test_tcn_levels_are_a_loop_like_the_authors() -> None:
    code = get_backend("torch").generate(netc.check(SAMPLES / "tcn.net")).code
    assert "for i in range(1, levels)" in code and "cin=channels[i - 1]" in code and "dilation=2 ** i" in code
    assert "nn.Linear(channels[levels - 1], classes)" in code


@pytest.mark.parametrize("channels", [(25,) * 4, (8, 16, 16, 32)])
def test_tcn_computes_what_the_authors_code_computes(channels: tuple[int, ...]) -> None:
    cls = get_backend("torch").build(netc.check(SAMPLES / "tcn.net"), network="TCN")
    ours = cls(levels=len(channels), channels=channels, p=0.0).eval()  # type: ignore[operator]
    theirs = TemporalConvNet(1, list(channels), kernel_size=7, dropout=0.0).eval()
    theirs_state = {k: v for k, v in theirs.state_dict().items() if ".net." not in k}  # `net` repeats conv1/2
    assert [k for k, _ in layout(ours) if not k.startswith("linear.")] == list(theirs_state)
    ours.load_state_dict({**theirs_state, "linear.weight": torch.randn(10, channels[-1]),
                          "linear.bias": torch.randn(10)})
    x = torch.randn(3, 1, 50)
    with torch.no_grad():
        expected = ours.linear(theirs.network(x)[:, :, -1])
        torch.testing.assert_close(ours(x), expected)


LEVELS_LINE = next(i for i, line in enumerate((SAMPLES / "tcn.net").read_text().splitlines(), 1)
                   if "for i in range(levels)" in line)


def test_tcn_refuses_more_levels_than_widths_naming_the_line() -> None:
    cls = get_backend("torch").build(netc.check(SAMPLES / "tcn.net"), network="TCN")
    for kw in (dict(levels=9), dict(channels=(12, 12))):
        assert not compile_file(SAMPLES / "tcn.net", kw).ok  # the compiler refuses them too
        with pytest.raises(ValueError, match=rf"tcn\.net:{LEVELS_LINE}:\d+: `channels\[i\]` is out of range"):
            cls(**kw)  # type: ignore[operator]


def test_tcn_with_no_levels_is_refused_with_how_to_build_it() -> None:
    """The compiler takes `levels=0` (an empty container passes its input on); the class is written with a first
    item, so it refuses, naming the line, rather than build a head of the wrong width."""
    assert compile_file(SAMPLES / "tcn.net", {"levels": 0}).ok
    cls = get_backend("torch").build(netc.check(SAMPLES / "tcn.net"), network="TCN")
    with pytest.raises(ValueError, match=rf"tcn\.net:{LEVELS_LINE}:10: .* at least one item; for none, recompile"):
        cls(levels=0)  # type: ignore[operator]


# -- comprehensions that are not one loop --------------------------------------------------------------------
CHAINED = """
network Net(c: int = 3, widths: list = (8, 16, 32)) {
    input x: f32[N, c, 8, 8]
    x -> [Conv2d(w, 1) for w in widths] as proj -> y
    output y
}
"""


def test_a_comprehension_that_is_not_one_loop_refuses_other_values_by_line() -> None:
    """Each item's input width is the previous item's width: written item by item, the class holds for its own
    widths only, and says so; it still takes any `c`."""
    code, ns = torch_namespace(CHAINED, "chained.net")
    net = ns["Net"]
    assert layout(net(c=5)) == ir_layout("chained.net", CHAINED, c=5)  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"chained\.net:4:10: .* is written item by item"):
        net(widths=(4, 8))  # type: ignore[operator]


CONSTANT_VALUES = """
block Res(c: int, d: int = 1) {
    input x: f32[N, c, H, W]
    output x + (x -> Conv2d(c, 3, padding=d, dilation=d))
}
network Net(c: int = 4) {
    input x: f32[N, c, 16, 16]
    x -> [Res(c, d=d) for d in [1, 2, 4]] as blocks -> y
    output y
}
"""


def test_a_comprehension_over_constant_values_loops_over_them() -> None:
    code, ns = torch_namespace(CONSTANT_VALUES, "const.net")
    assert "for d in (1, 2, 4)" in code
    for c in (1, 4, 7):
        assert layout(ns["Net"](c=c)) == ir_layout("const.net", CONSTANT_VALUES, c=c)  # type: ignore[operator]


UNUSED_VARIABLE = """
network Net(c: int = 4, n: int = 3) {
    input x: f32[N, c]
    x -> [Linear(c) for i in range(n)] as layers -> y
    output y
}
"""


@pytest.mark.parametrize("n", [1, 2, 5])
def test_a_comprehension_that_does_not_read_its_variable_loops_with_underscore(n: int) -> None:
    code, ns = torch_namespace(UNUSED_VARIABLE, "unused.net")
    assert "for _ in range(n)" in code
    assert layout(ns["Net"](n=n)) == ir_layout("unused.net", UNUSED_VARIABLE, n=n)  # type: ignore[operator]


def test_generated_comprehension_code_is_ruff_clean(tmp_path: Path) -> None:
    for name, text in (("tcn.net", (SAMPLES / "tcn.net").read_text()), ("chained.net", CHAINED),
                       ("const.net", CONSTANT_VALUES), ("unused.net", UNUSED_VARIABLE)):
        code, _ = torch_namespace(text, name)
        out = tmp_path / (Path(name).stem + ".py")
        out.write_text(code)
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_tcn_compiles_with_the_default_inductor_backend_in_one_graph() -> None:
    """torch.compile's default backend (Inductor, which writes and builds C++ on a CPU) traces the loop-built
    levels and the `if`/`else` of each block into one graph and computes what eager does."""
    cls = get_backend("torch").build(netc.check(SAMPLES / "tcn.net"), network="TCN")
    model = cls(levels=3, channels=(8, 8, 16), p=0.0).eval()  # type: ignore[operator]
    x = torch.randn(2, 1, 40)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), model(x))


NAMED_ITEMS = """
block Layer(d: int, dil: int = 1) {
    input x: f32[N, d, T]
    output x + (x -> Conv1d(d, 3, padding=dil, dilation=dil))
}
network Net(d: int = 8, n: int = 3) {
    input x: f32[N, d, 32]
    x -> [Layer(d, dil=2 ** i) for i in range(n)] as layers["layer_{i}"] -> y
    output y
}
"""


@pytest.mark.parametrize("n", [1, 3, 5])
def test_a_comprehension_with_named_items_loops_with_their_names(n: int) -> None:
    """`as layers["layer_{i}"]` over `for i in range(n)`: the variable is the item's index, so the names are
    an f-string in the same loop, and the keys are the compiler's for any `n`."""
    code, ns = torch_namespace(NAMED_ITEMS, "named.net")
    assert "for i in range(n)" in code and "f'layer_{i}'" in code
    assert layout(ns["Net"](n=n)) == ir_layout("named.net", NAMED_ITEMS, n=n)  # type: ignore[operator]


FALLING = """
network Net(c: int = 4, widths: list = (8, 16, 24, 32, 40), n: int = 5) {
    input x: f32[N, c]
    x -> Linear(c) -> [Linear(widths[i]) for i in range(n - 1, 0, -1)] as layers -> y
    output y
}
"""


def test_a_falling_range_loops_and_checks_its_first_index_too() -> None:
    """Over `range(n - 1, 0, -1)` the largest index is the first item's: the item before is `widths[i + 1]`,
    and the constructor refuses `n = 6` (the first item would read widths[5]) as the compiler does."""
    code, ns = torch_namespace(FALLING, "falling.net")
    assert "widths[i + 1]" in code
    for kw in (dict(n=5), dict(n=3), dict(widths=(2, 3, 4, 5, 6, 7), n=6)):
        assert layout(ns["Net"](**kw)) == ir_layout("falling.net", FALLING, **kw)  # type: ignore[operator]
    with pytest.raises(CompileError, match="out of range"):  # the compiler refuses it too
        netc.check_source(FALLING, "falling.net", {"n": 6})
    with pytest.raises(ValueError, match=r"falling\.net:4:\d+: `widths\[i\]` is out of range"):
        ns["Net"](n=6)  # type: ignore[operator]
