"""The front end as one call: read a file and its imports, check definitions, elaborate networks."""
from __future__ import annotations

import errno
import gc
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ast
from .astwalk import walk
from .confusables import check_identifiers
from .diagnostics import Diagnostics, Label, did_you_mean
from .elaborate import Elaborator, check_headers
from .ir import Graph
from .parse import parse
from .source import Source, Span, UnreadableSource, read_source_text

IMPORT_PATH_ENV = "NETC_IMPORT_PATH"  # more folders imports may come from, separated by os.pathsep
OUTSIDE = "it is outside the project"


@dataclass
class Result:
    """What the front end produced: graphs for the networks that elaborated, and every diagnostic."""

    diagnostics: Diagnostics
    graphs: dict[str, Graph] = field(default_factory=dict)
    definitions: dict[str, ast.Definition] = field(default_factory=dict)
    networks: list[str] = field(default_factory=list)  # the main file's networks, in source order
    unknown_overrides: list[str] = field(default_factory=list)
    bad_overrides: list[str] = field(default_factory=list)  # `--set` values of the wrong type
    overrides: dict[str, Any] = field(default_factory=dict)  # the `--set` values the graphs were built with
    # The main file's `train` sections, checked (dsl/train.py); only those without errors are here.
    trains: list[Any] = field(default_factory=list)
    import_paths: tuple[str | Path, ...] = ()  # the extra import folders it was compiled with, to compile again
    program: ast.Program | None = None  # the main file's syntax tree, when it parsed

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors


def load_definitions(source: Source, diags: Diagnostics, trains: list[ast.TrainDef] | None = None,
                     import_paths: Sequence[str | Path] = (),
                     program_out: list[ast.Program] | None = None) -> tuple[dict[str, ast.Definition], list[str]] | None:
    """Parse `source` and, recursively, its imports. Returns all definitions and the main file's networks;
    the main file's `train` sections are appended to `trains` when given (imported files' are ignored).

    Imports stay in bounds: only `.net` files inside the main file's folder tree, or inside `import_paths`
    and the folders of $NETC_IMPORT_PATH (symlinks resolved first, so a link cannot lead outside). Anything
    else is refused before it is read, so no other file's text ever reaches a diagnostic."""
    defs: dict[str, ast.Definition] = {}
    visited: set[Path] = set()
    main_networks: list[str] = []
    programs: list[ast.Program] = []

    def load(src: Source, is_main: bool) -> bool:
        program = parse(src, diags)
        if program is None:
            return False
        check_identifiers(src, diags)
        if is_main:
            programs.append(program)
        if is_main and trains is not None:
            trains.extend(program.trains)
        ok = True
        base = Path(src.path).resolve().parent
        for imp in program.imports:
            try:
                target: Path | None = (base / imp.path).resolve()
                reason = _refuse_import(target, roots)  # type: ignore[arg-type]
            except (OSError, ValueError, RuntimeError) as exc:  # ValueError: a NUL; RuntimeError: a symlink loop
                loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
                target, reason = None, "a symlink loop" if loop else (getattr(exc, "strerror", None) or str(exc))
            if target in visited:
                continue
            if target is not None:
                visited.add(target)
            text = ""
            if reason is None:
                try:
                    text = read_source_text(target)  # type: ignore[arg-type]
                except UnreadableSource as exc:
                    reason = exc.reason
            if reason is not None:
                outside = reason == OUTSIDE
                diags.error("E404", f"cannot import `{imp.path}`: {reason}", imp.span,
                            help=f"imports come from the main file's folder tree, {shown_roots}; name other "
                                 f"folders with `--import-path DIR` or {IMPORT_PATH_ENV}" if outside else
                            f"import paths are relative to the importing file's folder, "
                            f"{Path(src.path).parent.as_posix()}/")
                ok = False
                continue
            ok = load(Source(str(Path(src.path).parent / imp.path), text), False) and ok
        for d in program.definitions:
            if d.name in defs:
                first = defs[d.name]
                diags.error("E400", f"`{d.name}` is defined twice", d.name_span,
                            secondary=[Label(first.name_span, "first defined here")]
                            if first.span.source is d.span.source else [],
                            notes=[] if first.span.source is d.span.source else
                            [f"first defined at {first.name_span.location()}"],
                            help="rename one of them")
                continue
            defs[d.name] = d
            if is_main and d.kind == "network":
                main_networks.append(d.name)
        return ok

    main = Path(source.path).resolve()
    visited.add(main)
    roots = [main.parent] + [Path(p).resolve() for p in import_paths]
    env_paths = [p for p in os.environ.get(IMPORT_PATH_ENV, "").split(os.pathsep) if p]
    roots += [Path(p).resolve() for p in env_paths]
    shown_roots = ", ".join(f"{Path(p).as_posix()}/" for p in
                            [Path(source.path).parent, *import_paths, *env_paths])
    if not load(source, True):
        return None
    if program_out is not None:
        program_out.extend(programs)
    return defs, main_networks


def _refuse_import(target: Path, roots: list[Path]) -> str | None:
    """Why `target` (resolved) may not be imported, or None."""
    if target.suffix != ".net":
        return "only `.net` files can be imported"
    if not any(target.is_relative_to(r) for r in roots):
        return OUTSIDE
    return None


