"""The optimizers, schedule, metrics, per-submodule settings (lr groups, freeze, replace, init) and
checkpoint policy of a `train` section."""
from __future__ import annotations

from . import ast
from .diagnostics import Label, did_you_mean
from .ir import Module, OpNode
from .source import Span
from .train_args import ArgsChecker, _literal
from .train_registry import (
    BINARY_LOSSES,
    CHECKPOINT,
    CLASS_LOSSES,
    LOSSES,
    METRICS,
    OPTIMIZERS,
    SCHEDULES,
)
from .train_spec import (
    ERR,
    FnCall,
    LCall,
    LExpr,
    LRef,
    ModelSpec,
    _walk,
    metric_name,
)


class SettingsChecker(ArgsChecker):
    """Optimizers, schedule, metrics, learning-rate groups, freeze/replace/init and checkpoints."""

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
