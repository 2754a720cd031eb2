"""The generative samples train from a `train` section: samples/vae.net (the PyTorch examples' VAE) on the
digits scaled up to its 28x28 input, with the example's loss, reconstruction BCE summed plus the KL term."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from netc.train import load_spec, prepare  # noqa: E402
from netc.train.data import load_digits  # noqa: E402

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
    trainer = prepare(net, out=tmp_path / "run", progress=False, echo=lambda s: None, tensorboard=False)
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
    trainer = prepare(net, out=tmp_path / "run", progress=False, echo=lambda s: None, tensorboard=False)
    before = {a: [p.detach().clone() for p in m.parameters()] for a, m in trainer.models.items()}
    report = trainer.run()
    assert len(report.steps) == 2 and {"train_loss_D", "train_loss_G"} <= set(report.history[-1])
    for alias, model in trainer.models.items():
        assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), before[alias])), alias


def _with_train_sections() -> list[str]:
    files = [*SAMPLES.glob("*.net"), *SAMPLES.glob("transfer/*.net")]
    return sorted(str(p.relative_to(SAMPLES).with_suffix("")) for p in files
                  if any(line.startswith("train ") for line in p.read_text().splitlines()))


def test_every_sample_section_trains_the_same_from_netc_train_and_from_its_script(tmp_path: Path) -> None:
    """Each sample with a `train` section, two steps of it: `netc train` and the module `netc compile` writes
    (run as a script) take the same steps, bit for bit. A copy of samples/ beside netc/train/data, so the
    char GPT finds its text and the transfer sample finds LeNet-5's checkpoint where its `init` says."""
    import json
    import shutil
    import subprocess
    import sys

    from click.testing import CliRunner

    from netc.cli import main

    names = _with_train_sections()
    assert {"digits_mlp", "lenet5", "vae", "dcgan", "char_gpt", "transfer/finetune"} <= set(names)
    repo = tmp_path / "repo"  # not beside the scripts: its netc/ folder would shadow the package
    shutil.copytree(SAMPLES, repo / "samples", ignore=shutil.ignore_patterns("errors"))
    shutil.copytree(SAMPLES.parent / "netc" / "train" / "data", repo / "netc" / "train" / "data")
    flags = ["--stop-after", "2", "--no-progress", "--no-tensorboard", "--threads", "1"]
    for name in ["lenet5", *[n for n in names if n != "lenet5"]]:  # transfer starts from lenet5's weights
        net = repo / "samples" / f"{name}.net"
        out = repo / "runs" / ("LeNet5" if name == "lenet5" else name)
        # the transfer sample imports ../lenet5.net, outside its own folder: name samples/ as an import path
        roots = ["--import-path", str(repo / "samples")]
        result = CliRunner().invoke(main, [*roots, "train", str(net), "--out", str(out), *flags])
        assert result.exit_code == 0, (name, result.output)
        script = tmp_path / f"{name.replace('/', '_')}.py"
        compiled = CliRunner().invoke(main, [*roots, "compile", str(net), "-o", str(script)])
        assert compiled.exit_code == 0, (name, compiled.output)
        done = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "script" / name), *flags],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (name, done.stderr[-3000:])
        a = json.loads((out / "metrics.json").read_text())
        b = json.loads((tmp_path / "script" / name / "metrics.json").read_text())
        assert len(a["steps"]) == 2 and a["steps"] == b["steps"], name
