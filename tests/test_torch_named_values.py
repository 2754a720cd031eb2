"""Values the source names (`squeeze = ...`, `factor = 2` inside `if bilinear`) are computed once, by name, in the
generated __init__, and an `if` that only chooses values holds for every argument, also for arms no compiled
instance took.

Oracles: torchvision's `_make_divisible` (copied below from torchvision/models/_utils.py, v0.29.1), and the
module the compiler itself builds when the same values are bound with `--set` (the elaborated IR's state_dict).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.codegen import get_backend  # noqa: E402
from netc.codegen import torch as torch_backend  # noqa: E402

from .conftest import torch_namespace  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def module_namespace(text: str, path: str = "t.net") -> tuple[str, dict[str, Any]]:
    return torch_namespace(text, path)


def test_mobilenet_v3_squeeze_width_is_make_divisible_for_every_expanded_width() -> None:
    """The sample never takes `if squeeze < 8`; the class still computes torchvision's width for widths that do,
    instead of refusing them."""
    code = (SAMPLES / "mobilenet_v3_large.net").read_text()
    gen = get_backend("torch").generate(netc.check_source(code, "mobilenet_v3_large.net")).code
    assert "squeeze = (expanded // 4 + 4) // 8 * 8" in gen and "take a branch" not in gen
    ns: dict[str, Any] = {}
    exec(compile(gen, "<mbv3>", "exec"), ns)  # noqa: S102 - our generated code
    for expanded in (4, 8, 12, 16, 20, 36, 72, 100, 120, 184, 240, 480, 672, 960):
        block = ns["InvertedResidual"](C=5, kernel=3, expanded=expanded, cout=24, se=True, act="HS", stride=2)
        se = block.block[2]
        assert se.fc1.out_channels == _make_divisible(expanded // 4, 8), expanded


CHOOSER = """
block B(w: int) {
    input x: f32[N, C]
    h = w * 2
    if h > 40 {
        h = 40
    } elif h < 6 {
        h = 6
    }
    output x -> Linear(h) as fc
}
network Net(w: int = 10) {
    input x: f32[N, 8]
    output x -> B(w) as b
}
"""

EARLIER_VERSION_READ_LATER = """
block B(w: int) {
    input x: f32[N, C]
    h = w * 2
    y = x -> Linear(h) as a
    h = h + 1
    y = y -> Linear(h) as b
    output y
}
network Net(w: int = 5) {
    input x: f32[N, 8]
    output x -> B(w) as blk
}
"""

FACTOR = """
block B(halve: bool, w: int) {
    input x: f32[N, C]
    factor = 1
    if halve {
        factor = 2
    }
    hidden = 4 * w // factor
    output x -> Linear(hidden) as up -> relu -> Linear(w) as down
}
network Net(halve: bool = false, w: int = 16) {
    input x: f32[N, 16]
    output x -> B(halve, w) as b
}
"""


def ir_layout(text: str, **sets: Any) -> list[tuple[str, tuple[int, ...]]]:
    result = netc.check_source(text, "t.net", sets)
    assert result.ok, result.diagnostics
    return [(e.key, tuple(int(d) for d in e.shape)) for e in result.graphs["Net"].state_dict()]


@pytest.mark.parametrize(("text", "values"), [
    (CHOOSER, [{"w": 1}, {"w": 2}, {"w": 3}, {"w": 10}, {"w": 20}, {"w": 21}, {"w": 100}]),
    (EARLIER_VERSION_READ_LATER, [{"w": 1}, {"w": 7}]),
    (FACTOR, [{"halve": h, "w": w} for h in (False, True) for w in (2, 6, 16)]),
], ids=["chooser", "earlier-version", "factor"])
def test_class_built_with_other_values_is_the_network_compiled_with_them(text: str, values: list[dict[str, Any]]) -> None:
    cls = get_backend("torch").build(netc.check_source(text, "t.net"), network="Net")
    path = torch_backend.generated_paths(cls)
    for sets in values:
        model = cls(**sets)
        assert [(path(k), tuple(v.shape)) for k, v in model.state_dict().items()] == ir_layout(text, **sets), sets
        model(torch.randn(3, 8 if "w * 2" in text else 16))


def test_named_values_read_as_the_source_writes_them() -> None:
    code, _ = module_namespace(CHOOSER)
    assert "h = w * 2\n" in code and "if h > 40:\n" in code and "elif h < 6:\n" in code
    assert "nn.Linear(C, h)" in code and "take a branch" not in code
    code, _ = module_namespace(FACTOR)
    assert "factor = 2 if halve else 1" in code and "hidden = 4 * w // factor" in code


def test_a_version_read_after_a_later_one_is_computed_is_written_in_place() -> None:
    """`Linear(h)` before `h = h + 1` cannot read a variable `h` that __init__ has already advanced."""
    code, _ = module_namespace(EARLIER_VERSION_READ_LATER)
    assert "nn.Linear(C, w * 2)" in code and "nn.Linear(w * 2, w * 2 + 1)" in code


def test_a_value_reassigned_a_thousand_times_compiles_flat() -> None:
    """`h = h + 1` 1,200 times was an internal error (an expression nested 1,200 deep); now `w + 1200`."""
    lines = ["block B(w: int) {", "    input x: f32[N, C]", "    h = w", "    y = x"]
    for i in range(1200):
        lines += ["    h = h + 1", f"    y = y -> Linear(h) as l{i}"]
    text = "\n".join(lines + ["    output y", "}", "network Net(w: int = 2) {", "    input x: f32[N, 4]",
                              "    output x -> B(w) as b", "}"]) + "\n"
    cls = get_backend("torch").build(netc.check_source(text, "deep.net"), network="Net")
    model = cls(w=3)
    assert (model.b.l0.in_features, model.b.l0.out_features) == (4, 4)
    assert model.b.l1199.out_features == 3 + 1200


def _deep_chain(step: str, count: int = 1000) -> str:
    """`h = w`, then `count` times `h = <step>`, read by one layer; the network builds `B(w)` with w = 4."""
    lines = ["block B(w: int) {", "    input x: f32[N, w]", "    h = w"] + [f"    h = {step}"] * count
    lines += ["    x -> Linear(h % 7 + 1) as fc -> y", "    output y", "}",
              "network Net(w: int = 4) {", "    input x: f32[N, w]", "    x -> B(w) as b -> y", "    output y", "}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("step", ["h * 1", "(h + 1) * 2 // 2 - 1", "h * h // h"])
def test_a_value_nested_too_deep_to_follow_pins_the_class_to_its_arguments(step: str) -> None:
    """A thousand `h = h * 1` nest 1,000 deep (no folding flattens them). That was an internal error
    (RecursionError); now the value is the instance's own (h = 4, so `Linear(4, 4 % 7 + 1)`: hand-derived), and
    the class refuses other arguments, naming the line, rather than build the w = 4 layer for them."""
    code, ns = module_namespace(_deep_chain(step), "deep.net")
    model = ns["Net"]()
    assert (model.b.fc.in_features, model.b.fc.out_features) == (4, 5)
    with pytest.raises(ValueError, match=r"deep\.net:\d+:9: .* nests too deeply .* recompile the \.net file"):
        ns["B"](w=5)
    assert ns["B"](w=4).fc.out_features == 5


def test_a_float_nested_too_deep_is_pinned_too() -> None:
    """Floats are not tracked ints: a deep `s = s * 1.0` is caught where it is evaluated, not when rendered."""
    lines = ["block B(s0: float) {", "    input x: f32[N, 4]", "    s = s0"] + ["    s = s * 1.0"] * 1000
    lines += ["    x * s -> y", "    output y", "}", "network Net() {", "    input x: f32[N, 4]",
              "    x -> B(0.5) as b -> y", "    output y", "}"]
    code, ns = module_namespace("\n".join(lines) + "\n", "deepf.net")
    x = torch.ones(2, 4)
    assert torch.equal(ns["Net"]()(x), x * 0.5)
    with pytest.raises(ValueError, match="nests too deeply"):
        ns["B"](s0=2.0)
