"""samples/llama.net against Hugging Face's LlamaForCausalLM.

Llama-2-7B (the defaults) is checked symbolically only, through `netc check` and its IR, against a layout derived
by hand from HF's module registration order; nothing of its 6.7 billion parameters is allocated. The tiny
configuration of tests/reference/hf_llama_tiny.json (transformers 5.25.0) is set through `--set` and the
compiled torch module's state_dict compared with that file; its forward pass is compared with HF's Llama
written by hand in tests/handwritten_llama.py, on the same weights.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.cli import main  # noqa: E402

from .conftest import REFERENCE, SAMPLES  # noqa: E402
from .handwritten_llama import LlamaConfig, LlamaForCausalLM  # noqa: E402

LLAMA = SAMPLES / "llama.net"
TINY = json.loads((REFERENCE / "hf_llama_tiny.json").read_text())
# What the sample fixes rather than takes as a parameter: SiLU, no biases, an untied head.
FIXED = {"hidden_act": "silu", "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False}
NOT_ARCHITECTURE = {"bos_token_id", "eos_token_id"}  # generation settings: no weights, no computation


def tiny_overrides() -> dict[str, object]:
    config = TINY["config_kwargs"]
    assert {k: config[k] for k in FIXED} == FIXED
    return {k: v for k, v in config.items() if k not in FIXED and k not in NOT_ARCHITECTURE}


def hf_layout(vocab: int, hidden: int, intermediate: int, layers: int, heads: int,
              kv_heads: int) -> list[tuple[str, tuple[int, ...]]]:
    """LlamaForCausalLM's state_dict in HF's registration order (modeling_llama.py): LlamaModel registers
    embed_tokens, layers, norm (rotary_emb holds only non-persistent buffers); each decoder layer registers
    self_attn (q, k, v, o), mlp (gate, up, down), then its two norms."""
    head_dim = hidden // heads
    out = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + "self_attn.q_proj.weight", (heads * head_dim, hidden)),
                (p + "self_attn.k_proj.weight", (kv_heads * head_dim, hidden)),
                (p + "self_attn.v_proj.weight", (kv_heads * head_dim, hidden)),
                (p + "self_attn.o_proj.weight", (hidden, heads * head_dim)),
                (p + "mlp.gate_proj.weight", (intermediate, hidden)),
                (p + "mlp.up_proj.weight", (intermediate, hidden)),
                (p + "mlp.down_proj.weight", (hidden, intermediate)),
                (p + "input_layernorm.weight", (hidden,)),
                (p + "post_attention_layernorm.weight", (hidden,))]
    return out + [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


LLAMA2_7B = hf_layout(32000, 4096, 11008, 32, 32, 32)
# embed + head, 32 x (4 attention projections + 3 MLP projections + 2 norms), final norm (reference/README.md)
LLAMA2_7B_PARAMS = 2 * 32000 * 4096 + 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096) + 4096


def test_llama2_7b_counts_symbolically() -> None:
    assert LLAMA2_7B_PARAMS == 6_738_415_616 and len(LLAMA2_7B) == 291
    graph = netc.check(LLAMA).graphs["LlamaForCausalLM"]
    entries = graph.state_dict()
    assert {e.key: tuple(e.shape) for e in entries} == dict(LLAMA2_7B)
    assert len(entries) == 291 and all(e.kind == "parameter" and e.dtype == "float32" for e in entries)
    assert graph.num_params == sum(e.numel for e in entries) == LLAMA2_7B_PARAMS
    result = CliRunner().invoke(main, ["check", str(LLAMA)])
    assert result.exit_code == 0, result.output
    assert "total parameters: 6,738,415,616" in result.output
    assert "model.layers.31.mlp.down_proj" in result.output and "(B, T, 32000)" in result.output


def test_llama2_7b_order_is_hfs() -> None:
    graph = netc.check(LLAMA).graphs["LlamaForCausalLM"]
    assert [(e.key, tuple(e.shape)) for e in graph.state_dict()] == LLAMA2_7B


def test_tiny_through_set_has_hfs_keys_shapes_and_count() -> None:
    sets = [arg for k, v in tiny_overrides().items() for arg in ("--set", f"{k}={v}")]
    result = CliRunner().invoke(main, ["check", str(LLAMA), *sets])
    assert result.exit_code == 0, result.output
    assert f"total parameters: {TINY['total_parameters']:,}" in result.output  # 103,744
    module = netc.build(LLAMA, overrides=tiny_overrides())()
    ours = {k: (list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in module.state_dict().items()}
    assert ours == {e["key"]: (e["shape"], e["dtype"]) for e in TINY["state_dict"]}
    assert all(e["kind"] == "parameter" for e in TINY["state_dict"]) and not list(module.buffers())
    assert len(ours) == TINY["num_state_dict_entries"] == 21
    assert sum(p.numel() for p in module.parameters()) == TINY["total_parameters"]
    assert not TINY["tied_state_dict_keys"]
    assert not any("inv_freq" in k for k in ours)  # HF's rotary buffers are not persistent
    # the hand-derived layout that the Llama-2-7B test relies on is HF's, order included
    assert [(e["key"], tuple(e["shape"])) for e in TINY["state_dict"]] == hf_layout(100, 64, 172, 2, 4, 2)


def test_tiny_order_is_hfs() -> None:
    module = netc.build(LLAMA, overrides=tiny_overrides())()
    assert list(module.state_dict()) == [e["key"] for e in TINY["state_dict"]]


def _hf_config(overrides: dict[str, object]) -> LlamaConfig:
    names = {f for f in LlamaConfig.__dataclass_fields__}
    return LlamaConfig(**{k: v for k, v in overrides.items() if k in names})  # type: ignore[arg-type]


@pytest.mark.parametrize("change", [{}, {"num_key_value_heads": 4}, {"num_key_value_heads": 1}, {"head_dim": 8}],
                         ids=["grouped", "multi-head", "multi-query", "head_dim"])
def test_forward_equals_hugging_faces_llama(change: dict[str, int]) -> None:
    overrides = tiny_overrides() | change
    torch.manual_seed(0)
    ours = netc.build(LLAMA, overrides=overrides)().eval()
    state = ours.state_dict()
    gen = torch.Generator().manual_seed(1)
    for key, value in state.items():
        if key.endswith("norm.weight"):  # away from ones, so a norm's weight is really applied
            state[key] = 1 + 0.2 * torch.randn(value.shape, generator=gen)
    ours.load_state_dict(state)
    theirs = LlamaForCausalLM(_hf_config(overrides)).eval()
    theirs.load_state_dict(state, strict=True)
    ids = torch.randint(0, 100, (2, 13), generator=gen)
    with torch.no_grad():
        got, want = ours(ids), theirs(ids)
    assert got.shape == (2, 13, 100)
    torch.testing.assert_close(got, want, rtol=1.3e-6, atol=1e-5)
    # causal: a later token changes nothing before it
    changed = ids.clone()
    changed[:, -1] = (ids[:, -1] + 1) % 100
    with torch.no_grad():
        torch.testing.assert_close(ours(changed)[:, :-1], got[:, :-1])


def test_rope_theta_reaches_the_rotary_table() -> None:
    """A different rope_theta changes the output as it changes HF's (the base is not fixed in the sample)."""
    overrides = tiny_overrides() | {"rope_theta": 500000.0}
    ours = netc.build(LLAMA, overrides=overrides)().eval()
    theirs = LlamaForCausalLM(_hf_config(overrides)).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ids = torch.arange(20).reshape(2, 10) % 100
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), theirs(ids), rtol=1.3e-6, atol=1e-5)


def test_sequences_longer_than_the_context_are_rejected() -> None:
    sets = [arg for k, v in tiny_overrides().items() for arg in ("--set", f"{k}={v}")]
    result = CliRunner().invoke(main, ["check", str(LLAMA), *sets, "--set", "T=129"])
    assert result.exit_code == 1 and "128" in result.output
