"""Programs for the later op families, each with a torch reference written from torch's documentation.

Used by tests/test_numpy_completeness.py (every op has a case) and tests/test_ops_more.py (each case compiled
to NumPy and to PyTorch, both compared with the reference).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the usual spelling

from .test_numpy_completeness import Case, module

IMG = "input x: f32[2, 4, 6, 8]"
VOL = "input x: f32[1, 2, 5, 6, 5]"
SEQ = "input x: f32[2, 3, 8]"


def _act(op: str, call: str, ref: object) -> Case:
    return Case(op, f"x -> {call} -> out\noutput out", lambda i, s: ref(i["x"]))  # type: ignore[operator]


def _unary(op: str, fn: object, pre: str = "", safe: object = None) -> Case:
    """`op` of x, or of a transformed x inside its domain (sqrt(abs(x) + 1)); the reference repeats it."""
    body = f"out = {op}({pre or 'x'})\noutput out"
    return Case(op, body, lambda i, s: fn(safe(i["x"]) if safe else i["x"]))  # type: ignore[operator,misc]


def _positive(x: torch.Tensor) -> torch.Tensor:
    return torch.abs(x) + 0.5


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x)


def _pad_layer(kind: str, n: int, args: tuple[float, ...]) -> Case:
    layer = getattr(torch.nn, f"{kind}{n}d")(*args)
    text = ", ".join(map(str, args))
    return Case(f"{kind}{n}d", f"x -> {kind}{n}d({text}) -> out\noutput out", lambda i, s: layer(i["x"]),
                inputs={1: SEQ, 2: IMG, 3: VOL}[n])


def _cross_map(size: int) -> Case:
    layer = torch.nn.CrossMapLRN2d(size, alpha=0.1)
    return Case("CrossMapLRN2d", f"x -> CrossMapLRN2d({size}, alpha=0.1) as lrn -> out\noutput out",
                lambda i, s: layer(i["x"]), inputs=IMG)


def _compare(symbol: str, op: str) -> Case:
    fn = getattr(torch, op)
    return Case(op, f"out = x {symbol} y\noutput out", lambda i, s: fn(i["x"], i["y"]),
                inputs="input x: f32[2, 6]\n    input y: f32[6]")


MORE_CASES: list[Case] = [
    # element-wise math
    *[_unary(op, getattr(torch, op)) for op in ("sin", "cos", "tan", "atan", "sinh", "cosh", "asinh", "expm1",
                                                  "exp2", "erf", "erfc", "neg", "abs", "sign", "square", "floor",
                                                  "ceil", "round", "trunc", "reciprocal")],
    *[_unary(op, getattr(torch, op), "abs(x) + 0.5", _positive) for op in ("sqrt", "rsqrt", "log", "log2", "log10",
                                                                           "log1p")],
    _unary("acosh", torch.acosh, "abs(x) + 1.5", lambda x: torch.abs(x) + 1.5),
    *[_unary(op, getattr(torch, op), "tanh(x)", _unit) for op in ("asin", "acos", "atanh", "erfinv")],
    Case("clamp", "out = x -> clamp(min=-0.5, max=0.7)\noutput out", lambda i, s: i["x"].clamp(-0.5, 0.7)),
    Case("clamp", "out = x -> clip(max=0.1)\noutput out", lambda i, s: i["x"].clamp(max=0.1)),
    Case("pow", "out = pow(abs(x), 1.5)\noutput out", lambda i, s: i["x"].abs() ** 1.5),
    Case("pow", "out = pow(abs(x), y)\noutput out", lambda i, s: i["x"].abs() ** i["y"],
         inputs="input x: f32[2, 6]\n    input y: f32[6]"),
    Case("pow", "out = 2.0 ** x\noutput out", lambda i, s: 2.0 ** i["x"]),
    Case("pow", "out = x ** -2\noutput out", lambda i, s: i["x"] ** -2),
    # comparisons and the element-wise extremes of two tensors (tensor operators)
    *[_compare(sym, op) for sym, op in (("==", "eq"), ("!=", "ne"), ("<", "lt"), ("<=", "le"), (">", "gt"),
                                          (">=", "ge"))],
    Case("gt", "out = 0.25 < x\noutput out", lambda i, s: 0.25 < i["x"]),  # Python swaps it to x > 0.25
    Case("eq", "out = x * 0.0 == y * 0.0\noutput out", lambda i, s: i["x"] * 0.0 == i["y"] * 0.0,
         inputs="input x: f32[2, 6]\n    input y: f32[6]"),
    Case("minimum", "out = min(x, y)\noutput out", lambda i, s: torch.minimum(i["x"], i["y"]),
         inputs="input x: f32[2, 6]\n    input y: f32[6]"),
    Case("maximum", "out = max(x, y)\noutput out", lambda i, s: torch.maximum(i["x"], i["y"]),
         inputs="input x: f32[2, 6]\n    input y: i32[2, 1]"),
    Case("where", "out = where(x > 0, x, -x ** 2)\noutput out", lambda i, s: torch.where(i["x"] > 0, i["x"], -i["x"] ** 2)),
    Case("where", "out = where_(m, x, y)\noutput out", lambda i, s: torch.where(i["m"], i["x"], i["y"]),
         inputs="input m: bool[2, 1]\n    input x: f32[2, 6]\n    input y: f32[6]"),
    Case("where", "out = where_(m, x, other=0.5)\noutput out", lambda i, s: torch.where(i["m"], i["x"], 0.5),
         inputs="input m: bool[2, 6]\n    input x: f32[2, 6]"),
    Case("masked_fill", "out = masked_fill(x, m, -1.5)\noutput out", lambda i, s: i["x"].masked_fill(i["m"], -1.5),
         inputs="input x: f32[2, 3, 6]\n    input m: bool[3, 1]"),
    # activations
    Case("relu6", "out = relu6(x * 4.0)\noutput out", lambda i, s: F.relu6(i["x"] * 4)),
    _act("hardtanh", "Hardtanh(-0.5, 0.8)", lambda x: F.hardtanh(x, -0.5, 0.8)),
    Case("hardswish", "out = hardswish(x * 3.0)\noutput out", lambda i, s: F.hardswish(i["x"] * 3)),
    Case("hardsigmoid", "out = hardsigmoid(x * 3.0)\noutput out", lambda i, s: F.hardsigmoid(i["x"] * 3)),
    _act("mish", "Mish", F.mish),
    _act("selu", "SELU", F.selu),
    _act("celu", "CELU(alpha=0.7)", lambda x: F.celu(x, 0.7)),
    _act("rrelu", "RReLU(0.1, 0.3)", lambda x: F.rrelu(x, 0.1, 0.3, training=False)),
    _act("logsigmoid", "LogSigmoid", F.logsigmoid),
    _act("softsign", "Softsign", F.softsign),
    _act("softshrink", "Softshrink(0.3)", lambda x: F.softshrink(x, 0.3)),
    _act("hardshrink", "Hardshrink(lambd=0.3)", lambda x: F.hardshrink(x, 0.3)),
    _act("tanhshrink", "Tanhshrink", F.tanhshrink),
    _act("threshold", "Threshold(0.1, -2.0)", lambda x: F.threshold(x, 0.1, -2.0)),
    _act("softmin", "Softmin(dim=1)", lambda x: F.softmin(x, 1)),
    Case("Softmax2d", "x -> Softmax2d -> out\noutput out", lambda i, s: F.softmax(i["x"], -3), inputs=IMG),
    _act("glu", "GLU(dim=-1)", lambda x: F.glu(x, -1)),
    Case("PReLU", "x -> PReLU(3) as act -> out\noutput out", lambda i, s: F.prelu(i["x"], s["act.weight"])),
    Case("PReLU", "x -> PReLU as act -> out\noutput out", lambda i, s: F.prelu(i["x"], s["act.weight"]), inputs=IMG),
    # shapes
    Case("unsqueeze", "out = x -> unsqueeze(-2)\noutput out", lambda i, s: i["x"].unsqueeze(-2)),
    Case("squeeze", "out = x -> squeeze\noutput out", lambda i, s: i["x"].squeeze(),
         inputs="input x: f32[2, 1, 5, 1]"),
    Case("squeeze", "out = x -> squeeze(dim=(0, 3))\noutput out", lambda i, s: i["x"].squeeze((0, 3)),
         inputs="input x: f32[2, 1, 5, 1]"),
    Case("expand", "out = x -> expand(B, 4, -1, 3)\noutput out", lambda i, s: i["x"].expand(2, 4, -1, 3),
         inputs="input x: f32[4, 5, 1]\n    input y: f32[B]", sizes={"B": 2}),
    Case("repeat", "out = x -> repeat(2, 1, 3)\noutput out", lambda i, s: i["x"].repeat(2, 1, 3),
         inputs="input x: f32[3, 4]"),
    Case("repeat_interleave", "out = x -> repeat_interleave(2, dim=1)\noutput out",
         lambda i, s: i["x"].repeat_interleave(2, dim=1)),
    Case("repeat_interleave", "out = x -> repeat_interleave(3)\noutput out",
         lambda i, s: i["x"].repeat_interleave(3)),
    Case("stack", "out = stack(x, y, dim=1)\noutput out", lambda i, s: torch.stack([i["x"], i["y"]], 1),
         inputs="input x: f32[2, 6]\n    input y: f32[2, 6]"),
    Case("roll", "out = x -> roll((1, -2), dims=(0, 2))\noutput out",
         lambda i, s: torch.roll(i["x"], (1, -2), (0, 2))),
    Case("roll", "out = x -> roll(5)\noutput out", lambda i, s: torch.roll(i["x"], 5)),
    Case("Unflatten", "x -> Unflatten(2, (2, -1)) -> out\noutput out", lambda i, s: i["x"].unflatten(2, (2, -1))),
    Case("Identity", "x -> Identity -> relu -> out\noutput out", lambda i, s: F.relu(i["x"])),
    # ordering, selection
    Case("cumsum", "out = x -> cumsum(1)\noutput out", lambda i, s: i["x"].cumsum(1)),
    Case("topk", "v, k = x -> topk(3, dim=1)\noutput v, k", lambda i, s: tuple(torch.topk(i["x"], 3, dim=1))),
    Case("topk", "v, k = x -> topk(2, largest=false)\noutput v, k",
         lambda i, s: tuple(torch.topk(i["x"], 2, largest=False))),
    Case("sort", "v, k = x -> sort(dim=0, descending=true)\noutput v, k",
         lambda i, s: tuple(torch.sort(i["x"], 0, descending=True))),
    Case("gather", "v, k = x -> sort(dim=2)\nout = gather(y, k[:, :, :3], dim=2)\noutput out",
         lambda i, s: torch.gather(i["y"], 2, torch.sort(i["x"], 2)[1][:, :, :3]),
         inputs="input x: f32[2, 3, 8]\n    input y: f32[2, 3, 8]"),
    Case("einsum", "out = einsum(\"bij,bjk->bik\", x, y)\noutput out",
         lambda i, s: torch.einsum("bij,bjk->bik", i["x"], i["y"]),
         inputs="input x: f32[2, 3, 4]\n    input y: f32[2, 4, 5]"),
    Case("einsum", "out = einsum(\"...i,...i\", x, y)\noutput out",
         lambda i, s: torch.einsum("...i,...i", i["x"], i["y"]),
         inputs="input x: f32[2, 3, 4]\n    input y: f32[3, 4]"),
    # padding
    Case("pad", "out = x -> pad((1, 2, 0, 1), value=0.5)\noutput out", lambda i, s: F.pad(i["x"], (1, 2, 0, 1),
                                                                                       value=0.5)),
    Case("pad", "out = x -> pad((-1, 2))\noutput out", lambda i, s: F.pad(i["x"], (-1, 2))),
    Case("pad", "out = x -> pad((2, 1, 1, 1), mode=\"reflect\")\noutput out",
         lambda i, s: F.pad(i["x"], (2, 1, 1, 1), mode="reflect"), inputs=IMG),
    *[_pad_layer(kind, n, args) for kind, args in (("ConstantPad", (2, 3.5)), ("ZeroPad", (1,)),
                                                    ("ReflectionPad", (1,)), ("ReplicationPad", (2,)),
                                                    ("CircularPad", (1,))) for n in (1, 2, 3)],
    Case("ReflectionPad2d", "x -> ReflectionPad2d((1, 0, 2, 3)) -> out\noutput out",
         lambda i, s: F.pad(i["x"], (1, 0, 2, 3), mode="reflect"), inputs=IMG),
    # pixels
    Case("PixelShuffle", "x -> PixelShuffle(2) -> out\noutput out", lambda i, s: F.pixel_shuffle(i["x"], 2),
         inputs=IMG),
    Case("PixelUnshuffle", "x -> PixelUnshuffle(2) -> out\noutput out", lambda i, s: F.pixel_unshuffle(i["x"], 2),
         inputs=IMG),
    Case("ChannelShuffle", "x -> ChannelShuffle(2) -> out\noutput out",
         lambda i, s: torch.nn.ChannelShuffle(2)(i["x"]), inputs=IMG),
    Case("Unfold", "x -> Unfold((2, 3), dilation=(1, 2), padding=1, stride=2) -> out\noutput out",
         lambda i, s: F.unfold(i["x"], (2, 3), dilation=(1, 2), padding=1, stride=2), inputs=IMG),
    Case("Fold", "x -> Fold((5, 6), 2, stride=(1, 2)) -> out\noutput out",
         lambda i, s: F.fold(i["x"], (5, 6), 2, stride=(1, 2)), inputs="input x: f32[2, 12, 12]"),
    # normalisation
    Case("BatchNorm3d", "x -> BatchNorm3d as bn -> out\noutput out",
         lambda i, s: F.batch_norm(i["x"], s["bn.running_mean"], s["bn.running_var"], s["bn.weight"], s["bn.bias"]),
         inputs=VOL),
    Case("SyncBatchNorm", "x -> SyncBatchNorm as bn -> out\noutput out",
         lambda i, s: F.batch_norm(i["x"], s["bn.running_mean"], s["bn.running_var"], s["bn.weight"], s["bn.bias"]),
         inputs=IMG),
    Case("GroupNorm", "x -> GroupNorm(2, eps=0.001) as gn -> out\noutput out",
         lambda i, s: F.group_norm(i["x"], 2, s["gn.weight"], s["gn.bias"], 1e-3), inputs=IMG),
    Case("InstanceNorm1d", "x -> InstanceNorm1d -> out\noutput out", lambda i, s: F.instance_norm(i["x"])),
    Case("InstanceNorm2d", "x -> InstanceNorm2d(affine=true) as n -> out\noutput out",
         lambda i, s: F.instance_norm(i["x"], weight=s["n.weight"], bias=s["n.bias"]), inputs=IMG),
    Case("InstanceNorm3d", "x -> InstanceNorm3d(track_running_stats=true) as n -> out\noutput out",
         lambda i, s: F.instance_norm(i["x"], s["n.running_mean"], s["n.running_var"], use_input_stats=False),
         inputs=VOL),
    Case("LocalResponseNorm", "x -> LocalResponseNorm(3, alpha=0.1) -> out\noutput out",
         lambda i, s: F.local_response_norm(i["x"], 3, alpha=0.1), inputs=IMG),
    *[_cross_map(n) for n in (2, 3, 6)],
    Case("LayerNorm2d", "x -> LayerNorm2d(eps=1e-6) as n -> out\noutput out", lambda i, s: F.layer_norm(
        i["x"].permute(0, 2, 3, 1), (4,), s["n.weight"], s["n.bias"], 1e-6).permute(0, 3, 1, 2), inputs=IMG),
    Case("RMSNorm", "x -> RMSNorm as n -> out\noutput out", lambda i, s: F.rms_norm(i["x"], (8,), s["n.weight"])),
    Case("RMSNorm", "x -> RMSNorm((3, 8), eps=0.001, elementwise_affine=false) -> out\noutput out",
         lambda i, s: F.rms_norm(i["x"], (3, 8), eps=1e-3)),
    # pooling
    Case("MaxPool3d", "x -> MaxPool3d(2, stride=(1, 2, 2), padding=1) -> out\noutput out",
         lambda i, s: F.max_pool3d(i["x"], 2, (1, 2, 2), 1), inputs=VOL),
    Case("AvgPool3d", "x -> AvgPool3d(2, ceil_mode=true) -> out\noutput out",
         lambda i, s: F.avg_pool3d(i["x"], 2, ceil_mode=True), inputs=VOL),
    Case("AdaptiveAvgPool3d", "x -> AdaptiveAvgPool3d((2, none, 3)) -> out\noutput out",
         lambda i, s: F.adaptive_avg_pool3d(i["x"], (2, None, 3)), inputs=VOL),
    Case("AdaptiveMaxPool3d", "x -> AdaptiveMaxPool3d(2) -> out\noutput out",
         lambda i, s: F.adaptive_max_pool3d(i["x"], 2), inputs=VOL),
    Case("LPPool1d", "x -> LPPool1d(2, 3, stride=2) -> out\noutput out", lambda i, s: F.lp_pool1d(i["x"], 2, 3, 2)),
    Case("LPPool2d", "x -> LPPool2d(2, (2, 3), ceil_mode=true) -> out\noutput out",
        lambda i, s: F.lp_pool2d(i["x"], 2, (2, 3), ceil_mode=True), inputs=IMG),
    Case("LPPool3d", "x -> LPPool3d(1, 2) -> out\noutput out", lambda i, s: F.lp_pool3d(i["x"], 1, 2), inputs=VOL),
    # regularisation (the identity in eval mode)
    *[Case(name, f"x -> {name}(0.3) -> out\noutput out", lambda i, s: i["x"], inputs=inp)
      for name, inp in (("Dropout1d", SEQ), ("Dropout2d", IMG), ("Dropout3d", VOL), ("AlphaDropout", SEQ),
                        ("FeatureAlphaDropout", IMG))],
    Case("StochasticDepth", "x -> StochasticDepth(0.2, \"row\") -> out\noutput out", lambda i, s: i["x"]),
    # pairs, bags
    Case("Bilinear", "out = (x, y) -> Bilinear(5) as bil\noutput out",
         lambda i, s: F.bilinear(i["x"], i["y"], s["bil.weight"], s["bil.bias"]),
         inputs="input x: f32[2, 3, 4]\n    input y: f32[2, 3, 6]"),
    Case("CosineSimilarity", "out = (x, y) -> CosineSimilarity(dim=-1)\noutput out",
         lambda i, s: F.cosine_similarity(i["x"], i["y"], -1), inputs="input x: f32[2, 3, 4]\n    input y: f32[3, 4]"),
    Case("PairwiseDistance", "out = (x, y) -> PairwiseDistance(p=3.0, keepdim=true)\noutput out",
         lambda i, s: F.pairwise_distance(i["x"], i["y"], 3.0, keepdim=True),
         inputs="input x: f32[2, 4]\n    input y: f32[2, 4]"),
    Case("EmbeddingBag", "x -> EmbeddingBag(10, 4, mode=\"sum\", padding_idx=2) as bag -> out\noutput out",
         lambda i, s: F.embedding_bag(i["x"], s["bag.weight"], mode="sum", padding_idx=2),
         inputs="input x: i64[3, 5]"),
    Case("EmbeddingBag", "x -> EmbeddingBag(10, 4) as bag -> out\noutput out",
         lambda i, s: F.embedding_bag(i["x"], s["bag.weight"]), inputs="input x: i64[3, 5]"),
    # recurrent cells, transformer layers
    Case("RNNCell", "h = (x, h0) -> RNNCell(5, nonlinearity=\"relu\") as cell\noutput h",
         lambda i, s: module(torch.nn.RNNCell, "cell.", s, i["x"], 3, 5, nonlinearity="relu")(i["x"], i["h0"]),
         inputs="input x: f32[2, 3]\n    input h0: f32[2, 5]"),
    Case("GRUCell", "h = x -> GRUCell(5) as cell\noutput h",
         lambda i, s: module(torch.nn.GRUCell, "cell.", s, i["x"], 3, 5)(i["x"]), inputs="input x: f32[2, 3]"),
    Case("LSTMCell", "h, c = (x, h0, c0) -> LSTMCell(5) as cell\noutput h, c",
         lambda i, s: module(torch.nn.LSTMCell, "cell.", s, i["x"], 3, 5)(i["x"], (i["h0"], i["c0"])),
         inputs="input x: f32[2, 3]\n    input h0: f32[2, 5]\n    input c0: f32[2, 5]"),
    Case("LSTMCell", "h, c = x -> LSTMCell(4, bias=false) as cell\noutput h, c",
         lambda i, s: module(torch.nn.LSTMCell, "cell.", s, i["x"], 3, 4, bias=False)(i["x"]),
         inputs="input x: f32[3]"),
    Case("TransformerEncoderLayer", "x -> TransformerEncoderLayer(8, 2, dim_feedforward=16) as enc -> out\n"
         "output out", lambda i, s: module(torch.nn.TransformerEncoderLayer, "enc.", s, i["x"], 8, 2, 16)(i["x"])),
    Case("TransformerEncoderLayer", "x -> TransformerEncoderLayer(nhead=4, dim_feedforward=12, activation=\"gelu\", "
         "batch_first=true, norm_first=true, causal=true) as enc -> out\noutput out",
         lambda i, s: module(torch.nn.TransformerEncoderLayer, "enc.", s, i["x"], 8, 4, 12, activation="gelu",
                             batch_first=True, norm_first=True)(
             i["x"], src_mask=torch.ones(3, 3, dtype=torch.bool).triu(1), is_causal=True)),
    Case("TransformerDecoderLayer", "out = (x, m) -> TransformerDecoderLayer(8, 2, dim_feedforward=16, causal=true,"
         " bias=false) as dec\noutput out",
         lambda i, s: module(torch.nn.TransformerDecoderLayer, "dec.", s, i["x"], 8, 2, 16, bias=False)(
             i["x"], i["m"], tgt_mask=torch.ones(2, 2, dtype=torch.bool).triu(1), tgt_is_causal=True),
         inputs="input x: f32[2, 3, 8]\n    input m: f32[4, 3, 8]"),
    # resampling
    Case("UpsamplingNearest2d", "x -> UpsamplingNearest2d(scale_factor=2) -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], scale_factor=2), inputs=IMG),
    Case("UpsamplingBilinear2d", "x -> UpsamplingBilinear2d(size=(7, 5)) -> out\noutput out",
         lambda i, s: F.interpolate(i["x"], (7, 5), mode="bilinear", align_corners=True), inputs=IMG),
]
