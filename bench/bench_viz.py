"""How long `netc viz` takes, and where the time goes: front end, building the DOT text, Graphviz layout.

    python bench/bench_viz.py            # every sample, in-process stages, then the CLI end to end
    python bench/bench_viz.py resnet18   # one sample

Figures are medians of a few runs on this machine; compare the ratios within one run, not across machines.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import netc
from netc.codegen import dot

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def median_seconds(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(names: list[str]) -> None:
    paths = [SAMPLES / f"{n}.net" for n in names] if names else sorted(SAMPLES.glob("*.net"))
    print(f"{'sample':<18} {'layers':>6} {'front end':>10} {'to_dot':>8} {'svg':>8} {'png':>8} {'svg/to_dot':>10}")
    for path in paths:
        graphs = list(netc.check(path).graphs.values())
        layers = sum(1 for g in graphs for _ in g.op_nodes())
        t_front = median_seconds(lambda p=path: netc.check(p))
        t_dot = median_seconds(lambda g=graphs: dot.to_dot(g))
        text = dot.to_dot(graphs)
        t_svg = median_seconds(lambda t=text: dot.render_dot(t, "svg"))
        png_text = dot.to_dot(graphs, dpi=dot.PNG_DPI)
        t_png = median_seconds(lambda t=png_text: dot.render_dot(t, "png"))
        print(f"{path.stem:<18} {layers:>6} {t_front * 1e3:>8.1f}ms {t_dot * 1e3:>6.1f}ms {t_svg * 1e3:>6.0f}ms "
              f"{t_png * 1e3:>6.0f}ms {t_svg / t_dot:>9.1f}x")
    print("\nend to end, `netc viz FILE -o OUT` in a fresh process (includes interpreter start-up):")
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            for ext in ("dot", "svg", "png"):
                cmd = [sys.executable, "-m", "netc.cli", "viz", str(path), "-o", str(Path(tmp) / f"out.{ext}")]
                t = median_seconds(lambda c=cmd: subprocess.run(c, check=True, capture_output=True))
                print(f"  {path.stem:<18} .{ext:<4} {t:6.2f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
