"""Training data: where the samples come from and how they split into train/val/test.

A :class:`Part` is a view of the source's rows (an index), converted batch by batch: a `.npy` file is opened
as a memory map, so an array larger than memory streams from disk one batch at a time. Batching, shuffling
and sharding over processes are torch's DataLoader with netc's batch sampler (netc/train/loader.py).
"""
from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TrainError
from .recipe import Section

NP_DTYPES = {"f16": np.float16, "bf16": np.float32, "f32": np.float32, "f64": np.float64, "i8": np.int8,
             "i16": np.int16, "i32": np.int32, "i64": np.int64, "u8": np.uint8, "bool": np.bool_}


def _as_array(batch: Any, rng: np.random.Generator | None) -> np.ndarray:
    return np.asarray(batch)


@dataclass
class Part:
    """Some rows of a data source: `x[index]`, `y[index]`, converted per batch by `convert` (the declared
    transforms and the cast to the network's dtype). The training part augments: its generator is seeded by
    the section's seed, the epoch and the batch's position, so a resumed run augments as the first did."""

    x: Any  # an ndarray or memory map, or anything indexable by an array of rows (an image folder)
    y: np.ndarray | None
    index: np.ndarray
    convert: Callable[[Any, np.random.Generator | None], np.ndarray] = field(default=_as_array)
    augment: bool = False
    seed: int = 0
    epoch: int = 0

    def __len__(self) -> int:
        return len(self.index)

    def rows(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The samples at positions `which` of this part, as arrays ready for the network."""
        rows = self.index[which]
        rng = np.random.default_rng([self.seed, self.epoch, int(which[0]) if len(which) else 0]) \
            if self.augment else None
        batch = self.x[rows]
        x = self.convert(np.asarray(batch) if isinstance(batch, np.ndarray) else batch, rng)
        return x, (None if self.y is None else self.y[rows])

    def take(self, which: np.ndarray, augment: bool = False) -> Part:
        return Part(self.x, self.y, self.index[which], self.convert, augment, self.seed, self.epoch)


@dataclass
class Splits:
    train: Part
    val: Part | None
    test: Part | None


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits shipped in netc/train/data (uint8 pixels 0..16, labels 0..9)."""
    with resources.files("netc.train").joinpath("data/digits.npz").open("rb") as fh:
        with np.load(fh) as z:
            return z["images"], z["labels"]


def resolve(section: Section, path: str) -> Path:
    """A path written in the section, relative to the .net file's folder."""
    p = Path(path)
    return p if p.is_absolute() else Path(section.source).parent / p


def load(section: Section) -> Splits:
    """The data a section's `data:` names, shaped and typed for its first network, split with its seed."""
    from . import sources

    rng = np.random.default_rng(section.seed)
    part = sources.open_source(section, rng)
    part.seed = section.seed
    part = _fit_target(part, section)
    args = section.data_args
    return split(part, args.get("val", 0.0), args.get("test", 0.0), rng)


def split(part: Part, val: float, test: float, rng: np.random.Generator) -> Splits:
    n = len(part)
    order = rng.permutation(n)
    n_test = int(round(n * test))
    n_val = int(round(n * val))
    if n - n_test - n_val < 1:
        raise TrainError(f"the data has only {n} samples: nothing is left to train on after the splits", key="data")
    test_part = part.take(order[:n_test]) if n_test else None
    val_part = part.take(order[n_test:n_test + n_val]) if n_val else None
    augments = getattr(part.convert, "augments", False)  # only then does a batch need a generator
    return Splits(part.take(order[n_test + n_val:], augment=augments), val_part, test_part)


def read_array(path: Path, mmap: bool = True) -> np.ndarray:
    """A `.npy` file as a memory map (nothing read until a batch needs it); damaged files are user errors."""
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise TrainError(f"no data file at {path}", key="data") from None
    except (OSError, ValueError, EOFError) as exc:
        raise TrainError(f"cannot read {path}: {exc}", key="data",
                         help="it is not a NumPy array file, or it was cut short") from None


def read_npz(path: Path, keys: list[str | None]) -> list[np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys[:1] if k not in z.files]
            if missing:
                raise TrainError(f"{path} has no array {missing[0]!r}; it has {', '.join(z.files)}", key="data")
            return [z[k] if k is not None and k in z.files else None for k in keys]
    except FileNotFoundError:
        raise TrainError(f"no data file at {path}", key="data") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise TrainError(f"cannot read {path}: {type(exc).__name__}: {exc}", key="data",
                         help="it is not a NumPy .npz file, or it was damaged") from None


def _fit_target(part: Part, section: Section) -> Part:
    """Cast the targets to what the loss needs: int64 class indices, or floats shaped like the prediction."""
    kind = section.target_kind
    if kind is None or part.y is None:
        return part
    y = np.asarray(part.y)
    if kind == "class":
        if y.dtype.kind not in "iub":
            if y.dtype.kind == "f" and section.target_shape is not None and y.ndim == len(section.target_shape) + 2:
                return Part(part.x, y.astype(np.float32), part.index, part.convert, seed=part.seed)  # class probabilities
            raise TrainError(f"class targets must be integers, but the data's are {y.dtype}", key="data")
        y = y.astype(np.int64)
        classes = section.target_classes
        used = y[part.index]
        if classes is not None and len(used) and (used.min() < 0 or used.max() >= classes):
            raise TrainError(f"class targets must lie in [0, {classes}), but they span [{used.min()}, {used.max()}]",
                             key="data")
        return Part(part.x, y, part.index, part.convert, seed=part.seed)
    y = y.astype(np.float32)
    want = tuple(section.target_shape or ())
    if -1 not in want and y.shape[1:] != want and int(np.prod(y.shape[1:])) == int(np.prod(want)):
        y = y.reshape((len(y), *want))  # labels [N] for one logit [B, 1]
    if kind == "binary" and len(y) and not ((0 <= y) & (y <= 1)).all():
        raise TrainError("binary targets must lie in [0, 1]", key="data")
    return Part(part.x, y, part.index, part.convert, seed=part.seed)
