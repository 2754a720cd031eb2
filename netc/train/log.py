"""What training shows and writes: a progress bar per epoch (tqdm when installed), a metrics table with one
row per epoch, and the same rows in metrics.csv and metrics.json."""
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
    """A per-epoch progress bar: tqdm if it is installed, else a plain one redrawn in place on a terminal."""

    def __init__(self, total: int, desc: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.total, self.desc, self.n = total, desc, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.bar: Any = None
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, desc=desc, leave=False, file=self.stream, dynamic_ncols=True)

    def update(self, loss: float) -> None:
        self.n += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
            self.bar.update(1)
            return
        width = 24
        done = int(width * self.n / max(self.total, 1))
        self.stream.write(f"\r{self.desc} [{'#' * done}{'.' * (width - done)}] {self.n}/{self.total} loss {loss:.4g}")
        self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


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
    write_atomic(folder / "metrics.json", json.dumps(_finite(report), indent=1) + "\n")
    columns: list[str] = []
    for row in history:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_atomic(folder / "metrics.csv", buf.getvalue())


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
