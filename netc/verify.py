"""`netc verify`: run the PyTorch and NumPy backends on the same random weights and inputs, and compare.

Both backends are built in memory from the same IR. Weights are drawn once (seeded) and loaded into both
through their state_dicts, inputs are drawn from the declared input types, with symbols bound by `--set`
or given small defaults. Every output and every layer both sides expose is compared: torch's by forward
hooks on the modules (keyed by module path, which is the IR path), NumPy's by the trace dict its forward
fills. The first layer in execution order that differs beyond tolerance is named, with its source line.

torch is imported by the functions that need it, never at module level.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dsl.compiler import Result, compile_source
from .dsl.dims import Dim
from .dsl.ir import Graph, Module, OpNode
from .dsl.limits import VERIFY_ELEMENTS
from .dsl.source import Source

# ../shared/reference/README.md: torch.testing's defaults for float32, 1e-7 both ways for float64.
TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}
BATCH_DEFAULT = 2
SIZE_CANDIDATES = (8, 16, 32, 64, 128, 224, 256)  # tried in turn for other symbols until the shapes check


class VerifyError(Exception):
    """Something the user can fix (sizes that do not check, a backend that cannot build the network)."""


@dataclass
class Check:
    """One compared tensor: a network output or a layer's output."""

    name: str
    op: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    ok: bool
    location: str = ""
    note: str = ""


@dataclass
class Report:
    network: str
    dtype: str
    seed: int
    sizes: dict[str, int]
    inputs: list[tuple[str, str]]
    outputs: list[Check] = field(default_factory=list)
    layers: list[Check] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # IR layers torch has no module for

    @property
    def tolerance(self) -> tuple[float, float]:
        return TOLERANCES[self.dtype]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.outputs) and all(c.ok for c in self.layers)

    @property
    def first_divergence(self) -> Check | None:
        return next((c for c in self.layers if not c.ok), None)


# -- sizes, weights and inputs -----------------------------------------------------------------------------------
_BATCH_NAMES = {"b", "n", "batch", "bs", "batch_size"}


def _batch_symbols(graph: Graph) -> set[str]:
    """The batch symbols, which get the small default: named like one (B, N, batch), else the first dims."""
    named = {s for s in graph.symbols if s.lower() in _BATCH_NAMES}
    if named:
        return named
    out = set()
    for _, value, _ in graph.inputs:
        if value.type.dims and isinstance(value.type.dims[0], Dim):
            out |= value.type.dims[0].symbols()
    return out


def resolve_sizes(source: Source, overrides: dict[str, int], network: str,
                  graph: Graph, import_paths: tuple[str | Path, ...] = ()) -> tuple[dict[str, int], Graph]:
    """Bind every symbol still open in `graph`: the batch to 2, the rest to the smallest size that checks."""
    open_symbols = [s for s in graph.symbols if s not in overrides]
    if not graph.symbols:
        return dict(overrides), graph
    if not open_symbols:  # every symbol is bound by the overrides, which `graph` was not built with
        result = compile_source(source, overrides, network, import_paths)
        if result.ok and network in result.graphs:
            return dict(overrides), result.graphs[network]
        raise VerifyError(f"the sizes {overrides} do not pass the shape checks of {network}")
    batch = {s: BATCH_DEFAULT for s in open_symbols if s in _batch_symbols(graph)}
    others = [s for s in open_symbols if s not in batch]
    for size in SIZE_CANDIDATES if others else (None,):
        sizes = {**overrides, **batch, **{s: size for s in others if size is not None}}
        result = compile_source(source, sizes, network, import_paths)
        if result.ok and network in result.graphs:
            return sizes, result.graphs[network]
    for size in (BATCH_DEFAULT, *SIZE_CANDIDATES):  # `where B == T` ties a batch symbol to another: one size
        sizes = {**overrides, **{s: size for s in open_symbols}}
        result = compile_source(source, sizes, network)
        if result.ok and network in result.graphs:
            return sizes, result.graphs[network]
    raise VerifyError(f"could not find sizes for {', '.join(others)} that pass the shape checks; "
                      f"bind them with --set, e.g. --set {others[0]}=64")


