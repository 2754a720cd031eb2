"""The training runtime (netc/train/): metrics, losses, data, schedules, checkpoints, resume, Ctrl-C, transfer
learning, GAN and VAE steps. Tiny networks and a few steps each; the oracles are hand-derived values, torch's
own distributions and schedulers, and bit-for-bit comparisons between runs.
"""
from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from netc.cli import main  # noqa: E402
from netc.train import prepare  # noqa: E402
from netc.train.data import load_digits  # noqa: E402
from netc.train.functional import WarmupCosine, kl_normal  # noqa: E402
from netc.train.loader import GlobalBatchSampler  # noqa: E402
from netc.train.loop import Run as Trainer  # noqa: E402
from netc.train.metrics import compute  # noqa: E402

from .conftest import ROOT  # noqa: E402

MLP = """
network Mlp(classes: int = 10, hidden: int = 16) {
    input x: f32[B, 64]
    x -> Linear(hidden) as fc1 -> relu -> Linear(classes) as fc2 -> logits
    output logits
}
"""


def write(tmp_path: Path, text: str, name: str = "t.net") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def trainer(path: Path, out: Path, name: str | None = None, **options: object) -> Trainer:
    settings: dict[str, object] = {"progress": False, "echo": lambda s: None, "threads": 1, "tensorboard": False}
    return prepare(path, name, out=out, **{**settings, **options})


# -- metrics -------------------------------------------------------------------------------------
def m(name: str, **args: object) -> tuple[str, dict[str, object]]:
    return ("top2" if name == "top_k" else name), args


