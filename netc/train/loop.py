"""The training loop that runs a :class:`netc.train.recipe.Recipe`: epochs of steps over the data, evaluation,
schedules, early stopping, checkpoints, logs, and resuming exactly where a run stopped.

`netc train` and a generated script's `__main__` both end here (netc/train/script.py); the section's own code
(networks, optimizers, schedules, loss) comes from the recipe, devices and distribution from the engine.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint as ckpt
from . import data as data_mod
from .engine import Engine
from .errors import TrainError
from .loader import Batches, GlobalBatchSampler, epoch_seed, loader
from .log import Progress, Table, TensorBoard, write_logs
from .metrics import SplitMetrics
from .recipe import Recipe
from .tally import Tally


@dataclass
class Options:
    epochs: int | None = None  # overrides the section's `epochs`
    device: str = "auto"  # auto, cpu, cuda
    precision: str = "32"  # 32, bf16, fp16
    strategy: str = "ddp"  # ddp or fsdp (several processes)
    sync_batchnorm: bool = False
    compile: bool = False
    accumulate: int = 1  # micro-batches per optimizer step (each batch is split; the step is the same)
    workers: int = 0  # DataLoader worker processes
    out: Path | None = None  # where checkpoints and logs go; default: the section's `checkpoint`, or runs/<name>
    resume: Path | None = None
    progress: bool = True
    threads: int | None = None  # CPU threads; default 1 for small networks (see _threads)
    tensorboard: bool = True
    stop_after: int | None = None  # a smoke test: end the run after this many optimizer steps
    echo: Callable[[str], None] = field(default=lambda s: print(s, flush=True))
    # Called after every optimizer step with (run, step); tests use it to interrupt a run.
    on_step: Callable[[Run, int], None] | None = None


@dataclass
class Report:
    history: list[dict[str, Any]]
    steps: list[float]  # the loss of every optimizer step (the sum over networks in multi-network training)
    test: dict[str, float]
    folder: Path
    interrupted: bool = False
    stopped_early: bool = False
    checkpoint: Path | None = None
    test_weights: str | None = None  # which weights the test metrics used: "best (epoch N)" or "last"


class Run:
    def __init__(self, recipe: Recipe, options: Options | None = None, engine: Engine | None = None) -> None:
        self.recipe = recipe
        self.section = s = recipe.section
        self.opts = options or Options()
        self.engine = engine or Engine.create(self.opts.device, self.opts.precision, self.opts.strategy,
                                              self.opts.sync_batchnorm, self.opts.compile)
        world = self.engine.world
        if world > 1 and s.batch % world:
            raise TrainError(f"batch {s.batch} does not split evenly over {world} processes", key="batch",
                             help=f"use a multiple of {world}")
        if self.opts.accumulate > 1 and not s.single:
            raise TrainError("--accumulate splits one network's batch; this section alternates several networks",
                             help="lower `batch` instead")
        torch.manual_seed(s.seed)
        self.models: dict[str, nn.Module] = recipe.networks()
        self.frozen = {a: [m.get_submodule(p) for p in recipe.frozen().get(a, [])] for a, m in self.models.items()}
        self.run_models = self.engine.wrap(self.models, s.single)
        if self.engine.rank > 0:
            # Every process built the same networks; from here each draws its own noise and dropout masks
            # (rank 0 keeps the single-process stream), or all would repeat the same draws on their samples.
            torch.manual_seed(s.seed + 1_000_003 * self.engine.rank)
        self.folder = self._folder()
        self.splits = data_mod.load(s)
        self.epochs = self.opts.epochs or s.epochs or 1
        n_batches = len(GlobalBatchSampler(len(self.splits.train), s.batch, None, 0, world))
        self.batches_per_epoch = max(1, n_batches)
        if s.steps is not None and self.opts.epochs is None:
            self.epochs = math.ceil(s.steps / self.batches_per_epoch)
            self.total_steps = s.steps
        else:
            self.total_steps = self.epochs * self.batches_per_epoch
        if self.engine.device.type == "cpu":
            _threads(self.models, self.opts.threads)
        self.optimizers = recipe.optimizers(self.models)
        for alias, opt in self.optimizers.items():
            if not any(p.requires_grad for g in opt.param_groups for p in g["params"]):
                raise TrainError(f"`{alias}` has no trainable weights", key=f"loss {alias}")
        self.schedules: dict[str, Any] = {a: None for a in self.optimizers}
        self.schedules.update(recipe.schedules(self.optimizers, self.total_steps))
        self.history: list[dict[str, Any]] = []
        self.step_losses: list[float] = []
        # the losses of the steps not yet read from the device (read at once where that waits for nothing)
        self.tally = Tally(eager=self.device.type == "cpu" and self.engine.world == 1)
        self._clips = bool(s.clip_norm or s.clip_value)
        self.epoch = 0
        self.step = 0
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: dict[str, dict[str, torch.Tensor]] | None = None
        self.stale = 0  # epochs without improvement, for early stopping
        self._early_best: float | None = None
        # Where an interrupted epoch stopped: resuming skips the batches it had done, so an interrupted and
        # resumed run makes exactly the steps of an uninterrupted one.
        self.batch_in_epoch = 0
        self.epoch_sums = (0, 0.0)
        self.epoch_per_net: dict[str, float] = {}
        self.last_lr = float("nan")
        self.test: dict[str, float] = {}
        self.test_weights: str | None = None
        if self.opts.resume is not None:
            from .resume import restore

            restore(self, self.opts.resume)

    @property
    def device(self) -> torch.device:
        return self.engine.device

    def close(self, finished: bool = False) -> None:
        """Let go of the process group. DDP's wrappers go first, while the group their reducers talk to is
        still alive: a reducer freed after gloo's teardown (at interpreter exit) aborted its process, about one
        DDP run in twenty ("terminate called without an active exception") after training had finished."""
        if self.engine.world > 1:
            import gc

            self.run_models = {}
            gc.collect()  # a wrapper in a reference cycle goes now, not at exit
        self.engine.close(finished)

    # -- set-up ----------------------------------------------------------------------------------
    def _folder(self) -> Path:
        if self.opts.out is not None:
            return Path(self.opts.out)
        folder = self.section.checkpoint.get("dir")
        return data_mod.resolve(self.section, folder) if folder else Path("runs") / self.section.name

    def _train_mode(self) -> None:
        for alias, model in self.models.items():
            model.train()
            for frozen in self.frozen.get(alias, []):
                frozen.eval()  # frozen BatchNorm keeps its running statistics, frozen Dropout is off

    def _eval_mode(self) -> None:
        for model in self.models.values():
            model.eval()

    # -- one step --------------------------------------------------------------------------------
    def _train_step(self, x: torch.Tensor, y: torch.Tensor | None, global_n: int) -> dict[str, torch.Tensor]:
        """One optimizer step per network, in the order the recipe yields them; returns each network's loss
        times this process's share of the global batch (summed over processes, that is the batch mean)."""
        s, eng = self.section, self.engine
        losses: dict[str, torch.Tensor] = {}
        parts = 1 if self.opts.accumulate == 1 else min(self.opts.accumulate, len(x))
        if parts == 1:
            steps = self.recipe.losses(self.run_models, self.models, x, y)
            weight = x.shape[0] * eng.world / global_n
            while True:
                with eng.autocast():  # the forward of the next network's loss, after the previous one's step
                    item = next(steps, None)
                if item is None:
                    return losses
                alias, loss, _ = item
                for opt in self.optimizers.values():  # every network's: G's loss also reaches D's weights
                    opt.zero_grad(set_to_none=True)
                if weight != 1.0:  # an uneven share of the global batch (one process: always 1, no extra op)
                    loss = loss * weight
                eng.backward(loss)
                losses[alias] = loss  # the tally detaches it, or reads it at once
                self._optimizer_step(alias)
        # Gradient accumulation: the batch in `parts` micro-batches, one optimizer step; the weights make the
        # summed gradient that of the whole batch. DDP averages over processes only on the last one.
        alias = s.losses[0]
        model = self.run_models[alias]
        self.optimizers[alias].zero_grad(set_to_none=True)
        total = torch.zeros((), device=x.device)
        xs = torch.tensor_split(x, parts)
        ys = torch.tensor_split(y, parts) if y is not None else [None] * parts
        for i, (xm, ym) in enumerate(zip(xs, ys)):
            with eng.no_sync(model, skip=i < parts - 1), eng.autocast():
                _, loss, _ = next(iter(self.recipe.losses(self.run_models, self.models, xm, ym)))
                weight = len(xm) * eng.world / global_n
                eng.backward(loss * weight)
            total = total + loss.detach() * weight
        losses[alias] = total
        self._optimizer_step(alias)
        return losses

    def _optimizer_step(self, alias: str) -> None:
        s, eng = self.section, self.engine
        opt = self.optimizers[alias]
        if self._clips:
            eng.unscale(opt)  # clipping reads the true gradients (otherwise the scaler's step unscales them)
            params = [p for g in opt.param_groups for p in g["params"]]
            if s.clip_norm:
                torch.nn.utils.clip_grad_norm_(params, s.clip_norm)
            if s.clip_value:
                torch.nn.utils.clip_grad_value_(params, s.clip_value)
        eng.step(opt)
        self.last_lr = opt.param_groups[0]["lr"]  # what this step used, before the schedule moves it
        sched = self.schedules.get(alias)
        if sched is not None and s.schedule_per_step:
            sched.step()

    # -- epochs ----------------------------------------------------------------------------------
    def run(self) -> Report:
        """Train to the end (or early stop, or Ctrl-C); returns the history. Checkpoints and logs go to
        `self.folder` (the main process only)."""
        s, eng = self.section, self.engine
        main = eng.main
        if main:
            from ..codegen.base import make_folder

            make_folder(self.folder)
        table = Table(self.opts.echo if main else (lambda text: None))
        for row in self.history:
            table.row(row)
        board = TensorBoard(self.folder, self.opts.tensorboard and main)
        pin = self.device.type == "cuda"
        move = self.device.type != "cpu"  # batches come as CPU tensors: on a CPU run no `.to` per step
        batches = Batches(self.splits.train, self.opts.workers, pin, s.seed)
        # The step count at which the run ends inside an epoch: the section's `steps`, or --stop-after.
        cap = s.steps if s.steps is not None and self.opts.epochs is None else math.inf
        if self.opts.stop_after is not None:
            cap = min(cap, self.opts.stop_after)
        on_step = self.opts.on_step
        stopped = False
        try:
            while self.epoch < self.epochs and not stopped:
                started = time.perf_counter()
                self._train_mode()
                sampler = GlobalBatchSampler(len(self.splits.train), s.batch, epoch_seed(s.seed, self.epoch), eng.rank,
                                             eng.world, start=self.batch_in_epoch)
                bar = Progress(len(sampler.shards), f"epoch {self.epoch + 1}/{self.epochs}",
                               self.opts.progress and main, done=self.batch_in_epoch)
                sizes = sampler.sizes
                # (the epoch also seeds the batches' augmentations)
                for i, (x, y) in enumerate(batches.epoch(sampler, self.epoch), start=self.batch_in_epoch):
                    if self.step >= cap:  # the section's `steps` end the run as planned, --stop-after early
                        stopped = not (s.steps is not None and self.opts.epochs is None and self.step >= s.steps)
                        break
                    if move:
                        x = x.to(self.device, non_blocking=True)
                        y = None if y is None else y.to(self.device, non_blocking=True)
                    self.tally.add(self._train_step(x, y, sizes[i]), sizes[i])
                    self.step += 1
                    self.batch_in_epoch = i + 1
                    if self.tally.full:
                        bar.loss(self._read_losses())
                    bar.advance()
                    if on_step is not None:
                        on_step(self, self.step)
                self._read_losses()
                bar.close()
                seen, total = self.epoch_sums
                per_net = self.epoch_per_net
                self.epoch += 1
                self.batch_in_epoch, self.epoch_sums, self.epoch_per_net = 0, (0, 0.0), {}
                row = {"epoch": self.epoch, "step": self.step, "train_loss": total / max(seen, 1)}
                if len(per_net) > 1:
                    row.update({f"train_loss_{a}": v / max(seen, 1) for a, v in per_net.items()})
                row.update(self.evaluate("val"))
                row["lr"] = self.last_lr  # the rate of the epoch's last step (of the first network's optimizer)
                row["time_s"] = round(time.perf_counter() - started, 4)
                self._epoch_schedules(row)
                self.history.append(row)
                table.row(row)
                board.epoch(row)
                stopped = self._early_stop(row) or stopped
                self._save_epoch(row, final=stopped or self.epoch == self.epochs)
            self._test()
        except KeyboardInterrupt:
            board.close()
            return self._interrupted()
        finally:
            batches.close()
        board.close()
        if self.test and main:
            self.opts.echo(f"test ({self.test_weights} weights): "
                           + ", ".join(f"{k[5:]} {v:.4f}" for k, v in self.test.items()))
        self._write_logs(stopped)
        return Report(self.history, self.step_losses, self.test, self.folder, stopped_early=stopped,
                      checkpoint=self.folder / "last.pt", test_weights=self.test_weights)

    def _read_losses(self, collective: bool = True) -> float | None:
        """Fold the steps' losses kept on the device into the logs (netc/train/tally.py); returns the last
        step's loss, for the progress bar."""
        read = self.tally.read(self.engine, len(self.step_losses), collective)
        seen, total = self.epoch_sums
        per_net = self.epoch_per_net
        for values, n in zip(read.values, read.sizes):
            loss = sum(values)
            self.step_losses.append(loss)
            seen += n
            total += loss * n
            for alias, value in zip(self.tally.aliases, values):
                per_net[alias] = per_net.get(alias, 0.0) + value * n
        self.epoch_sums = (seen, total)
        return self.step_losses[-1] if read.values else None

    def _epoch_schedules(self, row: dict[str, Any]) -> None:
        s = self.section
        if s.schedule is None or s.schedule_per_step:
            return
        for sched in self.schedules.values():
            if sched is None:
                continue
            if s.plateau_monitor is not None:
                value = row.get(s.plateau_monitor)
                if value is not None and not math.isnan(value):
                    sched.step(value)
            else:
                sched.step()

    def _early_stop(self, row: dict[str, Any]) -> bool:
        call = self.section.early_stopping
        if call is None:
            return False
        value = row.get(call["monitor"])
        if value is None or math.isnan(value):
            return False
        lower = call["monitor"].endswith("loss")
        best = self._early_best
        better = best is None or (value < best - call["min_delta"] if lower else value > best + call["min_delta"])
        if better:
            self._early_best = value
            self.stale = 0
            return False
        self.stale += 1
        if self.stale >= call["patience"]:
            if self.engine.main:
                self.opts.echo(f"early stopping: {call['monitor']} has not improved for {self.stale} epochs")
            return True
        return False

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        """`{split}_loss` and `{split}_<metric>` on the val or test split (the whole split, every process)."""
        part = getattr(self.splits, split)
        if part is None or len(part) == 0:
            return {}
        s = self.section
        self._eval_mode()
        sums: dict[str, torch.Tensor | float] = {alias: 0.0 for alias in s.losses}
        scores = SplitMetrics(s.metrics, s.metric_loss, s.metric_kind) if s.metrics and s.metric_kind else None
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(s.seed + 7)  # the same noises for every evaluation
        sampler = GlobalBatchSampler(len(part), max(s.batch, 256), None)
        for x, y in loader(part, sampler, 0, False):
            x = x.to(self.device)
            y = None if y is None else y.to(self.device)
            with self.engine.autocast():
                for alias, loss, scored in self.recipe.losses(self.models, self.models, x, y):
                    sums[alias] = sums[alias] + loss.detach().double() * len(x)  # on the device: no wait
                    if scored is not None and scores is not None and y is not None:
                        scores.update(scored.detach(), y)
        torch.random.set_rng_state(gen_state)
        out: dict[str, float] = {}
        n = len(part)
        totals = {alias: float(v) for alias, v in sums.items()}
        if len(totals) == 1:
            out[f"{split}_loss"] = next(iter(totals.values())) / n
        else:
            out[f"{split}_loss"] = sum(totals.values()) / n
            out.update({f"{split}_loss_{a}": v / n for a, v in totals.items()})
        if scores is not None:
            out.update({f"{split}_{k}": v for k, v in scores.compute().items()})
        return out

    def _test(self) -> None:
        """Test metrics with the best weights by the checkpoint's monitor when there are any, else the last."""
        if self.splits.test is None or len(self.splits.test) == 0:
            return
        if self.best_weights is None or self.best_epoch == self.epoch:
            self.test_weights = "last"
            self.test = self.evaluate("test")
            return
        last = {a: self.engine.model_state(m) for a, m in self.models.items()}
        for alias, model in self.models.items():
            self.engine.load_model_state(model, self.best_weights[alias])
        self.test_weights = f"best (epoch {self.best_epoch}, {self.section.checkpoint['best']})"
        self.test = self.evaluate("test")
        for alias, model in self.models.items():
            self.engine.load_model_state(model, last[alias])

    # -- checkpoints -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        eng = self.engine
        return {
            "train": self.section.name,
            "epoch": self.epoch,
            "step": self.step,
            "epochs": self.epochs,
            "total_steps": self.total_steps,
            "models": {a: eng.model_state(m) for a, m in self.models.items()},
            "optimizers": {a: eng.optimizer_state(self.models[a], o) for a, o in self.optimizers.items()},
            "schedules": {a: s.state_dict() for a, s in self.schedules.items() if s is not None},
            "scaler": eng.scaler.state_dict() if eng.scaler is not None else None,
            "history": self.history,
            "step_losses": self.step_losses,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "early": {"best": self._early_best, "stale": self.stale},
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_sums": list(self.epoch_sums),
            "epoch_per_net": self.epoch_per_net,
            "rng": torch.random.get_rng_state(),
        }

    def _collective_state(self) -> dict[str, Any] | None:
        """The state on the main process; FSDP gathers shards, so every process takes part in that case."""
        if self.engine.main or (self.engine.world > 1 and self.engine.strategy == "fsdp"):
            return self.state()
        return None

    def _save_epoch(self, row: dict[str, Any], final: bool) -> None:
        policy = self.section.checkpoint
        monitor = policy["best"]
        value = row.get(monitor)
        lower = monitor.endswith("loss")
        improved = value is not None and not math.isnan(value) and (
            self.best is None or (value < self.best if lower else value > self.best))
        if improved:
            self.best, self.best_epoch = value, self.epoch
        due = self.epoch % policy["every"] == 0 or final
        gathered = self.engine.world > 1 and self.engine.strategy == "fsdp"  # every process joins state()
        if not (due or improved or gathered):
            self._write_logs(False)  # nothing to save: no copy of the weights and optimizer state to build
            return
        state = self._collective_state()
        if improved and state is not None and self.splits.test is not None:
            self.best_weights = {a: {k: v.clone() for k, v in w.items()} for a, w in state["models"].items()}
        if not self.engine.main or state is None:
            return
        safetensors = policy.get("format") == "safetensors"
        meta = {"train": self.section.name, "epoch": str(self.epoch)}
        if due:
            ckpt.save(self.folder / "last.pt", state)
            ckpt.save(self.folder / f"epoch_{self.epoch:04d}.pt", state)
            ckpt.prune(self.folder, policy["keep"])
            if safetensors:
                ckpt.save_safetensors(self.folder / "last.safetensors", state["models"], meta)
        if improved:
            ckpt.save(self.folder / "best.pt", state)
            if safetensors:
                ckpt.save_safetensors(self.folder / "best.safetensors", state["models"], meta)
        self._write_logs(False)

    def _write_logs(self, stopped: bool) -> None:
        if not self.engine.main:
            return
        s = self.section
        write_logs(self.folder, {
            "train": s.name, "source": s.source, "device": str(self.device), "processes": self.engine.world,
            "precision": self.engine.precision, "history": self.history, "steps": self.step_losses,
            "test": self.test, "test_weights": self.test_weights,
            "best": {"monitor": s.checkpoint["best"], "value": self.best, "epoch": self.best_epoch},
            "stopped_early": stopped, "metrics": [name for name, _ in s.metrics],
        })

    def _interrupted(self) -> Report:
        path = self.folder / "interrupted.pt"
        # One process reads its losses by itself: the others may have stopped already.
        self._read_losses(collective=self.engine.world == 1)
        state = self._collective_state()
        if self.engine.main and state is not None:
            ckpt.save(path, state)
            self._write_logs(False)
            self.opts.echo(f"interrupted after {self.step} steps: saved {path}")
        return Report(self.history, self.step_losses, self.test, self.folder, interrupted=True, checkpoint=path)


def _threads(models: dict[str, nn.Module], threads: int | None) -> None:
    """Small networks train fastest on one CPU thread: their matrices are too small to split, and on a busy
    machine torch's worker threads mostly wait for each other."""
    if threads is None:
        params = sum(p.numel() for m in models.values() for p in m.parameters())
        threads = 1 if params < 2_000_000 else None
    if threads is not None:
        torch.set_num_threads(threads)


def fit(recipe: Recipe, options: Options | None = None) -> Report:
    """Train one section's recipe to the end."""
    return fit_run(Run(recipe, options))


def fit_run(run: Run) -> Report:
    """Train a run that is set up to the end, then let go of its processes (every caller ends a run so)."""
    try:
        report = run.run()
    except BaseException:
        run.close()
        raise
    run.close(finished=True)
    return report
