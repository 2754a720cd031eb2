"""Hypothesis strategies (torch oracles) for the later op families, merged into test_ops_vs_torch.ORACLES.

Each op is described once: how to draw its attributes and input shapes (mostly valid, sometimes not), and
the torch call that is the oracle. `STRICTER` lists the deliberate differences (inputs torch accepts that
netc rejects), with the reason.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from hypothesis import strategies as st
from torch import nn

from netc.dsl.ops.elementwise import EXACT_UNARY, FLOAT_UNARY

from .test_ops_vs_torch import FLOATS, Case, Outcome, finish, maybe, module_dtype, sometimes, sym_subset
from .torchvision_ref import LayerNorm2d

Shapes = list[tuple[str, tuple[int, ...]]]
Run = Callable[[dict[str, Any], list[torch.Tensor], str], tuple[Any, nn.Module | None]]


def _dtype(draw: Any, ints: tuple[str, ...] = ("i64",), one_in: int = 8) -> str:
    return sometimes(draw, st.sampled_from(("f32", "f64")), st.sampled_from(ints), one_in=one_in)


def _shape(draw: Any, lo: int, hi: int, size_lo: int = 1, size_hi: int = 4) -> tuple[int, ...]:
    return tuple(draw(st.integers(size_lo, size_hi)) for _ in range(draw(st.integers(lo, hi))))


@st.composite
def op_case(draw: Any, op: str, run: Run, attrs: dict[str, st.SearchStrategy], ranks: tuple[int, int] = (0, 4),
            ints: tuple[str, ...] = ("i64",), inputs: Callable[[Any], Shapes] | None = None,
            form: str | None = None, sym: Callable[[tuple[int, ...]], list[int]] | None = None,
            required: tuple[str, ...] = (), multi: bool = False) -> Case:
    """A case of `op`: attributes drawn from `attrs` (each left out half the time unless required)."""
    a = {k: draw(s) for k, s in attrs.items() if k in required or maybe(draw)}
    shapes = inputs(draw) if inputs else [(_dtype(draw, ints), _shape(draw, *ranks))]
    dtype = shapes[0][0]
    chosen_form = form or (draw(st.sampled_from(["chain", "call"])) if len(shapes) == 1 else "call")

    def oracle(xs: list[torch.Tensor]) -> tuple[Any, nn.Module | None]:
        return run(a, xs, dtype)

    first = shapes[0][1]
    dims = sym(first) if sym else list(range(len(first)))
    symbolic = [sym_subset(draw, dims)] + [() for _ in shapes[1:]]
    return finish(draw, Case(op, a, shapes, oracle, form=chosen_form, symbolic=symbolic, multi=multi))


def fn(f: Callable[..., Any], *names: str) -> Run:
    """A torch function of the inputs, with the attributes as keywords (or positionally, in `names`)."""
    def run(a: dict[str, Any], xs: list[torch.Tensor], dtype: str) -> tuple[Any, None]:
        pos = [a[n] for n in names if n in a]
        return f(*xs, *pos, **{k: v for k, v in a.items() if k not in names}), None
    return run


def layer(cls: type, *pos: str, defaults: dict[str, Any] | None = None,
          infer: Callable[[list[torch.Tensor]], dict[str, Any]] | None = None) -> Run:
    """An nn.Module built from the attributes (inferred ones from the inputs), in the input's float dtype."""
    def run(a: dict[str, Any], xs: list[torch.Tensor], dtype: str) -> tuple[Any, nn.Module]:
        kw = {**(defaults or {}), **(infer(xs) if infer else {}), **a}
        args = [kw.pop(p) for p in pos if p in kw]
        m = cls(*args, **kw)
        if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
            m = m.to(module_dtype(dtype))
        return m(*xs), m
    return run


def batch_only(shape: tuple[int, ...]) -> list[int]:
    return [0] if len(shape) > 2 else []


def nc(n: int, bad: bool = True) -> Callable[[Any], Shapes]:
    """(N, C, *n spatial) or unbatched (C, *spatial); now and then a wrong rank."""
    def draw_inputs(draw: Any) -> Shapes:
        spatial = tuple(draw(st.integers(2, 5)) for _ in range(n))
        lead = (draw(st.integers(2, 3)), draw(st.integers(1, 4))) if maybe(draw) else (draw(st.integers(1, 4)),)
        shp = lead + spatial
        if bad and draw(st.integers(0, 9)) == 0:
            shp = shp[1:] if len(shp) > 2 else shp + (2,)
        return [(_dtype(draw, one_in=12), shp)]
    return draw_inputs


