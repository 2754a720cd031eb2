"""`param` and `buffer` statements: state_dict keys and order against torch modules written by hand, initializers
against their torch.nn.init definitions, both backends, ONNX, the diagram, the formatter and the hints."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import netc
from netc.codegen import get_backend, numpy_ref
from netc.dsl.compiler import compile_source
from netc.dsl.source import Source

PROGRAM = """\
block Blk(d: int) {
    input x: f32[B, d]
    x -> Linear(d) as fc -> y
    buffer running: f32[d] = zeros
    param scale: f32[d] = ones
    buffer scratch: f32[1, d] = constant(0.5), persistent=false
    output y * scale + running + scratch
}

network Net(d: int = 4) {
    input x: f32[B, d]
    x -> Linear(d) as inp -> Blk(d) as blk -> y
    param bias: f32[d] = zeros
    output y + bias
}
"""


class HandBlk(nn.Module):
    """What PyTorch users write; torch lists own parameters, own buffers, then children, whatever the order."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc = nn.Linear(d, d)
        self.register_buffer("running", torch.zeros(d))
        self.scale = nn.Parameter(torch.ones(d))
        self.register_buffer("scratch", torch.full((1, d), 0.5), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.scale + self.running + self.scratch


class HandNet(nn.Module):
    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.inp = nn.Linear(d, d)
        self.blk = HandBlk(d)
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blk(self.inp(x)) + self.bias


def _check(text: str, overrides: dict | None = None) -> netc.Result:
    return netc.check_source(text, "decl.net", overrides)


def _diagnostics(text: str) -> list:
    return compile_source(Source("decl.net", text)).diagnostics.items


def test_state_dict_order_and_counts_are_torchs() -> None:
    result = _check(PROGRAM)
    graph = result.graphs["Net"]
    hand = HandNet()
    want = [(k, tuple(v.shape)) for k, v in hand.state_dict().items()]
    assert want[:3] == [("bias", (4,)), ("inp.weight", (4, 4)), ("inp.bias", (4,))]  # own first
    assert [(e.key, tuple(e.shape)) for e in graph.state_dict()] == want
    assert [e.kind for e in graph.state_dict()] == \
        ["parameter", "parameter", "parameter", "parameter", "buffer", "parameter", "parameter"]
    assert graph.num_params == sum(p.numel() for p in hand.parameters())
    model = get_backend("torch").build(result)()
    assert [(k, tuple(v.shape)) for k, v in model.state_dict().items()] == want
    assert [k for k, _ in model.named_buffers()] == [k for k, _ in hand.named_buffers()]  # scratch included


def test_forward_equals_the_hand_written_module_in_both_backends() -> None:
    result = _check(PROGRAM)
    hand = HandNet().double().eval()
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in hand.state_dict().items()}
    hand.load_state_dict(state, strict=True)
    ours = get_backend("torch").build(result)().double().eval()
    ours.load_state_dict(state, strict=True)
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), hand(x))
        want = hand(x).numpy()
    numpy_model = numpy_ref.build(result)({k: v.numpy() for k, v in state.items()}, dtype=np.float64)
    np.testing.assert_allclose(numpy_model(x.numpy()), want, rtol=1e-12)


def test_generated_declarations_read_like_pytorch() -> None:
    code = get_backend("torch").generate(_check(PROGRAM)).code
    assert "self.scale = nn.Parameter(torch.ones(d))" in code
    assert "self.register_buffer('running', torch.zeros(d))" in code
    assert "self.register_buffer('scratch', torch.full((1, d), 0.5), persistent=False)" in code
    assert "self.bias = nn.Parameter(torch.zeros(d))" in code


def _declared(init: str, n: int = 40_000) -> torch.Tensor:
    text = f"network N {{\n    input x: f32[B, {n}]\n    param w: f32[{n}] = {init}\n    output x * w\n}}\n"
    torch.manual_seed(0)
    return get_backend("torch").build(_check(text))().w.detach()


def test_initializers_follow_torch_nn_init() -> None:
    assert torch.equal(_declared("zeros"), torch.zeros(40_000))
    assert torch.equal(_declared("ones"), torch.ones(40_000))
    assert torch.equal(_declared("constant(1e-6)"), torch.full((40_000,), 1e-6))
    normal = _declared("normal(std=0.02)")
    assert abs(normal.mean().item()) < 1e-3 and normal.std().item() == pytest.approx(0.02, rel=0.03)
    trunc = _declared("trunc_normal(std=1.0, a=-0.5, b=0.5)")
    assert trunc.min() >= -0.5 and trunc.max() <= 0.5
    ref = nn.init.trunc_normal_(torch.empty(40_000), std=1.0, a=-0.5, b=0.5)
    assert trunc.std().item() == pytest.approx(ref.std().item(), rel=0.05)
    uniform = _declared("uniform(-0.1, 0.3)")
    assert uniform.min() >= -0.1 and uniform.max() <= 0.3 and uniform.mean().item() == pytest.approx(0.1, abs=3e-3)


def test_declared_sizes_follow_block_parameters_and_set() -> None:
    text = ("network N(d: int = 3) {\n    input x: f32[B, T, d]\n    param pos: f32[1, T, d] = zeros\n"
            "    output x + pos\n}\n")
    bound = _check(text, {"T": 5, "d": 2}).graphs["N"]
    assert [(e.key, tuple(e.shape)) for e in bound.state_dict()] == [("pos", (1, 5, 2))]
    diags = _diagnostics(text)
    assert [d.code for d in diags] == ["E210"] and "symbolic `T`" in diags[0].message


