"""`train` sections in the language: parsing, the checked spec, and the diagnostics of dsl/train.py.

The broken samples under samples/errors/train_*.net pin the rendered messages; these tests pin the checks
themselves, one mistake at a time, with expectations derived by hand from the rules (torch's own rules where
the check mirrors one: Nesterov needs momentum and no dampening, cross_entropy wants [B, C] against [B]).
"""
from __future__ import annotations

import pytest

from netc.dsl.compiler import compile_source
from netc.dsl.dims import sym
from netc.dsl.source import Source
from netc.dsl.train import LBin, LCall, LModel, LNum, LRef, TrainSpec
from netc.dsl.types import TensorType

from .conftest import SAMPLES

MLP = """
network Mlp(classes: int = 10) {
    input x: f32[B, 64]
    x -> Linear(32) as fc1 -> relu -> Linear(classes) as fc2 -> logits
    output logits
}
"""

VAE = """
network Vae(z: int = 4) {
    input x: f32[B, 64]
    h = x -> Linear(32) as fc1 -> relu
    mu = h -> Linear(z) as fc_mu
    logvar = h -> Linear(z) as fc_logvar
    recon = mu -> Linear(64) as fc_out -> sigmoid
    output recon, mu, logvar
}
"""

GAN = """
network Gen(nz: int = 16) {
    input z: f32[B, nz]
    z -> Linear(64) as fc -> tanh -> view(B, 1, 8, 8) -> img
    output img
}
network Disc {
    input img: f32[B, 1, 8, 8]
    img -> flatten(1) -> Linear(32) as fc1 -> leaky_relu(0.2) -> Linear(1) as fc2 -> logit
    output logit
}
"""


def check(text: str) -> tuple[list[TrainSpec], list[str], list[str]]:
    result = compile_source(Source("t.net", text))
    errors = [d.code for d in result.diagnostics.errors]
    warnings = [d.code for d in result.diagnostics.items if d.severity == "warning"]
    return result.trains, errors, warnings


def section(body: str, header: str = "Mlp", nets: str = MLP) -> str:
    return nets + f"train {header} {{\n" + body.strip("\n") + "\n}\n"


BASE = """
    data: digits
    loss: cross_entropy
    optimizer: Adam(lr=1e-3)
    epochs: 2
"""


def test_sample_section_checks_into_a_full_spec() -> None:
    result = compile_source(Source(str(SAMPLES / "digits_mlp.net"), (SAMPLES / "digits_mlp.net").read_text()))
    assert result.ok and not result.diagnostics.items
    (spec,) = result.trains
    assert spec.name == "DigitsMLP" and spec.single and spec.epochs == 30 and spec.batch == 64
    assert spec.data.name == "digits" and spec.data.args == {"val": 0.1, "test": 0.2, "classes": 10}
    # every argument resolved, the defaults filled in from torch's (AdamW: betas (0.9, 0.999), eps 1e-8)
    assert spec.optimizers["DigitsMLP"].args == {"lr": 3e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                                                 "weight_decay": 1e-4, "amsgrad": False}
    assert spec.schedule is not None and spec.schedule.args == {"warmup": 20, "min_lr": 0.0}
    assert [m.name for m in spec.metrics] == ["accuracy", "top_k", "precision", "recall", "f1", "auc"]
    assert spec.metric_kind == "multiclass" and spec.prediction == "logits"
    assert spec.input_type == TensorType("f32", (sym("B"), 64))
    assert spec.target is not None and spec.target.kind == "class" and spec.target.classes == 10
    assert spec.checkpoint.args == {"dir": None, "every": 5, "keep": 2, "best": "val_accuracy", "format": "torch"}
    assert spec.early_stopping is not None and spec.early_stopping.args["patience"] == 8
    assert spec.clip_norm == 5.0 and spec.seed == 0
    loss = spec.losses["DigitsMLP"]
    assert isinstance(loss, LCall) and loss.fn == "cross_entropy" and loss.options["label_smoothing"] == 0.05
    assert loss.args == (LRef("logits", loss.span), LRef("target", loss.span))


