"""The generative samples against hand-written PyTorch modules (the oracles, written here from the published code).

* samples/vae.net: pytorch/examples vae/main.py (652,824 parameters);
* samples/dcgan.net: pytorch/examples dcgan/main.py, Generator 3,576,704 and Discriminator 2,765,568;
* samples/conv_autoencoder.net: three networks that use one another (counts derived by hand below);
* samples/unet.net: milesial/Pytorch-UNet's modules, without the padding in `Up` (netc requires H and W to be
  multiples of 16 instead, see test_gen_unet.py).

For each: the parameter count, the state_dict layout (keys, shapes, order), and the output of the generated
torch module after loading the hand-written module's state_dict with strict=True. The NumPy backend is
compared with the torch one by `netc verify` on each sample, with the VAE's noise passed as a fixed input.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import netc
from netc.cli import main
from netc.codegen import get_backend
from netc.dsl.compiler import compile_source
from netc.dsl.source import Source

from .conftest import SAMPLES

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


# -- the oracles ---------------------------------------------------------------------------------------------
class ExamplesVAE(nn.Module):
    """pytorch/examples vae/main.py, with the sizes as arguments."""

    def __init__(self, pixels: int = 784, hidden: int = 400, latent: int = 20) -> None:
        super().__init__()
        self.pixels = pixels
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, pixels)

    def encode(self, x):  # type: ignore[no-untyped-def]
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):  # type: ignore[no-untyped-def]
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):  # type: ignore[no-untyped-def]
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):  # type: ignore[no-untyped-def]
        mu, logvar = self.encode(x.view(-1, self.pixels))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class DCGANGenerator(nn.Module):
    """pytorch/examples dcgan/main.py (nz=100, ngf=64, nc=3)."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.main(x)


class DCGANDiscriminator(nn.Module):
    """pytorch/examples dcgan/main.py (ndf=64, nc=3)."""

    def __init__(self, ndf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.main(x).view(-1, 1).squeeze(1)


class ConvEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 7)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.conv3(F.relu(self.conv2(F.relu(self.conv1(x)))))


class ConvDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.deconv1 = nn.ConvTranspose2d(64, 32, 7)
        self.deconv2 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1)
        self.deconv3 = nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1)

    def forward(self, z):  # type: ignore[no-untyped-def]
        return torch.sigmoid(self.deconv3(F.relu(self.deconv2(F.relu(self.deconv1(z))))))


class ConvAutoencoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = ConvEncoder()
        self.decoder = ConvDecoder()

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.decoder(self.encoder(x))


# milesial/Pytorch-UNet unet/unet_parts.py and unet_model.py; `Up` without F.pad (sizes are multiples of 16).
class DoubleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        super().__init__()
        if not mid_channels:
            mid_channels = out_channels
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
        )

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.double_conv(x)


class Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.maxpool_conv(x)


class Up(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bilinear: bool = True) -> None:
        super().__init__()
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):  # type: ignore[no-untyped-def]
        x1 = self.up(x1)
        return self.conv(torch.cat([x2, x1], dim=1))


class OutConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels: int = 3, n_classes: int = 2, bilinear: bool = False, base: int = 64) -> None:
        super().__init__()
        factor = 2 if bilinear else 1
        self.inc = DoubleConv(n_channels, base)
        self.down1 = Down(base, base * 2)
        self.down2 = Down(base * 2, base * 4)
        self.down3 = Down(base * 4, base * 8)
        self.down4 = Down(base * 8, base * 16 // factor)
        self.up1 = Up(base * 16, base * 8 // factor, bilinear)
        self.up2 = Up(base * 8, base * 4 // factor, bilinear)
        self.up3 = Up(base * 4, base * 2 // factor, bilinear)
        self.up4 = Up(base * 2, base, bilinear)
        self.outc = OutConv(base, n_classes)

    def forward(self, x):  # type: ignore[no-untyped-def]
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


# -- what to compare ---------------------------------------------------------------------------------------
UNET = SAMPLES / "unet.net"
UNET_BILINEAR = UNET.read_text(encoding="utf-8").replace("bilinear: bool = false, base", "bilinear: bool = true, base")


def _result(sample: str, network: str):  # type: ignore[no-untyped-def]
    if sample == "unet_bilinear":
        return compile_source(Source("unet_bilinear.net", UNET_BILINEAR), None, network)
    return netc.check(SAMPLES / f"{sample}.net", network=network)


# (sample, network, oracle, expected parameters or None, example input shape)
# Expected counts: the reference README for the examples; the autoencoder's by hand (weights + biases):
# encoder 1*16*9+16 + 16*32*9+32 + 32*64*49+64 = 105,216; decoder 64*32*49+32 + 32*16*9+16 + 16*1*9+1 = 105,153.
CASES: list[tuple[str, str, Callable[[], nn.Module], int | None, tuple[int, ...]]] = [
    ("vae", "VAE", ExamplesVAE, 652_824, (3, 1, 28, 28)),
    ("dcgan", "Generator", DCGANGenerator, 3_576_704, (2, 100, 1, 1)),
    ("dcgan", "Discriminator", DCGANDiscriminator, 2_765_568, (2, 3, 64, 64)),
    ("conv_autoencoder", "Encoder", ConvEncoder, 105_216, (2, 1, 28, 28)),
    ("conv_autoencoder", "Decoder", ConvDecoder, 105_153, (2, 64, 1, 1)),
    ("conv_autoencoder", "Autoencoder", ConvAutoencoder, 210_369, (2, 1, 28, 28)),
    ("unet", "UNet", UNet, None, (1, 3, 32, 48)),
    ("unet_bilinear", "UNet", lambda: UNet(bilinear=True), None, (1, 3, 48, 32)),
]
IDS = [f"{s}-{n}" for s, n, *_ in CASES]


def _randomised(make: Callable[[], nn.Module]) -> nn.Module:
    """The oracle with non-trivial BatchNorm statistics, in eval mode (so BatchNorm uses them)."""
    torch.manual_seed(0)
    model = make()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize(("sample", "network", "make", "expected", "shape"), CASES, ids=IDS)
def test_parameter_count(sample: str, network: str, make: Callable[[], nn.Module], expected: int | None,
                         shape: tuple[int, ...]) -> None:
    graph = _result(sample, network).graphs[network]
    torch_count = sum(p.numel() for p in make().parameters())
    assert graph.num_params == torch_count
    if expected is not None:
        assert graph.num_params == expected


@pytest.mark.parametrize(("sample", "network", "make", "expected", "shape"), CASES, ids=IDS)
def test_state_dict_layout(sample: str, network: str, make: Callable[[], nn.Module], expected: int | None,
                           shape: tuple[int, ...]) -> None:
    graph = _result(sample, network).graphs[network]
    ours = [(e.key, tuple(e.shape)) for e in graph.state_dict()]
    theirs = [(k, tuple(v.shape)) for k, v in make().state_dict().items()]
    assert ours == theirs


@pytest.mark.parametrize(("sample", "network", "make", "expected", "shape"), CASES, ids=IDS)
def test_generated_torch_matches_the_oracle(sample: str, network: str, make: Callable[[], nn.Module],
                                            expected: int | None, shape: tuple[int, ...]) -> None:
    oracle = _randomised(make)
    generated = get_backend("torch").build(_result(sample, network), network=network)().eval()
    generated.load_state_dict(oracle.state_dict(), strict=True)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        if network == "VAE":
            # The example draws eps with randn_like inside forward; the same seed gives the same eps, which
            # the generated module takes as its explicit optional input.
            torch.manual_seed(7)
            want = oracle(x)
            torch.manual_seed(7)
            eps = torch.randn(shape[0], 20)
            got = generated(x, eps)
        else:
            want, got = oracle(x), generated(x)
    torch.testing.assert_close(got, want)


def test_vae_samples_like_the_example_when_eps_is_left_out() -> None:
    """Without `eps`, the generated VAE draws it in forward: with the same seed, the example's randn_like."""
    oracle = _randomised(ExamplesVAE)
    generated = netc.build(SAMPLES / "vae.net")().eval()
    generated.load_state_dict(oracle.state_dict(), strict=True)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        torch.manual_seed(3)
        want = oracle(x)
        torch.manual_seed(3)
        got = generated(x)
        torch.manual_seed(4)
        other = generated(x)
    torch.testing.assert_close(got, want)
    assert not torch.allclose(other[0], want[0])  # the noise is really drawn, not fixed


def test_vae_latent_size_is_a_parameter_of_the_generated_class() -> None:
    """The noise the generated forward draws follows the class argument, not the default it was compiled with."""
    oracle = _randomised(lambda: ExamplesVAE(latent=8))
    generated = netc.build(SAMPLES / "vae.net")(latent=8).eval()
    generated.load_state_dict(oracle.state_dict(), strict=True)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        torch.manual_seed(5)
        want = oracle(x)
        torch.manual_seed(5)
        got = generated(x)
    assert got[1].shape == (2, 8)
    torch.testing.assert_close(got, want)


def test_several_networks_compile_to_one_module_with_a_class_each() -> None:
    code = get_backend("torch").generate(netc.check(SAMPLES / "conv_autoencoder.net")).code
    classes = re.findall(r"^class (\w+)\(nn\.Module\):", code, flags=re.M)
    assert classes == ["Encoder", "Decoder", "Autoencoder"]
    autoencoder = code[code.index("class Autoencoder"):]
    assert "self.encoder = Encoder(" in autoencoder and "self.decoder = Decoder(" in autoencoder
    gan = get_backend("torch").generate(netc.check(SAMPLES / "dcgan.net")).code
    assert re.findall(r"^class (\w+)\(nn\.Module\):", gan, flags=re.M) == ["Generator", "Discriminator"]


# -- NumPy vs PyTorch: `netc verify` ---------------------------------------------------------------------------
# Narrow widths keep the NumPy side quick; the layouts are the samples' own.
VERIFY = [
    ("vae.net", []),
    ("dcgan.net", ["--set", "ngf=8", "--set", "ndf=8"]),
    ("conv_autoencoder.net", []),
    ("unet.net", ["--set", "base=4", "--set", "H=32", "--set", "W=16"]),
]


@pytest.mark.parametrize(("name", "args"), VERIFY, ids=[n for n, _ in VERIFY])
def test_verify_passes(name: str, args: list[str], in_repo_root: Path) -> None:
    r = CliRunner().invoke(main, ["verify", f"samples/{name}", *args])
    assert r.exit_code == 0, r.output
    networks = re.findall(r"^ok: (\w+) agrees within tolerance$", r.output, flags=re.M)
    assert networks == list(netc.check(SAMPLES / name).networks)
    if name == "vae.net":
        assert "inputs: x f32[2, 1, 28, 28], eps f32[2, 20]" in r.output  # the noise is a fixed input


def test_verify_passes_for_the_bilinear_unet(tmp_path: Path) -> None:
    path = tmp_path / "unet_bilinear.net"
    path.write_text(UNET_BILINEAR, encoding="utf-8")
    r = CliRunner().invoke(main, ["verify", str(path), "--set", "base=4", "--set", "H=16", "--set", "W=48"])
    assert r.exit_code == 0, r.output
    assert "up1.up" in r.output and "Upsample" in r.output


def test_verify_refuses_noise_drawn_inside_a_block(tmp_path: Path) -> None:
    """Each backend would draw its own noise: verify says so instead of reporting a divergence."""
    path = tmp_path / "inner.net"
    path.write_text("block Noisy {\n    input x: f32[N, C]\n    input eps: f32[N, C] = randn\n    output x + eps\n}\n"
                    "network Outer {\n    input x: f32[B, 8]\n    x -> Noisy() as noisy -> y\n    output y\n}\n",
                    encoding="utf-8")
    r = CliRunner().invoke(main, ["verify", str(path)])
    assert r.exit_code == 1
    assert "`noisy` (eps) draws noise inside the network" in r.output


# -- diagrams ---------------------------------------------------------------------------------------------------
def test_diagrams_show_both_gan_networks_and_the_unet_skips(tmp_path: Path) -> None:
    gan = tmp_path / "dcgan.dot"
    r = CliRunner().invoke(main, ["viz", str(SAMPLES / "dcgan.net"), "-o", str(gan)])
    assert r.exit_code == 0, r.output
    text = gan.read_text(encoding="utf-8")
    assert "Generator" in text and "Discriminator" in text
    unet = tmp_path / "unet.dot"
    r = CliRunner().invoke(main, ["viz", str(SAMPLES / "unet.net"), "-o", str(unet), "--depth", "1"])
    assert r.exit_code == 0, r.output
    edges = re.findall(r'^\s*"([^"]+)" -> "([^"]+)"', unet.read_text(encoding="utf-8"), flags=re.M)
    # Each decoder level concatenates the output of the encoder level with the same size.
    for level, skip in (("up1", "down3"), ("up2", "down2"), ("up3", "down1"), ("up4", "inc")):
        assert any(skip in a and level in b and "concat" in b for a, b in edges), (level, skip, edges)
