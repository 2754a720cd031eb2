"""Batches for the loop: torch's DataLoader (worker processes, pinned memory) over a :class:`Part`, with a
batch sampler that shards each global batch over the processes.

Why not torch's DistributedSampler: it gives each process a contiguous share of the epoch and pads the last
batch with repeated samples, so N processes take different steps from one. Here global batch k of the epoch
is the same `batch` samples for any number of processes, split `idx[rank::world]`; with the loss weighted by
each share, N processes take exactly the steps of one (tests/test_train_dist.py checks it).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

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

    def __getitems__(self, rows: list[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, y = self.part.rows(np.asarray(rows, dtype=np.int64))
        return torch.from_numpy(np.ascontiguousarray(x)), None if y is None else torch.from_numpy(np.asarray(y))


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


def loader(part: Part, sampler: GlobalBatchSampler, workers: int, pin: bool) -> Iterable[Any]:
    """The batches of one epoch. With worker processes (or pinned memory for a GPU) that is torch's DataLoader;
    without, the DataLoader would only call the dataset in this process with the same batches, so the batches
    come straight from it (measured in bench/bench_train.py: the DataLoader's own bookkeeping per batch is
    about a tenth of a small network's step)."""
    dataset = PartDataset(part)
    if workers == 0 and not pin:
        return (dataset.__getitems__(rows) for rows in sampler)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_as_is, num_workers=workers, pin_memory=pin,
                      persistent_workers=False)


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch
