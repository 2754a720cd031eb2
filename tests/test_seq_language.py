"""Language features for sequence models: nested unpacking, state and mask inputs, tensor indexing, weight tying.

Expected figures are hand-derived (parameter counts from the layer formulas) or come from torch's rules.
"""
from __future__ import annotations

import pytest

from netc.dsl.compiler import Result, compile_source
from netc.dsl.ir import Graph
from netc.dsl.source import Source


def run(body: str, inputs: str = "input x: f32[B, T, 8]") -> Result:
    text = "network N {\n    " + inputs.replace("\n", "\n    ") + "\n    " + body.replace("\n", "\n    ") + "\n}\n"
    return compile_source(Source("n.net", text))


def ok(body: str, inputs: str = "input x: f32[B, T, 8]") -> Graph:
    result = run(body, inputs)
    assert result.ok, [f"{d.code}: {d.message}" for d in result.diagnostics.items]
    assert not result.diagnostics.items, [f"{d.code}: {d.message}" for d in result.diagnostics.items]
    return result.graphs["N"]


def errors(body: str, inputs: str = "input x: f32[B, T, 8]") -> list[str]:
    return [d.code for d in run(body, inputs).diagnostics.items if d.severity == "error"]


def outputs(g: Graph) -> dict[str, str]:
    return {n: str(v.type) for n, v in g.outputs}


# -- several outputs, nested unpacking, state inputs ---------------------------------------------------------
def test_lstm_unpacks_into_out_and_a_state_pair() -> None:
    g = ok("out, (h, c) = x -> LSTM(16, 2, batch_first=true) as lstm\noutput out, h, c")
    assert outputs(g) == {"out": "f32[B, T, 16]", "h": "f32[2, B, 16]", "c": "f32[2, B, 16]"}
    (node,) = g.op_nodes()
    assert [v.name for v in node.outputs] == ["lstm_0", "lstm_1", "lstm_2"]


@pytest.mark.parametrize("targets", ["out, h, c", "out, (h, c, d)", "(a, b), c"])
def test_unpacking_must_follow_the_structure(targets: str) -> None:
    assert "E309" in errors(f"{targets} = x -> LSTM(16, batch_first=true)\noutput out")


def test_gru_and_rnn_give_out_and_h() -> None:
    g = ok("out, h = x -> GRU(4, bidirectional=true) as gru\ny, hy = x -> RNN(3, nonlinearity=\"relu\")\n"
           "output out, h, y, hy", "input x: f32[T, B, 8]")
    assert outputs(g) == {"out": "f32[T, B, 8]", "h": "f32[2, B, 4]", "y": "f32[T, B, 3]", "hy": "f32[1, B, 3]"}


@pytest.mark.parametrize("call", [
    "x -> LSTM(6, (h0, c0), batch_first=true)",
    "x -> LSTM(6, h0, c0, batch_first=true)",
    "(x, (h0, c0)) -> LSTM(6, batch_first=true)",
    "LSTM(x, (h0, c0), hidden_size=6, batch_first=true)",
])
def test_initial_state_spellings(call: str) -> None:
    g = ok(f"out, (h, c) = {call}\noutput out, h, c",
           "input x: f32[B, T, 8]\ninput h0: f32[1, B, 6]\ninput c0: f32[1, B, 6]")
    (node,) = g.op_nodes()
    assert [v.name for v in node.inputs] == ["x", "h0", "c0"]


@pytest.mark.parametrize(("inputs", "call", "code"), [
    ("input h0: f32[1, B, 6]", "LSTM(6, h0)", "E308"),                      # LSTM needs (h0, c0)
    ("input h0: f32[2, B, 6]", "GRU(6, h0)", "E200"),                       # one layer, one direction: 1
    ("input h0: f32[1, B, 5]", "GRU(6, h0)", "E200"),                       # hidden size
    ("input h0: f32[B, 6]", "GRU(6, h0)", "E201"),                          # batched input, 2-D state
    ("input h0: f64[1, B, 6]", "GRU(6, h0)", "E205"),                       # dtype
    ("input h0: f32[1, 3, 6]", "GRU(6, h0)", "E200"),                       # B vs 3: cannot prove equal
])
def test_state_shape_errors(inputs: str, call: str, code: str) -> None:
    result = run(f"out, h = x -> {call}\noutput out, h", "input x: f32[T, B, 8]\n" + inputs)
    assert code in {d.code for d in result.diagnostics.items}


