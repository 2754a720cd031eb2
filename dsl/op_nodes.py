"""Applying an op: its attributes bound and coerced from the call's arguments, its shape rule run, and its
OpNode made, with its parameters, buffers and tied weights (`Linear(vocab, tied=wte)`).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .constraints import UNPROVEN_HELP
from .diagnostics import Label, did_you_mean
from .dims import IntLike
from .divisibility import recording
from .elaborator_base import ElaboratorBase
from .frames import ERR, Frame
from .ir import Module, OpNode, Value
from .naming import join, snake
from .ops import REQUIRED, AttrError, OpSpec, ShapeError, lookup
from .ops.base import LayerRef
from .source import Span


class OpNodeMixin(ElaboratorBase):
    """Applying ops: attributes, shape rules, op nodes, weight tying."""

    if TYPE_CHECKING:  # provided by the other parts of the elaborator
        def _module_name(self, frame: Frame, forced: str | None, alias: tuple[str, Span] | None,
                         base: str) -> str | None: ...
        def _require_divisibility(self, pairs: list[tuple[IntLike, IntLike]], spec: OpSpec, op: str,
                                  span: Span) -> None: ...

    def _apply_op(self, name: str, pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
                  inputs: list[Value], span: Span, alias: tuple[str, Span] | None, forced_name: str | None,
                  frame: Frame, mapped: bool = False) -> Any:
        spec_cls = lookup(name)
        assert spec_cls is not None
        if spec_cls.pairwise and name == spec_cls.name and len(inputs) == 2:
            spec_cls = lookup(spec_cls.pairwise)  # `min(x, y)` is torch.minimum, `min(x, dim=1)` a reduction
            assert spec_cls is not None
        if not self._count_layer(span):
            return ERR
        canonical = spec_cls.name
        lo, hi = spec_cls.min_inputs, spec_cls.max_inputs
        if len(inputs) < lo or (hi is not None and len(inputs) > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            got = len(inputs)
            return self.error("E308", f"`{name}` takes {want} input tensor{'s' if want != '1' else ''}, "
                              f"but got {got}", span,
                              help=f"feed it a value: `x -> {name}` or `{name}(x)`" if got == 0 else None)
        # Optional tensor inputs given by keyword (`key_padding_mask=pad`) join the inputs after the others;
        # their attribute holds the input's index so backends know which is which.
        extra = [(k, v) for k, (v, _) in kw.items() if k in spec_cls.tensor_kwargs and isinstance(v, Value)]
        if extra:
            kw = {k: vs for k, vs in kw.items() if k not in dict(extra)}
            inputs = list(inputs) + [v for _, v in extra]
        attrs = self._bind_attrs(spec_cls, name, pos, kw, span)
        if attrs is ERR:
            return ERR
        for i, (k, _) in enumerate(extra):
            attrs[k] = len(inputs) - len(extra) + i
        tie, tie_span = None, span
        for at in spec_cls.attrs:
            if at.coerce is LayerRef and attrs.get(at.name) is not None:
                tie_span = kw[at.name][1]
                tie = self._find_layer(attrs[at.name], frame, tie_span)
                if tie is None:
                    return ERR
                attrs[at.name] = tie.path
        spec = spec_cls()
        types = [v.type for v in inputs]
        try:
            with recording() as undecided:  # comparisons of dims the shape rule could not settle
                out_types = spec.infer(attrs, types)
            params = spec.params(attrs, types)
            buffers = spec.buffers(attrs, types)
        except ShapeError as err:
            label = err.label if err.label is not None else (
                f"input here is {types[0]}" if len(types) == 1 else
                "inputs here are " + ", ".join(str(t) for t in types) if types else "")
            at = _attr_span(spec_cls, pos, kw, err.attr) if err.attr else None
            return self.error(err.code, _op_message(name, err.message), at or span, label=label, help=err.help)
        if any(self._too_many_elements(t, span, f"the output of `{name}`") for t in out_types):
            return ERR
        if undecided:
            self._require_divisibility(undecided, spec, name, span)
        unproven = [w for w in spec.warnings if w.code == "W002" and w.equality]
        if unproven:
            # Two dims the op needs equal that nothing proves equal: the generated module would fail at run time
            # for some binding, so this is an error; a `where` on an input that states the equality settles it.
            return self.error("E200", f"{_op_message(name, unproven[0].message)}, which the checker cannot prove",
                              span, help=UNPROVEN_HELP)
        for w in spec.warnings:
            self.warn(w.code, w.message, span)
        if params and mapped:
            return self.error("E204", f"`{name}` has parameters, so it cannot be mapped over several values",
                              span, help="apply it to each value separately")
        node_name = self._module_name(frame, forced_name, alias, snake(canonical).replace("_", ""))
        if node_name is None:
            return ERR
        node = OpNode(canonical, attrs, list(inputs), [], node_name, join(frame.module.path, node_name), span,
                      alias is not None, params, buffers, parent=frame.module,  # type: ignore[arg-type]
                      attr_source=_attr_source(spec_cls, pos, kw))
        node.outputs = [Value(node_name if len(out_types) == 1 else f"{node_name}_{i}", t, node)
                        for i, t in enumerate(out_types)]
        if tie is not None and not self._tie(node, tie, tie_span):
            return ERR
        frame.module.body.append(node)
        return spec.pack(node.outputs)

    def _find_layer(self, ref: str, frame: Frame, span: Span) -> OpNode | None:
        """The layer that `tied=ref` names: `ref` relative to the innermost enclosing module that has it,
        else the one layer in the network whose path ends with `.ref`."""
        scopes: list[Module] = []
        mod: Module | None = frame.module
        while mod is not None:
            scopes.append(mod)
            mod = mod.parent
        for scope in scopes:
            want = join(scope.path, ref)
            for node in scope.op_nodes():
                if node.path == want:
                    return node
        everything = list(scopes[-1].op_nodes())
        found = [n for n in everything if n.path.endswith("." + ref)]
        if len(found) == 1:
            return found[0]
        if found:
            self.error("E300", f"`{ref}` could name several layers: {', '.join(n.path for n in found)}", span,
                       help=f"write the full path as a string, e.g. `tied=\"{found[0].path}\"`")
            return None
        guess = did_you_mean(ref, [n.path for n in everything] + [n.name for n in everything])
        self.error("E300", f"no layer named `{ref}` before this one", span, label="not defined here",
                   help=f"did you mean `{guess}`?" if guess else "tie to a layer defined earlier, by its `as` name")
        return None

    def _tie(self, node: OpNode, target: OpNode, span: Span) -> bool:
        """Share `weight` with an earlier layer (`Linear(vocab, tied=wte)`); counted once, like torch."""
        if "weight" not in node.params or "weight" not in target.params:
            self.error("E305", f"cannot tie `{node.op}` to `{target.path}` ({target.op}): both need a `weight`",
                       span)
            return False
        mine, theirs = node.params["weight"], target.params["weight"]
        if tuple(mine) != tuple(theirs):
            self.error("E200", f"cannot tie weights of different shapes: `{node.op}` has weight "
                       f"({', '.join(map(str, mine))}) but `{target.path}` has ({', '.join(map(str, theirs))})",
                       span, help="tied layers need the same weight shape, e.g. Linear(vocab) tied to "
                       "Embedding(vocab, d)")
            return False
        node.tied["weight"] = target.tied.get("weight", join(target.path, "weight"))
        return True

    def _bind_attrs(self, spec: type[OpSpec], name: str, pos: list[tuple[Any, Span]],
                    kw: dict[str, tuple[Any, Span]], span: Span) -> Any:
        out: dict[str, Any] = {}
        ok = True
        positional = [a for a in spec.attrs if a.positional]
        variadic = next((a for a in spec.attrs if a.variadic), None)
        given_span: dict[str, Span] = {}
        i = 0
        for at in positional:
            if at.variadic:
                vals = [v for v, _ in pos[i:]]
                if vals:
                    given_span[at.name] = pos[i][1].to(pos[-1][1])
                    out[at.name] = vals
                i = len(pos)
                break
            if i < len(pos):
                out[at.name], given_span[at.name] = pos[i]
                i += 1
        if i < len(pos):
            n = len(positional)
            self.error("E306", f"`{name}` takes {n} positional argument{'s' if n != 1 else ''}, but got {len(pos)}",
                       pos[i][1], label="unexpected argument",
                       help=f"its attributes are: {', '.join(a.name for a in spec.attrs)}" if spec.attrs else
                       f"`{name}` takes no attributes")
            ok = False
        attr_names = [a.name for a in spec.attrs]
        for k, (v, s) in kw.items():
            at = spec.attr(k)
            if at is None or (at.variadic and variadic is not None and False):
                guess = did_you_mean(k, attr_names)
                self.error("E302", f"`{name}` has no attribute `{k}`", s, label="unknown attribute",
                           help=f"did you mean `{guess}`?" if guess else
                           (f"its attributes are: {', '.join(attr_names)}" if attr_names else
                            f"`{name}` takes no attributes"))
                ok = False
                continue
            if k in out:
                self.error("E304", f"attribute `{k}` of `{name}` is given twice", s,
                           secondary=[Label(given_span[k], "already given here")])
                ok = False
                continue
            out[k], given_span[k] = v, s
        for at in spec.attrs:
            if at.name not in out:
                if at.default is REQUIRED and not at.variadic:
                    self.error("E303", f"`{name}` needs `{at.name}`" + (f" ({at.doc})" if at.doc else ""), span,
                               help=f"pass it: `{name}({at.name}=...)`")
                    ok = False
                    continue
                if at.variadic:
                    out[at.name] = () if at.default is REQUIRED else at.default
                    continue
                out[at.name] = at.coerce(at.default)  # defaults go through the same normalisation
                continue
            try:
                if at.variadic:
                    raw = out[at.name]
                    if at.variadic and len(raw) == 1 and isinstance(raw[0], tuple):
                        raw = list(raw[0])
                    out[at.name] = tuple(at.coerce(x) for x in raw)
                    if not out[at.name] and at.default is REQUIRED:
                        raise AttrError("expected at least one value")
                else:
                    out[at.name] = at.coerce(out[at.name])
            except AttrError as err:
                at_span = given_span.get(at.name, span)
                help_ = None
                if "expected an integer" in str(err) and re.search(r"[^/]/[^/]", at_span.text):
                    help_ = "`/` divides exactly and gives a float when the division is not even; " \
                            "use `//` for floor division"
                self.error("E305", f"invalid `{at.name}` for `{name}`: {err}", at_span, help=help_)
                ok = False
        if variadic is not None and variadic.default is REQUIRED and not out.get(variadic.name) and ok:
            self.error("E303", f"`{name}` needs at least one value for `{variadic.name}`", span)
            ok = False
        return out if ok else ERR


def _attr_span(spec: type[OpSpec], pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]],
               attr: str) -> Span | None:
    """Where the call wrote attribute `attr`, positionally or by keyword; None when it was left at its default."""
    if attr in kw:
        return kw[attr][1]
    positional = [a.name for a in spec.attrs if a.positional]
    i = positional.index(attr) if attr in positional else -1
    return pos[i][1] if 0 <= i < len(pos) else None


def _attr_source(spec: type[OpSpec], pos: list[tuple[Any, Span]], kw: dict[str, tuple[Any, Span]]) -> dict[str, str]:
    out: dict[str, str] = {}
    positional = [a for a in spec.attrs if a.positional]
    for i, (_, span) in enumerate(pos):
        if i < len(positional):
            at = positional[i]
            if at.variadic:
                out[at.name] = ", ".join(s.text for _, s in pos[i:])
                break
            out[at.name] = span.text
    for k, (_, span) in kw.items():
        out[k] = value_text(span)
    return out


def value_text(arg_span: Span) -> str:
    """`stride=2` -> `2`: keyword arguments' spans include the name."""
    text = arg_span.text
    name, eq, rest = text.partition("=")
    return rest.strip() if eq and name.strip().isidentifier() and not rest.startswith("=") else text


def _op_message(op: str, message: str) -> str:
    return message if message.startswith("`") else f"`{op}` {message}" if message[:1].islower() else message
