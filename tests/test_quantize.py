"""`netc export --quantize dynamic|static`: int8 models that onnxruntime runs, smaller than float32, and within one
point of the float32 model's test accuracy on the digits MLP trained by its own train section."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from netc.cli import main
from netc.train import prepare
from netc.train.data import load as load_data
from netc.weights import save

from .conftest import SAMPLES

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, {"x": x})
    return float((logits.argmax(-1) == y).mean())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    tmp = tmp_path_factory.mktemp("digits")
    torch.manual_seed(0)
    run = prepare(SAMPLES / "digits_mlp.net", out=tmp / "run", progress=False, echo=lambda s: None)
    try:
        report = run.run()
    finally:
        run.engine.close()
    weights = tmp / "digits.safetensors"
    save(run.models["DigitsMLP"].state_dict(), weights)  # the weights the test metrics were taken with
    return weights, report.test["test_accuracy"]


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_quantized_digits_mlp_keeps_its_accuracy(trained: tuple[Path, float], mode: str, tmp_path: Path) -> None:
    weights, torch_accuracy = trained
    run = prepare(SAMPLES / "digits_mlp.net", progress=False, echo=lambda s: None)
    run.engine.close()
    section = run.recipe.section
    part = load_data(section).test
    assert part is not None
    x, y = part.rows(np.arange(len(part)))
    test = type("Test", (), {"x": x, "y": y})
    paths = {}
    for m in (None, mode):
        out = tmp_path / f"{m or 'float32'}.onnx"
        args = ["export", str(SAMPLES / "digits_mlp.net"), "--weights", str(weights), "-o", str(out)]
        result = CliRunner().invoke(main, args + (["--quantize", m] if m else []))
        assert result.exit_code == 0, result.output
        paths[m] = out
    fp32 = _accuracy(paths[None], test.x, test.y)
    int8 = _accuracy(paths[mode], test.x, test.y)
    assert fp32 == pytest.approx(torch_accuracy, abs=1e-6)  # the trained network (torchmetrics: float32)
    assert abs(int8 - fp32) <= 0.01
    assert paths[mode].stat().st_size < 0.5 * paths[None].stat().st_size
    ops = {n.op_type for n in onnx.load(str(paths[mode])).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "QuantizeLinear", "QLinearMatMul"}, ops


def test_static_quantization_needs_a_train_section(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "mnist_mlp.net"), "--quantize", "static",
                                       "-o", str(tmp_path / "l.onnx")])
    assert result.exit_code == 1
    assert "no `train` section trains MnistMLP" in result.output
    assert not (tmp_path / "l.onnx").exists()


def test_dynamic_quantization_without_train_section(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "lenet5.net"), "--quantize", "dynamic",
                                       "-o", str(tmp_path / "l.onnx")])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    (y,) = ort.InferenceSession(str(tmp_path / "l.onnx"), providers=["CPUExecutionProvider"]).run(None, {"img": x})
    assert y.shape == (2, 10) and np.isfinite(y).all()
