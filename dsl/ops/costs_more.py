"""Forward costs of the ops added with the torch.nn layer set and the tensor ops (see dsl/ops/base.py, Cost).

These families were written beside the cost rules, not after them, so their costs are declared here as a
table by kind rather than in each spec: elementwise arithmetic is one FLOP per output element, pure data
movement (reshapes, padding, gathers, dropout in eval mode) is free, normalisations count their per-element
steps. Ops whose arithmetic depends on more than their shapes' sizes say so in `not_counted`.
"""
from __future__ import annotations

from typing import Any

from ..types import TensorType
from .base import OPS, Cost, numel


def _per_element(k: int) -> Any:
    def cost(self: Any, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=k * numel(outs[0].dims))  # type: ignore[operator]
    return cost


def _free(self: Any, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
    return Cost()


ELEMENTWISE = ("sqrt rsqrt sin cos tan asin acos atan sinh cosh asinh acosh atanh log log2 log10 log1p expm1 exp2 "
               "erf erfc erfinv reciprocal neg abs sign square floor ceil round trunc clamp pow where masked_fill "
               "cumsum glu PReLU").split()
SOFTMAX_LIKE = ("Softmax2d",)  # exp, sum, divide per element, as softmax
DATA_MOVEMENT = ("unsqueeze squeeze expand repeat repeat_interleave stack roll Unflatten Identity gather pad "
                 "ConstantPad1d ConstantPad2d ConstantPad3d ZeroPad1d ZeroPad2d ZeroPad3d ReflectionPad1d "
                 "ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d CircularPad1d "
                 "CircularPad2d CircularPad3d PixelShuffle PixelUnshuffle ChannelShuffle Unfold Dropout1d Dropout2d "
                 "Dropout3d AlphaDropout FeatureAlphaDropout StochasticDepth").split()
NORMS = {"GroupNorm": 7, "InstanceNorm1d": 7, "InstanceNorm2d": 7, "InstanceNorm3d": 7, "RMSNorm": 4, "LayerNorm2d": 7,
         "LocalResponseNorm": 5, "CrossMapLRN2d": 5}  # mean/variance passes, normalise, affine
NOT_COUNTED = {
    "Fold": "overlapping blocks are summed; the count of adds depends on the overlap, not declared yet",
    "sort": "comparison counts of a sort are not floating-point work",
    "topk": "comparison counts of a selection are not floating-point work",
    "einsum": "the contraction's cost depends on the equation; not declared yet",
    "Bilinear": "not declared yet",
    "CosineSimilarity": "not declared yet",
    "PairwiseDistance": "not declared yet",
    "EmbeddingBag": "not declared yet",
    "RNNCell": "not declared yet", "GRUCell": "not declared yet", "LSTMCell": "not declared yet",
    "TransformerEncoderLayer": "not declared yet; write the layer from Linear, attention and norms to count it",
    "TransformerDecoderLayer": "not declared yet; write the layer from Linear, attention and norms to count it",
}


def declare_costs() -> None:
    """Attach the rules above to the registered specs (called once every family is registered)."""
    table: dict[str, Any] = {name: _per_element(1) for name in ELEMENTWISE}
    table.update({name: _per_element(3) for name in SOFTMAX_LIKE})
    table.update({name: _free for name in DATA_MOVEMENT})
    table.update({name: _per_element(k) for name, k in NORMS.items()})
    for name, rule in table.items():
        spec = OPS.get(name)
        if spec is not None and not spec.declares_cost():
            spec.cost = rule  # type: ignore[method-assign]
    for name, why in NOT_COUNTED.items():
        spec = OPS.get(name)
        if spec is not None and not spec.declares_cost() and not spec.not_counted:
            spec.not_counted = why

