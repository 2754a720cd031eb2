"""How cheaply does netc reject an oversized input? Time and peak memory of each resource limit's rejection.

Each case runs `netc ...` in a fresh subprocess (so the peak resident memory is the command's own) and prints
its exit code, the diagnostic code it printed, the wall time and the peak RSS, next to `netc check` of a
small valid sample in the same run as the baseline (the ratio column). Before the limits, the 50 MB source
ran 5 min 45 s to a 9.9 GB peak, the LSTM with 2**31 layers grew until MemoryError, and /dev/zero or a FIFO
as the input file never ended.

    python bench/bench_limits.py [--reps 3] [--source-mb 50]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NETC = [sys.executable, "-m", "netc.cli"]


def cases(tmp: Path, source_mb: int) -> list[tuple[str, list[str]]]:
    big = tmp / "huge.net"
    line = "    y = x -> Linear(4) -> relu\n"
    with big.open("w") as fh:
        fh.write("network N {\n    input x: f32[B, 4]\n")
        for _ in range(source_mb * 2 ** 20 // len(line)):
            fh.write(line)
        fh.write("    output y\n}\n")
    (tmp / "lstm.net").write_text("network N(layers: int = 2147483648) {\n    input x: f32[T, B, 4]\n"
                                  "    output x -> LSTM(8, layers)\n}\n")
    (tmp / "repeat.net").write_text("network N {\n    input x: f32[B, 4]\n    output x -> Linear(4) * 2147483648\n}\n")
    (tmp / "params.net").write_text("network N(classes: int = 10) {\n    input x: f32[B, 84]\n"
                                    "    output x -> Linear(classes)\n}\n")
    (tmp / "fifo.net").unlink(missing_ok=True)
    os.mkfifo(tmp / "fifo.net")
    sample = str(ROOT / "samples" / "lenet5.net")
    return [
        ("baseline: check lenet5.net", ["check", sample]),
        (f"check a {source_mb} MB file (E106)", ["check", str(big)]),
        ("check /dev/zero (E105)", ["check", "/dev/zero"]),
        ("check a FIFO (E105)", ["check", str(tmp / "fifo.net")]),
        ("LSTM num_layers = 2**31 (E211)", ["check", str(tmp / "lstm.net")]),
        ("repeat * 2**31 (E211)", ["check", str(tmp / "repeat.net")]),
        ("--set classes=10**12 (E212)", ["check", str(tmp / "params.net"), "--set", "classes=1000000000000"]),
        ("verify --set B=2**63-1 (E213)", ["verify", str(tmp / "params.net"), "--set", "B=9223372036854775807"]),
        ("verify --set classes=10**7 (verify budget)", ["verify", str(tmp / "params.net"), "--set", "classes=10000000"]),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--source-mb", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netc-bench-limits-") as d:
        tmp = Path(d)
        rows = []
        base = None
        for title, argv in cases(tmp, args.source_mb):
            walls, peaks, rc, code = [], [], 0, ""
            for _ in range(args.reps):
                # a fresh measurement of peak RSS needs a fresh parent too: run each rep via a child python
                probe = subprocess.run(
                    [sys.executable, "-c",
                     "import resource,subprocess,sys,time;t=time.perf_counter();"
                     "p=subprocess.run(sys.argv[1:],capture_output=True,text=True,timeout=600);"
                     "w=time.perf_counter()-t;"
                     "print(p.returncode,w,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
                     "print(p.stderr)", *NETC, *argv],
                    capture_output=True, text=True, cwd=tmp, check=False)
                head, _, err = probe.stdout.partition("\n")
                rc_s, wall_s, peak_s = head.split()
                rc, m = int(rc_s), re.search(r"(error|warning)\[(\w+)\]", err)
                code = m.group(2) if m else (err.strip().splitlines() or ["-"])[0][:48]
                walls.append(float(wall_s))
                peaks.append(int(peak_s))
            wall, peak = statistics.median(walls), max(peaks)
            base = base or wall
            rows.append((title, str(rc), code, f"{wall * 1000:,.0f} ms", f"{peak / 1024:,.0f} MiB",
                         f"{wall / base:.2f}x"))
    widths = [max(len(r[i]) for r in rows + [HEAD]) for i in range(len(HEAD))]
    for r in [HEAD] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


HEAD = ("case", "exit", "diagnostic", "wall (median)", "peak RSS", "vs baseline")

if __name__ == "__main__":
    main()
