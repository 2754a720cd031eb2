"""Each `train` section as a :class:`netc.train.recipe.Recipe` subclass, appended to the torch backend's output.

The class holds what is particular to the section, as PyTorch a person would write: the networks with their
arguments (`init`, `freeze`, `replace`), the optimizers with their parameter groups, the schedules, and the
loss (netc/train/emit_loss.py). Its `section` literal carries the settings the loop reads (data, batch,
epochs, metrics, checkpoints). The module ends with `RECIPES` and a `__main__` entry, so the file trains by
itself (`python model.py`, `torchrun --nproc-per-node 8 model.py`); `netc train` runs this same code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..codegen.base import GeneratedCode
from ..codegen.naming import Namespace, sanitize
from ..dsl.dims import Dim
from ..dsl.ir import Graph
from ..dsl.train import TrainSpec, metric_name
from .emit_loss import LossWriter, scored_loss
from .recipe import Section

PER_EPOCH = {"step", "plateau"}  # schedules stepped after each epoch; the others after each optimizer step
_OPTIMIZERS = {"SGD": "torch.optim.SGD", "Adam": "torch.optim.Adam", "AdamW": "torch.optim.AdamW",
               "RMSprop": "torch.optim.RMSprop"}
_RESERVED = ("torch", "nn", "F", "math", "x", "target", "models", "modules", "self", "optimizers", "total_steps",
             "as_target", "kl_normal", "l1_penalty", "freeze", "param_groups", "warmup_cosine", "load_pretrained",
             "Recipe", "Section", "RECIPES", "main", "_")


def section_of(spec: TrainSpec) -> Section:
    """The settings of a checked section that the loop needs, as plain values."""
    need = spec.target
    first = spec.models[0]
    x = spec.input_type
    locations = {key: (span.start, span.end) for key, span in spec.entry_spans.items()}
    locations.update({f"loss {alias}": (span.start, span.end) for alias, span in spec.loss_spans.items()})
    if spec.init is not None:
        locations["init"] = (spec.init[1].start, spec.init[1].end)
    sched = spec.schedule
    return Section(
        name=spec.name, source=str(Path(spec.source_path).resolve()), seed=spec.seed, batch=spec.batch,
        epochs=spec.epochs, steps=spec.steps, data=spec.data.name, data_args=dict(spec.data.args),
        x_dtype=x.dtype if x is not None else None,
        x_shape=tuple(int(d) for d in x.dims[1:]) if x is not None else None,
        target_kind=need.kind if need is not None else None,
        target_classes=need.classes if need is not None else None,
        target_shape=tuple(-1 if isinstance(d, Dim) else int(d) for d in need.type.dims[1:]) if need else None,
        vocabulary=_vocabulary(first.graph) if spec.single else None,
        losses=tuple(spec.losses),
        schedule=sched.name if sched else None,
        schedule_per_step=sched is not None and sched.name not in PER_EPOCH,
        schedule_spans_run=sched is not None and sched.name in ("cosine", "warmup_cosine", "one_cycle"),
        plateau_monitor=sched.args["monitor"] if sched is not None and sched.name == "plateau" else None,
        metrics=tuple((metric_name(m), {k: v for k, v in m.args.items() if k != "output"}) for m in spec.metrics),
        metric_kind=spec.metric_kind, metric_loss=scored_loss(spec),
        clip_norm=spec.clip_norm, clip_value=spec.clip_value,
        early_stopping=dict(spec.early_stopping.args) if spec.early_stopping else None,
        checkpoint=dict(spec.checkpoint.args), locations=locations,
        transforms=tuple((t.name, dict(t.args)) for t in spec.transforms),
    )


def _vocabulary(graph: Graph) -> int | None:
    """An integer input that feeds an Embedding holds token ids below its num_embeddings."""
    if not graph.inputs:
        return None
    first = graph.inputs[0][1]
    for node in graph.op_nodes():
        if node.op == "Embedding" and any(v.id == first.id for v in node.inputs):
            return int(node.attrs["num_embeddings"])
    return None


def append_recipes(generated: GeneratedCode, specs: list[TrainSpec], class_of: Any,
                   classes: Namespace) -> GeneratedCode:
    """`generated` with one Recipe class per section, `RECIPES`, and the `__main__` entry; `classes` is the
    module's namespace of class names (a section's class never takes a network's name)."""
    writers = [_RecipeWriter(spec, class_of, classes) for spec in specs]
    parts = [w.emit() for w in writers]
    helpers = sorted(set().union(*(w.helpers for w in writers)))
    code = generated.code.rstrip("\n") + "\n"
    if "\nimport torch.nn.functional as F\n" not in code:  # the networks may not have needed it
        code = code.replace("\nimport torch\n", "\nimport torch\nimport torch.nn.functional as F\n", 1)
    imports = ""
    if helpers:
        imports += f"from netc.train.functional import {', '.join(helpers)}\n"
    imports += "from netc.train.recipe import Recipe, Section\n"
    # netc's runtime is its own import section (isort sorts netc as first-party in this repository).
    code = code.replace("\nfrom torch import nn\n", f"\nfrom torch import nn\n\n{imports}", 1)
    table = ", ".join(f"{w.spec.name!r}: {w.class_name}" for w in writers)
    tail = (f"\n\nRECIPES = {{{table}}}\n\n"
            "if __name__ == '__main__':  # python this_file.py --help; torchrun ... this_file.py for several GPUs\n"
            "    from netc.train.script import main\n\n"
            "    main(RECIPES)\n")
    return GeneratedCode(code + "".join(parts) + tail, list(generated.notes))


