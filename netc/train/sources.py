"""The data sources a section's `data:` can name, each opened as one :class:`netc.train.data.Part`."""
from __future__ import annotations

from typing import Any

import numpy as np

from .data import NP_DTYPES, Part, load_digits, read_array, read_npz, resolve
from .errors import TrainError
from .recipe import Section


def open_source(section: Section, rng: np.random.Generator) -> Part:
    name = section.data
    if name == "digits":
        return _digits(section)
    if name == "npz":
        args = section.data_args
        x, y = read_npz(resolve(section, args["path"]), [args["x"], args["y"]])
        return _arrays(section, x, y)
    if name == "npy":
        args = section.data_args
        x = read_array(resolve(section, args["x"]))
        y = read_array(resolve(section, args["y"]), mmap=False) if args.get("y") else None
        return _arrays(section, x, y)
    if name == "synthetic":
        return synthetic(section, rng)
    if name == "torchvision":
        from .vision import open_torchvision

        return open_torchvision(section)
    from . import media

    return media.open_media(section, rng)  # images, csv, text


def _digits(section: Section) -> Part:
    """8x8 images, pixels scaled to 0..1: as [8, 8] for the section's transforms, else in the input's shape."""
    from .transforms import pipeline

    images, labels = load_digits()
    keep = np.flatnonzero(labels < section.data_args["classes"])
    x = images.astype(np.float32) / 16.0
    if section.transforms:
        return Part(x, labels.astype(np.int64), keep, pipeline(section, augment=True))
    return Part(x.reshape((len(images), *(section.x_shape or (64,)))), labels.astype(np.int64), keep)


def _arrays(section: Section, x: Any, y: np.ndarray | None) -> Part:
    """Arrays (perhaps memory-mapped) converted to the network's input one batch at a time."""
    from .transforms import pipeline

    if y is not None and len(y) != len(x):
        raise TrainError(f"the data has {len(x)} inputs but {len(y)} targets", key="data")
    want = tuple(section.x_shape or ())
    if not section.transforms and section.x_shape is not None and tuple(x.shape[1:]) != want:
        # the checker read the same header; the file changed since
        raise TrainError(f"the data's x has samples of shape {list(x.shape[1:])}, but the network takes "
                         f"{list(want)}", key="data")
    return Part(x, y, np.arange(len(x)), pipeline(section, augment=True))


# -- synthetic data ------------------------------------------------------------------------------
def synthetic(section: Section, rng: np.random.Generator) -> Part:
    """Inputs drawn from the declared type; targets from a fixed random linear teacher of the inputs, so that
    the targets depend on the inputs and the loss can actually fall."""
    n = int(section.data_args["n"])
    if section.x_shape is None or section.x_dtype is None:
        raise TrainError("synthetic data needs the type of `x`: use it as a network's input in the loss", key="data")
    shape = (n, *section.x_shape)
    dtype = section.x_dtype
    if dtype.startswith("f") or dtype == "bf16":
        x = rng.standard_normal(shape).astype(NP_DTYPES[dtype])
    elif dtype == "bool":
        x = rng.random(shape) < 0.5
    else:
        x = rng.integers(0, section.vocabulary or 2, size=shape).astype(NP_DTYPES[dtype])
    y = _teacher(x, section, rng) if section.target_kind is not None else None
    return Part(x, y, np.arange(n))


def _teacher(x: np.ndarray, section: Section, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    flat = x.reshape(n, -1).astype(np.float64)
    flat = (flat - flat.mean(0)) / (flat.std(0) + 1e-8)
    rest = tuple(d if d >= 0 else 1 for d in section.target_shape or ())
    width = int(np.prod(rest)) if rest else 1
    if section.target_kind == "class":
        classes = int(section.target_classes or 2)
        w = rng.standard_normal((flat.shape[1], width * classes))
        scores = (flat @ w).reshape((n, *rest, classes)) if rest else (flat @ w).reshape(n, classes)
        return scores.argmax(-1).astype(np.int64)
    w = rng.standard_normal((flat.shape[1], width)) / np.sqrt(flat.shape[1])
    out = (flat @ w).reshape((n, *rest))
    if section.target_kind == "binary":
        return (out > 0).astype(np.float32)
    if section.target_kind == "dist":
        e = np.exp(out - out.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)
    return out.astype(np.float32)
