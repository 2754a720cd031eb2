"""The whole file: which classes, in which order, their docstrings, --guards, and the module text."""
from __future__ import annotations

from typing import Any

from ...dsl import ast
from ...dsl.compiler import Result
from ...dsl.ir import Module, Value
from ...dsl.ops import OPS
from ...dsl.parametric.analysis import Analyzer
from ...dsl.parametric.definfo import DefInfo
from ...dsl.parametric.evaluate import EvalError, evaluate
from ...dsl.parametric.trees import Ctx, Tracked, Unrenderable, is_int, literal, plain
from ...dsl.types import FLOAT_DTYPES
from ...dsl.variants import branch_variants, elaborate_with
from ..base import GeneratedCode
from ..naming import Namespace, global_namespace
from .guards import _message
from .merge import Merger
from .ops import HELPER_NAMES
from .render import ClassPlan, DefNames, Renderer, View


class CodegenError(Exception):
    """The IR uses something this backend cannot write down faithfully."""


class Generator:
    def __init__(self, result: Result, network: str | None, guards: bool, source_path: str | None) -> None:
        from ...dsl.ops.base import ALIASES

        self.result = result
        self.defs = result.definitions
        self.guards = guards
        if network is not None:
            self.graphs = [result.graphs[network]]
        else:
            names = [n for n in result.networks if n in result.graphs]
            names += [n for n in result.graphs if n not in names]
            self.graphs = [result.graphs[n] for n in names]
        if not self.graphs:
            raise CodegenError("there is no network to generate")
        self.source_path = source_path or self.graphs[0].source.path
        self.callables = set(OPS) | set(ALIASES) | set(self.defs)
        self.infos: dict[str, DefInfo] = {}
        self.def_names: dict[str, DefNames] = {}
        self.class_of: dict[int, ClassPlan] = {}
        self.plans: list[ClassPlan] = []
        self.notes: list[str] = []
        self.cls_ns = global_namespace()
        # The networks elaborated again with other parameter values (dsl/variants.py): their instances show the
        # arms of `if`s the compiled values skip, so a class can build those too. They join a class only when
        # it merges them; nothing else is generated for them.
        self.variants: list[Module] = []
        for g in self.graphs:
            if g.name in self.defs:
                for values in branch_variants(result, g.name):
                    other = elaborate_with(result, g.name, values)
                    if other is not None:
                        self.variants.append(other.root)
        self.variant_ids: set[int] = set()

    # -- which classes, in which order ---------------------------------------------------------------
    def _collect(self) -> tuple[dict[str, list[Module]], list[str]]:
        instances: dict[str, list[Module]] = {}
        children: dict[str, list[str]] = {}

        def under(m: Module, owner: str) -> None:
            for el in m.body:
                if isinstance(el, Module):
                    if el.kind == "sequential":
                        under(el, owner)
                    else:
                        d = el.definition or ""
                        instances.setdefault(d, []).append(el)
                        children.setdefault(owner, [])
                        if d not in children[owner]:
                            children[owner].append(d)
                        under(el, d)

        roots = []
        for g in self.graphs:
            instances.setdefault(g.name, []).append(g.root)
            roots.append(g.name)
            under(g.root, g.name)
        real = {id(m) for ms in instances.values() for m in ms}
        for root in self.variants:
            d = root.definition or ""
            instances.setdefault(d, []).append(root)
            under(root, d)
        self.variant_ids = {id(m) for ms in instances.values() for m in ms} - real
        order: list[str] = []
        seen: set[str] = set()

        def visit(d: str) -> None:
            if d in seen:
                return
            seen.add(d)
            for c in children.get(d, []):
                visit(c)
            order.append(d)

        for r in roots:
            visit(r)
        return instances, order

    def run(self) -> GeneratedCode:
        instances, order = self._collect()
        for d in order:
            self.infos[d] = DefInfo.build(self.defs[d], self.callables)
        for helper in HELPER_NAMES:
            self.cls_ns.reserve(helper)
        first_names = {d: self.cls_ns.name(d, (d, 0), what="class") for d in order}
        reserved = set(first_names.values())
        for d in order:
            names = DefNames(d, reserved)
            for inp in self.infos[d].inputs:
                names.locals.name(inp.name, ("var", inp.name), what="input")
            for p in self.defs[d].params:  # before any value the source names: a parameter keeps its name
                names.arg(p.name)
            self.def_names[d] = names
        analyzer = Analyzer(self.defs, self.infos)
        try:
            for d in order:
                try:
                    views, variant_views = self._views(d, instances[d], analyzer, names_locals=True)
                    one_class = self._one_class(d, views, variant_views, first_names[d])
                except Unrenderable:
                    one_class = False
                if not one_class:
                    # the named values do not fit every instance alike: write their expressions in place
                    views, variant_views = self._views(d, instances[d], analyzer, names_locals=False)
                self._classes(d, views, variant_views, first_names[d])
        except Unrenderable as exc:
            raise CodegenError(f"cannot write this network in PyTorch: {exc}") from None
        return GeneratedCode(self._emit(), self._notes())

    def _views(self, d: str, instances: list[Module], analyzer: Analyzer,
               names_locals: bool) -> tuple[list[View], list[View]]:
        """Each instance of `d` rendered in its class's terms (the variants' separately)."""
        views, variant_views = [], []
        for inst in instances:
            if id(inst) not in self.variant_ids:
                views.append(Renderer(self, d).render(inst, analyzer.own(inst, names_locals)))
                continue
            try:
                variant_views.append(Renderer(self, d).render(inst, analyzer.own(inst, names_locals)))
            except (Unrenderable, KeyError):
                pass  # a variant whose parts were not merged into their classes: it adds nothing
        return views, variant_views

    def _one_class(self, d: str, views: list[View], variant_views: list[View], first_name: str) -> bool:
        return Merger(self, d, views + variant_views).plan(first_name) is not None or \
            (not views or Merger(self, d, views).plan(first_name) is not None)

    def _classes(self, d: str, views: list[View], variant_views: list[View], first_name: str) -> None:
        plan = None
        if variant_views and views:
            plan = Merger(self, d, views + variant_views).plan(first_name)
        if plan is not None:
            groups, plans = [views + variant_views], [plan]
        elif not views:
            return  # only the variants use this definition, and they do not make one class
        elif (plan := Merger(self, d, views).plan(first_name)) is not None:
            groups, plans = [views], [plan]
        else:
            groups, plans = [], []
            for v in views:
                for gi, g in enumerate(groups):
                    p = Merger(self, d, g + [v]).plan(plans[gi].name)
                    if p is not None:
                        g.append(v)
                        plans[gi] = p
                        break
                else:
                    name = first_name if not groups else self.cls_ns.name(d, (d, len(groups)), what="specialised class")
                    for other in self.def_names.values():
                        other.args.forbid(name)
                    p = Merger(self, d, [v]).plan(name)
                    if p is None:
                        raise Unrenderable(f"an instance of `{d}` ({v.mod.path or d})")
                    groups.append([v])
                    plans.append(p)
            if len(plans) > 1:
                why = _difference(groups[0][0], [g[0] for g in groups[1:]])
                self.notes.append(
                    f"`{d}` is written as {len(plans)} classes ({', '.join(p.name for p in plans)}): its instances "
                    f"differ in ways that no parameter or `if` of the source expresses{why}")
                for p in plans[1:]:
                    p.specialised = f"A specialisation of `{d}` for some of its instances{why}."
        pin = next((pin for g in groups for v in g for pin in v.a.pinned), None)
        if pin is not None:
            self.notes.append(f"`{d}` is built only for the arguments it was compiled with: `{_short(pin.span.text)}` "
                              f"({pin.span.location()}) {pin.why}")
        for p in plans:
            if self.guards:
                self._add_guards(p)
            p.doc = self._doc(p)
            for v in p.views:
                self.class_of[id(v.mod)] = p
            self.plans.append(p)

    # -- --guards ---------------------------------------------------------------------------------------
    def _add_guards(self, p: ClassPlan) -> None:
        info = self.infos[p.definition]
        view = p.views[0]
        lines: list[str] = []
        first_pos: dict[str, str] = {}
        for i, inp in enumerate(info.inputs):
            if i >= len(p.params) or i >= len(view.mod.inputs):
                break
            x = p.params[i]
            t = view.a.types.get(view.mod.inputs[i].id, view.mod.inputs[i].type)
            conds = [f"{x}.dim() == {len(t.dims)}"]
            for j, d in enumerate(t.dims):
                decl = inp.type.dims[j] if j < len(inp.type.dims) else None
                if is_int(d) and not isinstance(d, Tracked):
                    conds.append(f"{x}.shape[{j}] == {int(d)}")
                elif isinstance(decl, ast.Name):
                    if decl.id in first_pos:
                        conds.append(f"{x}.shape[{j}] == {first_pos[decl.id]}")
                    else:
                        first_pos[decl.id] = f"{x}.shape[{j}]"
            conds.append(f"{x}.is_floating_point()" if t.dtype in FLOAT_DTYPES else f"not {x}.is_floating_point()")
            declared = f"{inp.type.dtype}[{', '.join(d.span.text for d in inp.type.dims)}]"
            msg = _message(f"{inp.span.location()}: input `{inp.name}` must be {declared}, got shape ")
            lines.append(f"assert {' and '.join(conds)}, (")
            lines.append(f"    {msg} + str(tuple({x}.shape)) + \" \" + str({x}.dtype))")
            for cond in inp.where:
                try:
                    tree = evaluate(cond, view.a.env).tree
                    text = tree.render(Ctx(lambda kind, raw: self._guard_leaf(p, kind, raw, first_pos, view)))
                except (EvalError, Unrenderable):
                    continue
                where = f"{cond.span.location()}: constraint `{cond.span.text}` does not hold"
                lines.append(f"assert {text}, {_message(where)}")
        p.fwd_lines = lines + p.fwd_lines

    def _guard_leaf(self, p: ClassPlan, kind: str, raw: str, first_pos: dict[str, str], view: View) -> str:
        """Sizes read straight from the inputs; parameters from `self` (stored for the guard if need be)."""
        if kind == "sym":
            if raw not in first_pos:
                raise Unrenderable(raw)
            return first_pos[raw]
        names = self.def_names[p.definition]
        if any(a.raw == raw for a in p.signature):
            attr = names.attrs.name(raw, ("param", raw), what="parameter")
            line = f"self.{attr} = {names.arg(raw)}"
            if line not in p.init_lines:
                p.init_lines.insert(0, line)
            return f"self.{attr}"
        return literal(plain(view.a.env[raw].value))

    # -- text -----------------------------------------------------------------------------------------
    def _doc(self, p: ClassPlan) -> str:
        doc = self._doc_text(p)
        if not p.specialised:
            return doc
        head, sep, rest = doc.partition("\n")
        return f"{head}\n\n    {_doc_safe(p.specialised)}{sep and chr(10)}{rest}" if rest else \
            f"{head}\n\n    {_doc_safe(p.specialised)}\n    "

    def _doc_text(self, p: ClassPlan) -> str:
        defn = self.defs[p.definition]
        loc = _doc_safe(f"{defn.name_span.source.path}:{defn.name_span.line}")
        what = "Network" if defn.kind == "network" else "Block"
        head = f"{what} `{p.name}` from {loc}, compiled by netc."
        own = [v for v in p.views if id(v.mod) not in self.variant_ids]
        if defn.kind != "network" or len(own) != 1:
            return head
        view = own[0]
        names = self.def_names[p.definition]
        ctx = names.comment_ctx()

        def shape(v: Value) -> str:
            t = view.a.types.get(v.id, v.type)
            dims = [Renderer._dim_text(d, ctx) for d in t.dims]
            return f"({', '.join(dims)}{',' if len(dims) == 1 else ''}) {t.dtype}"

        ins = ", ".join(f"{n} {shape(v)}" for n, v in zip(p.params, view.mod.inputs))
        graph = next((g for g in self.graphs if g.root is view.mod), None)
        out_names = [n for n, _ in graph.outputs] if graph is not None else [v.name for v in view.mod.outputs]
        outs = ", ".join(f"{names.locals.name(n, ('var', n))} {shape(v)}" for n, v in zip(out_names, view.mod.outputs))
        return f"{head}\n\n    Inputs: {ins}.\n    Returns: {outs}.\n    "

    def _emit(self) -> str:
        from ... import __version__

        env = _jinja()
        needs_f = any("F" in v.needs for p in self.plans for v in p.views)
        needs_ordered_dict = any("OrderedDict" in v.needs for p in self.plans for v in p.views)
        helpers = sorted({n for p in self.plans for v in p.views for n in v.needs if n.startswith("helper:")})
        classes = [h[len("helper:"):] for h in helpers]
        for p in self.plans:
            sig = ["self"] + (["*"] if p.keyword_only and p.signature else [])
            for arg in p.signature:
                text = f"{arg.py}: {arg.annotation}"
                if arg.derived is not None:
                    text += " | None"
                if arg.has_default:
                    text += f" = {literal(arg.default)}"
                sig.append(text)
            optional = self._optional_inputs(p)
            fsig = ["self"] + [f"{x}: torch.Tensor | None = None" if x in optional else f"{x}: torch.Tensor"
                               for x in p.params]
            p.fwd_lines = [line for x in p.params if x in optional for line in optional[x]] + p.fwd_lines
            returns = "torch.Tensor" if p.returns == 1 else f"tuple[{', '.join(['torch.Tensor'] * p.returns)}]"
            classes.append(env.get_template("class.py.j2").render(
                name=p.name, doc=p.doc, init_signature=", ".join(sig), init_lines=p.init_lines,
                forward_signature=", ".join(fsig), returns=returns, forward_lines=p.fwd_lines).rstrip("\n"))
        nets = [self.class_of[id(g.root)].name for g in self.graphs]
        src = _comment_safe(self.source_path)
        text = env.get_template("module.py.j2").render(
            version=__version__, source=src, uses_functional=needs_f, uses_ordered_dict=needs_ordered_dict, classes=classes,
            docstring=_doc_safe(f"PyTorch modules for {', '.join(nets)}, generated by netc from {self.source_path}."))
        return text.rstrip("\n") + "\n"

    def _optional_inputs(self, p: ClassPlan) -> dict[str, list[str]]:
        """Trailing inputs declared `= randn` (or rand, zeros, ones): made in forward when not passed."""
        from ...dsl.types import DTYPES

        defaults = getattr(p.views[0].mod, "input_defaults", None) or {}
        info = self.infos[p.definition]
        raw_to_py = {inp.name: py for inp, py in zip(info.inputs, p.params)}
        out: dict[str, list[str]] = {}
        for inp in reversed(info.inputs):  # only a tail of optional inputs can default to None in Python
            d = defaults.get(inp.name)
            if d is None or inp.name not in raw_to_py:
                break
            try:
                # The declared dims, in this class's terms: sizes from the inputs before it, parameters from
                # `self` (`VAE(latent=10)` makes (B, 10) noise), through the same leaves as the guards.
                sources = {raw: f"{raw_to_py[src]}.shape[{axis}]" for raw, (src, axis) in d.dim_sources.items()
                           if src in raw_to_py}
                ctx = Ctx(lambda kind, raw, sources=sources: self._guard_leaf(p, kind, raw, sources, p.views[0]))
                dims = [evaluate(e, p.views[0].a.env).tree.render(ctx) for e in inp.type.dims]
            except (EvalError, Unrenderable):
                break
            x = raw_to_py[inp.name]
            first = p.params[0]
            fill = {"randn": "torch.randn", "rand": "torch.rand", "zeros": "torch.zeros", "ones": "torch.ones"}[d.fill]
            out[x] = [f"if {x} is None:",
                      f"    {x} = {fill}({', '.join(dims)}, dtype=torch.{DTYPES[d.dtype]}, device={first}.device)"]
        return out

    def _notes(self) -> list[str]:
        out: list[str] = []
        spaces: list[Namespace] = [self.cls_ns]
        for names in self.def_names.values():
            spaces += [names.attrs, names.args, names.locals]
        for ns in spaces:
            for r in ns.renames:
                if r.what in ("flag", "specialised class"):
                    continue  # names the backend made up itself: a suffix needs no explanation
                msg = r.message()
                if r.what == "layer":
                    msg += f"; its state_dict keys read `{r.new}.` where the .net file says `{r.old}.`"
                if msg not in out:
                    out.append(msg)
        return out + self.notes

    def generated_key(self, mod: Module, key: str) -> str:
        """The state_dict key under `mod`'s generated class for the IR key `key` (relative to `mod`).

        A layer the namespace renamed (`eval` -> `eval_1`: an nn.Module method) changes every key below it;
        containers (nn.Sequential, nn.ModuleDict) keep the IR's names, block instances use their class's names.
        """
        out: list[str] = []
        here: Module | None = mod
        names = self.def_names.get(mod.definition or "")
        for part in key.split("."):
            child = next((el for el in here.body if el.name == part), None) if here is not None else None
            attr = names.attrs.get(("mod", part)) if names is not None and child is not None else None
            out.append(attr or part)
            if isinstance(child, Module):
                here = child
                names = None if child.kind == "sequential" else self.def_names.get(child.definition or "")
            else:
                here, names = None, None  # a parameter's own name
        return ".".join(out)

    def network_class(self, network: str | None) -> str:
        g = self.graphs[0] if network is None else self.result.graphs[network]
        return self.class_of[id(g.root)].name


