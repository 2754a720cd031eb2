"""Training from a `.net` file: `netc train FILE` runs the file's `train` section.

    >>> from netc.train import train
    >>> report = train("samples/digits_mlp.net")          # doctest: +SKIP
    >>> report.test["test_accuracy"]                       # doctest: +SKIP
    0.97...

What runs is the code `netc compile --target torch` writes for the section (netc/train/emit.py), executed in
memory, on the loop of netc/train/loop.py. torch is imported by the submodules that need it, never by
`netc check`; this module imports nothing heavy until :func:`train` runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TrainError

if TYPE_CHECKING:
    from ..dsl.train import TrainSpec
    from .loop import Report, Run

# The section the help suggests; tests/test_train_help.py parses it (with a network) so it stays valid.
EXAMPLE = """train Net {
    data: digits
    loss: cross_entropy
    optimizer: Adam(lr=1e-3)
    epochs: 10
}"""

__all__ = ["TrainError", "load_spec", "prepare", "select", "train"]


def load_spec(path: str | Path, name: str | None = None, overrides: dict[str, int] | None = None) -> TrainSpec:
    """Check the file and return one of its `train` sections (the only one, or the one called `name`)."""
    from ..dsl.compiler import compile_file  # here, not at the top: `netc --help` loads this package
    from ..dsl.diagnostics import CompileError

    result = compile_file(path, overrides)
    if not result.ok:
        raise CompileError(result.diagnostics)
    return select(result.trains, str(path), name)


def select(specs: list[TrainSpec], path: str, name: str | None) -> TrainSpec:
    """The only section, or the one called `name`."""
    if not specs:
        raise TrainError(f"{path} has no `train` section", help="add one, e.g.\n" + EXAMPLE)
    if name is None:
        if len(specs) > 1:
            raise TrainError(f"{path} has {len(specs)} train sections: pick one with --name "
                             f"({', '.join(s.name for s in specs)})")
        return specs[0]
    for spec in specs:
        if spec.name == name:
            return spec
    from ..dsl.diagnostics import did_you_mean

    guess = did_you_mean(name, [s.name for s in specs])
    raise TrainError(f"no train section `{name}` in {path}",
                     help=f"did you mean `{guess}`?" if guess else f"its sections: {', '.join(s.name for s in specs)}")


def prepare(path: str | Path, name: str | None = None, overrides: dict[str, int] | None = None,
            **options: Any) -> Run:
    """The run of a section, set up and ready (`.run()` trains): the generated module's recipe, exactly what
    `netc train` and the script run. `options` are those of :class:`netc.train.loop.Options`."""
    from ..dsl.compiler import compile_file  # here, not at the top: `netc --help` loads this package
    from ..dsl.diagnostics import CompileError
    from . import build
    from .loop import Options, Run

    result = compile_file(path, overrides)
    if not result.ok:
        raise CompileError(result.diagnostics)
    spec = select(result.trains, str(path), name)
    return Run(build.recipe(result, str(path), spec.name), Options(**options))


def train(path: str | Path, name: str | None = None, overrides: dict[str, int] | None = None,
          **options: Any) -> Report:
    """Train a section of a `.net` file to the end."""
    from .loop import fit_run

    return fit_run(prepare(path, name, overrides, **options))
