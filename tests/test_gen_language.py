"""The language features of the generative models.

* Optional inputs: `input eps: f32[B, 20] = randn` (also rand, zeros, ones), what the checker requires of
  them, how the IR records them, and what both backends do when the caller passes or leaves them out.
* Networks used as blocks by other networks of the same file (state_dict prefixes, argument and shape errors).
* `chunk`/`split` into named values, several named outputs.
* Divisibility facts and requirements on symbolic dims (dsl/divisibility.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from netc.codegen import get_backend
from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import render_all
from netc.dsl.dims import dims_equal, floordiv, sym
from netc.dsl.divisibility import add_fact, facts_scope, recording, requirement
from netc.dsl.ir import InputDefault
from netc.dsl.source import Source

torch = pytest.importorskip("torch")


def _compile(text: str, network: str | None = None, overrides: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    return compile_source(Source("case.net", text), overrides, network)


# -- optional inputs ----------------------------------------------------------------------------------------
NOISY = """\
block Noisy {
    input x: f32[N, C]
    input eps: f32[N, C] = randn
    output x + eps
}
network Reparam(latent: int = 4) {
    input x: f32[B, 8]
    input eps: f32[B, latent] = randn
    h = x -> Linear(2 * latent) as fc
    mu, logvar = h -> chunk(2, dim=1)
    output z = mu + eps * exp(0.5 * logvar), mu, logvar
}
network Outer {
    input x: f32[B, 8]
    a = x -> Noisy() as left                # eps left out: drawn inside
    b = (x, a) -> Noisy() as right          # eps passed
    z, mu, logvar = x -> Reparam() as reparam
    output a, b, z
}
"""


def test_optional_inputs_in_the_ir() -> None:
    result = _compile(NOISY)
    assert result.ok, render_all(result.diagnostics)
    reparam = result.graphs["Reparam"]
    assert [n for n, _, _ in reparam.inputs] == ["x", "eps"]
    assert reparam.input_defaults == {"eps": InputDefault("randn", "f32", (sym("B"), 4), {"B": ("x", 0)})}
    outer = result.graphs["Outer"]
    assert [n for n, _, _ in outer.inputs] == ["x"] and outer.input_defaults == {}
    left, right, inner = (m for m in outer.root.body if getattr(m, "definition", None) in ("Noisy", "Reparam"))
    # In the block's own dim names, bound from its first input, whichever value the call passes.
    noisy = InputDefault("randn", "f32", (sym("N"), sym("C")), {"C": ("x", 1), "N": ("x", 0)})
    assert left.input_defaults == right.input_defaults == {"eps": noisy}
    assert len(left.inputs) == 1 and len(right.inputs) == 2
    assert inner.input_defaults["eps"].dims == (sym("B"), 4)
    # The value drawn inside `left` has no producer; the one `right` uses is the caller's `a`.
    (add_left,) = [n for n in left.op_nodes() if n.op == "add"]
    assert add_left.inputs[1].producer is None and add_left.inputs[1].name == "eps"


def test_the_table_marks_optional_inputs() -> None:
    from netc.dsl.summary import format_table

    table = format_table(_compile(NOISY).graphs["Reparam"])
    assert "eps     input = randn  f32[B, 4]" in table


BAD_OPTIONAL = """\
network Bad {
    input x: f32[B, 8]
    input e1: f32[B, 4] = randm
    input e2: f32[N, 4] = randn
    input e3: i64[B, 4] = rand
    input e4: i64[B, 4] = zeros
    input y: f32[B, 8]
    output x + y
}
"""
BAD_OPTIONAL_EXPECTED = """\
error[E301]: unknown fill `randm` for the optional input `e1`
 --> case.net:3:27
  |
3 |     input e1: f32[B, 4] = randm
  |                           ^^^^^
  |
  = help: did you mean `rand`?

error[E300]: `N` in the shape of the optional input `e2` is not bound by an earlier input
 --> case.net:4:19
  |
4 |     input e2: f32[N, 4] = randn
  |                   ^ not defined here
  |
  = help: an optional input takes its dims from the inputs before it, parameters or numbers: nothing else fixes them when the caller leaves it out

error[E205]: `rand` makes floating-point noise, but input `e3` is i64
 --> case.net:5:15
  |
5 |     input e3: i64[B, 4] = rand
  |               ^^^
  |
  = help: declare it f32, or fill it with `zeros`

warning[W001]: input `e4` is never used
 --> case.net:6:11
  |
6 |     input e4: i64[B, 4] = zeros
  |           ^^
  |
  = help: prefix the name with `_` to silence this

error[E204]: required input `y` comes after the optional input `e4`
 --> case.net:7:11
  |
7 |     input y: f32[B, 8]
  |           ^
  |
  = help: declare optional inputs (`= randn`) after the required ones, as `forward` takes them last

