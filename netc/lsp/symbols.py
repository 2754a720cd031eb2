"""Which name is which: every identifier occurrence of a parsed file, resolved to the symbol it denotes.

The language server answers go-to-definition, find-references and rename from this index. Resolution
follows the language's scoping: a definition (network or block) is one scope holding its parameters,
inputs, the dims its input types bind, and every name it assigns or binds at the end of a chain; `if`
bodies share their definition's scope. Names that are not local are definitions of the file (or of an
import), ops, or layer names (`as wte`, referred to by `tied=wte`). Train sections refer to networks and
to their own aliases (`train gan(Generator as G, ...)`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..dsl import ast
from ..dsl.astwalk import walk
from ..dsl.ops import lookup
from ..dsl.source import Span

# A symbol: ("local", definition, name), ("def", name), ("op", canonical name), ("layer", name),
# ("alias", train section, name).
Symbol = tuple[str, ...]


@dataclass(frozen=True)
class Occurrence:
    start: int
    end: int
    name: str
    symbol: Symbol
    binds: bool  # a binding site (parameter, input, assignment, `as` name, definition name)


@dataclass
class Index:
    occurrences: list[Occurrence] = field(default_factory=list)
    # Symbols defined in other files (imports): where their definition is.
    external: dict[Symbol, Span] = field(default_factory=dict)

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence under the cursor (its end counts too: a cursor right after a name is on it)."""
        best = None
        for occ in self.occurrences:
            if occ.start <= offset <= occ.end and (best is None or occ.end - occ.start < best.end - best.start):
                best = occ
        return best

    def references(self, symbol: Symbol) -> list[Occurrence]:
        return sorted((o for o in self.occurrences if o.symbol == symbol), key=lambda o: o.start)

    def definition(self, occ: Occurrence) -> Occurrence | None:
        """The nearest binding site before `occ` (values may be rebound), else the first one."""
        binds = [o for o in self.references(occ.symbol) if o.binds]
        if not binds:
            return None
        before = [o for o in binds if o.start <= occ.start]
        return before[-1] if before else binds[0]


def build_index(program: ast.Program, definitions: dict[str, ast.Definition]) -> Index:
    """Index the names of `program`; `definitions` holds every definition visible to it (imports too)."""
    index = Index()
    source = program.span.source
    for name, d in definitions.items():
        if d.span.source is not source:
            index.external[("def", name)] = d.name_span
    layers = {alias for d in program.definitions for alias in _aliases(d)}
    for d in program.definitions:
        _definition(index, d, definitions, layers)
    for t in program.trains:
        _train(index, t, definitions)
    return index


def _add(index: Index, start: int, name: str, symbol: Symbol, binds: bool) -> None:
    index.occurrences.append(Occurrence(start, start + len(name), name, symbol, binds))


def _aliases(d: ast.Definition) -> list[str]:
    return [n.alias for n in walk(*d.body) if isinstance(n, ast.Step) and n.alias]


def _locals(d: ast.Definition, definitions: dict[str, ast.Definition]) -> set[str]:
    names = {p.name for p in d.params}
    for node in walk(*d.body):
        if isinstance(node, ast.Input):
            names.add(node.name)
            names.update(e.id for e in node.type.dims if isinstance(e, ast.Name))
        elif isinstance(node, ast.StateDecl):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(t.id for t in walk(target) if isinstance(t, ast.Name))
        elif isinstance(node, ast.Chain):
            last = node.steps[-1].expr
            if isinstance(last, ast.Name) and lookup(last.id) is None and last.id not in definitions:
                names.add(last.id)
        elif isinstance(node, ast.ListComp):  # `[Block(i) for i in range(4)]`
            names.add(node.var)
    return names