def _elements(graph: Graph) -> int:
    """What running `graph` materialises, in elements: every parameter and buffer, every input and output of
    every layer. Counted before allocating anything, so that a huge size is an error, not a MemoryError."""
    total = 0

    def numel(dims: Any) -> int:
        n = 1
        for d in dims:
            n *= d if isinstance(d, int) else 1
        return n

    total += sum(numel(s.type.dims) for s in graph.root.state_nodes())
    for node in graph.op_nodes():
        total += sum(numel(s) for s in node.params.values()) + sum(numel(s) for s, _ in node.buffers.values())
        total += sum(numel(v.type.dims) for v in node.outputs)
    return total + sum(numel(v.type.dims) for _, v, _ in graph.inputs)


def _node_of_key(graph: Graph) -> dict[str, tuple[OpNode, str]]:
    out = {}
    for node in graph.op_nodes():
        prefix = node.path + "." if node.path else ""
        for name in list(node.params) + list(node.buffers):
            out[prefix + name] = (node, name)
    return out


def random_state(graph: Graph, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights at the scale of torch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Norm layers get running statistics and affine parameters away from 0 and 1, so that a mistake in them
    cannot hide behind the identity. Tied entries share the values of the key they are tied to. Values are
    drawn in float32 (fast, and exactly the same weights for a float32 and a float64 comparison).
    """
    owners = _node_of_key(graph)
    declared = {s.path for s in graph.root.state_nodes()}
    state: dict[str, np.ndarray] = {}
    for entry in graph.state_dict():
        shape = tuple(entry.shape)
        tied = getattr(entry, "tied_to", None)
        if tied is not None and tied in state:
            state[entry.key] = state[tied]
            continue
        if entry.key in declared:  # `param`/`buffer`: values away from its initializer, so misuse shows
            state[entry.key] = (np.zeros(shape, dtype=entry.dtype) if not entry.dtype.startswith("float")
                                else _uniform(rng, -0.5, 0.5, shape))
            continue
        node, name = owners[entry.key]
        norm = node.op.startswith(("BatchNorm", "LayerNorm"))
        if entry.dtype.startswith("int"):
            state[entry.key] = np.zeros(shape, dtype=np.int64)
        elif name == "running_var":
            state[entry.key] = _uniform(rng, 0.5, 2.0, shape)
        elif name == "running_mean" or (norm and name == "bias"):
            state[entry.key] = _uniform(rng, -0.5, 0.5, shape)
        elif norm and name == "weight":
            state[entry.key] = _uniform(rng, 0.5, 1.5, shape)
        elif node.op == "Embedding":
            # std 1/sqrt(dim), near GPT-2's and BERT's 0.02, rather than nn.Embedding's N(0, 1): an output
            # layer tied to the table would otherwise give logits ~sqrt(dim) large, where float32 rounding
            # alone (either backend's, alike) exceeds torch.testing's tolerance.
            state[entry.key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(shape[-1] ** -0.5)
        elif "PositionalEncoding" in node.op:
            state[entry.key] = rng.standard_normal(shape, dtype=np.float32)
        else:
            bound = 1 / np.sqrt(_fan_in(shape) if len(shape) > 1 else _fan_in_of(node))
            state[entry.key] = _uniform(rng, -bound, bound, shape)
    return state


def _uniform(rng: np.random.Generator, lo: float, hi: float, shape: tuple[int, ...]) -> np.ndarray:
    u = rng.random(shape, dtype=np.float32)
    u *= np.float32(hi - lo)
    u += np.float32(lo)
    return u


def _fan_in(shape: tuple[int, ...]) -> int:
    """torch's fan_in of a weight: every dim but the first (ConvTranspose's (C_in, C_out/g, *k) included)."""
    return max(int(np.prod(shape[1:])), 1)


def _fan_in_of(node: OpNode) -> int:
    """The fan_in of a node's first matrix-like parameter, for its biases."""
    for shape in node.params.values():
        if len(shape) > 1:
            return _fan_in(tuple(shape))  # type: ignore[arg-type]
    return 1