def test_header_forms_aliases_and_arguments() -> None:
    text = MLP + """
train ft(Mlp(classes=5) as net) {
    data: digits(classes=5)
    loss: cross_entropy
    optimizer: SGD(0.1, momentum=0.9, nesterov=true)
    lr "fc1": 1e-3
    steps: 100
}
"""
    (spec,), errors, _ = check(text)
    assert not errors
    (m,) = spec.models
    assert (m.alias, m.network, m.overrides) == ("net", "Mlp", {"classes": 5})
    assert m.graph.outputs[0][1].type.dims[1] == 5  # elaborated again with the argument
    assert spec.lr_groups[0][:3] == ("net", "fc1", 1e-3)
    assert spec.steps == 100 and spec.epochs is None
    assert spec.optimizers["net"].args["nesterov"] is True


def test_vae_loss_expression_is_typed_over_the_outputs() -> None:
    text = section("""
    loss: bce(recon, x, reduction="sum") + kl_normal(mu, logvar)
    optimizer: Adam(lr=1e-3)
    epochs: 1
""", "Vae", VAE)
    (spec,), errors, warnings = check(text)
    assert not errors and not warnings
    loss = spec.losses["Vae"]
    assert isinstance(loss, LBin) and loss.op == "+"
    assert isinstance(loss.left, LCall) and loss.left.fn == "bce" and loss.left.options["reduction"] == "sum"
    assert isinstance(loss.right, LCall) and loss.right.fn == "kl_normal"
    assert spec.target is None  # the loss never uses the data's target: synthetic data makes inputs only
    assert spec.metrics == [] and spec.metric_kind is None


def test_gan_alternating_losses_type_the_network_calls() -> None:
    text = GAN + """
train gan(Gen as G, Disc as D) {
    data: digits(val=0.0, test=0.0)
    noise z: normal(f32[B, 16])
    loss D: bce_with_logits(D(x), 1) + bce_with_logits(D(detach(G(z))), 0)
    loss G: bce_with_logits(D(G(z)), 1)
    optimizer D: Adam(lr=2e-4, betas=(0.5, 0.999))
    optimizer G: Adam(lr=2e-4, betas=(0.5, 0.999))
    epochs: 1
}
"""
    (spec,), errors, _ = check(text)
    assert not errors
    assert list(spec.losses) == ["D", "G"]  # the order the steps alternate in
    # `x` had no type until D took it: the digits' 64 pixels reshaped to D's input
    assert spec.input_type == TensorType("f32", (sym("B"), 1, 8, 8))
    assert spec.noises["z"][:2] == ("normal", TensorType("f32", (sym("B"), 16)))
    g_loss = spec.losses["G"]
    assert isinstance(g_loss, LCall) and isinstance(g_loss.args[0], LModel) and g_loss.args[0].alias == "D"
    assert isinstance(g_loss.args[1], LNum) and g_loss.args[1].value == 1.0


GAN_BODY = """
    noise z: normal(f32[B, 16])
    loss D: bce_with_logits(D(x), 1) + bce_with_logits(D(detach(G(z))), 0)
    loss G: bce_with_logits(D(G(z)), 1)
    optimizer D: Adam(lr=2e-4)
    optimizer G: Adam(lr=2e-4)
    epochs: 1
"""


@pytest.mark.parametrize("change, code", [
    (("noise z: normal(f32[B, 16])", "noise z: normal(f32[B, 12])"), "E509"),  # G takes f32[B, 16]
    (("D(detach(G(z)))", "D(detach(z))"), "E509"),  # D takes images, not noise
    (("D(G(z)), 1)", "D(G(z), z), 1)"), "E509"),  # one input too many
    (("optimizer G: Adam(lr=2e-4)", ""), "E503"),  # G has a loss but no optimizer
    (("loss G:", "loss H:"), "E510"),
    (("noise z: normal", "noise z: gaussian"), "E504"),
])
def test_gan_mistakes(change: tuple[str, str], code: str) -> None:
    body = GAN_BODY.replace(*change)
    _, errors, _ = check(GAN + "train gan(Gen as G, Disc as D) {\n    data: digits\n" + body + "}\n")
    assert code in errors, errors


