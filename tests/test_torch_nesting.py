"""Short operand chains fold into the expression that reads them (`x = x + self.attn(self.ln_1(x))`), and only
where that cannot change what the code computes or hide a name the source chose.

The oracle for the GPT-2 block is nanoGPT's model.py, whose Block.forward reads (verbatim):
    x = x + self.attn(self.ln_1(x))
    x = x + self.mlp(self.ln_2(x))
"""
from __future__ import annotations

from pathlib import Path

import pytest

import netc
from netc.codegen import get_backend
from netc.codegen.torch.nesting import fold_operand_chains

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_gpt2_block_forward_is_nanogpts() -> None:
    code = get_backend("torch").generate(netc.check(SAMPLES / "gpt2.net")).code
    block = code[code.index("class Block("):code.index("class Transformer(")]
    body = [line.split("  #")[0].strip() for line in block[block.index("def forward"):].splitlines()[1:] if line.strip()]
    assert body == ["x = x + self.attn(self.ln_1(x))", "x = x + self.mlp(self.ln_2(x))", "return x"]


def test_a_two_step_chain_folds_into_the_sum_keeping_the_sums_shape() -> None:
    lines = ["h = self.ln(x)  # (B, d)", "h = self.attn(h)  # (B, d)", "x = x + h  # (B, d)", "return x"]
    assert fold_operand_chains(lines) == ["x = x + self.attn(self.ln(x))  # (B, d)", "return x"]


@pytest.mark.parametrize("lines", [
    # three calls nest deeper than the step-by-step lines read
    ["h = self.a(x)", "h = self.b(h)", "h = self.c(h)", "y = x + h", "return y"],
    # works in place: moving it inside the sum could reorder it against the other operand
    ["h = F.relu(x, inplace=True)", "y = x + h", "return y"],
    ["h = self.a(x)", "h.add_(1)", "y = x + h", "return y"],
    # not a layer of the module
    ["p = torch.arange(T, device=x.device)", "y = x + p", "return y"],
    # read again later
    ["h = self.a(x)", "y = x + h", "return y, h"],
    # a different block (inside an `if`)
    ["if self.flag:", "    h = self.a(x)", "y = x + h", "return y"],
    # two reads in the consumer: folding would run the layer twice
    ["h = self.a(x)", "y = h * h", "return y"],
    # the consumer makes a call of its own, which would now run before the folded layer
    ["h = self.a(x)", "y = self.b(x) + h", "return y"],
    # the consumer is a call, not arithmetic: the trunk stays one step per line, as torchvision writes it
    ["h = self.a(x)", "y = self.b(h)", "return y"],
])
def test_folding_leaves_alone_what_it_cannot_fold_faithfully(lines: list[str]) -> None:
    assert fold_operand_chains(lines) == lines


def test_a_name_the_source_chose_is_kept() -> None:
    lines = ["types = self.token_type_embeddings(ids)", "words = words + types", "return words"]
    assert fold_operand_chains(lines, keep={"types"}) == lines
    assert fold_operand_chains(lines) == ["words = words + self.token_type_embeddings(ids)", "return words"]


def test_a_line_too_long_once_folded_is_left_alone() -> None:
    long = "h = self.a_layer_with_a_rather_long_name(x_with_a_long_name, another_argument_name_that_is_long)"
    lines = [long, "y = x + h  # (B, d)", "return y"]
    assert fold_operand_chains(lines) == lines
