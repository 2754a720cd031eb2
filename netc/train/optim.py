"""Optimizers with per-submodule learning rates and frozen submodules, and learning-rate schedules."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..dsl.train import FnCall, TrainSpec

PER_EPOCH = {"step", "plateau"}  # schedules stepped after each epoch; the others after each optimizer step


def _under(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def freeze(model: nn.Module, paths: list[str]) -> list[str]:
    """Stop gradients for every parameter under `paths`; returns their names."""
    frozen = []
    for name, p in model.named_parameters():
        if any(_under(name, path) for path in paths):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def frozen_modules(model: nn.Module, paths: list[str]) -> list[nn.Module]:
    """The submodules at `paths`: kept in eval mode while training, so BatchNorm statistics stay fixed too."""
    mods = dict(model.named_modules())
    return [mods[p] for p in paths if p in mods]


def param_groups(model: nn.Module, base_lr: float, groups: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """One group per `lr path: value` entry, the rest in a default group; frozen parameters are left out."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    for path, lr in groups:
        params = [p for n, p in named if _under(n, path) and n not in taken]
        taken |= {n for n, _ in named if _under(n, path)}
        if params:
            out.append({"params": params, "lr": lr, "name": path})
    rest = [p for n, p in named if n not in taken]
    if rest:
        out.insert(0, {"params": rest, "lr": base_lr, "name": "default"})
    return out


def make_optimizer(call: FnCall, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    a = dict(call.args)
    if call.name == "SGD":
        return torch.optim.SGD(groups, lr=a["lr"], momentum=a["momentum"], dampening=a["dampening"],
                               nesterov=a["nesterov"], weight_decay=a["weight_decay"])
    if call.name in ("Adam", "AdamW"):
        cls = torch.optim.Adam if call.name == "Adam" else torch.optim.AdamW
        return cls(groups, lr=a["lr"], betas=a["betas"], eps=a["eps"], weight_decay=a["weight_decay"],
                   amsgrad=a["amsgrad"])
    if call.name == "RMSprop":
        return torch.optim.RMSprop(groups, lr=a["lr"], alpha=a["alpha"], eps=a["eps"], weight_decay=a["weight_decay"],
                                   momentum=a["momentum"], centered=a["centered"])
    raise KeyError(call.name)


class WarmupCosine:
    """Linear warm-up from 0 over `warmup` steps, then cosine down to `min_lr` at `total` steps (per group)."""

    def __init__(self, warmup: int, total: int, base_lr: float, min_lr: float) -> None:
        self.warmup, self.total, self.floor = warmup, max(total, 1), min(min_lr / base_lr, 1.0) if base_lr else 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        progress = min((step - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_schedule(call: FnCall | None, opt: torch.optim.Optimizer, total_steps: int, spec: TrainSpec) -> Any:
    if call is None:
        return None
    a = call.args
    if call.name == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=a["step_size"], gamma=a["gamma"])
    if call.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total_steps, 1), eta_min=a["min_lr"])
    if call.name == "warmup_cosine":
        fns = [WarmupCosine(a["warmup"], total_steps, g["lr"], a["min_lr"]) for g in opt.param_groups]
        return torch.optim.lr_scheduler.LambdaLR(opt, fns)
    if call.name == "one_cycle":
        base = opt.defaults["lr"]
        # Per-group learning rates keep their ratio to the optimizer's: the body peaks lower than the head.
        max_lr = [a["max_lr"] * g["lr"] / base for g in opt.param_groups]
        cycle = any(k in opt.defaults and (k == "betas" or opt.defaults[k] > 0) for k in ("betas", "momentum"))
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=max_lr, total_steps=max(total_steps, 1), pct_start=a["pct_start"], div_factor=a["div_factor"],
            final_div_factor=a["final_div_factor"], anneal_strategy=a["anneal"], cycle_momentum=cycle)
    if call.name == "plateau":
        mode = "min" if a["monitor"].endswith("loss") else "max"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=a["factor"], patience=a["patience"],
                                                          threshold=a["threshold"], min_lr=a["min_lr"])
    raise KeyError(call.name)


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of |w| over trainable weight matrices and kernels (biases and norm scales are not penalised)."""
    terms = [p.abs().sum() for p in model.parameters() if p.requires_grad and p.dim() > 1]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()
