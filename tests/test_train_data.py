"""Real data sources declared in the file: an image folder (PNG files the test writes, decoded by Pillow),
memory-mapped .npy arrays, a CSV table and a text; layout and dtype mismatches are located errors whose
hint names the transform that fixes them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402
from netc.train import prepare  # noqa: E402
from netc.train.loader import PartDataset  # noqa: E402

CNN = """
network Cnn {
    input x: f32[B, 3, 8, 8]
    x -> Conv2d(4, 3, padding=1) as conv -> relu -> flatten(1) -> Linear(2) as fc -> logits
    output logits
}
"""


def image_folder(root: Path, n: int = 12, size: tuple[int, int] = (10, 12)) -> None:
    """Two classes a network can tell apart: dark images and bright ones, of a size that is not the input's."""
    rng = np.random.default_rng(0)
    for label, (low, high) in {"dark": (0, 80), "bright": (170, 255)}.items():
        (root / label).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(low, high, size=(*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i:03d}.png")


def run(tmp_path: Path, section: str, net: str = CNN, **options: object) -> object:
    path = tmp_path / "t.net"
    path.write_text(net + section)
    return prepare(path, out=tmp_path / "run", progress=False, echo=lambda s: None, tensorboard=False, **options)


def test_an_image_folder_trains_through_declared_transforms(tmp_path: Path) -> None:
    image_folder(tmp_path / "pics")
    t = run(tmp_path, """
train t(Cnn) {
    data: images("pics", val=0.25)
    transforms: [resize(9, 9), random_crop(8, 8), flip, color_jitter(brightness=0.1), to_float(255), channels_first,
                 normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))]
    loss: cross_entropy
    optimizer: Adam(lr=1e-2)
    batch: 6
    epochs: 4
    metrics: [accuracy]
}
""")
    x, y = PartDataset(t.splits.val).__getitems__([0, 1])
    assert x.dtype == torch.float32 and tuple(x.shape) == (2, 3, 8, 8) and y.dtype == torch.int64
    # validation takes the centre crop, never a random one: the same batch twice is the same tensor
    assert torch.equal(x, PartDataset(t.splits.val).__getitems__([0, 1])[0])
    # the class folders, sorted: bright is 0, dark is 1; a bright image normalizes above 0
    first = int(t.splits.val.index[0])
    expected = 0 if t.splits.val.y[first] == 0 else 1
    assert (x[0].mean() > 0) == (expected == 0)
    report = t.run()
    assert report.history[-1]["val_accuracy"] == 1.0


def test_nhwc_uint8_arrays_get_a_hint_naming_the_transform(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.zeros((8, 8, 8, 3), np.uint8))
    np.save(tmp_path / "y.npy", np.zeros(8, np.int64))
    path = tmp_path / "t.net"
    path.write_text(CNN + 'train t(Cnn) {\n    data: npy("x.npy", "y.npy")\n    loss: cross_entropy\n'
                    "    optimizer: Adam()\n    epochs: 1\n}\n")
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 1 and "error[E512]" in out.stderr
    assert "add `channels_first` to `transforms`" in out.stderr
    path.write_text(path.read_text().replace("    loss:", "    transforms: [channels_first]\n    loss:"))
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 1 and "uint8[3, 8, 8] per sample" in out.stderr and "to_float(255)" in out.stderr
    assert f"{path}:9:17" in out.stderr  # at the transforms list
    path.write_text(path.read_text().replace("[channels_first]", "[to_float(255), channels_first]"))
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 0, out.output


def test_npy_streams_from_a_memory_map(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3, 8, 8)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    t = run(tmp_path, 'train t(Cnn) {\n    data: npy("x.npy", "y.npy", val=0.25)\n    loss: cross_entropy\n'
                      "    optimizer: Adam(lr=1e-2)\n    batch: 16\n    epochs: 2\n}\n")
    assert isinstance(t.splits.train.x, np.memmap)  # nothing read until a batch needs it
    batch, _ = PartDataset(t.splits.train).__getitems__([3, 4])
    rows = t.splits.train.index[[3, 4]]
    assert torch.equal(batch, torch.from_numpy(x[rows]))
    assert len(t.run().steps) == 2 * 3


def test_a_csv_table(tmp_path: Path) -> None:
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    net = "network M {\n    input x: f32[B, 2]\n    x -> Linear(2) as fc -> logits\n    output logits\n}\n"
    t = run(tmp_path, 'train t(M) {\n    data: csv("t.csv", val=0.25)\n    loss: cross_entropy\n'
                      "    optimizer: Adam(lr=0.1)\n    batch: 10\n    epochs: 1\n}\n", net=net)
    x, y = PartDataset(t.splits.train).__getitems__([0])
    i = int(t.splits.train.index[0])
    assert x.tolist() == [[float(i % 7), float((i * 3) % 5)]] and y.tolist() == [int(i % 7 > 3)]
    t.run()


def test_a_text_gives_next_character_targets(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("abcabcabdabcabcabd" * 4)
    net = ("network Lm {\n    input x: i64[B, 6]\n    x -> Embedding(4, 8) as emb -> Linear(4) as head "
           "-> permute(0, 2, 1) -> logits\n    output logits\n}\n")
    t = run(tmp_path, 'train t(Lm) {\n    data: text("t.txt", length=6, stride=3, val=0.0)\n'
                      "    loss: cross_entropy\n    optimizer: Adam(lr=0.05)\n    batch: 8\n    epochs: 3\n}\n", net=net)
    x, y = PartDataset(t.splits.train).__getitems__([0])
    start = int(t.splits.train.index[0]) * 3
    text = "abcabcabdabcabcabd" * 4
    ids = {c: i for i, c in enumerate("abcd")}
    assert x.tolist() == [[ids[c] for c in text[start:start + 6]]]
    assert y.tolist() == [[ids[c] for c in text[start + 1:start + 7]]]
    report = t.run()
    assert report.steps[-1] < report.steps[0]


def test_a_text_with_more_characters_than_the_embedding_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text("abcdefgh" * 4)
    path = tmp_path / "t.net"
    path.write_text("network Lm {\n    input x: i64[B, 6]\n    x -> Embedding(4, 8) as emb -> Linear(4) as head "
                    "-> permute(0, 2, 1) -> logits\n    output logits\n}\n"
                    'train t(Lm) {\n    data: text("t.txt", length=6)\n    loss: cross_entropy\n'
                    "    optimizer: Adam()\n    epochs: 1\n}\n")
    out = CliRunner().invoke(main, ["check", str(path)])
    assert out.exit_code == 1 and "8 distinct characters, but `Lm` embeds only 4" in out.stderr


def test_worker_processes_take_the_same_steps_as_none(tmp_path: Path) -> None:
    """--workers 2: one DataLoader for the run (its workers start once), each batch asked with its epoch so that
    the workers augment as the main process does, and the workers' seeds drawn from the loader's own generator,
    not from the global one that Dropout draws from: the run takes exactly the steps of one without workers."""
    import multiprocessing

    image_folder(tmp_path / "pics")
    section = """
train t(Cnn) {
    data: images("pics", val=0.25)
    transforms: [resize(9, 9), random_crop(8, 8), flip, color_jitter(brightness=0.2), to_float(255), channels_first]
    loss: cross_entropy
    optimizer: Adam(lr=1e-2)
    batch: 6
    epochs: 3
}
"""
    net = CNN.replace("relu -> flatten(1)", "relu -> Dropout(0.3) -> flatten(1)")
    runs = {}
    for workers in (0, 2):
        (tmp_path / str(workers)).mkdir()
        runs[workers] = run(tmp_path / str(workers), section.replace('"pics"', '"../pics"'), net, workers=workers).run()
    assert runs[2].steps == runs[0].steps  # every step's loss, bit for bit
    assert len(runs[0].steps) == 3 * 3
    assert len(set(runs[0].steps)) == len(runs[0].steps)
    assert multiprocessing.active_children() == []  # the workers ended with the run
