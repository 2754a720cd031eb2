"""Long runs: resuming continues exactly or says why it cannot, `--set` reaches the trained networks, and
files that do not fit (a checkpoint of an edited network, a damaged data file) are user errors, not
internal ones."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402

from .conftest import SAMPLES  # noqa: E402

NET = """
network Mlp(hidden: int = 16) {
    input x: f32[B, 64]
    x -> Linear(hidden) as fc1 -> relu -> Linear(10) as fc2 -> logits
    output logits
}
train t(Mlp) {
    data: digits(val=0.2, test=0.0)
    loss: cross_entropy
    optimizer: SGD(lr=0.05, momentum=0.9)
    SCHEDULE
    batch: 256
    epochs: 2
}
"""


def cli(*args: str) -> object:
    return CliRunner().invoke(main, ["train", *args, "--no-progress", "--no-tensorboard", "--threads", "1"])


def write(tmp_path: Path, schedule: str, name: str = "t.net") -> Path:
    path = tmp_path / name
    path.write_text(NET.replace("SCHEDULE", schedule))
    return path


def test_more_epochs_with_a_per_epoch_schedule_continue_as_one_longer_run(tmp_path: Path) -> None:
    path = write(tmp_path, "schedule: step(1, gamma=0.5)")
    assert cli(str(path), "--out", str(tmp_path / "a")).exit_code == 0
    resumed = cli(str(path), "--epochs", "4", "--out", str(tmp_path / "a"), "--resume", str(tmp_path / "a" / "last.pt"))
    assert resumed.exit_code == 0, resumed.output
    assert cli(str(path), "--epochs", "4", "--out", str(tmp_path / "b")).exit_code == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["steps"] == b["steps"] and [r["lr"] for r in a["history"]] == [0.05, 0.025, 0.0125, 0.00625]


def test_more_epochs_with_a_schedule_shaped_by_the_run_length_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "schedule: warmup_cosine(5)")
    assert cli(str(path), "--out", str(tmp_path / "a")).exit_code == 0
    result = cli(str(path), "--epochs", "4", "--out", str(tmp_path / "a"), "--resume", str(tmp_path / "a" / "last.pt"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error[E513]" in result.stderr and "`warmup_cosine` schedule is shaped by that length" in result.stderr
    assert "resume with --epochs 2" in result.stderr and f"{path}:11:5" in result.stderr  # at the schedule line


def test_set_reaches_the_trained_network(tmp_path: Path) -> None:
    result = cli(str(SAMPLES / "digits_mlp.net"), "--set", "hidden=3", "--epochs", "1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    weights = torch.load(tmp_path / "last.pt", weights_only=True)["models"]["DigitsMLP"]
    assert weights["fc1.weight"].shape == (3, 64) and weights["fc2.weight"].shape == (10, 3)


def test_resuming_after_editing_the_network_names_the_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert cli(str(path), "--out", str(tmp_path / "a")).exit_code == 0
    edited = tmp_path / "edited.net"
    edited.write_text(path.read_text().replace("hidden: int = 16", "hidden: int = 8")
                      .replace("as fc2", "as head"))
    result = cli(str(edited), "--epochs", "3", "--resume", str(tmp_path / "a" / "last.pt"), "--out", str(tmp_path / "b"))
    assert result.exit_code == 1 and "internal error" not in result.output
    err = result.stderr
    assert "does not fit `Mlp`" in err and "`fc1.weight` is [16, 64] in last.pt but [8, 64] in the network" in err
    assert "missing from last.pt: `head.weight`, `head.bias`" in err and "not in the network: `fc2.weight`" in err


@pytest.mark.parametrize("damage", ["truncated", "not_zip"])
def test_a_damaged_data_file_is_a_user_error(tmp_path: Path, damage: str) -> None:
    x = np.zeros((20, 64), np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(20, np.int64))
    data = (tmp_path / "d.npz").read_bytes()
    net = tmp_path / "t.net"
    net.write_text(NET.replace("digits(val=0.2, test=0.0)", 'npz("d.npz", val=0.2)').replace("SCHEDULE", ""))
    # The checker reads the headers when it checks the file; the damage happens after (a disk, a sync).
    from netc.train import prepare

    run = prepare(net, out=tmp_path / "o", progress=False, echo=lambda s: None, tensorboard=False)
    assert len(run.splits.train) == 16
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2] if damage == "truncated" else b"PK\x03\x04" + b"\0" * 99)
    result = cli(str(net), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1 and "internal error" not in result.output, result.output
    assert "error[E513]" in result.stderr and "d.npz" in result.stderr


def test_test_metrics_say_which_weights_they_used(tmp_path: Path) -> None:
    path = tmp_path / "t.net"
    path.write_text(NET.replace("SCHEDULE", "metrics: [accuracy]\n    checkpoint: save(best=val_accuracy)")
                    .replace("test=0.0", "test=0.2").replace("epochs: 2", "epochs: 3"))
    result = cli(str(path), "--out", str(tmp_path / "a"))
    assert result.exit_code == 0, result.output
    log = json.loads((tmp_path / "a" / "metrics.json").read_text())
    best = log["best"]["epoch"]
    expected = "last" if best == 3 else f"best (epoch {best}, val_accuracy)"
    assert log["test_weights"] == expected and f"test ({expected} weights)" in result.stdout
