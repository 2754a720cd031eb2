"""How the torch backend prints expressions and reuses buffers: precedence and in-place ReLU.

Two seeded bugs once survived the whole suite: printing the right operand of a binary expression without the
parentheses its precedence needs, and letting ReLU overwrite a value that is read again. Each test here fails
for one of them.
"""
from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.codegen import torch as torch_backend  # noqa: E402
from netc.codegen.torch import Bin, Ctx, Leaf, Lit, Unary  # noqa: E402


def render(node: object) -> str:
    return node.render(Ctx(lambda kind, name: name))  # type: ignore[attr-defined]


a, b, c = Leaf("param", "a"), Leaf("param", "b"), Leaf("param", "c")


@pytest.mark.parametrize("tree, text", [
    (Bin("-", a, Bin("-", b, c)), "a - (b - c)"),
    (Bin("-", Bin("-", a, b), c), "a - b - c"),
    (Bin("//", a, Bin("*", b, c)), "a // (b * c)"),
    (Bin("*", Bin("//", a, b), c), "a // b * c"),
    (Bin("/", a, Bin("+", b, Lit(1))), "a / (b + 1)"),
    (Bin("*", a, Bin("-", Bin("*", Lit(2), b), Lit(1))), "a * (2 * b - 1)"),
    (Bin("%", a, Bin("%", b, c)), "a % (b % c)"),
    (Bin("**", a, Bin("**", b, c)), "a ** b ** c"),
    (Bin("**", Bin("**", a, b), c), "(a ** b) ** c"),
    (Bin("**", Unary("-", a), Lit(2)), "(-a) ** 2"),
    (Unary("-", Bin("**", a, Lit(2))), "-a ** 2"),
    (Bin("-", a, Unary("-", b)), "a - -b"),
    (Bin("*", a, Lit(-3)), "a * -3"),
    (Bin("**", a, Lit(-1)), "a ** -1"),
    (Unary("-", Bin("+", a, b)), "-(a + b)"),
    (Bin("and", Bin("or", a, b), c), "(a or b) and c"),
    (Unary("not", Bin("and", a, b)), "not (a and b)"),
])
def test_golden_renderings(tree: object, text: str) -> None:
    assert render(tree) == text


def test_a_size_with_a_parenthesised_divisor_keeps_its_parentheses() -> None:
    src = """block Head(d: int, k: int) {
    input x: f32[B, C]
    output y = x -> Linear(d / (2 * k)) as proj
}
network N {
    input x: f32[B, 8]
    output y = x -> Head(48, 3) as head
}
"""
    code = torch_backend.generate(netc.check_source(src)).code
    assert re.search(r"nn\.Linear\(C, d // \(2 \* k\)\)", code), code
    model = torch_backend.build(netc.check_source(src))()
    assert model.head.proj.out_features == 8 == 48 // (2 * 3)


RELU_GRAPHS = {
    # a value read by the ReLU and by an add after it
    "add": ("    h = x -> Linear(4) as fc\n    r = h -> relu\n    output r + h",
            lambda h, fc2: torch.relu(h) + h),
    # read by the ReLU and by another layer
    "layer": ("    h = x -> Linear(4) as fc\n    r = h -> relu\n    t = h -> Linear(4) as fc2\n    output r + t",
              lambda h, fc2: torch.relu(h) + fc2(h)),
    # read by the ReLU and returned as an output
    "output": ("    h = x -> Linear(4) as fc\n    r = h -> relu\n    output r, h",
               lambda h, fc2: (torch.relu(h), h)),
    # the ReLU's result read twice: in place is fine, h is not read again
    "single": ("    h = x -> Linear(4) as fc\n    r = h -> relu\n    output r * 2 + r",
               lambda h, fc2: torch.relu(h) * 3),
}


@pytest.mark.parametrize("graph", sorted(RELU_GRAPHS))
def test_relu_in_place_only_when_nothing_else_reads_its_input(graph: str) -> None:
    body, reference = RELU_GRAPHS[graph]
    src = f"network N {{\n    input x: f32[B, 3]\n{body}\n}}\n"
    result = netc.check_source(src)
    code = torch_backend.generate(result).code
    assert ("inplace=True" in code) == (graph == "single"), code
    torch.manual_seed(0)
    model = torch_backend.build(result)().eval()
    x = torch.randn(5, 3)
    with torch.no_grad():
        got = model(x)
        want = reference(model.fc(x), getattr(model, "fc2", None))
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        torch.testing.assert_close(g, w)
