"""ONNX lowerings of RMSNorm and repeat_interleave (opset 18 has no RMSNormalization)."""
from __future__ import annotations

from ..dsl.ir import OpNode
from ..dsl.ops.base import numel
from .onnx_builder import Builder


def rms_norm(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    """x / sqrt(mean(x^2) + eps) * weight over the trailing dims; eps none is the dtype's epsilon, as in torch."""
    a = n.attrs
    dt = n.outputs[0].type.dtype
    x = xs[0]
    k = len(a["normalized_shape"])
    eps = a["eps"]
    if eps is None:
        eps = {"f16": 2.0 ** -10, "bf16": 2.0 ** -7, "f32": 2.0 ** -23, "f64": 2.0 ** -52}[dt]
    mean_square = b.one("ReduceMean", [b.one("Mul", [x, x]), b.ints(list(range(-k, 0)))], keepdims=1)
    y = b.one("Div", [x, b.one("Sqrt", [b.one("Add", [mean_square, b.scalar(eps, dt)])])])
    return [b.one("Mul", [y, b.param(n, "weight")]) if a["elementwise_affine"] else y]


def repeat_interleave(b: Builder, n: OpNode, xs: list[str]) -> list[str]:
    """Each element `repeats` times along `dim`: a new axis after it, expanded, then merged into it."""
    x, v = xs[0], n.inputs[0]
    dims = v.type.dims
    r = n.attrs["repeats"]
    if n.attrs["dim"] is None:  # the flattened tensor
        x = b.one("Reshape", [x, b.ints([-1])])
        d, dims = 0, (numel(dims),)
    else:
        d = n.attrs["dim"] % v.type.rank
    wide = b.one("Unsqueeze", [x, b.ints([d + 1])])
    wide = b.one("Expand", [wide, b.shape(tuple(dims[:d + 1]) + (r,) + tuple(dims[d + 1:]))])
    return [b.one("Reshape", [wide, b.shape(n.outputs[0].type.dims)])]
