"""The command line of a generated training script (`python model.py`, `torchrun ... model.py`), and the one
place that turns training options into a run and problems into messages; `netc train` calls it too."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .errors import TrainError
from .recipe import Recipe, Section

EXIT_INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Train a section of the generated module.")
    p.add_argument("--name", help="which train section (default: the only one)")
    p.add_argument("--epochs", type=int, help="override the section's number of epochs")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="32", choices=["32", "bf16", "fp16"])
    p.add_argument("--strategy", default="ddp", choices=["ddp", "fsdp"])
    p.add_argument("--sync-batchnorm", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--accumulate", type=int, default=1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--out")
    p.add_argument("--resume")
    p.add_argument("--threads", type=int)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--no-tensorboard", dest="tensorboard", action="store_false")
    p.add_argument("--stop-after", type=int, help="end after this many optimizer steps (a smoke test)")
    return p


def options_of(args: argparse.Namespace) -> dict[str, Any]:
    return {"epochs": args.epochs, "device": args.device, "precision": args.precision, "strategy": args.strategy,
            "sync_batchnorm": args.sync_batchnorm, "compile": args.compile, "accumulate": args.accumulate,
            "workers": args.workers, "out": Path(args.out) if args.out else None,
            "resume": Path(args.resume) if args.resume else None, "threads": args.threads,
            "progress": args.progress, "tensorboard": args.tensorboard, "stop_after": args.stop_after}


def main(recipes: dict[str, type[Recipe]], argv: list[str] | None = None) -> None:
    """The `__main__` of a generated module: pick the section, train it, exit with the run's code."""
    args = parser().parse_args(argv)
    if args.name is None and len(recipes) > 1:
        print(f"error: this module has {len(recipes)} train sections: pick one with --name "
              f"({', '.join(recipes)})", file=sys.stderr)
        sys.exit(2)
    name = args.name or next(iter(recipes))
    if name not in recipes:
        print(f"error: no train section {name!r} (sections: {', '.join(recipes)})", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(recipes[name](), options_of(args)))


def run(recipe: Recipe, options: dict[str, Any], colour: bool = False, announce: bool = True) -> int:
    """Train; returns the exit code (0 done, 1 a problem with the data or a checkpoint, 130 interrupted)."""
    from .loop import Options, Run, fit_run

    main_process = True
    try:
        trainer = Run(recipe, Options(**options))
        main_process = trainer.engine.main
        if announce and main_process:
            print(f"train {recipe.section.name}: {len(trainer.splits.train)} training samples, "
                  f"{trainer.total_steps} steps on {trainer.device}"
                  + (f" x {trainer.engine.world} processes" if trainer.engine.world > 1 else "")
                  + f"; checkpoints and logs in {trainer.folder}", file=sys.stderr, flush=True)
        report = fit_run(trainer)
    except KeyboardInterrupt:  # while loading the data or building the networks: nothing to save yet
        print("interrupted before training started", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainError as exc:
        if main_process:
            print(render(exc, recipe.section, colour), file=sys.stderr, end="")
        return 1
    if report.interrupted:
        if main_process:
            print(f"resume with: netc train {recipe.section.source} --resume {report.checkpoint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def render(exc: TrainError, section: Section | None, colour: bool = False) -> str:
    """A TrainError as `error[E513]`, at its setting's line of the .net file when it belongs to one."""
    from ..dsl.diagnostics import Diagnostics, render_all

    locate(exc, section)
    if exc.span is None:
        return f"error[E513]: {exc.message}\n" + (f"  = help: {exc.help}\n" if exc.help else "")
    diags = Diagnostics()
    diags.error("E513", exc.message, exc.span, help=exc.help)
    return render_all(diags, colour)


def locate(exc: TrainError, section: Section | None) -> None:
    """Give the error the span of its setting (from the section's `locations`) when it has none yet."""
    if exc.span is not None or section is None or exc.key is None:
        return
    where = section.locations.get(exc.key) or section.locations.get(exc.key.split(" ")[0])
    if where is None:
        return
    from ..dsl.source import Source, Span

    try:
        text = Path(section.source).read_text(encoding="utf-8")
    except OSError:
        return
    if where[1] <= len(text):
        exc.span = Span(Source(section.source, text), where[0], where[1])
