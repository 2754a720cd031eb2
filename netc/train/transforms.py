"""Declared transforms of the input `x` (`transforms: [to_float(255), channels_first, normalize(...)]`) and the
check that what they produce is what the network takes: a layout or dtype mismatch is a located error whose
hint names the transform that fixes it.

Each transform works on a whole batch (a NumPy array [N, ...]); image decoding and per-image augmentation
(resize, crops, flips, colour jitter) are in netc/train/images.py.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import NP_DTYPES
from .errors import TrainError
from .recipe import Section


@dataclass(frozen=True)
class Shape:
    dims: tuple[int, ...]
    dtype: str  # NumPy dtype name


def _to_float(scale: float) -> Callable[[np.ndarray], np.ndarray]:
    def f(a: np.ndarray) -> np.ndarray:
        return a.astype(np.float32) / np.float32(scale)
    return f


def _channels_first(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(a, -1, 1))


def _normalize(mean: Any, std: Any) -> Callable[[np.ndarray], np.ndarray]:
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)

    def f(a: np.ndarray) -> np.ndarray:
        shape = (1, -1) + (1,) * (a.ndim - 2) if m.ndim else ()
        return ((a - m.reshape(shape)) / s.reshape(shape)).astype(np.float32)
    return f


def _flatten(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1)


def _add_channel(a: np.ndarray) -> np.ndarray:
    return a[:, None]


def batch_transform(name: str, args: dict[str, Any]) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[Shape], Shape]]:
    """A declared array transform and what it does to one sample's shape and dtype."""
    if name == "to_float":
        return _to_float(args.get("scale", 1.0)), lambda s: Shape(s.dims, "float32")
    if name == "channels_first":
        return _channels_first, lambda s: Shape((s.dims[-1], *s.dims[:-1]) if s.dims else s.dims, s.dtype)
    if name == "normalize":
        return _normalize(args["mean"], args["std"]), lambda s: Shape(s.dims, "float32")
    if name == "flatten":
        return _flatten, lambda s: Shape((int(np.prod(s.dims)),), s.dtype)
    if name == "add_channel":
        return _add_channel, lambda s: Shape((1, *s.dims), s.dtype)
    raise KeyError(name)  # the checker admits no other


def check_layout(section: Section, dims: tuple[int, ...], dtype: str) -> Callable[[np.ndarray], np.ndarray]:
    """The declared transforms, composed, then a cast to the network's dtype; raises a TrainError with the
    transform that fixes a mismatch."""
    steps: list[Callable[[np.ndarray], np.ndarray]] = []
    shape = Shape(tuple(dims), dtype)
    for name, args in section.transforms:
        if name in IMAGE_ONLY:
            continue
        fn, effect = batch_transform(name, args)
        steps.append(fn)
        shape = effect(shape)
    want = tuple(section.x_shape or ())
    if section.x_shape is not None and shape.dims != want:
        raise TrainError(f"the data's x has samples of {_type(shape)}, but the network takes "
                         f"{_net_type(section)}", key="data", help=_layout_hint(shape, want))
    target = np.dtype(NP_DTYPES.get(section.x_dtype or "f32", np.float32))
    have = np.dtype(shape.dtype)
    if have.kind in "iub" and target.kind == "f" and not any(n == "to_float" for n, _ in section.transforms):
        raise TrainError(f"the data's x is {have.name}, but the network takes {_net_type(section)}", key="data",
                         help="add `transforms: [to_float(255)]` (pixels 0..255 to 0..1) or "
                              "`transforms: [to_float]` to convert the numbers as they are")
    if have.kind == "f" and target.kind in "iu":
        raise TrainError(f"the data's x is {have.name}, but the network takes {_net_type(section)}: "
                         "token ids must be integers", key="data")

    def convert(a: np.ndarray) -> np.ndarray:
        for step in steps:
            a = step(a)
        return a.astype(target, copy=False)
    return convert


IMAGE_ONLY = {"resize", "center_crop", "random_crop", "flip", "color_jitter"}


def _type(shape: Shape) -> str:
    return f"{shape.dtype}[{', '.join(map(str, shape.dims))}]"


def _net_type(section: Section) -> str:
    return f"{section.x_dtype}[B, {', '.join(map(str, section.x_shape or ()))}]"


def _layout_hint(have: Shape, want: tuple[int, ...]) -> str | None:
    d = have.dims
    if len(d) == len(want) and d and d[-1] == want[0] and d[:-1] == want[1:]:
        return "the samples are channels-last (NHWC): add `channels_first` to `transforms`"
    if len(d) + 1 == len(want) and want[0] == 1 and d == want[1:]:
        return "the samples have no channel dim: add `add_channel` to `transforms`"
    if len(want) == 1 and int(np.prod(d)) == want[0]:
        return "the network takes flat vectors: add `flatten` to `transforms`"
    return None
