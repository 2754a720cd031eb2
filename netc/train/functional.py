"""The few helpers a generated training script calls besides torch: each is short enough to read, and lives
here once instead of being copied into every script."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn


def as_target(value: Any, pred: torch.Tensor) -> torch.Tensor:
    """A number becomes a tensor like `pred`; labels [B] for one score [B, 1] take its shape and dtype."""
    if not isinstance(value, torch.Tensor):
        return torch.full_like(pred, float(value))
    return value.to(pred.dtype).reshape(pred.shape)


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)): summed over all elements, per sample (batchmean), or per element."""
    total = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    if reduction == "batchmean":
        return total / mu.shape[0]
    if reduction == "mean":
        return total / mu.numel()
    return total


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of |w| over trainable weight matrices and kernels (biases and norm scales are not penalised)."""
    terms = [p.abs().sum() for p in model.parameters() if p.requires_grad and p.dim() > 1]
    if not terms:
        return torch.zeros(())
    return torch.stack(terms).sum()


def _under(name: str, path: str) -> bool:
    return name == path or name.startswith(path + ".")


def freeze(model: nn.Module, paths: list[str]) -> None:
    """Stop gradients for every parameter under `paths` (submodules by their .net names)."""
    for name, p in model.named_parameters():
        if any(_under(name, path) for path in paths):
            p.requires_grad_(False)


def param_groups(model: nn.Module, lr: float, rates: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One optimizer group per `lr path: value` entry, the rest in the group "default"; frozen weights are
    left out."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    for path, rate in (rates or {}).items():
        params = [p for n, p in named if _under(n, path) and n not in taken]
        taken |= {n for n, _ in named if _under(n, path)}
        if params:
            out.append({"params": params, "lr": rate, "name": path})
    rest = [p for n, p in named if n not in taken]
    if rest:
        out.insert(0, {"params": rest, "lr": lr, "name": "default"})
    return out


class WarmupCosine:
    """Linear warm-up over `warmup` steps, then cosine down to `min_lr` at `total` steps: the factor of one
    group's learning rate for torch's LambdaLR."""

    def __init__(self, warmup: int, total: int, base_lr: float, min_lr: float) -> None:
        self.warmup, self.total, self.floor = warmup, max(total, 1), min(min_lr / base_lr, 1.0) if base_lr else 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        progress = min((step - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int, min_lr: float = 0.0) -> Any:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, [WarmupCosine(warmup, total, g["lr"], min_lr) for g in optimizer.param_groups])


def load_pretrained(model: nn.Module, path: str | Path, alias: str, replace: list[str] | None = None) -> None:
    """Start `model` from a checkpoint (a netc run's, a state_dict, or .safetensors), except the submodules
    in `replace`, which keep their fresh weights (a new head). Anything else that does not fit is an error
    naming the keys."""
    from . import checkpoint

    path = Path(path)
    weights = checkpoint.model_state(checkpoint.load(path), alias, path)
    checkpoint.load_weights(model, weights, replace or [], path.name, key="init")