def _definition(index: Index, d: ast.Definition, definitions: dict[str, ast.Definition], layers: set[str]) -> None:
    _add(index, d.name_span.start, d.name, ("def", d.name), True)
    local = _locals(d, definitions)
    binding: set[int] = set()  # start offsets of Name nodes that bind
    for p in d.params:
        _add(index, p.span.start, p.name, ("local", d.name, p.name), True)
    seen_dims: set[str] = set()
    for node in walk(*d.body):
        if isinstance(node, ast.Input):
            _add(index, node.name_span.start, node.name, ("local", d.name, node.name), True)
            for e in node.type.dims:
                if isinstance(e, ast.Name) and e.id not in seen_dims:
                    seen_dims.add(e.id)
                    binding.add(e.span.start)
        elif isinstance(node, ast.StateDecl):  # `param class_token: ...` binds its name like an input
            _add(index, node.name_span.start, node.name, ("local", d.name, node.name), True)
        elif isinstance(node, ast.Assign):
            binding.update(t.span.start for target in node.targets for t in walk(target) if isinstance(t, ast.Name))
        elif isinstance(node, ast.Chain):
            last = node.steps[-1].expr
            if isinstance(last, ast.Name) and last.id in local:
                binding.add(last.span.start)
        elif isinstance(node, ast.Step) and node.alias and node.alias_span is not None:
            _add(index, node.alias_span.start, node.alias, ("layer", node.alias), True)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            _keywords(index, node, definitions)
        elif isinstance(node, ast.ListComp):
            _add(index, node.var_span.start, node.var, ("local", d.name, node.var), True)
    for p in d.params:
        if p.default is not None:
            _names(index, p.default, d, local, binding, definitions, layers)
    for node in walk(*d.body):
        if isinstance(node, ast.Name):
            _name(index, node, d, local, binding, definitions, layers)


def _keywords(index: Index, call: ast.Call, definitions: dict[str, ast.Definition]) -> None:
    """`Linear(10, bias=false)`: `bias` is an attribute of the op; `Block(d=64)`: `d` is the block's parameter."""
    func = call.func.id  # type: ignore[union-attr]
    callee = definitions.get(func)
    spec = lookup(func) if callee is None else None
    for arg in call.args:
        if arg.name is None:
            continue
        if callee is not None and any(p.name == arg.name for p in callee.params):
            _add(index, arg.span.start, arg.name, ("local", func, arg.name), False)
        elif spec is not None:
            _add(index, arg.span.start, arg.name, ("attr", spec.name, arg.name), False)


def _names(index: Index, expr: ast.Expr, d: ast.Definition, local: set[str], binding: set[int],
           definitions: dict[str, ast.Definition], layers: set[str]) -> None:
    for node in walk(expr):
        if isinstance(node, ast.Name):
            _name(index, node, d, local, binding, definitions, layers)


def _name(index: Index, node: ast.Name, d: ast.Definition, local: set[str], binding: set[int],
          definitions: dict[str, ast.Definition], layers: set[str]) -> None:
    if node.id in local:
        _add(index, node.span.start, node.id, ("local", d.name, node.id), node.span.start in binding)
    elif node.id in definitions:
        _add(index, node.span.start, node.id, ("def", node.id), False)
    elif (spec := lookup(node.id)) is not None:
        _add(index, node.span.start, node.id, ("op", spec.name), False)
    elif node.id in layers:
        _add(index, node.span.start, node.id, ("layer", node.id), False)


def _train(index: Index, t: ast.TrainDef, definitions: dict[str, ast.Definition]) -> None:
    aliases: set[str] = set()
    if t.models is None:
        symbol: Symbol = ("def", t.name) if t.name in definitions else ("train", t.name)
        _add(index, t.name_span.start, t.name, symbol, symbol[0] == "train")
    else:
        _add(index, t.name_span.start, t.name, ("train", t.name), True)
        for m in t.models:
            for node in walk(m.network):
                if isinstance(node, ast.Name) and node.id in definitions:
                    _add(index, node.span.start, node.id, ("def", node.id), False)
            if m.alias and m.alias_span is not None:
                aliases.add(m.alias)
                _add(index, m.alias_span.start, m.alias, ("alias", t.name, m.alias), True)
    for entry in t.entries:
        if entry.target is not None and entry.target in aliases and entry.target_span is not None \
                and not entry.target_span.text.startswith('"'):
            _add(index, entry.target_span.start, entry.target, ("alias", t.name, entry.target), False)
        for node in walk(entry.value):
            if isinstance(node, ast.Name):
                if node.id in aliases:
                    _add(index, node.span.start, node.id, ("alias", t.name, node.id), False)
                elif node.id in definitions:
                    _add(index, node.span.start, node.id, ("def", node.id), False)
