"""`train` sections: checked against the elaborated networks, turned into a plain :class:`TrainSpec`.

    train DigitsMLP {
        data: digits(val=0.1, test=0.2)
        loss: cross_entropy
        optimizer: AdamW(lr=3e-3, weight_decay=1e-4)
        schedule: warmup_cosine(warmup=50)
        metrics: [accuracy, f1]
        epochs: 30
    }

Every setting is `key [target]: value`. This module knows every key, loss, optimizer, schedule, metric and
data source with its arguments, types and ranges; it types loss expressions over the networks' outputs
(shapes are symbolic, the batch is `B`), and lints classic mistakes. The runtime (netc/train/) and the torch
backend consume the resulting spec; nothing here imports torch or numpy (numpy only to read the header of
an `.npz`/`.npy` file a section names). The tables of what a section may say are dsl/train_registry.py.
"""
from __future__ import annotations

from typing import Any

from . import ast
from .diagnostics import Diagnostics, Label, did_you_mean
from .ir import Graph, OpNode
from .source import Span
from .train_args import _literal  # noqa: F401
from .train_data_check import DataChecker
from .train_losses import LossChecker
from .train_registry import (  # noqa: F401 - the tables are also imported from here
    _ALIASES,
    _PRED,
    _REDUCTION,
    _SPLITS,
    _TARGET,
    _VALUE_PRESERVING,
    BINARY_LOSSES,
    CHECKPOINT,
    CLASS_LOSSES,
    DATA,
    EARLY_STOPPING,
    LOSSES,
    METRICS,
    NOISES,
    OPTIMIZERS,
    REGRESSION_LOSSES,
    REQUIRED,
    SCHEDULES,
    SETTINGS,
    TERMS,
    TRANSFORM_FNS,
    Fn,
    P,
    _betas,
    _fns,
    _fraction,
    _nonneg,
    _open_unit,
    _positive,
    _transform_fns,
)
from .train_settings import SettingsChecker
from .train_spec import (  # noqa: F401 - the spec is also imported from here
    BATCH,
    ERR,
    FnCall,
    LBin,
    LCall,
    LExpr,
    LIndex,
    LModel,
    LNeg,
    LNum,
    LRef,
    ModelSpec,
    TargetNeed,
    TrainSpec,
    TVal,
    metric_name,
    walk,
)
from .types import TensorType


def check_trains(trains: list[ast.TrainDef], result: Any, overrides: dict[str, Any] | None = None) -> list[TrainSpec]:
    """Check every `train` section of the main file; returns the specs of those without errors."""
    specs = []
    seen: dict[str, Span] = {}
    # Networks with header arguments are elaborated again; not when the file already has errors, which may
    # be recursive blocks that only the first elaboration guards against.
    reelaborate = not result.diagnostics.has_errors
    for tdef in trains:
        if tdef.name in seen:
            result.diagnostics.error("E502", f"`train {tdef.name}` is defined twice", tdef.name_span,
                                     secondary=[Label(seen[tdef.name], "first defined here")],
                                     help="give each train section its own name: `train name(Network) { ... }`")
            continue
        seen[tdef.name] = tdef.name_span
        checker = _Checker(tdef, result, overrides or {})
        checker.reelaborate = reelaborate
        spec = checker.run()
        if spec is not None:
            specs.append(spec)
    return specs


