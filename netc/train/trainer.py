"""The training loop for a checked `train` section: one network, or several with alternating steps (a GAN)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..codegen.base import make_folder
from ..dsl.train import LExpr, ModelSpec, TrainSpec, metric_name
from . import checkpoint as ckpt
from . import data as data_mod
from .errors import TrainError
from .log import Progress, Table, write_logs
from .losses import as_outputs, evaluate
from .metrics import compute
from .optim import PER_EPOCH, freeze, frozen_modules, l1_penalty, make_optimizer, make_schedule, param_groups


@dataclass
class Options:
    epochs: int | None = None  # overrides the section's `epochs`
    device: str = "auto"  # auto, cpu, cuda
    amp: bool = False
    out: Path | None = None  # where checkpoints and logs go; default: the section's `checkpoint`, or runs/<name>
    resume: Path | None = None
    progress: bool = True
    threads: int | None = None  # CPU threads; default 1 for small networks (see _threads)
    echo: Callable[[str], None] = field(default=lambda s: print(s, flush=True))
    # Called after every optimizer step with (trainer, step); tests use it to interrupt a run.
    on_step: Callable[[Trainer, int], None] | None = None


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class Report:
    history: list[dict[str, Any]]
    steps: list[float]  # the loss of every optimizer step (the sum over networks in multi-network training)
    test: dict[str, float]
    folder: Path
    interrupted: bool = False
    stopped_early: bool = False
    checkpoint: Path | None = None


def build_models(spec: TrainSpec) -> dict[str, nn.Module]:
    """Compile each network of the section with the torch backend and instantiate it (seeded)."""
    import inspect

    import netc

    models: dict[str, nn.Module] = {}
    for i, m in enumerate(spec.models):
        cls = netc.build(spec.source_path, target="torch", network=m.network, overrides=m.overrides or None)
        # The generated class takes the network's parameters (`DigitsMLP(hidden=128, classes=10)`).
        accepted = inspect.signature(cls).parameters
        torch.manual_seed(spec.seed + i)
        models[m.alias] = cls(**{k: v for k, v in m.overrides.items() if k in accepted})
    return models


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda, but torch sees no CUDA device", help="use --device cpu (or auto)")
    return torch.device(name)


class Trainer:
    def __init__(self, spec: TrainSpec, models: dict[str, nn.Module] | None = None, options: Options | None = None,
                 dist: Dist | None = None) -> None:
        self.spec = spec
        self.opts = options or Options()
        self.dist = dist or Dist()
        if self.dist.world > 1 and not spec.single:
            raise TrainError("--nproc trains one network; this section trains several (alternating steps)")
        if self.dist.world > 1 and spec.batch % self.dist.world:
            raise TrainError(f"batch {spec.batch} does not split evenly over {self.dist.world} processes",
                             span=spec.entry_spans.get("batch"), help=f"use a multiple of {self.dist.world}")
        self.device = pick_device(self.opts.device)
        if self.device.type == "cuda" and self.dist.world > 1:
            self.device = torch.device("cuda", self.dist.local_rank)
        torch.manual_seed(spec.seed)
        self.models = models if models is not None else build_models(spec)
        self.specs: dict[str, ModelSpec] = {m.alias: m for m in spec.models}
        self.folder = self._folder()
        self.splits = data_mod.load(spec)
        self.epochs = self.opts.epochs or spec.epochs
        self.batches_per_epoch = max(1, math.ceil(len(self.splits.train) / spec.batch))
        if spec.steps is not None and self.opts.epochs is None:
            self.epochs = math.ceil(spec.steps / self.batches_per_epoch)
            self.total_steps = spec.steps
        else:
            self.total_steps = (self.epochs or 1) * self.batches_per_epoch
        if self.device.type == "cpu":
            _threads(self.models, self.opts.threads)
        self._prepare_models()
        self.optimizers = {alias: self._optimizer(alias, call) for alias, call in spec.optimizers.items()}
        self.schedules = {alias: make_schedule(spec.schedule, opt, self.total_steps, spec)
                          for alias, opt in self.optimizers.items()}
        amp = self.opts.amp
        self.autocast_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if amp and self.device.type == "cuda" else None
        self.history: list[dict[str, Any]] = []
        self.step_losses: list[float] = []
        self.epoch = 0
        self.step = 0
        self.best: float | None = None
        self.stale = 0  # epochs without improvement, for early stopping
        self._early_best: float | None = None
        # Where an interrupted epoch stopped: resuming skips the batches it had done, so an interrupted and
        # resumed run makes exactly the steps of an uninterrupted one.
        self.batch_in_epoch = 0
        self.epoch_sums = (0, 0.0)
        self.epoch_per_net: dict[str, float] = {}
        self.last_lr = float("nan")
        self.test: dict[str, float] = {}
        if self.opts.resume is not None:
            self._resume(self.opts.resume)

    # -- set-up ----------------------------------------------------------------------------------
    def _folder(self) -> Path:
        if self.opts.out is not None:
            return Path(self.opts.out)
        folder = self.spec.checkpoint.args.get("dir")
        return self.spec.resolve(folder) if folder else Path("runs") / self.spec.name

    def _prepare_models(self) -> None:
        spec = self.spec
        if spec.init is not None:
            path = spec.resolve(spec.init[0])
            try:
                state = ckpt.load(path)
                for alias, model in self.models.items():
                    weights = ckpt.model_state(state, alias, path)
                    ckpt.load_pretrained(model, weights, [p for a, p, _ in spec.replace if a == alias], path)
            except TrainError as exc:
                exc.span = exc.span or spec.init[1]
                raise
        self.frozen: dict[str, list[nn.Module]] = {}
        for alias, model in self.models.items():
            paths = [p for a, p, _ in spec.freeze if a == alias]
            freeze(model, paths)
            self.frozen[alias] = frozen_modules(model, paths)
            model.to(self.device)
        self.run_models: dict[str, nn.Module] = dict(self.models)
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            for alias, model in self.models.items():
                ids = [self.device.index] if self.device.type == "cuda" else None
                self.run_models[alias] = DDP(model, device_ids=ids)

    def _optimizer(self, alias: str, call: Any) -> torch.optim.Optimizer:
        groups = [(path, lr) for a, path, lr, _ in self.spec.lr_groups if a == alias]
        pg = param_groups(self.models[alias], call.args["lr"], groups)
        if not pg:
            raise TrainError(f"`{alias}` has no trainable weights", span=self.spec.loss_spans.get(alias))
        return make_optimizer(call, pg)

    def _train_mode(self) -> None:
        for alias, model in self.models.items():
            model.train()
            for frozen in self.frozen[alias]:
                frozen.eval()  # frozen BatchNorm keeps its running statistics, frozen Dropout is off

    def _eval_mode(self) -> None:
        for model in self.models.values():
            model.eval()

    # -- one step --------------------------------------------------------------------------------
    def _env(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, Any]:
        env: dict[str, Any] = {"x": x, "target": y}
        for name, (dist, ttype, _) in self.spec.noises.items():
            shape = [len(x) if not isinstance(d, int) else d for d in ttype.dims]
            fill = torch.randn if dist == "normal" else torch.rand
            env[name] = fill(shape, device=self.device)
        if self.spec.single:
            m = self.spec.models[0]
            env[m.required_inputs[0]] = x
            out = self.run_models[m.alias](x, **self._optional_inputs(m, [x]))
            env.update(as_outputs(out, m.output_names))
        return env

    def _optional_inputs(self, m: ModelSpec, given: list[Any]) -> dict[str, torch.Tensor]:
        """Make the optional inputs (`input eps: f32[B, 20] = randn`) the caller leaves out, here rather than
        in the network, so they come from the trainer's seeded generator on the right device."""
        from ..dsl.dims import subs
        from ..dsl.types import DTYPES

        defaults = getattr(m.graph, "input_defaults", None) or {}
        names = [n for n, _, _ in m.graph.inputs]
        passed = dict(zip(names, given))
        out: dict[str, torch.Tensor] = {}
        for name, d in defaults.items():
            if name in passed:
                continue
            sizes = {sym_name: passed[src].shape[axis] for sym_name, (src, axis) in d.dim_sources.items()
                     if src in passed}
            shape = [int(subs(dim, sizes)) for dim in d.dims]
            dtype = getattr(torch, DTYPES[d.dtype])
            make = {"randn": torch.randn, "rand": torch.rand, "zeros": torch.zeros, "ones": torch.ones}[d.fill]
            out[name] = make(shape, dtype=dtype, device=self.device)
        return out

    def _call(self, alias: str, args: list[Any]) -> Any:
        out = self.run_models[alias](*args, **self._optional_inputs(self.specs[alias], args))
        names = self.specs[alias].output_names
        outs = as_outputs(out, names)
        return outs[names[0]] if len(names) == 1 else tuple(outs[n] for n in names)

    def _autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.opts.amp)

    def _loss(self, alias: str, expr: LExpr, env: dict[str, Any]) -> torch.Tensor:
        loss = evaluate(expr, env, self._call)
        if self.spec.l1:
            loss = loss + self.spec.l1 * l1_penalty(self.models[alias]).to(loss.device)
        return loss

    def _train_step(self, x: torch.Tensor, y: torch.Tensor | None, weight: float) -> dict[str, float]:
        """One optimizer step per network, in the order of the `loss` entries; returns each network's loss
        (times `weight`, this process's share of the global batch)."""
        losses: dict[str, float] = {}
        env: dict[str, Any] | None = None
        for alias, expr in self.spec.losses.items():
            for model in self.models.values():
                model.zero_grad(set_to_none=True)
            with self._autocast():
                if env is None or not self.spec.single:
                    env = self._env(x, y) if env is None else {**env}
                loss = self._loss(alias, expr, env)
            if not torch.isfinite(loss.detach()).all():
                raise TrainError(f"the loss became {loss.item()} at step {self.step + 1}",
                                 span=self.spec.loss_spans.get(alias),
                                 help="lower the learning rate, add clip_norm, or check the data")
            scaled = loss * weight
            opt = self.optimizers[alias]
            if self.scaler is not None:
                self.scaler.scale(scaled).backward()
                self.scaler.unscale_(opt)
            else:
                scaled.backward()
            params = [p for g in opt.param_groups for p in g["params"]]
            if self.spec.clip_norm:
                torch.nn.utils.clip_grad_norm_(params, self.spec.clip_norm)
            if self.spec.clip_value:
                torch.nn.utils.clip_grad_value_(params, self.spec.clip_value)
            if self.scaler is not None:
                self.scaler.step(opt)
                self.scaler.update()
            else:
                opt.step()
            self.last_lr = opt.param_groups[0]["lr"]  # what this step used, before the schedule moves it
            sched = self.schedules[alias]
            if sched is not None and self.spec.schedule is not None and self.spec.schedule.name not in PER_EPOCH:
                sched.step()
            losses[alias] = float(loss.detach()) * weight
        return losses

    # -- epochs ----------------------------------------------------------------------------------
    def run(self) -> Report:
        """Train to the end (or early stop, or Ctrl-C); returns the history. Checkpoints and logs go to
        `self.folder` (the main process only)."""
        spec = self.spec
        if self.dist.main:
            make_folder(self.folder)
        train = self.splits.train
        x_all = torch.as_tensor(train.x)
        y_all = None if train.y is None else torch.as_tensor(train.y)
        table = Table(self.opts.echo if self.dist.main else (lambda s: None))
        for row in self.history:
            table.row(row)
        stopped = False
        try:
            while self.epoch < (self.epochs or 0) and not stopped:
                started = time.perf_counter()
                self._train_mode()
                shards = data_mod.batches(len(train), spec.batch, spec.seed * 100_003 + self.epoch,
                                          self.dist.rank, self.dist.world)
                bar = Progress(len(shards), f"epoch {self.epoch + 1}/{self.epochs}",
                               self.opts.progress and self.dist.main)
                seen, total = self.epoch_sums
                per_net = dict(self.epoch_per_net)
                for i, (idx, global_n) in enumerate(shards):
                    if i < self.batch_in_epoch:
                        bar.update(float("nan"))
                        continue
                    if spec.steps is not None and self.step >= spec.steps and self.opts.epochs is None:
                        break
                    x = x_all[idx].to(self.device, non_blocking=True)
                    y = None if y_all is None else y_all[idx].to(self.device, non_blocking=True)
                    # Each process averages its own samples; weighting by its share makes DDP's gradient
                    # average equal to the mean over the whole global batch, even when the last one is uneven.
                    weight = len(idx) * self.dist.world / global_n
                    step = self._train_step(x, y, weight)
                    step = {a: self._all_sum(v * global_n / self.dist.world) / global_n for a, v in step.items()}
                    loss = sum(step.values())
                    self.step += 1
                    self.step_losses.append(loss)
                    seen += global_n
                    total += loss * global_n
                    for alias, value in step.items():
                        per_net[alias] = per_net.get(alias, 0.0) + value * global_n
                    self.batch_in_epoch, self.epoch_sums, self.epoch_per_net = i + 1, (seen, total), per_net
                    bar.update(loss)
                    if self.opts.on_step is not None:
                        self.opts.on_step(self, self.step)
                bar.close()
                self.epoch += 1
                self.batch_in_epoch, self.epoch_sums, self.epoch_per_net = 0, (0, 0.0), {}
                row = {"epoch": self.epoch, "step": self.step, "train_loss": total / max(seen, 1)}
                if len(per_net) > 1:
                    row.update({f"train_loss_{a}": v / max(seen, 1) for a, v in per_net.items()})
                row.update(self.evaluate("val"))
                row["lr"] = self.last_lr  # the rate of the epoch's last step (of the first network's optimizer)
                row["time_s"] = round(time.perf_counter() - started, 3)
                self._epoch_schedules(row)
                self.history.append(row)
                table.row(row)
                stopped = self._early_stop(row)
                self._save_epoch(row, final=stopped or self.epoch == self.epochs)
            self.test = self.evaluate("test")
        except KeyboardInterrupt:
            return self._interrupted()
        if self.test and self.dist.main:
            self.opts.echo("test: " + ", ".join(f"{k[5:]} {v:.4f}" for k, v in self.test.items()))
        self._write_logs(stopped)
        return Report(self.history, self.step_losses, self.test, self.folder, stopped_early=stopped,
                      checkpoint=self.folder / "last.pt")

    def _all_sum(self, value: float) -> float:
        if self.dist.world == 1:
            return value
        import torch.distributed as tdist

        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        tdist.all_reduce(t)
        return float(t.item())

    def _epoch_schedules(self, row: dict[str, Any]) -> None:
        call = self.spec.schedule
        if call is None or call.name not in PER_EPOCH:
            return
        for sched in self.schedules.values():
            if call.name == "plateau":
                value = row.get(call.args["monitor"])
                if value is not None and not math.isnan(value):
                    sched.step(value)
            else:
                sched.step()

    def _early_stop(self, row: dict[str, Any]) -> bool:
        call = self.spec.early_stopping
        if call is None:
            return False
        value = row.get(call.args["monitor"])
        if value is None or math.isnan(value):
            return False
        lower = call.args["monitor"].endswith("loss")
        best = self._early_best
        better = best is None or (value < best - call.args["min_delta"] if lower else value > best + call.args["min_delta"])
        if better:
            self._early_best = value
            self.stale = 0
            return False
        self.stale += 1
        if self.stale >= call.args["patience"]:
            if self.dist.main:
                self.opts.echo(f"early stopping: {call.args['monitor']} has not improved for {self.stale} epochs")
            return True
        return False

    # -- evaluation ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str) -> dict[str, float]:
        """`{split}_loss` and `{split}_<metric>` on the val or test split (the whole split, every process)."""
        part = getattr(self.splits, split)
        if part is None or len(part) == 0:
            return {}
        spec = self.spec
        self._eval_mode()
        x_all = torch.as_tensor(part.x)
        y_all = None if part.y is None else torch.as_tensor(part.y)
        sums = {alias: 0.0 for alias in spec.losses}
        preds: list[torch.Tensor] = []
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(spec.seed + 7)  # the same noises for every evaluation
        for idx, _ in data_mod.batches(len(part), max(spec.batch, 256), None):
            x = x_all[idx].to(self.device)
            y = None if y_all is None else y_all[idx].to(self.device)
            with self._autocast():
                env = self._env(x, y)
                for alias, expr in spec.losses.items():
                    sums[alias] += float(evaluate(expr, env, self._call)) * len(idx)
            if spec.prediction is not None and spec.metrics:
                preds.append(env[spec.prediction].float().cpu())
        torch.random.set_rng_state(gen_state)
        out: dict[str, float] = {}
        n = len(part)
        if len(sums) == 1:
            out[f"{split}_loss"] = next(iter(sums.values())) / n
        else:
            out[f"{split}_loss"] = sum(sums.values()) / n
            out.update({f"{split}_loss_{a}": v / n for a, v in sums.items()})
        if preds and spec.metric_kind is not None and y_all is not None:
            loss_name = self._prediction_loss()
            values = compute(spec.metrics, torch.cat(preds), y_all, loss_name, spec.metric_kind)
            out.update({f"{split}_{k}": v for k, v in values.items()})
        return out

    def _prediction_loss(self) -> str:
        from ..dsl.train import LCall, LRef, walk

        for e in walk(next(iter(self.spec.losses.values()))):
            if isinstance(e, LCall) and isinstance(e.args[0] if e.args else None, LRef) and \
                    e.args[0].name == self.spec.prediction:  # type: ignore[union-attr]
                return e.fn
        return "cross_entropy"

    # -- checkpoints -----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "train": self.spec.name,
            "epoch": self.epoch,
            "step": self.step,
            "models": {a: m.state_dict() for a, m in self.models.items()},
            "optimizers": {a: o.state_dict() for a, o in self.optimizers.items()},
            "schedules": {a: s.state_dict() for a, s in self.schedules.items() if s is not None},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "history": self.history,
            "step_losses": self.step_losses,
            "best": self.best,
            "early": {"best": self._early_best, "stale": self.stale},
            "batch_in_epoch": self.batch_in_epoch,
            "epoch_sums": list(self.epoch_sums),
            "epoch_per_net": self.epoch_per_net,
            "rng": torch.random.get_rng_state(),
        }

    def _save_epoch(self, row: dict[str, Any], final: bool) -> None:
        if not self.dist.main:
            return
        policy = self.spec.checkpoint.args
        monitor = policy["best"]
        value = row.get(monitor)
        lower = monitor.endswith("loss")
        improved = value is not None and not math.isnan(value) and (
            self.best is None or (value < self.best if lower else value > self.best))
        if improved:
            self.best = value
        state = self.state()
        if self.epoch % policy["every"] == 0 or final:
            ckpt.save(self.folder / "last.pt", state)
            ckpt.save(self.folder / f"epoch_{self.epoch:04d}.pt", state)
            ckpt.prune(self.folder, policy["keep"])
        if improved:
            ckpt.save(self.folder / "best.pt", state)
        self._write_logs(False)

    def _write_logs(self, stopped: bool) -> None:
        if not self.dist.main:
            return
        write_logs(self.folder, {
            "train": self.spec.name, "source": self.spec.source_path, "device": str(self.device),
            "processes": self.dist.world, "history": self.history, "steps": self.step_losses, "test": self.test,
            "best": {"monitor": self.spec.checkpoint.args["best"], "value": self.best}, "stopped_early": stopped,
            "metrics": [metric_name(m) for m in self.spec.metrics],
        })

    def _interrupted(self) -> Report:
        path = self.folder / "interrupted.pt"
        if self.dist.main:
            ckpt.save(path, self.state())
            self._write_logs(False)
            self.opts.echo(f"interrupted after {self.step} steps: saved {path}")
        return Report(self.history, self.step_losses, self.test, self.folder, interrupted=True, checkpoint=path)

    def _resume(self, path: Path) -> None:
        state = ckpt.load(path)
        if state.get("format") != ckpt.FORMAT:
            raise TrainError(f"{path} is not a netc training checkpoint", help="start from it with `init:` instead")
        if state.get("train") != self.spec.name:
            raise TrainError(f"{path} was written by `train {state.get('train')}`, not `train {self.spec.name}`")
        for alias, model in self.models.items():
            model.load_state_dict(state["models"][alias])
        for alias, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][alias])
        for alias, sched in self.schedules.items():
            if sched is not None and alias in state["schedules"]:
                sched.load_state_dict(state["schedules"][alias])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state["history"])
        self.step_losses = list(state["step_losses"])[: self.step]
        self.best = state["best"]
        self._early_best = state["early"]["best"]
        self.stale = int(state["early"]["stale"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.epoch_sums = (int(state["epoch_sums"][0]), float(state["epoch_sums"][1]))
        self.epoch_per_net = dict(state["epoch_per_net"])
        torch.random.set_rng_state(state["rng"])


def _threads(models: dict[str, nn.Module], threads: int | None) -> None:
    """Small networks train fastest on one CPU thread: their matrices are too small to split, and on a busy
    machine torch's worker threads mostly wait for each other."""
    if threads is None:
        params = sum(p.numel() for m in models.values() for p in m.parameters())
        threads = 1 if params < 2_000_000 else None
    if threads is not None:
        torch.set_num_threads(threads)