@pytest.mark.parametrize("body, code", [
    # settings
    (BASE + "    epocs: 3\n", "E501"),
    (BASE + "    epochs: 3\n", "E502"),
    ("    loss: cross_entropy\n    epochs: 1\n", "E503"),  # no optimizer
    ("    optimizer: Adam()\n    epochs: 1\n", "E503"),  # no loss
    ("    loss: cross_entropy\n    optimizer: Adam()\n", "E503"),  # neither epochs nor steps
    (BASE.replace("Adam(", "Adagrad("), "E504"),
    (BASE.replace("cross_entropy", "crossentropy"), "E504"),
    (BASE + "    schedule: exponential\n", "E504"),
    (BASE.replace("lr=1e-3", "lr=1e-3, momentum=0.9"), "E505"),  # Adam has betas, not momentum
    (BASE.replace("lr=1e-3", "1e-3, 0.9"), "E505"),  # one positional argument only
    (BASE.replace("lr=1e-3", "lr=0"), "E506"),
    (BASE.replace("lr=1e-3", "lr=\"fast\""), "E506"),
    (BASE.replace("lr=1e-3", "lr=1e-3, betas=(0.9, 1.0)"), "E506"),
    (BASE.replace("epochs: 2", "epochs: 2.5"), "E506"),
    (BASE.replace("digits", "digits(val=0.5, test=0.5)"), "E506"),
    (BASE + "    schedule: step\n", "E507"),  # step_size is required
    (BASE.replace("Adam(lr=1e-3)", "SGD(lr=0.1, nesterov=true)"), "E508"),
    (BASE + "    steps: 10\n", "E508"),
    (BASE + "    freeze: [fc1]\n    replace: [fc1]\n    init: \"a.pt\"\n", "E508"),
    (BASE + "    replace: [fc2]\n", "E508"),  # nothing to replace without `init`
    (BASE + "    freeze: [fc1, fc2]\n", "E508"),  # nothing left to train
    (BASE + "    freeze: [fc1]\n    lr fc1: 0.1\n", "E508"),
    (BASE + "    lr fc1: 0.1\n    lr fc: 0.1\n", "E510"),
    (BASE + "    batch: 0\n", "E506"),
    (BASE + "    lr: 0.1\n", "E503"),  # lr needs a submodule
    (BASE.replace("epochs: 2", "epochs fc1: 2"), "E508"),
    # names and metrics
    (BASE.replace("cross_entropy", "cross_entropy(logit)"), "E510"),
    (BASE + "    metrics: [accuracy(probs)]\n", "E510"),
    (BASE + "    metrics: [top_k(10)]\n", "E511"),  # k must be below the 10 classes
    (BASE + "    early_stopping: patience(3, monitor=val_acc)\n", "E510"),
    (BASE + "    metrics: [accuracy, accuracy]\n", "E502"),
    # losses against outputs and targets
    (BASE.replace("cross_entropy", "mse"), "E509"),  # labels i64[B] vs logits f32[B, 10]
    (BASE.replace("cross_entropy", "logits"), "E509"),  # not a single number
    (BASE.replace("digits", "digits(classes=5)").replace("cross_entropy", "cross_entropy + mse(logits, x)"),
     "E509"),  # [B, 10] against [B, 64]
    (BASE.replace("cross_entropy", "kl_normal(logits, x)"), "E509"),
])
def test_each_mistake_has_its_code(body: str, code: str) -> None:
    _, errors, _ = check(section(body))
    assert code in errors, errors


def test_fewer_classes_than_the_data_is_an_error() -> None:
    _, errors, _ = check(MLP + "train small(Mlp(classes=5)) {\n" + BASE + "}\n")
    assert errors == ["E509"]
    _, errors, _ = check(MLP + "train small(Mlp(classes=5)) {\n" + BASE.replace("digits", "digits(classes=5)") + "}\n")
    assert errors == []


