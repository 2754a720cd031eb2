"""Rendering one instance: its __init__ and forward lines, in its class's terms."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...dsl.dims import Dim
from ...dsl.ir import Module, OpNode, StateNode, Value
from ...dsl.ops import REQUIRED
from ...dsl.parametric.analysis import Analysis, NodeInfo, same
from ...dsl.parametric.definfo import SpanKey, span_key
from ...dsl.parametric.loopvars import loops_written_as_values
from ...dsl.parametric.trees import (
    Ctx,
    Lit,
    Tracked,
    Unrenderable,
    render_dim,
)
from ..naming import attribute_namespace, local_namespace, plain_attribute, registered_name
from .containers import fmt_call, repeated
from .emitters import Attrs, Emitter
from .ops import EMITTERS
from .pins import pin_unrolled, pin_written_loops
from .state import declaration, tensor_text

if TYPE_CHECKING:
    from .generator import Generator


Guard = tuple[tuple[int, int], ...]


@dataclass
class Item:
    key: str  # path relative to the class, the identity of a line across instances
    guard: Guard
    raw: str  # the IR name, for flag names
    text: str
    attr: str | None = None  # init items: the attribute they assign
    shapes: list[list[str]] = field(default_factory=list)  # forward items: output shapes, dim by dim
    used: frozenset[tuple[str, str]] = frozenset()
    where: str = ""  # the .net location of the layer or step the line comes from
    # an in-place residual add (`y += x`) as the plain sum (`y = y + x`): what a class writes when another
    # instance may not add in place there (its `y` is the block's input: RegNet's `x0 + f(x)` without `proj`)
    plain: str | None = None


@dataclass
class View:
    mod: Module
    a: Analysis
    init: list[Item]
    fwd: list[Item]
    ret: str
    params: list[str]
    needs: set[str]
    why: dict[str, str] = field(default_factory=dict)  # line key -> why it cannot be written generally


@dataclass
class Unit:
    key: str
    guard: Guard
    raw: str
    span: Any
    inputs: list[Value]
    outputs: list[Value]
    make: Callable[[list[str]], tuple[str, Ctx, Callable[[list[str]], str]]]
    loop: str | None = None  # a repeated block: `for layer in self.<loop>:`, the values carried through


@dataclass
class Arg:
    raw: str
    kind: str  # "param" or "sym"
    py: str
    annotation: str
    default: Any = REQUIRED
    # a network parameter whose default is an expression in earlier ones (`head_dim: int = hidden / heads`):
    # the Python expression computing it in __init__ when the caller leaves it None
    derived: str | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not REQUIRED


@dataclass
class ClassPlan:
    name: str
    definition: str
    views: list[View]
    signature: list[Arg] = field(default_factory=list)
    keyword_only: bool = False
    init_lines: list[str] = field(default_factory=list)
    fwd_lines: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    returns: int = 1
    doc: str = ""
    specialised: str = ""  # why this class stands for only some instances of its definition


# `y.add_(x)` (an add in place, see ops._accumulate) written back into `y`: `y += x`, as a person writes it
_AUGMENTED = re.compile(r"(?P<var>[A-Za-z_]\w*)\.(?P<method>add|sub)_\((?P<arg>[\w.]+)\)")


class DefNames:
    """The identifiers of one definition, shared by all its instances so that they agree."""

    def __init__(self, defname: str, reserved_globals: set[str]) -> None:
        scope = f"`{defname}`"
        self.attrs = attribute_namespace(scope)
        self.locals = local_namespace(scope)
        self.args = local_namespace(scope, reserved_globals)

    def arg(self, raw: str) -> str:
        return self.args.name(raw, ("arg", raw), what="parameter")

    def init_ctx(self) -> Ctx:
        return Ctx(lambda kind, raw: self.local(raw) if kind == "local" else self.arg(raw), names_locals=True)

    def local(self, key: str) -> str:
        """The __init__ variable of a value the source named: every version of `squeeze` is `squeeze`."""
        raw = key.rsplit("@", 1)[0]
        return self.args.name(raw, ("local", raw), what="value")

    def loop_var(self, raw: str) -> str:
        """A comprehension's variable in __init__ (`i`), kept apart from the arguments and the named values."""
        return self.args.name(raw, ("loop", raw), what="loop variable")

    def fwd_ctx(self) -> Ctx:
        return Ctx(lambda kind, raw: ("self." + self.attrs.name(raw, ("param", raw), what="parameter"))
                   if kind == "param" else self.locals.name(raw, ("sym", raw), what="size"))

    def comment_ctx(self) -> Ctx:
        return Ctx(lambda kind, raw: self.arg(raw) if kind == "param" else self.locals.name(raw, ("sym", raw)),
                   comment=True)


