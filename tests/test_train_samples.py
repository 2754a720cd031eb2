"""The generative samples train from a `train` section: samples/vae.net (the PyTorch examples' VAE) on the
digits scaled up to its 28x28 input, with the example's loss, reconstruction BCE summed plus the KL term."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from netc.train import load_spec  # noqa: E402
from netc.train.data import load_digits  # noqa: E402
from netc.train.trainer import Options, Trainer  # noqa: E402

from .conftest import SAMPLES  # noqa: E402


def test_vae_sample_trains_with_reconstruction_plus_kl(tmp_path: Path) -> None:
    images, _ = load_digits()
    # 8x8 -> 28x28: each of the first 7x7 pixels becomes a 4x4 block (the last row and column are blank).
    big = np.kron(images[:400, :7, :7], np.ones((4, 4))).astype(np.float32)[:, None] / 16.0
    np.savez(tmp_path / "digits28.npz", x=big)
    net = tmp_path / "vae_train.net"
    net.write_text(f'import "{(SAMPLES / "vae.net").as_posix()}"\n\n'
                   "train vae(VAE) {\n"
                   '    data: npz("digits28.npz", val=0.25)\n'
                   '    loss: bce(recon, flatten(x), reduction="sum") + kl_normal(mu, logvar)\n'
                   "    optimizer: Adam(lr=1e-3)\n"
                   "    batch: 50\n"
                   "    epochs: 3\n"
                   "}\n")
    spec = load_spec(net)
    trainer = Trainer(spec, None, Options(out=tmp_path / "run", progress=False, echo=lambda s: None))
    assert sum(p.numel() for p in trainer.models["VAE"].parameters()) == 652_824  # the example's VAE
    report = trainer.run()
    first, last = report.history[0]["val_loss"], report.history[-1]["val_loss"]
    assert last < 0.9 * first, (first, last)
