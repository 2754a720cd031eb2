"""NumPy backend vs PyTorch: forward time per sample at batch 8, float32, on CPU, in one run.

    python bench/bench_numpy.py [--min-time 1.0] [--batch 8] [samples/foo.net ...]

For each network of each sample both backends are built in memory from the same IR and loaded with the
same random weights (as `netc verify` does). Each is timed in two settings: every library with its
default threads (torch's intra-op pool, OpenBLAS's pool), and both single-threaded. Runs alternate torch,
NumPy, torch, NumPy, ... until each side has had `--min-time` seconds (at least 3 runs), and each side's
fastest run counts, so a busy machine slows both alike. Read the ratio NumPy / torch.
Targets (issue 5): at most 3x torch for conv nets, 1.5x for MLPs. The last column says where the NumPy
forward spends its time (single-threaded), by kernel; "inline" is NumPy written into the forward itself
(`x + y`, `np.tanh`, reshapes).

OpenBLAS's thread count is switched at run time through its C API (ctypes), NumPy having no call for it;
on an oversubscribed machine its spinning threads can make small matrix products many times slower.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import netc
from netc.codegen import get_backend, numpy_ref
from netc.dsl.ir import Graph
from netc.dsl.source import Source
from netc.verify import _batch_symbols, random_inputs, random_state, resolve_sizes

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", nargs="*", help="sample files (default: samples/*.net)")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds of timed runs per backend and setting")
    ap.add_argument("--batch", type=int, default=8)
    return ap.parse_args()


def _openblas() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    """OpenBLAS's set/get thread count, from the library NumPy loaded (scipy-openblas or plain OpenBLAS)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and line.split()[-1].startswith("/")}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    return (lambda n, f=setter: f(ctypes.c_int(n))), getter
    return None


OPENBLAS = _openblas()


def set_threads(n: int | None, defaults: tuple[int, int]) -> None:
    """n threads for torch and OpenBLAS alike, or None for each library's default."""
    torch.set_num_threads(n or defaults[0])
    if OPENBLAS is not None:
        OPENBLAS[0](n or defaults[1])


CONV_OPS = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"}
MLP_OPS = {"Linear", "Dropout", "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus",
           "softmax", "log_softmax", "view", "flatten", "Flatten", "BatchNorm1d", "LayerNorm", "add", "mul", "sub",
           "exp"}


def kind(graph: Graph) -> tuple[str, float | None]:
    ops = {n.op for n in graph.op_nodes()}
    if ops & CONV_OPS:
        return "conv", 3.0
    if ops <= MLP_OPS:
        return "mlp", 1.5
    return "other", None


class KernelClock:
    """Wraps the generated module's kernels to add up the time spent in each (outermost calls only)."""

    def __init__(self, cls: type) -> None:
        self.namespace = cls.forward.__globals__
        self.totals: dict[str, float] = {}
        self.depth = 0
        self.saved = {name: fn for name, fn in self.namespace.items()
                      if callable(fn) and getattr(fn, "__module__", None) == self.namespace["__name__"]
                      and not isinstance(fn, type) and not name.startswith("_")}

    def __enter__(self) -> KernelClock:
        for name, fn in self.saved.items():
            self.namespace[name] = self._wrap(name, fn)
        return self

    def __exit__(self, *exc: object) -> None:
        self.namespace.update(self.saved)

    def _wrap(self, name: str, fn):  # type: ignore[no-untyped-def]
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.totals[name] = self.totals.get(name, 0.0) + time.perf_counter() - start
        return timed


def fastest(run_torch: Callable[[], None], run_numpy: Callable[[], None], min_time: float) -> tuple[float, float]:
    """Alternate the two until each has run for `min_time` seconds (at least 3 times); the fastest of each."""
    run_torch(), run_numpy()  # warm-up: allocator, caches, lazy initialisation
    best, spent, runs = [float("inf"), float("inf")], [0.0, 0.0], 0
    while runs < 3 or min(spent) < min_time:
        for i, fn in enumerate((run_torch, run_numpy)):
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            best[i], spent[i] = min(best[i], elapsed), spent[i] + elapsed
        runs += 1
    return best[0], best[1]


def bench_network(path: Path, name: str, result: netc.Result, min_time: float, batch: int,
                  defaults: tuple[int, int]) -> tuple[list[tuple[float, float]], str]:
    graph = result.graphs[name]
    overrides = {s: batch for s in _batch_symbols(graph)}
    _, concrete = resolve_sizes(Source(str(path), path.read_text()), overrides, name, graph)
    rng = np.random.default_rng(0)
    state = random_state(graph, rng)
    inputs = random_inputs(concrete, rng, "float32")
    torch_model = get_backend("torch").build(result, network=name)()
    torch_model.eval()
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    numpy_cls = numpy_ref.build(result, network=name)
    numpy_model = numpy_cls(state, dtype="float32")
    torch_inputs = [torch.from_numpy(x) for x in inputs]

    def run_torch() -> None:
        with torch.inference_mode():
            torch_model(*torch_inputs)

    def run_numpy() -> None:
        numpy_model.forward(*inputs)

    timings = []
    for threads in (None, 1):
        set_threads(threads, defaults)
        timings.append(fastest(run_torch, run_numpy, min_time))
    with KernelClock(numpy_cls) as clock:  # still single-threaded
        start = time.perf_counter()
        run_numpy()
        total = time.perf_counter() - start
    set_threads(None, defaults)
    shares = [(k, v / total) for k, v in clock.totals.items()] + [("inline", 1 - sum(clock.totals.values()) / total)]
    where = ", ".join(f"{k} {share:.0%}" for k, share in sorted(shares, key=lambda kv: -kv[1])[:4] if share >= 0.02)
    return timings, where


def main() -> int:
    args = parse_args()
    paths = [Path(p) for p in args.samples] or sorted((ROOT / "samples").glob("*.net"))
    defaults = (torch.get_num_threads(), OPENBLAS[1]() if OPENBLAS else 0)
    print(f"NumPy {np.__version__} vs torch {torch.__version__}, float32, batch {args.batch}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; default threads: torch {defaults[0]}, OpenBLAS "
          f"{defaults[1] or 'unknown (not switchable)'}")
    header = (f"{'sample':<22} {'network':<18} {'kind':<5} {'target':>6} | {'torch ms':>9} {'numpy ms':>9} "
              f"{'ratio':>6} | {'1 thread: torch':>15} {'numpy':>9} {'ratio':>6} | NumPy time by kernel")
    print(header)
    print("-" * len(header))
    for path in paths:
        result = netc.check(path)
        for name, graph in result.graphs.items():
            net_kind, target = kind(graph)
            goal = f"<={target:g}x" if target else "-"
            try:
                timings, where = bench_network(path, name, result, args.min_time, args.batch, defaults)
            except Exception as exc:  # noqa: BLE001 - one failing sample should not hide the others
                print(f"{path.name:<22} {name:<18} {net_kind:<5} {goal:>6} | failed: {type(exc).__name__}: {exc}")
                continue
            cells = []
            for t, n in timings:
                over = " !" if target is not None and n / t > target else "  "
                cells.append(f"{t * 1e3:9.2f} {n * 1e3:9.2f} {n / t:5.2f}x{over}")
            print(f"{path.name:<22} {name:<18} {net_kind:<5} {goal:>6} | {cells[0]}| {'':6}{cells[1]}| {where}")
            sys.stdout.flush()
    print("(! = over the target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
