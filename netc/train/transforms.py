"""The declared transforms of `x` (`transforms: [resize(32), to_float(255), channels_first]`), run on each
batch. Their names, arguments and effect on shapes are dsl/train_data.py's, which the checker used to check
the section; image transforms work on each image of the batch with Pillow and NumPy, augmentations (random
crops, flips, colour jitter) only on the training split, from a generator seeded by the batch's position."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..dsl.train_data import AUGMENTATIONS, PER_IMAGE
from .data import NP_DTYPES
from .recipe import Section

Images = list[np.ndarray] | np.ndarray


def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    from PIL import Image

    if img.shape[:2] == (h, w):
        return img
    if img.dtype == np.uint8:
        return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.BILINEAR))
    # float images ([H, W]): one channel at a time in Pillow's 32-bit float mode
    planes = img[..., None] if img.ndim == 2 else img
    out = [np.asarray(Image.fromarray(planes[..., c].astype(np.float32), mode="F").resize((w, h),
                                                                                        Image.Resampling.BILINEAR))
           for c in range(planes.shape[-1])]
    stacked = np.stack(out, -1).astype(img.dtype)
    return stacked[..., 0] if img.ndim == 2 else stacked


def _crop(img: np.ndarray, top: int, left: int, h: int, w: int) -> np.ndarray:
    return img[top:top + h, left:left + w]


def _per_image(name: str, args: dict[str, Any], img: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    h = args.get("height")
    w = args.get("width") or h
    if name == "resize":
        return _resize(img, h, w)
    if name == "center_crop":
        top, left = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        return _crop(img, top, left, h, w)
    if name == "grayscale":
        if img.ndim == 2:
            return img
        gray = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return gray.round().astype(img.dtype) if img.dtype == np.uint8 else gray.astype(img.dtype)
    if rng is None:  # evaluation: augmentations do nothing, except that a random crop takes the centre
        if name == "random_crop":
            return _per_image("center_crop", args, img, None)
        return img
    if name == "random_crop":
        pad = args.get("padding", 0)
        if pad:
            widths = [(pad, pad), (pad, pad)] + [(0, 0)] * (img.ndim - 2)
            img = np.pad(img, widths)
        top = int(rng.integers(0, img.shape[0] - h + 1))
        left = int(rng.integers(0, img.shape[1] - w + 1))
        return _crop(img, top, left, h, w)
    if name == "flip":
        return img[:, ::-1] if rng.random() < args["p"] else img
    if name == "color_jitter":
        x = img.astype(np.float32)
        top = 255.0 if img.dtype == np.uint8 else 1.0
        for key in ("brightness", "contrast", "saturation"):
            v = args[key]
            if not v:
                continue
            f = float(rng.uniform(max(0.0, 1 - v), 1 + v))
            if key == "brightness":
                x = x * f
            elif key == "contrast":
                x = (x - x.mean()) * f + x.mean()
            elif x.ndim == 3:
                gray = x[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
                x = (x - gray[..., None]) * f + gray[..., None]
        x = np.clip(x, 0, top)
        return x.round().astype(img.dtype) if img.dtype == np.uint8 else x.astype(img.dtype)
    raise KeyError(name)


def _batch(name: str, args: dict[str, Any], a: np.ndarray) -> np.ndarray:
    if name == "to_float":
        return a.astype(np.float32) / np.float32(args["scale"])
    if name == "channels_first":
        return np.ascontiguousarray(np.moveaxis(a, -1, 1))
    if name == "add_channel":
        return a[:, None]
    if name == "flatten":
        return a.reshape(len(a), -1)
    if name == "normalize":
        mean, std = (np.asarray(args[k], np.float32) for k in ("mean", "std"))
        shape = (1, -1) + (1,) * (a.ndim - 2) if mean.ndim else ()
        return ((a - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)
    raise KeyError(name)


def pipeline(section: Section, augment: bool) -> Callable[[Images, np.random.Generator | None], np.ndarray]:
    """The section's transforms then a cast to the network's dtype, as one function of a batch (a list of
    images of any sizes, or an array). Without `augment` (validation, test) augmentations are off."""
    steps = list(section.transforms)
    target = np.dtype(NP_DTYPES.get(section.x_dtype or "f32", np.float32))

    def run(batch: Images, rng: np.random.Generator | None) -> np.ndarray:
        images: Images = batch
        rng = rng if augment else None
        for name, args in steps:
            if name in PER_IMAGE:
                if name in AUGMENTATIONS and rng is None and name != "random_crop":
                    continue
                images = [_per_image(name, args, img, rng) for img in images]
            else:
                images = _batch(name, args, _stack(images))
        return _stack(images).astype(target, copy=False)
    run.augments = any(name in AUGMENTATIONS for name, _ in steps)  # type: ignore[attr-defined]
    return run


def _stack(images: Images) -> np.ndarray:
    if isinstance(images, np.ndarray):
        return images
    try:
        return np.stack(images)
    except ValueError:
        sizes = sorted({img.shape for img in images})
        from .errors import TrainError

        raise TrainError(f"the images of a batch differ in size ({sizes[0]} and {sizes[-1]})", key="data",
                         help="add `resize(height, width)` or `center_crop(height, width)` to `transforms`") from None
