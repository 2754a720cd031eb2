"""Lowering one graph to the lines of its NumPy `forward`: names for inputs, state and values (a chain
variable, short names reused once dead), one line per op from its emitter with a shape comment, block
headers, trace records for `netc verify`, optional inputs made when left out, and the guards up front.
"""
from __future__ import annotations

import ast
from typing import Any

from ..dsl.dims import Dim, subs, symbol_name
from ..dsl.ir import Graph, Module, OpNode, Value
from ..dsl.types import DTYPES, FLOAT_DTYPES
from . import naming
from .numpy_emitters import EMITTERS as _CORE_EMITTERS
from .numpy_forward import Emitter, Forward, UnsupportedOp, _dim_or_fail, _lit, _shape, _str
from .numpy_guards import _guards
from .numpy_ops import EMITTERS as _MORE_EMITTERS

# Canonical op name -> emitter: the core ops' table (numpy_emitters.py), then the later op families'
# (codegen/numpy_ops.py builds on the core emitters).
EMITTERS: dict[str, Emitter] = {**_CORE_EMITTERS, **_MORE_EMITTERS}

_SEQUENCE_OPS = {"split", "chunk"}  # ops whose kernel returns a list of tensors


# -- lowering a graph --------------------------------------------------------------------------------------------
def _lower(graph: Graph, definitions: dict[str, Any], guards: bool, trace: bool) -> tuple[Forward, list[str]]:
    f = Forward(graph, definitions, trace)
    for s in graph.symbols:  # reserved up front: a symbol may be bound after values are named
        f.symbols[s] = f.ns.name(s)
    inputs = []
    for name, value, _span in graph.inputs:
        var = f.ns.name(name)
        if var != name:
            f.notes.append(f"{graph.name}: input `{name}` is called `{var}` in the generated code")
        f.names[value.id] = var
        inputs.append((var, value))
        for axis, d in enumerate(value.type.dims):
            s = symbol_name(d)
            if s is not None and s not in f.bindable:
                f.bindable[s] = (var, axis)
    chain = next((c for c in ("x", "h", "y", "z") if f.ns.available(c)), None) or f.ns.name("x")
    f.ns.reserve(chain)
    made_state = _name_state(f, graph)

    ops = list(graph.op_nodes())
    position = {id(n): i for i, n in enumerate(ops)}
    uses: dict[int, list[int]] = {}
    for i, n in enumerate(ops):
        for v in n.inputs:
            uses.setdefault(v.id, []).append(i)
    output_names: dict[int, str] = {}
    for name, v in graph.outputs:
        output_names.setdefault(v.id, name)
    module_outputs: dict[int, str] = {}  # value id -> the outermost module path it leaves
    # A module's output may live in the chain variable only if the module's last op made it: the trace
    # records module outputs when the module ends, and nothing may overwrite them before.
    chain_ok: dict[int, bool] = {}
    for item in graph.root.walk():
        if isinstance(item, Module):
            last = [n for n in item.op_nodes()][-1:] or [None]
            for v in item.outputs:
                module_outputs.setdefault(v.id, item.path)
                chain_ok[v.id] = chain_ok.get(v.id, True) and last[0] is not None and v in last[0].outputs

    # Short names (`view1`, the layer's own name) are reused once their previous value is dead: values inside
    # a block die before the next block starts, so each block reads like the block's own code.
    last_use = {vid: max(at) for vid, at in uses.items()}
    for item in graph.root.walk():  # a block's outputs are read at its end, when the trace records them
        if isinstance(item, Module) and item.outputs:
            end = max((position[id(n)] for n in item.op_nodes()), default=-1)
            for v in item.outputs:
                last_use[v.id] = max(last_use.get(v.id, -1), end)
    holder: dict[str, int] = {}  # reusable short name -> the value id holding it

    def short_name(wanted: str, v: Value, i: int, fallback: str) -> str:
        name = naming.sanitize(wanted)
        if name in holder:
            if last_use.get(holder[name], -1) > i:  # still needed later: keep it, take the long name
                return f.ns.name(fallback)
        elif not f.ns.available(name):
            return f.ns.name(fallback)
        f.ns.reserve(name)
        holder[name] = v.id
        return name

    def name_output(n: OpNode, v: Value, k: int) -> str:
        if v.id in output_names:
            return f.ns.name(output_names[v.id])
        single = len(n.outputs) == 1
        local, path = (n.name, n.path) if single else (f"{n.name}_{k}", f"{n.path}_{k}")
        used = uses.get(v.id, [])
        i = position[id(n)]
        if not used:
            return short_name("_" + local, v, i, "_" + path)
        if single and used == [i + 1] and chain_ok.get(v.id, True):
            return chain  # flows straight into the next op: reuse the chain variable
        if single and v.id in module_outputs:
            return f.ns.name(module_outputs[v.id])
        return short_name(local, v, i, path)

    body: list[str] = []
    record = (lambda key, expr: body.append(f"t[{_str(key)}] = {expr}")) if trace else (lambda key, expr: None)

    def emit_op(n: OpNode) -> None:
        emitter = EMITTERS.get(n.op)
        if emitter is None:
            raise UnsupportedOp(f"the numpy backend does not support `{n.op}` yet ({n.path}, "
                                f"{n.span.location() if n.span else 'unknown location'})")
        for v in n.inputs:
            if v.id not in f.names:
                body.extend(_make_unpassed_input(f, n, v))
        xs = [f.var(v) for v in n.inputs]
        rhs = emitter(f, n, xs)
        outs = [name_output(n, v, k) for k, v in enumerate(n.outputs)]
        for v, name in zip(n.outputs, outs):
            f.names[v.id] = name
        comment = f"# {_shape(n.outputs)}"
        if n.op == "Dropout":
            comment = f"# {n.path}: Dropout(p={n.attrs['p']}) is the identity at inference; {_shape(n.outputs)}"
        if len(outs) > 1 or n.op in _SEQUENCE_OPS:  # returns a tuple or list: unpack it, even into one name
            body.extend(_wrap(f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = ", rhs, f"  {comment}"))
        elif outs[0] == rhs:
            body.append(comment)
        else:
            body.extend(_wrap(f"{outs[0]} = ", rhs, f"  {comment}"))
        record(n.path, outs[0] if len(outs) == 1 and n.op not in _SEQUENCE_OPS else f"({', '.join(outs)},)")

    def emit_module(mod: Module) -> None:
        for item in mod.body:
            if isinstance(item, OpNode):
                emit_op(item)
                continue
            body.append(f"# {_module_header(item, definitions)}")
            emit_module(item)
            if item.outputs:
                outs = [f.var(v) for v in item.outputs]
                record(item.path, outs[0] if len(outs) == 1 else f"({', '.join(outs)},)")

    emit_module(graph.root)
    results = [f.var(v) for _, v in graph.outputs]
    body.append(f"return {', '.join(results)}")

    head = ["p = self.params"] + made_state
    defaults = getattr(graph, "input_defaults", {})
    optional: list[str] = []  # made after the symbols they are sized by are bound
    for (name, _, _), (var, value) in zip(graph.inputs, inputs):
        cast = f"np.asarray({var}, dtype=self.dtype)" if value.type.dtype in FLOAT_DTYPES else f"np.asarray({var})"
        if name in defaults:
            f.optional.add(var)
            made = _fill(f, defaults[name].fill, defaults[name].dtype, _default_shape(f, defaults[name], graph))
            optional += [f"if {var} is None:  # `= {defaults[name].fill}`: made here when the caller leaves it out",
                         f"    {var} = {made}", "else:", f"    {var} = {cast}"]
        else:
            head.append(f"{var} = {cast}")
    bound: set[str] = set()
    if guards:
        head += _guards(f, [(v, t) for v, t in inputs if v not in f.optional], bound)
    for s in sorted(f.used_symbols - bound, key=lambda s: f.bindable[s]):
        var, axis = f.bindable[s]
        head.append(f"{f.symbols[s]} = {var}.shape[{axis}]")
    head += optional
    if guards:
        head += _guards(f, [(v, t) for v, t in inputs if v in f.optional], bound, constraints=False)
    if trace:
        head.append("t = {} if trace is None else trace  # layer path -> output, for `netc verify`")
    return f, head + body


def _name_state(f: Forward, graph: Graph) -> list[str]:
    """Declared parameters and buffers (`param`, `buffer`) are read from the state dict by key; a buffer kept
    out of it (`persistent=false`) is made at the top of forward from its constant initializer."""
    lines: list[str] = []
    for s in graph.root.state_nodes():
        assert s.value is not None
        if s.persistent:
            f.names[s.value.id] = f"p[{_str(s.path)}]"
            continue
        if s.init.kind not in ("zeros", "ones", "constant"):
            raise UnsupportedOp(f"the numpy backend cannot remake `{s.path}`, a buffer outside the state_dict "
                                f"drawn at random ({s.init.kind}); make it persistent or constant")
        value = {"zeros": 0.0, "ones": 1.0}.get(s.init.kind) if s.init.kind != "constant" else s.init.arg("value")
        np_dtype = f.dtype_expr if s.type.dtype in FLOAT_DTYPES else f"np.{DTYPES[s.type.dtype]}"
        var = f.ns.name(s.path.replace(".", "_"))
        f.names[s.value.id] = var
        lines.append(f"{var} = np.full({_shape_code([str(d) for d in s.type.dims])}, {_lit(value)}, "
                     f"dtype={np_dtype})  # buffer {s.path} (not in the state_dict)")
    return lines


def _fill(f: Forward, fill: str, dtype: str, shape: str) -> str:
    """The expression that makes an optional input: noise from the model's generator, or constants."""
    np_dtype = f.dtype_expr if dtype in ("f32", "f64") else f"np.{DTYPES[dtype]}"
    if fill == "randn":
        return f"self.rng.standard_normal({shape}).astype({np_dtype})"
    if fill == "rand":
        return f"self.rng.random({shape}).astype({np_dtype})"
    return f"np.{fill}({shape}, dtype={np_dtype})"  # zeros, ones


def _shape_code(texts: list[str]) -> str:
    return f"({', '.join(texts)}{',' if len(texts) == 1 else ''})"


def _default_shape(f: Forward, default: Any, graph: Graph) -> str:
    """An optional network input's shape, from the symbols bound by the inputs before it."""
    by_name = {name: f.var(v) for name, v, _ in graph.inputs}
    texts = []
    for d in default.dims:
        text = f.dim(d)
        if text is None:  # a name the definition binds itself (`--set B=2` leaves `B` in the default's dims)
            values = {s: Dim.sym(f"{by_name[src]}.shape[{axis}]") for s, (src, axis) in default.dim_sources.items()}
            text = str(subs(d, values))
        texts.append(text)
    return _shape_code(texts)


def _make_unpassed_input(f: Forward, node: OpNode, v: Value) -> list[str]:
    """A block's optional input the caller did not pass: made inside the block, where it is first used."""
    module = node.parent
    while module is not None and v.name not in getattr(module, "input_defaults", {}):
        module = module.parent
    if module is None or v.producer is not None:
        raise UnsupportedOp(f"the numpy backend found no producer for `{v.name}`, used by {node.path}")
    default = module.input_defaults[v.name]
    shape = _shape_code([_dim_or_fail(f, d) for d in v.type.dims])
    var = f.ns.name(f"{module.path}_{v.name}" if module.path else v.name)
    f.names[v.id] = var
    return [f"{var} = {_fill(f, default.fill, default.dtype, shape)}  # {module.path}: `input {v.name} = "
            f"{default.fill}`, not passed; {v.type.shape_str()}"]


_WIDTH = 112  # generated lines beyond this (after the 8-space indent) wrap their call arguments


def _wrap(lhs: str, rhs: str, comment: str) -> list[str]:
    """`lhs = fn(a, b, ...)` on one line, or its arguments wrapped under the open parenthesis."""
    line = lhs + rhs + comment
    call = ast.parse(rhs, mode="eval").body
    if len(line) <= _WIDTH or not isinstance(call, ast.Call) or not rhs.endswith(")"):
        return [line]
    args = [ast.get_source_segment(rhs, a) or "" for a in call.args]
    args += [f"{k.arg}={ast.get_source_segment(rhs, k.value)}" for k in call.keywords]
    head = lhs + rhs[:call.func.end_col_offset] + "("  # type: ignore[attr-defined]
    lines, current = [], head
    for i, arg in enumerate(args):
        piece = arg + (", " if i < len(args) - 1 else ")")
        if current != head and current.strip() and len(current + piece.rstrip()) > _WIDTH:
            lines.append(current.rstrip())
            current = " " * len(head)
        current += piece
    lines.append(current + comment)
    return lines


def _module_header(mod: Module, definitions: dict[str, Any]) -> str:
    if mod.kind == "sequential":
        return f"{mod.path}: sequential"
    defn = definitions.get(mod.definition or "")
    params = [p.name for p in getattr(defn, "params", ())]
    args = ", ".join(f"{k}={_arg_text(mod.args[k])}" for k in params if k in mod.args)
    return f"{mod.path}: {mod.definition}({args})".replace("\n", " ")


def _arg_text(v: Any) -> str:
    return str(v) if isinstance(v, Dim) else repr(v)
