"""Throughput of `netc train` against a minimal hand-written PyTorch loop on the same network and data.

    python bench/bench_train.py [--epochs 10] [--hidden 512] [--repeat 5]

The network is samples/digits_mlp.net's, widened with `--set hidden=...` so that the step, not Python, is
most of the time; the data are the shipped digits (all 1,797 images, no validation split, batch 64). Three
settings, each against its own hand-written loop (the one a person would write for it):

- one process: indexing in-memory tensors with a random permutation (the loop of the PyTorch examples);
- one process with 2 DataLoader workers: a TensorDataset in a DataLoader(shuffle=True, num_workers=2,
  persistent_workers=True), the settings netc's loader uses (workers started once per run, not per epoch);
- two processes: torchrun, DistributedDataParallel (gloo) and a DistributedSampler.

Every loop keeps its epoch's training loss (`loss.item()` per step, as the PyTorch tutorials do; netc logs
each step's loss). The section has no validation split and no metrics, so neither side evaluates. Samples per
second count training steps only (netc's per-epoch `time_s`; the hand loops time their epochs alike), on the
CPU (`--device cpu`: on a machine with a GPU netc would pick it). Every run is a fresh process, netc's and the
hand-written alike.

Runs alternate netc and hand-written `--repeat` times (netc first in even rounds, hand-written first in odd
ones), so that the load of a shared machine falls on both alike. Each samples/s figure is the median over the
rounds; the ratio (netc / hand-written, target at least 0.97) is the median of the rounds' ratios, with their
spread. On a machine shared with other work an epoch takes about once or twice its quiet time depending on
whether another process holds the core, so a second ratio compares each run's fastest epoch (the
quiet-machine speed; median and spread over the rounds as well).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = """
import "{sample}"

train bench(DigitsMLP(hidden={hidden})) {{
    data: digits(val=0.0, test=0.0)
    batch: 64
    loss: cross_entropy
    optimizer: AdamW(lr=1e-3)
    epochs: {epochs}
    checkpoint: save(every=1000, keep=1)
}}
"""

HAND_DDP = r'''
import sys, time, json
import numpy as np, torch, torch.distributed as dist, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, DistributedSampler
import netc
from netc.train.data import load_digits
dist.init_process_group("gloo")
torch.set_num_threads(1)
hidden, epochs = int(sys.argv[1]), int(sys.argv[2])
images, labels = load_digits()
x = torch.as_tensor(images.reshape(len(images), 64) / 16.0, dtype=torch.float32)
y = torch.as_tensor(labels.astype(np.int64))
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(netc.build(sys.argv[3], network="DigitsMLP")(hidden=hidden))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
sampler = DistributedSampler(TensorDataset(x, y), shuffle=True)
loader = DataLoader(TensorDataset(x, y), batch_size=32, sampler=sampler)
times = []
for epoch in range(epochs):
    sampler.set_epoch(epoch)
    start = time.perf_counter()
    running = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running += loss.item()
    times.append(time.perf_counter() - start)
if dist.get_rank() == 0:
    print(json.dumps({"epochs": times}))
# DDP's reducer goes while its process group is alive, and both ranks leave their last collective before
# either tears gloo down (otherwise one rank in a few aborted at exit: "terminate called without an active
# exception").
del model, opt
dist.barrier()
dist.destroy_process_group()
'''


def hand_loop(hidden: int, epochs: int, workers: int) -> list[float]:
    """Seconds of each epoch of the hand-written single-process loop."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    import netc
    from netc.train.data import load_digits

    torch.set_num_threads(1)
    images, labels = load_digits()
    x = torch.as_tensor(images.reshape(len(images), 64) / 16.0, dtype=torch.float32)
    y = torch.as_tensor(labels.astype(np.int64))
    torch.manual_seed(0)
    model = netc.build(ROOT / "samples" / "digits_mlp.net", network="DigitsMLP")(hidden=hidden)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, num_workers=workers,
                        persistent_workers=True) if workers else None
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        if loader is None:
            order = torch.randperm(len(x))
            batches = ((x[order[i:i + 64]], y[order[i:i + 64]]) for i in range(0, len(x), 64))
        else:
            batches = iter(loader)
        running = 0.0
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += loss.item()  # the epoch's training loss, as the PyTorch tutorials keep it
        times.append(time.perf_counter() - start)
    return times


