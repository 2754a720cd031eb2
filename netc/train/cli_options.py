"""The options of `netc train` (declared here, not in netc/cli.py, so the command stays a few lines there).
The generated script's own command line (netc/train/script.py) takes the same names."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

OPTIONS = [
    click.option("--name", metavar="NAME", help="Which train section (default: the only one)."),
    click.option("--epochs", type=click.IntRange(min=1), help="Override the section's number of epochs."),
    click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
    click.option("--precision", type=click.Choice(["32", "bf16", "fp16"]), default=None,
                 help="Mixed precision: bf16 (CPU or GPU) or fp16 (GPU, with a gradient scaler) [default: 32]."),
    click.option("--amp", is_flag=True, help="Same as --precision fp16 on CUDA, bf16 on CPU."),
    click.option("--strategy", type=click.Choice(["ddp", "fsdp"]), default="ddp", show_default=True,
                 help="With several processes: replicate each network (DDP) or shard one network (FSDP)."),
    click.option("--sync-batchnorm", is_flag=True, help="BatchNorm statistics over all processes (CUDA)."),
    click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks."),
    click.option("--accumulate", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Split each batch into N micro-batches (the same step with less memory)."),
    click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
                 help="DataLoader worker processes."),
    click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Processes on this machine, launched with torchrun (gloo on CPU, nccl on GPU)."),
    click.option("--nnodes", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Machines in the run; start `netc train` on each with its --node-rank."),
    click.option("--node-rank", type=click.IntRange(min=0), default=0, show_default=True),
    click.option("--rdzv", metavar="HOST:PORT", help="Where the machines meet (torchrun's rendezvous endpoint)."),
    click.option("--out", type=click.Path(file_okay=False), help="Folder for checkpoints and logs."),
    click.option("--resume", type=click.Path(exists=True, dir_okay=False), help="Continue from a checkpoint."),
    click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: 1 for small networks)."),
    click.option("--progress/--no-progress", default=True, help="Show a progress bar on a terminal."),
    click.option("--tensorboard/--no-tensorboard", default=True, help="Write TensorBoard event files."),
    click.option("--stop-after", type=click.IntRange(min=1), metavar="N",
                 help="End after N optimizer steps (a smoke test; the schedule keeps its full length)."),
]


def train_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(OPTIONS):
        f = option(f)
    return f


def run_options(kw: dict[str, Any]) -> dict[str, Any]:
    """The loop's options from the command's keyword arguments (the rest go to the launcher)."""
    precision = kw["precision"]
    if precision is None:
        import torch

        cuda = kw["device"] == "cuda" or (kw["device"] == "auto" and torch.cuda.is_available())
        precision = ("fp16" if cuda else "bf16") if kw["amp"] else "32"
    from pathlib import Path

    return {"epochs": kw["epochs"], "device": kw["device"], "precision": precision, "strategy": kw["strategy"],
            "sync_batchnorm": kw["sync_batchnorm"], "compile": kw["compile_"], "accumulate": kw["accumulate"],
            "workers": kw["workers"], "out": Path(kw["out"]) if kw["out"] else None,
            "resume": Path(kw["resume"]) if kw["resume"] else None, "threads": kw["threads"],
            "progress": kw["progress"], "tensorboard": kw["tensorboard"], "stop_after": kw["stop_after"]}
