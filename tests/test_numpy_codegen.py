"""The generated NumPy code: standalone, ruff-clean, keyed like torch's state_dict, and numerically torch's.

The numerical oracles are written by hand from the papers' and torchvision's architecture with
torch.nn.functional, independent of netc's torch backend: an MLP, LeNet-5 and ResNet-18.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - the usual spelling

import netc
from netc.codegen import numpy_ref
from netc.verify import random_state

from .conftest import REFERENCE, ROOT, SAMPLES

ALL_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.net"))


def generated(sample: str, **kw: object) -> str:
    return numpy_ref.generate(netc.check(SAMPLES / sample), source_path=f"samples/{sample}", **kw).code


@pytest.mark.parametrize("guards", [False, True])
@pytest.mark.parametrize("sample", ALL_SAMPLES)
def test_generated_code_is_ruff_clean_and_imports_only_numpy(sample: str, guards: bool) -> None:
    code = generated(sample, guards=guards)
    tree = ast.parse(code)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"numpy", "__future__"}, imported
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", "generated.py",
                           "-"], input=code, text=True, capture_output=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_file_holds_only_the_kernels_it_uses() -> None:
    code = generated("mnist_mlp.net")
    defined = {n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)}
    assert defined == {"linear", "relu", "softmax"}
    assert "KERNELS" not in code


def test_the_generated_file_runs_standalone(tmp_path: object) -> None:
    """Written to disk and imported in a fresh interpreter, with netc nowhere on the path."""
    path = tmp_path / "lenet.py"  # type: ignore[operator]
    path.write_text(generated("lenet5.net"))
    script = ("import sys; sys.modules['netc'] = None\n"
              "import numpy as np, lenet\n"
              "m = lenet.LeNet5({k: np.ones(s, dtype=d) for k, (s, d) in lenet.LeNet5.STATE.items()})\n"
              "print(m(np.zeros((2, 1, 32, 32))).shape)")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 10)"


@pytest.mark.parametrize("sample,reference", [("resnet18.net", "resnet18"), ("vgg11_bn.net", "vgg11_bn")])
def test_state_table_is_torchvisions(sample: str, reference: str) -> None:
    ref = json.loads((REFERENCE / f"{reference}_state_dict.json").read_text())
    cls = numpy_ref.build(netc.check(SAMPLES / sample))
    assert [(k, list(s), d) for k, (s, d) in cls.STATE.items()] == \
        [(e["key"], e["shape"], e["dtype"]) for e in ref["state_dict"]]


# -- numbers against hand-written torch ------------------------------------------------------------------------
def _bn(x: torch.Tensor, s: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    return F.batch_norm(x, s[key + ".running_mean"], s[key + ".running_var"], s[key + ".weight"],
                        s[key + ".bias"], training=False, eps=1e-5)


def mnist_mlp(s: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(F.linear(F.relu(F.linear(x, s["fc1.weight"], s["fc1.bias"])), s["fc2.weight"],
                                  s["fc2.bias"]), -1)


def lenet5(s: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = F.avg_pool2d(torch.tanh(F.conv2d(x, s["c1.weight"], s["c1.bias"])), 2)
    x = F.avg_pool2d(torch.tanh(F.conv2d(x, s["c3.weight"], s["c3.bias"])), 2).flatten(1)
    x = torch.tanh(F.linear(x, s["f5.weight"], s["f5.bias"]))
    x = torch.tanh(F.linear(x, s["f6.weight"], s["f6.bias"]))
    return F.linear(x, s["output_layer.weight"], s["output_layer.bias"])


def resnet18(s: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """torchvision's ResNet-18 forward, BasicBlock by BasicBlock."""
    x = F.max_pool2d(F.relu(_bn(F.conv2d(x, s["conv1.weight"], stride=2, padding=3), s, "bn1")), 3, 2, 1)
    for layer, first_stride in zip(range(1, 5), (1, 2, 2, 2)):
        for block in range(2):
            pre, stride = f"layer{layer}.{block}.", first_stride if block == 0 else 1
            y = F.relu(_bn(F.conv2d(x, s[pre + "conv1.weight"], stride=stride, padding=1), s, pre + "bn1"))
            y = _bn(F.conv2d(y, s[pre + "conv2.weight"], padding=1), s, pre + "bn2")
            if pre + "downsample.0.weight" in s:
                x = _bn(F.conv2d(x, s[pre + "downsample.0.weight"], stride=stride), s, pre + "downsample.1")
            x = F.relu(y + x)
    return F.linear(F.adaptive_avg_pool2d(x, 1).flatten(1), s["fc.weight"], s["fc.bias"])


