"""Generated ResNet-18 and VGG-11-BN against hand-written torch models of the same architecture.

The reference models below are written by hand here, after torchvision's code (torchvision itself cannot be
installed beside torch 2.13.0); they are not generated. Both models get the same state_dict (loaded with
strict=True, so names, order and shapes must agree), then forward passes (eval and train mode), gradients and
the updated BatchNorm statistics are compared. Small images keep it fast; VGG's adaptive pooling makes them fit.
"""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import netc  # noqa: E402

from .conftest import REFERENCE, SAMPLES  # noqa: E402


class RefBasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class RefResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (cin, cout, stride) in enumerate(widths, start=1):
            setattr(self, f"layer{i}", nn.Sequential(RefBasicBlock(cin, cout, stride), RefBasicBlock(cout, cout)))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class RefVGG11BN(nn.Module):
    CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, int(v), kernel_size=3, padding=1), nn.BatchNorm2d(int(v)),
                           nn.ReLU(inplace=True)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


CASES = {
    "resnet18": ("resnet18.net", RefResNet18, 32),
    "vgg11_bn": ("vgg11_bn.net", RefVGG11BN, 32),
}


def _close(a: torch.Tensor, b: torch.Tensor, msg: str = "") -> None:
    """Both models run the same kernels in the same order, so results are normally bit-identical; the
    tolerance check (torch.testing defaults) only runs when they are not, which keeps the 100M-element VGG
    gradients cheap to compare."""
    if not torch.equal(a, b):
        torch.testing.assert_close(a, b, msg=msg or None)


def _randomise_running_stats(model: nn.Module) -> None:
    """Fresh BatchNorm statistics are 0 and 1, which would hide a mix-up between layers; make them distinct."""
    g = torch.Generator().manual_seed(7)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.fixture(scope="module", params=sorted(CASES))
def pair(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module, int]:
    sample, ref_cls, size = CASES[request.param]
    torch.manual_seed(0)
    generated = netc.build(SAMPLES / sample)()
    with torch.no_grad():
        _randomise_running_stats(generated)
    reference = ref_cls()
    reference.load_state_dict(generated.state_dict(), strict=True)
    return request.param, generated, reference, size


def test_state_dict_matches_torchvision_layout(pair: tuple[str, nn.Module, nn.Module, int]) -> None:
    name, generated, _, _ = pair
    ref = json.loads((REFERENCE / f"{name}_state_dict.json").read_text())
    ours = [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in generated.state_dict().items()]
    theirs = [(e["key"], e["shape"], e["dtype"]) for e in ref["state_dict"]]
    assert ours == theirs
    assert sum(p.numel() for p in generated.parameters()) == ref["total_parameters"]


def test_eval_forward_matches(pair: tuple[str, nn.Module, nn.Module, int]) -> None:
    _, generated, reference, size = pair
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    generated.eval()
    reference.eval()
    with torch.no_grad():
        _close(generated(x), reference(x))


def test_train_forward_gradients_and_statistics_match(pair: tuple[str, nn.Module, nn.Module, int]) -> None:
    _, generated, reference, size = pair
    reference.load_state_dict(generated.state_dict(), strict=True)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    weight = torch.randn(2, 1000, generator=torch.Generator().manual_seed(3))
    outs = []
    for model in (generated, reference):
        model.train()
        model.zero_grad(set_to_none=True)
        torch.manual_seed(11)  # the same dropout masks in both
        y = model(x)
        (y * weight).sum().backward()
        outs.append(y.detach())
    _close(outs[0], outs[1])
    ref_params = dict(reference.named_parameters())
    for name, p in generated.named_parameters():
        assert p.grad is not None, name
        _close(p.grad, ref_params[name].grad, f"gradient of {name}")
    ref_state = reference.state_dict()
    for key, value in generated.state_dict().items():  # running statistics after one training step
        _close(value, ref_state[key], key)
