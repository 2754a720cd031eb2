"""Property: a generated class built with other arguments IS the network compiled with those values.

For every sample network and every parameter of it, the class generated from the sample's own defaults is
built with other values (halved, doubled, flipped: layer counts, widths, booleans). Where the compiler accepts
the values, the class is compared with the oracles the front end gives for the same values bound by `--set`: the
elaborated IR's state_dict (keys, order, shapes), its parameter count (what `netc check` prints), and, where the
model is small, the outputs of the independent NumPy reference backend on the same weights and inputs. Where the
compiler rejects them, the rejection is a located user error, and a constructor that also refuses them says
which .net line (a test below makes sure most tried values are legal).
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import netc  # noqa: E402
from netc.codegen import get_backend, numpy_ref  # noqa: E402
from netc.codegen import torch as torch_backend  # noqa: E402
from netc.dsl.compiler import compile_file  # noqa: E402
from netc.dsl.source import Source  # noqa: E402
from netc.verify import _elements, _flatten, compare_arrays, random_inputs, random_state, resolve_sizes  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FORWARD_ELEMENTS = 3_000_000  # weights and activations: bigger models are compared by structure only


def networks() -> list[tuple[str, str]]:
    out = []
    for path in sorted(SAMPLES.glob("*.net")):
        result = compile_file(path)
        out += [(path.name, n) for n in result.networks if n in result.graphs]
    return out


def other_values(default: Any, type_name: str) -> list[Any]:
    """Legal-looking values other than the default: the compiler is the judge of legality."""
    if type_name == "bool":
        return [not default]
    if type_name == "float":
        return [default / 2 if default else 0.25]
    if type_name in ("int", "dim") and isinstance(default, int):
        return [v for v in (default // 2, default + 1, 2 * default) if v >= 1 and v != default][:2]
    if type_name == "list" and default and all(isinstance(v, int) and not isinstance(v, bool) for v in default):
        # shorter and longer stages (ResNet's block counts), or wider and narrower widths
        return [tuple(max(1, v // 2) for v in default), tuple(v + 1 for v in default)]
    return []


@functools.cache
def compiled(sample: str, network: str, param: str, value: Any) -> Any:
    return compile_file(SAMPLES / sample, {param: value}, network)


def legal(sample: str, network: str, param: str, value: Any) -> bool:
    result = compiled(sample, network, param, value)
    return bool(result.ok and network in result.graphs)


@functools.cache
def all_cases() -> list[tuple[str, str, str, Any]]:
    out = []
    for sample, network in networks():
        result = compile_file(SAMPLES / sample)
        defn = result.definitions[network]
        args = result.graphs[network].root.args
        for p in defn.params:
            out += [(sample, network, p.name, value) for value in other_values(args.get(p.name), p.type_name)]
    return out


def cases(accepted: bool = True) -> list[Any]:
    return [pytest.param(*c, id=f"{c[1]}-{c[2]}={c[3]}") for c in all_cases() if legal(*c) == accepted]


_CLASSES: dict[tuple[str, str], type] = {}


def generated(sample: str, network: str) -> type:
    if (sample, network) not in _CLASSES:
        _CLASSES[sample, network] = get_backend("torch").build(netc.check(SAMPLES / sample), network=network)
    return _CLASSES[sample, network]


@pytest.mark.parametrize(("sample", "network", "param", "value"), cases())
def test_class_built_with_other_values_is_the_network_compiled_with_them(sample: str, network: str, param: str,
                                                                          value: Any) -> None:
    sets = {param: value}
    result = compiled(sample, network, param, value)
    graph = result.graphs[network]
    cls = generated(sample, network)
    path = torch_backend.generated_paths(cls)
    with torch.device("meta"):
        model = cls(**{param: value})
    assert [(path(e.key), tuple(int(d) for d in e.shape)) for e in graph.state_dict()] == \
        [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert sum(p.numel() for p in model.parameters()) == graph.num_params

    # the numbers: the NumPy reference backend, compiled for these values, on the same weights and inputs
    source = Source(str(SAMPLES / sample), (SAMPLES / sample).read_text())
    try:
        _, concrete = resolve_sizes(source, sets, network, graph)
    except Exception:  # noqa: BLE001 - no small sizes: structure only
        return
    if _elements(concrete) > FORWARD_ELEMENTS or graph.input_defaults:
        return
    rng = np.random.default_rng(0)
    state = random_state(graph, rng)
    inputs = random_inputs(concrete, rng, "float64")
    model = cls(**{param: value}).eval().double()
    model.load_state_dict({path(k): torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    reference = numpy_ref.build(result, network=network)(state, dtype="float64")
    with torch.no_grad():
        ours = _flatten(model(*[torch.from_numpy(x) for x in inputs]))
    theirs = _flatten(reference(*inputs))
    assert len(ours) == len(theirs)
    for a, b in zip(theirs, ours):
        _, _, ok, why = compare_arrays(a, b, "float64")
        assert ok, why


@pytest.mark.parametrize(("sample", "network", "param", "value"), cases(accepted=False))
def test_values_the_compiler_rejects_are_located_errors_and_refused_by_name(sample: str, network: str, param: str,
                                                                            value: Any) -> None:
    """`heads=13` with `d=768`: an error at a .net line, never an internal one; where the constructor can tell
    from its arguments alone (a division, torch's own check), it refuses them too, naming the reason."""
    errors = compiled(sample, network, param, value).diagnostics.errors
    assert errors and all(e.span is not None and e.span.source.path.endswith(".net") for e in errors), errors
    cls = generated(sample, network)
    try:
        with torch.device("meta"):
            cls(**{param: value})
    except (ValueError, AssertionError) as exc:  # ours name the .net line; nn.MultiheadAttention asserts
        assert ".net:" in str(exc) or "divisible" in str(exc), exc
    # accepted: the reason lies in the input sizes (`where T <= ctx` with the sample's T), or in a default
    # derived from the value (an odd `head_dim`): forward meets it, as the compiler did for the sample's sizes


def test_most_tried_values_are_legal() -> None:
    """The property test is not vacuous: the values it tries mostly compile."""
    tried = all_cases()
    assert len(tried) >= 40 and sum(legal(*c) for c in tried) >= 0.8 * len(tried)


def _read_by_the_source(defn: Any) -> set[str]:
    """The names a definition's body reads, not counting an input's `where` bounds (`T <= max_len` checks an
    input; it builds nothing), plus those its parameters' defaults read."""
    from netc.dsl import ast
    from netc.dsl.astwalk import walk

    roots: list[Any] = [p.default for p in defn.params if p.default is not None]
    for stmt in defn.body:
        roots.append(dataclasses.replace(stmt, where=()) if isinstance(stmt, ast.Input) else stmt)
    return {n.id for n in walk(*roots) if isinstance(n, ast.Name)}


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.net")))
def test_no_constructor_argument_is_ignored(sample: str) -> None:
    """A class that takes `rope_theta` must use it: an argument the generated __init__ never reads would build
    the compiled default whatever the caller passes. The only exception is a parameter that merely bounds an
    input (`where T <= max_position_embeddings`)."""
    import ast as pyast

    result = netc.check(SAMPLES / sample)
    code = get_backend("torch").generate(result).code
    for cls in (n for n in pyast.parse(code).body if isinstance(n, pyast.ClassDef)):
        init = next((n for n in cls.body if isinstance(n, pyast.FunctionDef) and n.name == "__init__"), None)
        if init is None:
            continue
        reads = {n.id for n in pyast.walk(init) if isinstance(n, pyast.Name) and isinstance(n.ctx, pyast.Load)}
        ignored = [a.arg for a in init.args.args[1:] + init.args.kwonlyargs if a.arg not in reads]
        defn = result.definitions.get(cls.name)
        assert defn is not None or not ignored, (cls.name, ignored)
        if defn is not None:
            built_from = _read_by_the_source(defn)
            assert not [a for a in ignored if a in built_from], f"{cls.name} ignores {ignored}"
