"""One process of `netc train --nproc N`, started by torchrun (`python -m torch.distributed.run`).

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; every process checks the file, builds the same seeded network,
and trains its share of each global batch under DistributedDataParallel. Only rank 0 prints and writes.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netc.train.worker")
    parser.add_argument("file")
    parser.add_argument("--name")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--out")
    parser.add_argument("--resume")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist

    from ..dsl.compiler import compile_file
    from ..dsl.diagnostics import render_all
    from . import TrainError, diagnostics_of, select
    from .trainer import Dist, Options, Trainer

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    try:
        overrides = {k: int(v) for k, _, v in (s.partition("=") for s in args.sets)}
        result = compile_file(args.file, overrides)
        spec = select(result.trains, args.file, args.name)
        echo = print if rank == 0 else (lambda *a, **k: None)
        options = Options(epochs=args.epochs, device="cuda" if cuda else "cpu", amp=args.amp,
                          out=Path(args.out) if args.out else None, resume=Path(args.resume) if args.resume else None,
                          progress=False, threads=args.threads, echo=lambda s: echo(s, flush=True))
        report = Trainer(spec, None, options, Dist(rank, world, local_rank)).run()
        return 130 if report.interrupted else 0
    except TrainError as exc:
        if rank == 0:
            print(render_all(diagnostics_of(exc)), file=sys.stderr, end="")
        return 1
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
