"""End to end: `netc train samples/digits_mlp.net` (the torch backend's network, the shipped digits) reaches
at least 95% accuracy on the held-out test split within a CPU minute. The split is 20% of scikit-learn's
1,797 digits (360 images) that training never sees; the accuracy is recomputed here from the saved weights,
independently of the trainer's own metrics code."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

import netc  # noqa: E402
from netc.cli import main  # noqa: E402
from netc.train import load_spec  # noqa: E402
from netc.train.data import load  # noqa: E402
from netc.train.emit import section_of  # noqa: E402

from .conftest import SAMPLES  # noqa: E402


def test_digits_mlp_reaches_95_percent(tmp_path: Path) -> None:
    sample = SAMPLES / "digits_mlp.net"
    result = CliRunner().invoke(main, ["train", str(sample), "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 0, result.output
    log = json.loads((tmp_path / "metrics.json").read_text())
    assert log["test"]["test_accuracy"] >= 0.95, log["test"]

    # Recompute on the test split with a fresh network from the backend, from the weights the log says the
    # test used: the best by val_accuracy (the section's `save(best=val_accuracy)`), or the last.
    weights = "best.pt" if log["test_weights"].startswith("best") else "last.pt"
    assert log["test_weights"] == "last" or f"epoch {log['best']['epoch']}" in log["test_weights"]
    test = load(section_of(load_spec(sample))).test
    assert test is not None and len(test) == round(1797 * 0.2)
    model = netc.build(sample, target="torch", network="DigitsMLP")()
    model.load_state_dict(torch.load(tmp_path / weights, weights_only=True)["models"]["DigitsMLP"])
    model.eval()
    x, y = test.rows(np.arange(len(test)))
    with torch.no_grad():
        guess = model(torch.as_tensor(x)).argmax(1).numpy()
    accuracy = float(np.mean(guess == y))
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(log["test"]["test_accuracy"])