def test_multiclass_metrics_match_hand_computed_values() -> None:
    # 3 classes, 6 samples. Scores chosen so argmax gives: true [0,0,1,1,2,2] -> pred [0,1,1,1,2,0].
    logits = torch.tensor([[3.0, 1, 0], [1, 2, 0], [0, 5, 1], [0, 4, 3], [1, 0, 2], [2, 0, 1]])
    target = torch.tensor([0, 0, 1, 1, 2, 2])
    out = compute([m("accuracy"), m("top_k", k=2), m("precision"), m("recall"), m("f1")], logits, target,
                  "cross_entropy", "multiclass")
    # accuracy: 4 of 6 right. top-2: the true class is first or second in every row (row 2: scores 1, 2, 0,
    # class 0 second; row 6: scores 2, 0, 1, class 2 second), so 6 of 6.
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["top2"] == pytest.approx(6 / 6)
    # per class: class 0 tp 1 fp 1 fn 1 -> P 1/2, R 1/2; class 1 tp 2 fp 1 fn 0 -> P 2/3, R 1;
    # class 2 tp 1 fp 0 fn 1 -> P 1, R 1/2. F1: 1/2, 4/5, 2/3.
    assert out["precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert out["recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert out["f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)


def test_binary_auc_counts_ties_as_half() -> None:
    # positives score 0.9, 0.5; negatives 0.5, 0.1. Pairs (pos > neg): (0.9,0.5) 1, (0.9,0.1) 1, (0.5,0.5) 1/2,
    # (0.5,0.1) 1 -> 3.5 of 4.
    score = torch.tensor([[0.9], [0.5], [0.5], [0.1]])
    truth = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    assert compute([m("auc")], score, truth, "bce", "binary")["auc"] == pytest.approx(3.5 / 4)
    assert math.isnan(compute([m("auc")], score, torch.ones(4, 1), "bce", "binary")["auc"])


def test_metrics_fed_batch_by_batch_equal_the_hand_computed_values() -> None:
    # The example above, in batches of 4 and 2 (evaluation feeds torchmetrics one batch at a time).
    from netc.train.metrics import SplitMetrics

    logits = torch.tensor([[3.0, 1, 0], [1, 2, 0], [0, 5, 1], [0, 4, 3], [1, 0, 2], [2, 0, 1]])
    target = torch.tensor([0, 0, 1, 1, 2, 2])
    split = SplitMetrics([m("accuracy"), m("top_k", k=2), m("f1")], "cross_entropy", "multiclass")
    split.update(logits[:4], target[:4])
    split.update(logits[4:], target[4:])
    out = split.compute()
    assert out["accuracy"] == pytest.approx(4 / 6) and out["top2"] == 1.0
    assert out["f1"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    # binary AUC over two batches, one of them all negatives: positives 0.9, 0.5 vs negatives 0.5, 0.1
    auc = SplitMetrics([m("auc")], "bce", "binary")
    auc.update(torch.tensor([[0.9], [0.5]]), torch.tensor([[1.0], [1.0]]))
    auc.update(torch.tensor([[0.5], [0.1]]), torch.tensor([[0.0], [0.0]]))
    assert auc.compute()["auc"] == pytest.approx(3.5 / 4)


def test_binary_metrics_on_logits() -> None:
    logits = torch.tensor([[2.0], [-1.0], [0.5], [-3.0]])  # predicted positive: samples 0 and 2
    target = torch.tensor([[1.0], [1.0], [0.0], [0.0]])
    out = compute([m("accuracy"), m("precision"), m("recall"), m("f1"), m("auc")], logits, target,
                  "bce_with_logits", "binary")
    assert out["accuracy"] == 0.5 and out["precision"] == 0.5 and out["recall"] == 0.5 and out["f1"] == 0.5
    # positives 2.0, -1.0 vs negatives 0.5, -3.0: 2.0 beats both, -1.0 beats -3.0 only -> 3 of 4
    assert out["auc"] == pytest.approx(0.75)


# -- losses and data -----------------------------------------------------------------------------
def test_kl_normal_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    from torch.distributions import Normal, kl_divergence

    oracle = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(5, 3), torch.ones(5, 3)))
    torch.testing.assert_close(kl_normal(mu, logvar, "sum"), oracle.sum())
    torch.testing.assert_close(kl_normal(mu, logvar, "mean"), oracle.mean())
    torch.testing.assert_close(kl_normal(mu, logvar, "batchmean"), oracle.sum() / 5)


def test_shipped_digits_are_scikit_learns() -> None:
    # sklearn's DESCR: 1797 instances, 8x8 images of integer pixels 0..16, 10 classes
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16 and sorted(set(labels.tolist())) == list(range(10))


def test_global_batches_split_evenly_over_processes() -> None:
    def batches(n: int, batch: int, epoch_seed: int, rank: int = 0, world: int = 1) -> list[tuple[np.ndarray, int]]:
        s = GlobalBatchSampler(n, batch, epoch_seed, rank, world)
        return [(np.asarray(idx), size) for idx, size in zip(s.shards, s.sizes)]

    single = batches(50, 16, epoch_seed=3)
    for world in (2, 4):
        shards = [batches(50, 16, epoch_seed=3, rank=r, world=world) for r in range(world)]
        # 50 = 3 * 16 + 2: the last batch of 2 samples cannot give 4 processes one each, and is dropped
        kept = [b for b in single if b[1] >= world]
        assert all(len(s) == len(kept) for s in shards) and len(kept) == (4 if world == 2 else 3)
        for k, (idx, n) in enumerate(kept):
            union = np.sort(np.concatenate([s[k][0] for s in shards]))
            assert np.array_equal(union, np.sort(idx)) and all(s[k][1] == n for s in shards)


def test_warmup_cosine_follows_its_formula() -> None:
    f = WarmupCosine(warmup=4, total=14, base_lr=0.1, min_lr=0.01)
    assert [f(s) for s in range(4)] == pytest.approx([1 / 5, 2 / 5, 3 / 5, 4 / 5])
    assert f(4) == pytest.approx(1.0)  # the peak, then half a cosine over the 10 remaining steps
    assert f(9) == pytest.approx(0.1 + 0.9 * 0.5)
    assert f(14) == pytest.approx(0.1)  # min_lr / lr


def test_synthetic_data_is_learnable(tmp_path: Path) -> None:
    path = write(tmp_path, MLP + """
train syn(Mlp(classes=3)) {
    data: synthetic(256, val=0.25)
    loss: cross_entropy
    optimizer: Adam(lr=1e-2)
    batch: 32
    epochs: 8
    metrics: [accuracy]
}
""")
    report = trainer(path, tmp_path / "out").run()
    # the targets are a fixed function of the inputs: a network learns them far above chance (1/3)
    assert report.history[-1]["val_accuracy"] > 0.6
    assert report.history[-1]["train_loss"] < report.history[0]["train_loss"]


# -- checkpoints, resume, Ctrl-C -----------------------------------------------------------------
SEC = MLP + """
train t(Mlp) {
    data: digits(val=0.2, test=0.0)
    loss: cross_entropy
    optimizer: SGD(lr=0.05, momentum=0.9)
    schedule: warmup_cosine(5)
    batch: 128
    epochs: 3
    metrics: [accuracy]
    checkpoint: save(every=1, keep=1, best=val_accuracy)
}
"""


@pytest.mark.parametrize("workers", [0, 2])
def test_interrupted_and_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, workers: int) -> None:
    """Also with DataLoader workers, against the run without: they live for the whole run, and the resumed
    run's first epoch starts part-way through its batches."""
    import multiprocessing

    path = write(tmp_path, SEC)
    full = trainer(path, tmp_path / "full")
    report_full = full.run()

    def stop(t: Trainer, step: int) -> None:
        if step == 17:  # in the middle of the second epoch
            raise KeyboardInterrupt

    part = trainer(path, tmp_path / "part", on_step=stop, workers=workers)
    report = part.run()
    assert multiprocessing.active_children() == []  # Ctrl-C ended the workers too
    assert report.interrupted and report.checkpoint == tmp_path / "part" / "interrupted.pt"
    state = torch.load(report.checkpoint, weights_only=True)  # plain tensors and containers only
    assert state["step"] == 17 and state["epoch"] == 1
    again = trainer(path, tmp_path / "part", resume=report.checkpoint, workers=workers)
    resumed = again.run()
    assert resumed.steps == report_full.steps  # every step's loss, bit for bit
    final = again.models["Mlp"].state_dict()
    for key, value in full.models["Mlp"].state_dict().items():
        assert torch.equal(value, final[key]), key
    assert [r["val_accuracy"] for r in resumed.history] == [r["val_accuracy"] for r in report_full.history]


