"""The per-op emitters: one table entry per canonical op name (:data:`EMITTERS`).

Most entries are a `Func` (a torch function, and the nn.Module to use when the op must be a submodule) or a
`Layer` (always a submodule); the few ops whose call differs from that pattern get a small `Expr` or class here.
"""
from __future__ import annotations

import weakref
from typing import Any

from ...dsl.dims import dims_equal
from ...dsl.ir import Module, OpNode
from ...dsl.ops.compare import COMPARISONS
from ...dsl.ops.elementwise import EXACT_UNARY, FLOAT_UNARY
from ...dsl.parametric.trees import Bin, Var, literal
from .emitters import ALWAYS, Attrs, Emitter, Expr, Func, Layer, _call

# Ops whose backward does not read their own output: a ReLU right after one may overwrite that output in
# place, as torchvision's `nn.ReLU(inplace=True)` does, saving a full activation copy per ReLU.
_OVERWRITABLE = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
                 "Linear", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "add", "sub"}
_USES: weakref.WeakKeyDictionary[Module, dict[int, int]] = weakref.WeakKeyDictionary()


def _uses(root: Module) -> dict[int, int]:
    """How often each value is read in the whole network: by an op, or as a block's or the network's output."""
    if root not in _USES:
        counts: dict[int, int] = {}
        for item in [root, *root.walk()]:
            reads = item.inputs if isinstance(item, OpNode) else item.outputs
            for v in reads:
                counts[v.id] = counts.get(v.id, 0) + 1
        _USES[root] = counts
    return _USES[root]


def _may_overwrite_input(node: OpNode) -> bool:
    """True when the node's first input is read by nothing else and its producer's backward does not need it."""
    x = node.inputs[0]
    if not isinstance(x.producer, OpNode) or x.producer.op not in _OVERWRITABLE:
        return False
    root = node.parent
    while root is not None and root.parent is not None:
        root = root.parent
    return root is not None and _uses(root).get(x.id) == 1


class ReLU(Func):
    def forward(self, xs: list[str], a: Attrs) -> str:
        if _may_overwrite_input(a.node):
            a.need("F")
            return f"F.relu({xs[0]}, inplace=True)"
        return super().forward(xs, a)


def _accumulate(symbol: str, method: str) -> Expr:
    """`y + x` where `y` is read by nothing else and its producer's backward does not need it (a BatchNorm's
    output before the residual add): added in place, `y.add_(x)`, written `y += x` as torchvision's
    `out += identity` (no new activation per block). Otherwise, and when `y` would have to grow by
    broadcasting or change dtype, the plain expression."""
    plain = _binary(symbol)

    def fn(xs: list[str], a: Attrs) -> str:
        node = a.node
        if len(xs) == 2 and _may_overwrite_input(node):
            y, out = node.inputs[0].type, node.outputs[0].type
            if y.dtype == out.dtype and len(y.dims) == len(out.dims) and \
                    all(dims_equal(d, e) is True for d, e in zip(y.dims, out.dims)):
                return f"{xs[0]}.{method}({xs[1]})"
        return plain.forward(xs, a)
    return Expr(fn)


def _binary(symbol: str) -> Expr:
    """`x + y`, `x * (2 * k - 1)`: built as an expression tree, so precedence decides the parentheses."""
    def fn(xs: list[str], a: Attrs) -> str:
        other = Var(xs[1]) if len(xs) == 2 else a.tree("other")
        return Bin(symbol, Var(xs[0]), other).render(a.ctx)
    return Expr(fn)


def _dim_kw(a: Attrs, default: Any = 0) -> str | None:
    return a.kw("dim", default)


def _conv(n: int, transposed: bool) -> Layer:
    if transposed:
        kw = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "bias": True, "dilation": 1}
        return Layer(f"nn.ConvTranspose{n}d", ("in_channels", "out_channels", "kernel_size"), kw)
    kw = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}
    return Layer(f"nn.Conv{n}d", ("in_channels", "out_channels", "kernel_size"), kw)