def hand_process(hidden: int, epochs: int, workers: int) -> list[float]:
    """The hand-written loop in a fresh process, as netc's run is: both pay the first steps' warm-up alike."""
    cmd = [sys.executable, __file__, "--hand-loop", str(workers), "--hidden", str(hidden), "--epochs", str(epochs)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(done.stderr)
    return [float(t) for t in json.loads(done.stdout.strip().splitlines()[-1])]


def netc_train(net: Path, out: Path, *flags: str) -> list[float]:
    cmd = [sys.executable, "-m", "netc.cli", "train", str(net), "--out", str(out), "--no-progress",
           "--no-tensorboard", "--threads", "1", "--device", "cpu", *flags]
    env = {**os.environ, "NETC_IMPORT_PATH": str(ROOT / "samples")}  # the section imports the sample
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode:
        sys.exit(done.stderr)
    log = json.loads((out / "metrics.json").read_text())
    return [r["time_s"] for r in log["history"]]


def hand_ddp(hidden: int, epochs: int, folder: Path) -> list[float]:
    script = folder / "hand_ddp.py"
    script.write_text(HAND_DDP)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script),
           str(hidden), str(epochs), str(ROOT / "samples" / "digits_mlp.net")]
    done = subprocess.run(cmd, capture_output=True, text=True, env={"OMP_NUM_THREADS": "1", **os.environ})
    last = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode and not last.startswith('{"epochs"'):
        sys.exit(done.stderr)
    if done.returncode:  # the times were printed: the failure came at the teardown, after the measurement
        print(f"(hand-written DDP exited {done.returncode} after reporting its times)", file=sys.stderr)
    return [float(t) for t in json.loads(last)["epochs"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-ddp", action="store_true")
    ap.add_argument("--json", help="also write every run's epoch times to this file")
    ap.add_argument("--hand-loop", type=int, metavar="WORKERS", help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.hand_loop is not None:
        print(json.dumps(hand_loop(args.hidden, args.epochs, args.hand_loop)))
        return
    samples = 1797 * args.epochs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = folder / "bench.net"
        net.write_text(SECTION.format(sample=(ROOT / "samples" / "digits_mlp.net").as_posix(), hidden=args.hidden,
                                      epochs=args.epochs))
        settings = [("1 process", lambda: netc_train(net, folder / "a"), lambda: hand_process(args.hidden, args.epochs, 0)),
                    ("1 process, 2 workers", lambda: netc_train(net, folder / "b", "--workers", "2"),
                     lambda: hand_process(args.hidden, args.epochs, 2))]
        if not args.skip_ddp:
            settings.append(("2 processes (DDP)", lambda: netc_train(net, folder / "c", "--nproc", "2"),
                             lambda: hand_ddp(args.hidden, args.epochs, folder)))
        print(f"DigitsMLP(hidden={args.hidden}), {args.epochs} epochs of 1797 samples, batch 64, {args.repeat} "
              f"interleaved rounds")
        runs: dict[str, list[tuple[list[float], list[float]]]] = {name: [] for name, _, _ in settings}
        for round_ in range(args.repeat):
            for name, ours, theirs in settings:
                if round_ % 2 == 0:
                    a = ours()
                    b = theirs()
                else:
                    b = theirs()
                    a = ours()
                runs[name].append((a, b))
        print(f"{'setting':<22} {'netc samples/s':>14} {'hand samples/s':>14} {'ratio':>6} {'(min-max)':>12}"
              f" {'fastest-epoch ratio':>20} {'(min-max)':>12}")
        for name, pairs in runs.items():
            a = statistics.median(sum(t) for t, _ in pairs)
            b = statistics.median(sum(t) for _, t in pairs)
            ratios = [sum(h) / sum(n) for n, h in pairs]
            best = [min(h) / min(n) for n, h in pairs]
            print(f"{name:<22} {samples / a:>14.0f} {samples / b:>14.0f} {statistics.median(ratios):>6.3f} "
                  f"{min(ratios):>5.3f}-{max(ratios):.3f} {statistics.median(best):>20.3f} "
                  f"{min(best):>5.3f}-{max(best):.3f}")
        if args.json:
            Path(args.json).write_text(json.dumps(runs))


if __name__ == "__main__":
    main()
