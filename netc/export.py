"""`netc export --format onnx` and `netc verify --target onnx`: the ONNX backend (codegen/onnx.py) with weights,
validation, int8 quantization, and a comparison of onnxruntime against the generated torch module.

Weights come from a torch or safetensors file (netc/weights.py) or are drawn fresh in NumPy at the scale of
torch's default initialisation, so exporting needs neither torch nor a checkpoint. Quantization uses ONNX
Runtime's tools: `dynamic` quantizes the weights of MatMul/Conv/Gather to int8 and the activations on the fly;
`static` also fixes the activations' ranges, calibrated on the train section's training data.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .dsl.compiler import Result
from .dsl.diagnostics import Diagnostics
from .dsl.ir import Graph, StateNode
from .dsl.source import Source
from .dsl.types import DTYPES
from .weights import WeightsError, check_fits, load_arrays

QUANTIZE = ("dynamic", "static")
CALIBRATION_SAMPLES = 512
PROTOBUF_LIMIT = 2 ** 31 - 2 ** 20  # one protobuf message; past it, weights go to an external data file


class ExportError(Exception):
    """A problem the user can fix; `diagnostics` is set when it has a source location."""

    def __init__(self, message: str, diagnostics: Diagnostics | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


def fresh_state(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Weights as a freshly built torch module has them: U(+-1/sqrt(fan_in)), norms at 1 and 0, the sinusoidal
    table computed."""
    from .verify import random_state

    state = random_state(graph, np.random.default_rng(seed))
    for node in graph.op_nodes():
        prefix = node.path + "." if node.path else ""
        for name in list(node.params) + list(node.buffers):
            key = prefix + name
            if name in node.tied:
                continue
            if name in ("running_var",) or (node.op.startswith(("BatchNorm", "LayerNorm")) and name == "weight"):
                state[key] = np.ones_like(state[key])
            elif name == "running_mean" or (node.op.startswith(("BatchNorm", "LayerNorm")) and name == "bias"):
                state[key] = np.zeros_like(state[key])
            elif node.op == "SinusoidalPositionalEncoding" and name == "pe":
                state[key] = sinusoidal_table(*state[key].shape)
    rng = np.random.default_rng(seed)
    for declared in graph.root.state_nodes():  # `param`/`buffer`: drawn as their initializer says
        if declared.persistent:
            state[declared.path] = initial_values(declared, rng)
    for entry in graph.state_dict():  # tied entries follow their owner
        if entry.tied_to is not None:
            state[entry.key] = state[entry.tied_to]
    return state


def initial_values(declared: StateNode, rng: np.random.Generator) -> np.ndarray:
    """A declared parameter's or buffer's initial values, drawn like torch.nn.init's function of that name
    (trunc_normal's a and b are absolute bounds, as in torch)."""
    shape = tuple(int(d) for d in declared.type.dims)
    dtype = DTYPES[declared.type.dtype]
    init = declared.init
    if init.kind in ("zeros", "ones", "constant"):
        value = init.arg("value") if init.kind == "constant" else float(init.kind == "ones")
        return np.full(shape, value, dtype=dtype)
    if init.kind == "uniform":
        return rng.uniform(init.arg("a"), init.arg("b"), shape).astype(dtype)
    values = rng.normal(init.arg("mean"), init.arg("std"), shape)
    if init.kind == "trunc_normal":
        lo, hi = init.arg("a"), init.arg("b")
        bad = (values < lo) | (values > hi)
        for _ in range(100):  # redraw what falls outside [a, b]: the truncated normal
            if not bad.any():
                break
            values[bad] = rng.normal(init.arg("mean"), init.arg("std"), int(bad.sum()))
            bad = (values < lo) | (values > hi)
        values = np.clip(values, lo, hi)  # [a, b] far in a tail: what redrawing did not place
    return values.astype(dtype)


