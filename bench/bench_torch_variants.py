"""What the parametric classes cost at compile time: `generate` for every sample, with and without the
variants (the network elaborated again with each bool parameter flipped, dsl/variants.py), interleaved in one
process. Prints median milliseconds per sample and the ratio (with / without).

    python bench/bench_torch_variants.py [--reps 5]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from unittest import mock

import netc
from netc.codegen import torch as torch_backend
from netc.codegen.torch import generator

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    reps = parser.parse_args().reps
    print(f"{'sample':24} {'with ms':>9} {'without ms':>11} {'ratio':>6}")
    totals = [0.0, 0.0]
    for path in sorted(SAMPLES.glob("*.net")):
        result = netc.check(path)
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(reps):
            for k, patch in enumerate((None, mock.patch.object(generator, "branch_variants", lambda *a: []))):
                start = time.perf_counter()
                if patch is None:
                    torch_backend.generate(result)
                else:
                    with patch:
                        torch_backend.generate(result)
                times[k].append(time.perf_counter() - start)
        w, wo = (statistics.median(t) * 1000 for t in times)
        totals[0] += w
        totals[1] += wo
        print(f"{path.name:24} {w:9.1f} {wo:11.1f} {w / wo:6.2f}")
    print(f"{'all samples':24} {totals[0]:9.1f} {totals[1]:11.1f} {totals[0] / totals[1]:6.2f}")


if __name__ == "__main__":
    main()
