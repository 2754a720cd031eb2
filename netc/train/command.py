"""`netc train`: generate the file's training module (the code `netc compile --target torch` writes), then run
its section here, or in several processes and machines under torchrun, which runs the module as a script."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import TrainError, select
from .script import EXIT_INTERRUPTED, render


def run(result: Any, file: str, name: str | None, options: dict[str, Any], nproc: int, nnodes: int,
        node_rank: int, rdzv: str | None, colour: bool) -> int:
    """Train; returns the exit code (0 done, 1 a problem with the data or a checkpoint, 130 interrupted)."""
    from . import build, script

    try:
        spec = select(result.trains, file, name)
    except TrainError as exc:
        print(render(exc, None, colour), file=sys.stderr, end="")
        return 1
    if nproc > 1 or nnodes > 1:
        return _launch(result, file, spec, options, nproc, nnodes, node_rank, rdzv)
    return script.run(build.recipe(result, file, spec.name), options, colour)


def _launch(result: Any, file: str, spec: Any, options: dict[str, Any], nproc: int, nnodes: int, node_rank: int,
            rdzv: str | None) -> int:
    """torchrun starts `nproc` processes on this machine (of `nnodes`); each runs the generated script."""
    from . import build

    folder = options.get("out") or (spec.resolve(spec.checkpoint.args["dir"]) if spec.checkpoint.args.get("dir")
                                    else Path("runs") / spec.name)
    path = build.write_script(result, file, Path(folder))
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if nnodes > 1:
        if not rdzv:
            print("error: --nnodes needs --rdzv HOST:PORT, the address every machine meets at (the first "
                  "machine's)", file=sys.stderr)
            return 2
        cmd += [f"--nnodes={nnodes}", f"--node-rank={node_rank}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv}",
                f"--rdzv-id=netc-{spec.name}"]
    else:
        cmd.append("--standalone")
    cmd += [str(path), "--name", spec.name]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if key in ("progress", "tensorboard"):
                cmd += [] if value else [f"--no-{key}"]
            elif value:
                cmd.append(flag)
        elif value is not None:
            cmd += [flag, str(value)]
    # One thread per process unless told otherwise (torchrun's own default, set here to skip its banner).
    env = {"OMP_NUM_THREADS": "1", **os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
