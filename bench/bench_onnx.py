"""ONNX export and int8 quantization, measured in one run on this machine's CPU.

    python bench/bench_onnx.py [--part export|quantize|all] [--runs 200]

export: netc's direct backend (codegen/onnx.py: IR -> ONNX, no torch) against torch.onnx.export of the generated
  module, both the dynamo exporter (torch.export + onnxscript) and the TorchScript one (dynamo=False), each with
  the same dynamic axes (every input dim that is a symbol in the source). Wall time of the export alone (the front end, the weights and building the torch
  module are not counted for either; netc's includes onnx.checker's full check), the file size, the number of nodes, whether onnx.checker passes, whether onnxruntime agrees
  with the torch module (float32 tolerances of `netc verify`) and the names of the input's dynamic axes.
quantize: trains the digits MLP (samples/digits_mlp.net) and LeNet-5 (samples/lenet5_digits.net) with their
  train sections, exports them with the trained weights (written as safetensors), then quantizes them
  dynamically and statically (calibrated on the training split). File size, onnxruntime latency on one thread
  (median of --runs single-sample runs, and one pass over the test split in batches of 64) and test accuracy.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

import netc
from netc.codegen import get_backend
from netc.export import build_model, export, fresh_state, graph_weights, save_model
from netc.train import load_spec, train
from netc.train.data import load as load_data
from netc.verify import compare_arrays, random_inputs
from netc.weights import save

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
EXPORT_CASES = [("mnist_mlp.net", {}), ("lenet5.net", {}), ("resnet18.net", {}), ("resnet50.net", {}),
                ("unet.net", {"base": 16}), ("gpt2.net", {"layers": 4}), ("bert.net", {"layers": 4}),
                ("lstm_classifier.net", {})]


def session(path_or_bytes: str | bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(path_or_bytes, opts, providers=["CPUExecutionProvider"])


def _concrete(path: Path, sets: dict[str, int], graph) -> tuple[dict[str, int], list[np.ndarray]]:  # type: ignore[no-untyped-def]
    sizes = {s: 2 if s in ("B", "N") else 16 for s in graph.symbols}
    bound = netc.check(path, {**sets, **sizes}).graphs[graph.name]
    return sizes, random_inputs(bound, np.random.default_rng(1), "float32")


def bench_export() -> None:
    print("export: seconds (file MB, nodes, checker, onnxruntime vs torch, input axes, one-thread run time)")
    for sample, sets in EXPORT_CASES:
        path = SAMPLES / sample
        result = netc.check(path, sets)
        graph = next(iter(result.graphs.values()))
        state = fresh_state(graph)
        _, inputs = _concrete(path, sets, graph)
        module = get_backend("torch").build(result)().eval()
        module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        with torch.no_grad():
            want = module(*[torch.from_numpy(a) for a in inputs])
        want = want if isinstance(want, (tuple, list)) else (want,)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "direct.onnx"
            t = time.perf_counter()
            save_model(build_model(graph, state), out)  # includes onnx.checker (full check)
            rows.append(("netc direct", time.perf_counter() - t, out))
            names = [name for name, _, _ in graph.inputs]
            args = tuple(torch.from_numpy(a) for a in inputs)
            for label, dynamo in (("torch.onnx dynamo", True), ("torch.onnx torchscript", False)):
                out = Path(tmp) / f"{dynamo}.onnx"
                t = time.perf_counter()
                try:
                    # The same dynamic axes netc names: every input dim that is a symbol in the source.
                    axes = {name: {i: str(d) for i, d in enumerate(v.type.dims) if str(d) in graph.symbols}
                            for name, v, _ in graph.inputs}
                    if dynamo:
                        dims = {sym: torch.export.Dim(sym, min=1, max=4096) for sym in graph.symbols}
                        shapes = tuple({i: dims[sym] for i, sym in axes[name].items()} for name in names)
                        torch.onnx.export(module, args, str(out), dynamo=True, input_names=names,
                                          dynamic_shapes=shapes, verbose=False)
                    else:
                        torch.onnx.export(module, args, str(out), dynamo=False, input_names=names,
                                          dynamic_axes=axes, opset_version=18)
                    rows.append((label, time.perf_counter() - t, out))
                except Exception as exc:  # noqa: BLE001 - report and go on
                    rows.append((label, time.perf_counter() - t, f"{type(exc).__name__}: {str(exc)[:80]}"))
            print(f"{sample} {sets or ''}")
            base = rows[0][1]
            for label, seconds, out in rows:
                if isinstance(out, str):
                    print(f"  {label:<24} {seconds:7.2f} s  FAILED {out}")
                    continue
                model = onnx.load(str(out))
                try:
                    onnx.checker.check_model(str(out), full_check=True)
                    checked = "ok"
                except Exception as exc:  # noqa: BLE001
                    checked = f"fails ({type(exc).__name__})"
                sess = session(str(out))
                feeds = {i.name: a for i, a in zip(sess.get_inputs(), inputs)}
                got = sess.run(None, feeds)
                runs = []
                for _ in range(5):
                    t = time.perf_counter()
                    sess.run(None, feeds)
                    runs.append(time.perf_counter() - t)
                agree = all(compare_arrays(g, w, "float32")[2] for g, w in zip(got, want))
                axes = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
                size = sum(f.stat().st_size for f in Path(tmp).glob(f"{out.stem}*"))
                print(f"  {label:<24} {seconds:7.2f} s  ({seconds / base:5.1f}x)  {size / 2**20:7.2f} MB  "
                      f"{len(model.graph.node):5d} nodes  checker {checked}  ort {'agrees' if agree else 'DIFFERS'}"
                      f"  axes {axes}  ort run {min(runs) * 1e3:.2f} ms")


def _latency(path: Path, x: np.ndarray, runs: int) -> tuple[float, float]:
    sess = session(str(path))
    name = sess.get_inputs()[0].name
    one = x[:1]
    for _ in range(10):
        sess.run(None, {name: one})
    times = []
    for i in range(runs):
        t = time.perf_counter()
        sess.run(None, {name: x[i % len(x):i % len(x) + 1]})
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    for i in range(0, len(x), 64):
        sess.run(None, {name: x[i:i + 64]})
    return statistics.median(times), time.perf_counter() - t


def _accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    sess = session(str(path))
    name = sess.get_inputs()[0].name
    logits = np.concatenate([sess.run(None, {name: x[i:i + 64]})[0] for i in range(0, len(x), 64)])
    return float((logits.argmax(-1) == y).mean())


def bench_quantize(runs: int) -> None:
    print("quantize: file size, onnxruntime latency on one thread, test accuracy")
    for sample in ("digits_mlp.net", "lenet5_digits.net"):
        path = SAMPLES / sample
        spec = load_spec(path)
        result = netc.check(path)
        graph = result.graphs[spec.models[0].graph.name]
        torch.manual_seed(0)
        model = netc.build(path)()
        with tempfile.TemporaryDirectory() as tmp:
            report = train(path, models={spec.models[0].alias: model}, out=Path(tmp) / "run", progress=False,
                           echo=lambda s: None)
            weights = Path(tmp) / "trained.safetensors"
            save(model.state_dict(), weights)
            graph_weights(graph, str(weights))  # fits
            test = load_data(spec).test
            assert test is not None and test.y is not None
            print(f"{sample}: trained, torch test accuracy {report.test.get('test_accuracy', float('nan')):.4f}")
            base = None
            for mode in (None, "dynamic", "static"):
                out = Path(tmp) / f"{mode or 'float32'}.onnx"
                export(result, graph, out, str(weights), mode)
                size = out.stat().st_size
                one, whole = _latency(out, test.x, runs)
                acc = _accuracy(out, test.x, test.y)
                base = base or (size, one, whole, acc)
                print(f"  {mode or 'float32':<8} {size / 1024:8.1f} KiB ({size / base[0]:4.2f}x)  "
                      f"batch 1: {one * 1e6:7.1f} us ({one / base[1]:4.2f}x)  "
                      f"test split ({len(test.x)}): {whole * 1e3:6.2f} ms ({whole / base[2]:4.2f}x)  "
                      f"accuracy {acc:.4f} ({(acc - base[3]) * 100:+.2f} points)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["export", "quantize", "all"], default="all")
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.part in ("export", "all"):
        bench_export()
    if args.part in ("quantize", "all"):
        bench_quantize(args.runs)


if __name__ == "__main__":
    main()
