"""Data sources that read files (image folders, CSV tables, text) and the transforms of `x`, as the checker
sees them: each transform's arguments and what it does to one sample's shape and dtype, and the layout a
source gives before any transform (read from the files' headers, never whole files). The runtime
(netc/train/transforms.py, netc/train/media.py) implements the same names; this module imports no torch,
and Pillow only to read the size of one image.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass(frozen=True)
class Layout:
    """One sample of `x` (no batch dim), with the NumPy dtype name it has at that point."""

    dims: tuple[int, ...]
    dtype: str

    def __str__(self) -> str:
        return f"{self.dtype}[{', '.join(map(str, self.dims))}]"


class LayoutError(Exception):
    """A transform that cannot apply to what it is given; the message says why."""


def _image(layout: Layout, name: str) -> tuple[int, int]:
    if len(layout.dims) not in (2, 3):
        raise LayoutError(f"`{name}` works on images [H, W] or [H, W, C] (channels last), not {layout}: put it "
                          "before `channels_first`")
    return layout.dims[0], layout.dims[1]


def _sized(name: str) -> Callable[[Layout, dict[str, Any]], Layout]:
    def effect(layout: Layout, args: dict[str, Any]) -> Layout:
        h, w = _image(layout, name)
        size = (args["height"], args["width"] if args.get("width") is not None else args["height"])
        if name != "resize" and (size[0] > h or size[1] > w):
            raise LayoutError(f"`{name}({size[0]}, {size[1]})` is larger than the images ({h}x{w})")
        return Layout((size[0], size[1], *layout.dims[2:]), layout.dtype)
    return effect


def _same(name: str) -> Callable[[Layout, dict[str, Any]], Layout]:
    def effect(layout: Layout, args: dict[str, Any]) -> Layout:
        _image(layout, name)
        return layout
    return effect


def _channels_first(layout: Layout, args: dict[str, Any]) -> Layout:
    if len(layout.dims) != 3:
        raise LayoutError(f"`channels_first` turns [H, W, C] into [C, H, W], but the samples are {layout}")
    h, w, c = layout.dims
    return Layout((c, h, w), layout.dtype)


def _grayscale(layout: Layout, args: dict[str, Any]) -> Layout:
    h, w = _image(layout, "grayscale")
    return Layout((h, w), layout.dtype)


def _product(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


# name -> (arguments: (name, kind, default), effect on one sample, what it does)
TRANSFORMS: dict[str, tuple[tuple[tuple[str, str, Any], ...], Callable[[Layout, dict[str, Any]], Layout], str]] = {
    "resize": ((("height", "int", None), ("width", "int", None)), _sized("resize"),
               "resize images to height x width (bilinear; a square when width is left out)"),
    "center_crop": ((("height", "int", None), ("width", "int", None)), _sized("center_crop"),
                    "cut the central height x width"),
    "random_crop": ((("height", "int", None), ("width", "int", None), ("padding", "int", 0)),
                    _sized("random_crop"), "cut a random height x width (after zero padding), training only"),
    "flip": ((("p", "float", 0.5),), _same("flip"), "mirror left-right with probability p, training only"),
    "color_jitter": ((("brightness", "float", 0.0), ("contrast", "float", 0.0), ("saturation", "float", 0.0)),
                     _same("color_jitter"), "random brightness/contrast/saturation factors in [1-v, 1+v], "
                     "training only"),
    "grayscale": ((), _grayscale, "RGB images [H, W, 3] to luminance [H, W]"),
    "to_float": ((("scale", "float", 1.0),), lambda lay, a: Layout(lay.dims, "float32"),
                 "to float32, divided by scale (255 maps pixels to 0..1)"),
    "channels_first": ((), _channels_first, "[H, W, C] to [C, H, W] (NHWC to NCHW)"),
    "add_channel": ((), lambda lay, a: Layout((1, *lay.dims), lay.dtype), "[H, W] to [1, H, W]"),
    "normalize": ((("mean", "floats", None), ("std", "floats", None)), lambda lay, a: Layout(lay.dims, "float32"),
                  "(x - mean) / std, per channel (dim 1 of the batch) or one number for all"),
    "flatten": ((), lambda lay, a: Layout((_product(lay.dims),), lay.dtype), "one sample to a flat vector"),
}
PER_IMAGE = ("resize", "center_crop", "random_crop", "flip", "color_jitter", "grayscale")
AUGMENTATIONS = ("random_crop", "flip", "color_jitter")


def apply(layout: Layout, transforms: list[tuple[str, dict[str, Any]]]) -> Layout:
    for name, args in transforms:
        layout = TRANSFORMS[name][1](layout, args)
    return layout


def fixing_hint(have: Layout, want: tuple[int, ...], want_dtype_float: bool) -> str | None:
    """The transform that turns `have` into the network's sample shape, when one does."""
    d = have.dims
    if len(d) == 3 and len(want) == 3 and (d[2], d[0], d[1]) == want:
        return "the samples are channels-last (NHWC): add `channels_first` to `transforms`"
    if len(d) == 3 and len(want) == 3 and d[2] == want[0] and d[:2] != want[1:]:
        return (f"the samples are channels-last {d[0]}x{d[1]}: add `resize({want[1]}, {want[2]})` and "
                "`channels_first` to `transforms`")
    if len(d) + 1 == len(want) and want[0] == 1 and d == want[1:]:
        return "the samples have no channel dim: add `add_channel` to `transforms`"
    if len(d) == 2 and len(want) == 3 and want[0] == 1:
        return f"add `resize({want[1]}, {want[2]})` and `add_channel` to `transforms`"
    if len(want) == 1 and _product(d) == want[0]:
        return "the network takes flat vectors: add `flatten` to `transforms`"
    if len(d) == 3 and d[2] == 3 and len(want) == 3 and want[0] == 1:
        return "the images are RGB and the network takes one channel: add `grayscale` (then `add_channel`)"
    return None


# -- what a source gives before transforms -------------------------------------------------------
def class_folders(root: Path) -> list[tuple[str, list[Path]]]:
    """An image folder's classes (its subfolders, sorted) and each one's image files (sorted)."""
    if not root.is_dir():
        raise OSError(f"no folder at {root}")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            out.append((sub.name, files))
    if not out:
        raise OSError(f"{root} has no class folders with images (expected {root.name}/<class>/<image>.png)")
    return out


def image_layout(first: Path) -> Layout:
    """The layout of one decoded image: [H, W, 3] uint8 (colour) or [H, W] (grayscale), from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(first) as img:
            w, h = img.size
            gray = img.mode in ("L", "1", "I;16", "I", "F")
    except (UnidentifiedImageError, OSError) as exc:
        raise OSError(f"cannot read the image {first.name}: {exc}") from None
    return Layout((h, w) if gray else (h, w, 3), "uint8")


def csv_columns(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise OSError(f"{path.name} is empty")
    return [h.strip() for h in header]


def text_vocabulary(path: Path) -> tuple[int, int]:
    """(characters, distinct characters) of a UTF-8 text."""
    text = path.read_text(encoding="utf-8")
    return len(text), len(set(text))
