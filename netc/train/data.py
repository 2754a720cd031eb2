"""Training data: the built-in digits, arrays from .npz/.npy files, and synthetic data of the declared types.

Everything is held in memory as NumPy arrays, split once into train/val/test with the section's seed, and
batched by :func:`batches`, which also shards each global batch across DDP processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..dsl.dims import Dim
from ..dsl.ir import Graph
from ..dsl.train import TargetNeed, TrainSpec
from ..dsl.types import DTYPES, FLOAT_DTYPES, TensorType
from .errors import TrainError


@dataclass
class Arrays:
    x: np.ndarray
    y: np.ndarray | None

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> Arrays:
        return Arrays(self.x[idx], None if self.y is None else self.y[idx])


@dataclass
class Splits:
    train: Arrays
    val: Arrays | None
    test: Arrays | None
    classes: int | None = None


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits shipped in netc/train/data (uint8 pixels 0..16, labels 0..9)."""
    with resources.files("netc.train").joinpath("data/digits.npz").open("rb") as fh:
        with np.load(fh) as z:
            return z["images"], z["labels"]


def load(spec: TrainSpec) -> Splits:
    """The arrays a section's `data:` names, shaped and typed for its first network, split."""
    data = spec.data
    rng = np.random.default_rng(spec.seed)
    x_type = spec.input_type
    classes: int | None = None
    if data.name == "digits":
        images, labels = load_digits()
        keep = labels < data.args["classes"]
        x = images[keep].astype(np.float32) / 16.0
        y = labels[keep].astype(np.int64)
        classes = int(data.args["classes"])
        arrays = Arrays(_shape_like(x, x_type), y)
    elif data.name in ("npz", "npy"):
        arrays = _from_files(spec)
        if spec.target is not None and spec.target.kind == "class":
            classes = spec.target.classes
    else:
        arrays = synthetic(spec, rng)
        if spec.target is not None and spec.target.kind == "class":
            classes = spec.target.classes
    arrays = _fit_target(arrays, spec)
    return split(arrays, data.args.get("val", 0.0), data.args.get("test", 0.0), rng, classes)


def split(arrays: Arrays, val: float, test: float, rng: np.random.Generator, classes: int | None = None) -> Splits:
    n = len(arrays)
    order = rng.permutation(n)
    n_test = int(round(n * test))
    n_val = int(round(n * val))
    if n - n_test - n_val < 1:
        raise TrainError(f"the data has only {n} samples: nothing is left to train on after the splits")
    test_part = arrays.take(order[:n_test]) if n_test else None
    val_part = arrays.take(order[n_test:n_test + n_val]) if n_val else None
    return Splits(arrays.take(order[n_test + n_val:]), val_part, test_part, classes)


def _shape_like(x: np.ndarray, x_type: TensorType | None) -> np.ndarray:
    if x_type is None:
        return x.reshape(len(x), -1)
    return x.reshape((len(x), *[int(d) for d in x_type.dims[1:]]))


def _np_dtype(dtype: str) -> Any:
    return np.dtype(DTYPES[dtype])


def _from_files(spec: TrainSpec) -> Arrays:
    args = spec.data.args
    try:
        if spec.data.name == "npz":
            path = spec.resolve(args["path"])
            with np.load(path, allow_pickle=False) as z:
                if args["x"] not in z.files:
                    raise TrainError(f"{path} has no array {args['x']!r}; it has {', '.join(z.files)}")
                x = z[args["x"]]
                y = z[args["y"]] if args["y"] in z.files else None
        else:
            x = np.load(spec.resolve(args["x"]), allow_pickle=False)
            y = np.load(spec.resolve(args["y"]), allow_pickle=False) if args["y"] else None
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot read the training data: {exc}") from None
    x_type = spec.input_type
    if x_type is not None:
        want = tuple(int(d) for d in x_type.dims[1:])
        if tuple(x.shape[1:]) != want:
            raise TrainError(f"the data's x has samples of shape {list(x.shape[1:])}, but the network takes "
                             f"{list(want)}")
        x = x.astype(_np_dtype(x_type.dtype), copy=False)
    if y is not None and len(y) != len(x):
        raise TrainError(f"the data has {len(x)} inputs but {len(y)} targets")
    return Arrays(x, y)


