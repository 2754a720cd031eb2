"""Backends: each turns checked IR graphs into text (Python source or DOT).

A backend module exposes ``generate(result, network=None, **options) -> str``. They are imported lazily
by name so that `netc check` never pays for jinja2, torch or graphviz.
"""
from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS: dict[str, str] = {
    "torch": "netc.codegen.torch",
    "numpy": "netc.codegen.numpy_ref",
    "dot": "netc.codegen.dot",
}


def get_backend(target: str) -> ModuleType:
    if target not in BACKENDS:
        raise KeyError(target)
    return importlib.import_module(BACKENDS[target])
