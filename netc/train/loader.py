"""Batches for the loop: torch's DataLoader (worker processes, pinned memory) over a :class:`Part`, with a
batch sampler that shards each global batch over the processes.

Why not torch's DistributedSampler: it gives each process a contiguous share of the epoch and pads the last
batch with repeated samples, so N processes take different steps from one. Here global batch k of the epoch
is the same `batch` samples for any number of processes, split `idx[rank::world]`; with the loss weighted by
each share, N processes take exactly the steps of one (tests/test_train_dist.py checks it).

With worker processes, one DataLoader serves the whole run (`persistent_workers`): starting the workers
again every epoch cost more than the epoch's steps on a small network (bench/bench_train.py). Each batch
request carries its epoch, so the workers' copy of the data augments as the main process would, and the
DataLoader draws its workers' seeds from its own generator, not torch's global one: with or without workers
the run takes the same steps (tests/test_train_data.py checks it).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .data import Part


class PartDataset(Dataset):  # type: ignore[type-arg]
    """Rows of a Part; the DataLoader asks for a whole batch at once (`__getitems__`), so an in-memory array
    is sliced once per batch instead of once per sample."""

    def __init__(self, part: Part) -> None:
        self.part = part

    def __len__(self) -> int:
        return len(self.part)

    def __getitem__(self, i: int) -> Any:
        return self.__getitems__([i])

    def __getitems__(self, rows: list[int] | np.ndarray | Request) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(rows, Request):
            self.part.epoch = rows.epoch  # in a worker process: its own copy of the part
            rows = rows.rows
        x, y = self.part.rows(np.asarray(rows, dtype=np.int64))
        return torch.from_numpy(np.ascontiguousarray(x)), None if y is None else torch.from_numpy(np.asarray(y))


class Request(NamedTuple):
    """One batch asked of a worker process: the rows, and the epoch that seeds their augmentation."""

    epoch: int
    rows: np.ndarray


def _as_is(batch: Any) -> Any:
    """The dataset already returns whole batches (module level so worker processes can pickle it)."""
    return batch


class GlobalBatchSampler(Sampler[list[int]]):
    """One epoch's batches for process `rank` of `world`: a seeded permutation cut into global batches of
    `batch`, each split `idx[rank::world]`. `sizes[k]` is global batch k's size (for the loss weighting);
    `start` skips the batches a resumed run has already done."""

    def __init__(self, n: int, batch: int, seed: int | None, rank: int = 0, world: int = 1, start: int = 0) -> None:
        order = np.random.default_rng(seed).permutation(n) if seed is not None else np.arange(n)
        self.shards: list[np.ndarray] = []
        self.sizes: list[int] = []
        for first in range(0, n, batch):
            idx = order[first:first + batch]
            if world > 1 and len(idx) < world:
                break  # too few samples left to give every process one
            self.shards.append(idx[rank::world])
            self.sizes.append(len(idx))
        self.start = start

    def __len__(self) -> int:
        return len(self.shards) - self.start

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.shards[self.start:])  # type: ignore[arg-type]  # index arrays, read as lists of ints


class _CurrentEpoch(Sampler[Request]):
    """The batch sampler of the run's one DataLoader: this epoch's batches, set before each epoch."""

    def __init__(self) -> None:
        self.sampler: GlobalBatchSampler | None = None
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sampler) if self.sampler is not None else 0

    def __iter__(self) -> Iterator[Request]:
        if self.sampler is None:
            return iter(())
        return (Request(self.epoch, rows) for rows in self.sampler)  # type: ignore[misc]


class Batches:
    """The training batches of a run, epoch after epoch.

    Without worker processes (and without pinned memory for a GPU) the DataLoader would only call the dataset
    in this process with the same batches, so the batches come straight from it (measured in
    bench/bench_train.py: the DataLoader's own bookkeeping per batch is about a tenth of a small network's
    step). With workers, one DataLoader whose workers live until :meth:`close`."""

    def __init__(self, part: Part, workers: int, pin: bool, seed: int = 0) -> None:
        self.part = part
        self.dataset = PartDataset(part)
        self.requests = _CurrentEpoch()
        self.loader: DataLoader | None = None  # type: ignore[type-arg]
        if workers or pin:
            self.loader = DataLoader(self.dataset, batch_sampler=self.requests, collate_fn=_as_is,
                                     num_workers=workers, pin_memory=pin, persistent_workers=workers > 0,
                                     generator=torch.Generator().manual_seed(seed))

    def epoch(self, sampler: GlobalBatchSampler, epoch: int) -> Iterable[Any]:
        """One epoch's batches (those of `sampler`); `epoch` seeds their augmentations."""
        self.part.epoch = epoch
        if self.loader is None:
            return (self.dataset.__getitems__(rows) for rows in sampler)
        self.requests.sampler, self.requests.epoch = sampler, epoch
        return self.loader

    def close(self) -> None:
        """Stop the worker processes (the DataLoader's iterator shuts them down when it goes)."""
        self.loader = None


def loader(part: Part, sampler: GlobalBatchSampler, workers: int, pin: bool) -> Iterable[Any]:
    """The batches of `sampler` for a one-off pass (evaluation), in this process unless told otherwise."""
    dataset = PartDataset(part)
    if workers == 0 and not pin:
        return (dataset.__getitems__(rows) for rows in sampler)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_as_is, num_workers=workers, pin_memory=pin)


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch
