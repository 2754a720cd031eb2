"""Whole-process start-up of the light commands against the interpreter's own: target `netc --help` under
60 ms on a quiet machine.

Runs each command `--reps` times in fresh processes and prints the median and the least wall time, and the
difference to `python -c pass` measured in the same run (the part netc adds; noise on a busy machine only
adds, so the least time is the fairest single figure).

    python bench/bench_startup.py [--reps 21]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETC = str(Path(sys.executable).parent / "netc")
MLP = str(ROOT / "samples" / "mnist_mlp.net")

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "netc --help": [NETC, "--help"],
    "netc fmt --help": [NETC, "fmt", "--help"],
    "netc fmt --check mnist_mlp.net": [NETC, "fmt", "--check", MLP],
    "netc check mnist_mlp.net": [NETC, "check", MLP],
}


def wall_times(cmd: list[str], reps: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=21)
    args = ap.parse_args()
    results = {name: wall_times(cmd, args.reps) for name, cmd in COMMANDS.items()}
    base_least = min(results["python -c pass"])
    print(f"{'command':<34} {'median ms':>10} {'least ms':>9} {'least - python':>15}")
    for name, times in results.items():
        least = min(times)
        print(f"{name:<34} {statistics.median(times):>10.1f} {least:>9.1f} {least - base_least:>15.1f}")
    help_least = min(results["netc --help"])
    print(f"netc --help: {help_least:.1f} ms (least), target < 60 ms: {'met' if help_least < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
