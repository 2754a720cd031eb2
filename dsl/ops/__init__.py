"""The op registry. Importing this package registers every op family."""
from . import (  # noqa: F401  (registration side effects)
    activation,
    attention,  # scaled_dot_product_attention, MultiheadAttention, positional encodings
    cells,  # RNNCell, LSTMCell, GRUCell
    compare,  # eq/ne/lt/le/gt/ge (`x > 0`), minimum/maximum (`min(x, y)`)
    conv,
    distance,  # Bilinear, CosineSimilarity, PairwiseDistance, EmbeddingBag
    elementwise,  # sqrt, sin, log, abs, ..., clamp, pow, where, masked_fill
    indexing,  # cumsum, topk, sort, gather, einsum
    linear,
    norm,
    norm_more,  # GroupNorm, InstanceNorm, LocalResponseNorm, RMSNorm
    padding,  # pad and the padding layers
    pixel,  # PixelShuffle/Unshuffle, ChannelShuffle, Fold/Unfold
    pool,
    recurrent,  # RNN, LSTM, GRU
    reduce,  # sum/mean/max/min/argmax, index (x[:, -1]), arange
    regularization,  # Dropout1d/2d/3d, AlphaDropout, StochasticDepth
    resample,  # Upsample, interpolate
    shape,  # unsqueeze, squeeze, expand, repeat, repeat_interleave, stack, roll, Unflatten, Identity
    tensor,
    transformer,  # TransformerEncoderLayer, TransformerDecoderLayer
)
from .base import ALIASES, OPS, REQUIRED, Attr, AttrError, OpSpec, ShapeError, Warn, lookup
from .costs_more import declare_costs

declare_costs()  # the cost rules of the families registered above

__all__ = ["ALIASES", "OPS", "REQUIRED", "Attr", "AttrError", "OpSpec", "ShapeError", "Warn", "lookup"]