def two(rank_lo: int, rank_hi: int, second: Callable[[Any, tuple[int, ...]], tuple[int, ...]] | None = None,
        dtypes: tuple[str, str] | None = None) -> Callable[[Any], Shapes]:
    def draw_inputs(draw: Any) -> Shapes:
        a = _shape(draw, rank_lo, rank_hi)
        b = second(draw, a) if second else (a if draw(st.integers(0, 7)) else _shape(draw, rank_lo, rank_hi))
        d = _dtype(draw)
        return [(dtypes[0] if dtypes else d, a), (dtypes[1] if dtypes else d, b)]
    return draw_inputs


def broadcastable(draw: Any, a: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with `a` (trailing dims kept or set to 1), now and then one that does not."""
    k = draw(st.integers(0, len(a)))
    b = tuple(1 if maybe(draw) else d for d in a[len(a) - k:])
    if draw(st.integers(0, 9)) == 0 and b:
        b = b[:-1] + (b[-1] + 1,)
    return b


FLOAT = st.sampled_from([-1.5, -0.5, 0.0, 0.3, 1.0, 2.5])
DIM = st.integers(-4, 3)

ORACLES: dict[str, Callable[[], st.SearchStrategy[Case]]] = {
    **{name: (lambda name=name: op_case(name, fn(getattr(torch, name)), {})) for name in FLOAT_UNARY},
    **{name: (lambda name=name: op_case(name, fn(getattr(torch, name)), {}, ints=("i64", "i32", "bool")))
       for name in EXACT_UNARY},
    "clamp": lambda: op_case("clamp", fn(torch.clamp), {"min": st.sampled_from([None, -0.5, 1, 0.25]),
                                                         "max": st.sampled_from([None, 0.5, 2])}),
    "pow": lambda: op_case("pow", fn(torch.pow, "exponent"), {"exponent": st.sampled_from([2, 3, 0.5, -1, -2.0])},
                           required=("exponent",), ints=("i64", "i32")),
    "where": lambda: op_case("where_", fn(torch.where),
                             {}, inputs=lambda d: [("bool", (s := _shape(d, 1, 3))), ("f32", broadcastable(d, s)),
                                                   ("f32", broadcastable(d, s))]),
    "masked_fill": lambda: op_case("masked_fill", fn(torch.Tensor.masked_fill, "value"), {"value": FLOAT},
                                   required=("value",),
                                   inputs=lambda d: [("f32", (s := _shape(d, 1, 3))), ("bool", broadcastable(d, s))]),
    # activations
    "relu6": lambda: op_case("relu6", fn(F.relu6), {}, ints=("i64",)),
    "hardtanh": lambda: op_case("hardtanh", fn(F.hardtanh), {"min_val": st.sampled_from([-1.0, -2.0]),
                                                             "max_val": st.sampled_from([1.0, 0.5])}),
    "hardswish": lambda: op_case("hardswish", fn(F.hardswish), {}),
    "hardsigmoid": lambda: op_case("hardsigmoid", fn(F.hardsigmoid), {}),
    "mish": lambda: op_case("mish", fn(F.mish), {}),
    "selu": lambda: op_case("selu", fn(F.selu), {}),
    "celu": lambda: op_case("celu", fn(F.celu), {"alpha": st.sampled_from([1.0, 0.5, 2.0])}),
    "rrelu": lambda: op_case("rrelu", fn(lambda x, **k: F.rrelu(x, training=False, **k)),
                             {"lower": st.sampled_from([0.1, 0.125]), "upper": st.sampled_from([0.3, 0.5])}),
    "logsigmoid": lambda: op_case("logsigmoid", fn(F.logsigmoid), {}),
    "softsign": lambda: op_case("softsign", fn(F.softsign), {}),
    "softshrink": lambda: op_case("softshrink", fn(F.softshrink), {"lambd": st.sampled_from([0.5, 0.1, 1.0])}),
    "hardshrink": lambda: op_case("hardshrink", fn(F.hardshrink), {"lambd": st.sampled_from([0.5, 0.1, 1.0])}),
    "tanhshrink": lambda: op_case("tanhshrink", fn(F.tanhshrink), {}),
    "threshold": lambda: op_case("threshold", fn(F.threshold, "threshold", "value"),
                                 {"threshold": FLOAT, "value": FLOAT}, required=("threshold", "value")),
    "softmin": lambda: op_case("softmin", fn(lambda x, dim=-1: F.softmin(x, dim)), {"dim": DIM}),
    "Softmax2d": lambda: op_case("Softmax2d", layer(nn.Softmax2d), {}, ranks=(2, 5)),
    "glu": lambda: op_case("glu", fn(F.glu), {"dim": DIM}, ranks=(1, 3), ints=("i64",), sym=lambda s: []),
    "PReLU": lambda: op_case("PReLU", layer(nn.PReLU), {"num_parameters": st.sampled_from([1, 2, 3]),
                                                        "init": st.sampled_from([0.25, 0.1])},
                             inputs=nc(1), sym=batch_only),
    # shapes
    "unsqueeze": lambda: op_case("unsqueeze", fn(torch.unsqueeze, "dim"), {"dim": DIM}, required=("dim",)),
    "squeeze": lambda: op_case("squeeze", fn(torch.squeeze, "dim"),
                               {"dim": st.one_of(DIM, st.tuples(DIM, DIM).filter(lambda t: t[0] != t[1]))},
                               inputs=lambda d: [("f32", _shape(d, 0, 4, 1, 2))], sym=lambda s: []),
    "expand": lambda: op_case("expand", fn(lambda x, sizes: x.expand(*sizes)),
                              {"sizes": st.lists(st.sampled_from([-1, 1, 2, 3]), min_size=0, max_size=4)},
                              required=("sizes",), inputs=lambda d: [("f32", _shape(d, 0, 3, 1, 3))],
                              sym=lambda s: []),
    "repeat": lambda: op_case("repeat", fn(lambda x, repeats: x.repeat(*repeats)),
                              {"repeats": st.lists(st.integers(0, 3), min_size=0, max_size=4)},
                              required=("repeats",), ranks=(0, 3)),
    "repeat_interleave": lambda: op_case("repeat_interleave", fn(torch.repeat_interleave, "repeats"),
                                         {"repeats": st.integers(0, 3), "dim": st.one_of(st.none(), DIM)},
                                         required=("repeats",)),
    "stack": lambda: op_case("stack", fn(lambda *xs, dim=0: torch.stack(xs, dim)), {"dim": DIM},
                             inputs=two(0, 3), sym=lambda s: []),
    "roll": lambda: op_case("roll", fn(torch.roll, "shifts"),
                            {"shifts": st.integers(-3, 3), "dims": DIM}, required=("shifts",)),
    "Unflatten": lambda: op_case("Unflatten", layer(nn.Unflatten, "dim", "unflattened_size"),
                                 {"dim": DIM, "unflattened_size": st.sampled_from([(2, -1), (1, 2, 2), (-1,), (4, 1)])},
                                 required=("dim", "unflattened_size"), ranks=(1, 3), sym=lambda s: []),
    "Identity": lambda: op_case("Identity", layer(nn.Identity), {}),
    # ordering, selection
    "cumsum": lambda: op_case("cumsum", fn(torch.cumsum, "dim"), {"dim": DIM}, required=("dim",),
                              ints=("i64", "i32", "bool")),
    "topk": lambda: op_case("topk", fn(torch.topk, "k"), {"k": st.integers(0, 4), "dim": DIM,
                                                          "largest": st.booleans()},
                            required=("k",), ranks=(1, 3), multi=True, sym=lambda s: []),
    "sort": lambda: op_case("sort", fn(torch.sort), {"dim": DIM, "descending": st.booleans()}, ranks=(0, 3),
                            multi=True),
    "gather": lambda: op_case("gather", fn(lambda x, i, dim: torch.gather(x, dim, i)), {"dim": DIM},
                              required=("dim",), inputs=lambda d: [("f32", (a := _shape(d, 1, 3, 5, 6))), (
                                  d(st.sampled_from(["i64", "i64", "i32"])),
                                  tuple(d(st.integers(1, n + 1)) for n in a))],
                              sym=lambda s: []),
    "einsum": lambda: op_case("einsum", fn(lambda *xs, equation: torch.einsum(equation, *xs)),
                              {"equation": st.sampled_from(["ij,jk->ik", "ij,jk", "ij,ij->i", "...j,jk->...k"])},
                              required=("equation",), inputs=two(2, 2, lambda d, a: (a[1], d(st.integers(1, 3)))
                                                                 if maybe(d) else a), sym=lambda s: []),
    # padding
    "pad": lambda: op_case("pad", fn(F.pad, "pad"), {
        "pad": st.lists(st.integers(-1, 3), min_size=2, max_size=4).filter(lambda p: len(p) % 2 == 0).map(tuple),
        "mode": st.sampled_from(["constant", "reflect", "replicate", "circular"])}, required=("pad",),
        ranks=(1, 4), sym=lambda s: []),
    **{f"{kind}{n}d": (lambda kind=kind, n=n: op_case(
        f"{kind}{n}d", layer(getattr(nn, f"{kind}{n}d"), "padding", "value"),
        {"padding": st.integers(0, 3), **({"value": FLOAT} if kind == "ConstantPad" else {})},
        required=("padding", "value") if kind == "ConstantPad" else ("padding",), ranks=(n, n + 2), sym=lambda s: []))
       for kind in ("ConstantPad", "ZeroPad", "ReflectionPad", "ReplicationPad", "CircularPad") for n in (1, 2, 3)},
    # pixels
    "PixelShuffle": lambda: op_case("PixelShuffle", layer(nn.PixelShuffle, "upscale_factor"),
                                    {"upscale_factor": st.integers(1, 2)}, required=("upscale_factor",),
                                    ranks=(2, 4), sym=lambda s: list(range(len(s) - 3))),
    "PixelUnshuffle": lambda: op_case("PixelUnshuffle", layer(nn.PixelUnshuffle, "downscale_factor"),
                                      {"downscale_factor": st.integers(1, 2)}, required=("downscale_factor",),
                                      ranks=(2, 4), sym=lambda s: list(range(len(s) - 3))),
    "ChannelShuffle": lambda: op_case("ChannelShuffle", layer(nn.ChannelShuffle, "groups"),
                                      {"groups": st.integers(1, 3)}, required=("groups",), ranks=(2, 4),
                                      sym=lambda s: list(range(len(s) - 3))),
    "Unfold": lambda: op_case("Unfold", layer(nn.Unfold, "kernel_size"),
                              {"kernel_size": st.integers(1, 3), "padding": st.integers(0, 1),
                               "stride": st.integers(1, 2), "dilation": st.integers(1, 2)},
                              required=("kernel_size",), inputs=nc(2), sym=batch_only),
    "Fold": lambda: op_case("Fold", layer(nn.Fold, "output_size", "kernel_size"),
                            {"output_size": st.sampled_from([(3, 3), (4, 2)]), "kernel_size": st.integers(1, 2),
                             "stride": st.integers(1, 2)},
                            required=("output_size", "kernel_size"),
                            inputs=lambda d: [("f32", (d(st.integers(1, 2)), d(st.sampled_from([1, 2, 4, 8])),
                                                       d(st.sampled_from([1, 2, 4, 6, 9]))))], sym=lambda s: [0]),
    # normalisation
    "BatchNorm3d": lambda: op_case("BatchNorm3d", layer(nn.BatchNorm3d, infer=lambda xs: {
        "num_features": xs[0].shape[1] if xs[0].dim() > 1 else 1}), {"eps": st.sampled_from([1e-5, 1e-3])},
        inputs=lambda d: [("f32", (2,) + _shape(d, 3, 4, 1, 3))], sym=lambda s: [0]),
    "SyncBatchNorm": lambda: op_case("SyncBatchNorm", layer(nn.SyncBatchNorm, infer=lambda xs: {
        "num_features": xs[0].shape[1] if xs[0].dim() > 1 else 1}), {"affine": st.booleans()},
        inputs=lambda d: [("f32", (2,) + _shape(d, 1, 3, 1, 3))], sym=lambda s: [0]),
    "GroupNorm": lambda: op_case("GroupNorm", layer(nn.GroupNorm, "num_groups", "num_channels", infer=lambda xs: {
        "num_channels": xs[0].shape[1] if xs[0].dim() > 1 else 1}),
        {"num_groups": st.integers(1, 3), "affine": st.booleans()}, required=("num_groups",), inputs=nc(2),
        sym=batch_only),
    **{f"InstanceNorm{n}d": (lambda n=n: op_case(f"InstanceNorm{n}d", layer(
        getattr(nn, f"InstanceNorm{n}d"), infer=lambda xs: {"num_features": xs[0].shape[-n - 1] if xs[0].dim() > n else 1}),
        {"affine": st.booleans(), "track_running_stats": st.booleans()}, inputs=nc(n), sym=lambda s: []))
       for n in (1, 2, 3)},
    "LocalResponseNorm": lambda: op_case("LocalResponseNorm", layer(nn.LocalResponseNorm, "size"),
                                         {"size": st.integers(1, 4), "alpha": st.sampled_from([1e-4, 0.1])},
                                         required=("size",), ranks=(2, 5), sym=batch_only),
    "CrossMapLRN2d": lambda: op_case("CrossMapLRN2d", layer(nn.CrossMapLRN2d, "size"), {"size": st.integers(1, 4)},
                                     required=("size",), ranks=(3, 5), sym=batch_only),
    "RMSNorm": lambda: op_case("RMSNorm", layer(nn.RMSNorm, "normalized_shape", infer=lambda xs: {
        "normalized_shape": xs[0].shape[-1] if xs[0].dim() else 1}),
        {"eps": st.sampled_from([None, 1e-6]), "elementwise_affine": st.booleans()}, ranks=(0, 3),
        sym=lambda s: list(range(len(s) - 1))),
    "LayerNorm2d": lambda: op_case("LayerNorm2d", layer(LayerNorm2d, "normalized_shape", infer=lambda xs: {
        "normalized_shape": xs[0].shape[1] if xs[0].dim() > 1 else 1}),
        {"eps": st.sampled_from([1e-5, 1e-6]), "elementwise_affine": st.booleans(), "bias": st.booleans()},
        inputs=nc(2), sym=lambda s: [0, 2, 3] if len(s) == 4 else []),
    # pooling
    **{name: (lambda name=name: op_case(name, layer(getattr(nn, name), "kernel_size"),
                                        {"kernel_size": st.integers(1, 2), "stride": st.integers(1, 2),
                                         "ceil_mode": st.booleans()}, required=("kernel_size",), inputs=nc(3),
                                        sym=lambda s: []))
       for name in ("MaxPool3d", "AvgPool3d")},
    **{name: (lambda name=name: op_case(name, layer(getattr(nn, name), "output_size"),
                                        {"output_size": st.integers(1, 3)}, required=("output_size",), inputs=nc(3),
                                        sym=lambda s: []))
       for name in ("AdaptiveAvgPool3d", "AdaptiveMaxPool3d")},
    **{f"LPPool{n}d": (lambda n=n: op_case(f"LPPool{n}d", layer(getattr(nn, f"LPPool{n}d"), "norm_type",
                                                                "kernel_size"),
                                           {"norm_type": st.sampled_from([1.0, 2.0, 3]), "kernel_size": st.integers(1, 2),
                                            "stride": st.integers(1, 2)}, required=("norm_type", "kernel_size"),
                                           inputs=nc(n), sym=lambda s: []))
       for n in (1, 2, 3)},
    # regularisation
    **{name: (lambda name=name: op_case(name, layer(getattr(nn, name)), {"p": st.sampled_from([0.0, 0.5, 1.0])},
                                        ranks=(0, 5), sym=lambda s: []))
       for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")},
    "StochasticDepth": lambda: op_case("StochasticDepth", fn(lambda x, p, mode: x), {
        "p": st.sampled_from([0.0, 0.2]), "mode": st.sampled_from(["row", "batch"])}, required=("p", "mode"),
        ranks=(1, 4)),
    # pairs, bags
    "Bilinear": lambda: op_case("Bilinear", layer(nn.Bilinear, "in1_features", "in2_features", "out_features",
                                                  infer=lambda xs: {"in1_features": xs[0].shape[-1],
                                                                    "in2_features": xs[1].shape[-1]}),
                                {"out_features": st.integers(1, 3), "bias": st.booleans()}, required=("out_features",),
                                inputs=two(1, 3, lambda d, a: a[:-1] + (d(st.integers(1, 3)),)), form="tuple",
                                sym=lambda s: []),
    "CosineSimilarity": lambda: op_case("CosineSimilarity", layer(nn.CosineSimilarity), {"dim": DIM},
                                        inputs=two(1, 3, broadcastable), form="tuple", sym=lambda s: []),
    "PairwiseDistance": lambda: op_case("PairwiseDistance", layer(nn.PairwiseDistance),
                                        {"p": st.sampled_from([2.0, 1.0, 3.0]), "keepdim": st.booleans()},
                                        inputs=two(1, 2, broadcastable), form="tuple", sym=lambda s: []),
    "EmbeddingBag": lambda: op_case("EmbeddingBag", layer(nn.EmbeddingBag, "num_embeddings", "embedding_dim"),
                                    {"num_embeddings": st.just(10), "embedding_dim": st.integers(1, 4),
                                     "mode": st.sampled_from(["sum", "mean", "max"])},
                                    required=("num_embeddings", "embedding_dim"),
                                    inputs=lambda d: [(d(st.sampled_from(["i64", "i64", "f32"])), _shape(d, 1, 3))],
                                    sym=lambda s: []),
    # cells, transformer layers
    **{name: (lambda name=name: op_case(name, layer(getattr(nn, name), "input_size", "hidden_size",
                                                    infer=lambda xs: {"input_size": xs[0].shape[-1]}),
                                        {"hidden_size": st.integers(1, 4), "bias": st.booleans()},
                                        required=("hidden_size",), ranks=(0, 3), sym=lambda s: [],
                                        multi=name == "LSTMCell"))
       for name in ("RNNCell", "GRUCell", "LSTMCell")},
    **{name: (lambda name=name: op_case(name, layer(getattr(nn, name), "d_model", "nhead", infer=lambda xs: {
        "d_model": xs[0].shape[-1], "dim_feedforward": 8}), {"nhead": st.sampled_from([1, 2, 3]),
                                                               "dim_feedforward": st.just(8),
                                                               "batch_first": st.booleans()},
        required=("nhead", "dim_feedforward"),
        inputs=(lambda d: [("f32", (s := (3, 2, 4) if maybe(d) else (2, 6))), ("f32", s)])
        if name.startswith("TransformerDecoder") else (lambda d: [("f32", (3, 2, 4) if maybe(d) else (2, 6))]),
        form="tuple" if name.startswith("TransformerDecoder") else None, sym=lambda s: []))
       for name in ("TransformerEncoderLayer", "TransformerDecoderLayer")},
    **{name: (lambda name=name: op_case(name, layer(getattr(nn, name)), {"scale_factor": st.sampled_from([2, 1.5])},
                                        required=("scale_factor",), inputs=nc(2), sym=lambda s: []))
       for name in ("UpsamplingNearest2d", "UpsamplingBilinear2d")},
}


def stricter(case: Case, expected: Outcome) -> str | None:
    """Inputs torch accepts that netc rejects on purpose, with the reason."""
    name = case.spec.name
    dtypes = [dt for dt, _ in case.inputs]
    shapes = [shp for _, shp in case.inputs]
    if name in FLOAT_UNARY or name in ("AvgPool3d", "LocalResponseNorm", "PairwiseDistance", "CosineSimilarity", "LPPool1d",
                                       "LPPool2d", "LPPool3d", "hardswish", "hardsigmoid", "mish", "selu", "celu", "rrelu", "logsigmoid",
                                       "softsign", "softshrink", "hardshrink", "tanhshrink", "softmin", "glu"):
        if dtypes[0] not in FLOATS:
            return "torch computes float functions of integer tensors in float32; netc asks for a float input"
    if name == "AdaptiveAvgPool3d" and len(shapes[0]) == 3:
        return ("torch's adaptive average pooling over (D, H, W) takes a rank-3 tensor as one channel-less volume "
                "(its max counterpart refuses it); netc asks for (C, D, H, W) or (N, C, D, H, W)")
    if name in ("sign", "square", "round", "trunc", "ceil") and dtypes[0] == "bool":
        return "netc asks for a numeric input where torch also takes bool"
    if name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "StochasticDepth"):
        want = {"Dropout1d": (2, 3), "Dropout2d": (3, 4), "Dropout3d": (4, 5)}.get(name)
        if dtypes[0] not in FLOATS or (want and len(shapes[0]) not in want) or (
                name == "FeatureAlphaDropout" and len(shapes[0]) < 2):
            return ("torch skips its checks for p = 0 or 1, warns for other ranks and passes integers through; "
                    "netc asks for a float input in the layout the layer is made for")
    n = int(name[-2]) if name.startswith("InstanceNorm") else 0
    if n and len(shapes[0]) > n and case.attrs.get("num_features") not in (None, shapes[0][-n - 1]):
        return "torch only warns when num_features differs without affine parameters; netc asks for the channels"
    if name in ("pad",) or name.startswith(("ReflectionPad", "ReplicationPad", "CircularPad")):
        if case.attrs.get("mode", "constant") != "constant" and any(p < 0 for p in case.attrs.get("pad", ())):
            return "netc allows negative pads (cropping) only in constant mode"
    return None
