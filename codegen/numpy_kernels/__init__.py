"""NumPy kernels for netc's reference backend: one readable function per op family, torch semantics.

The generated NumPy code calls these functions; the generator (numpy_kernel_copy.py) copies the ones a
network uses, and the helpers and constants they need, into the generated file, so that file imports nothing
but NumPy. Every function works in float32 and float64 and keeps its input's dtype.

One module per op family; `FAMILIES` lists them in the order their kernels are copied (each module's kernels
in source order), and `KERNELS` below maps each canonical op name of `netc.dsl.ops.OPS` to the function that
computes it (plain NumPy functions for the trivial ops). A kernel may use another family's helpers (`conv`
uses shared.py's `_windows`); the copier follows those references across modules.

A package rather than flat codegen/ modules: the families are one unit with one front door (this table),
`from netc.codegen import numpy_kernels as K; K.conv` keeps working, and the copier walks one declared list.
"""
from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from . import activations, attention_layers, convolution, dense, more, norm, plumbing, pool, recurrent, resample, shared
from .activations import elu, erf, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus
from .attention_layers import attention, multihead_attention, positional_encoding
from .convolution import conv, conv_transpose
from .dense import embedding, linear
from .more import (
    bilinear,
    celu,
    channel_shuffle,
    cosine_similarity,
    cross_map_lrn2d,
    embedding_bag,
    erfc,
    erfinv,
    fold,
    gather,
    glu,
    group_norm,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    instance_norm,
    layer_norm_2d,
    local_response_norm,
    logsigmoid,
    lp_pool,
    masked_fill,
    mish,
    pad,
    pairwise_distance,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    relu6,
    rms_norm,
    rnn_cell,
    rrelu,
    rsqrt,
    selu,
    softmin,
    softshrink,
    softsign,
    sort,
    tanhshrink,
    threshold,
    topk,
    transformer_layer,
    unfold,
)
from .norm import batch_norm, dropout, layer_norm
from .plumbing import arange, chunk, flatten, index, split
from .pool import adaptive_avg_pool, adaptive_max_pool, avg_pool, max_pool
from .recurrent import rnn
from .recurrent import rnn_weights as rnn_weights
from .resample import interpolate

# The copy order: helpers shared by several families first, then the core families as the single module of
# old had them, then the later families (more.py). Generated files list their kernels in this order, so a
# new family module goes where its kernels should appear (appending keeps every generated file as it was).
FAMILIES: tuple[ModuleType, ...] = (shared, dense, convolution, pool, norm, activations, attention_layers, recurrent,
                                    resample, plumbing, more)

