"""`data: torchvision(CIFAR10, root="data")`: an image data set of torchvision, when it is installed.

netc never depends on torchvision (it pins its own torch) and never downloads: the data set must already be
in `root`, as torchvision's `download=True` left it. Its images are read one batch at a time and given to the
section's transforms exactly as the `images` source gives a folder's (uint8 [H, W, 3], or [H, W] for
grayscale), so the same transforms apply. The checker cannot read torchvision's files without importing it,
so the layout check that `images` gets at compile time happens here, when the data set opens, with the same
hint naming the transform that fixes a mismatch.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..dsl.train_data import Layout, LayoutError, apply, fixing_hint
from .data import Part, resolve
from .errors import TrainError
from .recipe import Section

INSTALL = ("install a torchvision built for torch 2.13.0 (`pip install torchvision`), or export the data set "
           "to an image folder (`images(...)`) or `.npy` files")


class DatasetImages:
    """A torchvision data set indexed by rows: `x[rows]` is those samples' images as arrays."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, rows: np.ndarray) -> list[np.ndarray]:
        return [_pixels(self.dataset[int(r)][0]) for r in np.atleast_1d(rows)]


def _pixels(image: Any) -> np.ndarray:
    """A PIL image (what torchvision gives without a `transform`) as uint8 [H, W, 3] or [H, W]."""
    if hasattr(image, "mode") and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # palette, RGBA, CMYK... as the `images` source decodes them
    return np.asarray(image)


def open_torchvision(section: Section) -> Part:
    from .transforms import pipeline

    args = section.data_args
    name = str(args["dataset"])
    try:
        import torchvision.datasets as datasets
    except ImportError:
        raise TrainError("`torchvision(...)` needs torchvision, which is not installed", key="data",
                         help=INSTALL) from None
    cls = getattr(datasets, name, None)
    if not isinstance(cls, type):
        from ..dsl.diagnostics import did_you_mean

        known = [n for n in dir(datasets) if isinstance(getattr(datasets, n), type) and not n.startswith("_")]
        guess = did_you_mean(name, known)
        raise TrainError(f"torchvision has no data set `{name}`", key="data",
                         help=f"did you mean `{guess}`?" if guess else "name a class of torchvision.datasets")
    root = resolve(section, args["root"])
    kwargs: dict[str, Any] = {"root": str(root)}
    params = inspect.signature(cls).parameters
    if "download" in params:
        kwargs["download"] = False  # nothing downloads at run time
    if "train" in params:
        kwargs["train"] = args["split"] == "train"
    elif "split" in params:
        kwargs["split"] = args["split"]
    try:
        dataset = cls(**kwargs)
    except (RuntimeError, OSError, ValueError) as exc:  # torchvision: "Dataset not found or corrupted"
        raise TrainError(f"cannot open torchvision's {name} in {root}: {exc}", key="data",
                         help="netc never downloads: fetch it once with torchvision (download=True) into that "
                         "folder; `root` is relative to the .net file's folder") from None
    if len(dataset) == 0:
        raise TrainError(f"torchvision's {name} in {root} has no samples", key="data")
    x = DatasetImages(dataset)
    _check_layout(section, x[np.array([0])][0])
    return Part(x, _labels(dataset), np.arange(len(dataset)), pipeline(section, augment=True))


def _labels(dataset: Any) -> np.ndarray:
    """The class index of every sample: the data set's `targets` (or `labels`) when it keeps them, else read
    sample by sample."""
    for attr in ("targets", "labels"):
        held = getattr(dataset, attr, None)
        if held is not None and len(held) == len(dataset):
            return np.asarray(held, dtype=np.int64).reshape(len(dataset))
    return np.array([int(dataset[i][1]) for i in range(len(dataset))], dtype=np.int64)


def _check_layout(section: Section, first: np.ndarray) -> None:
    """One image through the declared transforms against the network's input, as the checker does for an
    image folder (dsl/train.py `_source_layout`)."""
    layout = Layout(tuple(int(d) for d in first.shape), str(first.dtype))
    try:
        layout = apply(layout, [(n, a) for n, a in section.transforms])
    except LayoutError as exc:
        raise TrainError(str(exc), key="transforms" if section.transforms else "data") from None
    if section.x_shape is None or section.x_dtype is None:
        return
    want = tuple(section.x_shape)
    floating = section.x_dtype.startswith("f") or section.x_dtype == "bf16"
    shown = f"{section.x_dtype}[B, {', '.join(map(str, want))}]"
    key = "transforms" if section.transforms else "data"
    if layout.dims != want:
        raise TrainError(f"the data's x is {layout} per sample, but the network takes {shown}", key=key,
                         help=fixing_hint(layout, want, floating) or "each sample must have the shape of the input "
                         "after its batch dim")
    if floating and not layout.dtype.startswith("float"):
        raise TrainError(f"the data's x is {layout} per sample, but the network takes {shown}", key=key,
                         help="add `to_float(255)` to `transforms` (pixels 0..255 to 0..1)")
