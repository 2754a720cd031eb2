"""netc/weights.py: state_dicts in safetensors and torch files, loaded without unpickling code, and used for
`netc export --weights`, `netc verify --target onnx --weights` and a train section's `init:`."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import netc
from netc.cli import main
from netc.weights import WeightsError, load_arrays, load_tensors, save

from .conftest import SAMPLES

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")


def _module():  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return netc.build(SAMPLES / "mnist_mlp.net")().eval()


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    state = _module().state_dict()
    save(state, tmp_path / f"w{suffix}")
    back = load_tensors(tmp_path / f"w{suffix}")
    assert list(back) == list(state)
    for k in state:
        torch.testing.assert_close(back[k], state[k], rtol=0, atol=0)
    arrays = load_arrays(tmp_path / f"w{suffix}")
    np.testing.assert_array_equal(arrays["fc1.weight"], state["fc1.weight"].numpy())


def test_safetensors_loads_without_torch_objects(tmp_path: Path) -> None:
    """load_arrays reads .safetensors with the NumPy API: plain arrays, no tensors involved."""
    save({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, tmp_path / "a.safetensors")
    arrays = load_arrays(tmp_path / "a.safetensors")
    assert type(arrays["a"]) is np.ndarray and arrays["a"].shape == (2, 3)


def test_tied_weights_are_saved_as_copies(tmp_path: Path) -> None:
    module = netc.build(SAMPLES / "gpt2.net", overrides={"vocab": 40, "ctx": 8, "d": 16, "layers": 1,
                                                         "heads": 2})()
    state = module.state_dict()
    assert state["lm_head.weight"].data_ptr() == state["transformer.wte.weight"].data_ptr()
    save(state, tmp_path / "gpt.safetensors")  # safetensors refuses shared memory; we write copies
    back = load_tensors(tmp_path / "gpt.safetensors")
    module.load_state_dict(back, strict=True)
    assert module.lm_head.weight is module.transformer.wte.weight  # the module ties them again


class Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"fc1.weight": torch.zeros(1), "x": Evil()}, path)
    with pytest.raises(WeightsError, match="without unpickling code"):
        load_tensors(path)
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(WeightsError):
        load_tensors(path)


def test_not_a_state_dict(tmp_path: Path) -> None:
    torch.save({"a": 1}, tmp_path / "n.pt")
    with pytest.raises(WeightsError, match="does not hold a state_dict"):
        load_tensors(tmp_path / "n.pt")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="cannot read"):
        load_arrays(tmp_path / "bad.safetensors")


def test_netc_checkpoint_and_wrappers(tmp_path: Path) -> None:
    state = _module().state_dict()
    torch.save({"format": "netc-train-1", "models": {"MnistMLP": state}, "epoch": 3}, tmp_path / "c.pt")
    assert list(load_tensors(tmp_path / "c.pt", "MnistMLP")) == list(state)
    torch.save({"state_dict": state}, tmp_path / "s.pt")
    assert list(load_tensors(tmp_path / "s.pt")) == list(state)


def test_export_with_safetensors_weights_agrees_with_torch(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    module = _module()
    save(module.state_dict(), tmp_path / "w.safetensors")
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "mnist_mlp.net"), "--weights",
                                       str(tmp_path / "w.safetensors"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(0).standard_normal((3, 784)).astype(np.float32)
    (got,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with torch.no_grad():
        want = module(torch.from_numpy(x))
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=1.3e-6, atol=1e-5)
    # The same check through `netc verify --target onnx --weights`.
    result = CliRunner().invoke(main, ["verify", str(SAMPLES / "mnist_mlp.net"), "--target", "onnx", "--weights",
                                       str(tmp_path / "w.safetensors")])
    assert result.exit_code == 0 and "onnxruntime agrees with torch" in result.output


def test_train_init_from_safetensors(tmp_path: Path) -> None:
    from netc.train import prepare

    torch.manual_seed(5)
    start = netc.build(SAMPLES / "digits_mlp.net")().state_dict()
    save(start, tmp_path / "start.safetensors")
    text = (SAMPLES / "digits_mlp.net").read_text().replace(
        "    epochs: 30\n", "    epochs: 1\n    init: \"start.safetensors\"\n    freeze: [fc1]\n")
    (tmp_path / "d.net").write_text(text)
    run = prepare(tmp_path / "d.net", out=tmp_path / "run", progress=False, echo=lambda s: None)
    try:
        run.run()
    finally:
        run.engine.close()
    (model,) = run.models.values()
    # fc1 is frozen, so it still holds the file's values; fc2 started from them and trained.
    torch.testing.assert_close(model.fc1.weight.detach(), start["fc1.weight"], rtol=0, atol=0)
    assert not torch.equal(model.fc2.weight.detach(), start["fc2.weight"])


def test_export_weights_as_safetensors(tmp_path: Path) -> None:
    """`netc export --format safetensors` turns a torch checkpoint into a safetensors state_dict, in torch's order."""
    state = _module().state_dict()
    torch.save({"format": "netc-train-1", "models": {"MnistMLP": state}}, tmp_path / "ckpt.pt")
    out = tmp_path / "w.safetensors"
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "mnist_mlp.net"), "--format", "safetensors",
                                       "--weights", str(tmp_path / "ckpt.pt"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = load_tensors(out)
    assert list(back) == list(state)
    for k in state:
        assert torch.equal(back[k], state[k])
    result = CliRunner().invoke(main, ["export", str(SAMPLES / "mnist_mlp.net"), "--format", "safetensors",
                                       "--quantize", "dynamic"])
    assert result.exit_code == 2 and "only ONNX models are quantized" in result.output
