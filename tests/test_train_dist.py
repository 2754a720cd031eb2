"""`netc train --nproc 2`: DistributedDataParallel over two CPU processes (gloo, launched by torchrun) follows
the same loss curve as one process with the same global batch. Each process takes half of every global batch
(`idx[rank::2]`) and DDP averages the gradients; the last batch of 5 samples splits 3/2, which the per-process
weighting must make exact too."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from netc.train import load_spec  # noqa: E402
from netc.train.trainer import Options, Trainer  # noqa: E402

from .conftest import ROOT  # noqa: E402

NET = """
network Mlp {
    input x: f32[B, 12]
    x -> Linear(16) as fc1 -> tanh -> Linear(3) as fc2 -> logits
    output logits
}
train t(Mlp) {
    data: synthetic(206, val=0.2)
    loss: cross_entropy
    optimizer: SGD(lr=0.1, momentum=0.9)
    schedule: cosine
    batch: 32
    epochs: 2
    metrics: [accuracy]
}
"""


def test_two_processes_follow_the_single_process_loss_curve(tmp_path: Path) -> None:
    path = tmp_path / "d.net"
    path.write_text(NET)
    spec = load_spec(path)
    single = Trainer(spec, None, Options(out=tmp_path / "one", progress=False, echo=lambda s: None)).run()
    assert len(single.steps) == 2 * 6  # 165 training samples: 5 full batches of 32 and one of 5, per epoch

    cmd = [sys.executable, "-m", "netc.cli", "train", str(path), "--nproc", "2", "--out", str(tmp_path / "two"),
           "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    log = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert log["processes"] == 2
    torch.testing.assert_close(torch.tensor(log["steps"]), torch.tensor(single.steps), rtol=1e-5, atol=1e-6)
    two_weights = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["models"]["Mlp"]
    one_weights = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["models"]["Mlp"]
    for key, value in one_weights.items():
        torch.testing.assert_close(two_weights[key], value, rtol=1e-5, atol=1e-6)