# Canonical op name -> the function computing it. A new op in netc.dsl.ops needs an entry here and an emitter
# in numpy_ref.EMITTERS; tests/test_numpy_completeness.py fails until both exist.
KERNELS: dict[str, Callable[..., Any]] = {
    "Linear": linear,
    "Embedding": embedding,
    "Conv1d": conv,
    "Conv2d": conv,
    "Conv3d": conv,
    "ConvTranspose1d": conv_transpose,
    "ConvTranspose2d": conv_transpose,
    "ConvTranspose3d": conv_transpose,
    "MaxPool1d": max_pool,
    "MaxPool2d": max_pool,
    "AvgPool1d": avg_pool,
    "AvgPool2d": avg_pool,
    "AdaptiveAvgPool1d": adaptive_avg_pool,
    "AdaptiveAvgPool2d": adaptive_avg_pool,
    "AdaptiveMaxPool1d": adaptive_max_pool,
    "AdaptiveMaxPool2d": adaptive_max_pool,
    "BatchNorm1d": batch_norm,
    "BatchNorm2d": batch_norm,
    "LayerNorm": layer_norm,
    "Dropout": dropout,
    "Flatten": flatten,
    "flatten": flatten,
    "view": np.reshape,
    "transpose": np.swapaxes,
    "permute": np.transpose,
    "concat": np.concatenate,
    "split": split,
    "chunk": chunk,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "matmul": np.matmul,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "silu": silu,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "softplus": softplus,
    "exp": np.exp,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "sum": np.sum,
    "mean": np.mean,
    "max": np.amax,
    "min": np.amin,
    "argmax": np.argmax,
    "index": index,
    "arange": arange,
    "scaled_dot_product_attention": attention,
    "MultiheadAttention": multihead_attention,
    "SinusoidalPositionalEncoding": positional_encoding,
    "LearnedPositionalEncoding": positional_encoding,
    "RNN": rnn,
    "GRU": rnn,
    "LSTM": rnn,
    "Upsample": interpolate,
    "interpolate": interpolate,
    # the later families (more.py)
    "sqrt": np.sqrt, "rsqrt": rsqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "log": np.log, "log2": np.log2, "log10": np.log10,
    "log1p": np.log1p, "expm1": np.expm1, "exp2": np.exp2, "erf": erf, "erfc": erfc, "erfinv": erfinv,
    "reciprocal": np.reciprocal, "neg": np.negative, "abs": np.abs, "sign": np.sign, "square": np.square,
    "floor": np.floor, "ceil": np.ceil, "round": np.round, "trunc": np.trunc,
    "clamp": np.clip, "pow": np.power, "where": np.where, "masked_fill": masked_fill,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "minimum": np.minimum, "maximum": np.maximum,
    "relu6": relu6, "hardtanh": hardtanh, "hardswish": hardswish, "hardsigmoid": hardsigmoid, "mish": mish,
    "selu": selu, "celu": celu, "rrelu": rrelu, "logsigmoid": logsigmoid, "softsign": softsign,
    "softshrink": softshrink, "hardshrink": hardshrink, "tanhshrink": tanhshrink, "threshold": threshold,
    "softmin": softmin, "Softmax2d": softmax, "glu": glu, "PReLU": prelu,
    "unsqueeze": np.expand_dims, "squeeze": np.squeeze, "expand": np.broadcast_to, "repeat": np.tile,
    "repeat_interleave": np.repeat, "stack": np.stack, "roll": np.roll, "Unflatten": np.reshape,
    "Identity": np.asarray,
    "cumsum": np.cumsum, "topk": topk, "sort": sort, "gather": gather, "einsum": np.einsum,
    "pad": pad, **{f"{kind}{n}d": pad for kind in ("ConstantPad", "ZeroPad", "ReflectionPad", "ReplicationPad",
                                                     "CircularPad") for n in (1, 2, 3)},
    "PixelShuffle": pixel_shuffle, "PixelUnshuffle": pixel_unshuffle, "ChannelShuffle": channel_shuffle,
    "Unfold": unfold, "Fold": fold,
    "BatchNorm3d": batch_norm, "SyncBatchNorm": batch_norm, "GroupNorm": group_norm,
    "InstanceNorm1d": instance_norm, "InstanceNorm2d": instance_norm, "InstanceNorm3d": instance_norm,
    "LocalResponseNorm": local_response_norm, "CrossMapLRN2d": cross_map_lrn2d, "RMSNorm": rms_norm,
    "LayerNorm2d": layer_norm_2d,
    "MaxPool3d": max_pool, "AvgPool3d": avg_pool, "AdaptiveAvgPool3d": adaptive_avg_pool,
    "AdaptiveMaxPool3d": adaptive_max_pool, "UpsamplingNearest2d": interpolate, "UpsamplingBilinear2d": interpolate,
    "LPPool1d": lp_pool, "LPPool2d": lp_pool, "LPPool3d": lp_pool,
    "Dropout1d": np.asarray, "Dropout2d": np.asarray, "Dropout3d": np.asarray, "AlphaDropout": np.asarray,
    "FeatureAlphaDropout": np.asarray, "StochasticDepth": np.asarray,
    "Bilinear": bilinear, "CosineSimilarity": cosine_similarity, "PairwiseDistance": pairwise_distance,
    "EmbeddingBag": embedding_bag,
    "RNNCell": rnn_cell, "GRUCell": rnn_cell, "LSTMCell": rnn_cell,
    "TransformerEncoderLayer": transformer_layer, "TransformerDecoderLayer": transformer_layer,
}