def sinusoidal_table(max_len: int, d: int) -> np.ndarray:
    """pe[p, 2i] = sin(p / 10000^(2i/d)), pe[p, 2i+1] = cos(...), as the torch backend's buffer."""
    pos = np.arange(max_len, dtype=np.float32)[:, None]
    inv = np.power(np.float32(10000.0), -np.arange(0, d, 2, dtype=np.float32) / np.float32(d)).astype(np.float32)
    table = np.zeros((max_len, d), dtype=np.float32)
    table[:, 0::2] = np.sin(pos * inv)
    table[:, 1::2] = np.cos(pos * inv)
    return table


def graph_weights(graph: Graph, weights: str | None, seed: int = 0) -> dict[str, np.ndarray]:
    if weights is None:
        return fresh_state(graph, seed)
    try:
        arrays = load_arrays(weights, graph.name)
        expected = {e.key: tuple(int(d) for d in e.shape) for e in graph.state_dict()}
        tied = {e.key: e.tied_to for e in graph.state_dict() if e.tied_to is not None}
        for key, owner in tied.items():  # a file written without the tied copy still fits
            if key not in arrays and owner in arrays:
                arrays[key] = arrays[owner]
        check_fits(arrays, expected, weights)
    except WeightsError as exc:
        raise ExportError(str(exc)) from None
    kinds = {e.key: e.dtype for e in graph.state_dict()}
    return {k: v.astype(np.float32 if kinds[k] == "float32" else np.int64, copy=False) for k, v in arrays.items()}


def build_model(graph: Graph, weights: dict[str, np.ndarray]) -> Any:
    """The ONNX model, checked by onnx.checker; an unsupported op is a located E600."""
    import onnx

    from .codegen.onnx import UnsupportedOp, to_onnx

    try:
        model = to_onnx(graph, weights)
    except UnsupportedOp as exc:
        diags = Diagnostics()
        message = f"cannot export to ONNX: {exc.message}"
        if exc.node is not None:
            message = f"cannot export `{exc.node.op}` ({exc.node.path}) to ONNX: {exc.message}"
        diags.error("E600", message, exc.node.span if exc.node is not None else None,
                    help=exc.help or "netc compile --target torch still handles it")
        raise ExportError(message, diags) from None
    if model.ByteSize() < PROTOBUF_LIMIT:
        onnx.checker.check_model(model, full_check=True)  # larger models are checked from the file, in save_model
    return model


def save_model(model: Any, path: Path) -> None:
    """Write the model; past protobuf's 2 GB limit, the weights go to a side file (ONNX external data)."""
    import onnx

    from .codegen.base import write_atomic

    if model.ByteSize() < PROTOBUF_LIMIT:
        write_atomic(path, model.SerializeToString())
        return
    onnx.save_model(model, str(path), save_as_external_data=True, location=path.name + ".data")
    onnx.checker.check_model(str(path), full_check=True)


# -- quantization ------------------------------------------------------------------------------------------------
def calibration_arrays(result: Result, graph: Graph, limit: int = CALIBRATION_SAMPLES) -> list[np.ndarray]:
    """The first input's training data, from the train section that trains `graph`."""
    from .train import build
    from .train.data import load
    from .train.errors import TrainError

    for spec in result.trains:
        if any(m.graph.name == graph.name for m in spec.models):
            try:
                # the section as `netc train` runs it (its recipe), so the data is read the same way
                part = load(build.recipe(result, graph.source.path, spec.name).section).train
                x, _ = part.rows(np.arange(min(len(part), limit)))  # with the section's declared transforms
            except TrainError as exc:
                raise ExportError(f"cannot read the calibration data: {exc}") from None
            return [x[i:i + 64] for i in range(0, min(len(x), limit), 64)]
    raise ExportError(f"`--quantize static` calibrates on the training data, but no `train` section trains "
                      f"{graph.name}; use --quantize dynamic, or add a train section")


def quantize(model_path: Path, out: Path, mode: str, calibration: list[np.ndarray] | None = None,
             input_name: str | None = None) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(model_path), str(pre), skip_symbolic_shape=True)
        if mode == "dynamic":
            quantize_dynamic(str(pre), str(out), weight_type=QuantType.QInt8)
            return
        batches = list(calibration or [])

        class Reader(CalibrationDataReader):  # type: ignore[misc]
            def __init__(self) -> None:
                self.items = iter([{input_name: b} for b in batches])

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.items, None)

        quantize_static(str(pre), str(out), Reader(), activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, per_channel=True)