def test_checkpoints_logs_and_keep_policy(tmp_path: Path) -> None:
    path = write(tmp_path, SEC)
    report = trainer(path, tmp_path / "run").run()
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == ["best.pt", "epoch_0003.pt", "last.pt", "metrics.csv", "metrics.json"]  # keep=1
    log = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [r["epoch"] for r in log["history"]] == [1, 2, 3] and len(log["steps"]) == report.history[-1]["step"]
    best = max(r["val_accuracy"] for r in log["history"])
    first_best = next(r["epoch"] for r in log["history"] if r["val_accuracy"] == best)
    assert log["best"] == {"monitor": "val_accuracy", "value": best, "epoch": first_best}
    csv_lines = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("epoch,step,train_loss,val_loss,val_accuracy") and len(csv_lines) == 4
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert set(last["optimizers"]["Mlp"]) == {"state", "param_groups"} and last["epoch"] == 3


def test_tensorboard_events_and_safetensors_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = write(tmp_path, SEC.replace("save(every=1, keep=1, best=val_accuracy)",
                                       'save(every=1, keep=1, best=val_accuracy, format="safetensors")'))
    report = trainer(path, tmp_path / "run", tensorboard=True).run()
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    val = [e.value for e in events.Scalars("val/val_accuracy")]
    assert val == pytest.approx([r["val_accuracy"] for r in report.history])
    assert [e.step for e in events.Scalars("train/train_loss")] == [r["step"] for r in report.history]
    weights = load_file(str(tmp_path / "run" / "last.safetensors"))
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["models"]["Mlp"]
    assert set(weights) == {f"Mlp.{k}" for k in last}
    assert all(torch.equal(weights[f"Mlp.{k}"], v) for k, v in last.items())


