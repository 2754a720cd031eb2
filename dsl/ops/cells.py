"""One step of a recurrent layer: RNNCell, LSTMCell, GRUCell, with torch's parameter layout.

`h = (x, h0) -> GRUCell(32)` and `h, c = (x, h0, c0) -> LSTMCell(32)`; the state inputs are optional (zeros).
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..dims import IntLike
from ..types import TensorType
from .base import Attr, Bool, Choice, OpSpec, Optional, ShapeError, expect_float, known, positive, register
from .shape import require_equal


class _Cell(OpSpec):
    family = "recurrent"
    gates: ClassVar[int] = 1
    states: ClassVar[int] = 1
    min_inputs = 1
    attrs = (
        Attr("hidden_size", positive),
        Attr("bias", Bool, True),
        Attr("input_size", Optional(positive), None, positional=False, inferred=True),
    )

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x = xs[0]
        if x.rank not in (1, 2):
            raise ShapeError("E201", f"`{self.name}` expects (N, H_in) or unbatched (H_in), but the input has rank "
                             f"{x.rank}", label=f"input here is {x}")
        expect_float(x, self.name)
        if len(xs) not in (1, 1 + self.states):
            raise ShapeError("E308", f"`{self.name}` takes the input and {self.states} state tensor"
                             f"{'s' if self.states > 1 else ''}, or the input alone")
        given = a["input_size"]
        if given is not None and given != x.dims[-1]:
            raise ShapeError("E200", f"`{self.name}` expects input_size={given}, but the input's last dim is "
                             f"{x.dims[-1]}", label=f"input here is {x}")
        a["input_size"] = known(x.dims[-1], "the input's last dim (input_size)")
        h = x.dims[:-1] + (a["hidden_size"],)
        for s in xs[1:]:
            if s.rank != len(h):
                raise ShapeError("E201", f"`{self.name}` state {s} must be {TensorType(x.dtype, h)}")
            for i, (p, q) in enumerate(zip(s.dims, h)):
                require_equal(p, q, f"`{self.name}` state {s} must be {TensorType(x.dtype, h)} (dim {i})",
                              "the state is (N, hidden_size), with the input's batch")
            if s.dtype != x.dtype:
                raise ShapeError("E205", f"`{self.name}` state {s} must have the input's dtype {x.dtype}")
        return [x.with_dims(h)] * self.states

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        g, hid = self.gates * a["hidden_size"], a["hidden_size"]
        out: dict[str, tuple[IntLike, ...]] = {"weight_ih": (g, a["input_size"]), "weight_hh": (g, hid)}
        if a["bias"]:
            out.update({"bias_ih": (g,), "bias_hh": (g,)})
        return out


@register
class RNNCell(_Cell):
    name = "RNNCell"
    max_inputs = 2
    doc = "h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."
    attrs = _Cell.attrs + (Attr("nonlinearity", Choice("tanh", "relu"), "tanh", positional=False),)


@register
class GRUCell(_Cell):
    name = "GRUCell"
    gates = 3
    max_inputs = 2
    doc = "One GRU step: reset, update and new gates."


@register
class LSTMCell(_Cell):
    name = "LSTMCell"
    gates = 4
    states = 2
    max_inputs = 3
    always_tuple = True
    doc = "One LSTM step: `h, c = (x, h0, c0) -> LSTMCell(H)`."
