"""The contract between a generated training script and the runtime that runs it.

`netc compile --target torch` writes, for each `train` section, a :class:`Recipe` subclass after the networks:
the section's own code (which networks with which arguments, the optimizers, the schedules, the loss as
`torch.nn.functional` calls) plus a :class:`Section` literal with the settings the loop needs (data, batch,
epochs, metrics, checkpoints...). `netc train` generates that same module and runs it through
:func:`netc.train.loop.fit`; the script runs it the same way from `python script.py` or `torchrun script.py`.
One implementation: there is no second trainer that could drift from what the script does.

Nothing here imports torch: the generated module imports it itself, and `netc check` never loads this.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A checked `train` section as plain values (the generated script holds it as a literal)."""

    name: str
    source: str  # the .net file, absolute: data and checkpoint paths in the section are relative to its folder
    seed: int
    batch: int
    epochs: int | None
    steps: int | None
    data: str  # the data source: digits, synthetic, npz, npy, images, csv, text
    data_args: dict[str, Any]
    x_dtype: str | None  # netc dtype of the first network input (f32, i64, ...)
    x_shape: tuple[int, ...] | None  # one sample's shape (without the batch)
    target_kind: str | None  # class, binary, real, dist (None: the loss takes no target)
    target_classes: int | None
    target_shape: tuple[int, ...] | None  # one sample's target shape, -1 where symbolic
    vocabulary: int | None  # the Embedding size an integer input feeds (synthetic token ids stay below it)
    losses: tuple[str, ...]  # the networks that take a step, in order
    schedule: str | None
    schedule_per_step: bool  # stepped after every optimizer step (else after every epoch)
    schedule_spans_run: bool  # its shape depends on the total number of steps (cosine, warmup, one-cycle)
    plateau_monitor: str | None
    metrics: tuple[tuple[str, dict[str, Any]], ...]  # (name, args), e.g. ("top_k", {"k": 3})
    metric_kind: str | None  # multiclass or binary
    metric_loss: str | None  # the loss on the scored output: how to turn it into probabilities
    clip_norm: float | None
    clip_value: float | None
    early_stopping: dict[str, Any] | None  # patience, monitor, min_delta
    checkpoint: dict[str, Any]  # dir, every, keep, best
    transforms: tuple[tuple[str, dict[str, Any]], ...] = ()  # applied to x, in order
    # Where each setting is written (key -> (start, end) character offsets in `source`), so that a problem
    # found while training is reported at its line like a compile error.
    locations: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def single(self) -> bool:
        return len(self.losses) == 1


class Recipe:
    """One `train` section's code. The generated subclass fills in every method; the loop calls them."""

    section: Section

    def path(self, written: str) -> str:
        """A path written in the section, relative to the .net file's folder (as the checker read it)."""
        import os.path

        return os.path.join(os.path.dirname(self.section.source), written)

    def networks(self) -> dict[str, Any]:
        """The networks by alias, seeded, with `init`, `freeze` and `replace` applied."""
        raise NotImplementedError

    def frozen(self) -> dict[str, list[str]]:
        """Submodules kept in eval mode while training (frozen BatchNorm keeps its statistics)."""
        return {}

    def optimizers(self, models: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def schedules(self, optimizers: dict[str, Any], total_steps: int) -> dict[str, Any]:
        return {}

    def losses(self, models: dict[str, Any], modules: dict[str, Any], x: Any,
               target: Any) -> Iterator[tuple[str, Any, Any]]:
        """Yield (network, loss, scored output or None) for each step in order. `models` are the networks as
        the engine runs them (DistributedDataParallel, compiled); `modules` the plain ones, for a network
        that another one's loss only reads (the discriminator in the generator's loss)."""
        raise NotImplementedError