def _pool(n: int, kind: str) -> Func:
    if kind == "max":
        kw: dict[str, Any] = {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False}
        return Func(f"F.max_pool{n}d", ("kernel_size",), kw, module=f"nn.MaxPool{n}d")
    kw = {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True}
    return Func(f"F.avg_pool{n}d", ("kernel_size",), kw, module=f"nn.AvgPool{n}d")


def _batchnorm(n: int) -> Layer:
    return Layer(f"nn.BatchNorm{n}d", ("num_features",),
                 {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True})


_FLATTEN_MODULE_KW = {"start_dim": 1, "end_dim": -1}


class Recurrent(Layer):
    """nn.RNN / nn.GRU / nn.LSTM: called with the initial state when given, outputs `out, h` or `out, (h, c)`."""

    def __init__(self, cls: str, extra: dict[str, Any], states: int) -> None:
        kw = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False}
        super().__init__(cls, ("input_size", "hidden_size"), {**kw, **extra})
        self.states = states

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        if len(xs) == 1:
            return f"{callee}({xs[0]})"
        state = f"({', '.join(xs[1:])})" if self.states == 2 else xs[1]
        return f"{callee}({xs[0]}, {state})"

    def pack(self, targets: list[str], a: Attrs) -> str:
        if self.states == 2:
            return f"{targets[0]}, ({targets[1]}, {targets[2]})"
        return ", ".join(targets)


def _mask(a: Attrs, xs: list[str], name: str) -> str | None:
    idx = a.value(name)
    return None if idx is None else xs[idx]


class MultiheadAttention(Layer):
    """nn.MultiheadAttention; netc's boolean attn_mask says where attention is allowed, torch's the opposite."""

    def __init__(self) -> None:
        super().__init__("nn.MultiheadAttention", ("embed_dim", "num_heads"),
                         {"dropout": 0.0, "bias": True, "kdim": None, "vdim": None, "batch_first": False})

    def module(self, a: Attrs) -> str | None:
        kw = [a.kw(k, d) for k, d in self.kw.items() if k not in ("kdim", "vdim")]
        e = a.value("embed_dim")
        for k in ("kdim", "vdim"):  # torch's None means embed_dim
            if a.value(k) is not None and (k in a.info.given or a.value(k) != e):
                kw.append(f"{k}={a.text(k)}")
        return _call(self.cls, [a.text(p) for p in self.pos] + kw)

    def module_call(self, callee: str, xs: list[str], a: Attrs) -> str:
        node = a.node
        masks = [i for i in (a.value("attn_mask"), a.value("key_padding_mask")) if i is not None]
        main = [x for i, x in enumerate(xs) if i not in masks]
        q, k, v = (main[0],) * 3 if len(main) == 1 else main[:3]
        args = [q, k, v]
        kpm = _mask(a, xs, "key_padding_mask")
        if kpm is not None:
            args.append(f"key_padding_mask={kpm}")
        args.append(f"need_weights={a.value('need_weights')!r}")
        mask = _mask(a, xs, "attn_mask")
        seq = 1 if (a.value("batch_first") and node.inputs[0].type.rank == 3) else 0
        future = f"torch.ones({q}.shape[{seq}], {k}.shape[{seq}], dtype=torch.bool, device={q}.device).triu(1)"
        if mask is not None:
            is_bool = node.inputs[a.value("attn_mask")].type.dtype == "bool"
            if a.value("causal"):  # torch's mask says what is hidden: the future, and what netc's mask forbids
                hidden = f"~{mask} | {future}" if is_bool else None
                args.append(f"attn_mask={hidden}" if hidden else
                            f"attn_mask={mask}.masked_fill({future}, float('-inf'))")
            else:
                args.append(f"attn_mask=~{mask}" if is_bool else f"attn_mask={mask}")
        elif a.value("causal"):
            args.append(f"attn_mask={future}")
        if a.value("need_weights"):
            args.append(a.kw("average_attn_weights", True) or "average_attn_weights=True")
        call = f"{callee}({', '.join(args)})"
        return call if a.value("need_weights") else f"{call}[0]"


