"""Element-wise activations and the (log-)softmax family."""
from __future__ import annotations

from typing import Any

from ..types import TensorType
from .base import Attr, Choice, Cost, Float, Int, OpSpec, ShapeError, expect_float, norm_dim, numel, register


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
