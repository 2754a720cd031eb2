"""The op registry. Importing this package registers every op family."""
from . import (  # noqa: F401  (registration side effects)
    activation,
    attention,  # scaled_dot_product_attention, MultiheadAttention, positional encodings
    conv,
    linear,
    norm,
    pool,
    recurrent,  # RNN, LSTM, GRU
    reduce,  # sum/mean/max/min/argmax, index (x[:, -1]), arange
    resample,  # Upsample, interpolate
    tensor,
)
from .base import ALIASES, OPS, REQUIRED, Attr, AttrError, OpSpec, ShapeError, Warn, lookup

__all__ = ["ALIASES", "OPS", "REQUIRED", "Attr", "AttrError", "OpSpec", "ShapeError", "Warn", "lookup"]
