"""Evaluate a checked loss expression (dsl/train.py's LExpr tree) with torch.

The tree was type-checked against the networks, so evaluation is a direct walk: names come from `env` (the
batch, the network outputs, the noises), `LModel` calls a network, losses map to `torch.nn.functional`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from ..dsl.train import LBin, LCall, LExpr, LIndex, LModel, LNeg, LNum, LRef

Value = Any  # a tensor, a float, or a tuple of tensors (a network with several outputs)


def as_outputs(result: Any, names: list[str]) -> dict[str, torch.Tensor]:
    """Name a network's forward result: a tensor, a tuple/list, a NamedTuple or a dict."""
    if isinstance(result, torch.Tensor):
        return {names[0]: result}
    if isinstance(result, Mapping):
        return dict(result)
    if hasattr(result, "_asdict"):
        return dict(result._asdict())
    if isinstance(result, (tuple, list)):
        return dict(zip(names, result))
    raise TypeError(f"a network returned {type(result).__name__}; expected tensors")


def _like(value: Value, pred: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    return torch.full_like(pred, float(value))  # `bce(D(x), 1)`: a target of ones


def _float_target(target: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    target = target.to(pred.dtype)
    if target.shape != pred.shape and target.numel() == pred.numel():
        target = target.reshape(pred.shape)  # labels [B] for one logit [B, 1]
    return target


def loss_fn(name: str, pred: torch.Tensor, target: Value, o: dict[str, Any]) -> torch.Tensor:
    if name == "cross_entropy":
        return F.cross_entropy(pred, target, ignore_index=o["ignore_index"], reduction=o["reduction"],
                               label_smoothing=o["label_smoothing"])
    if name == "nll":
        return F.nll_loss(pred, target, ignore_index=o["ignore_index"], reduction=o["reduction"])
    t = _float_target(_like(target, pred), pred)
    if name == "mse":
        return F.mse_loss(pred, t, reduction=o["reduction"])
    if name == "l1":
        return F.l1_loss(pred, t, reduction=o["reduction"])
    if name == "smooth_l1":
        return F.smooth_l1_loss(pred, t, reduction=o["reduction"], beta=o["beta"])
    if name == "bce":
        # autocast refuses binary_cross_entropy in float16 (it is unsafe there): compute it in float32.
        with torch.autocast(pred.device.type, enabled=False):
            return F.binary_cross_entropy(pred.float(), t.float(), reduction=o["reduction"])
    if name == "bce_with_logits":
        pw = None if o["pos_weight"] is None else torch.tensor(o["pos_weight"], dtype=pred.dtype, device=pred.device)
        return F.binary_cross_entropy_with_logits(pred, t, reduction=o["reduction"], pos_weight=pw)
    if name == "kl_div":
        return F.kl_div(pred, t, reduction=o["reduction"], log_target=o["log_target"])
    raise KeyError(name)


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor, reduction: str) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) in closed form (Kingma & Welling 2014, appendix B)."""
    per_element = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    if reduction == "sum":
        return per_element.sum()
    if reduction == "batchmean":
        return per_element.sum() / mu.shape[0]
    return per_element.mean()


_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sum": torch.sum, "mean": torch.mean, "exp": torch.exp, "log": torch.log, "abs": torch.abs,
    "detach": torch.Tensor.detach,
}


def evaluate(e: LExpr, env: dict[str, Value], call: Callable[[str, list[Value]], Value]) -> Value:
    """The value of a loss expression; `call(alias, args)` runs a network (multi-network training)."""
    if isinstance(e, LRef):
        return env[e.name]
    if isinstance(e, LNum):
        return e.value
    if isinstance(e, LNeg):
        return -evaluate(e.operand, env, call)
    if isinstance(e, LBin):
        a, b = evaluate(e.left, env, call), evaluate(e.right, env, call)
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        if e.op == "/":
            return a / b
        return a ** b
    if isinstance(e, LIndex):
        return evaluate(e.value, env, call)[e.index]
    if isinstance(e, LModel):
        return call(e.alias, [evaluate(a, env, call) for a in e.args])
    if isinstance(e, LCall):
        args = [evaluate(a, env, call) for a in e.args]
        if e.fn == "kl_normal":
            return kl_normal(args[0], args[1], e.options["reduction"])
        if e.fn == "flatten":
            return args[0].flatten(1)
        if e.fn in _UNARY:
            x = args[0]
            return _UNARY[e.fn](x) if isinstance(x, torch.Tensor) else x
        return loss_fn(e.fn, args[0], args[1], e.options)
    raise TypeError(f"not a loss expression: {e!r}")
