"""Checkpoints: networks, optimizers, schedules and progress in one `torch.save` file, loaded with
`weights_only=True` (plain containers and tensors only, so loading never runs code from the file)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..codegen.base import UnwritableOutput, make_folder
from .errors import TrainError

FORMAT = "netc-train-1"


def save(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a crash or Ctrl-C while saving never leaves a truncated checkpoint."""
    make_folder(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save({"format": FORMAT, **state}, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a folder made read-only while training
        raise UnwritableOutput(path, exc.strerror or str(exc)) from None


def load(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise TrainError(f"no checkpoint at {path}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a foreign or damaged file
        raise TrainError(f"cannot load the checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict):
        raise TrainError(f"{path} holds a {type(state).__name__}, not a checkpoint or a state_dict")
    return state  # type: ignore[no-any-return]


def model_state(state: dict[str, Any], alias: str, path: Path) -> dict[str, torch.Tensor]:
    """The state_dict for one network: from a netc checkpoint, or the file itself when it is a state_dict
    (for example torchvision's published weights)."""
    if state.get("format") == FORMAT:
        models = state["models"]
        if alias in models:
            return models[alias]  # type: ignore[no-any-return]
        if len(models) == 1:
            return next(iter(models.values()))  # type: ignore[no-any-return]
        raise TrainError(f"{path} holds the networks {', '.join(models)}, not `{alias}`")
    for key in ("state_dict", "model"):
        if isinstance(state.get(key), dict):
            state = state[key]
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TrainError(f"{path} is neither a netc checkpoint nor a state_dict")
    return state


def _under(key: str, path: str) -> bool:
    return key == path or key.startswith(path + ".")


def load_pretrained(model: nn.Module, weights: dict[str, torch.Tensor], replace: list[str], path: Path) -> list[str]:
    """Load `weights` into `model` except the submodules in `replace` (a new head keeps its fresh weights).
    Everything else must match exactly; returns the keys that were loaded."""
    own = model.state_dict()
    kept = {k: v for k, v in weights.items() if not any(_under(k, r) for r in replace)}
    missing = [k for k in own if k not in kept and not any(_under(k, r) for r in replace)]
    unexpected = [k for k in kept if k not in own]
    wrong = [k for k in kept if k in own and tuple(kept[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        lines = []
        if wrong:
            k = wrong[0]
            lines.append(f"`{k}` is {list(kept[k].shape)} in {path.name} but {list(own[k].shape)} in the network")
        if missing:
            lines.append(f"{len(missing)} entr{'y' if len(missing) == 1 else 'ies'} missing from {path.name}, "
                         f"e.g. `{missing[0]}`")
        if unexpected:
            lines.append(f"{len(unexpected)} entr{'y' if len(unexpected) == 1 else 'ies'} of {path.name} not in the "
                         f"network, e.g. `{unexpected[0]}`")
        prefix = (wrong or missing or unexpected)[0].rsplit(".", 1)[0]
        raise TrainError("the checkpoint does not fit the network: " + "; ".join(lines),
                         help=f"list the submodules that changed in `replace`, e.g. `replace: [{prefix}]`")
    model.load_state_dict(kept, strict=False)
    return list(kept)


def prune(folder: Path, keep: int) -> None:
    """Keep only the newest `keep` epoch files (last.pt and best.pt are separate)."""
    files = sorted(folder.glob("epoch_*.pt"))
    for old in files[:-keep] if keep > 0 else files:
        old.unlink(missing_ok=True)