4 errors and 1 warning found
"""


def test_optional_input_errors() -> None:
    assert render_all(_compile(BAD_OPTIONAL).diagnostics) == BAD_OPTIONAL_EXPECTED


def test_an_optional_input_may_take_a_set_size() -> None:
    text = "network N {\n    input x: f32[B, 8]\n    input e: f32[B, K] = zeros\n    output x\n}\n"
    assert not _compile(text).ok  # K is bound by nothing
    result = _compile(text, overrides={"K": 3})
    assert result.ok
    assert result.graphs["N"].input_defaults["e"].dims == (sym("B"), 3)


def test_torch_forward_takes_the_optional_input_or_draws_it() -> None:
    result = _compile(NOISY)
    outer = get_backend("torch").build(result, network="Outer")()
    reparam = get_backend("torch").build(result, network="Reparam")()
    x = torch.randn(3, 8)
    eps = torch.randn(3, 4)
    with torch.no_grad():
        z, mu, logvar = reparam(x, eps)
        torch.testing.assert_close(z, mu + eps * torch.exp(0.5 * logvar))
        torch.manual_seed(0)
        drawn = reparam(x)[0]
        torch.manual_seed(0)
        torch.testing.assert_close(drawn, mu + torch.randn(3, 4) * torch.exp(0.5 * logvar))
        a, b, _ = outer(x)
        assert a.shape == b.shape == (3, 8)
        assert not torch.allclose(a, x)  # noise was drawn inside `left`
    # One class per definition, although one call passes `eps` and the other leaves it out.
    code = get_backend("torch").generate(result).code
    assert code.count("class Noisy(") == 1 and "class Noisy_" not in code
    assert "def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None)" in code


def test_numpy_forward_takes_the_optional_input_or_draws_it_from_its_seed() -> None:
    result = _compile(NOISY)
    weights = {"fc.weight": np.random.default_rng(0).standard_normal((8, 8)), "fc.bias": np.zeros(8)}
    reparam_cls = get_backend("numpy").build(result, network="Reparam")
    x = np.random.default_rng(1).standard_normal((3, 8))
    eps = np.random.default_rng(2).standard_normal((3, 4))
    model = reparam_cls(weights, dtype=np.float64, seed=5)
    z, mu, logvar = model.forward(x, eps)
    np.testing.assert_allclose(z, mu + eps * np.exp(0.5 * logvar), rtol=1e-12)
    first = reparam_cls(weights, dtype=np.float64, seed=5).forward(x)[0]
    again = reparam_cls(weights, dtype=np.float64, seed=5).forward(x)[0]
    other = reparam_cls(weights, dtype=np.float64, seed=6).forward(x)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


# -- networks that use one another -------------------------------------------------------------------------
PARTS = """\
network Encoder(latent: int = 8) {
    input x: f32[B, 32]
    x -> Linear(16) as fc1 -> relu -> Linear(latent) as fc2 -> z
    output z
}
network Decoder(latent: int = 8) {
    input z: f32[B, latent]
    z -> Linear(32) as fc -> sigmoid -> y
    output y
}
"""


def test_a_network_used_as_a_block_keeps_its_layer_names_under_the_callers_name() -> None:
    text = PARTS + ("network AE {\n    input x: f32[B, 32]\n"
                    "    x -> Encoder() as encoder -> Decoder() as decoder -> y\n    output y\n}\n")
    result = _compile(text)
    assert result.ok
    keys = [e.key for e in result.graphs["AE"].state_dict()]
    assert keys == ["encoder.fc1.weight", "encoder.fc1.bias", "encoder.fc2.weight", "encoder.fc2.bias",
                    "decoder.fc.weight", "decoder.fc.bias"]
    assert result.graphs["AE"].num_params == result.graphs["Encoder"].num_params + result.graphs["Decoder"].num_params
    ae = get_backend("torch").build(result, network="AE")()
    enc = get_backend("torch").build(result, network="Encoder")()
    dec = get_backend("torch").build(result, network="Decoder")()
    enc.load_state_dict({k[len("encoder."):]: v for k, v in ae.state_dict().items() if k.startswith("encoder.")})
    dec.load_state_dict({k[len("decoder."):]: v for k, v in ae.state_dict().items() if k.startswith("decoder.")})
    x = torch.randn(2, 32)
    with torch.no_grad():
        torch.testing.assert_close(ae(x), dec(enc(x)))


def test_a_network_used_as_a_block_checks_its_input_type() -> None:
    text = PARTS + ("network AE {\n    input x: f32[B, 32]\n"
                    "    x -> Encoder(latent=4) as encoder -> Decoder(latent=8) as decoder -> y\n    output y\n}\n")
    result = _compile(text, network="AE")
    assert [d.code for d in result.diagnostics.errors] == ["E200"]
    message = result.diagnostics.errors[0].message
    assert message == "`Decoder` input `z` expects f32[B, latent], but got f32[B, 4]"


def test_chunk_into_named_values_and_several_named_outputs() -> None:
    text = ("network Heads {\n    input x: f32[B, 12]\n    a, b, c = x -> chunk(3, dim=1)\n"
            "    p, q = x -> split((4, 8), dim=-1)\n    output first = a, b, total = c + p, q\n}\n")
    graph = _compile(text).graphs["Heads"]
    assert [(n, str(v.type)) for n, v in graph.outputs] == [
        ("first", "f32[B, 4]"), ("b", "f32[B, 4]"), ("total", "f32[B, 4]"), ("q", "f32[B, 8]")]
    model = get_backend("torch").build(_compile(text))()
    x = torch.randn(2, 12)
    first, b, total, q = model(x)
    a_, b_, c_ = torch.chunk(x, 3, dim=1)
    p_, q_ = torch.split(x, (4, 8), dim=-1)
    for got, want in ((first, a_), (b, b_), (total, c_ + p_), (q, q_)):
        torch.testing.assert_close(got, want)


# -- divisibility ---------------------------------------------------------------------------------------------
H, W = sym("H"), sym("W")


@pytest.mark.parametrize(("a", "b", "want"), [
    (2 * floordiv(H, 16), floordiv(H, 8), {"H": 16}),         # the deepest U-Net skip
    (2 * floordiv(H, 2), H, {"H": 2}),                          # pool then upsample
    (floordiv(H - 1, 2) + 1, floordiv(H, 2), {"H": 2}),         # conv stride 2 vs pool: equal for even H
    (4 * floordiv(W, 4), W, {"W": 4}),
    (H, W, None),                                               # no modulus makes two symbols equal
    (2 * floordiv(H, 2), H + 1, None),                          # never equal
])
def test_requirement(a, b, want) -> None:  # type: ignore[no-untyped-def]
    assert requirement(a, b) == want
    if want is not None:
        # Sound: with the symbol a multiple of the modulus the two are equal, for every such value;
        # and minimal: for each smaller modulus some value makes them differ.
        (s, m), = want.items()
        other = {"H": 7, "W": 7}
        for k in range(1, 20):
            vals = {**other, s: m * k}
            assert _at(a, vals) == _at(b, vals)
        for smaller in range(1, m):
            if m % smaller == 0:
                assert any(_at(a, {**other, s: smaller * k}) != _at(b, {**other, s: smaller * k})
                           for k in range(1, 40))


def _at(d, values):  # type: ignore[no-untyped-def]
    from netc.dsl.dims import subs

    return subs(d, values)


def test_facts_settle_comparisons_only_while_in_scope() -> None:
    a, b = 2 * floordiv(H, 16), floordiv(H, 8)
    assert dims_equal(a, b) is None
    with facts_scope():
        add_fact("H", 16)
        assert dims_equal(a, b) is True
        assert dims_equal(2 * floordiv(H, 8), floordiv(H, 4)) is True
        assert dims_equal(floordiv(H, 16), floordiv(H, 8)) is False  # K vs 2K with K >= 1
    assert dims_equal(a, b) is None
    with recording() as undecided:
        dims_equal(a, b)
    assert undecided == [(a, b)]


def test_printed_dims_are_python_that_computes_them() -> None:
    """Generated code splices printed dims: `2*(H)//16` would mean (2*H)//16."""
    from netc.dsl.dims import subs

    dims = [2 * floordiv(H, 16), -floordiv(H, 2), floordiv(H, 2) * W, floordiv(H, 3) * floordiv(H, 3),
            3 * floordiv(2 * floordiv(H, 4) + 1, 3) - 1, W - floordiv(H - 1, 2)]
    for d in dims:
        for h in range(1, 50):
            assert eval(str(d), {"H": h, "W": 5}) == subs(d, {"H": h, "W": 5}), (str(d), h)  # noqa: S307