def _difference(first: View, others: list[View]) -> str:
    """Where a specialised class's instance first differs from the first class's: `; first at file:line (...)`."""
    for other in others:
        for side in ("init", "fwd"):
            mine = {it.key: it for it in getattr(first, side)}
            theirs = {it.key: it for it in getattr(other, side)}
            for key in list(mine) + [k for k in theirs if k not in mine]:
                a, b = mine.get(key), theirs.get(key)
                if a is None or b is None or a.text != b.text:
                    it = a or b
                    assert it is not None
                    reason = first.why.get(key) or other.why.get(key)
                    if reason:
                        return f": {reason}"
                    what = "present in only some instances" if a is None or b is None else \
                        f"`{a.text.splitlines()[0]}` in one, `{b.text.splitlines()[0]}` in another"
                    return f"; they first differ at {it.where} (`{key}`: {what})"
    return ""


def _comment_safe(text: str) -> str:
    """User text (a path) inside a comment: no character may end the comment's line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _doc_safe(text: str) -> str:
    return _comment_safe(text).replace("\\", "\\\\").replace('"', '\\"')


_JINJA: Any = None


def _jinja() -> Any:
    global _JINJA
    if _JINJA is None:
        import jinja2

        _JINJA = jinja2.Environment(loader=jinja2.PackageLoader("netc.codegen", "templates/torch"),
                                    autoescape=False, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return _JINJA


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
