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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ast
from .diagnostics import Diagnostics, Label, did_you_mean
from .dims import Dim, IntLike, dims_equal, subs, sym
from .ir import Graph, Module, OpNode
from .source import Span
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
from .types import DTYPES, FLOAT_DTYPES, TensorType

BATCH = "B"  # the batch dim in every type this module prints


# -- the spec: what the runtime and the torch backend consume ------------------------------------
@dataclass(frozen=True)
class FnCall:
    """A checked call with every argument resolved (defaults filled in)."""

    name: str
    args: dict[str, Any]
    span: Span
    arg_spans: dict[str, Span] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LRef:
    """A name in a loss expression: `target`, `x`, a data field, a network output or a noise."""

    name: str
    span: Span


@dataclass(frozen=True)
class LNum:
    value: float
    span: Span


@dataclass(frozen=True)
class LCall:
    """A loss (`cross_entropy`) or a term (`kl_normal`, `sum`, `detach`) applied to sub-expressions."""

    fn: str
    args: tuple[LExpr, ...]
    options: dict[str, Any]
    span: Span


@dataclass(frozen=True)
class LModel:
    """A network applied inside a loss expression (`D(G(z))`): multi-network training only."""

    alias: str
    args: tuple[LExpr, ...]
    span: Span


@dataclass(frozen=True)
class LBin:
    op: str  # + - * / **
    left: LExpr
    right: LExpr
    span: Span


@dataclass(frozen=True)
class LNeg:
    operand: LExpr
    span: Span


@dataclass(frozen=True)
class LIndex:
    value: LExpr
    index: int
    span: Span


LExpr = LRef | LNum | LCall | LModel | LBin | LNeg | LIndex


@dataclass
class ModelSpec:
    alias: str
    network: str
    graph: Graph
    overrides: dict[str, Any]
    span: Span
    required_inputs: list[str]
    output_names: list[str]


@dataclass
class TargetNeed:
    """What the data's target must be, as the loss uses it (synthetic data makes exactly this)."""

    kind: str  # "class" (integer labels in [0, classes)), "binary" (0/1 floats), "real", "dist"
    type: TensorType  # with the batch dim B
    classes: int | None = None