def _sdpa(xs: list[str], a: Attrs) -> str:
    a.need("F")
    node = a.node
    q, k, v = xs[:3]
    args = [q, k, v]
    mask, kpm = _mask(a, xs, "attn_mask"), _mask(a, xs, "key_padding_mask")
    # netc's masks combine: allowed = attn_mask & ~key_padding_mask & (causal tril). torch takes is_causal only
    # without an attn_mask, so with several they become one boolean mask (a float attn_mask gets -inf).
    allowed: list[str] = []
    if kpm is not None:  # True marks padding; sdpa's boolean mask is True where attention is allowed
        lead = max(node.inputs[0].type.rank - 2, 0)
        index = ", ".join([":"] + ["None"] * lead + [":"]) if lead else ":"
        allowed.append(f"~{kpm}[{index}]")
    causal = bool(a.value("causal"))
    if causal and (mask is not None or kpm is not None):
        allowed.append(f"torch.ones({q}.shape[-2], {k}.shape[-2], dtype=torch.bool, device={q}.device).tril()")
    float_mask = mask is not None and node.inputs[a.value("attn_mask")].type.dtype != "bool"
    if mask is not None and float_mask and allowed:
        args.append(f"attn_mask=torch.where({' & '.join(allowed)}, {mask}, float('-inf'))")
    elif mask is not None or allowed:
        args.append(f"attn_mask={' & '.join(([mask] if mask is not None else []) + allowed)}")
    if a.include("dropout", 0.0):
        args.append(f"dropout_p={a['dropout']} if self.training else 0.0")
    if (causal or "causal" in a.info.given) and mask is None and kpm is None:
        args.append(f"is_causal={a['causal']}")
    scale = a.kw("scale", None)
    if scale:
        args.append(scale)
    return f"F.scaled_dot_product_attention({', '.join(args)})"


_POSITIONAL_FORWARD = """
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[self.dim]
        shape = [1] * x.dim()
        shape[self.dim] = steps
        shape[-1] = x.shape[-1]
        return x + self.{table}[:steps].reshape(shape)"""

SINUSOIDAL_HELPER = '''class SinusoidalPositionalEncoding(nn.Module):
    """x + pe[:L] along `dim`: pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(p / 10000^(2i/d))."""

    def __init__(self, d_model: int, max_len: int = 5000, dim: int = -2) -> None:
        super().__init__()
        self.dim = dim
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        inv_freq = torch.pow(10000.0, -torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * inv_freq)
        pe[:, 1::2] = torch.cos(position * inv_freq)
        self.register_buffer("pe", pe)
''' + _POSITIONAL_FORWARD.format(table="pe")

LEARNED_HELPER = '''class LearnedPositionalEncoding(nn.Module):
    """x + weight[:L] along `dim`: a learned table of positions, like an Embedding of arange(L)."""

    def __init__(self, d_model: int, max_len: int = 5000, dim: int = -2) -> None:
        super().__init__()
        self.dim = dim
        self.weight = nn.Parameter(torch.randn(max_len, d_model))
''' + _POSITIONAL_FORWARD.format(table="weight")


class Positional(Layer):
    """The positional encodings torch has no module for: a small class in the generated file."""

    def __init__(self, name: str, helper: str) -> None:
        super().__init__(name, ("d_model",), {"max_len": 5000, "dim": -2})
        self.helper = helper


def _reduce(method: str) -> Expr:
    def fn(xs: list[str], a: Attrs) -> str:
        args = [] if a.value("dim") is None else [f"dim={a.text('dim', compact=True)}"]
        if a.value("keepdim") and not args and not method.endswith(")"):  # x.sum(keepdim=True) needs its dims
            args.append(f"dim=tuple(range({xs[0]}.dim()))")
        if a.value("keepdim"):
            if not args and not method.endswith(")"):
                args.append("dim=None")  # x.mean(keepdim=True) is a TypeError; x.mean(dim=None, keepdim=True) is not
            args.append("keepdim=True")
        if method.endswith(")"):  # torch.amax(X) -> torch.amax(x, dim=...)
            return _call(method[:-3], [xs[0]] + args)
        return _call(f"{xs[0]}.{method}", args)
    return Expr(fn)