def test_header_errors() -> None:
    assert check(MLP + "train t(Mlpp) {\n" + BASE + "}\n")[1] == ["E500"]
    assert check(MLP + "block Blk {\n input x: f32[B, 4]\n output x\n}\ntrain t(Blk) {\n" + BASE + "}\n")[1] == ["E500"]
    assert check(MLP + "train t(Mlp(clases=3)) {\n" + BASE + "}\n")[1] == ["E505"]
    assert check(MLP + "train t(Mlp) {\n" + BASE + "}\ntrain t(Mlp) {\n" + BASE + "}\n")[1] == ["E502"]


def test_the_digits_must_fit_the_input() -> None:
    for dims, ok in (("64", True), ("8, 8", True), ("1, 8, 8", True), ("3, 8, 8", False), ("65", False)):
        text = f"network N {{\n input x: f32[B, {dims}]\n x -> flatten(1) -> Linear(10) as fc -> y\n output y\n}}\n"
        _, errors, _ = check(section(BASE, "N", text))
        assert (errors == []) is ok, (dims, errors)


def test_symbolic_dims_other_than_the_batch_must_be_bound() -> None:
    text = "network Seq {\n input x: f32[B, T, 4]\n x -> Linear(2) as fc -> y\n output y\n}\n"
    body = "    loss: mse\n    optimizer: Adam()\n    epochs: 1\n"
    assert check(section(body, "Seq", text))[1] == ["E512"]
    text = "network Seq(T: int = 16) {\n input x: f32[B, T, 4]\n x -> Linear(2) as fc -> y\n output y\n}\n"
    (spec,), errors, _ = check(section(body, "Seq", text))
    assert errors == [] and spec.target is not None and spec.target.kind == "real"


def test_synthetic_targets_follow_the_loss() -> None:
    body = "    loss: {}\n    optimizer: Adam()\n    epochs: 1\n"
    expected = {"cross_entropy": ("class", 10), "bce_with_logits": ("binary", None), "mse": ("real", None)}
    for loss, (kind, classes) in expected.items():
        (spec,), errors, _ = check(section(body.format(loss)))
        assert errors == [] and spec.data.name == "synthetic"
        assert spec.target is not None and (spec.target.kind, spec.target.classes) == (kind, classes)


@pytest.mark.parametrize("network, loss, lint", [
    ("x -> Linear(10) as fc -> softmax(dim=1) -> y", "cross_entropy", "W501"),
    ("x -> Linear(1) as fc -> sigmoid -> y", "bce_with_logits(y, target)", "W501"),
    ("x -> Linear(1) as fc -> y", "bce(y, target)", "W502"),
    ("x -> Linear(10) as fc -> y", "nll", "W502"),
    ("x -> Linear(10) as fc -> Dropout(0.5) -> y", "cross_entropy", "W503"),
    ("x -> Linear(10) as fc -> Dropout(0.5) -> softmax(dim=1) -> y", "cross_entropy", "W503"),
])
def test_lints(network: str, loss: str, lint: str) -> None:
    text = f"network N {{\n input x: f32[B, 64]\n {network}\n output y\n}}\n"
    _, errors, warnings = check(section(f"    loss: {loss}\n    optimizer: Adam()\n    epochs: 1\n", "N", text))
    assert not errors and lint in warnings, (errors, warnings)


