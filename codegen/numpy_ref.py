"""The NumPy backend: a standalone, readable NumPy implementation of each network's forward pass.

`generate` writes one Python file: the kernels the networks use, copied from `numpy_kernels/` (so the
file imports nothing but NumPy), then one class per network with its parameters in a dict keyed like the
torch state_dict, `load()` for .npz files or dicts, and a flat `forward` with a shape comment per line.
`build` compiles the same source in memory and returns the class (no files are written).

How an op becomes a line: `EMITTERS` maps each canonical op name to a small function that returns the
right-hand side (`conv(x, p["conv1.weight"], stride=(2, 2), padding=(3, 3))`); the generator names the
result and adds the shape comment. Values that flow straight into the next op reuse one variable (`x`),
the rest are named after their layer (`maxpool`, `view1`; a short name is reused once its value is dead,
so every block reads like the block's own code) or after the block they leave (`layer1_0`).

The work is split by job: numpy_forward.py (the lowering state and the helpers emitters share),
numpy_emitters.py and numpy_ops.py (the emitters), numpy_lower.py (one graph to the lines of `forward`),
numpy_guards.py (`--guards`), numpy_kernel_copy.py (the kernels copied into the file); this module renders
the file from the template and compiles it for `build`.
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..dsl.ir import Graph
from .base import GeneratedCode
from .numpy_forward import Namespace, UnsupportedOp, _reserved, _str
from .numpy_kernel_copy import _kernels_for
from .numpy_lower import EMITTERS, _lower

TEMPLATES = Path(__file__).parent / "templates" / "numpy"


# -- rendering ---------------------------------------------------------------------------------------------------
@dataclass
class _Net:
    name: str
    cls: str
    num_params: int
    inputs_doc: str
    outputs_doc: str
    state: list[tuple[str, tuple[int, ...], str]]
    signature: str
    call_args: str
    returns: str
    body: str


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, autoescape=False, undefined=jinja2.StrictUndefined)
    env.filters["pyrepr"] = lambda v: _str(v) if isinstance(v, str) else repr(v)
    return env


def _render(graphs: list[Graph], definitions: dict[str, Any], source: str | None, guards: bool,
            trace: bool) -> tuple[str, list[str], dict[str, str]]:
    """The module source, notes for the user, and each network's class name."""
    class_ns = Namespace(_reserved())
    nets: list[_Net] = []
    notes: list[str] = []
    classes: dict[str, str] = {}
    forward_code: list[str] = []
    for g in graphs:
        cls = class_ns.name(g.name)
        if cls != g.name:
            notes.append(f"network `{g.name}` is the class `{cls}` in the generated code")
        classes[g.name] = cls
        f, lines = _lower(g, definitions, guards, trace)
        notes += f.notes
        forward_code.append("\n".join(lines))
        params = [f.var(v) for _, v, _ in g.inputs]
        sig = ", ".join(f"{v}: np.ndarray | None = None" if v in f.optional else f"{v}: np.ndarray" for v in params)
        call = ", ".join(params)
        if trace:
            sig += (", " if sig else "") + "trace: dict[str, object] | None = None"
            call += (", " if call else "") + "trace=trace"
        n_out = len(g.outputs)
        returns = "np.ndarray" if n_out == 1 else f"tuple[{', '.join(['np.ndarray'] * n_out)}]"
        nets.append(_Net(
            name=g.name, cls=cls, num_params=g.num_params,
            inputs_doc=", ".join(f"{n} {v.type}" for n, v, _ in g.inputs) or "none",
            outputs_doc=", ".join(f"{n} {v.type}" for n, v in g.outputs) or "none",
            state=[(e.key, tuple(e.shape), e.dtype) for e in g.state_dict()],
            signature=sig, call_args=call, returns=returns,
            body="\n".join(" " * 8 + line if line else "" for line in lines),
        ))
    env = _environment()
    code = env.get_template("module.py.j2").render(
        names=", ".join(g.name for g in graphs), source=source or "<memory>", networks=nets,
        kernels=_kernels_for("\n".join(forward_code)))
    return code, notes, classes


def _graphs(result: Any, network: str | None, first_only: bool) -> list[Graph]:
    if network is not None:
        if network not in result.graphs:
            raise ValueError(f"no network named {network!r}; the networks are {', '.join(result.graphs) or 'none'}")
        return [result.graphs[network]]
    order = [n for n in result.networks if n in result.graphs] or list(result.graphs)
    if not order:
        raise ValueError("nothing to generate: no network elaborated without errors")
    graphs = [result.graphs[n] for n in order]
    return graphs[:1] if first_only else graphs


def generate(result: Any, network: str | None = None, *, guards: bool = False,
             source_path: str | None = None) -> GeneratedCode:
    """The NumPy source for the networks of a front-end `Result` (all of them, or `network`)."""
    code, notes, _ = _render(_graphs(result, network, False), result.definitions, source_path, guards, False)
    return GeneratedCode(code, notes)


def build(result: Any, network: str | None = None, *, trace: bool = False, guards: bool = False) -> type:
    """Compile the generated NumPy class in memory and return it (the first network unless `network`).

    With `trace=True`, `forward(..., trace=d)` also stores every layer's output in `d`, keyed by its path
    (`layer1.0.conv1`, and `layer1.0` for a block's output): what `netc verify` compares with torch.
    """
    graphs = _graphs(result, network, True)
    code, _, classes = _render(graphs, result.definitions, None, guards, trace)
    filename = f"<netc-numpy {graphs[0].name}>"
    # Register the source so tracebacks through the generated forward show its lines.
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": f"netc_numpy_{classes[graphs[0].name]}"}
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102 - our generated code; user text only in literals
    cls: type = namespace[classes[graphs[0].name]]
    cls.SOURCE = code  # type: ignore[attr-defined]
    return cls


__all__ = ["EMITTERS", "Namespace", "UnsupportedOp", "build", "generate"]
