"""The ONNX backend: an ONNX model (opset 18) straight from the IR, without torch.

Each op node becomes a few standard ONNX nodes (`EMITTERS`); parameters become initializers named by their
state_dict keys. Input dims that are symbols in the source (`B`, `T`, `H`, `W`) become named dynamic axes;
sizes computed from them inside the network (a `view(B, T, heads, d / heads)`) are built in the graph from
`Shape` of the input that binds each symbol, so one file serves every size. What ONNX cannot express is an
:class:`UnsupportedOp` naming the op and its source location, raised before anything is written.

`onnx` and `numpy` are the only imports; the file is checked with `onnx.checker` by the caller.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..dsl.dims import symbol_name
from ..dsl.ir import Graph, OpNode, StateNode, Value
from ..dsl.types import DTYPES
from . import onnx_more as m
from . import onnx_ops as o
from . import onnx_seq as s
from .onnx_builder import _ONNX_DTYPES, OPSET, Builder, Emitter, UnsupportedOp
from .onnx_compare import EMITTERS as COMPARE_EMITTERS

__all__ = ["EMITTERS", "OPSET", "UnsupportedOp", "to_onnx"]

EMITTERS: dict[str, Emitter] = {
    "Linear": o.linear, "Embedding": o.embedding,
    **{f"Conv{k}d": o.conv for k in (1, 2, 3)}, **{f"ConvTranspose{k}d": o.conv_transpose for k in (1, 2, 3)},
    "MaxPool1d": o.pool("max", 1), "MaxPool2d": o.pool("max", 2), "AvgPool1d": o.pool("avg", 1),
    "AvgPool2d": o.pool("avg", 2),
    "AdaptiveAvgPool1d": o.adaptive("avg", 1), "AdaptiveAvgPool2d": o.adaptive("avg", 2),
    "AdaptiveMaxPool1d": o.adaptive("max", 1), "AdaptiveMaxPool2d": o.adaptive("max", 2),
    "BatchNorm1d": o.batch_norm, "BatchNorm2d": o.batch_norm, "LayerNorm": o.layer_norm,
    "LayerNorm2d": o.layer_norm_2d, "expand": o.expand,
    "Dropout": o.unary("Identity"), "StochasticDepth": o.unary("Identity"),  # inference: the identity
    "Flatten": o.reshape, "flatten": o.reshape, "view": o.reshape,
    "transpose": o.transpose, "permute": o.permute, "concat": o.concat, "split": o.split, "chunk": o.split,
    "add": o.binary("Add"), "sub": o.binary("Sub"), "mul": o.binary("Mul"), "div": o.binary("Div"),
    "matmul": o.matmul,
    "RMSNorm": m.rms_norm, "repeat_interleave": m.repeat_interleave,
    "relu": o.unary("Relu"), "leaky_relu": o.unary("LeakyRelu", alpha="negative_slope"),
    "elu": o.unary("Elu", alpha="alpha"), "gelu": o.gelu, "silu": o.silu, "sigmoid": o.unary("Sigmoid"),
    "tanh": o.unary("Tanh"), "softplus": o.softplus, "exp": o.unary("Exp"),
    "softmax": o.softmax("Softmax"), "log_softmax": o.softmax("LogSoftmax"),
    "sum": o.reduce("ReduceSum"), "mean": o.reduce("ReduceMean"), "max": o.reduce("ReduceMax"),
    "min": o.reduce("ReduceMin"), "argmax": o.argmax, "index": o.index, "arange": o.arange,
    "scaled_dot_product_attention": s.sdpa, "MultiheadAttention": s.mha,
    "SinusoidalPositionalEncoding": s.positional("pe"), "LearnedPositionalEncoding": s.positional("weight"),
    "RNN": s.rnn, "GRU": s.rnn, "LSTM": s.rnn,
    "Upsample": s.interpolate, "interpolate": s.interpolate,
    # element-wise functions with an ONNX op of the same meaning (Round rounds half to even, as torch does)
    **{name: o.unary(op) for name, op in {
        "abs": "Abs", "neg": "Neg", "sign": "Sign", "floor": "Floor", "ceil": "Ceil", "round": "Round",
        "sqrt": "Sqrt", "reciprocal": "Reciprocal", "log": "Log", "erf": "Erf", "sin": "Sin", "cos": "Cos",
        "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh",
        "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh", "softsign": "Softsign", "hardswish": "HardSwish",
        "mish": "Mish", "selu": "Selu", "Identity": "Identity"}.items()},
    "hardsigmoid": o.unary("HardSigmoid", alpha=1 / 6, beta=0.5),  # torch's relu6(x + 3) / 6
    **COMPARE_EMITTERS,  # comparisons, minimum/maximum, pow, where, masked_fill
}

# Ops of the torch.nn layer set and the tensor-op family whose lowering is not written yet: exporting a network
# that uses one is a located E600 naming it (never a broken file). tests/test_onnx.py keeps this list exact.
NOT_LOWERED = frozenset("""
AdaptiveAvgPool3d AdaptiveMaxPool3d AlphaDropout AvgPool3d BatchNorm3d Bilinear ChannelShuffle CircularPad1d
CircularPad2d CircularPad3d ConstantPad1d ConstantPad2d ConstantPad3d CosineSimilarity CrossMapLRN2d Dropout1d
Dropout2d Dropout3d EmbeddingBag FeatureAlphaDropout Fold GRUCell GroupNorm InstanceNorm1d InstanceNorm2d
InstanceNorm3d LPPool1d LPPool2d LPPool3d LSTMCell LocalResponseNorm MaxPool3d PReLU PairwiseDistance PixelShuffle
PixelUnshuffle RNNCell ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d
ReplicationPad3d Softmax2d SyncBatchNorm TransformerDecoderLayer TransformerEncoderLayer Unflatten
Unfold UpsamplingBilinear2d UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d celu clamp cumsum einsum erfc erfinv
exp2 expm1 gather glu hardshrink hardtanh log10 log1p log2 logsigmoid pad relu6 repeat
roll rrelu rsqrt softmin softshrink sort square squeeze stack tanhshrink threshold topk trunc
unsqueeze
""".split())


# -- the model --------------------------------------------------------------------------------------------------
def _value_info(name: str, v: Value) -> onnx.ValueInfoProto:
    dims: list[int | str | None] = []
    for d in v.type.dims:
        dims.append(d if isinstance(d, int) else str(d))
    return helper.make_tensor_value_info(name, _ONNX_DTYPES[v.type.dtype], dims)




def _state_initializer(b: Builder, state: StateNode) -> None:
    """A declared parameter or buffer: the initializer of its state_dict key; a buffer kept out of the state_dict
    (`persistent=false`) is a constant made from its initializer."""
    assert state.value is not None
    if state.persistent:
        if state.path not in b.weights:
            raise UnsupportedOp(None, f"the weights have no `{state.path}`")
        b.initializers[state.path] = numpy_helper.from_array(np.ascontiguousarray(b.weights[state.path]), state.path)
        b.taken.add(state.path)
        b.names[state.value.id] = state.path
        return
    if state.init.kind not in ("zeros", "ones", "constant"):
        raise UnsupportedOp(None, f"`{state.path}` is a buffer outside the state_dict drawn at random "
                            f"({state.init.kind}); the ONNX graph cannot hold torch's draw",
                            "make it persistent, or constant")
    fill = state.init.arg("value") if state.init.kind == "constant" else {"zeros": 0.0, "ones": 1.0}[state.init.kind]
    array = np.full(tuple(int(d) for d in state.type.dims), fill, dtype=DTYPES[state.type.dtype])
    b.names[state.value.id] = b.const(array, state.path)


def supported(graph: Graph) -> list[OpNode]:
    """The op nodes no emitter exists for (an empty list: every op has one)."""
    return [n for n in graph.op_nodes() if n.op not in EMITTERS]


def to_onnx(graph: Graph, weights: dict[str, np.ndarray], opset: int = OPSET,
            producer: str = "netc") -> onnx.ModelProto:
    """An ONNX model of `graph` with `weights` (state_dict keys -> arrays) as initializers."""
    b = Builder(graph, weights)
    inputs = []
    for name, value, _ in graph.inputs:
        b.taken.add(name)
        b.names[value.id] = name
        inputs.append(_value_info(name, value))
        for axis, d in enumerate(value.type.dims):
            s = symbol_name(d)
            if s is not None and s not in b.symbols:
                b.symbols[s] = (name, axis)
    for state in graph.root.state_nodes():
        _state_initializer(b, state)
    for n in graph.op_nodes():
        b.node = n
        emitter = EMITTERS.get(n.op)
        if emitter is None:
            raise UnsupportedOp(n, f"the ONNX backend has no lowering for `{n.op}`")
        outs = emitter(b, n, [b.var(v) for v in n.inputs])
        for v, name in zip(n.outputs, outs):
            b.names[v.id] = name
    b.node = None
    outputs = []
    for name, value in graph.outputs:
        src = b.var(value)
        if name in b.taken and src != name:
            name = b.fresh(name)
        b.taken.add(name)
        b.nodes.append(helper.make_node("Identity", [src], [name], name=f"output/{name}"))
        outputs.append(_value_info(name, value))
    onnx_graph = helper.make_graph(b.nodes, graph.name, inputs, outputs, list(b.initializers.values()))
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=producer)
    model.ir_version = min(model.ir_version, 10)  # what current onnxruntime releases load
    return model