def _fit_target(arrays: Arrays, spec: TrainSpec) -> Arrays:
    """Cast the targets to what the loss needs: int64 class indices, or floats shaped like the prediction."""
    need = spec.target
    if need is None or arrays.y is None:
        return arrays
    y = arrays.y
    if need.kind == "class":
        if y.dtype.kind not in "iub":
            if y.dtype.kind == "f" and y.ndim == len(need.type.dims) + 1:
                return Arrays(arrays.x, y.astype(np.float32))  # class probabilities
            raise TrainError(f"class targets must be integers, but the data's are {y.dtype}")
        y = y.astype(np.int64)
        if need.classes is not None and len(y) and (y.min() < 0 or y.max() >= need.classes):
            raise TrainError(f"class targets must lie in [0, {need.classes}), but they span [{y.min()}, {y.max()}]")
        return Arrays(arrays.x, y)
    y = y.astype(np.float32)
    want = tuple(int(d) if not isinstance(d, Dim) else -1 for d in need.type.dims[1:])
    if -1 not in want and y.shape[1:] != want and int(np.prod(y.shape[1:])) == int(np.prod(want)):
        y = y.reshape((len(y), *want))  # labels [N] for one logit [B, 1]
    if need.kind == "binary" and len(y) and not np.isin(y, (0.0, 1.0)).all() and not ((0 <= y) & (y <= 1)).all():
        raise TrainError("binary targets must lie in [0, 1]")
    return Arrays(arrays.x, y)


# -- synthetic data ------------------------------------------------------------------------------
def synthetic(spec: TrainSpec, rng: np.random.Generator) -> Arrays:
    """Inputs drawn from the declared type; targets from a fixed random linear teacher of the inputs, so that
    the targets depend on the inputs and the loss can actually fall."""
    n = int(spec.data.args["n"])
    x_type = spec.input_type
    if x_type is None:
        raise TrainError("synthetic data needs the type of `x`: use it as a network's input in the loss")
    graph = spec.models[0].graph if spec.single else None
    x = _random_input(x_type, n, rng, graph)
    need = spec.target
    y = _teacher(x, need, rng) if need is not None else None
    return Arrays(x, y)


def _random_input(t: TensorType, n: int, rng: np.random.Generator, graph: Graph | None) -> np.ndarray:
    shape = (n, *[int(d) for d in t.dims[1:]])
    if t.dtype in FLOAT_DTYPES:
        return rng.standard_normal(shape).astype(_np_dtype(t.dtype))
    if t.dtype == "bool":
        return rng.random(shape) < 0.5
    high = _vocabulary(graph) or 2
    return rng.integers(0, high, size=shape).astype(_np_dtype(t.dtype))


def _vocabulary(graph: Graph | None) -> int | None:
    """An integer input that feeds an Embedding holds token ids below its num_embeddings."""
    if graph is None or not graph.inputs:
        return None
    first = graph.inputs[0][1]
    for node in graph.op_nodes():
        if node.op == "Embedding" and any(v.id == first.id for v in node.inputs):
            return int(node.attrs["num_embeddings"])
    return None


def _teacher(x: np.ndarray, need: TargetNeed, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    flat = x.reshape(n, -1).astype(np.float64)
    flat = (flat - flat.mean(0)) / (flat.std(0) + 1e-8)
    rest = tuple(int(d) for d in need.type.dims[1:])
    width = int(np.prod(rest)) if rest else 1
    if need.kind == "class":
        classes = int(need.classes or 2)
        w = rng.standard_normal((flat.shape[1], width * classes))
        scores = (flat @ w).reshape((n, *rest, classes)) if rest else (flat @ w).reshape(n, classes)
        return scores.argmax(-1).astype(np.int64)
    w = rng.standard_normal((flat.shape[1], width)) / np.sqrt(flat.shape[1])
    out = (flat @ w).reshape((n, *rest))
    if need.kind == "binary":
        return (out > 0).astype(np.float32)
    if need.kind == "dist":
        e = np.exp(out - out.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)
    return out.astype(np.float32)


# -- batching ------------------------------------------------------------------------------------
def batches(n: int, batch: int, epoch_seed: int | None, rank: int = 0, world: int = 1) -> list[tuple[np.ndarray, int]]:
    """(indices, global batch size) for one epoch. With `world` processes each global batch of `batch` samples
    is split `idx[rank::world]`, so the union over processes is exactly the single-process batch."""
    order = np.random.default_rng(epoch_seed).permutation(n) if epoch_seed is not None else np.arange(n)
    out = []
    for start in range(0, n, batch):
        idx = order[start:start + batch]
        if world > 1 and len(idx) < world:
            break  # too few samples left to give every process one
        out.append((idx[rank::world], len(idx)))
    return out
