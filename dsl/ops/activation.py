"""Element-wise activations and the (log-)softmax family."""
from __future__ import annotations

from typing import Any

from ..dims import IntLike, dims_equal
from ..types import TensorType
from .base import Attr, Choice, Cost, Float, Int, OpSpec, ShapeError, expect_float, norm_dim, numel, positive, register
from .tensor import exact_div


class _Elementwise(OpSpec):
    family = "activation"
    needs_float: bool = True

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if self.needs_float:
            expect_float(x, self.name)
        elif x.dtype == "bool":  # torch: "Boolean inputs not supported for relu"
            raise ShapeError("E205", f"`{self.name}` needs a numeric input, but it is bool", label=f"input here is {x}")
        return [x]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outs[0].dims))  # one per element, transcendental or not


def _act(name: str, doc: str, attrs: tuple[Attr, ...] = (), aliases: tuple[str, ...] = (),
         needs_float: bool = True) -> type[OpSpec]:
    ns = {"name": name, "doc": doc, "attrs": attrs, "aliases": aliases, "needs_float": needs_float}
    return register(type(name, (_Elementwise,), ns))


relu = _act("relu", "max(x, 0)", aliases=("ReLU",), needs_float=False)
leaky_relu = _act("leaky_relu", "x if x > 0 else negative_slope * x",
                  (Attr("negative_slope", Float(), 0.01),), aliases=("LeakyReLU",))
elu = _act("elu", "x if x > 0 else alpha * (exp(x) - 1)", (Attr("alpha", Float(), 1.0),), aliases=("ELU",))
gelu = _act("gelu", "x * Phi(x); approximate='tanh' uses the tanh formula",
            (Attr("approximate", Choice("none", "tanh"), "none"),), aliases=("GELU",))
silu = _act("silu", "x * sigmoid(x), also called swish", aliases=("SiLU", "swish"))
sigmoid = _act("sigmoid", "1 / (1 + exp(-x))", aliases=("Sigmoid",))
tanh = _act("tanh", "hyperbolic tangent", aliases=("Tanh",))
softplus = _act("softplus", "log(1 + exp(beta * x)) / beta", (Attr("beta", Float(), 1.0),), aliases=("Softplus",))
exp = _act("exp", "e to the x")


class _SoftmaxLike(OpSpec):
    family = "activation"
    attrs = (Attr("dim", Int(), -1, doc="the dim that sums to one"),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, self.name)
        norm_dim(a["dim"], x.rank)
        return [x]

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        return Cost(flops=3 * numel(outs[0].dims))  # exp, the sum, the division (or log) per element


@register
class softmax(_SoftmaxLike):  # noqa: N801 - op names are what users type
    name = "softmax"
    aliases = ("Softmax",)
    doc = "exp(x) / sum(exp(x)) along `dim`"


@register
class log_softmax(_SoftmaxLike):  # noqa: N801
    name = "log_softmax"
    aliases = ("LogSoftmax",)
    doc = "log(softmax(x)) along `dim`, computed stably"


# -- the rest of torch.nn's element-wise activations ---------------------------------------------------------------
relu6 = _act("relu6", "min(max(x, 0), 6)", aliases=("ReLU6",), needs_float=False)
hardtanh = _act("hardtanh", "x clamped to [min_val, max_val]",
                (Attr("min_val", Float(), -1.0), Attr("max_val", Float(), 1.0)), aliases=("Hardtanh",),
                needs_float=False)
hardswish = _act("hardswish", "x * relu6(x + 3) / 6 (MobileNetV3)", aliases=("Hardswish",))
hardsigmoid = _act("hardsigmoid", "relu6(x + 3) / 6", aliases=("Hardsigmoid",))
mish = _act("mish", "x * tanh(softplus(x))", aliases=("Mish",))
selu = _act("selu", "scale * elu(x, alpha) with the self-normalising constants", aliases=("SELU",))
celu = _act("celu", "max(0, x) + min(0, alpha * (exp(x / alpha) - 1))", (Attr("alpha", Float(), 1.0),),
            aliases=("CELU",))
rrelu = _act("rrelu", "leaky ReLU with a random slope in [lower, upper] when training, their mean in eval",
             (Attr("lower", Float(), 1 / 8), Attr("upper", Float(), 1 / 3)), aliases=("RReLU",))
logsigmoid = _act("logsigmoid", "log(sigmoid(x)), computed stably", aliases=("LogSigmoid",))
softsign = _act("softsign", "x / (1 + |x|)", aliases=("Softsign",))
softshrink = _act("softshrink", "x - lambd if x > lambd, x + lambd if x < -lambd, else 0",
                  (Attr("lambd", Float(0.0), 0.5),), aliases=("Softshrink",))
hardshrink = _act("hardshrink", "x if |x| > lambd else 0", (Attr("lambd", Float(), 0.5),), aliases=("Hardshrink",))
tanhshrink = _act("tanhshrink", "x - tanh(x)", aliases=("Tanhshrink",))
threshold = _act("threshold", "x if x > threshold else value",
                 (Attr("threshold", Float()), Attr("value", Float())), aliases=("Threshold",), needs_float=False)


@register
class softmin(_SoftmaxLike):  # noqa: N801
    name = "softmin"
    aliases = ("Softmin",)
    doc = "softmax(-x) along `dim`"


@register
class Softmax2d(OpSpec):
    name = "Softmax2d"
    family = "activation"
    doc = "softmax over the channels of (N, C, H, W) or (C, H, W): dim -3"

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        if x.rank not in (3, 4):
            raise ShapeError("E201", f"`Softmax2d` expects a rank-3 or rank-4 input (N, C, H, W), but it has rank "
                             f"{x.rank}", label=f"input here is {x}")
        expect_float(x, self.name)
        return [x]


@register
class glu(OpSpec):  # noqa: N801
    name = "glu"
    family = "activation"
    aliases = ("GLU",)
    doc = "a * sigmoid(b), where a and b are the two halves of x along `dim`"
    attrs = (Attr("dim", Int(), -1),)

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, self.name)
        if x.rank == 0:
            raise ShapeError("E201", "`glu` does not support scalars", label=f"input here is {x}")
        d = norm_dim(a["dim"], x.rank)
        n = x.dims[d]
        half = exact_div(n, 2)
        if half is None:
            raise ShapeError("E207", f"`glu` halves dim {a['dim']}, so its size ({n}) must be even",
                             label=f"input here is {x}")
        return [x.with_dims(x.dims[:d] + (half,) + x.dims[d + 1:])]


@register
class PReLU(OpSpec):
    name = "PReLU"
    family = "activation"
    aliases = ("prelu",)
    doc = "max(0, x) + weight * min(0, x) with a learned slope, one or one per channel (dim 1)"
    attrs = (Attr("num_parameters", positive, 1, doc="1, or the number of channels"),
             Attr("init", Float(), 0.25, doc="initial slope"))

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        expect_float(x, self.name)
        n = a["num_parameters"]
        if n != 1:
            if x.rank == 0:
                raise ShapeError("E201", f"`PReLU({n})` needs a channel dim, but the input is a scalar")
            c = x.dims[1] if x.rank >= 2 else x.dims[0]
            if dims_equal(c, n) is not True:
                raise ShapeError("E200", f"`PReLU({n})` has one slope per channel, but the input has {c} channels",
                                 label=f"input here is {x}", help="use num_parameters=1 or the channel count")
        return [x]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        return {"weight": (a["num_parameters"],)}
