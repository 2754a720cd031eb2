"""PyTorch emitters for the op families added after the core set: one table entry per op (see EMITTERS in
codegen/torch.py, which merges this table). Most entries are a `Func` (a torch function, and the nn.Module
to use when the op must be a submodule) or a `Layer` (always a submodule); the few ops whose call differs
from that pattern get a small `Expr` or class here.
"""
from __future__ import annotations

from typing import Any

from ..dsl.ops.compare import COMPARISONS
from ..dsl.ops.elementwise import EXACT_UNARY, FLOAT_UNARY
from .torch import (
    ALWAYS,
    Attrs,
    Bin,
    Emitter,
    Expr,
    Func,
    Layer,
    Var,
    _batchnorm,
    _binary,
    _call,
    _dim_kw,
    _pool,
    literal,
)


class FixedFunc(Func):
    """A Func whose functional form needs arguments the op has no attribute for (Softmax2d: dim=-3)."""

    def __init__(self, fn: str, fixed: tuple[str, ...], pos: tuple[str, ...] = (), kw: dict[str, Any] | None = None,
                 module: str | None = None) -> None:
        super().__init__(fn, pos, kw, module=module)
        self.fixed = fixed

    def forward(self, xs: list[str], a: Attrs) -> str:
        return super().forward(xs, a)[:-1] + ", " + ", ".join(self.fixed) + ")"


class Cell(Layer):
    """nn.RNNCell / GRUCell / LSTMCell: the state, when given, is the second argument (a tuple for LSTMCell)."""

    def __init__(self, cls: str, extra: dict[str, Any], states: int) -> None:
        super().__init__(cls, ("input_size", "hidden_size"), {"bias": True, **extra})
        self.states = states

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        if len(xs) == 1:
            return f"{callee}({xs[0]})"
        state = f"({', '.join(xs[1:])})" if self.states == 2 else xs[1]
        return f"{callee}({xs[0]}, {state})"


class TransformerLayer(Layer):
    """nn.TransformerEncoderLayer / DecoderLayer; `causal` becomes torch's boolean mask and is_causal hint."""

    def __init__(self, cls: str, mask: str) -> None:
        super().__init__(cls, ("d_model", "nhead"), {
            "dim_feedforward": 2048, "dropout": 0.1, "activation": "relu", "layer_norm_eps": 1e-5,
            "batch_first": False, "norm_first": False, "bias": True})
        self.mask = mask  # src (encoder) or tgt (decoder)

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        args = list(xs)
        if a.value("causal"):
            x = xs[0]
            seq = 1 if a.value("batch_first") and a.node.inputs[0].type.rank == 3 else 0
            args.append(f"{self.mask}_mask=torch.ones({x}.shape[{seq}], {x}.shape[{seq}], dtype=torch.bool, "
                        f"device={x}.device).triu(1)")
            args.append(f"{self.mask}_is_causal=True" if self.mask == "tgt" else "is_causal=True")
        return f"{callee}({', '.join(args)})"


STOCHASTIC_DEPTH_HELPER = '''class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: drop the input per sample ("row") or whole ("batch") with probability p."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise'''


class Helper(Layer):
    """An op torch has no module for: a small class defined in the generated file."""

    def __init__(self, cls: str, pos: tuple[str, ...], helper: str) -> None:
        super().__init__(cls, pos)
        self.helper = helper


def _method(method: str, *args: str, variadic: str | None = None) -> Expr:
    """`x.method(arg, ...)`, the attributes written positionally (a variadic one spread out)."""
    def fn(xs: list[str], a: Attrs) -> str:
        parts = a.items(variadic) if variadic else [a.text(n, compact=True) for n in args]
        return f"{xs[0]}.{method}({', '.join(parts)})"
    return Expr(fn)


def _squeeze(xs: list[str], a: Attrs) -> str:
    return f"{xs[0]}.squeeze()" if a.value("dim") is None else f"{xs[0]}.squeeze({a['dim']})"


def _pow(xs: list[str], a: Attrs) -> str:
    """`x ** y`, `x ** 2`, `2 ** x` (torch.pow(2, x)), as a tree: a negative base gets its parentheses."""
    if len(xs) == 2:
        return Bin("**", Var(xs[0]), Var(xs[1])).render(a.ctx)
    if a.value("base") is not None:
        return Bin("**", a.tree("base"), Var(xs[0])).render(a.ctx)
    return Bin("**", Var(xs[0]), a.tree("exponent")).render(a.ctx)


def _where(xs: list[str], a: Attrs) -> str:
    return _call("torch.where", xs[:2] + [xs[2] if len(xs) == 3 else a["other"]])


def _clamp(xs: list[str], a: Attrs) -> str:
    return _call(f"{xs[0]}.clamp", [a.kw("min", None), a.kw("max", None)])


