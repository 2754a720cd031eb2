"""The kernel copier over the numpy_kernels package: every family module is walked, a kernel's helpers are found
in whichever module defines them, the copied text runs with nothing but NumPy, and the order is FAMILIES'.

The oracle for the copied text is the package's own function it was copied from: a copy must compute exactly
what the kernel the tests in test_numpy_kernels.py check against torch computes.
"""
from __future__ import annotations

import ast
import pkgutil

import numpy as np

from netc.codegen import numpy_kernels
from netc.codegen.numpy_kernel_copy import _kernel_sources, _kernels_for


def _defined(text: str) -> list[str]:
    """Top-level names the copied text defines, in its order."""
    out: list[str] = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            out.append(node.name)
        elif isinstance(node, ast.Assign):
            out.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def test_every_module_of_the_package_is_a_family_the_copier_walks() -> None:
    """A new module left out of FAMILIES would hold kernels the generated file could never get."""
    modules = {info.name for info in pkgutil.iter_modules(numpy_kernels.__path__)}
    walked = {m.__name__.rsplit(".", 1)[1] for m in numpy_kernels.FAMILIES}
    assert modules == walked
    assert len(walked) == len(numpy_kernels.FAMILIES)


def test_every_kernel_in_the_table_is_copyable() -> None:
    """Each non-NumPy function of KERNELS is a top-level definition of some family module."""
    table = _kernel_sources()
    ours = {f.__name__ for f in numpy_kernels.KERNELS.values() if f.__module__.startswith(numpy_kernels.__name__)}
    assert ours - set(table) == set()


def test_helpers_from_another_module_come_along_and_the_copy_runs_on_numpy_alone() -> None:
    """conv (convolution.py) needs _ntuple and _windows (shared.py); transformer_layer (more.py) needs
    multihead_attention (attention_layers.py), linear (dense.py) and the activations."""
    text = _kernels_for("y = conv(x, w)\nz = transformer_layer(x, None, p, '', 2)")
    names = _defined(text)
    for name in ("_ntuple", "_windows", "_conv_padding", "conv", "multihead_attention", "linear", "softmax",
                 "transformer_layer"):
        assert name in names
    namespace: dict[str, object] = {"np": np, "__builtins__": __builtins__}
    exec(compile(text, "<copied kernels>", "exec"), namespace)  # our own kernels' source
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    copied = namespace["conv"](x, w, None, 1, 1)  # type: ignore[operator]
    np.testing.assert_array_equal(copied, numpy_kernels.conv(x, w, None, 1, 1))


def test_the_copy_follows_the_families_order_then_source_order() -> None:
    """Whatever order the code names them in, the copy lists kernels by FAMILIES, then by source line."""
    text = _kernels_for("a = relu6(x)\nb = interpolate(x, (2,))\nc = linear(x, w)\nd = conv(x, w)")
    names = [n for n in _defined(text) if not n.startswith("_")]
    assert names == ["linear", "conv", "interpolate", "relu6"]  # dense, convolution, resample, more