@dataclass
class TrainSpec:
    name: str
    span: Span
    source_path: str
    models: list[ModelSpec]
    data: FnCall
    losses: dict[str, LExpr]  # model alias -> loss, in the order the steps alternate
    loss_spans: dict[str, Span]
    optimizers: dict[str, FnCall]
    lr_groups: list[tuple[str, str, float, Span]]  # (alias, submodule path, lr, span)
    schedule: FnCall | None
    epochs: int | None
    steps: int | None
    batch: int
    metrics: list[FnCall]  # args: resolved "output" and metric-specific ones
    metric_kind: str | None  # "multiclass" or "binary" when metrics apply
    prediction: str | None  # the output that metrics score (single network)
    clip_norm: float | None
    clip_value: float | None
    l1: float
    early_stopping: FnCall | None
    checkpoint: FnCall
    seed: int
    init: tuple[str, Span] | None
    freeze: list[tuple[str, str, Span]]  # (alias, path, span)
    replace: list[tuple[str, str, Span]]
    noises: dict[str, tuple[str, TensorType, Span]]
    input_type: TensorType | None  # what the data's `x` must be (the first network input)
    target: TargetNeed | None
    entry_spans: dict[str, Span] = field(default_factory=dict)
    transforms: list[FnCall] = field(default_factory=list)

    @property
    def single(self) -> bool:
        return len(self.models) == 1

    def resolve(self, path: str) -> Path:
        """A path written in the section, relative to the .net file's folder."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.source_path).resolve().parent / p

    def monitors(self) -> list[str]:
        """The names `early_stopping`, `plateau` and `save(best=...)` may watch."""
        names = ["train_loss", "val_loss"]
        names += [f"val_{metric_name(m)}" for m in self.metrics]
        return names


def metric_name(m: FnCall) -> str:
    if m.name == "top_k":
        return f"top{m.args['k']}"
    return m.name


# -- the checker ---------------------------------------------------------------------------------
class _Err:
    def __repr__(self) -> str:
        return "ERR"


ERR: Any = _Err()


@dataclass
class TVal:
    """A value in a loss expression: a tensor type (None while a data field's type is still free)."""

    type: TensorType | None
    producer: OpNode | None = None  # for lints: the op that made a network output
    ref: str | None = None  # the name it came from, if a plain name
    output: str | None = None  # the network output it is, if any


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


class _Checker:
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

    # diagnostics
    def error(self, code: str, message: str, span: Span | None, **kw: Any) -> Any:
        self.failed = True
        self.diags.error(code, message, span, **kw)
        return ERR

    def warn(self, code: str, message: str, span: Span | None, **kw: Any) -> None:
        self.diags.warning(code, message, span, **kw)

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

    # -- entries ---------------------------------------------------------------------------------
    def _collect_entries(self) -> None:
        for entry in self.t.entries:
            key = entry.key
            if key not in SETTINGS:
                real = _ALIASES.get(key) or did_you_mean(key, SETTINGS)
                self.error("E501", f"unknown setting `{key}` in `train {self.t.name}`", entry.key_span,
                           help=f"did you mean `{real}`?" if real else
                           f"the settings are: {', '.join(SETTINGS)}")
                continue
            rule = SETTINGS[key][1]
            if rule == "required" and entry.target is None:
                self.error("E503", f"`{key}` needs a name before the colon", entry.key_span,
                           help={"lr": "write `lr fc: 1e-3` for the submodule `fc`",
                                 "noise": "write `noise z: normal(f32[B, 100])`"}[key])
                continue
            if rule == "no" and entry.target is not None:
                self.error("E508", f"`{key}` takes no name before the colon", entry.target_span,
                           help=f"write `{key}: ...`")
                continue
            same = [e for e in self.entries.get(key, []) if e.target == entry.target]
            if same:
                what = f"`{key} {entry.target}`" if entry.target else f"`{key}`"
                self.error("E502", f"{what} is set twice", entry.key_span,
                           secondary=[Label(same[0].key_span, "first set here")], help="keep one of them")
                continue
            self.entries.setdefault(key, []).append(entry)

    def _entry(self, key: str) -> ast.TrainEntry | None:
        got = self.entries.get(key)
        return got[0] if got else None

    def _int_setting(self, key: str, check: Callable[[Any], str | None] = _positive) -> int | None:
        entry = self._entry(key)
        if entry is None:
            return None
        v = _literal(entry.value)
        if v is ERR or isinstance(v, bool) or not isinstance(v, int):
            return self._bad(entry, f"`{key}` must be an integer", "a whole number, e.g. `10`")
        problem = check(v)
        if problem:
            return self._bad(entry, f"`{key}` {problem}, but it is {v}")
        return v

    def _float_setting(self, key: str, check: Callable[[Any], str | None]) -> float | None:
        entry = self._entry(key)
        if entry is None:
            return None
        v = _literal(entry.value)
        if v is ERR or isinstance(v, bool) or not isinstance(v, (int, float)):
            return self._bad(entry, f"`{key}` must be a number")
        problem = check(v)
        if problem:
            return self._bad(entry, f"`{key}` {problem}, but it is {v}")
        return float(v)

    def _bad(self, entry: ast.TrainEntry, message: str, help: str | None = None) -> None:
        self.error("E506", message, entry.value.span, help=help)
        return None

    def _call_setting(self, key: str, table: dict[str, Fn], what: str) -> FnCall | None:
        entry = self._entry(key)
        if entry is None:
            return None
        call = self._call(entry.value, table, what)
        return None if call is ERR else call

    def _call(self, expr: ast.Expr, table: dict[str, Fn], what: str) -> Any:
        """Check `Name` or `Name(args)` against a table of functions; returns an FnCall or ERR."""
        func, args = expr, ()
        if isinstance(expr, ast.Call):
            func, args = expr.func, expr.args
        if not isinstance(func, ast.Name):
            return self.error("E506", f"expected {what} here", expr.span,
                              help=f"one of: {', '.join(table)}")
        fn = table.get(func.id)
        if fn is None:
            guess = did_you_mean(func.id, table)
            return self.error("E504", f"unknown {what} `{func.id}`", func.span,
                              help=f"did you mean `{guess}`?" if guess else f"the {what}s are: {', '.join(table)}")
        values = self._bind_args(fn, args, expr.span, what, tensors=False)
        if values is ERR:
            return ERR
        positional = [p.name for p in fn.params if p.positional]
        spans = {a.name or positional[min(i, len(positional) - 1)]: a.value.span for i, a in enumerate(args)
                 if a.name or positional}
        return FnCall(fn.name, values, expr.span, spans)

    def _bind_args(self, fn: Fn, args: tuple[ast.Arg, ...], span: Span, what: str, tensors: bool) -> Any:
        """Match arguments to parameters like Python does; literal values are checked and coerced.

        With `tensors`, parameters of kind "tensor" keep their AST (typed by the caller)."""
        out: dict[str, Any] = {}
        positional = [p for p in fn.params if p.positional]
        names = [p.name for p in fn.params]
        ok = True
        n_pos = 0
        for arg in args:
            if arg.name is None:
                if n_pos >= len(positional):
                    self.error("E505", f"`{fn.name}` takes {len(positional)} positional argument"
                               f"{'s' if len(positional) != 1 else ''}, but more were given", arg.span,
                               help=f"name them: {', '.join(p.name + '=...' for p in fn.params if not p.positional)}"
                               if len(positional) < len(fn.params) else None)
                    ok = False
                    continue
                param = positional[n_pos]
                n_pos += 1
            else:
                param = next((p for p in fn.params if p.name == arg.name), None)
                if param is None:
                    guess = did_you_mean(arg.name, names)
                    self.error("E505", f"{what} `{fn.name}` has no argument `{arg.name}`", arg.span,
                               help=f"did you mean `{guess}`?" if guess else
                               (f"its arguments are: {', '.join(names)}" if names else f"`{fn.name}` takes none"))
                    ok = False
                    continue
                if param.name in out:
                    self.error("E505", f"argument `{param.name}` of `{fn.name}` is given twice", arg.span)
                    ok = False
                    continue
            if param.kind == "tensor":
                out[param.name] = arg.value if tensors else ERR
                continue
            value = self._coerce(param, arg.value, fn)
            if value is ERR:
                ok = False
            out[param.name] = value
        for p in fn.params:
            if p.name in out:
                continue
            if p.default is REQUIRED:
                if p.kind == "tensor" and tensors:
                    out[p.name] = None  # filled in by the caller (the default target, ...)
                    continue
                self.error("E507", f"{what} `{fn.name}` needs `{p.name}`", span,
                           help=f"pass it: `{fn.name}({p.name}=...)`" + (f" ({p.doc})" if p.doc else ""))
                ok = False
                continue
            out[p.name] = p.default
        return out if ok else ERR

    def _coerce(self, p: P, expr: ast.Expr, fn: Fn) -> Any:
        value = _literal(expr)
        if p.kind in ("name", "str") and isinstance(expr, ast.Name):
            value = expr.id
        if p.kind == "names" and isinstance(expr, ast.ListExpr):
            value = [e.id if isinstance(e, ast.Name) else _literal(e) for e in expr.items]
        want = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string",
                "name": "a name", "pair": "a pair of numbers like (0.9, 0.999)", "names": "a list of names",
                "floats": "a number or a list of numbers like (0.5, 0.5, 0.5)"}[p.kind]
        good = {
            "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "bool": lambda v: isinstance(v, bool),
            "str": lambda v: isinstance(v, str),
            "name": lambda v: isinstance(v, str),
            "pair": lambda v: isinstance(v, tuple) and len(v) == 2 and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in v),
            "names": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
            "floats": lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)) or (
                isinstance(v, (tuple, list)) and len(v) > 0 and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)),
        }[p.kind]
        if p.default is None and isinstance(expr, ast.Const) and expr.value is None:
            return None
        if value is ERR or not good(value):
            return self.error("E506", f"`{p.name}` of `{fn.name}` must be {want}", expr.span,
                              help=f"{p.name}: {p.doc}" if p.doc else None)
        if p.kind == "float":
            value = float(value)
        if p.kind == "pair":
            value = tuple(float(x) for x in value)
        if p.kind == "floats":
            value = tuple(float(x) for x in value) if isinstance(value, (tuple, list)) else float(value)
        if p.choices and value not in p.choices:
            guess = did_you_mean(value, p.choices)
            return self.error("E506", f"`{p.name}` of `{fn.name}` cannot be `{value}`", expr.span,
                              help=f"did you mean `{guess}`?" if guess else f"use one of: {', '.join(p.choices)}")
        if p.check is not None:
            problem = p.check(value)
            if problem:
                return self.error("E506", f"`{p.name}` of `{fn.name}` {problem}, but it is {value}", expr.span)
        return value

    # -- data ------------------------------------------------------------------------------------
    def _data(self) -> FnCall:
        entry = self._entry("data")
        if entry is None:
            # Every sample trains offline: without a data source, inputs of the declared types.
            return FnCall("synthetic", {"n": 512, "val": 0.2, "test": 0.0}, self.t.name_span)
        call = self._call(entry.value, DATA, "data source")
        if call is ERR:
            return FnCall("synthetic", {"n": 512, "val": 0.2, "test": 0.0}, entry.value.span)
        if call.args.get("val", 0) + call.args.get("test", 0) >= 1:
            self.error("E506", "`val` and `test` leave nothing to train on", entry.value.span,
                       help="together they must be below 1, e.g. val=0.1, test=0.2")
        return call  # type: ignore[no-any-return]

    def _bind_data(self, data: FnCall, model: ModelSpec | None) -> None:
        """Types of `x` and `target` in loss expressions; None (free) until their first use fixes them."""
        x_type: TensorType | None = None
        self.env["x"] = TVal(None, ref="x")
        self.env["target"] = TVal(None, ref="target")
        if model is not None:
            if len(model.required_inputs) != 1:
                names = ", ".join(model.required_inputs) or "none"
                self.error("E512", f"`{model.network}` needs {len(model.required_inputs)} inputs ({names}); "
                           "training feeds one input from the data", model.span,
                           help="train a network with one required input, or several networks with `loss` "
                           "expressions that call them")
                return
            name = model.required_inputs[0]
            value = next(v for n, v, _ in model.graph.inputs if n == name)
            x_type = self._batched(value.type, model, name)
            if x_type is None:
                return
            self.free["x"] = x_type
        self.transforms = self._transforms()
        if data.name == "torchvision":
            # Its files are torchvision's to read (this module never imports it): the classes come from the
            # network's scores, the layout is checked when training opens the data set (netc/train/vision.py).
            self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), None)
        if self.transforms or data.name in ("images", "csv", "text", "npz", "npy"):
            self._source_layout(data, x_type, model)
        elif data.name == "digits":
            self._digits_fit(data, x_type, model)
        elif data.name in ("npz", "npy"):
            self._array_files(data, x_type)
        x_val = TVal(self.free.get("x"), ref="x")
        self.env["x"] = x_val
        if model is not None:
            self.env[model.required_inputs[0]] = x_val
        self.env["target"] = TVal(None, ref="target")

    def _batched(self, t: TensorType, model: ModelSpec, name: str) -> TensorType | None:
        """The input type with its first dim as the batch B; other dims must be known numbers."""
        if not t.dims:
            self.error("E512", f"input `{name}` of `{model.network}` has no batch dim", model.span)
            return None
        dims: list[IntLike] = [sym(BATCH)]
        for d in t.dims[1:]:
            if not isinstance(d, int):
                sym_names = sorted(d.symbols()) if isinstance(d, Dim) else [str(d)]
                self.error("E512", f"input `{name}` of `{model.network}` is {t}: training needs every dim "
                           "but the batch to be a number", model.span,
                           help=f"bind {', '.join(sym_names)} with `--set {sym_names[0]}=...` or a default "
                           "parameter")
                return None
            dims.append(d)
        return TensorType(t.dtype, tuple(dims))

    def _transforms(self) -> list[FnCall]:
        entry = self._entry("transforms")
        if entry is None:
            return []
        items = entry.value.items if isinstance(entry.value, ast.ListExpr) else (entry.value,)
        out = []
        for item in items:
            call = self._call(item, TRANSFORM_FNS, "transform")
            if call is not ERR:
                out.append(call)
        return out

    def _source_layout(self, data: FnCall, x_type: TensorType | None, model: ModelSpec | None) -> None:
        """What the source gives (from the files' headers), through the declared transforms, against the
        network's input; a mismatch names the transform that fixes it."""
        from . import train_data as td

        base = Path(self.t.span.source.path).resolve().parent
        args = data.args
        try:
            if data.name == "digits":
                self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), args["classes"])
                layout = td.Layout((8, 8), "float32")
            elif data.name == "images":
                folders = td.class_folders(base / args["path"])
                self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), len(folders))
                layout = td.image_layout(folders[0][1][0])
            elif data.name == "csv":
                columns = td.csv_columns(base / args["path"])
                if args["label"] not in columns:
                    guess = did_you_mean(args["label"], columns)
                    self.error("E513", f"{args['path']} has no column `{args['label']}`", data.span,
                               help=f"did you mean label=\"{guess}\"?" if guess else f"its columns: {', '.join(columns)}")
                    return
                layout = td.Layout((len(columns) - 1,), "float32")
            elif data.name == "text":
                length, vocabulary = td.text_vocabulary(base / args["path"])
                if length <= args["length"]:
                    self.error("E513", f"{args['path']} has {length} characters: fewer than one block of "
                               f"{args['block']} and the next character", data.span)
                    return
                layout = td.Layout((args["length"],), "int64")
                self.given_target = TensorType("i64", (sym(BATCH), args["length"]))
                self._text_vocabulary(vocabulary, model, data.span)
            elif data.name in ("npz", "npy"):
                before = self.free.pop("x", None)
                self._array_files(data, None)  # reads the headers; sets the raw type of x as if free
                x = self.free.pop("x", None)
                if before is not None:
                    self.free["x"] = before
                if x is None:
                    return
                layout = td.Layout(tuple(int(d) for d in x.dims[1:]), DTYPES.get(x.dtype, "float32"))
            else:  # synthetic data is already what the network takes
                return
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.error("E513", f"cannot read the training data: {exc}", data.span,
                       help=f"paths are relative to the folder of {self.t.span.source.path}")
            return
        for call in self.transforms:
            try:
                layout = td.apply(layout, [(call.name, call.args)])
            except td.LayoutError as exc:
                self.error("E512", str(exc), call.span)
                return
        if x_type is None:
            self.free["x"] = TensorType(_np_dtype(layout.dtype), (sym(BATCH), *layout.dims))
            return
        want = tuple(x_type.dims[1:])
        floating = x_type.dtype in FLOAT_DTYPES
        where = self._entry("transforms")
        span = where.value.span if where is not None else data.span
        if layout.dims != want:
            self.error("E512", f"the data's x is {layout} per sample, but the network takes {x_type}", span,
                       help=td.fixing_hint(layout, want, floating) or "each sample must have the shape of the "
                       "input after its batch dim")
        elif floating and not layout.dtype.startswith("float"):
            self.error("E512", f"the data's x is {layout} per sample, but the network takes {x_type}", span,
                       help="add `to_float(255)` to `transforms` (pixels 0..255 to 0..1), or `to_float` to keep "
                       "the numbers as they are")
        elif not floating and layout.dtype.startswith("float"):
            self.error("E512", f"the data's x is {layout} per sample, but the network takes {x_type}", span,
                       help="integer inputs (token ids) cannot come from floating-point data")

    def _text_vocabulary(self, vocabulary: int, model: ModelSpec | None, span: Span) -> None:
        if model is None or not model.graph.inputs:
            return
        first = model.graph.inputs[0][1]
        for node in model.graph.op_nodes():
            if node.op == "Embedding" and any(v.id == first.id for v in node.inputs):
                size = int(node.attrs["num_embeddings"])
                if size < vocabulary:
                    self.error("E512", f"the text has {vocabulary} distinct characters, but `{model.network}` "
                               f"embeds only {size}", span, help=f"give its Embedding {vocabulary} or more entries")

    def _digits_fit(self, data: FnCall, x_type: TensorType | None, model: ModelSpec | None) -> None:
        self.labels = TargetNeed("class", TensorType("i64", (sym(BATCH),)), data.args["classes"])
        if x_type is None:
            self.free_numel["x"] = (64, data.span)  # several networks: the first that takes `x` shapes it
            return
        if _numel(x_type) != 64 or x_type.dtype not in FLOAT_DTYPES:
            self.error("E512", f"`digits` gives 8x8 images of f32, but the input is {x_type}", data.span,
                       secondary=[Label(model.span, "this network")] if model and
                       model.span.source is data.span.source else [],
                       help="declare the input as f32[B, 64], f32[B, 8, 8] or f32[B, 1, 8, 8]")

    def _array_files(self, data: FnCall, x_type: TensorType | None) -> None:
        """Read the shapes and dtypes of the arrays (headers only) so a mismatch is found now."""
        base = Path(self.t.span.source.path).resolve().parent
        fields: dict[str, tuple[tuple[int, ...], str] | None] = {}
        try:
            if data.name == "npz":
                path = base / data.args["path"]
                fields = _npz_headers(path, [data.args["x"], data.args["y"]])
                x_hdr, y_hdr = fields.get(data.args["x"]), fields.get(data.args["y"])
                if x_hdr is None:
                    keys = sorted(fields)
                    guess = did_you_mean(data.args["x"], keys)
                    self.error("E513", f"{data.args['path']} has no array `{data.args['x']}`", data.span,
                               help=f"did you mean x=\"{guess}\"?" if guess else f"its arrays are: {', '.join(keys)}")
                    return
            else:
                x_hdr = _npy_header(base / data.args["x"])
                y_hdr = _npy_header(base / data.args["y"]) if data.args["y"] else None
        except OSError as exc:
            # Name the file as written, not the absolute path: messages must not depend on the machine.
            written = Path(str(exc.filename)).name if exc.filename else "the data file"
            reason = (exc.strerror or str(exc)).lower()
            self.error("E513", f"cannot read `{written}`: {reason}", data.span,
                       help=f"paths are relative to the folder of {self.t.span.source.path}")
            return
        except ValueError as exc:
            self.error("E513", f"cannot read the training data: {exc}", data.span)
            return
        shape, dtype = x_hdr  # type: ignore[misc]
        if x_type is not None:
            want = tuple(x_type.dims[1:])
            if tuple(shape[1:]) != want:
                self.error("E512", f"the data's x is {dtype}{list(shape)}, but the network takes {x_type}", data.span,
                           help="each sample must have the shape of the input after its batch dim")
        else:
            self.free["x"] = TensorType(_np_dtype(dtype), (sym(BATCH), *shape[1:]))
        if y_hdr is not None:
            yshape, ydtype = y_hdr
            if yshape[:1] != shape[:1]:
                self.error("E512", f"the data has {shape[0]} inputs but {yshape[0] if yshape else 0} targets",
                           data.span)
            self.given_target = TensorType(_np_dtype(ydtype), (sym(BATCH), *yshape[1:]))
        else:
            self.has_target = False

    def _noise_entries(self) -> dict[str, tuple[str, TensorType, Span]]:
        out: dict[str, tuple[str, TensorType, Span]] = {}
        for entry in self.entries.get("noise", []):
            name = entry.target or ""
            v = entry.value
            if not (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and len(v.args) == 1
                    and v.args[0].name is None and isinstance(v.args[0].value, ast.Index)):
                self.error("E506", "a noise is `normal(f32[B, ...])` or `uniform(f32[B, ...])`", v.span)
                continue
            if v.func.id not in NOISES:
                guess = did_you_mean(v.func.id, NOISES)
                self.error("E504", f"unknown noise `{v.func.id}`", v.func.span,
                           help=f"did you mean `{guess}`?" if guess else "use `normal` or `uniform`")
                continue
            ttype = self._type_literal(v.args[0].value)
            if ttype is not ERR:
                out[name] = (v.func.id, ttype, entry.span)
        return out

    def _type_literal(self, e: ast.Index) -> Any:
        if not isinstance(e.value, ast.Name) or e.value.id not in DTYPES:
            guess = did_you_mean(e.value.span.text, DTYPES)
            return self.error("E506", "expected a tensor type like f32[B, 100]", e.value.span,
                              help=f"did you mean `{guess}`?" if guess else None)
        if e.value.id not in FLOAT_DTYPES:
            return self.error("E506", "noise is floating point", e.value.span, help="use f32")
        dims: list[IntLike] = []
        for i, d in enumerate(e.items):
            if isinstance(d, ast.Name) and d.id == BATCH and i == 0:
                dims.append(sym(BATCH))
            elif isinstance(d, ast.Number) and isinstance(d.value, int) and d.value > 0:
                dims.append(d.value)
            else:
                return self.error("E506", f"a noise dim is a positive number (the first may be {BATCH}, the batch)",
                                  d.span)
        return TensorType(e.value.id, tuple(dims))

    def _check_batch_dims(self, batch: int) -> None:
        entry = self._entry("batch")
        if entry is None:
            return
        for m in self.models.values():
            defn = self.result.definitions.get(m.network)
            declared = {st.name: st.type.dims[0] for st in getattr(defn, "body", ()) if isinstance(st, ast.Input)
                        and st.type.dims}
            for name, value, span in m.graph.inputs:
                d = value.type.dims[0] if value.type.dims else None
                first = declared.get(name)
                if isinstance(first, ast.Name) and first.id in self.overrides:
                    continue  # `--set B=3` for `netc verify` or `check`: the file still trains with `batch`
                if isinstance(d, int) and d != batch:
                    self.error("E508", f"batch {batch} does not fit input `{name}` of `{m.network}`, declared with "
                               f"{d} samples", entry.value.span,
                               secondary=[Label(span, "declared here")] if span.source is entry.span.source else [],
                               help="declare the first dim as a symbol (`B`) or use that batch size")

    # -- losses ----------------------------------------------------------------------------------
    def _losses(self, single: bool, model: ModelSpec) -> tuple[dict[str, LExpr], dict[str, Span]]:
        out: dict[str, LExpr] = {}
        spans: dict[str, Span] = {}
        entries = self.entries.get("loss", [])
        if not entries:
            self.error("E503", f"`train {self.t.name}` has no `loss`", self.t.name_span,
                       help="add `loss: cross_entropy` (or mse, bce_with_logits, ...)")
            return out, spans
        for entry in entries:
            alias = entry.target
            if alias is None:
                if not single:
                    self.error("E503", "with several networks, each `loss` names the network it trains",
                               entry.key_span, help=f"write `loss {next(iter(self.models))}: ...`")
                    continue
                alias = model.alias
            elif alias not in self.models:
                guess = did_you_mean(alias, self.models)
                self.error("E510", f"no network `{alias}` in `train {self.t.name}`", entry.target_span,
                           help=f"did you mean `{guess}`?" if guess else f"the networks are: {', '.join(self.models)}")
                continue
            expr = self._loss_expr(entry.value, single, model, top=True)
            if expr is ERR:
                continue
            lexpr, tval = expr
            if tval.type is not None and tval.type.dims:
                self.error("E509", f"the loss must be a single number, but this is {tval.type}", entry.value.span,
                           help="reduce it with `mean(...)` or `sum(...)`")
                continue
            out[alias] = lexpr
            spans[alias] = entry.value.span
        return out, spans

    def _loss_expr(self, e: ast.Expr, single: bool, model: ModelSpec, top: bool = False) -> Any:
        """Type a loss expression; returns (LExpr, TVal) or ERR."""
        if isinstance(e, ast.Name):
            if e.id in LOSSES:
                return self._loss_call(LOSSES[e.id], (), e.span, e.span, single, model)
            if e.id in self.env:
                return LRef(e.id, e.span), self.env[e.id]
            if e.id in TERMS:
                return self.error("E506", f"`{e.id}` needs arguments", e.span, help=f"write `{e.id}(...)`")
            loss_guess = did_you_mean(e.id, LOSSES)
            if loss_guess is not None and did_you_mean(e.id, self.env) is None:
                return self.error("E504", f"unknown loss `{e.id}`", e.span, help=f"did you mean `{loss_guess}`?")
            known = list(self.env) + list(LOSSES)
            guess = did_you_mean(e.id, known)
            names = [n for n in self.env if n not in ("x", "target")]
            return self.error("E510", f"unknown name `{e.id}` in the loss", e.span,
                              help=f"did you mean `{guess}`?" if guess else
                              "a loss can use `x` and `target` from the data" +
                              (f", and {', '.join(f'`{n}`' for n in names)}" if names else ""))
        if isinstance(e, ast.Number):
            return LNum(float(e.value), e.span), TVal(TensorType("f32", ()))
        if isinstance(e, ast.UnaryOp) and e.op in ("-", "+"):
            inner = self._loss_expr(e.operand, single, model)
            if inner is ERR:
                return ERR
            return (LNeg(inner[0], e.span) if e.op == "-" else inner[0]), TVal(inner[1].type)
        if isinstance(e, ast.BinOp) and e.op in ("+", "-", "*", "/", "**"):
            left = self._loss_expr(e.left, single, model)
            right = self._loss_expr(e.right, single, model)
            if left is ERR or right is ERR:
                return ERR
            t = self._broadcast(left[1], right[1], e)
            if t is ERR:
                return ERR
            return LBin(e.op, left[0], right[0], e.span), TVal(t)
        if isinstance(e, ast.Index) and len(e.items) == 1 and isinstance(e.items[0], ast.Number):
            inner = self._loss_expr(e.value, single, model)
            if inner is ERR:
                return ERR
            vals = inner[1]
            idx = int(e.items[0].value)
            if not isinstance(vals, tuple) or not 0 <= idx < len(vals):
                n = len(vals) if isinstance(vals, tuple) else 1
                return self.error("E509", f"index {idx} is out of range: this has {n} output{'s' if n != 1 else ''}",
                                  e.span)
            return LIndex(inner[0], idx, e.span), vals[idx]
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            name = e.func.id
            if name in LOSSES:
                return self._loss_call(LOSSES[name], e.args, e.span, e.func.span, single, model)
            if name in TERMS:
                return self._term_call(TERMS[name], e, single, model)
            if name in self.models and not single:
                return self._model_call(self.models[name], e, single, model)
            candidates = list(LOSSES) + list(TERMS) + (list(self.models) if not single else [])
            guess = did_you_mean(name, candidates)
            return self.error("E504", f"unknown loss or function `{name}`", e.func.span,
                              help=f"did you mean `{guess}`?" if guess else f"the losses are: {', '.join(LOSSES)}")
        return self.error("E506", "a loss is a loss function, or arithmetic over losses, outputs and numbers",
                          e.span, help="e.g. `cross_entropy`, `mse(recon, x) + 0.1 * kl_normal(mu, logvar)`")

    def _broadcast(self, a: TVal, b: TVal, e: ast.BinOp) -> Any:
        if isinstance(a, tuple) or isinstance(b, tuple):
            return self.error("E509", "this network call has several outputs; pick one with `[i]`", e.span)
        ta, tb = a.type, b.type
        if ta is None or tb is None:
            return ta or tb
        dims: list[IntLike] = []
        for i in range(max(ta.rank, tb.rank)):
            da = ta.dims[ta.rank - 1 - i] if i < ta.rank else 1
            db = tb.dims[tb.rank - 1 - i] if i < tb.rank else 1
            if da == 1:
                dims.append(db)
            elif db == 1 or dims_equal(da, db):
                dims.append(da)
            else:
                return self.error("E509", f"cannot combine {ta} and {tb} with `{e.op}`: the shapes do not broadcast",
                                  e.span)
        return TensorType("f32", tuple(reversed(dims)))

    def _value_arg(self, expr: ast.Expr | None, single: bool, model: ModelSpec) -> Any:
        if expr is None:
            return None
        if isinstance(expr, ast.Number):
            return LNum(float(expr.value), expr.span), TVal(TensorType("f32", ()))
        return self._loss_expr(expr, single, model)

    def _loss_call(self, fn: Fn, args: tuple[ast.Arg, ...], span: Span, name_span: Span, single: bool,
                   model: ModelSpec) -> Any:
        bound = self._bind_args(fn, args, span, "loss", tensors=True)
        if bound is ERR:
            return ERR
        pred_ast, target_ast = bound.pop("pred"), bound.pop("target")
        if pred_ast is None:
            if single and not model.output_names:
                self.failed = True  # the network's own errors are reported already
                return ERR
            if not single:
                return self.error("E507", f"`{fn.name}` needs its arguments here", span,
                                  help=f"write `{fn.name}(D(x), 1)`")
            if len(model.output_names) != 1:
                return self.error("E507", f"`{model.network}` has {len(model.output_names)} outputs: say which "
                                  f"one `{fn.name}` scores", span,
                                  help=f"write `{fn.name}({model.output_names[0]})`")
            name = model.output_names[0]
            pred = (LRef(name, span), self.env[name])
        else:
            pred = self._value_arg(pred_ast, single, model)
        if target_ast is None:
            target = (LRef("target", span), self.env["target"])
        else:
            target = self._value_arg(target_ast, single, model)
        if pred is ERR or target is ERR:
            return ERR
        self._check_loss_types(fn, pred[1], target, span, name_span)
        self._lint(fn, pred[1], name_span)
        return LCall(fn.name, (pred[0], target[0]), bound, span), TVal(TensorType("f32", ()))

    def _check_loss_types(self, fn: Fn, pred: Any, target_pair: tuple[LExpr, Any], span: Span,
                          name_span: Span) -> None:
        target_expr, target = target_pair
        if isinstance(pred, tuple) or isinstance(target, tuple):
            self.error("E509", "this network call has several outputs; pick one with `[i]`", span)
            return
        p = pred.type
        if p is None:
            self.error("E509", f"`{fn.name}` cannot score the data itself", span,
                       help="its first argument is a network output")
            return
        what = f"`{pred.output}`" if pred.output else "the prediction"
        where = [Label(pred.producer.span, "produced here")] if pred.producer is not None and \
            pred.producer.span.source is span.source else []
        if p.dtype not in FLOAT_DTYPES:
            self.error("E509", f"`{fn.name}` needs floating-point predictions, but {what} is {p}", span,
                       secondary=where)
            return
        is_number_target = isinstance(target_expr, LNum)
        if fn.name in CLASS_LOSSES:
            if p.rank < 2:
                self.error("E509", f"`{fn.name}` needs scores per class, [B, C], but {what} is {p}", span,
                           secondary=where, help="for one score per sample use bce_with_logits")
                return
            classes = p.dims[1]
            if classes == 1:
                self.error("E509", f"`{fn.name}` over 1 class is always 0: {what} is {p}", span,
                           secondary=where, help="for a yes/no output with one logit, use bce_with_logits")
                return
            want = TensorType("i64", (p.dims[0], *p.dims[2:]))
            self._target(fn, target, TargetNeed("class", want, classes if isinstance(classes, int) else None),
                         span, what, p, is_number_target)
        elif fn.name in BINARY_LOSSES:
            self._target(fn, target, TargetNeed("binary", p.with_dtype("f32")), span, what, p, is_number_target)
        elif fn.name == "kl_div":
            self._target(fn, target, TargetNeed("dist", p.with_dtype("f32")), span, what, p, is_number_target)
        else:
            self._target(fn, target, TargetNeed("real", p.with_dtype("f32")), span, what, p, is_number_target)

    def _target(self, fn: Fn, target: TVal, need: TargetNeed, span: Span, what: str, p: TensorType,
                is_number: bool) -> None:
        if is_number:
            if need.kind == "class":
                self.error("E509", f"`{fn.name}` needs class indices as its target, not a number", span)
            return
        if target.ref == "target" and target.type is None:
            if not self.has_target:
                self.error("E509", f"`{fn.name}` scores against the data's target, but the data has none", span,
                           help="add the targets to the data (`y`), or compare with an input, as in mse(out, x)")
                return
            if self.labels is not None:  # digits: integer labels [B] over `classes` classes
                self._labels_fit(fn, self.labels, need, span, what, p)
                return
            if self.given_target is not None:
                self._given_fits(fn, self.given_target, need, span, what, p)
            if self.target_need is not None and self.target_need != need and \
                    (self.target_need.kind, self.target_need.type) != (need.kind, need.type):
                self.error("E509", f"`{fn.name}` needs the target as {_need_text(need)}, but another loss needs "
                           f"{_need_text(self.target_need)}", span)
                return
            self.target_need = need
            return
        t = target.type
        if t is None:
            return
        if need.kind == "class":
            if t.dtype in FLOAT_DTYPES and _same_dims(t.dims, p.dims):
                return  # class probabilities, as torch accepts
            if t.dtype in FLOAT_DTYPES or not _same_dims(t.dims, need.type.dims):
                self.error("E509", f"`{fn.name}` needs {_need_text(need)} as the target of {what} {p}, but it is {t}",
                           span)
            return
        if not _same_dims(t.dims, need.type.dims):
            self.error("E509", f"`{fn.name}` needs a target shaped like {what} {p}, but it is {t}", span,
                       help="the prediction and the target must have the same shape")

    def _labels_fit(self, fn: Fn, labels: TargetNeed, need: TargetNeed, span: Span, what: str, p: TensorType) -> None:
        classes = labels.classes or 0
        if need.kind == "class":
            if p.rank != 2:
                self.error("E509", f"the data's labels are {labels.type}, so `{fn.name}` needs {what} as [B, C], "
                           f"but it is {p}", span)
            elif isinstance(p.dims[1], int) and p.dims[1] < classes:
                self.error("E509", f"the data has {classes} classes, but {what} {p} scores only {p.dims[1]}", span,
                           help=f"make the network output {classes} scores")
            if labels.classes is None:  # a source whose classes are known only when read: as many as scored
                classes = p.dims[1] if p.rank == 2 and isinstance(p.dims[1], int) else 0
            self.target_need = TargetNeed("class", need.type, classes or None)
            return
        hint = "use cross_entropy for class labels" if fn.name in BINARY_LOSSES or fn.name in REGRESSION_LOSSES \
            else None
        self.error("E509", f"`{fn.name}` needs a target shaped like {what} {p}, but the data's targets are class "
                   f"labels {labels.type}", span, help=hint)

    def _given_fits(self, fn: Fn, given: TensorType, need: TargetNeed, span: Span, what: str,
                    p: TensorType) -> None:
        if need.kind == "class":
            ok = given.dtype not in FLOAT_DTYPES and _same_dims(given.dims, need.type.dims) or (
                given.dtype in FLOAT_DTYPES and _same_dims(given.dims, p.dims))  # class probabilities
        elif need.kind == "binary" and given.rank == 1 and need.type.rank == 2 and need.type.dims[1] == 1:
            ok = True  # labels [N] for one logit [B, 1]: the runtime views them as [B, 1]
        else:
            ok = _same_dims(given.dims, need.type.dims)
        if not ok:
            self.error("E509", f"`{fn.name}` needs {_need_text(need)}, but the data's targets are {given}", span)

    def _term_call(self, fn: Fn, e: ast.Call, single: bool, model: ModelSpec) -> Any:
        bound = self._bind_args(fn, e.args, e.span, "function", tensors=True)
        if bound is ERR:
            return ERR
        tensor_names = [p.name for p in fn.params if p.kind == "tensor"]
        missing = [n for n in tensor_names if bound.get(n) is None]
        if missing:  # `abs()`: the tensor arguments of a term have no default to fall back on
            return self.error("E507", f"`{fn.name}` needs `{missing[0]}`", e.span,
                              help=f"pass it: `{fn.name}({', '.join(tensor_names)})`")
        typed = [self._value_arg(bound.pop(n), single, model) for n in tensor_names]
        if any(t is ERR for t in typed):
            return ERR
        for (_, tv) in typed:
            if isinstance(tv, tuple):
                return self.error("E509", "this network call has several outputs; pick one with `[i]`", e.span)
        types = [tv.type for _, tv in typed]
        if fn.name == "kl_normal":
            a, b = types
            if a is not None and b is not None and not _same_dims(a.dims, b.dims):
                return self.error("E509", f"`kl_normal` needs mu and logvar of one shape, but they are {a} and {b}",
                                  e.span)
            out = TVal(TensorType("f32", ()))
        elif fn.name in ("sum", "mean"):
            out = TVal(TensorType("f32", ()))
        elif fn.name == "flatten":
            t = types[0]
            if t is not None and t.rank < 1:
                return self.error("E509", f"`flatten` needs a batch dim, but this is {t}", e.span)
            out = TVal(None if t is None else TensorType(t.dtype, (t.dims[0], _numel(t))))
        else:
            t = types[0]
            src = typed[0][1]
            out = TVal(t, src.producer if fn.name == "detach" else None, output=src.output if fn.name == "detach"
                       else None)
        return LCall(fn.name, tuple(x for x, _ in typed), bound, e.span), out

    def _model_call(self, m: ModelSpec, e: ast.Call, single: bool, model: ModelSpec) -> Any:
        graph = m.graph
        inputs = graph.inputs
        optional = set(getattr(graph, "input_defaults", {}) or {})
        n_req = len(m.required_inputs)
        if any(a.name is not None for a in e.args):
            return self.error("E505", f"pass `{m.alias}`'s inputs by position", e.span)
        if not n_req <= len(e.args) <= len(inputs):
            want = f"{n_req}" if n_req == len(inputs) else f"{n_req} to {len(inputs)}"
            return self.error("E509", f"`{m.alias}` ({m.network}) takes {want} input{'s' if len(inputs) != 1 else ''}, "
                              f"but {len(e.args)} {'was' if len(e.args) == 1 else 'were'} given", e.span)
        args = [self._value_arg(a.value, single, model) for a in e.args]
        if any(a is ERR for a in args):
            return ERR
        binding: dict[str, IntLike] = {}
        for (name, value, _), arg, ast_arg in zip(inputs, args, e.args):
            tv = arg[1]
            if isinstance(tv, tuple):
                return self.error("E509", "this network call has several outputs; pick one with `[i]`", ast_arg.span)
            declared = value.type
            if tv.type is None:  # a data field used for the first time: the network fixes its type
                batched = self._batched(declared, m, name)
                if batched is None:
                    return ERR
                need = self.free_numel.get(tv.ref or "x")
                if need is not None and (_numel(batched) != need[0] or batched.dtype not in FLOAT_DTYPES):
                    return self.error("E512", f"the data gives samples of {need[0]} floats, but `{m.alias}` input "
                                      f"`{name}` is {declared}", ast_arg.span, secondary=[Label(need[1], "the data")])
                self.free[tv.ref or "x"] = batched
                tv.type = batched
            actual = tv.type
            if name in optional and actual is None:
                continue
            if actual.dtype != declared.dtype or actual.rank != declared.rank:
                return self.error("E509", f"`{m.alias}` input `{name}` is {declared}, but this is {actual}",
                                  ast_arg.span)
            for d, a in zip(declared.dims, actual.dims):
                if isinstance(d, Dim) and d.as_int() is None and len(d.symbols()) == 1 and \
                        str(d) == next(iter(d.symbols())):
                    got = binding.setdefault(str(d), a)
                    if dims_equal(got, a) is False:
                        return self.error("E509", f"`{m.alias}` input `{name}` needs {d} = {got}, but this has {a}",
                                          ast_arg.span)
                elif dims_equal(subs(d, binding), a) is False:
                    return self.error("E509", f"`{m.alias}` input `{name}` is {declared}, but this is {actual}",
                                      ast_arg.span)
        outs = []
        for oname, value in graph.outputs:
            t = value.type.with_dims(tuple(subs(d, binding) for d in value.type.dims))
            outs.append(TVal(t, value.producer if isinstance(value.producer, OpNode) else None, output=oname))
        lexpr = LModel(m.alias, tuple(a[0] for a in args), e.span)
        return lexpr, (outs[0] if len(outs) == 1 else tuple(outs))

    # -- lints -----------------------------------------------------------------------------------
    def _lint(self, fn: Fn, pred: TVal, span: Span) -> None:
        node = pred.producer
        # Ops that move values without changing them (and Dropout, the identity when it matters) do not
        # decide what the loss sees: look through them to the op that does (DCGAN's sigmoid -> view(-1)).
        while node is not None and node.op in _VALUE_PRESERVING and node.inputs:
            inner = node.inputs[0].producer
            node = inner if isinstance(inner, OpNode) else None
        pred = TVal(pred.type, node, pred.ref, pred.output)
        op = pred.producer.op if pred.producer is not None else None
        where = [Label(pred.producer.span, f"`{op}` here")] if pred.producer is not None and \
            pred.producer.span.source is span.source else []
        notes = [] if where or pred.producer is None else [f"`{op}` at {pred.producer.span.location()}"]
        what = f"`{pred.output}`" if pred.output else "the prediction"
        if fn.name == "cross_entropy" and op == "softmax":
            self.warn("W501", f"{what} comes out of softmax, but `cross_entropy` applies log_softmax itself",
                      span, secondary=where, notes=notes,
                      help="drop the softmax and output logits (or use `nll` after log_softmax)")
        elif fn.name == "bce_with_logits" and op == "sigmoid":
            self.warn("W501", f"{what} comes out of sigmoid, but `bce_with_logits` applies sigmoid itself",
                      span, secondary=where, notes=notes, help="drop the sigmoid, or use `bce`")
        elif fn.name == "bce" and op not in ("sigmoid", None):
            self.warn("W502", f"`bce` needs probabilities in [0, 1], but {what} comes out of `{op}`",
                      span, secondary=where, notes=notes, help="use `bce_with_logits` on the raw scores")
        elif fn.name == "nll" and op not in ("log_softmax", None):
            self.warn("W502", f"`nll` needs log-probabilities, but {what} comes out of `{op}`",
                      span, secondary=where, notes=notes, help="end the network with log_softmax(dim=1), "
                      "or use `cross_entropy` on logits")
        elif fn.name == "kl_div" and op not in ("log_softmax", None):
            self.warn("W502", f"`kl_div` needs log-probabilities, but {what} comes out of `{op}`",
                      span, secondary=where, notes=notes, help="end the network with log_softmax")

    def _lint_dropout(self) -> None:
        for m in self.models.values():
            for name, value in m.graph.outputs:
                node = value.producer if isinstance(value.producer, OpNode) else None
                if node is not None and node.op in ("softmax", "log_softmax", "sigmoid") and node.inputs:
                    inner = node.inputs[0].producer
                    node = inner if isinstance(inner, OpNode) else node
                if node is not None and node.op == "Dropout":
                    self.warn("W503", f"output `{name}` of `{m.network}` comes straight out of Dropout",
                              node.span, help="dropout belongs before the last layer; here it zeroes random "
                              "outputs while training")

    # -- optimizers ------------------------------------------------------------------------------
    def _optimizers(self, losses: dict[str, LExpr]) -> dict[str, FnCall]:
        out: dict[str, FnCall] = {}
        single = len(self.models) == 1
        entries = self.entries.get("optimizer", [])
        for entry in entries:
            alias = entry.target or (next(iter(self.models)) if single else None)
            if alias is None:
                self.error("E503", "with several networks, each `optimizer` names the network it updates",
                           entry.key_span, help=f"write `optimizer {next(iter(self.models))}: Adam(lr=2e-4)`")
                continue
            if alias not in self.models:
                guess = did_you_mean(alias, self.models)
                self.error("E510", f"no network `{alias}` in `train {self.t.name}`", entry.target_span,
                           help=f"did you mean `{guess}`?" if guess else f"the networks are: {', '.join(self.models)}")
                continue
            call = self._call(entry.value, OPTIMIZERS, "optimizer")
            if call is ERR:
                continue
            if call.name == "SGD" and call.args["nesterov"] and (call.args["momentum"] <= 0 or call.args["dampening"]):
                self.error("E508", "Nesterov momentum needs momentum > 0 and no dampening", entry.value.span,
                           help="add momentum=0.9" if call.args["momentum"] <= 0 else "drop dampening")
                continue
            out[alias] = call
        if not entries:
            self.error("E503", f"`train {self.t.name}` has no `optimizer`", self.t.name_span,
                       help="add `optimizer: Adam(lr=1e-3)` (or SGD, AdamW, RMSprop)")
            return out
        for alias in losses:
            if alias not in out and not any((e.target or (next(iter(self.models)) if single else None)) == alias
                                            for e in entries):
                self.error("E503", f"`{alias}` has a loss but no optimizer", self.t.name_span,
                           help=f"add `optimizer {alias}: Adam(lr=1e-3)`")
        for alias, call in out.items():
            if alias not in losses and "loss" in self.entries and not any(
                    (e.target or alias) == alias for e in self.entries["loss"] if single or e.target):
                self.error("E503", f"`{alias}` has an optimizer but no loss", call.span,
                           help=f"add `loss {alias}: ...`")
        return out

    def _schedule(self, epochs: int | None) -> FnCall | None:
        call = self._call_setting("schedule", SCHEDULES, "schedule")
        if call is not None and len(self.models) > 1:
            self.error("E508", "a schedule applies to one optimizer; this section has several", call.span)
        return call

    # -- metrics ---------------------------------------------------------------------------------
    def _prediction(self, single: bool, model: ModelSpec, losses: dict[str, LExpr]) -> tuple[str | None, str | None]:
        """Which output metrics score, and how: the output the loss scores against the data's target."""
        if not single or not losses:
            return None, None
        expr = next(iter(losses.values()))
        calls = [c for c in _walk(expr) if isinstance(c, LCall) and c.fn in LOSSES
                 and isinstance(c.args[0], LRef) and isinstance(c.args[1], LRef) and c.args[1].name == "target"]
        if not calls:
            return None, None
        call = calls[0]
        kind = "multiclass" if call.fn in CLASS_LOSSES else ("binary" if call.fn in BINARY_LOSSES else None)
        return call.args[0].name, kind  # type: ignore[union-attr]

    def _metrics(self, prediction: str | None, kind: str | None, single: bool, model: ModelSpec) -> list[FnCall]:
        entry = self._entry("metrics")
        if entry is None:
            return []
        items = entry.value.items if isinstance(entry.value, ast.ListExpr) else (entry.value,)
        out: list[FnCall] = []
        names: set[str] = set()
        for item in items:
            call = self._call(item, METRICS, "metric")
            if call is ERR:
                continue
            output = call.args.get("output")
            if output is not None and output not in model.output_names:
                guess = did_you_mean(output, model.output_names)
                self.error("E510", f"`{model.network}` has no output `{output}`", item.span,
                           help=f"did you mean `{guess}`?" if guess else
                           f"its outputs are: {', '.join(model.output_names)}")
                continue
            if not single or kind is None or (output is not None and output != prediction):
                self.error("E511", f"`{call.name}` needs a classification loss (cross_entropy, nll, bce, "
                           "bce_with_logits) that scores an output against the data's target", item.span,
                           help="the training loss is what says what the outputs mean")
                continue
            call = FnCall(call.name, {**call.args, "output": prediction}, call.span)
            if call.name == "top_k":
                k = call.args["k"]
                classes = self.target_need.classes if self.target_need else None
                if kind == "binary":
                    self.error("E511", "`top_k` needs several classes; this output is a yes/no score", item.span,
                               help="use accuracy")
                    continue
                if classes is not None and k >= classes:
                    self.error("E511", f"top_k with k={k} of {classes} classes is always 1", item.span,
                               help=f"use k below {classes}")
                    continue
            mname = metric_name(call)
            if mname in names:
                self.error("E502", f"metric `{mname}` is listed twice", item.span)
                continue
            names.add(mname)
            out.append(call)
        return out

    def _monitors(self, names: list[str], calls: tuple[FnCall | None, ...]) -> None:
        for call in calls:
            arg = "best" if call is not None and call.name == "save" else "monitor"
            if call is None or arg not in call.args:
                continue
            value = call.args[arg]
            if value not in names:
                guess = did_you_mean(value, names)
                self.error("E510", f"`{value}` is not something training measures", call.arg_spans.get(arg, call.span),
                           help=f"did you mean `{guess}`?" if guess else f"it measures: {', '.join(names)}")

    # -- submodules: lr groups, freeze, replace, init --------------------------------------------
    def _paths(self, m: ModelSpec) -> set[str]:
        out: set[str] = set()
        for node in m.graph.root.walk():
            if isinstance(node, (OpNode, Module)) and node.path and (
                    not isinstance(node, OpNode) or node.params or node.buffers):
                out.add(node.path)
        return out

    def _resolve_path(self, text: str, span: Span, key: str) -> tuple[str, str] | None:
        alias, path = None, text
        if len(self.models) == 1:
            alias = next(iter(self.models))
        else:
            head, _, rest = text.partition(".")
            if head in self.models and rest:
                alias, path = head, rest
            else:
                self.error("E510", f"`{text}`: with several networks, name one first, as in \"G.{text}\"", span)
                return None
        m = self.models[alias]
        paths = self._paths(m)
        if path not in paths:
            guess = did_you_mean(path, paths)
            tops = sorted({p.split(".")[0] for p in paths})
            self.error("E510", f"`{m.network}` has no submodule `{path}` with weights", span,
                       help=f"did you mean `{guess}`?" if guess else f"its top-level submodules are: {', '.join(tops)}")
            return None
        return alias, path

    def _lr_groups(self) -> list[tuple[str, str, float, Span]]:
        out: list[tuple[str, str, float, Span]] = []
        for entry in self.entries.get("lr", []):
            assert entry.target is not None and entry.target_span is not None
            resolved = self._resolve_path(entry.target, entry.target_span, "lr")
            v = _literal(entry.value)
            if v is ERR or isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                self.error("E506", f"the learning rate of `{entry.target}` must be a number >= 0", entry.value.span)
                continue
            if resolved is None:
                continue
            for other in out:
                if other[0] == resolved[0] and (resolved[1].startswith(other[1] + ".") or
                                                 other[1].startswith(resolved[1] + ".")):
                    self.error("E508", f"`{resolved[1]}` and `{other[1]}` overlap; each weight gets one learning rate",
                               entry.target_span, secondary=[Label(other[3], "set here")])
                    break
            else:
                out.append((resolved[0], resolved[1], float(v), entry.target_span))
        return out

    def _module_list(self, key: str) -> list[tuple[str, str, Span]]:
        entry = self._entry(key)
        if entry is None:
            return []
        items = entry.value.items if isinstance(entry.value, ast.ListExpr) else (entry.value,)
        out: list[tuple[str, str, Span]] = []
        for item in items:
            if isinstance(item, ast.Name):
                text = item.id
            elif isinstance(item, ast.String):
                text = item.value
            else:
                self.error("E506", f"`{key}` lists submodules by name, e.g. [conv1, \"layer1.0\"]", item.span)
                continue
            resolved = self._resolve_path(text, item.span, key)
            if resolved is not None:
                out.append((resolved[0], resolved[1], item.span))
        return out

    def _init(self, replace: list[tuple[str, str, Span]]) -> tuple[str, Span] | None:
        entry = self._entry("init")
        if entry is None:
            if replace:
                self.error("E508", "`replace` says which weights not to load, but there is no `init` checkpoint",
                           replace[0][2], help="add `init: \"base.pt\"`, or drop `replace`")
            return None
        if not isinstance(entry.value, ast.String):
            self.error("E506", "`init` is the path of a checkpoint, in double quotes", entry.value.span)
            return None
        return entry.value.value, entry.value.span

    def _freeze_conflicts(self, freeze: list[tuple[str, str, Span]], replace: list[tuple[str, str, Span]],
                          lr_groups: list[tuple[str, str, float, Span]]) -> None:
        def overlaps(a: str, b: str) -> bool:
            return a == b or a.startswith(b + ".") or b.startswith(a + ".")

        for alias, path, span in freeze:
            for r_alias, r_path, r_span in replace:
                if alias == r_alias and overlaps(path, r_path):
                    self.error("E508", f"`{path}` is frozen and replaced: a new head that never trains", span,
                               secondary=[Label(r_span, "replaced here")])
            for g_alias, g_path, _, g_span in lr_groups:
                if alias == g_alias and overlaps(path, g_path):
                    self.error("E508", f"`{path}` is frozen, so its learning rate is never used", g_span,
                               secondary=[Label(span, "frozen here")])
        if freeze:
            frozen_all = all(any(fa == m.alias and fp == top for fa, fp, _ in freeze)
                             for m in self.models.values()
                             for top in {p.split(".")[0] for p in self._paths(m)})
            if frozen_all:
                self.error("E508", "every submodule with weights is frozen: nothing would train", freeze[0][2])

    def _checkpoint(self) -> FnCall:
        entry = self._entry("checkpoint")
        default = FnCall("save", {"dir": None, "every": 1, "keep": 2, "best": "val_loss", "format": "torch"},
                         self.t.name_span)
        if entry is None:
            return default
        if isinstance(entry.value, ast.String):
            return FnCall("save", {**default.args, "dir": entry.value.value}, entry.value.span)
        call = self._call(entry.value, {CHECKPOINT.name: CHECKPOINT}, "checkpoint policy")
        return default if call is ERR else call  # type: ignore[no-any-return]


