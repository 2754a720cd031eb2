"""Data sources read from ordinary files: class-per-folder images (decoded by Pillow, one batch at a time),
CSV tables, and text for character-level language models."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..dsl.train_data import class_folders
from .data import Part, resolve
from .errors import TrainError
from .recipe import Section


class ImageFiles:
    """Image files indexed by rows: `files[rows]` decodes those images (uint8 [H, W, 3], or [H, W] for
    grayscale files). Only the paths are held, so a folder larger than memory streams."""

    def __init__(self, files: list[Path], gray: bool) -> None:
        self.files = files
        self.gray = gray

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, rows: np.ndarray) -> list[np.ndarray]:
        from PIL import Image, UnidentifiedImageError

        out = []
        for r in np.atleast_1d(rows):
            path = self.files[int(r)]
            try:
                with Image.open(path) as img:
                    out.append(np.asarray(img.convert("L" if self.gray else "RGB")))
            except (UnidentifiedImageError, OSError) as exc:
                raise TrainError(f"cannot decode the image {path}: {exc}", key="data",
                                 help="remove or replace the damaged file") from None
        return out


def open_media(section: Section, rng: np.random.Generator) -> Part:
    from .transforms import pipeline

    args = section.data_args
    path = resolve(section, args["path"])
    if section.data == "images":
        try:
            folders = class_folders(path)
        except OSError as exc:
            raise TrainError(str(exc), key="data") from None
        files = [f for _, fs in folders for f in fs]
        labels = np.concatenate([np.full(len(fs), c, np.int64) for c, (_, fs) in enumerate(folders)])
        from ..dsl.train_data import image_layout

        gray = len(image_layout(files[0]).dims) == 2
        return Part(ImageFiles(files, gray), labels, np.arange(len(files)), pipeline(section, augment=True))
    if section.data == "csv":
        x, y = _csv(path, args["label"])
        return Part(x, y, np.arange(len(x)), pipeline(section, augment=True))
    if section.data == "text":
        return _text(section, path)
    raise KeyError(section.data)  # the checker admits no other


def _csv(path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainError(f"cannot read {path}: {exc}", key="data") from None
    header = [h.strip() for h in rows[0]]
    if label not in header:
        raise TrainError(f"{path.name} has no column {label!r}", key="data")
    j = header.index(label)
    body = [r for r in rows[1:] if r]
    try:
        table = np.array([[float(v) for v in r] for r in body], dtype=np.float64)
    except ValueError as exc:
        line = next(i for i, r in enumerate(body, start=2) if not all(_is_number(v) for v in r))
        raise TrainError(f"{path.name}, line {line}: {exc}", key="data",
                         help="every cell must be a number (encode categories as integers)") from None
    if table.ndim != 2 or table.shape[1] != len(header):
        raise TrainError(f"{path.name}: rows have different numbers of cells than the header ({len(header)})",
                         key="data")
    y = table[:, j]
    x = np.delete(table, j, axis=1).astype(np.float32)
    return x, (y.astype(np.int64) if np.all(y == np.round(y)) else y.astype(np.float32))


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


class TextBlocks:
    """Windows of a character-id array: row i is ids[i*stride : i*stride + block]."""

    def __init__(self, ids: np.ndarray, block: int, stride: int, shift: int) -> None:
        self.ids, self.block, self.stride, self.shift = ids, block, stride, shift
        self.n = (len(ids) - 1 - block) // stride + 1

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        starts = np.atleast_1d(rows) * self.stride + self.shift
        return self.ids[starts[:, None] + np.arange(self.block)]


def vocabulary(text: str) -> list[str]:
    """The model's characters: the distinct characters of the text, sorted (id = position)."""
    return sorted(set(text))


def _text(section: Section, path: Path) -> Part:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainError(f"cannot read {path}: {exc}", key="data") from None
    chars = vocabulary(text)
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((lookup[c] for c in text), dtype=np.int64, count=len(text))
    block = int(section.data_args["length"])
    stride = int(section.data_args.get("stride") or block)
    x = TextBlocks(ids, block, stride, 0)
    y = TextBlocks(ids, block, stride, 1)
    rows = np.arange(len(x))
    return Part(x, y[rows], rows, lambda batch, rng: np.asarray(batch))
