"""What a `train` section may say: every setting, loss, optimizer, schedule, metric, data source and
transform, with its arguments, defaults, types and ranges. dsl/train.py checks sections against these
tables; docs/train.md documents them (a test checks it names every one)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# -- argument specifications ---------------------------------------------------------------------
REQUIRED: Any = object()


@dataclass(frozen=True)
class P:
    """One argument of a loss, optimizer, schedule, metric or data source."""

    name: str
    kind: str  # float, int, bool, str, name (a bare word or a string), pair (two floats), names (a list)
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None  # returns what is wrong, or None
    positional: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Fn:
    name: str
    params: tuple[P, ...]
    doc: str


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _nonneg(v: Any) -> str | None:
    return None if v >= 0 else "cannot be negative"


def _fraction(v: Any) -> str | None:
    return None if 0 <= v < 1 else "must be in [0, 1)"


def _open_unit(v: Any) -> str | None:
    return None if 0 < v < 1 else "must be between 0 and 1 (exclusive)"


def _betas(v: Any) -> str | None:
    return None if all(0 <= b < 1 for b in v) else "must be two numbers in [0, 1)"


def _fns(*fns: Fn) -> dict[str, Fn]:
    return {f.name: f for f in fns}


_REDUCTION = P("reduction", "name", "mean", choices=("mean", "sum"), doc="how per-element losses are combined")
_PRED = P("pred", "tensor", REQUIRED, positional=True, doc="the prediction: an output of the network")
_TARGET = P("target", "tensor", REQUIRED, positional=True, doc="what it should be: `target` from the data")

# Losses: name -> arguments after (pred, target). `kind` says what target they need and what metrics mean.
LOSSES: dict[str, Fn] = _fns(
    Fn("cross_entropy", (_PRED, _TARGET, P("label_smoothing", "float", 0.0, _fraction),
                         P("ignore_index", "int", -100), _REDUCTION),
       "softmax cross-entropy on logits [B, C, ...] against class indices [B, ...]"),
    Fn("nll", (_PRED, _TARGET, P("ignore_index", "int", -100), _REDUCTION),
       "negative log-likelihood on log-probabilities [B, C, ...] against class indices"),
    Fn("mse", (_PRED, _TARGET, _REDUCTION), "mean squared error"),
    Fn("l1", (_PRED, _TARGET, _REDUCTION), "mean absolute error"),
    Fn("smooth_l1", (_PRED, _TARGET, P("beta", "float", 1.0, _nonneg), _REDUCTION), "Huber-like loss"),
    Fn("bce", (_PRED, _TARGET, _REDUCTION), "binary cross-entropy on probabilities in [0, 1]"),
    Fn("bce_with_logits", (_PRED, _TARGET, P("pos_weight", "float", None, _positive), _REDUCTION),
       "binary cross-entropy on logits (sigmoid built in, numerically stable)"),
    Fn("kl_div", (_PRED, _TARGET, P("reduction", "name", "batchmean", choices=("batchmean", "mean", "sum")),
                  P("log_target", "bool", False)),
       "KL divergence; the prediction is log-probabilities"),
)
CLASS_LOSSES = {"cross_entropy", "nll"}
_VALUE_PRESERVING = {"Dropout", "view", "reshape", "flatten", "Flatten", "transpose", "permute", "squeeze",
                     "unsqueeze", "contiguous"}
BINARY_LOSSES = {"bce", "bce_with_logits"}
REGRESSION_LOSSES = {"mse", "l1", "smooth_l1"}

# Terms a loss expression may use besides the losses: reductions and elementwise maths, and the
# closed-form KL of a diagonal Gaussian against N(0, I) that a VAE needs.
TERMS: dict[str, Fn] = _fns(
    Fn("kl_normal", (P("mu", "tensor", REQUIRED, positional=True), P("logvar", "tensor", REQUIRED, positional=True),
                     P("reduction", "name", "sum", choices=("sum", "batchmean", "mean"))),
       "KL(N(mu, exp(logvar)) || N(0, 1)), summed over elements ('sum'), per sample ('batchmean')"),
    Fn("sum", (P("x", "tensor", REQUIRED, positional=True),), "sum of all elements"),
    Fn("mean", (P("x", "tensor", REQUIRED, positional=True),), "mean of all elements"),
    Fn("exp", (P("x", "tensor", REQUIRED, positional=True),), "elementwise e**x"),
    Fn("log", (P("x", "tensor", REQUIRED, positional=True),), "elementwise natural log"),
    Fn("abs", (P("x", "tensor", REQUIRED, positional=True),), "elementwise |x|"),
    Fn("detach", (P("x", "tensor", REQUIRED, positional=True),), "stop gradients (a GAN's fake images for D)"),
    Fn("flatten", (P("x", "tensor", REQUIRED, positional=True),), "[B, ...] -> [B, n]: images against flat outputs"),
)

OPTIMIZERS: dict[str, Fn] = _fns(
    Fn("SGD", (P("lr", "float", REQUIRED, _positive, positional=True), P("momentum", "float", 0.0, _nonneg),
               P("dampening", "float", 0.0, _nonneg), P("nesterov", "bool", False),
               P("weight_decay", "float", 0.0, _nonneg)), "stochastic gradient descent"),
    Fn("Adam", (P("lr", "float", 1e-3, _positive, positional=True), P("betas", "pair", (0.9, 0.999), _betas),
                P("eps", "float", 1e-8, _positive), P("weight_decay", "float", 0.0, _nonneg),
                P("amsgrad", "bool", False)), "Adam (L2 weight decay added to the gradient)"),
    Fn("AdamW", (P("lr", "float", 1e-3, _positive, positional=True), P("betas", "pair", (0.9, 0.999), _betas),
                 P("eps", "float", 1e-8, _positive), P("weight_decay", "float", 1e-2, _nonneg),
                 P("amsgrad", "bool", False)), "Adam with decoupled weight decay"),
    Fn("RMSprop", (P("lr", "float", 1e-2, _positive, positional=True), P("alpha", "float", 0.99, _fraction),
                   P("eps", "float", 1e-8, _positive), P("weight_decay", "float", 0.0, _nonneg),
                   P("momentum", "float", 0.0, _nonneg), P("centered", "bool", False)), "RMSprop"),
)

# Schedules: `step` and `plateau` act once per epoch, the others once per optimizer step.
SCHEDULES: dict[str, Fn] = _fns(
    Fn("step", (P("step_size", "int", REQUIRED, _positive, positional=True), P("gamma", "float", 0.1, _positive)),
       "multiply the learning rate by gamma every step_size epochs"),
    Fn("cosine", (P("min_lr", "float", 0.0, _nonneg),), "cosine annealing to min_lr over the whole run"),
    Fn("warmup_cosine", (P("warmup", "int", REQUIRED, _nonneg, positional=True), P("min_lr", "float", 0.0, _nonneg)),
       "linear warm-up over `warmup` steps, then cosine annealing to min_lr"),
    Fn("one_cycle", (P("max_lr", "float", REQUIRED, _positive, positional=True),
                     P("pct_start", "float", 0.3, _open_unit), P("div_factor", "float", 25.0, _positive),
                     P("final_div_factor", "float", 1e4, _positive),
                     P("anneal", "name", "cos", choices=("cos", "linear"))), "the 1cycle policy"),
    Fn("plateau", (P("monitor", "name", "val_loss"), P("factor", "float", 0.1, _open_unit),
                   P("patience", "int", 10, _nonneg), P("min_lr", "float", 0.0, _nonneg),
                   P("threshold", "float", 1e-4, _nonneg)),
       "multiply the learning rate by factor when the monitored value stops improving"),
)

METRICS: dict[str, Fn] = _fns(
    Fn("accuracy", (P("output", "name", None, positional=True),), "fraction of correct predictions"),
    Fn("top_k", (P("k", "int", 5, _positive, positional=True), P("output", "name", None)),
       "fraction of samples whose class is among the k highest scores"),
    Fn("precision", (P("output", "name", None, positional=True),), "precision (macro-averaged over classes)"),
    Fn("recall", (P("output", "name", None, positional=True),), "recall (macro-averaged over classes)"),
    Fn("f1", (P("output", "name", None, positional=True),), "F1 score (macro-averaged over classes)"),
    Fn("auc", (P("output", "name", None, positional=True),), "ROC AUC (one-vs-rest, macro, for several classes)"),
)

_SPLITS = (P("val", "float", 0.1, _fraction, doc="fraction held out for validation"),
           P("test", "float", 0.0, _fraction, doc="fraction held out for the final test"))
DATA: dict[str, Fn] = _fns(
    Fn("synthetic", (P("n", "int", 512, _positive, positional=True), P("val", "float", 0.2, _fraction),
                     P("test", "float", 0.0, _fraction)),
       "random inputs of the declared types; targets from a fixed random teacher, so the loss can fall"),
    Fn("digits", (P("val", "float", 0.1, _fraction), P("test", "float", 0.2, _fraction),
                  P("classes", "int", 10, lambda v: None if 2 <= v <= 10 else "must be between 2 and 10")),
       "scikit-learn's 8x8 handwritten digits (1,797 images, shipped with netc)"),
    Fn("npz", (P("path", "str", REQUIRED, positional=True), P("x", "str", "x"), P("y", "str", "y"), *_SPLITS),
       "arrays from a NumPy .npz file (keys x and y by default)"),
    Fn("npy", (P("x", "str", REQUIRED, positional=True), P("y", "str", None, positional=True), *_SPLITS),
       "arrays from two NumPy .npy files, read by memory map (larger than memory streams from disk)"),
    Fn("images", (P("path", "str", REQUIRED, positional=True), *_SPLITS),
       "an image folder with one subfolder per class (path/<class>/<image>), decoded by Pillow: x is "
       "u8[B, H, W, 3] (or [B, H, W] for grayscale files) before `transforms`, targets the class indices"),
    Fn("csv", (P("path", "str", REQUIRED, positional=True), P("label", "str", "label"), *_SPLITS),
       "a CSV table with a header: the `label` column is the target, every other column a feature (f32[B, n])"),
    Fn("text", (P("path", "str", REQUIRED, positional=True), P("length", "int", REQUIRED, _positive),
                P("stride", "int", None, _positive), *_SPLITS),
       "a UTF-8 text for a character-level language model: x is i64[B, length] (character ids, the sorted "
       "distinct characters of the file), the target the same window shifted by one character"),
    Fn("torchvision", (P("dataset", "name", REQUIRED, positional=True,
                         doc="the class in torchvision.datasets, e.g. CIFAR10, MNIST, FashionMNIST"),
                       P("root", "str", REQUIRED, doc="the folder torchvision keeps the data set in (never downloaded)"),
                       P("split", "name", "train", choices=("train", "test"), doc="which of its splits"), *_SPLITS),
       "an image data set of torchvision, when torchvision is installed: its images as the `images` source gives "
       "them (u8[H, W, 3] or [H, W] before `transforms`), targets the class indices; it must already be in `root`"),
)

def _transform_fns() -> dict[str, Fn]:
    from .train_data import TRANSFORMS

    kinds = {"int": "int", "float": "float", "floats": "floats"}
    out = {}
    for name, (params, _, doc) in TRANSFORMS.items():
        ps = tuple(P(p, kinds[kind], REQUIRED if default is None and p not in ("width",) else default,
                     _positive if kind == "int" and p != "padding" else None, positional=True)
                   for p, kind, default in params)
        out[name] = Fn(name, ps, doc)
    return out


TRANSFORM_FNS = _transform_fns()

EARLY_STOPPING = Fn("patience", (P("patience", "int", REQUIRED, _positive, positional=True),
                                 P("monitor", "name", "val_loss"), P("min_delta", "float", 0.0, _nonneg)),
                    "stop when the monitored value has not improved for `patience` epochs")
CHECKPOINT = Fn("save", (P("dir", "str", None, positional=True), P("every", "int", 1, _positive),
                         P("keep", "int", 2, _positive), P("best", "name", "val_loss"),
                         P("format", "name", "torch", choices=("torch", "safetensors"),
                           doc="safetensors: also the networks' weights as last/best.safetensors")),
                "write last.pt every `every` epochs, keep the newest `keep` epoch files, and best.pt")
NOISES = ("normal", "uniform")

# key -> (what the value is, whether a target is required / allowed / forbidden)
SETTINGS: dict[str, tuple[str, str]] = {
    "data": ("a data source, e.g. `digits` or `npz(\"train.npz\")`", "no"),
    "loss": ("a loss, e.g. `cross_entropy`, or an expression of losses", "optional"),
    "optimizer": ("an optimizer, e.g. `Adam(lr=1e-3)`", "optional"),
    "lr": ("the learning rate of one submodule, e.g. `lr fc: 1e-2`", "required"),
    "schedule": ("a learning-rate schedule, e.g. `cosine`", "no"),
    "epochs": ("the number of passes over the data", "no"),
    "steps": ("the number of optimizer steps (instead of epochs)", "no"),
    "batch": ("the batch size", "no"),
    "metrics": ("a list of metrics, e.g. `[accuracy, f1]`", "no"),
    "clip_norm": ("the largest gradient norm (clipping)", "no"),
    "clip_value": ("the largest absolute gradient value (clipping)", "no"),
    "l1": ("the weight of an L1 penalty on the weights", "no"),
    "early_stopping": ("`patience(N, monitor=val_loss)`", "no"),
    "checkpoint": ("`save(\"dir\", every=1, keep=2, best=val_loss)` or a folder", "no"),
    "seed": ("the random seed", "no"),
    "init": ("a checkpoint to start from (transfer learning)", "no"),
    "freeze": ("a list of submodules whose weights stay fixed", "no"),
    "replace": ("a list of submodules not loaded from `init` (a new head)", "no"),
    "noise": ("a noise input, e.g. `noise z: normal(f32[B, 100])`", "required"),
    "transforms": ("transforms of `x`, in order, e.g. `[resize(32), to_float(255), channels_first]`", "no"),
}
_ALIASES = {"batch_size": "batch", "optim": "optimizer", "lr_schedule": "schedule", "scheduler": "schedule",
            "grad_clip": "clip_norm", "clip": "clip_norm", "epoch": "epochs", "max_steps": "steps"}