class _Checker(DataChecker, LossChecker, SettingsChecker):
    def __init__(self, tdef: ast.TrainDef, result: Any, overrides: dict[str, Any]) -> None:
        self.t = tdef
        self.result = result
        self.diags: Diagnostics = result.diagnostics
        self.overrides = overrides
        self.failed = False
        self.models: dict[str, ModelSpec] = {}
        self.env: dict[str, TVal] = {}
        self.free: dict[str, TensorType] = {}  # data fields whose type was fixed by their first use
        self.target_need: TargetNeed | None = None
        self.noises: dict[str, tuple[str, TensorType, Span]] = {}
        self.entries: dict[str, list[ast.TrainEntry]] = {}
        self.labels: TargetNeed | None = None  # the targets a data source fixes (digits: class labels)
        self.given_target: TensorType | None = None  # the targets an array file holds
        self.has_target = True  # False when an array file has no targets (an autoencoder's data)
        self.reelaborate = True
        self.free_numel: dict[str, tuple[int, Span]] = {}  # elements per sample a free data field must have
        self.transforms: list[FnCall] = []

    # -- driver ----------------------------------------------------------------------------------
    def run(self) -> TrainSpec | None:
        self._models()
        self._collect_entries()
        if not self.models:
            self._check_settings_only()
            return None
        single = len(self.models) == 1
        model = next(iter(self.models.values()))
        self._lint_dropout()
        data = self._data()
        self._bind_data(data, model if single else None)
        noises = self._noise_entries()
        self.noises = noises
        for name, (_, ttype, _) in noises.items():
            self.env[name] = TVal(ttype, ref=name)
        if single:
            for name, value in model.graph.outputs:
                producer = value.producer if isinstance(value.producer, OpNode) else None
                self.env[name] = TVal(value.type, producer, ref=name, output=name)
        losses, loss_spans = self._losses(single, model)
        optimizers = self._optimizers(losses)
        epochs = self._int_setting("epochs")
        steps = self._int_setting("steps")
        if epochs is None and steps is None and "epochs" not in self.entries and "steps" not in self.entries:
            self.error("E503", f"`train {self.t.name}` does not say how long to train", self.t.name_span,
                       help="add `epochs: 10` (passes over the data) or `steps: 1000` (optimizer steps)")
        if "epochs" in self.entries and "steps" in self.entries:
            e, s = self.entries["epochs"][0], self.entries["steps"][0]
            self.error("E508", "`epochs` and `steps` both set how long to train", s.key_span,
                       secondary=[Label(e.key_span, "epochs set here")], help="keep one of them")
        batch = self._int_setting("batch")
        batch = 32 if batch is None else batch
        self._check_batch_dims(batch)
        schedule = self._schedule(epochs)
        prediction, metric_kind = self._prediction(single, model, losses)
        metrics = self._metrics(prediction, metric_kind, single, model)
        lr_groups = self._lr_groups()
        freeze = self._module_list("freeze")
        replace = self._module_list("replace")
        init = self._init(replace)
        self._freeze_conflicts(freeze, replace, lr_groups)
        clip_norm = self._float_setting("clip_norm", _positive)
        clip_value = self._float_setting("clip_value", _positive)
        l1 = self._float_setting("l1", _nonneg) or 0.0
        seed = self._int_setting("seed", _nonneg)
        early = self._call_setting("early_stopping", {EARLY_STOPPING.name: EARLY_STOPPING}, "patience")
        checkpoint = self._checkpoint()
        spec_metrics = metrics
        self._monitors(["train_loss", "val_loss"] + [f"val_{metric_name(m)}" for m in metrics],
                       (early, schedule, checkpoint))
        if self.failed:
            return None
        spec = TrainSpec(
            name=self.t.name, span=self.t.span, source_path=self.t.span.source.path,
            models=list(self.models.values()), data=data, losses=losses, loss_spans=loss_spans,
            optimizers=optimizers, lr_groups=lr_groups, schedule=schedule, epochs=epochs, steps=steps,
            batch=batch, metrics=spec_metrics, metric_kind=metric_kind, prediction=prediction,
            clip_norm=clip_norm, clip_value=clip_value, l1=l1, early_stopping=early, checkpoint=checkpoint,
            seed=0 if seed is None else seed, init=init, freeze=freeze, replace=replace, noises=noises,
            input_type=self.free.get("x"), target=self.target_need,
            entry_spans={k: v[0].span for k, v in self.entries.items()},
            transforms=self.transforms,
        )
        return spec

    def _check_settings_only(self) -> None:
        """The networks did not elaborate (already reported): still check what needs no graph."""
        for entry in self.entries.get("optimizer", []):
            self._call(entry.value, OPTIMIZERS, "optimizer")
        self._data()
        for key in ("epochs", "steps", "batch"):
            self._int_setting(key)
        self._int_setting("seed", _nonneg)
        for key, check in (("clip_norm", _positive), ("clip_value", _positive), ("l1", _nonneg)):
            self._float_setting(key, check)
        self._call_setting("schedule", SCHEDULES, "schedule")
        self._call_setting("early_stopping", {EARLY_STOPPING.name: EARLY_STOPPING}, "patience")
        self._checkpoint()

    # -- header: which networks ------------------------------------------------------------------
    def _models(self) -> None:
        t = self.t
        items: list[tuple[ast.Expr, str | None, Span | None, Span]]
        if t.models is None:
            items = [(ast.Name(t.name_span, t.name), None, None, t.name_span)]
        else:
            items = [(m.network, m.alias, m.alias_span, m.span) for m in t.models]
            if not items:
                self.error("E503", f"`train {t.name}()` names no network", t.name_span,
                           help=f"name the network to train: `train {t.name}(Net) {{ ... }}`")
        for net_expr, alias, alias_span, span in items:
            args: tuple[ast.Arg, ...] = ()
            head = net_expr
            if isinstance(net_expr, ast.Call) and isinstance(net_expr.func, ast.Name):
                head, args = net_expr.func, net_expr.args
            if not isinstance(head, ast.Name):
                self.error("E500", "expected the name of a network here", net_expr.span,
                           help="write `Net`, `Net(param=value)` or `Net as alias`")
                continue
            name = head.id
            key = alias or name
            if key in self.models:
                self.error("E502", f"`{key}` is trained twice in `train {t.name}`", alias_span or head.span,
                           help="give each network its own alias: `Net as A, Net as B`")
                continue
            defn = self.result.definitions.get(name)
            if defn is None or defn.kind != "network":
                nets = [n for n, d in self.result.definitions.items() if d.kind == "network"]
                guess = did_you_mean(name, nets)
                what = "is a block, not a network" if defn is not None else "is not defined"
                self.error("E500", f"`{name}` {what}", head.span,
                           help=f"did you mean `{guess}`?" if guess else
                           (f"the networks are: {', '.join(sorted(nets))}" if nets else "define it with `network`"))
                continue
            params = self._header_args(defn, args, head.span)
            if params is ERR:
                continue
            graph = self._graph(name, params)
            if graph is None:
                self.failed = True  # its errors are already reported
                continue
            optional = set(getattr(graph, "input_defaults", {}) or {})
            self.models[key] = ModelSpec(key, name, graph, params, span,
                                         [n for n, _, _ in graph.inputs if n not in optional],
                                         [n for n, _ in graph.outputs])

    def _header_args(self, defn: ast.Definition, args: tuple[ast.Arg, ...], span: Span) -> Any:
        out: dict[str, Any] = {}
        names = [p.name for p in defn.params]
        for i, arg in enumerate(args):
            value = _literal(arg.value)
            if value is ERR:
                return self.error("E506", "network arguments in a train section must be numbers, strings or "
                                  "true/false", arg.value.span)
            if arg.name is None:
                if i >= len(names):
                    return self.error("E505", f"`{defn.name}` takes {len(names)} parameter"
                                      f"{'s' if len(names) != 1 else ''}", arg.span)
                out[names[i]] = value
            elif arg.name not in names:
                guess = did_you_mean(arg.name, names)
                return self.error("E505", f"`{defn.name}` has no parameter `{arg.name}`", arg.span,
                                  help=f"did you mean `{guess}`?" if guess else
                                  (f"its parameters are: {', '.join(names)}" if names else None))
            else:
                out[arg.name] = value
        return out

    def _graph(self, name: str, params: dict[str, Any]) -> Graph | None:
        if not params and name in self.result.graphs:
            return self.result.graphs[name]  # type: ignore[no-any-return]
        if not self.reelaborate:
            return None
        from .elaborate import Elaborator

        elab = Elaborator(self.result.definitions, self.diags, {**self.overrides, **params})
        return elab.network(name)
