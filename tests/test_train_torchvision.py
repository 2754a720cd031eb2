"""`data: torchvision(NAME, root=...)`: torchvision's image data sets when torchvision is installed.

torchvision cannot be installed beside netc's torch here, and nothing may download, so the adapter is tested
against a stand-in `torchvision.datasets` module put into sys.modules: a class with torchvision's data set
signature (root, train, transform, download) whose items are (PIL image, class index), as torchvision's are.
The stand-in's images are two classes a network can tell apart, so the test also shows training works on it.
"""
from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402
from netc.train import TrainError, prepare  # noqa: E402

CNN = """
network Cnn {
    input x: f32[B, 3, 8, 8]
    x -> Conv2d(4, 3, padding=1) as conv -> relu -> flatten(1) -> Linear(2) as fc -> logits
    output logits
}
"""

SECTION = """
train t(Cnn) {
    data: torchvision(FakeImages, root="store", val=0.25)
    transforms: [TRANSFORMS]
    batch: 8
    loss: cross_entropy
    optimizer: Adam(lr=0.01)
    epochs: 6
    metrics: [accuracy]
}
"""


class FakeImages:
    """torchvision's data set interface: 10x12 RGB images, dark ones class 0, bright ones class 1."""

    opened: list[dict[str, object]] = []

    def __init__(self, root: str, train: bool = True, transform: object = None, download: bool = False) -> None:
        FakeImages.opened.append({"root": root, "train": train, "download": download})
        if not Path(root).is_dir():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")
        rng = np.random.default_rng(0 if train else 1)
        self.targets = [i % 2 for i in range(40)]
        self.images = [rng.integers(170, 255, (10, 12, 3), dtype=np.uint8) if t else
                       rng.integers(0, 80, (10, 12, 3), dtype=np.uint8) for t in self.targets]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[object, int]:
        return Image.fromarray(self.images[i]), self.targets[i]


@pytest.fixture
def fake_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    # torchmetrics asks importlib whether torchvision exists when it loads: let it see the real answer first.
    import torchmetrics.classification  # noqa: F401
    import torchmetrics.functional  # noqa: F401

    package = types.ModuleType("torchvision")
    datasets = types.ModuleType("torchvision.datasets")
    datasets.FakeImages = FakeImages  # type: ignore[attr-defined]
    package.datasets = datasets  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    FakeImages.opened.clear()


def write(tmp_path: Path, transforms: str, dataset: str = "FakeImages") -> Path:
    (tmp_path / "store").mkdir(exist_ok=True)
    path = tmp_path / "t.net"
    path.write_text(CNN + SECTION.replace("TRANSFORMS", transforms).replace("FakeImages", dataset))
    return path


def test_a_torchvision_data_set_trains_through_the_declared_transforms(tmp_path: Path,
                                                                        fake_torchvision: None) -> None:
    path = write(tmp_path, "resize(8), to_float(255), channels_first")
    report = prepare(path, out=tmp_path / "o", progress=False, echo=lambda s: None, tensorboard=False).run()
    # opened in the .net file's folder, the training split, and never downloading
    assert FakeImages.opened == [{"root": str(tmp_path / "store"), "train": True, "download": False}]
    assert report.history[-1]["val_accuracy"] == 1.0  # dark against bright: learnt
    assert report.history[-1]["train_loss"] < report.history[0]["train_loss"]


def test_a_layout_mismatch_names_the_transform_that_fixes_it(tmp_path: Path, fake_torchvision: None) -> None:
    path = write(tmp_path, "resize(8), to_float(255)")
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 1
    assert "error[E513]: the data's x is float32[8, 8, 3] per sample, but the network takes f32[B, 3, 8, 8]" \
        in result.output
    assert "t.net:10:" in result.output and "add `channels_first` to `transforms`" in result.output


def test_uint8_pixels_for_a_float_network_ask_for_to_float(tmp_path: Path, fake_torchvision: None) -> None:
    with pytest.raises(TrainError) as err:
        prepare(write(tmp_path, "resize(8), channels_first"), out=tmp_path / "o")
    assert "uint8[3, 8, 8]" in err.value.message and "to_float(255)" in (err.value.help or "")


def test_an_unknown_data_set_gets_a_suggestion(tmp_path: Path, fake_torchvision: None) -> None:
    with pytest.raises(TrainError) as err:
        prepare(write(tmp_path, "to_float(255)", dataset="FakeImage"), out=tmp_path / "o")
    assert err.value.message == "torchvision has no data set `FakeImage`" and "`FakeImages`" in (err.value.help or "")


def test_a_data_set_not_in_root_says_netc_never_downloads(tmp_path: Path, fake_torchvision: None) -> None:
    path = write(tmp_path, "to_float(255)")
    path.write_text(path.read_text().replace('root="store"', 'root="elsewhere"'))
    with pytest.raises(TrainError) as err:
        prepare(path, out=tmp_path / "o")
    assert "Dataset not found" in err.value.message and "never downloads" in (err.value.help or "")


