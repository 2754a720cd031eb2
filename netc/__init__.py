"""netc: a declarative language and compiler for neural networks.

The public API. Heavy pieces (torch, graphviz, jinja2) are imported only by the functions that need them.

    >>> import netc
    >>> result = netc.check("samples/resnet18.net")
    >>> result.graphs["ResNet18"].num_params
    11689512
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .dsl.compiler import Result
    from .dsl.diagnostics import CompileError, Diagnostics
    from .dsl.source import Source

__version__ = "0.1.0"
__all__ = ["CompileError", "Diagnostics", "Result", "Source", "__version__", "build", "check", "check_source"]

# `import netc` (and so every `netc` command, `netc --help` included) must not pay for the front end
# (Lark, the op registry, the elaborator) before a command needs it: these names load on first use.
_LAZY = {"Result": "dsl.compiler", "CompileError": "dsl.diagnostics", "Diagnostics": "dsl.diagnostics",
         "Source": "dsl.source"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'netc' has no attribute {name!r}")


def check(path: str | Path, overrides: dict[str, Any] | None = None, network: str | None = None) -> Result:
    """Parse, elaborate and shape-check a `.net` file. Raises CompileError when it has errors."""
    from .dsl.compiler import compile_file
    from .dsl.diagnostics import CompileError

    result = compile_file(path, overrides, network)
    if not result.ok:
        raise CompileError(result.diagnostics)
    return result


def check_source(text: str, path: str = "<string>", overrides: dict[str, Any] | None = None) -> Result:
    """Like :func:`check`, for source text held in memory."""
    from .dsl.compiler import compile_source
    from .dsl.diagnostics import CompileError
    from .dsl.source import Source

    result = compile_source(Source(path, text), overrides)
    if not result.ok:
        raise CompileError(result.diagnostics)
    return result


def build(path: str | Path, target: str = "torch", network: str | None = None,
          overrides: dict[str, Any] | None = None) -> type:
    """Compile a `.net` file in memory and return the generated class (no files are written).

    `target` is "torch" (an `nn.Module` subclass) or "numpy". With several networks in the file, pass
    `network`; by default the first network is built.
    """
    from .codegen import get_backend

    result = check(path, overrides, network)
    return get_backend(target).build(result, network=network)  # type: ignore[no-any-return]
