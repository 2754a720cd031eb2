"""Recurrent layers: RNN, LSTM and GRU, with torch's attributes, shapes and parameter layout.

`out, h = x -> GRU(256)` and `out, (h, c) = x -> LSTM(256)`: the outputs are the per-step output and the
final state(s), as torch returns them. An initial state is an optional extra input, `LSTM(256, (h0, c0))`.
Parameters are named exactly like torch's (`weight_ih_l0`, `bias_hh_l1_reverse`, `weight_hr_l0`), in
torch's order, so checkpoints load with strict=True.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..dims import IntLike, dims_equal
from ..limits import LAYERS
from ..types import TensorType
from .base import (
    Attr,
    Bool,
    Choice,
    Cost,
    Float,
    Int,
    OpSpec,
    Optional,
    ShapeError,
    Warn,
    expect_float,
    expect_rank,
    known,
    numel,
    positive,
    register,
)


class _RNNBase(OpSpec):
    family = "recurrent"
    gates: ClassVar[int] = 1  # gate blocks stacked in weight_ih: LSTM i,f,g,o; GRU r,z,n
    states: ClassVar[int] = 1  # initial/final state tensors: LSTM (h, c)
    min_inputs = 1
    max_inputs = 2
    common: ClassVar[tuple[Attr, ...]] = (
        Attr("hidden_size", positive, doc="features in the hidden state"),
        Attr("num_layers", positive, 1, doc="stacked recurrent layers"),
        Attr("bias", Bool, True, positional=False, doc="learn bias_ih and bias_hh"),
        Attr("batch_first", Bool, False, positional=False, doc="input and output are (N, L, H) instead of (L, N, H)"),
        Attr("dropout", Float(0.0, 1.0), 0.0, positional=False,
             doc="dropout on the outputs of each layer but the last (training only)"),
        Attr("bidirectional", Bool, False, positional=False, doc="also run backwards; outputs are concatenated"),
        Attr("input_size", Optional(positive), None, positional=False, inferred=True,
             doc="features of the input; inferred from its last dim"),
    )
    attrs = common

    def proj(self, a: dict[str, Any]) -> int:
        return 0

    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        x = xs[0]
        layout = "N, L, H_in" if a["batch_first"] else "L, N, H_in"
        expect_rank(x, (2, 3), f"{layout}, or L, H_in unbatched")
        expect_float(x, self.name)
        given, last = a["input_size"], x.dims[-1]
        if given is not None and dims_equal(given, last) is False:
            raise ShapeError("E200", f"`{self.name}` expects input_size {given}, but the input's last dim is {last}",
                             label=f"input here is {x}", help="drop `input_size` to infer it from the input")
        a["input_size"] = known(last, "the input's last dim (input_size)")
        d = 2 if a["bidirectional"] else 1
        h_out = self.proj(a) or a["hidden_size"]
        batched = x.rank == 3
        if batched:
            n, steps = (x.dims[0], x.dims[1]) if a["batch_first"] else (x.dims[1], x.dims[0])
            out = (n, steps, d * h_out) if a["batch_first"] else (steps, n, d * h_out)
        else:
            n, out = None, (x.dims[0], d * h_out)
        lead: tuple[IntLike, ...] = (d * a["num_layers"],) + ((n,) if n is not None else ())
        state_shapes = [lead + (h_out,)] + ([lead + (a["hidden_size"],)] if self.states == 2 else [])
        self._check_states(xs[1:], state_shapes, x)
        return [x.with_dims(out)] + [x.with_dims(s) for s in state_shapes]

    def _check_states(self, given: list[TensorType], shapes: list[tuple[IntLike, ...]], x: TensorType) -> None:
        if not given:
            return
        names = ("h0", "c0")[: len(shapes)]
        if len(given) != len(shapes):
            raise ShapeError("E308", f"`{self.name}` takes its initial state as ({', '.join(names)}), "
                             f"but got {len(given)} state tensor{'s' if len(given) != 1 else ''}",
                             help=f"pass both: `{self.name}(..., ({', '.join(names)}))`")
        for name, t, want in zip(names, given, shapes):
            shown = "(" + ", ".join(map(str, want)) + ")"
            if t.rank != len(want):
                raise ShapeError("E201", f"`{self.name}` initial state {name} must be {shown} for a rank-{x.rank} "
                                 f"input, but it is {t}", label=f"{name} here is {t}")
            if t.dtype != x.dtype:
                raise ShapeError("E205", f"`{self.name}` initial state {name} must have the input's dtype "
                                 f"{x.dtype}, but it is {t.dtype}", label=f"{name} here is {t}")
            for i, (p, q) in enumerate(zip(t.dims, want)):
                same = dims_equal(p, q)
                if same is False:
                    raise ShapeError("E200", f"`{self.name}` initial state {name} must be {shown} "
                                     "(num_layers * directions, batch, hidden), but it is "
                                     f"{t.shape_str()}", label=f"{name} here is {t}")
                if same is None:
                    self.warnings.append(Warn("W002", f"`{self.name}` assumes {name} dim {i} ({p}) equals {q}"))

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        if a["num_layers"] > LAYERS.value:  # each stacked layer is a parameter set: bound them before listing
            raise ShapeError(LAYERS.code, f"num_layers={a['num_layers']:,} stacks too many layers", LAYERS.hint(),
                             label="", attr="num_layers")
        h, p = a["hidden_size"], self.proj(a)
        h_out = p or h
        d = 2 if a["bidirectional"] else 1
        out: dict[str, tuple[IntLike, ...]] = {}
        for layer in range(a["num_layers"]):
            in_size = a["input_size"] if layer == 0 else h_out * d
            for direction in range(d):
                sfx = f"l{layer}" + ("_reverse" if direction else "")
                out[f"weight_ih_{sfx}"] = (self.gates * h, in_size)
                out[f"weight_hh_{sfx}"] = (self.gates * h, h_out)
                if a["bias"]:
                    out[f"bias_ih_{sfx}"] = (self.gates * h,)
                    out[f"bias_hh_{sfx}"] = (self.gates * h,)
                if p:
                    out[f"weight_hr_{sfx}"] = (p, h)
        return out

    def pack(self, outs: list[Any]) -> Any:
        return (outs[0], tuple(outs[1:])) if self.states == 2 else tuple(outs)

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        # Per step and sequence: every gate block is W_ih x + W_hh h (one MAC per weight), plus the projection.
        # Element-wise: the bias adds and gate non-linearities, ~3 per gate unit (GRU/LSTM state updates).
        x = xs[0]
        steps_batch = numel(x.dims[:-1])  # L * N, or L unbatched
        h, p = a["hidden_size"], self.proj(a)
        d = 2 if a["bidirectional"] else 1
        macs: IntLike = 0
        for layer in range(a["num_layers"]):
            in_size = a["input_size"] if layer == 0 else (p or h) * d
            macs += d * (self.gates * h * (in_size + (p or h)) + p * h)
        flops = a["num_layers"] * d * 3 * self.gates * h
        return Cost(macs=steps_batch * macs, flops=steps_batch * flops)  # type: ignore[operator]


@register
class RNN(_RNNBase):
    name = "RNN"
    doc = "Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh); outputs (out, h_n)."
    attrs = _RNNBase.common + (
        Attr("nonlinearity", Choice("tanh", "relu"), "tanh", positional=False, doc="'tanh' or 'relu'"),
    )


@register
class GRU(_RNNBase):
    name = "GRU"
    gates = 3
    doc = ("Gated recurrent unit, gates r, z, n (torch order; the reset gate multiplies W_hn h + b_hn); "
           "outputs (out, h_n).")


@register
class LSTM(_RNNBase):
    name = "LSTM"
    gates = 4
    states = 2
    max_inputs = 3
    doc = "Long short-term memory, gates i, f, g, o (torch order); outputs (out, (h_n, c_n))."
    attrs = _RNNBase.common + (
        Attr("proj_size", Int(0), 0, positional=False, doc="project h to this size (weight_hr); 0 for none"),
    )

    def proj(self, a: dict[str, Any]) -> int:
        p = a["proj_size"]
        if p and p >= a["hidden_size"]:
            raise ShapeError("E305", f"proj_size ({p}) must be smaller than hidden_size ({a['hidden_size']})")
        return int(p)
