"""`netc compile --target torch` writes each `train` section as a Recipe after the networks, and the module
trains as a script: the code passes ruff, imports, and gives exactly what `netc train` gives (one trainer)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402

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


def script(path: Path, out: Path, *args: str) -> dict:
    """Run a generated module as the script it is; returns its metrics.json."""
    done = subprocess.run([sys.executable, str(path), "--out", str(out), "--no-progress", "--no-tensorboard",
                           "--threads", "1", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


def test_the_script_and_netc_train_are_the_same_training(tmp_path: Path) -> None:
    sample = SAMPLES / "digits_mlp.net"
    module, _ = compile_to(sample, tmp_path / "digits.py")
    assert set(module.RECIPES) == {"DigitsMLP"} and issubclass(module.RECIPES["DigitsMLP"], module.Recipe)
    from_script = script(tmp_path / "digits.py", tmp_path / "a", "--epochs", "3")
    cli = CliRunner().invoke(main, ["train", str(sample), "--epochs", "3", "--out", str(tmp_path / "b"),
                                    "--no-progress", "--no-tensorboard", "--threads", "1"])
    assert cli.exit_code == 0, cli.output
    from_cli = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert from_script["steps"] == from_cli["steps"]  # every step's loss, bit for bit
    assert from_script["history"][-1]["val_accuracy"] == from_cli["history"][-1]["val_accuracy"] > 0.7  # chance: 0.1
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["models"]["DigitsMLP"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["models"]["DigitsMLP"]
    assert all(torch.equal(a[k], b[k]) for k in a)


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


def test_gan_and_vae_recipes_train_from_the_script(tmp_path: Path) -> None:
    net = tmp_path / "gen.net"
    net.write_text(GAN_VAE)
    module, _ = compile_to(net, tmp_path / "gen.py")
    assert set(module.RECIPES) == {"gan", "vae"}
    gan = script(tmp_path / "gen.py", tmp_path / "gan", "--name", "gan")
    assert len(gan["steps"]) == 4 and {"train_loss_D", "train_loss_G"} <= set(gan["history"][-1])
    vae = script(tmp_path / "gen.py", tmp_path / "vae", "--name", "vae")
    assert vae["history"][-1]["val_loss"] < vae["history"][0]["val_loss"]
    weights = torch.load(tmp_path / "vae" / "last.pt", weights_only=True)["models"]["Vae"]
    assert weights["fc_mu.weight"].shape == (3, 32)  # the section's network argument
    torch.manual_seed(0)
    assert torch.equal(weights["fc1.weight"], module.Vae(z=3).fc1.weight)  # frozen: the seeded initial weights
    recipe = module.RECIPES["vae"]()
    models = recipe.networks()
    groups = recipe.optimizers(models)["Vae"].param_groups
    assert {g["name"]: g["lr"] for g in groups} == {"default": 3e-3, "fc_out": 1e-3}


def test_a_section_over_imported_networks_is_written_out_with_them(tmp_path: Path) -> None:
    (tmp_path / "nets.net").write_text(GAN_VAE.split("train gan")[0])
    main_file = tmp_path / "main.net"
    main_file.write_text('import "nets.net"\nnetwork Copy {\n input x: f32[B, 64]\n x -> Linear(2) as fc -> y\n'
                         ' output y\n}\ntrain vae(Vae) {\n    data: digits\n    loss: mse(recon, x)\n'
                         '    optimizer: Adam()\n    epochs: 1\n}\n')
    module, _ = compile_to(main_file, tmp_path / "main.py")
    assert hasattr(module, "Vae") and set(module.RECIPES) == {"vae"}
    log = script(tmp_path / "main.py", tmp_path / "run")
    assert len(log["history"]) == 1


def test_user_names_are_made_safe(tmp_path: Path) -> None:
    net = tmp_path / "names.net"
    net.write_text("network N {\n input x: f32[B, 64]\n x -> Linear(10) as fc -> models\n output models\n}\n"
                   "train step(N) {\n    data: digits\n    loss: cross_entropy(models)\n    optimizer: SGD(0.1)\n"
                   "    epochs: 1\n}\n")
    module, _ = compile_to(net, tmp_path / "names.py")
    assert set(module.RECIPES) == {"step"}
    log = script(tmp_path / "names.py", tmp_path / "run")  # the output `models` must not clobber the argument
    assert log["history"][-1]["val_loss"] < 2.3