def _index_range(graph: Graph, value_id: int) -> int:
    """Integer inputs are indices: keep them below the smallest table (or length) they index."""
    highs = [n.attrs["num_embeddings"] for n in graph.op_nodes()
             if n.op in ("Embedding", "EmbeddingBag") and any(v.id == value_id for v in n.inputs)]
    for n in graph.op_nodes():  # gather's index runs along its input's `dim`
        if n.op == "gather" and n.inputs[1].id == value_id and n.inputs[0].type.rank:
            size = n.inputs[0].type.dims[n.attrs["dim"] % n.inputs[0].type.rank]
            if isinstance(size, int):
                highs.append(size)
    return min(highs) if highs else 10


def _pads_keys(graph: Graph, value_id: int) -> bool:
    """Is the input a key padding mask of some attention (`key_padding_mask=pad`)?"""
    for n in graph.op_nodes():
        for name, at in n.attrs.items():
            if name.endswith("key_padding_mask") and isinstance(at, int) and not isinstance(at, bool) \
                    and 0 <= at < len(n.inputs) and n.inputs[at].id == value_id:
                return True
    return False


def random_inputs(graph: Graph, rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    arrays = []
    for _, value, _ in graph.inputs:
        shape = tuple(int(d) for d in value.type.dims)  # type: ignore[call-overload]
        kind = value.type.dtype
        # np.asarray: a 0-d draw is a NumPy scalar, which torch.from_numpy and in-place kernels refuse
        if kind == "bool":
            a = rng.random(shape) < 0.2
            if a.ndim and _pads_keys(graph, value.id):
                # a padding mask keeps its first key, as right padding does: a query with every key masked has
                # no defined output (torch's fast path gives NaN, its other path 0, NumPy 0)
                a[..., 0] = False
        elif kind.startswith(("i", "u")):
            a = rng.integers(0, _index_range(graph, value.id), shape).astype(np.int64)
        else:
            a = rng.standard_normal(shape).astype(dtype)
        arrays.append(np.asarray(a))  # for shape (), numpy draws a scalar, not a 0-d array
    return arrays


# -- running both backends ---------------------------------------------------------------------------------------
def _contiguous(a: np.ndarray) -> np.ndarray:
    """`a` in C order for torch.from_numpy; unlike np.ascontiguousarray, a 0-d array stays 0-d."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _flatten(out: Any) -> list[Any]:
    """Tensors of a (nested) tuple, list or dict output, in order; None (torch's absent weights) dropped."""
    if out is None:
        return []
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flatten(item)]
    return [out]


def _as_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu()
        if t.dtype.is_floating_point:
            t = t.double()
        return t.numpy()
    return np.asarray(t)


def compare_arrays(ours: Any, theirs: Any, dtype: str) -> tuple[float, float, bool, str]:
    """Max absolute and relative error of NumPy against torch, and whether they agree within tolerance.

    Relative error is |a - b| / max(|b|, atol); agreement is torch.testing's |a - b| <= atol + rtol |b|, with
    NaN equal to NaN and infinities equal to themselves.
    """
    a, b = _as_numpy(ours), _as_numpy(theirs)
    if a.shape != b.shape:
        return float("inf"), float("inf"), False, f"shape {a.shape} vs torch {b.shape}"
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":
        same = bool(np.array_equal(a, b))
        diff = 0.0 if same else float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
        return diff, diff, same, "" if same else "integer results differ"
    rtol, atol = TOLERANCES[dtype]
    a, b = a.astype(np.float64), b.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    with np.errstate(invalid="ignore"):  # inf - inf; those places are settled by same_inf
        diff = np.where(both_nan | same_inf, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), np.inf, diff)
    if diff.size == 0:
        return 0.0, 0.0, True, ""
    rel = diff / np.maximum(np.abs(np.nan_to_num(b)), atol)
    ok = bool(np.all(diff <= atol + rtol * np.abs(np.nan_to_num(b))))
    return float(diff.max()), float(rel.max()), ok, ""


def _walk(graph: Graph) -> Iterator[OpNode | Module]:
    return graph.root.walk()