class Renderer:
    """Renders the instances of one definition."""

    def __init__(self, gen: Generator, defname: str) -> None:
        self.gen = gen
        self.defname = defname
        self.dinfo = gen.infos[defname]
        self.names = gen.def_names[defname]

    def render(self, mod: Module, a: Analysis) -> View:
        self.mod, self.a = mod, a
        self.init: list[Item] = []
        self.pending_checks: list[str] = []  # constructor checks a container's loop needs, written before it
        self.units: list[Unit] = []
        self.needs: set[str] = set()
        self.inline: list[Module] = []  # containers written inline (nn.ModuleDict), not called as one
        self.why: dict[str, str] = {}
        first = self.dinfo.inputs[0].name if self.dinfo.inputs else None
        self.device = f"{self.names.locals.name(first, ('var', first))}.device" if first else "None"
        self.state_refs: dict[int, str] = {}  # value id of a declared parameter or buffer -> `self.name`
        written: set[int] = set()
        with loops_written_as_values(written):
            for state in mod.state:
                self._declare(state)
            self._walk(mod.body, None, None)
            if mod.registration:  # a layer declared before its use: `__init__` assigns in registration order
                rank = {name: i for i, name in enumerate(mod.registration)}
                self.init.sort(key=lambda it: rank.get(it.raw, len(rank)))
            view = self._name_values(mod, a)
        pin_written_loops(self.a, written)
        return view


    def _declare(self, state: StateNode) -> None:
        """`param class_token: ...` -> `self.class_token = nn.Parameter(torch.zeros(1, 1, hidden_dim))`."""
        if not registered_name(state.name) and not plain_attribute(state.name):
            raise Unrenderable(f"`{state.name}` cannot be a parameter's name in torch")
        guard = self.dinfo.guard_of(state.span)
        attr = self.names.attrs.name(state.name, ("mod", state.name), what="parameter") \
            if plain_attribute(state.name) else None
        if attr != state.name:  # not an identifier, or taken: registered under the source's name
            if guard:
                raise Unrenderable(f"a parameter named `{state.name}` inside an `if`")
            attr, ref = None, f"getattr(self, {state.name!r})"
        else:
            ref = f"self.{attr}"
        ctx = self.names.init_ctx()
        dims, given = self.a.state.get(span_key(state.span), ([], {}))
        line = declaration(state, ref if attr and state.kind == "parameter" else None,
                           tensor_text(state, dims, given, ctx))
        self.init.append(Item(self._rel(state.path), guard, state.name, line, attr=attr, used=frozenset(ctx.used)))
        self.needs |= ctx.needs
        assert state.value is not None
        self.state_refs[state.value.id] = ref

    def _rel(self, path: str) -> str:
        return path[len(self.mod.path) + 1:] if self.mod.path else path

    # -- __init__ side ----------------------------------------------------------------------------
    def _module_text(self, el: OpNode | Module, ctx: Ctx) -> str:
        if isinstance(el, OpNode):
            if EMITTERS[el.op].helper is not None:  # inside a container too: the file must define its class
                ctx.needs.add("helper:" + EMITTERS[el.op].helper)  # type: ignore[operator]
            text = EMITTERS[el.op].module(Attrs(el, self.a.nodes[id(el)], ctx))
            if text is None:
                raise Unrenderable(f"`{el.op}` has no nn.Module form")
            return text
        if el.kind == "sequential":
            if not self._seq_able(el):
                raise Unrenderable("nested container")
            loop = self._repeated(el, ctx, "nn.Sequential")
            if loop is not None:
                return loop
            items = [self._module_text(x, ctx) for x in el.body]
            if [x.name for x in el.body] == [str(i) for i in range(len(el.body))]:
                return fmt_call("nn.Sequential", items)
            # items named by a pattern (`denselayer1`, `encoder_layer_0`) keep their names as keys
            ctx.needs.add("OrderedDict")
            pairs = [f"({x.name!r}, {t})" for x, t in zip(el.body, items)]
            one = "[" + ", ".join(pairs) + "]"
            if len(one) > 88 or "\n" in one:
                one = "[\n" + "".join("    " + p.replace("\n", "\n    ") + ",\n" for p in pairs) + "]"
            return fmt_call("nn.Sequential", [fmt_call("OrderedDict", [one])])
        return self._call_text(el, ctx)

    def _call_text(self, el: Module, ctx: Ctx) -> str:
        plan = self.gen.class_of[id(el)]
        cinfo = self.a.children[id(el)]
        parts = []
        for arg in plan.signature:
            val = cinfo.args.get(arg.raw)
            if val is None:
                raise Unrenderable(f"argument {arg.raw} of {plan.name}")
            if arg.has_default and isinstance(val.tree, Lit) and same(val.value, arg.default, {}):
                continue
            parts.append(f"{arg.py}={val.tree.render(ctx)}")
        return fmt_call(plan.name, parts)

    def _seq_able(self, m: Module) -> bool:
        """Can this container be an nn.Sequential called as one (a chain of single-tensor modules)?"""
        if len(m.inputs) != 1 or len(m.outputs) != 1 or not m.body:
            return False
        prev = m.inputs[0]
        for el in m.body:
            if isinstance(el, OpNode):
                if not EMITTERS[el.op].has_module or el.op in ("split", "chunk"):
                    return False
            elif el.kind == "sequential" and not self._seq_able(el):
                return False
            if len(el.inputs) != 1 or len(el.outputs) != 1 or el.inputs[0].id != prev.id:
                return False
            prev = el.outputs[0]
        return m.outputs[0].id == prev.id

    def _repeated(self, m: Module, ctx: Ctx, container: str) -> str | None:
        text = repeated(self, m, ctx, container)
        if text is None:
            pin_unrolled(self.a, m)
        return text


    def _loop_able(self, m: Module) -> bool:
        """Does each item of the container take exactly what the one before it returned (a for loop)?"""
        prev = m.inputs
        for el in m.body:
            if [v.id for v in el.inputs] != [v.id for v in prev] or len(el.outputs) != len(prev):
                return False
            prev = el.outputs
        return [v.id for v in m.outputs] == [v.id for v in prev]

    def _add_module(self, el: OpNode | Module, text: str, ctx: Ctx, prefix: str | None,
                    entries: list[tuple[str, str, set[tuple[str, str]]]] | None) -> str:
        if prefix is None:
            guard = self.dinfo.guard_of(el.span)
            if registered_name(el.name):
                # `block1-0`, `class`: registered under the source's name, so the state_dict keys follow it
                if guard:
                    raise Unrenderable(f"a layer named `{el.name}` inside an `if`")
                attr, ref = None, f"getattr(self, {el.name!r})"
                line = f"self.add_module({el.name!r}, {text})"
            else:
                attr = self.names.attrs.name(el.name, ("mod", el.name), what="layer")
                ref = f"self.{attr}"
                line = f"{ref} = {text}"
            for pname, key in (el.tied.items() if isinstance(el, OpNode) else ()):
                # weight tying: the same Parameter under both names, as torch's state_dict lists it
                base = self.mod.path + "." if self.mod.path else ""
                if not key.startswith(base):
                    raise Unrenderable(f"`{el.name}` shares a weight with `{key}`, outside its block")
                tied_key = self.gen.generated_key(self.mod, key[len(base):])
                line += f"\n{ref}.{pname} = self.get_parameter({tied_key!r})"
            line = "\n".join(self.pending_checks + [line])
            self.pending_checks = []
            self.init.append(Item(self._rel(el.path), guard, el.name, line, attr=attr, used=frozenset(ctx.used),
                                  where=el.span.location()))
            self.needs |= ctx.needs
            return ref
        assert entries is not None
        entries.append((el.name, text, ctx.used))
        self.needs |= ctx.needs
        return f"{prefix}[{el.name!r}]"

    # -- forward side -----------------------------------------------------------------------------
    def _walk(self, body: list[OpNode | Module], prefix: str | None,
              entries: list[tuple[str, str, set[tuple[str, str]]]] | None) -> None:
        for el in body:
            callee: str | None = None
            if isinstance(el, OpNode):
                em = EMITTERS[el.op]
                info = self.a.nodes[id(el)]
                as_module = bool(el.params or el.buffers) or em.always_module or \
                    (el.named and em.has_module and prefix is None)
                if em.helper is not None:
                    self.needs.add("helper:" + em.helper)
                if as_module:
                    ctx = self.names.init_ctx()
                    callee = self._add_module(el, self._module_text(el, ctx), ctx, prefix, entries)

                    def mcall(xs: list[str], el: OpNode = el, info: NodeInfo = info, em: Emitter = em,
                              callee: str = callee) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                        ctx = self.names.fwd_ctx()
                        a = Attrs(el, info, ctx, self.device)
                        return em.module_call(callee, xs, a), ctx, functools.partial(em.pack, a=a)
                    self._unit(el, mcall)
                else:
                    def make(xs: list[str], el: OpNode = el, info: NodeInfo = info,
                             em: Emitter = em) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                        ctx = self.names.fwd_ctx()
                        a = Attrs(el, info, ctx, self.device)
                        return em.forward(xs, a), ctx, functools.partial(em.pack, a=a)
                    self._unit(el, make)
                continue
            elif el.kind == "sequential" and not self._seq_able(el) and prefix is None and self._loop_able(el):
                ctx = self.names.init_ctx()
                text = self._repeated(el, ctx, "nn.ModuleList")
                if text is not None:
                    callee = self._add_module(el, text, ctx, prefix, entries)

                    def loop(xs: list[str]) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                        return ", ".join(xs), self.names.fwd_ctx(), ", ".join
                    self._unit(el, loop, callee)
                    continue
            if isinstance(el, Module) and el.kind == "sequential" and not self._seq_able(el):
                sub: list[tuple[str, str, set[tuple[str, str]]]] = []
                if prefix is None:
                    attr = self.names.attrs.name(el.name, ("mod", el.name), what="layer")
                    sub_prefix = f"self.{attr}"
                else:
                    sub_prefix = f"{prefix}[{el.name!r}]"
                self.inline.append(el)
                self._walk(el.body, sub_prefix, sub)
                if sub:
                    text = fmt_call("nn.ModuleDict", ["{" + ", ".join(f"{k!r}: {t}" for k, t, _ in sub) + "}"]) \
                        if len(sub) == 1 else "nn.ModuleDict({\n" + "".join(
                            f"    {k!r}: {t.replace(chr(10), chr(10) + '    ')},\n" for k, t, _ in sub) + "})"
                    ctx = self.names.init_ctx()
                    for _, _, used in sub:
                        ctx.used |= used
                    self._add_module(el, text, ctx, prefix, entries)
                continue
            else:
                ctx = self.names.init_ctx()
                callee = self._add_module(el, self._module_text(el, ctx), ctx, prefix, entries)

            def call(xs: list[str], callee: str = callee) -> tuple[str, Ctx, Callable[[list[str]], str]]:
                return f"{callee}({', '.join(xs)})", self.names.fwd_ctx(), ", ".join
            self._unit(el, call)

    def _unit(self, el: OpNode | Module, make: Callable[[list[str]], tuple[str, Ctx, Any]],
              loop: str | None = None) -> None:
        key = self._rel(el.path)
        raw = key.replace(".", "_") if el.name.isdigit() else el.name  # `head.0` -> `head_0`
        self.units.append(Unit(key, self.dinfo.guard_of(el.span), raw, el.span, list(el.inputs),
                               list(el.outputs), make, loop))

    def _name_values(self, mod: Module, a: Analysis) -> View:
        """Choose a variable for every value: the user's names where they gave one, chains reuse a name."""
        units, loc = self.units, self.names.locals
        uses: dict[int, list[int]] = {}
        for i, u in enumerate(units):
            for v in u.inputs:
                uses.setdefault(v.id, []).append(i)
        for v in mod.outputs:
            uses.setdefault(v.id, []).append(len(units))
        produced: dict[int, int] = {}
        pref: dict[int, str] = {}
        consumed: dict[SpanKey, int] = {}
        for i, u in enumerate(units):
            for v in u.outputs:
                produced[v.id] = i
            k = span_key(u.span)
            names = self.dinfo.bindings.get(k) or self.dinfo.out_names.get(k)
            if names:
                start = consumed.get(k, 0)
                for j, v in enumerate(u.outputs):
                    if start + j < len(names):
                        pref[v.id] = names[start + j]
                consumed[k] = start + len(u.outputs)
        for m in self.inline:
            names = self.dinfo.bindings.get(span_key(m.span)) or self.dinfo.out_names.get(span_key(m.span))
            for v, n in zip(m.outputs, names or []):
                pref.setdefault(v.id, n)
        input_ids = {v.id for v in mod.inputs}
        prop: dict[int, str] = {}
        for i in range(len(units) - 1, -1, -1):  # a chain's intermediates may take the name of its result
            u = units[i]
            out0 = u.outputs[0].id if len(u.outputs) == 1 else None
            name = pref.get(out0) or prop.get(out0) if out0 is not None else None
            if name and u.inputs:
                src = u.inputs[0]
                p = produced.get(src.id)
                if (src.id not in pref and src.id not in input_ids and uses.get(src.id) == [i]
                        and p is not None and len(units[p].outputs) == 1):
                    prop[src.id] = name

        def last(vid: int) -> int:
            return max(uses.get(vid, [-1]))

        var: dict[int, str] = {}
        holder: dict[str, int] = {}
        params = []
        for i, v in enumerate(mod.inputs):
            raw = self.dinfo.inputs[i].name if i < len(self.dinfo.inputs) else v.name
            n = loc.name(raw, ("var", raw), what="input")
            var[v.id] = n
            holder[n] = v.id
            params.append(n)
        # Optional inputs (`= randn`) this call leaves out are still parameters of forward (None, then made
        # there), so every instance has the same signature; the block's body uses the value made inside.
        for inp in self.dinfo.inputs[len(mod.inputs):]:
            if inp.name not in getattr(mod, "input_defaults", {}):
                break
            n = loc.name(inp.name, ("var", inp.name), what="input")
            params.append(n)
            for v in [v for u in units for v in u.inputs] + list(mod.outputs):
                if v.producer is None and v.name == inp.name and v.id not in var:
                    var[v.id] = n
                    holder[n] = v.id
                    input_ids.add(v.id)
        var.update(self.state_refs)  # declared parameters and buffers are read as `self.name`
        fwd: list[Item] = []
        # `res = x` in an `if` arm this instance took: from there on the value is read as `res`, so that an
        # instance that took the arm binding `res = x -> downsample` writes the same later lines
        # (and `res = x` before an `if` whose arm rebinds `res`: an instance that skips the arm reads `res` too)
        events = sorted((at, want, src, guard) for want, entries in self.dinfo.aliases.items()
                        for src, guard, at in entries
                        if (all(a.decisions.get(if_id) == k for if_id, k in guard) if guard
                            else want in self.dinfo.rebound_in_ifs()))
        named = {(self.dinfo.inputs[j].name if j < len(self.dinfo.inputs) else v.name): v.id
                 for j, v in enumerate(mod.inputs)}
        aliased: dict[int, tuple[str, str, str, str]] = {}  # value id -> (source name, variable before, alias, its variable)
        for i, u in enumerate(units):
            while events and events[0][0] < u.span.start:
                at, want, src, guard = events.pop(0)
                self._alias(fwd, at, want, src, guard, named, var, holder, loc, aliased)
            args = [self._read_as(u, v.id, var, holder, aliased) for v in u.inputs]
            expr, ctx, pack = u.make(args)
            self.needs |= ctx.needs
            targets = []
            for k, v in enumerate(u.outputs):
                if not uses.get(v.id) and u.loop is None:
                    targets.append("_")
                    continue
                # the user's name; else continue the chain in its input's variable (a fresh `x` when that
                # input is a parameter of forward); else the name of the chain's result; else the layer's name
                cands: list[tuple[str, bool]] = []  # (raw name, or an existing variable when True)
                if v.id in pref:
                    cands.append((pref[v.id], False))
                if k == 0 and u.inputs and last(u.inputs[0].id) == i and u.inputs[0].id not in self.state_refs:
                    # (an input read by an alias, `x0 = x`, continues in the alias's name, as where `x0` is a
                    # layer's result)
                    if u.inputs[0].id in input_ids and args[0] not in {t for *_, t in aliased.values()}:
                        cands.append(("x", False))
                    cands.append((var[u.inputs[0].id], True))
                if v.id in prop:
                    cands.append((prop[v.id], False))
                cands.append((u.raw, False))
                cands += [(f"{u.raw}_{j}", False) for j in range(1, len(units) + len(mod.inputs) + 2)]
                chosen = None
                for c, existing in cands:
                    # a name not handed out yet holds nothing, so registering it only when chosen keeps the
                    # namespace (and the rename notes) to the names the code really uses
                    name = c if existing else loc.get(("var", c))
                    if name is None:
                        chosen = loc.name(c, ("var", c), what="value")
                        break
                    if holder.get(name) is None or last(holder[name]) <= i:
                        chosen = name
                        break
                assert chosen is not None
                var[v.id] = chosen
                holder[chosen] = v.id
                targets.append(chosen)
            text = expr if all(t == "_" for t in targets) else f"{pack(targets)} = {expr}"
            plain = None
            if len(targets) == 1 and (inplace := _AUGMENTED.fullmatch(expr)):
                op = "+" if inplace["method"] == "add" else "-"
                first, arg = inplace["var"], inplace["arg"]
                # `y = y.add_(x)` is `y += x`; into another name (`y = a.add_(b)`) it reads as the sum it is
                plain = f"{targets[0]} = {first} {op} {arg}"
                text = f"{first} {op}= {arg}" if first == targets[0] else plain
            if u.loop is not None:
                item = loc.name("layer", ("loop", u.key), what="value")
                carried = ", ".join(targets)
                head = [] if carried == expr else [text]
                text = "\n".join(head + [f"for {item} in {u.loop}:", f"    {carried} = {item}({carried})"])
            cctx = self.names.comment_ctx()
            shapes = [[self._dim_text(d, cctx) for d in a.types.get(v.id, v.type).dims] for v in u.outputs]
            fwd.append(Item(u.key, u.guard, u.raw, text, shapes=shapes, used=frozenset(ctx.used),
                            where=u.span.location(), plain=plain if plain != text else None))
            for v in u.outputs:
                if v.id in pref:
                    named[pref[v.id]] = v.id
        for at, want, src, guard in events:
            self._alias(fwd, at, want, src, guard, named, var, holder, loc, aliased)
        fwd += self._output_aliases(mod, a, var, loc)
        ret = "return " + ", ".join(var[v.id] for v in mod.outputs)
        return View(mod, a, self.init, fwd, ret, params, self.needs, self.why)

    @staticmethod
    def _alias(fwd: list[Item], at: int, want: str, src: str, guard: tuple[tuple[int, int], ...],
               named: dict[str, int], var: dict[int, str], holder: dict[str, int], loc: Any,
               aliased: dict[int, tuple[str, str, str, str]]) -> None:
        """`res = x` (the source's alias, in an `if` arm): the value `x` holds is read as `res` from here on
        (a line that reads it by the name `x` only still reads `x`: see _read_as)."""
        vid = named.get(src)
        if vid is None or vid not in var:
            return  # not a tensor this forward names (a size, a value of the source's arithmetic)
        target = loc.name(want, ("var", want), what="value")
        if var[vid] != target:
            fwd.append(Item(f"alias:{want}@{at}", guard, want, f"{target} = {var[vid]}"))
            aliased[vid] = (src, var[vid], want, target)
            var[vid] = target
            holder[target] = vid
        named[want] = vid

    def _read_as(self, u: Any, vid: int, var: dict[int, str], holder: dict[str, int],
                 aliased: dict[int, tuple[str, str, str, str]]) -> str:
        """The variable a line reads a value by: after `x0 = x` (an arm with no `proj`), `fx = x -> f` reads `x`
        as the instances that took the other arm (`x0 = x -> proj`) do, so their lines are alike."""
        name = var[vid]
        if vid in aliased:
            src, before, want, _ = aliased[vid]
            names = self.dinfo.names_read_at(u.span)
            if names is not None and src in names and want not in names and holder.get(before) == vid:
                return before
        return name

    def _output_aliases(self, mod: Module, a: Analysis, var: dict[int, str], loc: Any) -> list[Item]:
        """`y = h` where the source binds an output by an alias inside an `if` arm this instance took, so that
        every instance returns the same name (`return y`) and they make one class."""
        out: list[Item] = []
        for i, v in enumerate(mod.outputs):
            want = self.dinfo.output_names[i] if i < len(self.dinfo.output_names) else None
            if want is None or var.get(v.id) == loc.get(("var", want)):
                continue
            for _src, guard, _at in self.dinfo.aliases.get(want, []):
                if guard and all(a.decisions.get(if_id) == k for if_id, k in guard):
                    target = loc.name(want, ("var", want), what="value")
                    out.append(Item(f"alias:{want}", guard, want, f"{target} = {var[v.id]}"))
                    var[v.id] = target
                    break
        return out

    @staticmethod
    def _dim_text(d: Any, ctx: Ctx) -> str:
        if isinstance(d, Tracked):
            return d.tree.render(ctx)
        if isinstance(d, Dim):
            return render_dim(d, ctx)
        return str(d)
