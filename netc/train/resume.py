"""Resuming a run from its checkpoint: the same networks, optimizers, schedules, random state and position
in the epoch, so the resumed run continues exactly as an uninterrupted one. What cannot continue exactly is
refused with the reason: another section's checkpoint, networks that changed, or a schedule whose shape
depends on the run's length when `--epochs` changes that length."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import checkpoint as ckpt
from .errors import TrainError

if TYPE_CHECKING:
    from .loop import Run


def restore(run: Run, path: Path) -> None:
    state = ckpt.load(path)
    s = run.section
    if state.get("format") != ckpt.FORMAT:
        raise TrainError(f"{path} is not a netc training checkpoint", help="start from it with `init:` instead")
    if state.get("train") != s.name:
        raise TrainError(f"{path} was written by `train {state.get('train')}`, not `train {s.name}`")
    saved_models = state.get("models", {})
    for alias, model in run.models.items():
        if alias not in saved_models:
            raise TrainError(f"{path} has no network `{alias}` (it has {', '.join(saved_models) or 'none'})")
        own = run.engine.model_state(model)
        lines = ckpt.mismatch(own, saved_models[alias], path.name)
        if lines:
            raise TrainError(f"{path} does not fit `{alias}` as the file now defines it: " + "; ".join(lines),
                             help="the network changed since the checkpoint was written: resume with the .net "
                                  "file as it was, or start from these weights with `init:` and `replace:`")
    saved_total = int(state.get("total_steps", run.total_steps))
    if s.schedule_spans_run and saved_total != run.total_steps:
        raise TrainError(
            f"{path} was written by a run of {saved_total} steps ({state.get('epochs')} epochs), and its "
            f"`{s.schedule}` schedule is shaped by that length; this run would take {run.total_steps}",
            key="schedule",
            help=f"resume with --epochs {state.get('epochs')}, or start a new run from these weights with "
                 f"`init: \"{path}\"`")
    if int(state["epoch"]) >= run.epochs and not state.get("batch_in_epoch"):
        raise TrainError(f"{path} has already trained {state['epoch']} epochs; this run trains {run.epochs}",
                         help=f"pass --epochs {int(state['epoch']) + 1} or more to train further")
    for alias, model in run.models.items():
        run.engine.load_model_state(model, saved_models[alias])
    for alias, opt in run.optimizers.items():
        run.engine.load_optimizer_state(run.models[alias], opt, state["optimizers"][alias])
    for alias, sched in run.schedules.items():
        if sched is not None and alias in state["schedules"]:
            sched.load_state_dict(state["schedules"][alias])
    if run.engine.scaler is not None and state.get("scaler"):
        run.engine.scaler.load_state_dict(state["scaler"])
    run.epoch, run.step = int(state["epoch"]), int(state["step"])
    run.history = list(state["history"])
    run.step_losses = list(state["step_losses"])[: run.step]
    run.best = state["best"]
    run.best_epoch = state.get("best_epoch")
    run._early_best = state["early"]["best"]
    run.stale = int(state["early"]["stale"])
    run.batch_in_epoch = int(state["batch_in_epoch"])
    run.epoch_sums = (int(state["epoch_sums"][0]), float(state["epoch_sums"][1]))
    run.epoch_per_net = dict(state["epoch_per_net"])
    torch.random.set_rng_state(state["rng"])  # rank 0's: the other processes take their own streams again
    if run.engine.rank > 0:
        torch.manual_seed(s.seed + 1_000_003 * run.engine.rank + run.step)
