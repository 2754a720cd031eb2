"""The training loop of a `train` section as readable PyTorch, appended to `netc compile --target torch` output.

`netc train` is the full runner (data sources, metrics, checkpoints, resume, DDP); what is emitted here is the
loop itself, written out for one section so it can be read, copied and adapted: the networks built with the
section's arguments, `init`/`freeze`/`replace`, the optimizer with its parameter groups, the schedule, the
loss expression translated to `torch.nn.functional`, the L1 penalty, gradient clipping, alternating steps for
several networks, and a validation loss (and accuracy for classification) per epoch. User names only reach
the code through :class:`netc.codegen.naming.Namespace`, and every value through `repr`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..codegen.base import GeneratedCode
from ..codegen.naming import Namespace, sanitize
from ..dsl.dims import Dim
from ..dsl.elaborate import snake
from ..dsl.train import CLASS_LOSSES, LOSSES, LBin, LCall, LExpr, LIndex, LModel, LNeg, LNum, LRef, TrainSpec, walk

_F = {"cross_entropy": "F.cross_entropy", "nll": "F.nll_loss", "mse": "F.mse_loss", "l1": "F.l1_loss",
      "smooth_l1": "F.smooth_l1_loss", "bce": "F.binary_cross_entropy",
      "bce_with_logits": "F.binary_cross_entropy_with_logits", "kl_div": "F.kl_div"}
_UNARY = {"sum": "torch.sum", "mean": "torch.mean", "exp": "torch.exp", "log": "torch.log", "abs": "torch.abs"}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}

HELPERS = '''

def _as_target(value, pred: torch.Tensor) -> torch.Tensor:
    """A number becomes a tensor like `pred`; labels [B] for one score [B, 1] take its shape and dtype."""
    if not isinstance(value, torch.Tensor):
        return torch.full_like(pred, float(value))
    return value.to(pred.dtype).reshape(pred.shape)


def _kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)), summed over all elements."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
'''


class Unsupported(Exception):
    """A section this emitter cannot write out (netc train still runs it)."""


def append_training(generated: GeneratedCode, specs: list[TrainSpec], class_of: Callable[[str], str],
                    networks: set[str]) -> GeneratedCode:
    """`generated` with one `train_<name>` function per section whose networks are in the module."""
    parts: list[str] = []
    notes = list(generated.notes)
    taken: set[str] = set()
    for spec in specs:
        missing = sorted({m.network for m in spec.models} - networks)
        if missing:
            notes.append(f"train {spec.name}: not written out, its network {', '.join(missing)} is imported; "
                         "compile the file that defines it, or run `netc train`")
            continue
        try:
            parts.append(_Section(spec, class_of, taken).emit())
        except Unsupported as exc:
            notes.append(f"train {spec.name}: not written out ({exc}); `netc train` runs it")
    if not parts:
        return GeneratedCode(generated.code, notes)
    code = generated.code.rstrip("\n") + "\n"
    if "\nimport torch.nn.functional as F\n" not in code:  # the networks may not have needed it
        code = code.replace("\nimport torch\n", "\nimport torch\nimport torch.nn.functional as F\n", 1)
    if any("math." in part for part in parts) and "\nimport math\n" not in code:
        code = code.replace("\nimport torch\n", "\nimport math\n\nimport torch\n", 1)
    return GeneratedCode(code + HELPERS + "".join(parts), notes)


class _Section:
    def __init__(self, spec: TrainSpec, class_of: Callable[[str], str], taken: set[str]) -> None:
        self.spec = spec
        self.class_of = class_of
        self.ns = Namespace(f"train {spec.name}", reserved=("torch", "nn", "F", "math", "x", "target", "loss",
                                                              "step", "epoch", "start", "idx", "order", "device",
                                                              "epochs", "batch_size", "models", "_as_target",
                                                              "_kl_normal", "x_train", "y_train", "x_val",
                                                              "y_val", "val_loss", "accuracy", "model", "p",
                                                              "s", "state", "replace", "warmup", "floors",
                                                              "warmup_cosine", "factor", "total_steps",
                                                              "steps_per_epoch", "math"))
        self.fn_name = self._function_name(taken)
        self.model_var = {m.alias: self.ns.name(f"model_{m.alias}", ("model", m.alias)) for m in spec.models}
        self.opt_var = {a: self.ns.name(f"optimizer_{a}" if not spec.single else "optimizer", ("opt", a))
                        for a in spec.optimizers}
        self.sched_var = {a: self.ns.name(f"schedule_{a}" if not spec.single else "schedule", ("sched", a))
                          for a in spec.optimizers}
        self.pre: list[str] = []  # statements a loss line needs first (a prediction computed once)
        self.n_pred = 0

    def _function_name(self, taken: set[str]) -> str:
        base = "train_" + snake(sanitize(self.spec.name)).strip("_")
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        return name

    # -- expressions -----------------------------------------------------------------------------
    def var(self, name: str) -> str:
        if name in ("x", "target"):
            return name
        return self.ns.name(name, ("var", name))

    def expr(self, e: LExpr, prec: int = 0) -> str:
        if isinstance(e, LRef):
            return self.var(e.name)
        if isinstance(e, LNum):
            return repr(e.value)
        if isinstance(e, LNeg):
            return f"-{self.expr(e.operand, 3)}"
        if isinstance(e, LBin):
            p = _PREC[e.op]
            right_prec = p + 1 if e.op != "**" else p
            text = f"{self.expr(e.left, p if e.op != '**' else p + 1)} {e.op} {self.expr(e.right, right_prec)}"
            return f"({text})" if p < prec else text
        if isinstance(e, LIndex):
            return f"{self.expr(e.value, 5)}[{e.index}]"
        if isinstance(e, LModel):
            return f"{self.model_var[e.alias]}({', '.join(self.expr(a) for a in e.args)})"
        if isinstance(e, LCall):
            args = [self.expr(a) for a in e.args]
            if e.fn == "kl_normal":
                scale = {"sum": "", "batchmean": f" / {args[0]}.shape[0]", "mean": f" / {args[0]}.numel()"}
                text = f"_kl_normal({args[0]}, {args[1]}){scale[e.options['reduction']]}"
                return f"({text})" if scale[e.options["reduction"]] and prec > 2 else text
            if e.fn == "flatten":
                return f"torch.flatten({args[0]}, 1)"
            if e.fn == "detach":
                return f"{self.expr(e.args[0], 5)}.detach()"
            if e.fn in _UNARY:
                return f"{_UNARY[e.fn]}({args[0]})"
            return self.loss(e, args)
        raise Unsupported(f"expression {type(e).__name__}")

    def loss(self, e: LCall, args: list[str]) -> str:
        defaults = {p.name: p.default for p in LOSSES[e.fn].params if p.kind != "tensor"}
        kw = [f"{k}={v!r}" for k, v in e.options.items() if v != defaults.get(k) and v is not None]
        pred, target = args
        if e.fn in CLASS_LOSSES:
            return f"{_F[e.fn]}({', '.join([pred, target, *kw])})"
        if not pred.isidentifier():  # `D(x)`: computed once, then shaped against
            self.n_pred += 1
            name = self.ns.name(f"pred{self.n_pred}", ("pred", self.n_pred))
            self.pre.append(f"{name} = {pred}")
            pred = name
        target = f"_as_target({target}, {pred})"
        if e.fn == "bce_with_logits" and e.options.get("pos_weight") is not None:
            kw = [k for k in kw if not k.startswith("pos_weight")]
            kw.append(f"pos_weight=torch.tensor({float(e.options['pos_weight'])!r}, device={pred}.device)")
        if e.fn == "kl_div" and e.options["reduction"] == "batchmean":
            kw = [k for k in kw if not k.startswith("reduction")] + ["reduction='batchmean'"]
        return f"{_F[e.fn]}({', '.join([pred, target, *kw])})"

    # -- pieces ----------------------------------------------------------------------------------
    def optional_inputs(self, alias: str, given: list[str], input_vars: list[str]) -> str:
        """Keyword arguments for a network's optional inputs (`= randn`), made here like `netc train` does."""
        m = next(mm for mm in self.spec.models if mm.alias == alias)
        defaults = getattr(m.graph, "input_defaults", None) or {}
        names = [n for n, _, _ in m.graph.inputs]
        passed = dict(zip(names, input_vars))
        out = []
        for name, d in defaults.items():
            if name in passed:
                continue
            dims = []
            for dim in d.dims:
                if isinstance(dim, int):
                    dims.append(repr(dim))
                    continue
                key = str(dim)
                if not isinstance(dim, Dim) or key not in d.dim_sources or d.dim_sources[key][0] not in passed:
                    raise Unsupported(f"the size {dim} of optional input `{name}`")
                src, axis = d.dim_sources[key]
                dims.append(f"{passed[src]}.shape[{axis}]")
            make = {"randn": "torch.randn", "rand": "torch.rand", "zeros": "torch.zeros", "ones": "torch.ones"}
            out.append(f"{sanitize(name)}={make[d.fill]}({', '.join(dims)}, device={input_vars[0]}.device)")
        return "".join(", " + o for o in out)

    def forward_line(self, indent: str) -> str:
        """Single network: run it on `x` and bind its outputs by name."""
        m = self.spec.models[0]
        outs = [self.var(n) for n in m.output_names]
        lhs = outs[0] if len(outs) == 1 else ", ".join(outs)
        lines = []
        if m.required_inputs[0] != "x" and self.uses(m.required_inputs[0]):
            lines.append(f"{indent}{self.var(m.required_inputs[0])} = x")
        lines.append(f"{indent}{lhs} = {self.model_var[m.alias]}(x{self.optional_inputs(m.alias, ['x'], ['x'])})")
        return "\n".join(lines)

    def uses(self, name: str) -> bool:
        return any(isinstance(e, LRef) and e.name == name for loss in self.spec.losses.values() for e in walk(loss))

    def noise_lines(self, indent: str) -> list[str]:
        out = []
        for name, (dist, ttype, _) in self.spec.noises.items():
            dims = ["len(x)" if isinstance(d, Dim) else repr(int(d)) for d in ttype.dims]
            fn = "torch.randn" if dist == "normal" else "torch.rand"
            out.append(f"{indent}{self.var(name)} = {fn}({', '.join(dims)}, device=device)")
        return out

    def check_models(self) -> None:
        for e in (e for loss in self.spec.losses.values() for e in walk(loss)):
            if isinstance(e, LModel):
                m = next(mm for mm in self.spec.models if mm.alias == e.alias)
                if getattr(m.graph, "input_defaults", None):
                    raise Unsupported("a network with optional inputs called inside a loss")

    # -- the function ----------------------------------------------------------------------------
    def emit(self) -> str:
        spec = self.spec
        self.check_models()
        loc = f"{spec.source_path}:{spec.span.line}"
        L: list[str] = []
        add = L.append
        epochs_default = spec.epochs if spec.epochs is not None else 1
        head = (f"def {self.fn_name}(x_train: torch.Tensor, y_train: torch.Tensor | None = None, "
                f"x_val: torch.Tensor | None = None,\n{' ' * (len(self.fn_name) + 5)}"
                f"y_val: torch.Tensor | None = None, epochs: int = {epochs_default!r}, "
                f"device: str = 'cpu') -> dict[str, nn.Module]:")
        doc = (f'    """The loop of `train {_doc(spec.name)}` ({_doc(loc)}): inputs `x_train`, targets `y_train`.\n\n'
               f"    Returns the trained networks by alias. `netc train {_doc(spec.source_path)}` runs the same "
               "section with\n    its data, metrics, checkpoints and resume.\n    \"\"\"")
        add("\n\n# " + "-" * 110)
        add(f"# Training: `train {_comment(spec.name)}` from {_comment(loc)}")
        add("# " + "-" * 110)
        add(head)
        add(doc)
        add(f"    torch.manual_seed({spec.seed!r})")
        for i, m in enumerate(spec.models):
            args = ", ".join(f"{sanitize(k)}={v!r}" for k, v in m.overrides.items())
            if i:
                add(f"    torch.manual_seed({spec.seed + i!r})")
            add(f"    {self.model_var[m.alias]} = {self.class_of(m.network)}({args}).to(device)")
        add(f"    models = {{{', '.join(f'{a!r}: {v}' for a, v in self.model_var.items())}}}")
        if spec.init is not None:
            replace = [p for _, p, _ in spec.replace]
            add(f"    # Start from {_comment(spec.init[0])}; `replace`d submodules keep their fresh weights.")
            add(f"    state = torch.load({str(spec.resolve(spec.init[0]))!r}, map_location=device, weights_only=True)")
            add("    if 'models' in state:")
            add("        state = next(iter(state['models'].values()))")
            add(f"    replace = {tuple(replace)!r}")
            model = self.model_var[spec.models[0].alias]
            add(f"    {model}.load_state_dict({{k: v for k, v in state.items()")
            add("                          if not any(k == r or k.startswith(r + '.') for r in replace)}, strict=False)")
        for alias, path, _ in spec.freeze:
            add(f"    for p in {self.model_var[alias]}.get_submodule({path!r}).parameters():  # frozen")
            add("        p.requires_grad_(False)")
        frozen = [(alias, path) for alias, path, _ in spec.freeze]
        for alias, call in spec.optimizers.items():
            add(f"    {self.opt_var[alias]} = {self.optimizer(alias, call)}")
        add(f"    batch_size = {spec.batch!r}")
        if spec.steps is not None:
            add(f"    total_steps = {spec.steps!r}")
            add("    epochs = math.ceil(total_steps / math.ceil(len(x_train) / batch_size))")
        elif spec.schedule is not None and spec.schedule.name != "step":
            add("    total_steps = epochs * math.ceil(len(x_train) / batch_size)")
        per_step = self.schedule_lines(add)
        if spec.steps is not None:
            add("    step = 0")
        add("    for epoch in range(epochs):")
        for alias in self.model_var:
            add(f"        {self.model_var[alias]}.train()")
        for alias, path in frozen:
            add(f"        {self.model_var[alias]}.get_submodule({path!r}).eval()  # frozen: BatchNorm statistics too")
        add("        order = torch.randperm(len(x_train))")
        add("        for start in range(0, len(x_train), batch_size):")
        if spec.steps is not None:
            add("            if step == total_steps:")
            add("                break")
        add("            idx = order[start:start + batch_size]")
        add("            x = x_train[idx].to(device)")
        if self.uses("target"):
            add("            target = y_train[idx].to(device)")
        L.extend(self.noise_lines("            "))
        for alias, loss in spec.losses.items():
            if spec.single:
                L.append(self.forward_line("            "))
            penalty = ""
            if spec.l1:
                penalty = (f" + {spec.l1!r} * sum(p.abs().sum() for p in {self.model_var[alias]}.parameters()"
                           " if p.requires_grad and p.dim() > 1)")
            self.pre = []
            text = self.expr(loss)
            L.extend(f"            {line}" for line in self.pre)
            add(f"            loss = {text}{penalty}")
            add("            for model in models.values():")
            add("                model.zero_grad(set_to_none=True)")
            add("            loss.backward()")
            params = f"{self.model_var[alias]}.parameters()"
            if spec.clip_norm:
                add(f"            torch.nn.utils.clip_grad_norm_({params}, {spec.clip_norm!r})")
            if spec.clip_value:
                add(f"            torch.nn.utils.clip_grad_value_({params}, {spec.clip_value!r})")
            add(f"            {self.opt_var[alias]}.step()")
            if per_step:
                add(f"            {self.sched_var[alias]}.step()")
        if spec.steps is not None:
            add("            step += 1")
        self.validation(add, per_step)
        add("    return models")
        return "\n".join(L) + "\n"

    def optimizer(self, alias: str, call: Any) -> str:
        a = dict(call.args)
        model = self.model_var[alias]
        groups = [(path, lr) for al, path, lr, _ in self.spec.lr_groups if al == alias]
        trainable = f"(p for p in {model}.parameters() if p.requires_grad)"
        if groups:
            # Each `lr path: value` is a group; the rest keeps the optimizer's learning rate.
            paths = tuple(p for p, _ in groups)
            items = [f"{{'params': [p for p in {model}.get_submodule({p!r}).parameters() if p.requires_grad], "
                     f"'lr': {lr!r}}}" for p, lr in groups]
            rest = (f"{{'params': [p for n, p in {model}.named_parameters() if p.requires_grad and not any("
                    f"n.startswith(g + '.') for g in {paths!r})]}}")
            params = "[\n            " + ",\n            ".join([rest, *items]) + ",\n        ]"
        else:
            params = f"[{trainable[1:-1]}]" if self.spec.freeze else f"{model}.parameters()"
        cls = {"SGD": "torch.optim.SGD", "Adam": "torch.optim.Adam", "AdamW": "torch.optim.AdamW",
               "RMSprop": "torch.optim.RMSprop"}[call.name]
        kw = ", ".join(f"{k}={v!r}" for k, v in a.items())
        line = f"{cls}({params}, {kw})"
        if len(line) + 20 > 120 or "\n" in line:  # one argument per line, as a person would wrap it
            inner = ",\n        ".join([params, *(f"{k}={v!r}" for k, v in a.items())])
            line = f"{cls}(\n        {inner},\n    )"
        return line

    def schedule_lines(self, add: Callable[[str], None]) -> bool:
        """The schedule; returns whether it steps after every optimizer step (else after every epoch)."""
        call = self.spec.schedule
        if call is None:
            return False
        a = call.args
        for alias, opt in self.opt_var.items():
            s = self.sched_var[alias]
            if call.name == "step":
                add(f"    {s} = torch.optim.lr_scheduler.StepLR({opt}, step_size={a['step_size']!r}, "
                    f"gamma={a['gamma']!r})")
            elif call.name == "cosine":
                add(f"    {s} = torch.optim.lr_scheduler.CosineAnnealingLR({opt}, T_max=total_steps, "
                    f"eta_min={a['min_lr']!r})")
            elif call.name == "warmup_cosine":
                add(f"    warmup = {a['warmup']!r}  # linear warm-up, then cosine down to min_lr")
                add(f"    floors = [min({a['min_lr']!r} / g['lr'], 1.0) for g in {opt}.param_groups]")
                add("    def warmup_cosine(floor: float):")
                add("        def factor(s: int) -> float:")
                add("            if s < warmup:")
                add("                return (s + 1) / (warmup + 1)")
                add("            progress = min((s - warmup) / max(total_steps - warmup, 1), 1.0)")
                add("            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))")
                add("        return factor")
                add(f"    {s} = torch.optim.lr_scheduler.LambdaLR({opt}, [warmup_cosine(f) for f in floors])")
            elif call.name == "one_cycle":
                o = self.spec.optimizers[alias]
                cycle = o.name in ("Adam", "AdamW") or o.args.get("momentum", 0) > 0  # it cycles betas or momentum
                add("    # Groups peak in proportion to their learning rates: the body lower than the head.")
                add(f"    {s} = torch.optim.lr_scheduler.OneCycleLR(")
                add(f"        {opt}, max_lr=[{a['max_lr']!r} * g['lr'] / {o.args['lr']!r} for g in {opt}.param_groups],")
                add(f"        total_steps=total_steps, pct_start={a['pct_start']!r}, div_factor={a['div_factor']!r},")
                add(f"        final_div_factor={a['final_div_factor']!r}, anneal_strategy={a['anneal']!r}, "
                    f"cycle_momentum={cycle!r},")
                add("    )")
            elif call.name == "plateau":
                raise Unsupported("a plateau schedule needs the validation loop of `netc train`")
        return call.name != "step"

    def validation(self, add: Callable[[str], None], per_step: bool) -> None:
        spec = self.spec
        if self.spec.schedule is not None and not per_step:
            for s in self.sched_var.values():
                add(f"        {s}.step()")
        if not spec.single:
            add("        print(f'epoch {epoch + 1}: loss {loss.item():.4f}')")
            return
        alias = spec.models[0].alias
        loss = next(iter(spec.losses.values()))
        add("        if x_val is None:")
        add("            continue")
        add(f"        {self.model_var[alias]}.eval()")
        add("        with torch.no_grad():")
        add("            x = x_val.to(device)")
        if self.uses("target"):
            add("            target = y_val.to(device)")
        add(self.forward_line("            "))
        self.pre = []
        text = self.expr(loss)
        for line in self.pre:
            add(f"            {line}")
        add(f"            val_loss = float({text})")
        if spec.prediction is not None and spec.metric_kind == "multiclass":
            pred = self.var(spec.prediction)
            add(f"            accuracy = float(({pred}.argmax(1) == target).float().mean())")
            add("        print(f'epoch {epoch + 1}: val_loss {val_loss:.4f} val_accuracy {accuracy:.4f}')")
        else:
            add("        print(f'epoch {epoch + 1}: val_loss {val_loss:.4f}')")


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _doc(text: str) -> str:
    return _comment(text).replace("\\", "\\\\").replace('"', '\\"')
