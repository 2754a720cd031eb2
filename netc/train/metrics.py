"""Classification metrics over a whole split: accuracy, top-k, macro precision/recall/F1, ROC AUC.

Definitions follow scikit-learn's (macro averages of per-class scores, 0 where a class has no predicted or
true samples; AUC by the Mann-Whitney rank statistic with ties counted half), computed with torch so that
netc needs no scikit-learn.
"""
from __future__ import annotations

import torch

from ..dsl.train import FnCall, metric_name


def probabilities(pred: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-class (or positive-class) scores in [0, 1] from what the network outputs for this loss."""
    pred = pred.float()
    if loss == "cross_entropy":
        return pred.softmax(1)
    if loss == "nll":
        return pred.exp()
    if loss == "bce_with_logits":
        return pred.sigmoid()
    return pred  # bce: already probabilities


def _per_class(pred: torch.Tensor, target: torch.Tensor, classes: int) -> tuple[torch.Tensor, ...]:
    tp = torch.zeros(classes, dtype=torch.float64)
    fp = torch.zeros(classes, dtype=torch.float64)
    fn = torch.zeros(classes, dtype=torch.float64)
    for c in range(classes):
        p, t = pred == c, target == c
        tp[c] = (p & t).sum()
        fp[c] = (p & ~t).sum()
        fn[c] = (~p & t).sum()
    return tp, fp, fn


def _ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(b > 0, a / b.clamp(min=1), torch.zeros_like(a))


def binary_auc(score: torch.Tensor, positive: torch.Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counting 1/2; NaN with one class."""
    score = score.double().flatten()
    positive = positive.bool().flatten()
    n_pos = int(positive.sum())
    n_neg = len(score) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks with ties given their average rank."""
    order = torch.argsort(x, stable=True)
    sorted_x = x[order]
    ranks = torch.empty_like(x)
    n = len(x)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def compute(metrics: list[FnCall], pred: torch.Tensor, target: torch.Tensor, loss: str, kind: str) -> dict[str, float]:
    """Every metric of the list on one split. `pred` is the raw network output for the whole split."""
    out: dict[str, float] = {}
    if not metrics:
        return out
    probs = probabilities(pred, loss)
    if kind == "binary":
        score = probs.reshape(len(probs), -1)[:, 0] if probs.dim() > 1 else probs
        truth = target.reshape(len(target), -1)[:, 0] if target.dim() > 1 else target
        truth = truth > 0.5
        guess = score > 0.5
        tp = float((guess & truth).sum())
        fp = float((guess & ~truth).sum())
        fn = float((~guess & truth).sum())
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        values = {
            "accuracy": float((guess == truth).double().mean()),
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        }
        for m in metrics:
            out[metric_name(m)] = binary_auc(score, truth) if m.name == "auc" else values[m.name]
        return out
    # several classes: [N, C] scores against [N] labels (extra dims, as in sequence tagging, are flattened)
    classes = probs.shape[1]
    if probs.dim() > 2:
        probs = probs.movedim(1, -1).reshape(-1, classes)
        target = target.reshape(-1)
    guess = probs.argmax(1)
    tp, fp, fn = _per_class(guess, target, classes)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = (tp + fn) > 0  # sklearn averages over the classes that occur in the labels or predictions
    present |= (tp + fp) > 0
    for m in metrics:
        name = metric_name(m)
        if m.name == "accuracy":
            out[name] = float((guess == target).double().mean())
        elif m.name == "top_k":
            top = probs.topk(int(m.args["k"]), dim=1).indices
            out[name] = float((top == target[:, None]).any(1).double().mean())
        elif m.name in ("precision", "recall", "f1"):
            per = {"precision": precision, "recall": recall, "f1": f1}[m.name]
            out[name] = float(per[present].mean()) if present.any() else 0.0
        elif m.name == "auc":
            aucs = [binary_auc(probs[:, c], target == c) for c in range(classes)]
            finite = [a for a in aucs if a == a]
            out[name] = sum(finite) / len(finite) if finite else float("nan")
    return out
