"""Training from a `.net` file: `netc train FILE` runs the file's `train` section.

    >>> from netc.train import train
    >>> report = train("samples/digits_mlp.net")          # doctest: +SKIP
    >>> report.test["test_accuracy"]                       # doctest: +SKIP
    0.97...

torch is imported by the submodules that need it, never by `netc check`; this module imports nothing heavy
until :func:`train` runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dsl.compiler import compile_file
from ..dsl.diagnostics import CompileError, Diagnostics, did_you_mean
from .errors import TrainError

if TYPE_CHECKING:
    from ..dsl.train import TrainSpec
    from .trainer import Report

__all__ = ["TrainError", "load_spec", "select", "train"]


def load_spec(path: str | Path, name: str | None = None, overrides: dict[str, int] | None = None) -> TrainSpec:
    """Check the file and return one of its `train` sections (the only one, or the one called `name`)."""
    result = compile_file(path, overrides)
    if not result.ok:
        raise CompileError(result.diagnostics)
    return select(result.trains, str(path), name)


def select(specs: list[TrainSpec], path: str, name: str | None) -> TrainSpec:
    """The only section, or the one called `name`."""
    if not specs:
        raise TrainError(f"{path} has no `train` section",
                         help="add one, e.g. `train Net { data: digits  loss: cross_entropy  "
                              "optimizer: Adam(lr=1e-3)  epochs: 10 }`")
    if name is None:
        if len(specs) > 1:
            raise TrainError(f"{path} has {len(specs)} train sections: pick one with --name "
                             f"({', '.join(s.name for s in specs)})")
        return specs[0]
    for spec in specs:
        if spec.name == name:
            return spec
    guess = did_you_mean(name, [s.name for s in specs])
    raise TrainError(f"no train section `{name}` in {path}",
                     help=f"did you mean `{guess}`?" if guess else f"its sections: {', '.join(s.name for s in specs)}")


def train(path: str | Path, name: str | None = None, overrides: dict[str, int] | None = None,
          models: dict[str, Any] | None = None, **options: Any) -> Report:
    """Train a section of a `.net` file; `options` are those of :class:`netc.train.trainer.Options`.
    `models` replaces the networks the torch backend would build (alias -> nn.Module)."""
    from .trainer import Options, Trainer

    spec = load_spec(path, name, overrides)
    return Trainer(spec, models, Options(**options)).run()


def diagnostics_of(error: TrainError) -> Diagnostics:
    """A TrainError as a diagnostic (E513: the data or a checkpoint), located at its setting when known."""
    diags = Diagnostics()
    diags.error("E513", error.message, error.span, help=error.help)
    return diags
