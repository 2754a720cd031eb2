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


def test_vae_sample_trains_with_reconstruction_plus_kl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_IMPORT_PATH", str(SAMPLES))  # the sample is imported from tmp_path
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


def test_dcgan_sample_alternates_discriminator_and_generator_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_IMPORT_PATH", str(SAMPLES))  # the sample is imported from tmp_path
    # The sample's networks, narrowed through their parameters (ngf, ndf) to keep a CPU test quick; the
    # losses are the example's: BCE of D's probability against 1 for real and 0 for generated images.
    net = tmp_path / "dcgan_train.net"
    net.write_text(f'import "{(SAMPLES / "dcgan.net").as_posix()}"\n\n'
                   "train dcgan(Generator(ngf=8) as G, Discriminator(ndf=8) as D) {\n"
                   "    data: synthetic(16, val=0.0)\n"
                   "    noise z: normal(f32[B, 100, 1, 1])\n"
                   "    loss D: bce(D(x), 1) + bce(D(detach(G(z))), 0)\n"
                   "    loss G: bce(D(G(z)), 1)\n"
                   "    optimizer D: Adam(lr=2e-4, betas=(0.5, 0.999))\n"
                   "    optimizer G: Adam(lr=2e-4, betas=(0.5, 0.999))\n"
                   "    batch: 8\n"
                   "    steps: 2\n"
                   "}\n")
    from netc.dsl.compiler import compile_file

    result = compile_file(net)
    assert result.ok and not result.diagnostics.items  # D ends in sigmoid -> view(-1): bce fits, no lint
    spec = load_spec(net)
    assert str(spec.input_type) == "f32[B, 3, 64, 64]"  # the real images take D's input type
    trainer = Trainer(spec, None, Options(out=tmp_path / "run", progress=False, echo=lambda s: None))
    before = {a: [p.detach().clone() for p in m.parameters()] for a, m in trainer.models.items()}
    report = trainer.run()
    assert len(report.steps) == 2 and {"train_loss_D", "train_loss_G"} <= set(report.history[-1])
    for alias, model in trainer.models.items():
        assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), before[alias])), alias
