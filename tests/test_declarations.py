"""Layers declared before their use: the state_dict in the order torch registers the layers.

Oracles: torch's own `nn.TransformerEncoderLayer`, and torchvision's Swin `PatchMerging`, copied below from
torchvision 0.29.1's swin_transformer.py (torchvision cannot be installed beside torch 2.13.0). Both register a
layer before another that their forward uses first.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import netc
from netc.dsl.compiler import compile_source
from netc.dsl.source import Source

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def _patch_merging_pad(x: torch.Tensor) -> torch.Tensor:
    H, W, _ = x.shape[-3:]
    x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    x0 = x[..., 0::2, 0::2, :]  # ... H/2 W/2 C
    x1 = x[..., 1::2, 0::2, :]  # ... H/2 W/2 C
    x2 = x[..., 0::2, 1::2, :]  # ... H/2 W/2 C
    x3 = x[..., 1::2, 1::2, :]  # ... H/2 W/2 C
    return torch.cat([x0, x1, x2, x3], -1)  # ... H/2 W/2 4*C


class TvPatchMerging(nn.Module):
    """torchvision.models.swin_transformer.PatchMerging."""

    def __init__(self, dim: int, norm_layer: type[nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _patch_merging_pad(x)
        x = self.norm(x)
        return self.reduction(x)  # ... H/2 W/2 2*C


PATCH_MERGING = """
block PatchMerging(dim: int) {
    input x: f32[B, H, W, C]
    reduction = Linear(2 * dim, bias=false)  # registered here, as torchvision's __init__ does
    x0 = x[:, 0::2, 0::2, :]
    x1 = x[:, 1::2, 0::2, :]
    x2 = x[:, 0::2, 1::2, :]
    x3 = x[:, 1::2, 1::2, :]
    output concat(x0, x1, x2, x3, dim=-1) -> LayerNorm as norm -> reduction
}

network Merge {
    input x: f32[B, 8, 8, 16]
    output x -> PatchMerging(16) as merge
}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "decl.net"
    path.write_text(text)
    return path


def _layout(items) -> list[tuple[str, tuple[int, ...]]]:  # type: ignore[no-untyped-def]
    return [(k, tuple(v.shape)) for k, v in items]


def test_patch_merging_registers_reduction_before_norm_like_torchvision(tmp_path: Path) -> None:
    path = _write(tmp_path, PATCH_MERGING)
    graph = netc.check(path).graphs["Merge"]
    reference = nn.Sequential()
    reference.add_module("merge", TvPatchMerging(16))
    assert [(e.key, tuple(e.shape)) for e in graph.state_dict()] == _layout(reference.state_dict().items())
    model = netc.build(path)().eval()
    assert list(model.state_dict()) == ["merge.reduction.weight", "merge.norm.weight", "merge.norm.bias"]
    assert [name for name, _ in model.merge.named_children()] == ["reduction", "norm"]
    reference.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 8, 8, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()(x))


def test_use_order_stays_the_default(tmp_path: Path) -> None:
    inline = PATCH_MERGING.replace("    reduction = Linear(2 * dim, bias=false)  # registered here, as torchvision's "
                                   "__init__ does\n", "").replace("-> reduction", "-> Linear(2 * dim, bias=false) "
                                                                  "as reduction")
    graph = netc.check(_write(tmp_path, inline)).graphs["Merge"]
    assert [e.key for e in graph.state_dict()] == ["merge.norm.weight", "merge.norm.bias", "merge.reduction.weight"]


ENCODER_LAYER = """
block EncoderLayer(d: int, heads: int, ff: int, p: float) {
    input x: f32[B, S, d]
    self_attn = MultiheadAttention(d, heads, dropout=p, batch_first=true)
    linear1 = Linear(ff)
    dropout = Dropout(p)
    linear2 = Linear(d)
    norm1 = LayerNorm()
    norm2 = LayerNorm()
    x = x + (x -> self_attn -> Dropout(p) as dropout1) -> norm1
    output x + (x -> linear1 -> relu -> dropout -> linear2 -> Dropout(p) as dropout2) -> norm2
}

network Enc {
    input x: f32[B, 7, 16]
    output x -> EncoderLayer(16, 4, 24, 0.1) as layer
}
"""