def test_check_table_lists_declarations_and_counts_them() -> None:
    graph = _check(PROGRAM).graphs["Net"]
    from netc.dsl.summary import format_table

    table = format_table(graph)
    assert "bias" in table and "param" in table and "buffer (not saved)" in table
    assert "total parameters: 48" in table  # 4 + 20 + 20 + 4, with blk.running and blk.scratch buffers


@pytest.mark.parametrize(("line", "code", "words"), [
    ("param t: f32[1, 4]", "E320", "needs an initializer"),
    ("parameter t: f32[1, 4] = zeros", "E320", "did you mean `param t: ...`"),
    ("t = nn.Parameter(torch.zeros(1, 4))", "E103", "param name: f32[d1, d2] = zeros"),
    ("self.register_buffer(\"t\", torch.ones(4))", "E103", "buffer name: f32[d1, d2] = zeros"),
    ("t = register_buffer(\"t\", ones(4))", "E301", "buffer name: f32[d1, d2] = zeros"),
    ("t = Parameter(zeros(1, 4))", "E301", "param name: f32[d1, d2] = zeros"),
    ("param t: f32[4] = randn", "E320", "did you mean `normal`?"),
    ("param t: i64[4] = zeros", "E320", "floating-point"),
    ("buffer t: i64[4] = normal(std=1.0)", "E320", "draws floating-point numbers"),
    ("param t: f32[4] = zeros, persistent=false", "E320", "a parameter takes no options"),
    ("param t: f32[4] = uniform(1.0, 0.0)", "E305", "a < b"),
])
def test_natural_spellings_land_on_the_syntax(line: str, code: str, words: str) -> None:
    text = f"network N {{\n    input x: f32[B, 4]\n    {line}\n    output x\n}}\n"
    diags = _diagnostics(text)
    first = [d for d in diags if d.severity == "error"][0]
    assert first.code == code
    assert words in first.message + " " + (first.help or "")


def test_a_declaration_name_is_a_layer_name_too() -> None:
    text = ("network N {\n    input x: f32[B, 4]\n    param fc: f32[4] = zeros\n"
            "    x -> Linear(4) as fc -> y\n    output y + fc\n}\n")
    assert "E307" in [d.code for d in _diagnostics(text)]


def test_param_inside_if_follows_the_branch() -> None:
    text = ("network N(biased: bool = true) {\n    input x: f32[B, 4]\n    if biased {\n"
            "        param b: f32[4] = zeros\n        x = x + b\n    }\n    output x -> Linear(2) as fc\n}\n")
    assert [e.key for e in _check(text).graphs["N"].state_dict()] == ["b", "fc.weight", "fc.bias"]
    off = _check(text, {"biased": False}).graphs["N"]
    assert [e.key for e in off.state_dict()] == ["fc.weight", "fc.bias"]
    model = get_backend("torch").build(_check(text))()
    assert list(model.state_dict()) == ["b", "fc.weight", "fc.bias"]


def test_onnx_holds_declarations_as_initializers() -> None:
    pytest.importorskip("onnxruntime")
    from netc.export import build_model, fresh_state, verify_onnx

    result = _check(PROGRAM)
    graph = result.graphs["Net"]
    state = fresh_state(graph)
    assert np.array_equal(state["blk.scale"], np.ones(4, np.float32))
    model = build_model(graph, state)
    assert {"bias", "blk.scale", "blk.running"} <= {i.name for i in model.graph.initializer}
    report = verify_onnx(result, Source("decl.net", PROGRAM), {}, "Net")
    assert all(c.ok for c in report.checks)


def test_diagram_draws_declarations_in_their_module() -> None:
    from netc.codegen.dot import to_dot

    dot = to_dot(_check(PROGRAM).graphs["Net"])
    assert "param bias = zeros" in dot and "buffer running = zeros" in dot


def test_formatter_writes_declarations_canonically() -> None:
    from netc.fmt import format_text

    messy = "network N {\n  input x: f32[B, 4]\n  param   t :f32[1,4]=trunc_normal( std = 0.02 )\n" \
            "  buffer m: f32[4] = ones , persistent = false\n  output x + t + m\n}\n"
    out = format_text(messy, "m.net")
    assert "    param t: f32[1, 4] = trunc_normal(std=0.02)\n" in out
    assert "    buffer m: f32[4] = ones, persistent=false\n" in out
    assert format_text(out, "m.net") == out


def test_summary_counts_declared_parameters_and_buffers() -> None:
    from netc.dsl.cost import summarize

    s = summarize(_check(PROGRAM).graphs["Net"])
    hand = HandNet()
    assert s.trainable == sum(p.numel() for p in hand.parameters())
    assert s.param_bytes == {"float32": 4 * s.trainable}
    assert s.buffer_bytes == {"float32": 4 * hand.blk.running.numel()}  # the non-persistent one is not saved


def test_editor_outline_lists_declarations() -> None:
    from netc.lsp.analysis import analyze, outline

    items = {o.name: o for o in outline(analyze("decl.net", PROGRAM))}
    kinds = {c.name: c.kind for c in items["Blk"].children}
    assert kinds["scale"] == "param" and kinds["running"] == "buffer" and kinds["scratch"] == "buffer"
    assert {c.name: c.kind for c in items["Net"].children}["bias"] == "param"
