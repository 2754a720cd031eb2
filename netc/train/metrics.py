"""Classification metrics over a whole split, by torchmetrics: accuracy, top-k, macro precision/recall/F1,
ROC AUC. `compute` turns what the network outputs into probabilities the way its loss reads them."""
from __future__ import annotations

from typing import Any

import torch


def probabilities(pred: torch.Tensor, loss: str | None) -> torch.Tensor:
    """Per-class (or positive-class) scores in [0, 1] from what the network outputs for this loss."""
    pred = pred.float()
    if loss == "cross_entropy":
        return pred.softmax(1)
    if loss == "nll":
        return pred.exp()
    if loss == "bce_with_logits":
        return pred.sigmoid()
    return pred  # bce: already probabilities


def _metric(name: str, args: dict[str, Any], kind: str, classes: int) -> Any:
    from torchmetrics import classification as tmc

    if kind == "binary":
        table = {"accuracy": tmc.BinaryAccuracy, "precision": tmc.BinaryPrecision, "recall": tmc.BinaryRecall,
                 "f1": tmc.BinaryF1Score, "auc": tmc.BinaryAUROC}
        return table[name]()
    if name.startswith("top"):
        return tmc.MulticlassAccuracy(classes, top_k=int(args["k"]), average="micro")
    table = {"accuracy": (tmc.MulticlassAccuracy, "micro"), "precision": (tmc.MulticlassPrecision, "macro"),
             "recall": (tmc.MulticlassRecall, "macro"), "f1": (tmc.MulticlassF1Score, "macro"),
             "auc": (tmc.MulticlassAUROC, "macro")}
    cls, average = table[name]
    return cls(classes, average=average)


def compute(metrics: tuple[tuple[str, dict[str, Any]], ...] | list[tuple[str, dict[str, Any]]], pred: torch.Tensor,
            target: torch.Tensor, loss: str | None, kind: str) -> dict[str, float]:
    """{metric name: value} for the predictions of a whole split."""
    probs = probabilities(pred, loss)
    if kind == "binary":
        probs, target = probs.reshape(-1), target.reshape(-1).long()
        classes = 2
    else:
        classes = probs.shape[1]
    out: dict[str, float] = {}
    for name, args in metrics:
        if name == "auc" and kind == "binary" and target.unique().numel() < 2:
            out[name] = float("nan")  # AUC needs both classes
            continue
        out[name] = float(_metric(name, args, kind, classes)(probs, target))
    return out
