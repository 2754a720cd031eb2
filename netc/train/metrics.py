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


class SplitMetrics:
    """The metrics of one split, fed batch by batch: torchmetrics' metric objects keep their sums on the
    device the scores are on, so evaluation reads nothing back until :meth:`compute`."""

    def __init__(self, metrics: tuple[tuple[str, dict[str, Any]], ...] | list[tuple[str, dict[str, Any]]],
                 loss: str | None, kind: str) -> None:
        self.metrics, self.loss, self.kind = list(metrics), loss, kind
        self.objects: dict[str, Any] | None = None
        self.positives: torch.Tensor | None = None  # binary: how many positive targets (AUC needs both classes)
        self.count = 0

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        probs = probabilities(pred, self.loss)
        if self.kind == "binary":
            probs, target = probs.reshape(-1), target.reshape(-1).long()
            classes = 2
            self.positives = target.sum() if self.positives is None else self.positives + target.sum()
            self.count += target.numel()
        else:
            classes = probs.shape[1]
        if self.objects is None:
            self.objects = {name: _metric(name, args, self.kind, classes).to(probs.device)
                            for name, args in self.metrics}
        for metric in self.objects.values():
            metric.update(probs, target)

    def compute(self) -> dict[str, float]:
        """{metric name: value} over every batch given."""
        if self.objects is None:
            return {}
        one_class = self.positives is not None and int(self.positives) in (0, self.count)
        return {name: float("nan") if name == "auc" and one_class else float(metric.compute())
                for name, metric in self.objects.items()}


def compute(metrics: tuple[tuple[str, dict[str, Any]], ...] | list[tuple[str, dict[str, Any]]], pred: torch.Tensor,
            target: torch.Tensor, loss: str | None, kind: str) -> dict[str, float]:
    """{metric name: value} for the predictions of a whole split at once."""
    split = SplitMetrics(metrics, loss, kind)
    split.update(pred, target)
    return split.compute()
