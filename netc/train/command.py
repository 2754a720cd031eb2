"""`netc train`: pick the section, run it here or in N processes under torchrun, report problems as diagnostics.

netc/cli.py declares the command's options and calls :func:`run` with the checked front-end result.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from ..dsl.diagnostics import render_all
from . import TrainError, diagnostics_of, select

EXIT_INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"


def run(result: Any, file: str, name: str | None, epochs: int | None, device: str, amp: bool, nproc: int,
        out: str | None, resume: str | None, threads: int | None, progress: bool, sets: tuple[str, ...],
        colour: bool) -> int:
    """Train; returns the exit code (0 done, 1 a problem with the data or a checkpoint, 130 interrupted)."""
    try:
        spec = select(result.trains, file, name)
        if nproc > 1:
            return _launch(file, spec.name, epochs, device, amp, nproc, out, resume, threads, sets)
        from .trainer import Options, Trainer

        options = Options(epochs=epochs, device=device, amp=amp, out=Path(out) if out else None,
                          resume=Path(resume) if resume else None, progress=progress, threads=threads,
                          echo=click.echo)
        trainer = Trainer(spec, None, options)
        click.echo(f"train {spec.name}: {len(trainer.splits.train)} training samples, {trainer.total_steps} steps "
                   f"on {trainer.device}; checkpoints and logs in {trainer.folder}", err=True)
        report = trainer.run()
    except KeyboardInterrupt:  # while loading the data or building the network: nothing to save yet
        click.echo("interrupted before training started", err=True)
        return EXIT_INTERRUPTED
    except TrainError as exc:
        if exc.span is None:
            click.echo(f"error: {exc.message}" + (f"\n  = help: {exc.help}" if exc.help else ""), err=True)
        else:
            click.echo(render_all(diagnostics_of(exc), colour), err=True, nl=False)
        return 1
    if report.interrupted:
        click.echo(f"resume with: netc train {file} --resume {report.checkpoint}", err=True)
        return EXIT_INTERRUPTED
    return 0


def _launch(file: str, name: str, epochs: int | None, device: str, amp: bool, nproc: int, out: str | None,
            resume: str | None, threads: int | None, sets: tuple[str, ...]) -> int:
    """Run the section in `nproc` processes with torchrun (DistributedDataParallel: gloo on CPU, nccl on GPU)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "netc.train.worker", file, "--name", name, "--device", device]
    for flag, value in (("--epochs", epochs), ("--out", out), ("--resume", resume), ("--threads", threads)):
        if value is not None:
            cmd += [flag, str(value)]
    if amp:
        cmd.append("--amp")
    for s in sets:
        cmd += ["--set", s]
    # One thread per process unless told otherwise (torchrun's own default, set here to skip its banner).
    env = {"OMP_NUM_THREADS": "1", **os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
