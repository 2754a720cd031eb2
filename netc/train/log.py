"""What training shows and writes: a progress bar per epoch (tqdm), a metrics table with one row per epoch,
the same rows in metrics.csv and metrics.json, and TensorBoard event files (`tensorboard --logdir runs`)."""
from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..codegen.base import write_atomic


class Progress:
    """A per-epoch progress bar with rate and ETA (tqdm), drawn only on a terminal."""

    def __init__(self, total: int, desc: str, enabled: bool, stream: TextIO | None = None, done: int = 0) -> None:
        self.stream = stream or sys.stderr
        self.bar: Any = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc=desc, leave=False, file=self.stream, dynamic_ncols=True,
                            unit="batch")

    def advance(self) -> None:
        """One more batch done (tqdm redraws at most every 0.1 s)."""
        if self.bar is not None:
            self.bar.update(1)

    def loss(self, loss: float | None) -> None:
        """The latest training loss, shown beside the rate (it is read from the device only now and then)."""
        if self.bar is not None and loss is not None:
            self.bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4f}"
    return str(value)


class Table:
    """Prints one row per epoch under a header; columns are fixed by the first row."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.columns: list[str] = []
        self.widths: list[int] = []

    def row(self, values: dict[str, Any]) -> None:
        if not self.columns:
            self.columns = list(values)
            self.widths = [max(len(c), 9) for c in self.columns]
            self.echo("  ".join(c.rjust(w) for c, w in zip(self.columns, self.widths)))
            self.echo("  ".join("-" * w for w in self.widths))
        self.echo("  ".join(_fmt(values.get(c, "")).rjust(w) for c, w in zip(self.columns, self.widths)))


def write_logs(folder: Path, report: dict[str, Any]) -> None:
    """metrics.json (everything) and metrics.csv (the per-epoch rows), rewritten whole after each epoch."""
    history: list[dict[str, Any]] = report["history"]
    write_atomic(folder / "metrics.json", _json(report))
    columns: list[str] = []
    for row in history:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_atomic(folder / "metrics.csv", buf.getvalue())


def _json(report: dict[str, Any]) -> str:
    """One key per line and one history row per line, each written by json's C encoder: `indent` would
    select its pure-Python encoder, which took a few milliseconds per epoch for the per-step losses alone
    (rewritten after every epoch, so the cost grew with the run)."""
    lines = []
    for key, value in report.items():
        if key == "history" and value:
            text = "[\n  " + ",\n  ".join(_dump(row) for row in value) + "\n ]"
        else:
            text = _dump(value)
        lines.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)  # all finite: the usual case, no walk in Python
    except ValueError:
        return json.dumps(_finite(value))


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class TensorBoard:
    """Each epoch's numbers as TensorBoard scalars in `folder/tensorboard`, written by torch's SummaryWriter."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.writer: Any = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(folder / "tensorboard"))

    def epoch(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = int(row["step"])
        for key, value in row.items():
            if key not in ("epoch", "step") and isinstance(value, (int, float)) and math.isfinite(value):
                group = "train" if key.startswith("train_") or key == "lr" else key.split("_", 1)[0]
                self.writer.add_scalar(f"{group}/{key}", value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