def test_encoder_layer_declared_like_nn_transformer_encoder_layer(tmp_path: Path) -> None:
    path = _write(tmp_path, ENCODER_LAYER)
    reference = nn.TransformerEncoderLayer(16, 4, 24, 0.1, batch_first=True)
    theirs = _layout(reference.state_dict().items())
    graph = netc.check(path).graphs["Enc"]
    assert [(e.key.removeprefix("layer."), tuple(e.shape)) for e in graph.state_dict()] == theirs
    assert theirs[4][0] == "linear1.weight"  # torch's order: self_attn, linear1, linear2, norm1, norm2
    model = netc.build(path)().eval()
    reference.eval().load_state_dict({k.removeprefix("layer."): v for k, v in model.state_dict().items()},
                                     strict=True)
    x = torch.randn(3, 7, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


BLOCK = """
block B(c: int) {
    input x: f32[N, C]
%s
}

network Net {
    input x: f32[2, 8]
    output x -> B(8) as b
}
"""


def _codes(body: str) -> list[str]:
    result = compile_source(Source("<test>", BLOCK % body), None)
    return [d.code for d in result.diagnostics.items]


def test_declaration_errors() -> None:
    assert _codes("    fc = Linear(c)\n    output x -> relu") == ["E313"]  # never applied
    assert _codes("    fc = Linear(c)\n    output x -> fc -> fc") == ["E313"]  # applied twice
    assert _codes("    fc = Linear(c)\n    output x -> [fc, relu] as seq") == ["E313", "E313"]  # in a container
    assert _codes("    fc = Linear(c)\n    output x -> fc as other") == ["E313", "E313"]
    assert _codes("    fc = Linear(c)\n    y = fc + 1\n    output x -> fc") == ["E204"]  # not a value
    assert _codes("    fc = Linear(c)\n    output x -> Linear(c) as fc") == ["E307", "E313"]


def test_declared_layer_applied_as_a_call_and_blocks_can_be_declared() -> None:
    assert _codes("    fc = Linear(c)\n    output fc(x)") == []
    text = BLOCK % "    output x -> Linear(c) as fc" + """
network Two {
    input x: f32[2, 8]
    second = B(8)
    first = B(8)
    output x -> first -> second
}
"""
    result = compile_source(Source("<test>", text), None)
    assert not result.diagnostics.items
    assert [e.key for e in result.graphs["Two"].state_dict()] == ["second.fc.weight", "second.fc.bias",
                                                                   "first.fc.weight", "first.fc.bias"]


def test_assignment_with_a_tensor_argument_still_applies() -> None:
    assert _codes("    y = concat(x, x, dim=-1)\n    output y -> Linear(c) as fc") == []


def test_an_earlier_error_does_not_make_a_declared_layer_unapplied() -> None:
    codes = _codes("    fc = Linear(c)\n    norm = LayerNorm()\n    output x -> Conv2d(4, 3) -> fc -> norm(N)")
    assert "E313" not in codes and codes


def test_a_declared_name_is_kept_clear_of_generated_names() -> None:
    # The unnamed Linear before the declaration would otherwise be named `linear1`, taking the declared name.
    result = compile_source(Source("<test>", BLOCK % "    y = x -> Linear(c)\n    linear1 = Linear(c)\n"
                                   "    output y -> linear1"), None)
    assert not result.diagnostics.items
    assert [e.key for e in result.graphs["Net"].state_dict()] == [
        "b.linear2.weight", "b.linear2.bias", "b.linear1.weight", "b.linear1.bias"]