def test_where_clauses_state_what_the_network_needs() -> None:
    """Two poolings and a 4x upsampling added to the input: H and W must be multiples of 4."""
    def text(where: str) -> str:
        return (f"network N {{\n    input x: f32[B, 3, H, W]{where}\n"
                "    x -> MaxPool2d(2) -> MaxPool2d(2) -> Upsample(scale_factor=4) -> y\n    output x + y\n}\n")

    full = _compile(text(" where H % 4 == 0, W % 4 == 0"))
    assert full.ok and not full.diagnostics.items, render_all(full.diagnostics)
    assert [c.text for c in full.graphs["N"].constraints] == ["H % 4 == 0", "W % 4 == 0"]
    no_w = render_all(_compile(text(" where H % 4 == 0")).diagnostics)
    assert no_w.count("error[") == 1
    assert "error[E207]: `W` must be a multiple of 4 for the shapes to line up" in no_w
    assert "input `x` allows any W" in no_w and "`add` needs W == 4*((W)//4) here" in no_w
    weak = render_all(_compile(text(" where H % 4 == 0, W % 2 == 0")).diagnostics)
    assert "error[E207]: `W` must be a multiple of 4" in weak and "input `x` only promises a multiple of 2" in weak
    concrete = _compile(text(" where H % 4 == 0, W % 4 == 0"), overrides={"H": 8, "W": 6})
    assert [d.code for d in concrete.diagnostics.errors] == ["E209"]
    assert concrete.diagnostics.errors[0].help == "W must be a multiple of 4"