class _RecipeWriter:
    def __init__(self, spec: TrainSpec, class_of: Any, classes: Namespace) -> None:
        self.spec = spec
        self.class_of = class_of
        self.ns = Namespace(f"train {spec.name}", reserved=_RESERVED)
        words = [w for w in sanitize(spec.name).split("_") if w]
        self.class_name = classes.name("".join(w[:1].upper() + w[1:] for w in words) + "Training",
                                       ("train", spec.name), what="class")
        self.helpers: set[str] = set()
        self.loss = LossWriter(spec, self.ns)

    def emit(self) -> str:
        spec = self.spec
        loc = f"{spec.source_path}:{spec.span.line}"
        out = ["", "", "# " + "-" * 110, f"# Training: `train {_comment(spec.name)}` from {_comment(loc)}",
               "# " + "-" * 110, f"class {self.class_name}(Recipe):",
               f'    """The code of `train {_doc(spec.name)}`; `netc train {_doc(spec.source_path)}` runs it."""', ""]
        out += ["    section = " + _literal(section_of(spec), 4), ""]
        out += self._method("networks(self) -> dict[str, nn.Module]", self._networks())
        frozen = {}
        for alias, path, _ in spec.freeze:
            frozen.setdefault(alias, []).append(path)
        if frozen:
            out += self._method("frozen(self) -> dict[str, list[str]]", [f"return {frozen!r}"])
        out += self._method("optimizers(self, models: dict[str, nn.Module]) -> dict[str, torch.optim.Optimizer]",
                            self._optimizers())
        schedules = self._schedules()
        if schedules:
            out += self._method("schedules(self, optimizers: dict[str, torch.optim.Optimizer], total_steps: int) "
                                "-> dict", schedules)
        body = self.loss.body()
        self.helpers |= self.loss.helpers
        out += self._method("losses(self, models: dict, modules: dict, x: torch.Tensor, target: torch.Tensor | None)",
                            body)
        while out and out[-1] == "":
            out.pop()
        return "\n".join(out) + "\n"

    @staticmethod
    def _method(signature: str, body: list[str]) -> list[str]:
        return [f"    def {signature}:", *(f"        {line}" if line else "" for line in body), ""]

    def _networks(self) -> list[str]:
        spec = self.spec
        lines = []
        names = {}
        for i, m in enumerate(spec.models):
            var = self.ns.name(f"net_{m.alias}".lower(), ("net", m.alias))
            names[m.alias] = var
            args = ", ".join(f"{sanitize(k)}={v!r}" for k, v in m.overrides.items())
            lines.append(f"torch.manual_seed({spec.seed + i!r})")
            lines.append(f"{var} = {self.class_of(m.network)}({args})")
        if spec.init is not None:
            replace = [p for _, p, _ in spec.replace]
            self.helpers.add("load_pretrained")
            for m in spec.models:
                mine = [p for a, p, _ in spec.replace if a == m.alias] if len(spec.models) > 1 else replace
                lines.append(f"load_pretrained({names[m.alias]}, self.path({spec.init[0]!r}), {m.alias!r}, "
                             f"replace={mine!r})")
        for alias in dict.fromkeys(a for a, _, _ in spec.freeze):
            self.helpers.add("freeze")
            lines.append(f"freeze({names[alias]}, {[p for a, p, _ in spec.freeze if a == alias]!r})")
        lines.append(f"return {{{', '.join(f'{a!r}: {v}' for a, v in names.items())}}}")
        return lines

    def _optimizers(self) -> list[str]:
        lines = ["return {"]
        self.helpers.add("param_groups")
        for alias, call in self.spec.optimizers.items():
            rates = {path: lr for a, path, lr, _ in self.spec.lr_groups if a == alias}
            groups = f"param_groups(models[{alias!r}], {call.args['lr']!r}" + (f", {rates!r})" if rates else ")")
            kw = ", ".join(f"{k}={v!r}" for k, v in call.args.items())
            text = f"{alias!r}: {_OPTIMIZERS[call.name]}({groups}, {kw}),"
            if len(text) + 12 > 120:  # one argument per line, as a person would wrap it
                inner = "".join(f"    {k}={v!r},\n" for k, v in call.args.items())
                text = f"{alias!r}: {_OPTIMIZERS[call.name]}(\n    {groups},\n{inner}),"
            lines += [f"    {line}" for line in text.split("\n")]
        lines.append("}")
        return lines

    def _schedules(self) -> list[str]:
        call = self.spec.schedule
        if call is None:
            return []
        a = call.args
        lines = ["return {"]
        for alias in self.spec.optimizers:
            opt = f"optimizers[{alias!r}]"
            if call.name == "step":
                text = f"torch.optim.lr_scheduler.StepLR({opt}, step_size={a['step_size']!r}, gamma={a['gamma']!r})"
            elif call.name == "cosine":
                text = f"torch.optim.lr_scheduler.CosineAnnealingLR({opt}, T_max=total_steps, eta_min={a['min_lr']!r})"
            elif call.name == "warmup_cosine":
                self.helpers.add("warmup_cosine")
                text = f"warmup_cosine({opt}, {a['warmup']!r}, total_steps, min_lr={a['min_lr']!r})"
            elif call.name == "one_cycle":
                o = self.spec.optimizers[alias]
                cycle = o.name in ("Adam", "AdamW") or o.args.get("momentum", 0) > 0  # it cycles betas or momentum
                # Groups peak in proportion to their learning rates: the body lower than the head.
                text = (f"torch.optim.lr_scheduler.OneCycleLR(\n    {opt},\n"
                        f"    max_lr=[{a['max_lr']!r} * g['lr'] / {o.args['lr']!r} for g in {opt}.param_groups],\n"
                        f"    total_steps=total_steps, pct_start={a['pct_start']!r}, div_factor={a['div_factor']!r},\n"
                        f"    final_div_factor={a['final_div_factor']!r}, anneal_strategy={a['anneal']!r}, "
                        f"cycle_momentum={cycle!r},\n)")
            else:  # plateau
                mode = "min" if a["monitor"].endswith("loss") else "max"
                text = (f"torch.optim.lr_scheduler.ReduceLROnPlateau(\n    {opt}, mode={mode!r}, factor={a['factor']!r}, "
                        f"patience={a['patience']!r}, threshold={a['threshold']!r}, min_lr={a['min_lr']!r},\n)")
            text = f"{alias!r}: {text},"
            lines += [f"    {line}" for line in text.split("\n")]
        lines.append("}")
        return lines


def _literal(section: Section, indent: int) -> str:
    """`Section(...)`, one field per line."""
    pad = " " * (indent + 4)
    fields = [f"{pad}{name}={getattr(section, name)!r}," for name in Section.__dataclass_fields__]
    return "Section(\n" + "\n".join(fields) + "\n" + " " * indent + ")"


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _doc(text: str) -> str:
    return _comment(text).replace("\\", "\\\\").replace('"', '\\"')
