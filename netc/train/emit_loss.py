"""A `train` section's loss expressions as Python: `torch.nn.functional` calls over the networks' outputs.

The generated `losses` method is a generator: it yields each network's loss in the order the steps alternate,
and the loop takes that network's optimizer step before asking for the next one, so a GAN's generator loss
is computed with the discriminator just updated. User names reach the code only through the section's
:class:`netc.codegen.naming.Namespace`, numbers through `repr`.
"""
from __future__ import annotations

from ..codegen.naming import Namespace
from ..dsl.dims import Dim
from ..dsl.train import CLASS_LOSSES, LOSSES, LBin, LCall, LExpr, LIndex, LModel, LNeg, LNum, LRef, TrainSpec, walk

_F = {"cross_entropy": "F.cross_entropy", "nll": "F.nll_loss", "mse": "F.mse_loss", "l1": "F.l1_loss",
      "smooth_l1": "F.smooth_l1_loss", "bce": "F.binary_cross_entropy",
      "bce_with_logits": "F.binary_cross_entropy_with_logits", "kl_div": "F.kl_div"}
_UNARY = {"sum": "torch.sum", "mean": "torch.mean", "exp": "torch.exp", "log": "torch.log", "abs": "torch.abs"}
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}
_FILL = {"normal": "torch.randn", "uniform": "torch.rand"}


class LossWriter:
    """Writes the body of `losses(self, models, modules, x, target)` for one section."""

    def __init__(self, spec: TrainSpec, ns: Namespace) -> None:
        self.spec = spec
        self.ns = ns
        self.helpers: set[str] = set()  # runtime helpers the code calls (as_target, kl_normal, l1_penalty)
        self.pre: list[str] = []  # statements the current loss needs first (a network's output, once)
        self.n_pred = 0
        self.training = ""  # the alias whose step is being written: it runs as `models[...]`, others as modules

    def var(self, name: str) -> str:
        if name in ("x", "target"):
            return name
        return self.ns.name(name, ("var", name))

    def uses(self, name: str) -> bool:
        return any(isinstance(e, LRef) and e.name == name for loss in self.spec.losses.values() for e in walk(loss))

    # -- the method body -------------------------------------------------------------------------
    def body(self) -> list[str]:
        spec = self.spec
        lines: list[str] = []
        for name, (dist, ttype, _) in spec.noises.items():
            dims = ["len(x)" if isinstance(d, Dim) else repr(int(d)) for d in ttype.dims]
            lines.append(f"{self.var(name)} = {_FILL[dist]}({', '.join(dims)}, device=x.device)")
        if spec.single:
            lines += self.forward()
        for alias, loss in spec.losses.items():
            self.training = alias
            self.pre = []
            text = self.expr(loss)
            if spec.l1:
                self.helpers.add("l1_penalty")
                text = f"{text} + {spec.l1!r} * l1_penalty(modules[{alias!r}])"
            if not spec.single:
                network = next(m.network for m in spec.models if m.alias == alias)
                lines.append(f"# {_comment(alias)} ({_comment(network)}) takes its step")
            lines += self.pre
            scored = self.var(spec.prediction) if spec.single and spec.prediction is not None else "None"
            lines.append(f"yield {alias!r}, {text}, {scored}")
        return lines

    def forward(self) -> list[str]:
        """Single network: run it on `x` once and bind its outputs by name."""
        m = self.spec.models[0]
        outs = [self.var(n) if self.uses(n) or n == self.spec.prediction else "_" for n in m.output_names]
        lines = []
        if m.required_inputs[0] != "x" and self.uses(m.required_inputs[0]):
            lines.append(f"{self.var(m.required_inputs[0])} = x")
        lhs = outs[0] if len(outs) == 1 else ", ".join(outs)
        lines.append(f"{lhs} = models[{m.alias!r}](x)")
        return lines

    # -- expressions -----------------------------------------------------------------------------
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
            holder = "models" if e.alias == self.training else "modules"
            return f"{holder}[{e.alias!r}]({', '.join(self.expr(a) for a in e.args)})"
        if isinstance(e, LCall):
            return self.call(e, prec)
        raise TypeError(f"unknown loss expression {type(e).__name__}")  # the checker admits no other

    def call(self, e: LCall, prec: int) -> str:
        args = [self.expr(a) for a in e.args]
        if e.fn == "kl_normal":
            self.helpers.add("kl_normal")
            return f"kl_normal({args[0]}, {args[1]}, {e.options['reduction']!r})"
        if e.fn == "flatten":
            return f"torch.flatten({args[0]}, 1)"
        if e.fn == "detach":
            return f"{self.expr(e.args[0], 5)}.detach()"
        if e.fn in _UNARY:
            return f"{_UNARY[e.fn]}({args[0]})"
        return self.loss(e, args)

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
        self.helpers.add("as_target")
        target = f"as_target({target}, {pred})"
        if e.fn == "bce_with_logits" and e.options.get("pos_weight") is not None:
            kw = [k for k in kw if not k.startswith("pos_weight")]
            kw.append(f"pos_weight=torch.tensor({float(e.options['pos_weight'])!r}, device={pred}.device)")
        if e.fn == "kl_div" and e.options["reduction"] == "batchmean":
            kw = [k for k in kw if not k.startswith("reduction")] + ["reduction='batchmean'"]
        return f"{_F[e.fn]}({', '.join([pred, target, *kw])})"


def scored_loss(spec: TrainSpec) -> str | None:
    """The loss applied to the output that metrics score: it says how to read that output as probabilities."""
    if spec.prediction is None:
        return None
    for e in walk(next(iter(spec.losses.values()))):
        if isinstance(e, LCall) and e.args and isinstance(e.args[0], LRef) and e.args[0].name == spec.prediction:
            return e.fn
    return None


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)