def test_recurrent_attribute_errors() -> None:
    assert "E305" in errors("out, (h, c) = x -> LSTM(6, proj_size=6)\noutput out")
    assert "E305" in errors("out, h = x -> GRU(6, dropout=1.5)\noutput out")
    assert "E302" in errors("out, h = x -> GRU(6, proj_size=2)\noutput out")  # only LSTM projects
    assert "E201" in errors("out, h = x -> GRU(6)\noutput out", "input x: f32[B, T, 8, 2]")
    assert "E205" in errors("out, h = x -> GRU(6)\noutput out", "input x: i64[B, T, 8]")


def test_multihead_attention_weights_are_a_second_output() -> None:
    g = ok("y, w = x -> MultiheadAttention(8, 2, batch_first=true, need_weights=true) as attn\noutput y, w")
    assert outputs(g) == {"y": "f32[B, T, 8]", "w": "f32[B, T, T]"}
    assert g.num_params == 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8


# -- tensor inputs by keyword (masks) -----------------------------------------------------------------------------
def test_masks_are_inputs_whose_attribute_holds_the_index() -> None:
    g = ok("y = x -> MultiheadAttention(8, 2, batch_first=true, key_padding_mask=pad) as attn\noutput y",
           "input x: f32[B, T, 8]\ninput pad: bool[B, T]")
    (node,) = g.op_nodes()
    assert [v.name for v in node.inputs] == ["x", "pad"]
    assert node.attrs["key_padding_mask"] == 1 and node.attrs["attn_mask"] is None
    assert "pad" not in node.attr_source


@pytest.mark.parametrize(("inputs", "mask", "code"), [
    ("input pad: bool[B, T]", "key_padding_mask=3", "E305"),              # not a tensor
    ("input pad: i64[B, T]", "key_padding_mask=pad", "E205"),             # masks are bool
    ("input pad: bool[B, 5]", "key_padding_mask=pad", "E200"),            # T vs 5: cannot prove equal
    ("input pad: bool[T, B]", "key_padding_mask=pad", "E200"),
    ("input pad: bool[4, 5]", "key_padding_mask=pad", "E200"),            # with --set-like sizes below
])
def test_mask_errors(inputs: str, mask: str, code: str) -> None:
    x = "input x: f32[2, 5, 8]" if code == "E200" else "input x: f32[B, T, 8]"
    result = run(f"y = x -> MultiheadAttention(8, 2, batch_first=true, {mask})\noutput y", f"{x}\n{inputs}")
    assert code in {d.code for d in result.diagnostics.items}


def test_sdpa_key_padding_mask_is_bool_n_by_s() -> None:
    body = "y = scaled_dot_product_attention(q, k, v, key_padding_mask=pad, causal=true)\noutput y"
    decl = "input q: f32[B, H, T, 16]\ninput k: f32[B, H, S, 16]\ninput v: f32[B, H, S, 8]\ninput pad: bool[B, S]"
    assert outputs(ok(body, decl)) == {"y": "f32[B, H, T, 8]"}
    assert "E200" in errors(body, decl.replace("bool[B, S]", "bool[B, S, 2]"))
    assert "E200" in errors(body, decl.replace("f32[B, H, S, 16]", "f32[B, H, S, 12]"))


# -- indexing and slicing --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expr", "code"), [
    ("x[:, :, 8]", "E208"),          # index out of range for the known dim 8
    ("x[0, 0, 0, 0]", "E208"),       # too many indices
    ("x[:, ::0]", "E305"),           # step 0
    ("x[:, ::-1]", "E305"),          # torch has no negative steps
    ("x[:, 1.5]", "E204"),
    ("x[x]", "E204"),                # tensor indices
    ("x[:, \"a\":]", "E204"),
])
def test_index_errors(expr: str, code: str) -> None:
    assert code in errors(f"y = {expr}\noutput y")


