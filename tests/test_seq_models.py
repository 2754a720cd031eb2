"""The sequence-model samples against hand-written torch models with the published layouts.

The reference models below are written from the papers and the projects they name (nanoGPT's model.py,
Hugging Face's modeling_bert.py, PyTorch's examples/word_language_model, torch's own nn.Transformer), not from
netc's output. Here: state_dict keys, shapes and parameter counts at the published sizes (built on the meta
device, so GPT-2 costs no memory), the `netc check` table, and the `where T <= ctx` constraint.
test_seq_parity.py loads the same weights into both and compares the numbers.
"""
from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from click.testing import CliRunner
from torch import nn

import netc
from netc.cli import main
from netc.dsl.ir import Graph

from .conftest import SAMPLES


# -- nanoGPT (karpathy/nanoGPT model.py, flash-attention era: no `attn.bias` buffer) ---------------------
class NanoCausalSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.n_head, self.n_embd = heads, d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        q = q.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        v = v.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        # The explicit ("slow") attention of nanoGPT, so the oracle does not share torch's fused kernel.
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool, device=x.device))
        att = att.masked_fill(~causal, float("-inf"))
        att = self.attn_dropout(F.softmax(att, dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.resid_dropout(self.c_proj(y))


class NanoMLP(nn.Module):
    def __init__(self, d: int, dropout: float) -> None:
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * d, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class NanoBlock(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = NanoCausalSelfAttention(d, heads, dropout)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = NanoMLP(d, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    def __init__(self, vocab: int = 50257, ctx: int = 1024, d: int = 768, layers: int = 12, heads: int = 12,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, d),
            wpe=nn.Embedding(ctx, d),
            drop=nn.Dropout(dropout),
            h=nn.ModuleList([NanoBlock(d, heads, dropout) for _ in range(layers)]),
            ln_f=nn.LayerNorm(d),
        ))
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT does

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.size(1)
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


# -- BERT (Hugging Face transformers, models/bert/modeling_bert.py) ----------------------------------------
class BertEmbeddings(nn.Module):
    def __init__(self, vocab: int, d: int, max_pos: int, type_vocab: int, p: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, d, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_pos, d)
        self.token_type_embeddings = nn.Embedding(type_vocab, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(p)
        self.register_buffer("position_ids", torch.arange(max_pos).expand((1, -1)), persistent=False)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        position_ids = self.position_ids[:, : input_ids.size(1)]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int, p: float) -> None:
        super().__init__()
        self.num_attention_heads, self.attention_head_size = heads, d // heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.dropout = nn.Dropout(p)

    def transpose_for_scores(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)).permute(0, 2, 1, 3)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        q = self.transpose_for_scores(self.query(hidden))
        k = self.transpose_for_scores(self.key(hidden))
        v = self.transpose_for_scores(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size) + attention_mask
        probs = self.dropout(nn.Softmax(dim=-1)(scores))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.size()[:-2] + (self.num_attention_heads * self.attention_head_size,))


class BertSelfOutput(nn.Module):  # also the shape of BertOutput, with d_in = the intermediate size
    def __init__(self, d_in: int, d: int, p: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d)
        self.LayerNorm = nn.LayerNorm(d, eps=1e-12)
        self.dropout = nn.Dropout(p)

    def forward(self, hidden: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, d: int, heads: int, p: float) -> None:
        super().__init__()
        self.self = BertSelfAttention(d, heads, p)
        self.output = BertSelfOutput(d, d, p)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(hidden, attention_mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, d: int, ff: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d, ff)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden))


class BertLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, p: float) -> None:
        super().__init__()
        self.attention = BertAttention(d, heads, p)
        self.intermediate = BertIntermediate(d, ff)
        self.output = BertSelfOutput(ff, d, p)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        a = self.attention(hidden, attention_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, layers: int, p: float) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(d, heads, ff, p) for _ in range(layers)])


class BertPooler(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d, d)
        self.activation = nn.Tanh()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    def __init__(self, vocab: int = 30522, d: int = 768, layers: int = 12, heads: int = 12, ff: int = 3072,
                 max_pos: int = 512, type_vocab: int = 2, p: float = 0.1) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(vocab, d, max_pos, type_vocab, p)
        self.encoder = BertEncoder(d, heads, ff, layers, p)
        self.pooler = BertPooler(d)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """attention_mask: 1 for real tokens, 0 for padding (Hugging Face's convention)."""
        h = self.embeddings(input_ids, token_type_ids)
        extended = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.encoder.layer:
            h = layer(h, extended)
        return h, self.pooler(h)


# -- PyTorch examples/word_language_model (RNNModel, --tied) and two plain recurrent models -------------------
class RNNModel(nn.Module):
    def __init__(self, rnn_type: str, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float = 0.5,
                 tie_weights: bool = False) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            self.decoder.weight = self.encoder.weight

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.drop(self.encoder(tokens))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


class LSTMClassifier(nn.Module):
    def __init__(self, vocab: int = 20000, emb: int = 128, hidden: int = 256, layers: int = 2, classes: int = 2,
                 p: float = 0.3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.lstm = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=p)
        self.dropout = nn.Dropout(p)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, (h, c) = self.lstm(self.embedding(tokens))
        return self.fc(self.dropout(out[:, -1])), h, c


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab: int = 8000, tgt_vocab: int = 8000, emb: int = 256, hidden: int = 512,
                 layers: int = 2, p: float = 0.2) -> None:
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab, emb)
        self.encoder = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=p)
        self.tgt_embed = nn.Embedding(tgt_vocab, emb)
        self.decoder = nn.LSTM(emb, hidden, layers, batch_first=True, dropout=p)
        self.generator = nn.Linear(hidden, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.src_embed(src))
        out, _ = self.decoder(self.tgt_embed(tgt), state)
        return self.generator(out)


