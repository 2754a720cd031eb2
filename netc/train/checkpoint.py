"""Checkpoints: networks, optimizers, schedules and progress in one `torch.save` file, loaded with
`weights_only=True` (plain containers and tensors only, so loading never runs code from the file); and the
networks' weights alone as `.safetensors` (`checkpoint: save(format="safetensors")`), which `init:` reads too."""
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


def save_safetensors(path: Path, models: dict[str, dict[str, torch.Tensor]], metadata: dict[str, str]) -> None:
    """The networks' weights as `alias.key` tensors (safetensors holds one flat mapping)."""
    from safetensors.torch import save_file

    flat = {f"{alias}.{k}": v.contiguous() for alias, state in models.items() for k, v in state.items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(flat, str(tmp), metadata={"format": FORMAT, "networks": ",".join(models), **metadata})
    os.replace(tmp, path)


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise TrainError(f"no checkpoint at {path}", key="init")
    if path.suffix == ".safetensors":
        return _load_safetensors(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a foreign or damaged file
        raise TrainError(f"cannot load the checkpoint {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(state, dict):
        raise TrainError(f"{path} holds a {type(state).__name__}, not a checkpoint or a state_dict")
    return state  # type: ignore[no-any-return]


def _load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no iterator
    except (SafetensorError, OSError) as exc:
        raise TrainError(f"cannot load the checkpoint {path}: {exc}") from None
    if meta.get("format") != FORMAT:
        return tensors  # someone else's weights: a plain state_dict
    models: dict[str, dict[str, torch.Tensor]] = {a: {} for a in meta.get("networks", "").split(",") if a}
    for key, value in tensors.items():
        alias, _, rest = key.partition(".")
        models.setdefault(alias, {})[rest] = value
    return {"format": "safetensors", "models": models}


def model_state(state: dict[str, Any], alias: str, path: Path) -> dict[str, torch.Tensor]:
    """The state_dict for one network: from a netc checkpoint, or the file itself when it is a state_dict
    (for example torchvision's published weights)."""
    if state.get("format") in (FORMAT, "safetensors"):
        models = state["models"]
        if alias in models:
            return models[alias]  # type: ignore[no-any-return]
        if len(models) == 1:
            return next(iter(models.values()))  # type: ignore[no-any-return]
        raise TrainError(f"{path} holds the networks {', '.join(models)}, not `{alias}`", key="init")
    for key in ("state_dict", "model"):
        if isinstance(state.get(key), dict):
            state = state[key]
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TrainError(f"{path} is neither a netc checkpoint nor a state_dict", key="init")
    return state


def _under(key: str, path: str) -> bool:
    return key == path or key.startswith(path + ".")


def mismatch(own: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], name: str,
             replace: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """What differs between a network's state_dict and a checkpoint's, one line per kind, naming keys."""
    missing = [k for k in own if k not in weights and not any(_under(k, r) for r in replace)]
    unexpected = [k for k in weights if k not in own]
    wrong = [k for k in weights if k in own and tuple(weights[k].shape) != tuple(own[k].shape)]
    lines = []
    for k in wrong[:3]:
        lines.append(f"`{k}` is {list(weights[k].shape)} in {name} but {list(own[k].shape)} in the network")
    if missing:
        lines.append(f"{len(missing)} entr{'y' if len(missing) == 1 else 'ies'} missing from {name}: "
                     + ", ".join(f"`{k}`" for k in missing[:3]) + (", ..." if len(missing) > 3 else ""))
    if unexpected:
        lines.append(f"{len(unexpected)} entr{'y' if len(unexpected) == 1 else 'ies'} of {name} not in the "
                     "network: " + ", ".join(f"`{k}`" for k in unexpected[:3]) + (", ..." if len(unexpected) > 3
                                                                                else ""))
    return lines


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor], replace: list[str], name: str,
                 key: str = "init") -> None:
    """Load `weights` into `model` except the submodules in `replace` (a new head keeps its fresh weights).
    Everything else must match exactly, or the error names the keys that differ."""
    own = model.state_dict()
    kept = {k: v for k, v in weights.items() if not any(_under(k, r) for r in replace)}
    lines = mismatch(own, kept, name, replace)
    if lines:
        first = next((k for k in kept if k in own and kept[k].shape != own[k].shape), None) or \
            next((k for k in own if k not in kept), None) or next(iter(kept), "")
        prefix = first.rsplit(".", 1)[0]
        raise TrainError("the checkpoint does not fit the network: " + "; ".join(lines), key=key,
                         help=f"list the submodules that changed in `replace`, e.g. `replace: [{prefix}]`"
                         if key == "init" else "resume from a checkpoint of this network, or start it again "
                         "from this one with `init:` and `replace:`")
    model.load_state_dict(kept, strict=False)


def prune(folder: Path, keep: int) -> None:
    """Keep only the newest `keep` epoch files (last.pt and best.pt are separate)."""
    files = sorted(folder.glob("epoch_*.pt"))
    for old in files[:-keep] if keep > 0 else files:
        old.unlink(missing_ok=True)