def _repeat_interleave(xs: list[str], a: Attrs) -> str:
    return _call(f"{xs[0]}.repeat_interleave", [a["repeats"], a.kw("dim", None)])


def _roll(xs: list[str], a: Attrs) -> str:
    return _call("torch.roll", [xs[0], a.text("shifts"), a.kw("dims", None)])


def _ordered(fn: str, pos: tuple[str, ...], kw: dict[str, Any]) -> Expr:
    def emit(xs: list[str], a: Attrs) -> str:
        return _call(fn, [xs[0]] + [a[p] for p in pos] + [a.kw(k, d) for k, d in kw.items()])
    return Expr(emit)


def _einsum(xs: list[str], a: Attrs) -> str:
    return _call("torch.einsum", [literal(a.value("equation"))] + xs)


class IdentityEmitter(Func):
    def __init__(self) -> None:
        super().__init__("", module="nn.Identity")

    def forward(self, xs: list[str], a: Attrs) -> str:
        return xs[0]


_NORM_KW = {"eps": 1e-5, "momentum": 0.1, "affine": False, "track_running_stats": False}
_LRN_KW = {"alpha": 1e-4, "beta": 0.75, "k": 1.0}
_WINDOW_KW = {"dilation": 1, "padding": 0, "stride": 1}
_TORCH_NAMES = {"neg": "torch.neg"}  # every other unary op is torch.<name>
_PAD_MODULES = ("ConstantPad", "ZeroPad", "ReflectionPad", "ReplicationPad", "CircularPad")

EMITTERS: dict[str, Emitter] = {
    # element-wise math
    **{name: Func(_TORCH_NAMES.get(name, f"torch.{name}")) for name in (*FLOAT_UNARY, *EXACT_UNARY)},
    "clamp": Expr(_clamp),
    "pow": Expr(_pow),
    **{name: _binary(symbol) for symbol, name in COMPARISONS.items()},  # `x > 0`: a bool tensor
    "minimum": Expr(lambda xs, a: f"torch.minimum({xs[0]}, {xs[1]})"),
    "maximum": Expr(lambda xs, a: f"torch.maximum({xs[0]}, {xs[1]})"),
    "where": Expr(_where),
    "masked_fill": Expr(lambda xs, a: f"{xs[0]}.masked_fill({xs[1]}, {a['value']})"),
    # activations
    "relu6": Func("F.relu6", module="nn.ReLU6"),
    "hardtanh": Func("F.hardtanh", (), {"min_val": -1.0, "max_val": 1.0}, module="nn.Hardtanh"),
    "hardswish": Func("F.hardswish", module="nn.Hardswish"),
    "hardsigmoid": Func("F.hardsigmoid", module="nn.Hardsigmoid"),
    "mish": Func("F.mish", module="nn.Mish"),
    "selu": Func("F.selu", module="nn.SELU"),
    "celu": Func("F.celu", (), {"alpha": 1.0}, module="nn.CELU"),
    "rrelu": Layer("nn.RReLU", (), {"lower": 1 / 8, "upper": 1 / 3}),  # random slopes follow self.training
    "logsigmoid": Func("F.logsigmoid", module="nn.LogSigmoid"),
    "softsign": Func("F.softsign", module="nn.Softsign"),
    "softshrink": Func("F.softshrink", (), {"lambd": 0.5}, module="nn.Softshrink"),
    "hardshrink": Func("F.hardshrink", (), {"lambd": 0.5}, module="nn.Hardshrink"),
    "tanhshrink": Func("F.tanhshrink", module="nn.Tanhshrink"),
    "threshold": Func("F.threshold", ("threshold", "value"), module="nn.Threshold"),
    "softmin": Func("F.softmin", (), {"dim": ALWAYS}, module="nn.Softmin"),
    "Softmax2d": FixedFunc("F.softmax", ("dim=-3",), module="nn.Softmax2d"),
    "glu": Func("F.glu", (), {"dim": -1}, module="nn.GLU"),
    "PReLU": Layer("nn.PReLU", (), {"num_parameters": 1, "init": 0.25}),
    # shapes
    "unsqueeze": _method("unsqueeze", "dim"),
    "squeeze": Expr(_squeeze),
    "expand": _method("expand", variadic="sizes"),
    "repeat": _method("repeat", variadic="repeats"),
    "repeat_interleave": Expr(_repeat_interleave),
    "stack": Expr(lambda xs, a: _call("torch.stack", [f"[{', '.join(xs)}]", _dim_kw(a)])),
    "roll": Expr(_roll),
    "Unflatten": Func("torch.unflatten", ("dim", "unflattened_size"), module="nn.Unflatten"),
    "Identity": IdentityEmitter(),
    # ordering, selection, accumulation
    "cumsum": Expr(lambda xs, a: f"{xs[0]}.cumsum({a['dim']})"),
    "topk": _ordered("torch.topk", ("k",), {"dim": -1, "largest": True, "sorted": True}),
    "sort": _ordered("torch.sort", (), {"dim": -1, "descending": False, "stable": False}),
    "gather": Expr(lambda xs, a: _call("torch.gather", [xs[0], a["dim"], xs[1]])),
    "einsum": Expr(_einsum),
    # padding
    "pad": Func("F.pad", ("pad",), {"mode": "constant", "value": 0.0}),
    **{f"{kind}{n}d": Layer(f"nn.{kind}{n}d", ("padding", "value") if kind == "ConstantPad" else ("padding",))
       for kind in _PAD_MODULES for n in (1, 2, 3)},
    # pixels
    "PixelShuffle": Func("F.pixel_shuffle", ("upscale_factor",), module="nn.PixelShuffle"),
    "PixelUnshuffle": Func("F.pixel_unshuffle", ("downscale_factor",), module="nn.PixelUnshuffle"),
    "ChannelShuffle": Func("F.channel_shuffle", ("groups",), module="nn.ChannelShuffle"),
    "Unfold": Func("F.unfold", ("kernel_size",), _WINDOW_KW, module="nn.Unfold"),
    "Fold": Func("F.fold", ("output_size", "kernel_size"), _WINDOW_KW, module="nn.Fold"),
    # normalisation
    "BatchNorm3d": _batchnorm(3),
    "SyncBatchNorm": Layer("nn.SyncBatchNorm", ("num_features",),
                           {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}),
    "GroupNorm": Layer("nn.GroupNorm", ("num_groups", "num_channels"), {"eps": 1e-5, "affine": True}),
    **{f"InstanceNorm{n}d": Layer(f"nn.InstanceNorm{n}d", ("num_features",), _NORM_KW) for n in (1, 2, 3)},
    "LocalResponseNorm": Func("F.local_response_norm", ("size",), _LRN_KW, module="nn.LocalResponseNorm"),
    "CrossMapLRN2d": Layer("nn.CrossMapLRN2d", ("size",), _LRN_KW),
    "RMSNorm": Layer("nn.RMSNorm", ("normalized_shape",), {"eps": None, "elementwise_affine": True}),
    # pooling
    "MaxPool3d": _pool(3, "max"), "AvgPool3d": _pool(3, "avg"),
    "AdaptiveAvgPool3d": Func("F.adaptive_avg_pool3d", ("output_size",), module="nn.AdaptiveAvgPool3d"),
    "AdaptiveMaxPool3d": Func("F.adaptive_max_pool3d", ("output_size",), module="nn.AdaptiveMaxPool3d"),
    **{f"LPPool{n}d": Func(f"F.lp_pool{n}d", ("norm_type", "kernel_size"), {"stride": None, "ceil_mode": False},
                           module=f"nn.LPPool{n}d") for n in (1, 2, 3)},
    # regularisation: modules, so that they follow self.training
    **{name: Layer(f"nn.{name}", (), {"p": 0.5})
       for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")},
    "StochasticDepth": Helper("StochasticDepth", ("p", "mode"), STOCHASTIC_DEPTH_HELPER),
    # pairs of inputs, bags
    "Bilinear": Layer("nn.Bilinear", ("in1_features", "in2_features", "out_features"), {"bias": True}),
    "CosineSimilarity": Func("F.cosine_similarity", (), {"dim": 1, "eps": 1e-8}, module="nn.CosineSimilarity"),
    "PairwiseDistance": Func("F.pairwise_distance", (), {"p": 2.0, "eps": 1e-6, "keepdim": False},
                             module="nn.PairwiseDistance"),
    "EmbeddingBag": Layer("nn.EmbeddingBag", ("num_embeddings", "embedding_dim"),
                          {"mode": "mean", "padding_idx": None}),
    # recurrent cells, transformer layers
    "RNNCell": Cell("nn.RNNCell", {"nonlinearity": "tanh"}, 1),
    "GRUCell": Cell("nn.GRUCell", {}, 1),
    "LSTMCell": Cell("nn.LSTMCell", {}, 2),
    "TransformerEncoderLayer": TransformerLayer("nn.TransformerEncoderLayer", "src"),
    "TransformerDecoderLayer": TransformerLayer("nn.TransformerDecoderLayer", "tgt"),
    # resampling with a fixed mode
    "UpsamplingNearest2d": FixedFunc("F.interpolate", ("mode='nearest'",), (), {"size": None, "scale_factor": None},
                                     module="nn.UpsamplingNearest2d"),
    "UpsamplingBilinear2d": FixedFunc("F.interpolate", ("mode='bilinear'", "align_corners=True"), (),
                                      {"size": None, "scale_factor": None}, module="nn.UpsamplingBilinear2d"),
}
HELPER_NAMES = ("StochasticDepth",)
