"""Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""
from __future__ import annotations

from typing import Any

from ..dims import Dim, IntLike, floordiv
from ..types import TensorType
from .base import (
    Attr,
    AttrError,
    Bool,
    Choice,
    Cost,
    Int,
    OpSpec,
    Optional,
    ShapeError,
    Tuple,
    expect_float,
    expect_rank,
    known,
    numel,
    positive,
    register,
)

_AXES = ("length", "height", "width")
_LAYOUT = {1: "N, C, L", 2: "N, C, H, W", 3: "N, C, D, H, W"}


def _axis_names(n: int) -> tuple[str, ...]:
    return {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}[n]


def _padding(n: int):  # type: ignore[no-untyped-def]
    tup = Tuple(n, Int(0))

    def f(v: Any) -> Any:
        if isinstance(v, str):
            if v not in ("same", "valid"):
                raise AttrError(f"expected an int, a tuple, 'same' or 'valid', got {v!r}")
            return v
        return tup(v)
    return f


def _check_spatial_positive(op: str, out: IntLike, size: IntLike, axis: str, detail: str) -> None:
    if isinstance(out, int) and out <= 0:
        raise ShapeError("E203", f"`{op}` output {axis} would be {out}: the input {axis} {size} is too small "
                         f"for {detail}",
                         help="use a larger input, more padding, or a smaller kernel/stride")


def _check_padding_mode(mode: str, pad: Any, i: int, total_same: int, size: IntLike, axis: str) -> None:
    """torch pads by reflection (or wrapping) before the convolution; that needs enough input to mirror."""
    if mode not in ("reflect", "circular") or not isinstance(size, int) or pad == "valid":
        return
    # padding='same' puts the odd extra element on the right: torch pads total//2 left, the rest right.
    side = total_same - total_same // 2 if pad == "same" else pad[i]
    if (side >= size) if mode == "reflect" else (side > size):
        need = f"more than {side}" if mode == "reflect" else f"at least {side}"
        raise ShapeError("E203", f"padding_mode='{mode}' pads the {axis} by {side}, which needs an input {axis} "
                         f"of {need}, but it is {size}",
                         help="use less padding, a larger input, or padding_mode='zeros' or 'replicate'")


class _ConvNd(OpSpec):
    n: int = 2
    family = "conv"

    def cost(self, a: dict[str, Any], xs: list[TensorType], outs: list[TensorType]) -> Cost:
        # Each output element of a convolution is a dot product over (in_channels / groups) * kernel taps.
        # A transposed convolution is counted by its input elements instead, each scattered into
        # (out_channels / groups) * kernel taps, as torch's FLOP counter does (output cropping not subtracted).
        taps = numel(tuple(a["kernel_size"]))
        out = numel(outs[0].dims)
        if isinstance(self, ConvTranspose):
            macs = numel(xs[0].dims) * (a["out_channels"] // a["groups"]) * taps  # type: ignore[operator]
        else:
            macs = out * (a["in_channels"] // a["groups"]) * taps  # type: ignore[operator]
        return Cost(macs=macs, flops=out if a["bias"] else 0)

    def _split_input(self, x: TensorType) -> tuple[tuple[IntLike, ...], IntLike, tuple[IntLike, ...]]:
        expect_rank(x, (self.n + 1, self.n + 2), _LAYOUT[self.n])
        expect_float(x, self.name)
        lead = x.dims[:-self.n - 1]
        return lead, x.dims[-self.n - 1], x.dims[-self.n:]

    def _in_channels(self, a: dict[str, Any], c: IntLike) -> int:
        given = a["in_channels"]
        if given is not None and given != c:
            raise ShapeError("E200", f"`{self.name}` expects {given} input channels, but the input has {c}",
                             help=f"drop `in_channels={given}` to infer it from the input")
        cin = known(c, "the number of input channels")
        for what, v in (("in_channels", cin), ("out_channels", a["out_channels"])):
            if v % a["groups"]:
                raise ShapeError("E207", f"{what} ({v}) must be divisible by groups ({a['groups']})")
        a["in_channels"] = cin
        return cin


def _conv_attrs(n: int, transposed: bool) -> tuple[Attr, ...]:
    common = [
        Attr("out_channels", positive, doc="number of output channels"),
        Attr("kernel_size", Tuple(n), doc="size of the kernel: an int or a tuple"),
        Attr("stride", Tuple(n), 1),
        Attr("padding", Tuple(n, Int(0)) if transposed else _padding(n), 0,
             doc="zero padding: an int, a tuple" + ("" if transposed else ", 'same' or 'valid'")),
    ]
    if transposed:
        common += [Attr("output_padding", Tuple(n, Int(0)), 0), Attr("groups", positive, 1),
                   Attr("bias", Bool, True), Attr("dilation", Tuple(n), 1)]
    else:
        common += [Attr("dilation", Tuple(n), 1), Attr("groups", positive, 1), Attr("bias", Bool, True),
                   Attr("padding_mode", Choice("zeros", "reflect", "replicate", "circular"), "zeros")]
    common.append(Attr("in_channels", Optional(positive), None, positional=False, inferred=True,
                       doc="input channels; inferred from the input"))
    return tuple(common)


class Conv(_ConvNd):
    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        lead, c, spatial = self._split_input(x)
        self._in_channels(a, c)
        k, s, d, pad = a["kernel_size"], a["stride"], a["dilation"], a["padding"]
        if pad == "same" and any(si != 1 for si in s):
            raise ShapeError("E305", "padding='same' is not supported for strided convolutions",
                             help="use stride=1, or give the padding as numbers")
        out: list[IntLike] = []
        for i, size in enumerate(spatial):
            _check_padding_mode(a["padding_mode"], pad, i, d[i] * (k[i] - 1), size,
                                _axis_names(self.n)[i])
            if pad == "same":
                out.append(size)
                continue
            p = 0 if pad == "valid" else pad[i]
            span = d[i] * (k[i] - 1) + 1
            o = floordiv(size + 2 * p - span, s[i]) + 1  # type: ignore[operator]
            _check_spatial_positive(self.name, o, size, _axis_names(self.n)[i],
                                    f"kernel {k[i]}" + (f" with dilation {d[i]}" if d[i] != 1 else "")
                                    + f" and padding {p}")
            out.append(o)
        return [x.with_dims(lead + (a["out_channels"],) + tuple(out))]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        w = (a["out_channels"], a["in_channels"] // a["groups"]) + tuple(a["kernel_size"])
        return {"weight": w, "bias": (a["out_channels"],)} if a["bias"] else {"weight": w}


class ConvTranspose(_ConvNd):
    def infer(self, a: dict[str, Any], xs: list[TensorType]) -> list[TensorType]:
        (x,) = xs
        lead, c, spatial = self._split_input(x)
        self._in_channels(a, c)
        k, s, d, p, op = a["kernel_size"], a["stride"], a["dilation"], a["padding"], a["output_padding"]
        out: list[IntLike] = []
        for i, size in enumerate(spatial):
            if op[i] >= max(s[i], d[i]):
                raise ShapeError("E305", f"output_padding ({op[i]}) must be smaller than stride ({s[i]}) "
                                 f"or dilation ({d[i]})")
            o = (size - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1  # type: ignore[operator]
            _check_spatial_positive(self.name, o, size, _axis_names(self.n)[i], f"padding {p[i]}")
            out.append(o)
        return [x.with_dims(lead + (a["out_channels"],) + tuple(out))]

    def params(self, a: dict[str, Any], xs: list[TensorType]) -> dict[str, tuple[IntLike, ...]]:
        w = (a["in_channels"], a["out_channels"] // a["groups"]) + tuple(a["kernel_size"])
        return {"weight": w, "bias": (a["out_channels"],)} if a["bias"] else {"weight": w}


def _make(base: type, n: int, name: str, transposed: bool) -> type[OpSpec]:
    doc = f"{'Transposed ' if transposed else ''}{n}-D convolution over ({_LAYOUT[n]})."
    cls = type(name, (base,), {"name": name, "n": n, "attrs": _conv_attrs(n, transposed), "doc": doc})
    return register(cls)


Conv1d = _make(Conv, 1, "Conv1d", False)
Conv2d = _make(Conv, 2, "Conv2d", False)
Conv3d = _make(Conv, 3, "Conv3d", False)
ConvTranspose1d = _make(ConvTranspose, 1, "ConvTranspose1d", True)
ConvTranspose2d = _make(ConvTranspose, 2, "ConvTranspose2d", True)
ConvTranspose3d = _make(ConvTranspose, 3, "ConvTranspose3d", True)

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Dim"]