# -- layouts at the published sizes --------------------------------------------------------------------------
def graph_of(sample: str, overrides: dict[str, int] | None = None) -> Graph:
    result = netc.check(SAMPLES / sample, overrides)
    (graph,) = result.graphs.values()
    return graph


def layout(graph: Graph) -> list[tuple[str, tuple[int, ...], str]]:
    return [(e.key, tuple(e.shape), e.kind) for e in graph.state_dict()]


def torch_layout(model: nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    params = {k for k, _ in model.named_parameters(remove_duplicate=False)}
    return [(k, tuple(v.shape), "parameter" if k in params else "buffer") for k, v in model.state_dict().items()]


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # tied parameters once


def on_meta(make: Any) -> nn.Module:
    with torch.device("meta"):
        return make()  # type: ignore[no-any-return]


PUBLISHED = {  # /work/shared/reference/README.md
    "gpt2.net": 124_439_808,
    "bert.net": 109_482_240,
    "transformer.net": 44_140_544,
}


@pytest.mark.parametrize(("sample", "make"), [
    ("gpt2.net", lambda: NanoGPT()),
    ("bert.net", lambda: BertModel()),
    ("gru_lm.net", lambda: RNNModel("GRU", 33278, 650, 650, 2, 0.5, tie_weights=True)),
    ("lstm_classifier.net", lambda: LSTMClassifier()),
    ("seq2seq.net", lambda: Seq2Seq()),
])
def test_state_dict_equals_the_reference_model(sample: str, make: Any) -> None:
    """Same keys, shapes and order as the hand-written model, so its checkpoints load with strict=True."""
    graph = graph_of(sample)
    model = on_meta(make)
    assert layout(graph) == torch_layout(model)
    assert graph.num_params == count(model)
    if sample in PUBLISHED:
        assert graph.num_params == PUBLISHED[sample]


def test_transformer_has_the_keys_of_nn_transformer() -> None:
    graph = graph_of("transformer.net")
    ref = on_meta(lambda: nn.Transformer(512, 8, 6, 6, 2048))
    ours, theirs = layout(graph), torch_layout(ref)
    # nn.TransformerEncoderLayer registers linear1 and linear2 before norm1, though norm1 runs first; the sample
    # declares its layers in that order (dsl/declarations.py), so keys, shapes and their order are torch's.
    assert ours == theirs
    assert graph.num_params == count(ref) == PUBLISHED["transformer.net"]


def test_gpt2_ties_lm_head_to_wte_like_torch() -> None:
    """torch's state_dict lists a tied weight under both names; parameters() (and netc's count) once."""
    graph = graph_of("gpt2.net")
    entries = {e.key: e for e in graph.state_dict()}
    assert entries["lm_head.weight"].tied_to == "transformer.wte.weight"
    assert entries["transformer.wte.weight"].tied_to is None
    assert entries["lm_head.weight"].shape == entries["transformer.wte.weight"].shape == (50257, 768)
    wte, wpe, block, ln_f = 50257 * 768, 1024 * 768, 7_087_872, 2 * 768  # README breakdown
    assert graph.num_params == wte + wpe + 12 * block + ln_f
    assert sum(e.numel for e in graph.state_dict()) == graph.num_params + wte


def test_bert_without_the_pooler() -> None:
    graph = graph_of("bert.net")
    pooler = sum(e.numel for e in graph.state_dict() if e.key.startswith("pooler."))
    assert graph.num_params - pooler == 108_891_648


# -- the check table, constraints ----------------------------------------------------------------------------
def test_check_shows_symbolic_sequence_shapes() -> None:
    r = CliRunner().invoke(main, ["check", str(SAMPLES / "gpt2.net")])
    assert r.exit_code == 0, r.output
    lines = {line.split()[0]: line for line in r.output.splitlines() if line.strip()}
    assert "(B, T, 768)" in lines["transformer.h.0.attn.c_proj"]
    assert "(B, T, 2304)" in lines["transformer.h.0.attn.c_attn"]
    assert "(B, 12, T, 64)" in lines["transformer.h.11.attn.transpose1"]
    assert "(B, T, 50257)" in lines["lm_head"]
    assert "tied transformer.wte.weight" in lines["lm_head"]
    assert "total parameters: 124,439,808" in r.output
    assert "assumes: T <= 1024" in r.output


def test_sequence_longer_than_the_context_is_an_error() -> None:
    r = CliRunner().invoke(main, ["check", str(SAMPLES / "gpt2.net"), "--set", "T=2000"])
    assert r.exit_code == 1
    assert "error[E209]" in r.output and "2000 <= 1024" in r.output
    ok = CliRunner().invoke(main, ["check", str(SAMPLES / "gpt2.net"), "--set", "T=1024"])
    assert ok.exit_code == 0 and "assumes" not in ok.output
    bert = CliRunner().invoke(main, ["check", str(SAMPLES / "bert.net"), "--set", "T=513"])
    assert bert.exit_code == 1 and "error[E209]" in bert.output


def test_lstm_outputs_and_states() -> None:
    graph = graph_of("lstm_classifier.net")
    outs = {n: str(v.type) for n, v in graph.outputs}
    assert outs == {"logits": "f32[B, 2]", "h": "f32[2, B, 256]", "c": "f32[2, B, 256]"}
    seq = graph_of("seq2seq.net")
    decoder = next(n for n in seq.op_nodes() if n.path == "decoder")
    encoder = next(n for n in seq.op_nodes() if n.path == "encoder")
    assert decoder.inputs[1:] == encoder.outputs[1:], "the decoder starts from the encoder's (h, c)"
