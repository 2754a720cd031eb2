"""The training loss of every step, kept on the device and read in blocks.

Reading a loss (`float(loss)`, `loss.item()`) waits for the device to finish the step, and with several
processes the mean over the global batch is one more collective. Doing either per step costs a small
network a few percent of its speed on a CPU (bench/bench_train.py) and much more on a GPU, where it stalls
the queue of kernels. So the steps' losses stay on the device, and every `SYNC_EVERY` steps (and at the end
of each epoch, before a checkpoint, on Ctrl-C) they are stacked, summed over the processes in one
collective, and read at once. A loss that is not finite is still reported with the step it happened at,
at most `SYNC_EVERY - 1` steps later.

One process on a CPU has no queue of kernels to stall and no other process to sum with: there the loss is
read as each step ends (`eager`), which costs less than keeping it as a tensor and stacking the block.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .engine import Engine
from .errors import TrainError

SYNC_EVERY = 32  # steps between two reads of the losses: the progress bar's loss moves this often


@dataclass
class Read:
    """The losses of some consecutive steps: `values[k][j]` is step k's loss of network j (the mean over
    the global batch), `sizes[k]` step k's global batch."""

    values: list[list[float]]
    sizes: list[int]


@dataclass
class Tally:
    eager: bool = False  # read each step's losses at once (one process on a CPU)
    pending: list[Any] = field(default_factory=list)  # per step: the losses as floats (eager) or tensors
    sizes: list[int] = field(default_factory=list)
    aliases: tuple[str, ...] = ()

    def add(self, losses: dict[str, torch.Tensor], global_n: int) -> None:
        """One step's losses (each this process's share of the global batch mean)."""
        if not self.aliases:
            self.aliases = tuple(losses)
        if self.eager:
            self.pending.append([v.item() for v in losses.values()])
        else:
            self.pending.append(tuple(v.detach() for v in losses.values()))
        self.sizes.append(global_n)

    @property
    def full(self) -> bool:
        return len(self.pending) >= SYNC_EVERY

    def read(self, engine: Engine, first_step: int, collective: bool = True) -> Read:
        """The pending steps' losses (the first of them is step `first_step + 1`), summed over the processes.
        Every process must call it at the same step, unless `collective` is off: then (after Ctrl-C, when the
        other processes may be gone) the values are this process's share alone, an estimate of the mean."""
        if not self.pending:
            return Read([], [])
        values: list[list[float]]
        if self.eager:
            values = self.pending
        else:
            nets = len(self.pending[0])
            flat = torch.stack([v.reshape(()) for row in self.pending for v in row]).double().reshape(-1, nets)
            if engine.world > 1 and collective:
                import torch.distributed as dist

                dist.all_reduce(flat)
                flat /= engine.world
            values = flat.tolist()  # the one wait for the device
        read = Read(values, self.sizes)
        self.pending, self.sizes = [], []
        for k, row in enumerate(values):
            for alias, v in zip(self.aliases, row):
                if not math.isfinite(v):
                    raise TrainError(f"the loss became {v} at step {first_step + k + 1}", key=f"loss {alias}",
                                     help="lower the learning rate, add clip_norm, or check the data")
        return read