ORACLES = {"mnist_mlp.net": (mnist_mlp, (3, 784)), "lenet5.net": (lenet5, (3, 1, 32, 32)),
           "resnet18.net": (resnet18, (1, 3, 224, 224))}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sample", sorted(ORACLES))
def test_sample_matches_hand_written_torch(sample: str, dtype: str) -> None:
    oracle, shape = ORACLES[sample]
    result = netc.check(SAMPLES / sample)
    rng = np.random.default_rng(1)
    state = random_state(next(iter(result.graphs.values())), rng)
    x = rng.standard_normal(shape).astype(dtype)
    ours = numpy_ref.build(result)(state, dtype=dtype)(x)
    tdtype = getattr(torch, dtype)
    theirs = oracle({k: torch.from_numpy(v).to(tdtype) for k, v in state.items()}, torch.from_numpy(x))
    assert ours.dtype == np.dtype(dtype)
    tol = {"rtol": 1e-7, "atol": 1e-7} if dtype == "float64" else {"rtol": 1.3e-6, "atol": 1e-5}
    torch.testing.assert_close(torch.from_numpy(ours), theirs, **tol)


# -- loading parameters ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lenet() -> tuple[type, dict[str, np.ndarray]]:
    result = netc.check(SAMPLES / "lenet5.net")
    return numpy_ref.build(result), random_state(result.graphs["LeNet5"], np.random.default_rng(0))


def test_npz_round_trip_and_torch_state_dicts(lenet: tuple[type, dict[str, np.ndarray]], tmp_path: object) -> None:
    cls, state = lenet
    x = np.random.default_rng(2).standard_normal((2, 1, 32, 32))
    model = cls(state)
    assert model.dtype == np.float32 and all(v.dtype == np.float32 for v in model.params.values())
    path = str(tmp_path / "lenet.npz")  # type: ignore[operator]
    model.save(path)
    np.testing.assert_array_equal(cls(path)(x), model(x))
    from_torch = cls({k: torch.from_numpy(v).float() for k, v in state.items()})  # a torch state_dict as is
    np.testing.assert_array_equal(from_torch(x), model(x))