def find_cycles(defs: dict[str, ast.Definition], diags: Diagnostics) -> set[str]:
    """Report each cycle of blocks that use one another; returns the names on cycles."""
    uses: dict[str, list[tuple[str, ast.Node]]] = {name: [] for name in defs}
    for name, d in defs.items():
        for node in walk(*d.body):
            for callee in _callees(node):
                if callee.id in defs:
                    uses[name].append((callee.id, callee))
    on_cycle: set[str] = set()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path.append(n)
        for callee, node in uses[n]:
            if state.get(callee) == 1:
                cycle = path[path.index(callee):]
                if not on_cycle.intersection(cycle):
                    chain = " -> ".join(cycle + [callee])
                    diags.error("E401", f"`{callee}` uses itself: {chain}", node.span,
                                help="blocks cannot be recursive; repeat them with `* N` instead")
                on_cycle.update(cycle)
            elif callee not in state:
                visit(callee)
        path.pop()
        state[n] = 2

    for n in defs:
        if n not in state:
            visit(n)
    return on_cycle


def _callees(node: object) -> list[ast.Name]:
    """Names used as ops or blocks: called (`Block(3)`) or as a chain step (`-> Block`, `[Block, relu]`,
    `Block * 2`). Other names are values or dims (`f32[B, C]`), even when a definition has the same name."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return [node.func]
    if not isinstance(node, ast.Step):
        return []
    out: list[ast.Name] = []
    pending: list[object] = [node.expr]
    while pending:
        e = pending.pop()
        if isinstance(e, ast.Name):
            out.append(e)
        elif isinstance(e, ast.ListExpr):
            pending.extend(e.items)
        elif isinstance(e, ast.ListComp):  # `[Block(i) for i in range(4)]`
            pending.append(e.item)
        elif isinstance(e, ast.Chain):  # a chain inside a list: `[Conv2d(8, 3) -> BatchNorm2d -> relu]`
            pending.extend([e.head, *(st.expr for st in e.steps)])
        elif isinstance(e, ast.BinOp) and e.op in ("*", "+"):  # repetition; `+` of containers
            pending.append(e.left)
            if e.op == "+":
                pending.append(e.right)
    return out


def compile_source(source: Source, overrides: dict[str, Any] | None = None,
                   network: str | None = None, import_paths: Sequence[str | Path] = (),
                   observe: Callable[[Span, Any], None] | None = None) -> Result:
    """Check `source` and its imports. `observe`, when given, is called with the span and value of every
    bound name, name use, parameter and chain step (the language server's hovers and inlay hints)."""
    # The front end allocates many long-lived objects (parse trees, AST, IR) and almost no cyclic garbage;
    # CPython's cycle collector kept rescanning them, which made a 10,000-layer network cost ~1.5x more per
    # layer than a 1,000-layer one (bench/bench_check.py). Without it the cost per layer stays flat.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile_source(source, overrides, network, import_paths, observe)
    finally:
        if enabled:
            gc.enable()


def _compile_source(source: Source, overrides: dict[str, Any] | None, network: str | None,
                    import_paths: Sequence[str | Path], observe: Callable[[Span, Any], None] | None) -> Result:
    diags = Diagnostics()
    train_defs: list[ast.TrainDef] = []
    programs: list[ast.Program] = []
    loaded = load_definitions(source, diags, train_defs, import_paths, programs)
    if loaded is None:
        return Result(diags, import_paths=tuple(import_paths), program=programs[0] if programs else None)
    defs, networks = loaded
    result = Result(diags, definitions=defs, networks=networks, overrides=dict(overrides or {}),
                    import_paths=tuple(import_paths), program=programs[0])
    check_headers(defs, diags)
    cyclic = find_cycles(defs, diags)
    if network is not None:
        if network not in defs:
            guess = did_you_mean(network, networks)
            diags.error("E407", f"no network named `{network}` in {source.path}", None,
                        help=f"did you mean `{guess}`?" if guess else
                        (f"its networks are: {', '.join(networks)}" if networks else None))
            return result
        targets = [network]
    else:
        targets = networks
        if not networks and not train_defs:  # a file may only train networks it imports
            diags.error("E407", f"{source.path} defines no network", None,
                        help="add `network Name { input ...; output ... }`; blocks are only checked when used")
            return result
    elab = Elaborator(defs, diags, overrides)
    elab.observe = observe
    elab.cyclic = cyclic
    for name in targets:
        elab.symbols = []
        elab.constraints = []
        graph = elab.network(name)
        if graph is not None:
            result.graphs[name] = graph
    result.unknown_overrides = sorted(set(overrides or {}) - elab.used_overrides)
    result.bad_overrides = elab.bad_overrides
    if train_defs and network is None:
        from .train import check_trains  # only files with `train` sections pay for it

        result.trains = check_trains(train_defs, result, overrides)
    return result


def compile_file(path: str | Path, overrides: dict[str, Any] | None = None, network: str | None = None,
                 import_paths: Sequence[str | Path] = ()) -> Result:
    """Like compile_source, for a file; one that cannot be read is an E105/E106 diagnostic, not an exception."""
    try:
        text = read_source_text(path)
    except UnreadableSource as exc:
        diags = Diagnostics()
        diags.error(exc.code, f"cannot read {path}: {exc.reason}", None, help=exc.help)
        return Result(diags)
    return compile_source(Source(str(path), text), overrides, network, import_paths)
