"""Weights in and out: state_dicts as safetensors or torch files, loaded without pickle.

* `.safetensors` files are read with the safetensors library: as NumPy arrays (no torch needed) or tensors.
* Anything else is a torch file, read with `torch.load(weights_only=True)`, which refuses pickled code. It may
  be a plain state_dict, a `{"state_dict": ...}`/`{"model": ...}` wrapper, or a netc training checkpoint
  (`netc train` writes these; the network's entry is picked by name, or the only one).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

NETC_CHECKPOINT = "netc-train-1"  # netc/train/checkpoint.py's FORMAT
ORDER_KEY = "netc.order"  # safetensors metadata: the state_dict's key order


class WeightsError(Exception):
    """A weights file that cannot be read or does not hold a state_dict."""


def is_safetensors(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".safetensors"


def load_arrays(path: str | Path, network: str | None = None) -> dict[str, np.ndarray]:
    """A state_dict as NumPy arrays. safetensors files need no torch; torch files do."""
    path = Path(path)
    if is_safetensors(path):
        return _read_safetensors(path, "numpy")
    return {k: v.detach().cpu().numpy() for k, v in load_tensors(path, network).items()}


def _read_safetensors(path: Path, framework: str) -> dict[str, Any]:
    """The tensors in the order they were saved (safetensors sorts its keys; we keep torch's order in the
    metadata, where netc wrote one)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework=framework) as fh:
            keys = list(fh.keys())
            order = json.loads((fh.metadata() or {}).get(ORDER_KEY, "[]"))
            if sorted(order) == sorted(keys):
                keys = order
            return {k: fh.get_tensor(k) for k in keys}
    except (OSError, SafetensorError, ValueError) as exc:
        raise WeightsError(f"cannot read {path}: {exc}") from None


def load_tensors(path: str | Path, network: str | None = None) -> dict[str, Any]:
    """A state_dict as torch tensors, from a safetensors or torch file."""
    import torch

    path = Path(path)
    if is_safetensors(path):
        return _read_safetensors(path, "pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"no weights file at {path}") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a foreign, damaged or pickled file
        raise WeightsError(f"cannot load {path} as a torch state_dict without unpickling code: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return _state_dict(state, path, network)


def _state_dict(state: Any, path: Path, network: str | None) -> dict[str, Any]:
    import torch

    if isinstance(state, dict) and state.get("format") == NETC_CHECKPOINT:
        models = state.get("models", {})
        if network in models:
            state = models[network]
        elif len(models) == 1:
            state = next(iter(models.values()))
        else:
            raise WeightsError(f"{path} holds the networks {', '.join(models)}; which one is ambiguous")
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state_dict (a mapping of names to tensors)")
    return dict(state)


def save(state: Mapping[str, Any], path: str | Path) -> None:
    """Write a state_dict (tensors or arrays): safetensors for `.safetensors`, else `torch.save`.

    safetensors stores no shared memory, so tied entries (GPT-2's `lm_head.weight` is `wte.weight`) are
    written as copies; loading them back with `load_state_dict` ties nothing apart, the module does that.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_safetensors(path):
        arrays = {k: _numpy(v) for k, v in state.items()}
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path),
                  metadata={ORDER_KEY: json.dumps(list(arrays))})
        return
    import torch

    torch.save({k: torch.as_tensor(v) for k, v in state.items()}, path)


def _numpy(v: Any) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v.copy()
    return v.detach().cpu().numpy().copy()  # a copy: tied tensors must not share memory in the file


def check_fits(state: Mapping[str, Any], expected: Mapping[str, tuple[int, ...]], path: str | Path) -> None:
    """The state_dict has exactly the keys and shapes the network expects."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if missing or unexpected or wrong:
        name = Path(path).name
        parts = []
        if wrong:
            k = wrong[0]
            parts.append(f"`{k}` is {list(state[k].shape)} in {name} but {list(expected[k])} in the network")
        if missing:
            parts.append(f"{len(missing)} missing, e.g. `{missing[0]}`")
        if unexpected:
            parts.append(f"{len(unexpected)} not in the network, e.g. `{unexpected[0]}`")
        raise WeightsError(f"{name} does not fit the network: " + "; ".join(parts))
