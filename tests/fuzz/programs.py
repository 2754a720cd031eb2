"""Random valid `.net` programs, generated fast enough for thousands per CI run.

Grammar-driven drawing (hypothesis' `from_lark`) costs ~50 ms an example and rarely gets past the
elaborator; this generator instead tracks every value's shape while it writes the program, so each program
should check cleanly by construction. A program that does not is a finding: either the generator's idea of
an op's shape rule disagrees with the compiler's (fix one of them), or the compiler rejects a valid network.

What the programs contain, each chosen at random from a seed:
* one or two networks, each with one to three inputs of rank 2, 3 or 4 (batch dim `B` symbolic);
* chains of ops drawn from the ones whose shape rules are written below (linear, conv, pool, norm,
  activations, reductions, reshapes), binary arithmetic and `concat` of values of matching shapes;
* `[...] * N` and `Block * N` repeats, shape-preserving residual blocks with parameters and defaults;
* layer names (`as ...`) and value names drawn from a list of hostile names (Python keywords, builtins,
  nn.Module attributes, names the generated code uses, leading `__`, non-ASCII) to stress the namespace.

`program(rng)` returns the text and the expected output shapes per network (with B left symbolic).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

# Names a layer or value may be given: each is legal in .net and hostile to some backend's namespace.
HOSTILE = ["eval", "training", "forward", "state_dict", "parameters", "type", "print", "self", "np", "F", "nn",
           "torch", "t", "p", "trace", "x", "out", "lambda", "class", "def", "yield", "__x", "_1", "__", "café",
           "fc", "conv", "layer", "h", "y", "z", "input_", "list", "len", "sum", "max", "min"]
ACTIVATIONS = ["relu", "gelu", "tanh", "sigmoid", "silu", "elu", "softplus"]


@dataclass
class Val:
    name: str
    dims: tuple[int, ...]  # without the batch dim


@dataclass
class Body:
    rng: random.Random
    lines: list[str] = field(default_factory=list)
    values: list[Val] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)
    layer_names: set[str] = field(default_factory=set)

    def fresh(self, stem: str) -> str:
        base = self.rng.choice(HOSTILE) if self.rng.random() < 0.4 else stem
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}{k}"
        self.taken.add(name)
        return name

    def alias(self) -> str:
        if self.rng.random() > 0.3:
            return ""
        name = self.rng.choice(HOSTILE)
        if name in self.layer_names:
            return ""
        self.layer_names.add(name)
        return f" as {name}"


def _step(rng: random.Random, dims: tuple[int, ...]) -> tuple[str, tuple[int, ...]] | None:
    """One op applicable to a tensor of `dims` (batch excluded), as chain text, and its output dims."""
    rank = len(dims)
    choices: list[tuple[str, tuple[int, ...]]] = [(rng.choice(ACTIVATIONS), dims), ("Dropout(0.1)", dims)]
    if rank == 1:
        n = rng.choice([1, 2, 3, 5, 8])
        choices += [(f"Linear({n})", (n,)), (f"Linear({n}, bias=false)", (n,)), ("LayerNorm", dims),
                    ("BatchNorm1d", dims), ("softmax(dim=-1)", dims), ("log_softmax(dim=1)", dims)]
    elif rank == 2:
        n = rng.choice([2, 3, 4])
        t, f = dims
        choices += [(f"Linear({n})", (t, n)), ("LayerNorm", dims), ("softmax(dim=-1)", dims),
                    ("mean(dim=1)", (f,)), ("sum(dim=-1)", (t,)), ("transpose(1, 2)", (f, t)), ("flatten(1)", (t * f,)),
                    (f"Conv1d({n}, 3, padding=1)", (n, f)), ("AdaptiveAvgPool1d(1)", (t, 1))]
        if f >= 2:
            choices.append(("MaxPool1d(2)", (t, f // 2)))
        if f >= 3:
            choices.append((f"Conv1d({n}, 3)", (n, f - 2)))
    elif rank == 3:
        c, h, w = dims
        n = rng.choice([2, 3, 4])
        choices += [(f"Conv2d({n}, 3, padding=1)", (n, h, w)), (f"Conv2d({n}, 1, bias=false)", (n, h, w)),
                    ("BatchNorm2d", dims), ("AdaptiveAvgPool2d(1)", (c, 1, 1)), ("flatten(1)", (c * h * w,)),
                    ("mean(dim=[2, 3])", (c,))]
        if h >= 2 and w >= 2:
            choices += [("MaxPool2d(2)", (c, h // 2, w // 2)), ("AvgPool2d(2)", (c, h // 2, w // 2))]
        if h >= 3 and w >= 3:
            choices.append((f"Conv2d({n}, 3, stride=2)", (n, (h - 3) // 2 + 1, (w - 3) // 2 + 1)))
    return rng.choice(choices)


def _chain(rng: random.Random, dims: tuple[int, ...], length: int, body: Body) -> tuple[str, tuple[int, ...]]:
    parts = []
    for _ in range(length):
        step = _step(rng, dims)
        if step is None:
            break
        text, dims = step
        if text[0].isupper() and "(" in text or text in ("LayerNorm", "BatchNorm1d", "BatchNorm2d"):
            text += body.alias()
        parts.append(text)
    return " -> ".join(parts), dims


def _block(rng: random.Random, index: int) -> tuple[str, str]:
    """A shape-preserving residual block over f32[B, D], with a parameter and its default."""
    name = f"Res{index}"
    hidden = rng.choice([2, 3, 4])
    inner = rng.choice(HOSTILE[:8] + ["fc1"])
    act = rng.choice(ACTIVATIONS)
    text = (f"block {name}(n: int = {hidden}) {{\n    input h: f32[B, D]\n"
            f"    output h + (h -> Linear(n) as {inner} -> {act} -> Linear(D))\n}}\n")
    return name, text


def _network(rng: random.Random, name: str, blocks: list[str]) -> tuple[str, list[tuple[int, ...]]]:
    body = Body(rng)
    n_inputs = rng.choice([1, 1, 2, 3])
    lines = []
    for _ in range(n_inputs):
        dims = rng.choice([(rng.choice([3, 4, 6]),), (rng.choice([3, 5]), rng.choice([4, 6])),
                           (rng.choice([1, 3]), rng.choice([4, 6, 8]), rng.choice([4, 5, 8]))])
        v = Val(body.fresh("x"), dims)
        body.values.append(v)
        lines.append(f"    input {v.name}: f32[{', '.join(['B'] + [str(d) for d in dims])}]")
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        src = rng.choice(body.values[-3:])
        if kind < 0.55:
            text, dims = _chain(rng, src.dims, rng.randint(1, 4), body)
            expr = f"{src.name} -> {text}"
        elif kind < 0.7:
            flat = src.dims if len(src.dims) == 1 else None
            if flat is None:
                text, dims = f"{src.name} -> flatten(1)", (int_prod(src.dims),)
                expr = text
            else:
                expr, dims = src.name, src.dims
            reps = rng.choice([1, 2, 3])
            if blocks and rng.random() < 0.6:
                blk = rng.choice(blocks)
                arg = f"({rng.choice([2, 5])})" if rng.random() < 0.5 else ""
                expr += f" -> {blk}{arg} * {reps}{body.alias()}"
            else:
                n = rng.choice([2, 4])
                expr += f" -> [Linear({n}), {rng.choice(ACTIVATIONS)}] * {reps}{body.alias()}"
                dims = (n,)
        else:
            same = [v for v in body.values if v.dims == src.dims and v is not src]
            if same and rng.random() < 0.6:
                other = rng.choice(same)
                op = rng.choice(["+", "-", "*"])
                expr, dims = f"{src.name} {op} {other.name}", src.dims
            else:
                cat = [v for v in body.values if len(v.dims) == len(src.dims) and v.dims[:-1] == src.dims[:-1]]
                other = rng.choice(cat)
                expr, dims = f"concat({src.name}, {other.name}, dim=-1)", src.dims[:-1] + (src.dims[-1] + other.dims[-1],)
        v = Val(body.fresh("v"), dims)
        body.values.append(v)
        lines.append(f"    {v.name} = {expr}")
    outs = [body.values[-1]]
    if len(body.values) > 2 and rng.random() < 0.3:
        outs.append(body.values[-2])
    lines.append(f"    output {', '.join(o.name for o in outs)}")
    return f"network {name} {{\n" + "\n".join(lines) + "\n}\n", [o.dims for o in outs]


def int_prod(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def program(rng: random.Random) -> tuple[str, dict[str, list[tuple[int, ...]]]]:
    """A random valid program and, per network, its outputs' dims after the batch dim."""
    parts: list[str] = ["# generated by tests/fuzz/programs.py\n"]
    blocks = []
    for i in range(rng.choice([0, 1, 2])):
        name, text = _block(rng, i)
        blocks.append(name)
        parts.append(text)
    shapes = {}
    for i in range(rng.choice([1, 1, 2])):
        name = f"Net{i}"
        text, outs = _network(rng, name, blocks)
        parts.append(text)
        shapes[name] = outs
    return "\n".join(parts), shapes
