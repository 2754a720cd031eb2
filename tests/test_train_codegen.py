"""`netc compile --target torch` writes each `train` section's loop after the networks: the code passes ruff,
imports, and trains (the digits network past 90% test accuracy in a few epochs; the GAN and the VAE run)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402
from netc.train import load_spec  # noqa: E402
from netc.train.data import load  # noqa: E402

from .conftest import SAMPLES  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread() -> object:
    # These networks are tiny: torch's worker threads only slow them down on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def compile_to(path: Path, out: Path) -> tuple[ModuleType, str]:
    result = CliRunner().invoke(main, ["compile", str(path), "--target", "torch", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--line-length",
                           "120", "--select", "E,F,W,I,B,UP", "--ignore", "E501,B905", str(out)],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    spec = importlib.util.spec_from_file_location(f"gen_{out.stem}", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, result.stderr


def tensors(net: Path, name: str | None = None) -> tuple[torch.Tensor, ...]:
    splits = load(load_spec(net, name))
    parts = [splits.train, splits.val or splits.train, splits.test or splits.val or splits.train]
    out: list[torch.Tensor] = []
    for part in parts:
        out += [torch.as_tensor(part.x), torch.as_tensor(part.y) if part.y is not None else None]
    return tuple(out)


def test_digits_loop_trains(tmp_path: Path) -> None:
    sample = SAMPLES / "digits_mlp.net"
    module, _ = compile_to(sample, tmp_path / "digits.py")
    x, y, xv, yv, xt, yt = tensors(sample)
    models = module.train_digits_mlp(x, y, xv, yv, epochs=10)
    model = models["DigitsMLP"].eval()
    with torch.no_grad():
        accuracy = float((model(xt).argmax(1) == yt).float().mean())
    assert accuracy > 0.9


GAN_VAE = """
network Gen(nz: int = 8) {
    input z: f32[B, nz]
    z -> Linear(64) as fc -> sigmoid -> view(B, 1, 8, 8) -> img
    output img
}
network Disc {
    input img: f32[B, 1, 8, 8]
    img -> flatten(1) -> Linear(16) as fc1 -> leaky_relu(0.2) -> Linear(1) as fc2 -> logit
    output logit
}
network Vae(z: int = 4) {
    input x: f32[B, 64]
    input eps: f32[B, z] = randn
    h = x -> Linear(32) as fc1 -> relu
    mu = h -> Linear(z) as fc_mu
    logvar = h -> Linear(z) as fc_logvar
    sample = mu + exp(logvar * 0.5) * eps
    recon = sample -> Linear(64) as fc_out -> sigmoid
    output recon, mu, logvar
}
train gan(Gen as G, Disc as D) {
    data: digits(val=0.0, test=0.0)
    noise z: normal(f32[B, 8])
    loss D: bce_with_logits(D(x), 1) + bce_with_logits(D(detach(G(z))), 0)
    loss G: bce_with_logits(D(G(z)), 1)
    optimizer D: Adam(lr=2e-3, betas=(0.5, 0.999))
    optimizer G: Adam(lr=2e-3, betas=(0.5, 0.999))
    batch: 256
    steps: 4
}
train vae(Vae(z=3)) {
    data: digits(val=0.2, test=0.0)
    loss: bce(recon, x, reduction="sum") + kl_normal(mu, logvar)
    optimizer: Adam(lr=3e-3)
    lr fc_out: 1e-3
    freeze: [fc1]
    schedule: one_cycle(1e-2)
    clip_norm: 10.0
    l1: 1e-6
    batch: 128
    epochs: 2
}
"""


def test_gan_and_vae_loops_run(tmp_path: Path) -> None:
    net = tmp_path / "gen.net"
    net.write_text(GAN_VAE)
    module, _ = compile_to(net, tmp_path / "gen.py")
    x, _, *_ = tensors(net, "gan")
    torch.manual_seed(0)
    gan = module.train_gan(x)
    assert set(gan) == {"G", "D"} and isinstance(gan["G"], torch.nn.Module)
    x, _, xv, _, _, _ = tensors(net, "vae")
    vae = module.train_vae(x, None, xv, None)["Vae"]
    assert vae.fc_mu.out_features == 3  # the section's network argument
    fresh = module.Vae(z=3)
    assert torch.equal(vae.fc1.weight, _seeded_fc1(module))  # frozen: still the seeded initial weights
    assert not torch.equal(vae.fc_out.weight, fresh.fc_out.weight)


def _seeded_fc1(module: ModuleType) -> torch.Tensor:
    torch.manual_seed(0)
    return module.Vae(z=3).fc1.weight


def test_a_section_over_imported_networks_is_left_to_netc_train(tmp_path: Path) -> None:
    (tmp_path / "nets.net").write_text(GAN_VAE.split("train gan")[0])
    main_file = tmp_path / "main.net"
    main_file.write_text('import "nets.net"\nnetwork Copy {\n input x: f32[B, 64]\n x -> Linear(2) as fc -> y\n'
                         ' output y\n}\ntrain vae(Vae) {\n    loss: mse(recon, x)\n    optimizer: Adam()\n'
                         '    epochs: 1\n}\n')
    module, stderr = compile_to(main_file, tmp_path / "main.py")
    assert not hasattr(module, "train_vae")
    assert "train vae: not written out, its network Vae is imported" in stderr


def test_user_names_are_made_safe(tmp_path: Path) -> None:
    net = tmp_path / "names.net"
    net.write_text("network N {\n input x: f32[B, 64]\n x -> Linear(10) as fc -> loss\n output loss\n}\n"
                   "train step(N) {\n    data: digits\n    loss: cross_entropy(loss)\n    optimizer: SGD(0.1)\n"
                   "    epochs: 1\n}\n")
    module, _ = compile_to(net, tmp_path / "names.py")
    x, y, xv, yv, _, _ = tensors(net)
    models = module.train_step(x, y, xv, yv)  # the output `loss` must not clobber the loop's own `loss`
    assert isinstance(models["N"], torch.nn.Module)