@dataclass
class Exported:
    path: Path
    bytes: int
    notes: list[str] = field(default_factory=list)


def export(result: Result, graph: Graph, out: Path, weights: str | None, mode: str | None, seed: int = 0) -> Exported:
    model = build_model(graph, graph_weights(graph, weights, seed))
    notes = []
    if weights is None:
        notes.append("no --weights given: the model holds freshly initialised weights")
    if mode is None:
        save_model(model, out)
    else:
        calibration = calibration_arrays(result, graph) if mode == "static" else None
        if len(graph.inputs) != 1 and mode == "static":
            raise ExportError("`--quantize static` calibrates networks with one input")
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / "model.onnx"
            save_model(model, plain)
            quantize(plain, out, mode, calibration, graph.inputs[0][0])
    return Exported(out, file_size(out), notes)


# -- onnxruntime against torch ----------------------------------------------------------------------------------
@dataclass
class OnnxCheck:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float
    ok: bool
    note: str = ""


@dataclass
class OnnxReport:
    network: str
    sizes: dict[str, int]
    checks: list[OnnxCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def verify_onnx(result: Result, source: Source, overrides: dict[str, int], network: str, seed: int = 0,
                weights: str | None = None) -> OnnxReport:
    """Export `network` with its symbols free (dynamic axes), run it in onnxruntime at concrete sizes, and
    compare every output with the generated torch module on the same weights and inputs (float32 tolerances
    of `netc verify`)."""
    import onnxruntime as ort
    import torch

    from .codegen import get_backend
    from .verify import VerifyError, compare_arrays, random_inputs, resolve_sizes

    graph = result.graphs[network]
    try:
        sizes, bound = resolve_sizes(source, overrides, network, graph)
    except VerifyError as exc:
        raise ExportError(str(exc)) from None
    state = graph_weights(graph, weights, seed) if weights else _verify_state(graph, seed)
    model = build_model(graph, state)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = random_inputs(bound, np.random.default_rng(seed + 1), "float32")
    feeds = {name: arr for (name, _, _), arr in zip(graph.inputs, inputs)}
    got = session.run(None, feeds)
    module = get_backend("torch").build(result, network=network)().eval()
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=True)
    with torch.no_grad():
        want = module(*[torch.from_numpy(np.array(a)) for a in inputs])
    from .verify import _flatten

    wanted = _flatten(want)
    checks = []
    for (name, _), ours, theirs in zip(graph.outputs, got, wanted):
        max_abs, max_rel, ok, note = compare_arrays(ours, theirs, "float32")
        checks.append(OnnxCheck(name, tuple(ours.shape), max_abs, max_rel, ok, note))
    return OnnxReport(network, sizes, checks)


def _verify_state(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    from .verify import random_state

    state = random_state(graph, np.random.default_rng(seed))
    return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in state.items()}


def format_onnx_report(report: OnnxReport) -> str:
    sizes = ", ".join(f"{k}={v}" for k, v in report.sizes.items())
    lines = [f"network {report.network}: onnxruntime vs torch, float32" + (f", {sizes}" if sizes else "")]
    for c in report.checks:
        status = "ok" if c.ok else "MISMATCH"
        lines.append(f"  {c.name:<20} {str(list(c.shape)):<20} max abs {c.max_abs:.3g}  max rel {c.max_rel:.3g}  "
                     f"{status}" + (f" ({c.note})" if c.note else ""))
    lines.append("  result: " + ("onnxruntime agrees with torch" if report.ok else "outputs differ"))
    return "\n".join(lines)


def file_size(path: Path) -> int:
    total = path.stat().st_size
    side = path.with_name(path.name + ".data")
    return total + (side.stat().st_size if side.exists() else 0)


__all__ = ["ExportError", "export", "verify_onnx", "format_onnx_report", "QUANTIZE"]
