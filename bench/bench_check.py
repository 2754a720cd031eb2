"""How fast is `netc check`? Front-end time per sample and per layer, growth with size, and start-up.

Prints, for every sample and for generated networks of about 100, 1,000 and 10,000 layers:

* the in-process front end (parse + elaborate + the summary table, what `netc check` does after start-up),
  split into parse and the rest, as the least CPU time of several runs: ms, layers/s and us per layer;
* the whole-process wall time of `netc check FILE` in a subprocess (median).

The per-layer cost at each size shows whether growth is linear: the ratio of the largest size's cost per
layer to the smallest's is printed (about 1 means linear; a quadratic step would make it ~100).

Start-up: median wall time of `netc --help`, `netc check samples/mnist_mlp.net`, and `python -c pass` for
reference (the interpreter's own start-up, which no change to netc can remove).

    python bench/bench_check.py [--reps 7] [--quick] [--profile chain-10000]
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import Diagnostics
from netc.dsl.parse import parse
from netc.dsl.source import Source
from netc.dsl.summary import format_table

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
NETC = Path(sys.executable).parent / "netc"


# -- generated networks ------------------------------------------------------------------------------------
def chain_net(layers: int) -> str:
    """One long chain, Linear and relu alternating, one step per line: `layers` op nodes."""
    steps = "\n".join("        -> Linear(32) -> relu" for _ in range(layers // 2))
    return f"network Chain {{\n    input x: f32[B, 32]\n    x\n{steps}\n        -> y\n    output y\n}}\n"


def statements_net(layers: int) -> str:
    """One statement per layer, each naming its result: `h7 = h6 -> Linear(32) as fc7`."""
    lines = [f"    h{i + 1} = h{i} -> {'Linear(32) as fc' + str(i + 1) if i % 2 == 0 else 'relu'}"
             for i in range(layers)]
    body = "\n".join(lines)
    return f"network Stmts {{\n    input h0: f32[B, 32]\n{body}\n    output h{layers}\n}}\n"


def block_net(layers: int) -> str:
    """A residual block (Linear, BatchNorm1d, relu, add: 4 op nodes) repeated layers/4 times with `* N`."""
    n = max(1, layers // 4)
    return ("block Res(d: int) {\n    input x: f32[B, d]\n"
            "    y = x -> Linear(d) as fc -> BatchNorm1d as bn -> relu\n    output y + x\n}\n\n"
            f"network Deep(depth: int = {n}) {{\n    input x: f32[B, 32]\n"
            "    x -> Res(32) * depth as blocks -> y\n    output y\n}\n")


def conv_net(layers: int) -> str:
    """A conv stack with symbolic spatial dims (Conv2d, BatchNorm2d, relu per stage), for symbolic-dim cost."""
    n = max(1, layers // 3)
    stage = "        -> Conv2d(16, 3, padding=1) -> BatchNorm2d -> relu"
    steps = "\n".join(stage for _ in range(n))
    return f"network Convs {{\n    input x: f32[B, 16, H, W]\n    x\n{steps}\n        -> y\n    output y\n}}\n"


GENERATORS: dict[str, Callable[[int], str]] = {
    "chain": chain_net, "statements": statements_net, "block": block_net, "conv": conv_net,
}


# -- measuring ---------------------------------------------------------------------------------------------
def best_time(fn: Callable[[], object], reps: int) -> float:
    """Least CPU time of `fn` over `reps` runs in this process.

    CPU time, because on a shared machine wall time also counts waiting for a core; the least, because the
    noise (other tenants, frequency changes) only ever adds time, and the growth comparison needs the
    intrinsic cost per layer. Whole-process start-up figures below are medians."""
    fn()  # warm-up: the Lark parser, imports, caches
    times = []
    for _ in range(reps):
        gc.collect()  # the previous run's IR (parent links make cycles) is garbage; don't time its collection
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def front_end(path: str, text: str) -> tuple[int, Callable[[], object], Callable[[], object]]:
    """(layers, the whole in-process check, the parse alone)."""
    def check() -> object:
        result = compile_source(Source(path, text))
        return [format_table(g) for g in result.graphs.values()]

    def parse_only() -> object:
        gc.disable()  # as compile_source does
        try:
            return parse(Source(path, text), Diagnostics())
        finally:
            gc.enable()

    result = compile_source(Source(path, text))
    if not result.ok:
        from netc.dsl.diagnostics import render_all
        raise SystemExit(f"{path} does not check:\n{render_all(result.diagnostics)}")
    layers = sum(sum(1 for _ in g.op_nodes()) for g in result.graphs.values())
    return layers, check, parse_only


def process(args: list[str], reps: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of a whole process.

    CPU time is what a busy machine distorts least: wall time on a loaded machine includes waiting for a core.
    """
    walls, cpus = [], []
    for i in range(reps + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode not in (0,):
            raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
        if i:  # the first run warms the OS file cache (and writes bytecode when it may)
            walls.append(dt)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def wall(args: list[str], reps: int) -> float:
    return process(args, reps)[0]


def row(name: str, layers: int, total: float, parse_s: float, proc: float | None) -> str:
    per_layer = total / layers * 1e6 if layers else float("nan")
    rate = layers / total if total else float("inf")
    proc_text = f"{proc * 1e3:9.1f}" if proc is not None else f"{'-':>9}"
    return (f"  {name:<24} {layers:>7,} {total * 1e3:10.2f} {parse_s * 1e3:9.2f} {(total - parse_s) * 1e3:9.2f} "
            f"{rate:>12,.0f} {per_layer:9.1f} {proc_text}")


HEADER = (f"  {'input':<24} {'layers':>7} {'check ms':>10} {'parse ms':>9} {'rest ms':>9} "
          f"{'layers/s':>12} {'us/layer':>9} {'process ms':>9}\n"
          f"  {'':<24} {'':>7} {'(CPU, in process, best)':>30} {'':>12} {'':>9} {'(median)':>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7, help="runs per measurement (median)")
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 1,000 only")
    ap.add_argument("--profile", metavar="KIND-SIZE", help="cProfile one generated case, e.g. chain-10000")
    args = ap.parse_args()

    if args.profile:
        kind, size = args.profile.rsplit("-", 1)
        text = GENERATORS[kind](int(size))
        _, check, _ = front_end(f"{kind}.net", text)
        prof = cProfile.Profile()
        prof.runcall(check)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        return

    print(f"python {sys.version.split()[0]}, {args.reps} reps: in-process figures are the least CPU time, "
          "whole-process figures the median wall time\n")
    print("samples (in-process front end; whole `netc check` process)")
    print(HEADER)
    for path in sorted(SAMPLES.glob("*.net")):
        text = path.read_text(encoding="utf-8")
        layers, check, parse_only = front_end(str(path), text)
        total = best_time(check, args.reps)
        parse_s = best_time(parse_only, args.reps)
        proc = wall([str(NETC), "check", str(path.relative_to(ROOT))], max(3, args.reps // 2))
        print(row(path.name, layers, total, parse_s, proc))

    sizes = [100, 1000] if args.quick else [100, 1000, 10000]
    print("\ngenerated networks (growth: us/layer should stay flat)")
    print(HEADER)
    growth: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, gen in GENERATORS.items():
            for size in sizes:
                text = gen(size)
                path = Path(tmp) / f"{kind}_{size}.net"
                path.write_text(text, encoding="utf-8")
                layers, check, parse_only = front_end(str(path), text)
                reps = args.reps if size < 10000 else max(5, args.reps // 2)
                total = best_time(check, reps)
                parse_s = best_time(parse_only, reps)
                proc = wall([str(NETC), "check", str(path)], 3) if size >= 1000 else None
                growth.setdefault(kind, []).append(total / layers)
                print(row(f"{kind}-{size}", layers, total, parse_s, proc))
    print("\nlinearity: cost per layer at each size relative to the smallest (1.00 = linear growth)")
    for kind, per_layer in growth.items():
        ratios = "  ".join(f"{size:>6,}: {p / per_layer[0]:4.2f}x" for size, p in zip(sizes, per_layer))
        print(f"  {kind:<12} {ratios}   ({'  ->  '.join(f'{p * 1e6:.0f}' for p in per_layer)} us/layer)")

    reps = max(5, args.reps)
    # As this environment runs (PYTHONDONTWRITEBYTECODE=1 with an editable install: netc's own modules
    # are compiled from source at every start), and as an installed netc runs (bytecode cached; here in a
    # private prefix so the work tree stays clean).
    plain = dict(os.environ)
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as prefix:
        cached["PYTHONPYCACHEPREFIX"] = prefix
        print(f"\nstart-up (whole process, median of {reps}; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs)")
        print(f"  {'command':<38} {'no bytecode cache':>24} {'bytecode cached':>24}")
        print(f"  {'':<38} {'wall ms':>11} {'CPU ms':>11}  {'wall ms':>11} {'CPU ms':>11}")
        for label, cmd in (("python -c pass (interpreter alone)", [sys.executable, "-c", "pass"]),
                           ("python -c 'import netc.cli'", [sys.executable, "-c", "import netc.cli"]),
                           ("netc --help", [str(NETC), "--help"]),
                           ("netc check samples/mnist_mlp.net", [str(NETC), "check", "samples/mnist_mlp.net"])):
            w0, c0 = process(cmd, reps, plain)
            w1, c1 = process(cmd, reps, cached)
            print(f"  {label:<38} {w0 * 1e3:11.1f} {c0 * 1e3:11.1f}  {w1 * 1e3:11.1f} {c1 * 1e3:11.1f}")
        print("  (target: netc check < 300 ms)")


if __name__ == "__main__":
    main()