def test_ctrl_c_saves_and_exits_cleanly(tmp_path: Path) -> None:
    path = write(tmp_path, SEC.replace("epochs: 3", "epochs: 100000"))
    out = tmp_path / "run"
    # As started from a terminal: a job started in the background (`pytest &`) inherits SIGINT ignored, and
    # Python then leaves Ctrl-C ignored too, as a shell's background job should.
    proc = subprocess.Popen([sys.executable, "-m", "netc.cli", "train", str(path), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    deadline = time.monotonic() + 120
    while not (out / "last.pt").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "resume with: netc train" in stderr
    assert "interrupted after" in stdout
    state = torch.load(out / "interrupted.pt", weights_only=True)
    assert state["step"] >= 1


def test_missing_init_checkpoint_is_a_located_diagnostic(tmp_path: Path) -> None:
    path = write(tmp_path, SEC.replace("epochs: 3", "epochs: 1\n    init: \"nowhere.pt\""))
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "error[E513]: no checkpoint at" in result.stderr and f"{path}:" in result.stderr
    assert "Traceback" not in result.output


# -- transfer learning ---------------------------------------------------------------------------
FINETUNE = """
import "base.net"

train finetune(Mlp(classes=5)) {
    data: digits(classes=5, val=0.2, test=0.0)
    init: "base/last.pt"
    freeze: [fc1]
    replace: [fc2]
    loss: cross_entropy
    optimizer: SGD(lr=0.1, momentum=0.9)
    batch: 64
    epochs: 2
    metrics: [accuracy]
}
"""


def test_transfer_freezes_the_body_and_trains_a_new_head(tmp_path: Path) -> None:
    base = write(tmp_path, SEC.replace("epochs: 3", "epochs: 1").replace(
        "checkpoint: save(every=1, keep=1, best=val_accuracy)", 'checkpoint: "base"'), "base.net")
    trainer(base, tmp_path / "base").run()
    pretrained = torch.load(tmp_path / "base" / "last.pt", weights_only=True)["models"]["Mlp"]
    ft = trainer(write(tmp_path, FINETUNE, "ft.net"), tmp_path / "ft")
    model = ft.models["Mlp"]
    assert model.fc2.out_features == 5  # the replaced head has the new size and fresh weights
    head_before = model.fc2.weight.detach().clone()
    grads: list[object] = []
    ft.opts.on_step = lambda t, s: grads.append((t.models["Mlp"].fc1.weight.grad, t.models["Mlp"].fc2.weight.grad))
    report = ft.run()
    assert all(g1 is None and g2 is not None for g1, g2 in grads)  # no gradients ever reach the frozen body
    assert torch.equal(model.fc1.weight, pretrained["fc1.weight"].to(model.fc1.weight.device))
    assert torch.equal(model.fc1.bias, pretrained["fc1.bias"].to(model.fc1.bias.device))
    assert not torch.equal(model.fc2.weight, head_before)  # the head trains
    assert report.history[-1]["val_accuracy"] > 0.5  # 5 classes: chance is 0.2


def test_lower_learning_rate_for_the_body(tmp_path: Path) -> None:
    path = write(tmp_path, SEC.replace("epochs: 3", "epochs: 1\n    lr fc1: 0.005"))
    t = trainer(path, tmp_path / "o")
    groups = {g["name"]: g for g in t.optimizers["Mlp"].param_groups}
    assert groups["fc1"]["initial_lr"] == 0.005 and groups["default"]["initial_lr"] == 0.05
    assert {id(p) for p in groups["fc1"]["params"]} == {id(t.models["Mlp"].fc1.weight), id(t.models["Mlp"].fc1.bias)}


def test_a_checkpoint_that_does_not_fit_names_the_replace_to_add(tmp_path: Path) -> None:
    base = write(tmp_path, SEC.replace("epochs: 3", "epochs: 1").replace(
        "checkpoint: save(every=1, keep=1, best=val_accuracy)", 'checkpoint: "base"'), "base.net")
    trainer(base, tmp_path / "base").run()
    ft = write(tmp_path, FINETUNE.replace("    replace: [fc2]\n", ""), "ft.net")
    from netc.train import TrainError

    with pytest.raises(TrainError) as err:
        trainer(ft, tmp_path / "ft")
    assert "`fc2.weight` is [10, 16]" in err.value.message and "replace: [fc2]" in (err.value.help or "")


def test_a_loss_that_is_not_finite_names_its_step(tmp_path: Path) -> None:
    # Losses are read from the device every few steps, but the error still names the step that went wrong:
    # the weights are poisoned after step 5, so step 6 is the first with a NaN loss.
    from netc.train import TrainError

    def poison(t: Trainer, step: int) -> None:
        if step == 5:
            with torch.no_grad():
                t.models["Mlp"].fc1.weight.fill_(float("nan"))

    with pytest.raises(TrainError) as err:
        trainer(write(tmp_path, SEC), tmp_path / "o", on_step=poison).run()
    assert err.value.message == "the loss became nan at step 6"


@pytest.mark.parametrize("eager", [True, False])
def test_the_tally_reads_each_step_exactly_and_names_the_first_bad_one(eager: bool) -> None:
    # A CPU run of one process reads each loss as its step ends, a GPU or several processes keep them on the
    # device until a block is read: both give the float32 values themselves, and the same step for a NaN.
    from netc.train import TrainError
    from netc.train.engine import Engine
    from netc.train.tally import Tally

    tally = Tally(eager=eager)
    steps = [(0.1, 2.5), (1 / 3, 7.0), (float("nan"), 1.0)]
    for g, d in steps[:2]:
        tally.add({"G": torch.tensor(g, requires_grad=True) * 1, "D": torch.tensor(d)}, 64)
    read = tally.read(Engine(), 0)
    assert read.values == [[float(np.float32(v)) for v in row] for row in steps[:2]] and read.sizes == [64, 64]
    assert tally.aliases == ("G", "D") and not tally.pending
    tally.add({"G": torch.tensor(steps[2][0]), "D": torch.tensor(steps[2][1])}, 64)
    with pytest.raises(TrainError) as err:
        tally.read(Engine(), 2)
    assert err.value.message == "the loss became nan at step 3" and err.value.key == "loss G"


# -- regularisation, clipping, precision ---------------------------------------------------------
def test_gradient_norm_is_clipped(tmp_path: Path) -> None:
    path = write(tmp_path, SEC.replace("epochs: 3", "epochs: 1\n    clip_norm: 0.01"))
    norms: list[float] = []

    def record(t: Trainer, step: int) -> None:
        grads = [p.grad for p in t.models["Mlp"].parameters()]
        norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

    trainer(path, tmp_path / "o", on_step=record).run()
    assert norms and max(norms) <= 0.01 + 1e-6


def test_l1_penalty_shrinks_the_weights(tmp_path: Path) -> None:
    sizes = {}
    for l1 in (0.0, 0.01):
        path = write(tmp_path, SEC.replace("epochs: 3", f"epochs: 2\n    l1: {l1}"))
        t = trainer(path, tmp_path / f"o{l1}")
        t.run()
        sizes[l1] = float(t.models["Mlp"].fc1.weight.detach().abs().sum())
    assert sizes[0.01] < 0.8 * sizes[0.0]


def test_bfloat16_autocast_on_cpu_trains(tmp_path: Path) -> None:
    path = write(tmp_path, SEC.replace("epochs: 3", "epochs: 1"))
    report = trainer(path, tmp_path / "o", precision="bf16").run()
    assert all(math.isfinite(v) for v in report.steps) and report.steps[-1] < report.steps[0]


# -- several networks ----------------------------------------------------------------------------
GAN = """
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
train gan(Gen as G, Disc as D) {
    data: digits(val=0.0, test=0.0)
    noise z: normal(f32[B, 8])
    loss D: bce_with_logits(D(x), 1) + bce_with_logits(D(detach(G(z))), 0)
    loss G: bce_with_logits(D(G(z)), 1)
    optimizer D: Adam(lr=2e-3, betas=(0.5, 0.999))
    optimizer G: Adam(lr=2e-3, betas=(0.5, 0.999))
    batch: 128
    steps: 6
}
"""


def test_gan_alternates_a_discriminator_and_a_generator_step(tmp_path: Path) -> None:
    t = trainer(write(tmp_path, GAN), tmp_path / "o")
    before = {a: {k: v.clone() for k, v in m.state_dict().items()} for a, m in t.models.items()}
    d_only = {k for k, p in t.models["D"].named_parameters()}
    seen: list[dict[str, bool]] = []
    t.opts.on_step = lambda tr, s: seen.append({a: any(p.grad is not None for p in m.parameters())
                                                for a, m in tr.models.items()})
    report = t.run()
    assert len(report.steps) == 6 and all(math.isfinite(v) for v in report.steps)
    assert {"train_loss_D", "train_loss_G"} <= set(report.history[-1])
    for alias, model in t.models.items():
        assert any(not torch.equal(v, before[alias][k]) for k, v in model.state_dict().items()), alias
    # the optimizers own disjoint parameters: D's step never moves G and the other way round
    owned = {a: {id(p) for g in o.param_groups for p in g["params"]} for a, o in t.optimizers.items()}
    assert not owned["D"] & owned["G"] and len(owned["D"]) == len(d_only)


def test_vae_reconstruction_plus_kl_trains(tmp_path: Path) -> None:
    path = write(tmp_path, """
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
train vae(Vae) {
    data: digits(val=0.2, test=0.0)
    loss: bce(recon, x, reduction="sum") + kl_normal(mu, logvar)
    optimizer: Adam(lr=3e-3)
    batch: 64
    epochs: 3
}
""")
    report = trainer(path, tmp_path / "o").run()
    assert report.history[-1]["val_loss"] < 0.9 * report.history[0]["val_loss"]


# -- schedules, early stopping, steps ------------------------------------------------------------
def test_early_stopping_after_patience_epochs_without_improvement(tmp_path: Path) -> None:
    # a learning rate too small to change anything: val_loss never improves by min_delta after epoch 1
    path = write(tmp_path, SEC.replace("SGD(lr=0.05, momentum=0.9)", "SGD(lr=1e-12)").replace(
        "epochs: 3", "epochs: 20\n    early_stopping: patience(2, monitor=val_loss, min_delta=0.01)"))
    report = trainer(path, tmp_path / "o").run()
    assert report.stopped_early and len(report.history) == 3  # best at 1, stale at 2 and 3
    log = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert log["stopped_early"] is True
    assert torch.load(tmp_path / "o" / "last.pt", weights_only=True)["epoch"] == 3  # saved where it stopped


def test_step_and_plateau_schedules_act_per_epoch(tmp_path: Path) -> None:
    body = SEC.replace("schedule: warmup_cosine(5)", "schedule: step(2, gamma=0.5)").replace("epochs: 3", "epochs: 5")
    report = trainer(write(tmp_path, body), tmp_path / "a").run()
    # StepLR halves after epochs 2 and 4; a row shows the rate its epoch trained with
    assert [r["lr"] for r in report.history] == pytest.approx([0.05, 0.05, 0.025, 0.025, 0.0125])
    body = SEC.replace("SGD(lr=0.05, momentum=0.9)", "SGD(lr=1e-12)").replace(
        "schedule: warmup_cosine(5)", "schedule: plateau(factor=0.5, patience=0, threshold=0.5)")
    report = trainer(write(tmp_path, body), tmp_path / "b").run()
    # nothing improves by 50%: the first epoch sets the best, every later one halves the rate for the next
    assert [r["lr"] for r in report.history] == pytest.approx([1e-12, 1e-12, 5e-13])


def test_one_cycle_peaks_at_max_lr_and_steps_mode_counts_steps(tmp_path: Path) -> None:
    body = SEC.replace("schedule: warmup_cosine(5)", "schedule: one_cycle(0.5, pct_start=0.5)").replace(
        "epochs: 3", "steps: 17")
    lrs: list[float] = []
    t = trainer(write(tmp_path, body), tmp_path / "o", on_step=lambda tr, s: lrs.append(
        tr.optimizers["Mlp"].param_groups[0]["lr"]))
    assert t.batches_per_epoch == 12 and t.epochs == 2  # 1437 training digits in batches of 128
    report = t.run()
    assert len(report.steps) == 17 and report.history[-1]["step"] == 17
    # torch's OneCycleLR over 17 steps: rises from 0.5/25 to 0.5 at step 8, then anneals to 0.5/25/1e4
    oracle_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05, momentum=0.9)
    oracle = torch.optim.lr_scheduler.OneCycleLR(oracle_opt, max_lr=0.5, total_steps=17, pct_start=0.5)
    expected = []
    for _ in range(17):
        oracle_opt.step()
        oracle.step()
        expected.append(oracle_opt.param_groups[0]["lr"])
    assert lrs == pytest.approx(expected[:17])
    assert max(lrs) == pytest.approx(0.5, rel=0.02)


def test_cli_without_a_train_section_or_with_a_wrong_name(tmp_path: Path) -> None:
    plain = write(tmp_path, MLP, "plain.net")
    result = CliRunner().invoke(main, ["train", str(plain)])
    assert result.exit_code == 1 and "has no `train` section" in result.stderr
    two = write(tmp_path, SEC + SEC.split("}\n", 1)[1].replace("train t(", "train u("), "two.net")
    result = CliRunner().invoke(main, ["train", str(two)])
    assert result.exit_code == 1 and "pick one with --name" in result.stderr
    result = CliRunner().invoke(main, ["train", str(two), "--name", "v"])
    assert result.exit_code == 1 and "no train section `v`" in result.stderr