def test_load_is_strict_about_keys_and_shapes(lenet: tuple[type, dict[str, np.ndarray]]) -> None:
    cls, state = lenet
    missing = {k: v for k, v in state.items() if k != "c1.bias"}
    with pytest.raises(KeyError, match=r"missing \['c1.bias'\]"):
        cls(missing)
    with pytest.raises(KeyError, match=r"unexpected \['extra'\]"):
        cls({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match=r"c1.weight: expected shape \(6, 1, 5, 5\), got \(6, 1, 5\)"):
        cls({**state, "c1.weight": np.zeros((6, 1, 5))})
    assert set(cls().load(missing, strict=False).params) == set(missing)


# -- inputs: symbols, guards, optional inputs ------------------------------------------------------------------
def test_symbolic_sizes_are_read_from_the_inputs() -> None:
    src = """network Heads {
        input x: f32[B, T, 12]
        x -> view(B, T, 3, 4) -> transpose(1, 2) -> out
        output out
    }"""
    cls = numpy_ref.build(netc.check_source(src))
    x = np.arange(5 * 7 * 12, dtype=np.float32).reshape(5, 7, 12)
    np.testing.assert_array_equal(cls({})(x), x.reshape(5, 7, 3, 4).swapaxes(1, 2))


def test_guards_check_ranks_sizes_and_where_constraints() -> None:
    src = """network Guarded {
        input x: f32[B, T, 4] where T <= 8
        input y: f32[B, 1, 4]
        out = x + y -> view(B, T, 1, 4)
        output out
    }"""
    result = netc.check_source(src)
    model = numpy_ref.build(result, guards=True)({})
    assert model(np.zeros((2, 3, 4)), np.zeros((2, 1, 4))).shape == (2, 3, 1, 4)
    with pytest.raises(ValueError, match=r"x: expected shape \(B, T, 4\), got \(2, 3\)"):
        model(np.zeros((2, 3)), np.zeros((2, 1, 4)))
    with pytest.raises(ValueError, match=r"y: expected shape \(B, 1, 4\), got \(3, 1, 4\)"):
        model(np.zeros((2, 3, 4)), np.zeros((3, 1, 4)))  # B bound to 2 by x
    with pytest.raises(ValueError, match="constraint T <= 8"):
        model(np.zeros((2, 9, 4)), np.zeros((2, 1, 4)))
    unguarded = numpy_ref.build(result)({})
    assert unguarded(np.zeros((2, 9, 4)), np.zeros((2, 1, 4))).shape == (2, 9, 1, 4)


def test_optional_inputs_are_sampled_when_left_out() -> None:
    result = netc.check(SAMPLES / "vae.net")
    cls = numpy_ref.build(result)
    state = random_state(result.graphs["VAE"], np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((3, 1, 28, 28))
    recon, mu, logvar = cls(state, dtype="float64")(x, np.zeros((3, 20)))
    np.testing.assert_allclose(recon, cls(state, dtype="float64")(x, np.zeros((3, 20)))[0])
    # with eps = 0 the sample is the mean: z = mu
    z = mu
    h = np.maximum(z @ state["fc3.weight"].T + state["fc3.bias"], 0) @ state["fc4.weight"].T + state["fc4.bias"]
    np.testing.assert_allclose(recon, 1 / (1 + np.exp(-h)), rtol=1e-12)
    a, b = cls(state, seed=7)(x), cls(state, seed=7)(x)
    np.testing.assert_array_equal(a[0], b[0])  # the same seed, the same noise
    assert not np.array_equal(a[0], cls(state, seed=8)(x)[0])
    assert a[0].shape == (3, 784)


def test_a_blocks_unpassed_optional_input_is_made_inside_it() -> None:
    src = """block Noisy(sigma: float = 0.5) {
        input x: f32[B, D]
        input noise: f32[B, D] = ones
        y = x + noise * sigma
        output y
    }
    network N {
        input x: f32[B, 6]
        x -> Noisy as a -> out
        output out
    }"""
    model = numpy_ref.build(netc.check_source(src))({})
    np.testing.assert_array_equal(model(np.zeros((2, 6))), np.full((2, 6), 0.5))


def test_user_names_that_clash_with_python_or_the_generated_code_are_renamed() -> None:
    src = """network class(lambda: int = 3) {
        input self: f32[B, 4]
        input p: f32[B, 4]
        y = self + p
        self -> Linear(lambda) as np -> out
        output out, y
    }"""
    result = netc.check_source(src)
    gen = numpy_ref.generate(result)
    # the one namespace (codegen/naming.py) spells it as the torch backend does
    assert "network `class` is the class `class_1` in the generated code" in gen.notes
    assert any("input `self` is called" in n for n in gen.notes)
    model = numpy_ref.build(result)({"np.weight": np.eye(3, 4), "np.bias": np.zeros(3)}, dtype="float64")
    out, y = model(np.ones((2, 4)), np.full((2, 4), 2.0))
    np.testing.assert_array_equal(y, np.full((2, 4), 3.0))
    np.testing.assert_array_equal(out, np.ones((2, 3)))


def test_trace_records_every_layer_and_block() -> None:
    result = netc.check(SAMPLES / "resnet18.net")
    graph = result.graphs["ResNet18"]
    cls = numpy_ref.build(result, trace=True)
    trace: dict[str, object] = {}
    out = cls(random_state(graph, np.random.default_rng(0)))(np.zeros((1, 3, 224, 224)), trace=trace)
    assert set(trace) == {item.path for item in graph.root.walk()}
    assert trace["layer1.0"] is not trace["layer1.1"] and trace["layer1"] is trace["layer1.1"]
    assert trace["fc"] is out
    assert trace["layer2.0.downsample"].shape == (1, 128, 28, 28)  # type: ignore[attr-defined]