def compare_models(graph: Graph, torch_model: Any, numpy_model: Any, inputs: list[np.ndarray], dtype: str,
                   torch_path: Callable[[str], str] = str) -> tuple[list[Check], list[Check], list[str]]:
    """Run both models on `inputs`; the output checks, the per-layer checks, and the layers not compared.
    `torch_path` maps an IR path to the torch module's (they differ where a layer was renamed)."""
    import torch

    captured: dict[str, list[Any]] = {}

    def hook(name: str) -> Any:
        def fn(_module: Any, _args: Any, output: Any) -> None:
            # clone: an in-place op later in the network must not change what we compare
            captured.setdefault(name, []).append([t.detach().clone() for t in _flatten(output)
                                                  if isinstance(t, torch.Tensor)])
        return fn

    handles = [m.register_forward_hook(hook(name)) for name, m in torch_model.named_modules() if name]
    try:
        with torch.no_grad():
            torch_out = torch_model(*[torch.from_numpy(_contiguous(x)) for x in inputs])
    finally:
        for h in handles:
            h.remove()
    trace: dict[str, Any] = {}
    numpy_out = numpy_model.forward(*inputs, trace=trace)

    outputs = []
    theirs_out, ours_out = _flatten(torch_out), _flatten(numpy_out)
    for i, (name, _value) in enumerate(graph.outputs):
        if i >= len(theirs_out) or i >= len(ours_out):
            outputs.append(Check(name, "output", (), float("inf"), float("inf"), False, note="missing output"))
            continue
        max_abs, max_rel, ok, note = compare_arrays(ours_out[i], theirs_out[i], dtype)
        outputs.append(Check(name, "output", tuple(_as_numpy(theirs_out[i]).shape), max_abs, max_rel, ok,
                             note=note))
    if len(theirs_out) != len(graph.outputs):
        outputs.append(Check("(outputs)", "output", (), float("inf"), float("inf"), False,
                             note=f"torch returned {len(theirs_out)} tensors for {len(graph.outputs)} outputs"))

    layers: list[Check] = []
    unmatched: list[str] = []
    for item in _walk(graph):
        path = item.path
        op = item.op if isinstance(item, OpNode) else (item.definition or item.kind)
        location = item.span.location() if getattr(item, "span", None) is not None else ""
        if torch_path(path) not in captured or path not in trace:
            unmatched.append(path)
            continue
        calls = captured[torch_path(path)]
        if len(calls) != 1:
            unmatched.append(path)  # a module torch calls more than once has no single output to compare
            continue
        ours, theirs = _flatten(trace[path]), calls[0]
        if len(ours) != len(theirs):
            layers.append(Check(path, op, (), float("inf"), float("inf"), False, location,
                                f"{len(ours)} outputs vs torch {len(theirs)}"))
            continue
        worst: tuple[float, float, bool, str] = (0.0, 0.0, True, "")
        for a, b in zip(ours, theirs):
            r = compare_arrays(a, b, dtype)
            worst = (max(worst[0], r[0]), max(worst[1], r[1]), worst[2] and r[2], worst[3] or r[3])
        shape = tuple(theirs[0].shape) if theirs else ()
        layers.append(Check(path, op, shape, worst[0], worst[1], worst[2], location, worst[3]))
    return outputs, layers, unmatched


def _inner_noise(graph: Graph) -> list[str]:
    """Blocks that sample an optional input their caller left out (`input eps: ... = randn`), as `path (eps)`."""
    found: list[str] = []
    for item in graph.root.walk():
        if not isinstance(item, Module) or not getattr(item, "input_defaults", None):
            continue
        passed = {v.id for v in item.inputs}
        for node in item.op_nodes():
            for v in node.inputs:
                d = item.input_defaults.get(v.name)
                if (d is not None and d.fill in ("randn", "rand") and v.producer is None and v.id not in passed
                        and f"`{item.path}` ({v.name})" not in found):
                    found.append(f"`{item.path}` ({v.name})")
    return found