def _index(xs: list[str], a: Attrs) -> str:
    parts = [literal(it, a.ctx) for it in a.value("items")]
    return f"{xs[0]}[{', '.join(parts) if parts else '...'}]"


def _arange(xs: list[str], a: Attrs) -> str:
    from ...dsl.types import DTYPES

    if "end" in a.info.given:
        args = [a["start"], a["end"]]
    else:
        args = [a["start"]]  # arange(end): the only argument binds `start`
    if a.include("step", 1):
        args.append(a["step"])
    dtype = a.value("dtype") or a.node.outputs[0].type.dtype
    args += [f"dtype=torch.{DTYPES[dtype]}", f"device={a.device}"]
    return _call("torch.arange", args)


def _resample_args(a: Attrs) -> list[str | None]:
    return [a.kw("size", None), a.kw("scale_factor", None), a.kw("mode", "nearest"), a.kw("align_corners", None)]


class Resample(Func):
    def __init__(self, module: str | None) -> None:
        super().__init__("F.interpolate", module=module)

    def module(self, a: Attrs) -> str | None:
        return None if self.cls is None else _call(self.cls, _resample_args(a))

    def forward(self, xs: list[str], a: Attrs) -> str:
        a.need("F")
        return _call("F.interpolate", [xs[0]] + _resample_args(a))