def test_index_is_an_op_with_its_items() -> None:
    g = ok("y = x[:, -1]\nz = x[1:, :, none]\noutput y, z")
    assert outputs(g) == {"y": "f32[B, 8]", "z": "f32[B - 1, T, 1, 8]"}
    first = next(iter(g.op_nodes()))
    assert first.op == "index" and first.attrs["items"] == (slice(None, None, None), -1)


# -- weight tying -----------------------------------------------------------------------------------------------
TIED = """tok = ids -> Embedding(100, 16) as wte
y = tok -> Linear(16) as proj -> Linear(100, bias=false, tied=wte) as head
output y"""


def test_tied_weight_is_listed_twice_and_counted_once() -> None:
    g = ok(TIED, "input ids: i64[B, T]")
    sd = {e.key: e for e in g.state_dict()}
    assert list(sd) == ["wte.weight", "proj.weight", "proj.bias", "head.weight"]
    assert sd["head.weight"].tied_to == "wte.weight" and sd["head.weight"].shape == (100, 16)
    assert g.num_params == 100 * 16 + 16 * 16 + 16  # the head's weight is wte's
    head = next(n for n in g.op_nodes() if n.path == "head")
    assert head.attrs["tied"] == "wte" and head.tied == {"weight": "wte.weight"}


def test_tie_reaches_into_blocks_and_chains_to_the_owner() -> None:
    text = """block Body(d: int) {
    input ids: i64[B, T]
    ids -> Embedding(50, d) as wte -> out
    output out
}
network N {
    input ids: i64[B, T]
    h = ids -> Body(8) as transformer
    a = h -> Linear(50, bias=false, tied=wte) as head
    b = h -> Linear(50, bias=false, tied=head) as head2
    c = h -> Linear(50, bias=false, tied="transformer.wte") as head3
    output a, b, c
}
"""
    result = compile_source(Source("t.net", text))
    assert result.ok, [d.message for d in result.diagnostics.items]
    g = result.graphs["N"]
    tied = {e.key: e.tied_to for e in g.state_dict()}
    assert tied == {"transformer.wte.weight": None, "head.weight": "transformer.wte.weight",
                    "head2.weight": "transformer.wte.weight", "head3.weight": "transformer.wte.weight"}
    assert g.num_params == 50 * 8


@pytest.mark.parametrize(("tie", "code"), [
    ("tied=wtf", "E300"),                        # no such layer (did you mean wte?)
    ("tied=proj", "E200"),                       # proj's weight is (16, 16)
    ("tied=relu1", "E305"),                      # a layer without a weight
    ("tied=3", "E305"),
])
def test_tie_errors(tie: str, code: str) -> None:
    body = TIED.replace("tied=wte", tie).replace("as proj", "as proj -> relu")
    assert code in errors(body, "input ids: i64[B, T]")


def test_ambiguous_tie_asks_for_the_path() -> None:
    text = """block E {
    input ids: i64[B, T]
    ids -> Embedding(20, 4) as emb -> out
    output out
}
network N {
    input ids: i64[B, T]
    a = ids -> E as left
    b = ids -> E as right
    y = a + b -> Linear(20, tied=emb) as head
    output y
}
"""
    result = compile_source(Source("t.net", text))
    (err,) = [d for d in result.diagnostics.items if d.severity == "error"]
    assert err.code == "E300" and "left.emb" in err.message and "right.emb" in err.message


# -- keywords as layer names (Hugging Face's attention.output), bool masks ------------------------------------------
def test_output_and_input_are_layer_names_too() -> None:
    g = ok("y = x -> Linear(8) as output -> Linear(8) as input\noutput y")
    assert [e.key for e in g.state_dict()] == ["output.weight", "output.bias", "input.weight", "input.bias"]


def test_reductions_and_arange_in_a_network() -> None:
    g = ok("m = x -> mean(dim=1)\ns = x -> sum(dim=(1, 2), keepdim=true)\ni = x -> argmax(dim=-1)\n"
           "p = arange(T) -> Embedding(32, 8)\ny = x + p\noutput m, s, i, y")
    assert outputs(g) == {"m": "f32[B, 8]", "s": "f32[B, 1, 1]", "i": "i64[B, T]", "y": "f32[B, T, 8]"}
