"""Loss expressions of a `train` section: typed over the networks' outputs and the data's target, turned
into small trees (train_spec.LExpr), with lints for classic mistakes."""
from __future__ import annotations

from typing import Any

from . import ast
from .diagnostics import Label, did_you_mean
from .dims import Dim, IntLike, dims_equal, subs
from .ir import OpNode
from .source import Span
from .train_args import ArgsChecker
from .train_registry import (
    _VALUE_PRESERVING,
    BINARY_LOSSES,
    CLASS_LOSSES,
    LOSSES,
    REGRESSION_LOSSES,
    TERMS,
    Fn,
)
from .train_spec import (
    ERR,
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
    TVal,
    _need_text,
    _numel,
    _same_dims,
)
from .types import FLOAT_DTYPES, TensorType


class LossChecker(ArgsChecker):
    """Loss expressions typed over the networks' outputs and the data's target, with lints."""

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