# One entry per canonical op name (netc.dsl.ops.OPS). Adding an op = one spec in dsl/ops + one entry here.
EMITTERS: dict[str, Emitter] = {
    # dense
    "Linear": Layer("nn.Linear", ("in_features", "out_features"), {"bias": True}),
    "Embedding": Layer("nn.Embedding", ("num_embeddings", "embedding_dim"), {"padding_idx": None}),
    # convolutions
    "Conv1d": _conv(1, False), "Conv2d": _conv(2, False), "Conv3d": _conv(3, False),
    "ConvTranspose1d": _conv(1, True), "ConvTranspose2d": _conv(2, True), "ConvTranspose3d": _conv(3, True),
    # pooling
    "MaxPool1d": _pool(1, "max"), "MaxPool2d": _pool(2, "max"),
    "AvgPool1d": _pool(1, "avg"), "AvgPool2d": _pool(2, "avg"),
    "AdaptiveAvgPool1d": Func("F.adaptive_avg_pool1d", ("output_size",), module="nn.AdaptiveAvgPool1d"),
    "AdaptiveAvgPool2d": Func("F.adaptive_avg_pool2d", ("output_size",), module="nn.AdaptiveAvgPool2d"),
    "AdaptiveMaxPool1d": Func("F.adaptive_max_pool1d", ("output_size",), module="nn.AdaptiveMaxPool1d"),
    "AdaptiveMaxPool2d": Func("F.adaptive_max_pool2d", ("output_size",), module="nn.AdaptiveMaxPool2d"),
    # normalisation, regularisation
    "BatchNorm1d": _batchnorm(1), "BatchNorm2d": _batchnorm(2),
    "LayerNorm": Layer("nn.LayerNorm", ("normalized_shape",), {"eps": 1e-5, "elementwise_affine": True, "bias": True}),
    "Dropout": Layer("nn.Dropout", (), {"p": 0.5}),
    # tensor plumbing
    "Flatten": Func("torch.flatten", ("start_dim",), {"end_dim": -1}, module="nn.Flatten", module_pos=(),
                    module_kw=_FLATTEN_MODULE_KW),
    "flatten": Func("torch.flatten", ("start_dim",), {"end_dim": -1}, module="nn.Flatten", module_pos=(),
                    module_kw=_FLATTEN_MODULE_KW),
    "view": Expr(lambda xs, a: f"{xs[0]}.reshape({', '.join(a.items('shape'))})"),
    "transpose": Expr(lambda xs, a: f"{xs[0]}.transpose({a['dim0']}, {a['dim1']})"),
    "permute": Expr(lambda xs, a: f"{xs[0]}.permute({', '.join(a.items('dims'))})"),
    "concat": Expr(lambda xs, a: _call("torch.cat", [f"[{', '.join(xs)}]", _dim_kw(a)])),
    "split": Expr(lambda xs, a: _call("torch.split", [xs[0], a.text("split_size_or_sections", compact=True),
                                                      _dim_kw(a)])),
    "chunk": Expr(lambda xs, a: _call("torch.chunk", [xs[0], a["chunks"], _dim_kw(a)])),
    # arithmetic
    "add": _accumulate("+", "add_"), "sub": _accumulate("-", "sub_"), "mul": _binary("*"), "div": _binary("/"),
    "matmul": Expr(lambda xs, a: Bin("@", Var(xs[0]), Var(xs[1])).render(a.ctx)),
    # activations
    "relu": ReLU("F.relu", module="nn.ReLU"),
    "leaky_relu": Func("F.leaky_relu", (), {"negative_slope": 0.01}, module="nn.LeakyReLU"),
    "elu": Func("F.elu", (), {"alpha": 1.0}, module="nn.ELU"),
    "gelu": Func("F.gelu", (), {"approximate": "none"}, module="nn.GELU"),
    "silu": Func("F.silu", module="nn.SiLU"),
    "sigmoid": Func("torch.sigmoid", module="nn.Sigmoid"),
    "tanh": Func("torch.tanh", module="nn.Tanh"),
    "softplus": Func("F.softplus", (), {"beta": 1.0}, module="nn.Softplus"),
    "exp": Func("torch.exp"),
    "softmax": Func("F.softmax", (), {"dim": ALWAYS}, module="nn.Softmax"),
    "log_softmax": Func("F.log_softmax", (), {"dim": ALWAYS}, module="nn.LogSoftmax"),
    # recurrent
    "RNN": Recurrent("nn.RNN", {"nonlinearity": "tanh"}, 1),
    "GRU": Recurrent("nn.GRU", {}, 1),
    "LSTM": Recurrent("nn.LSTM", {"proj_size": 0}, 2),
    # attention
    "MultiheadAttention": MultiheadAttention(),
    "scaled_dot_product_attention": Expr(_sdpa),
    "SinusoidalPositionalEncoding": Positional("SinusoidalPositionalEncoding", SINUSOIDAL_HELPER),
    "LearnedPositionalEncoding": Positional("LearnedPositionalEncoding", LEARNED_HELPER),
    # reductions, indexing
    "sum": _reduce("sum"), "mean": _reduce("mean"), "max": _reduce("torch.amax(X)"),
    "min": _reduce("torch.amin(X)"), "argmax": _reduce("torch.argmax(X)"),
    "index": Expr(_index),
    "arange": Expr(_arange),
    # resampling
    "Upsample": Resample("nn.Upsample"),
    "interpolate": Resample(None),
}
HELPER_NAMES = ("SinusoidalPositionalEncoding", "LearnedPositionalEncoding")




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


LAYER_NORM_2D_HELPER = '''class LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d (ConvNeXt): nn.LayerNorm over the channels of an (N, C, H, W) tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)'''


class Helper(Layer):
    """An op torch has no module for: a small class defined in the generated file."""

    def __init__(self, cls: str, pos: tuple[str, ...], helper: str, kw: dict[str, Any] | None = None) -> None:
        super().__init__(cls, pos, kw)
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

# The later op families.
EMITTERS.update({
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
    "LayerNorm2d": Helper("LayerNorm2d", ("normalized_shape",), LAYER_NORM_2D_HELPER,
                          {"eps": 1e-5, "elementwise_affine": True, "bias": True}),
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
})
HELPER_NAMES += ("StochasticDepth", "LayerNorm2d")