@pytest.mark.parametrize("network, loss", [
    ("x -> Linear(10) as fc -> y", "cross_entropy"),
    ("x -> Linear(10) as fc -> log_softmax(dim=1) -> y", "nll"),
    ("x -> Linear(1) as fc -> y", "bce_with_logits"),
    ("x -> Linear(1) as fc -> sigmoid -> y", "bce"),
    ("x -> Linear(1) as fc -> sigmoid -> view(-1) -> y", "bce"),  # reshaping keeps the probabilities
    ("x -> Linear(16) as fc1 -> relu -> Dropout(0.5) -> Linear(10) as fc2 -> y", "cross_entropy"),
])
def test_no_lint_on_the_right_pairing(network: str, loss: str) -> None:
    text = f"network N {{\n input x: f32[B, 64]\n {network}\n output y\n}}\n"
    _, errors, warnings = check(section(f"    loss: {loss}\n    optimizer: Adam()\n    epochs: 1\n", "N", text))
    assert not errors and not warnings


def test_a_file_may_train_networks_it_imports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "nets.net").write_text(MLP)
    main = tmp_path / "ft.net"
    main.write_text('import "nets.net"\n\ntrain ft(Mlp(classes=5)) {\n'
                    + BASE.replace("digits", "digits(classes=5)") + "}\n")
    result = compile_source(Source(str(main), main.read_text()))
    assert result.ok and [s.name for s in result.trains] == ["ft"]


def test_a_syntax_error_in_a_section_does_not_hide_the_next_one() -> None:
    text = MLP + "train a(Mlp) {\n    loss: cross_entropy)\n}\ntrain b(Mlp) {\n    loss cross_entropy\n}\n"
    result = compile_source(Source("t.net", text))
    lines = sorted(d.span.line for d in result.diagnostics.errors if d.span is not None)
    assert [d.code for d in result.diagnostics.errors] == ["E100", "E100"] and lines == [8, 12]


def test_check_does_not_import_torch_for_a_train_section() -> None:
    import subprocess
    import sys

    code = ("import sys, netc; netc.check(sys.argv[1]); "
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(SAMPLES / "digits_mlp.net")], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "False"


def _npz_section(tmp_path, data: str, loss: str = "cross_entropy") -> tuple[list[TrainSpec], list[str]]:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.net"
    path.write_text(section(f"    data: {data}\n    loss: {loss}\n    optimizer: Adam()\n    epochs: 1\n"))
    result = compile_source(Source(str(path), path.read_text()))
    return result.trains, [d.code for d in result.diagnostics.errors]


def test_array_files_are_checked_from_their_headers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    np.savez(tmp_path / "ok.npz", x=np.zeros((10, 64), np.float32), y=np.zeros(10, np.int64))
    np.savez(tmp_path / "wide.npz", x=np.zeros((10, 65), np.float32), y=np.zeros(10, np.int64))
    np.savez(tmp_path / "short.npz", x=np.zeros((10, 64), np.float32), y=np.zeros(9, np.int64))
    np.savez(tmp_path / "soft.npz", x=np.zeros((10, 64), np.float32), y=np.zeros((10, 10), np.float32))
    np.save(tmp_path / "x.npy", np.zeros((10, 64), np.float32))
    np.save(tmp_path / "y.npy", np.zeros((10,), np.float32))
    (spec,), errors = _npz_section(tmp_path, 'npz("ok.npz")')
    assert errors == [] and spec.data.args["path"] == "ok.npz"
    assert _npz_section(tmp_path, 'npz("wide.npz")')[1] == ["E512"]
    assert _npz_section(tmp_path, 'npz("short.npz")')[1] == ["E512"]
    assert _npz_section(tmp_path, 'npz("ok.npz", x="images")')[1] == ["E513"]
    assert _npz_section(tmp_path, 'npz("missing.npz")')[1] == ["E513"]
    assert _npz_section(tmp_path, 'npz("soft.npz")')[1] == []  # class probabilities, as torch accepts
    assert _npz_section(tmp_path, 'npz("soft.npz")', "mse")[1] == []
    assert _npz_section(tmp_path, 'npy("x.npy", "y.npy")')[1] == ["E509"]  # float targets for class indices
    assert _npz_section(tmp_path, 'npy("x.npy")')[1] == ["E509"]  # no targets at all
    (tmp_path / "bad.npz").write_text("not a zip")
    assert _npz_section(tmp_path, 'npz("bad.npz")')[1] == ["E513"]