def _numel(t: TensorType) -> IntLike:
    """Elements per sample: the product of the dims after the batch."""
    n: IntLike = 1
    for d in t.dims[1:]:
        n = n * d  # type: ignore[assignment]
    return n


def _need_text(need: TargetNeed) -> str:
    if need.kind == "class":
        return f"class indices i64{list(map(str, need.type.dims))}".replace("'", "")
    return f"a tensor like {need.type}"


def _same_dims(a: tuple[IntLike, ...], b: tuple[IntLike, ...]) -> bool:
    return len(a) == len(b) and all(dims_equal(x, y) is not False for x, y in zip(a, b))


def _walk(e: LExpr) -> list[LExpr]:
    out: list[LExpr] = [e]
    if isinstance(e, (LCall, LModel)):
        for a in e.args:
            out += _walk(a)
    elif isinstance(e, LBin):
        out += _walk(e.left) + _walk(e.right)
    elif isinstance(e, (LNeg,)):
        out += _walk(e.operand)
    elif isinstance(e, LIndex):
        out += _walk(e.value)
    return out


def walk(e: LExpr) -> list[LExpr]:
    """Every node of a loss expression, pre-order."""
    return _walk(e)


def _literal(e: ast.Expr) -> Any:
    """The Python value of a literal expression (numbers, strings, booleans, tuples, arithmetic), or ERR."""
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.String):
        return e.value
    if isinstance(e, ast.Const):
        return e.value
    if isinstance(e, ast.UnaryOp) and e.op in ("-", "+"):
        v = _literal(e.operand)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if e.op == "-" else v
        return ERR
    if isinstance(e, ast.BinOp) and e.op in ("+", "-", "*", "/", "**"):
        a, b = _literal(e.left), _literal(e.right)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            return ERR
        try:
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                    "**": lambda: a ** b}[e.op]()
        except (ZeroDivisionError, OverflowError):
            return ERR
    if isinstance(e, (ast.TupleExpr, ast.ListExpr)):
        items = [_literal(i) for i in e.items]
        return ERR if any(i is ERR for i in items) else tuple(items)
    return ERR


_NP_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32", "int16": "i16",
              "int8": "i8", "uint8": "u8", "bool": "bool"}


def _np_dtype(name: str) -> str:
    return _NP_DTYPES.get(name, name)


def _npy_header(path: Path) -> tuple[tuple[int, ...], str]:
    import numpy as np

    with open(path, "rb") as fh:
        return _read_header(np, fh)


def _read_header(np: Any, fh: Any) -> tuple[tuple[int, ...], str]:
    """Shape and dtype from a .npy header, without reading the data."""
    fmt = np.lib.format
    version = fmt.read_magic(fh)
    # Version 3.0 differs from 2.0 only in the header's text encoding (utf8), which the 2.0 reader accepts.
    reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = reader(fh)
    return tuple(shape), str(dtype)


def _npz_headers(path: Path, keys: list[str]) -> dict[str, tuple[tuple[int, ...], str] | None]:
    import zipfile

    import numpy as np

    out: dict[str, tuple[tuple[int, ...], str] | None] = {}
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path.name} is not an .npz file") from None
    with zf:
        for info in zf.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if key in keys:
                with zf.open(info) as fh:
                    out[key] = _read_header(np, fh)
            else:
                out.setdefault(key, None)
    return out