def verify_network(result: Result, source: Source, overrides: dict[str, int], network: str, dtype: str = "float64",
                   seed: int = 0) -> Report:
    """Build both backends for `network`, run them on seeded random weights and inputs, compare."""
    import torch

    from .codegen import get_backend, numpy_ref
    from .codegen import torch as torch_backend

    if dtype not in TOLERANCES:
        raise VerifyError(f"unknown dtype {dtype!r}; use float32 or float64")
    graph = result.graphs[network]
    inner = _inner_noise(graph)
    if inner:
        raise VerifyError(f"{', '.join(inner)} draw{'s' if len(inner) == 1 else ''} noise inside the network, "
                          "where the two backends use different random generators; declare it as an input of "
                          f"`{network}` (`input eps: ... = randn`) and pass it down, so a fixed value reaches both")
    sizes, concrete = resolve_sizes(source, overrides, network, graph, result.import_paths)
    need = _elements(concrete)
    if need > VERIFY_ELEMENTS.value:
        raise VerifyError(f"{network} with sizes {sizes} needs {need:,} elements of weights and activations; "
                          f"bind smaller sizes with --set ({VERIFY_ELEMENTS.hint()})")
    rng = np.random.default_rng(seed)
    state = random_state(graph, rng)
    inputs = random_inputs(concrete, rng, dtype)
    try:
        torch_cls = get_backend("torch").build(result, network=network)
    except Exception as exc:  # noqa: BLE001 - reported as the reason verification could not run
        raise VerifyError(f"the torch backend cannot build {network}: {type(exc).__name__}: {exc}") from exc
    numpy_cls = numpy_ref.build(result, network=network, trace=True)
    torch_path = torch_backend.generated_paths(torch_cls)  # a renamed layer (`eval` -> `eval_1`) differs
    torch.manual_seed(seed)
    model = torch_cls()
    model.eval()
    model.to({"float32": torch.float32, "float64": torch.float64}[dtype])
    try:
        model.load_state_dict({torch_path(k): torch.from_numpy(_contiguous(v)) for k, v in state.items()},
                              strict=True)
    except RuntimeError as exc:
        raise VerifyError(f"the torch module's state_dict does not match the IR's: {exc}") from exc
    numpy_model = numpy_cls(state, dtype=dtype)
    report = Report(network, dtype, seed, sizes,
                    [(name, f"{value.type.dtype}[{', '.join(str(d) for d in value.type.dims)}]")
                     for name, value, _ in concrete.inputs])
    report.outputs, report.layers, report.unmatched = compare_models(graph, model, numpy_model, inputs, dtype,
                                                                     torch_path)
    return report


# -- the report ----------------------------------------------------------------------------------------------------
def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.1e}"


def format_report(report: Report) -> str:
    rtol, atol = report.tolerance
    sizes = ", ".join(f"{k}={v}" for k, v in report.sizes.items())
    lines = [f"{report.network}: NumPy vs PyTorch, {report.dtype}, seed {report.seed}"
             + (f", {sizes}" if sizes else "") + f" (tolerance rtol={rtol:g}, atol={atol:g})"]
    lines.append("  inputs: " + ", ".join(f"{n} {t}" for n, t in report.inputs))
    header = ("output", "shape", "max abs err", "max rel err", "")
    rows = [header] + [(c.name, str(c.shape), _fmt(c.max_abs), _fmt(c.max_rel),
                        ("ok" if c.ok else "MISMATCH") + (f" ({c.note})" if c.note else "")) for c in report.outputs]
    lines += _table(rows)
    if report.layers:
        rows = [("layer", "op", "shape", "max abs err", "max rel err", "")]
        rows += [(c.name, c.op, str(c.shape), _fmt(c.max_abs), _fmt(c.max_rel),
                  ("ok" if c.ok else "MISMATCH") + (f" ({c.note})" if c.note else "")) for c in report.layers]
        lines.append("")
        lines += _table(rows)
    n = len(report.unmatched)
    lines.append(f"  {len(report.layers)} layers compared" + (
        f"; {n} {'layer has' if n == 1 else 'layers have'} no torch module of {'its' if n == 1 else 'their'} own "
        "(checked through the enclosing block or the layers after)" if n else ""))
    first = report.first_divergence
    if first is not None:
        where = f" at {first.location}" if first.location else ""
        lines.append(f"  first divergence: {first.name} ({first.op}{where}): max abs err {_fmt(first.max_abs)}")
    if report.ok:
        lines.append(f"ok: {report.network} agrees within tolerance")
    else:
        lines.append(f"error: {report.network}: NumPy and PyTorch differ beyond tolerance")
    return "\n".join(lines)