def test_without_torchvision_the_error_is_located_and_says_how_to_install(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import torchmetrics.functional  # noqa: F401  (it looks torchvision up when it loads: see the real answer)

    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision raises ImportError
    monkeypatch.delitem(sys.modules, "torchvision.datasets", raising=False)
    path = write(tmp_path, "resize(8), to_float(255), channels_first")
    assert CliRunner().invoke(main, ["check", str(path)]).exit_code == 0  # the file itself is right
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "error[E513]: `torchvision(...)` needs torchvision, which is not installed" in result.output
    assert "t.net:9:5" in result.output and "pip install torchvision" in result.output
    assert "Traceback" not in result.output


# -- a stand-in package on sys.path ------------------------------------------------------------------
# The tests above hand the adapter a module object; these put a small `torchvision` package on disk and on
# sys.path, so that `import torchvision.datasets` goes through the ordinary import machinery. Its data set
# follows torchvision's contract (root, train, transform, target_transform, download; items (PIL image, class
# index); `targets`) and keeps its samples in files under root, as torchvision's data sets do: without those
# files it raises torchvision's own "Dataset not found" RuntimeError. It is a stand-in because torchvision
# cannot be installed beside torch 2.13.0 here.
STANDIN = '''
import os

import numpy as np
from PIL import Image


class TinyDigits:
    """8x8 grayscale digits (uint8 [H, W]: Pillow mode L) kept in ROOT/TinyDigits/{train,test}.npz."""

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        if download:
            raise AssertionError("netc asked for a download")
        path = os.path.join(root, "TinyDigits", "train.npz" if train else "test.npz")
        if not os.path.exists(path):
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")
        with np.load(path) as z:
            self.data, self.targets = z["images"], [int(t) for t in z["labels"]]
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        image, target = Image.fromarray(self.data[i]), self.targets[i]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
'''

MLP = """
network Mlp {
    input x: f32[B, 64]
    x -> Linear(32) as fc1 -> relu -> Linear(10) as fc2 -> logits
    output logits
}

train t(Mlp) {
    data: torchvision(TinyDigits, root="vision", val=0.2)
    transforms: [to_float(255), flatten]
    batch: 32
    loss: cross_entropy
    optimizer: Adam(lr=0.01)
    epochs: 4
    metrics: [accuracy]
}
"""


@pytest.fixture
def standin_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The stand-in package under tmp_path/site, on sys.path for this test only; returns the .net file's
    folder (with TinyDigits' training file under vision/: 400 of netc's shipped digits, pixels 0..255)."""
    import torchmetrics.classification  # noqa: F401  (it looks torchvision up when it loads: the real answer)
    import torchmetrics.functional  # noqa: F401

    from netc.train.data import load_digits

    site = tmp_path / "site" / "torchvision"
    (site / "datasets").mkdir(parents=True)
    (site / "__init__.py").write_text("from . import datasets\n")
    (site / "datasets" / "__init__.py").write_text(STANDIN)
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    images, labels = load_digits()
    (tmp_path / "vision" / "TinyDigits").mkdir(parents=True)
    np.savez(tmp_path / "vision" / "TinyDigits" / "train.npz", images=(images[:400] * 15).astype(np.uint8),
             labels=labels[:400])
    (tmp_path / "t.net").write_text(MLP)
    yield tmp_path
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # the stand-in must not outlive the test


def test_a_data_set_from_a_torchvision_package_on_sys_path(standin_on_path: Path) -> None:
    from netc.train.data import load_digits
    from netc.train.loader import PartDataset

    run = prepare(standin_on_path / "t.net", out=standin_on_path / "o", progress=False, echo=lambda s: None,
                  tensorboard=False)
    assert sys.modules["torchvision"].__file__.startswith(str(standin_on_path / "site"))  # the package on disk
    # The network sees the stand-in's pixels / 255, flattened: compared with netc's digits read directly.
    images, labels = load_digits()
    rows = run.splits.train.index[:5]
    x, y = PartDataset(run.splits.train).__getitems__(np.arange(5))
    want = (images[:400] * 15).astype(np.uint8)[rows].reshape(5, 64).astype(np.float32) / 255
    assert np.array_equal(x.numpy(), want) and y.tolist() == labels[rows].tolist()
    report = run.run()
    assert report.history[-1]["train_loss"] < report.history[0]["train_loss"] / 2


def test_missing_files_are_a_located_error_naming_root(standin_on_path: Path) -> None:
    import shutil

    shutil.rmtree(standin_on_path / "vision")
    result = CliRunner().invoke(main, ["train", str(standin_on_path / "t.net"), "--out",
                                       str(standin_on_path / "o"), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert f"error[E513]: cannot open torchvision's TinyDigits in {standin_on_path / 'vision'}: Dataset not found" \
        in result.output
    assert "t.net:9:5" in result.output and "never downloads" in result.output and "Traceback" not in result.output
