"""The words of a diagram, unescaped: values as written in a .net file, shapes of edges, parameter counts,
an op's key attributes (defaults left out), and the titles of blocks, containers and networks.
"""
from __future__ import annotations

from typing import Any

from ..dsl.ir import Graph, Module, OpNode
from ..dsl.ops import REQUIRED, lookup
from ..dsl.types import TensorType


# -- text of values, shapes and attributes ------------------------------------------------------------
def _value_text(v: Any) -> str:
    """A parameter or attribute value as it would be written in a .net file (unescaped)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, float):
        return repr(v)  # 0.0 stays 0.0, 1e-05 stays 1e-05: as written in a .net file
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_value_text(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return str(v)


def _compact(v: Any) -> str:
    """(2, 2) -> 2, (2, 1) -> 2×1: how papers write strides and paddings."""
    if isinstance(v, tuple):
        if len(set(map(str, v))) == 1:
            return _value_text(v[0])
        return "×".join(_value_text(x) for x in v)
    return _value_text(v)


def shape_text(t: TensorType) -> str:
    """An edge label: the shape with symbolic dims as `str(dim)`; the dtype only when it is not f32."""
    shape = "(" + ", ".join(str(d) for d in t.dims) + ")"
    return shape if t.dtype == "f32" else f"{t.dtype} {shape}"


def _count(n: int) -> str:
    return f"{n:,}"


def _params_text(n: int, times: int = 1) -> str:
    if times > 1:
        return f"{times} × {_count(n)} params"
    return f"{_count(n)} param{'s' if n != 1 else ''}"


# Attributes that read better with a word than as name=value; `None` means "shown in the head part".
_ATTR_WORDS: dict[str, str | None] = {
    "stride": "stride {}", "padding": "pad {}", "dilation": "dilation {}", "groups": "groups {}",
    "output_padding": "out pad {}", "kernel_size": None, "out_channels": None, "in_channels": None,
    "out_features": None, "in_features": None, "num_features": None, "normalized_shape": None,
    "num_embeddings": None, "embedding_dim": None, "output_size": None, "shape": None, "dims": None,
}


def _default(spec: Any, name: str) -> Any:
    at = spec.attr(name)
    if at is None or at.default is REQUIRED:
        return REQUIRED
    try:
        return at.coerce(at.default)
    except Exception:  # noqa: BLE001 - a default that does not coerce is simply "no default to hide"
        return REQUIRED


def key_attributes(node: OpNode) -> list[str]:
    """The attributes a reader needs, most telling first; defaults are left out (unescaped text)."""
    a = node.attrs
    spec = lookup(node.op)
    parts: list[str] = []
    if "out_channels" in a:
        parts.append(f"{_value_text(a.get('in_channels'))}→{_value_text(a['out_channels'])}")
    elif "out_features" in a:
        parts.append(f"{_value_text(a.get('in_features'))}→{_value_text(a['out_features'])}")
    elif "num_embeddings" in a:
        parts.append(f"{_value_text(a['num_embeddings'])}×{_value_text(a['embedding_dim'])}")
    elif "num_features" in a:
        parts.append(_value_text(a["num_features"]))
    elif "normalized_shape" in a:
        parts.append(_compact(a["normalized_shape"]))
    if "kernel_size" in a:
        ks = a["kernel_size"]
        parts.append("×".join(_value_text(k) for k in ks) if isinstance(ks, tuple) else _value_text(ks))
    if "output_size" in a:
        size = a["output_size"]
        parts.append("→ " + ("×".join(_value_text(x) for x in size) if isinstance(size, tuple) else _value_text(size)))
    if "shape" in a:
        parts.append(_value_text(tuple(a["shape"])))
    if "dims" in a:
        parts.append(_value_text(tuple(a["dims"])))
    for name, value in a.items():
        if (name in _ATTR_WORDS and _ATTR_WORDS[name] is None) or name == "tied":
            continue  # shown above, or (tied) on the parameter line
        if spec is not None:
            default = _default(spec, name)
            if default is not REQUIRED and _same(value, default):
                continue
            if name == "stride" and spec.family == "pool" and _same(value, a.get("kernel_size")):
                continue  # torch's pooling stride defaults to the kernel size
        if name == "bias" and value is False:
            parts.append("no bias")
        elif name in _ATTR_WORDS:
            parts.append(str(_ATTR_WORDS[name]).format(_compact(value)))
        elif spec is not None and _default(spec, name) is REQUIRED:
            parts.append(_compact(value))  # required attributes read as torch writes them: split(768, dim=2)
        else:
            parts.append(f"{name}={_compact(value)}")
    return parts


def _same(a: Any, b: Any) -> bool:
    return _value_text(a) == _value_text(b)


def _wrap(parts: list[str], width: int = 34) -> list[str]:
    """Join attribute parts with ', ' into lines of about `width` characters."""
    lines: list[str] = []
    cur = ""
    for p in parts:
        if cur and len(cur) + 2 + len(p) > width:
            lines.append(cur + ",")
            cur = p
        else:
            cur = f"{cur}, {p}" if cur else p
    if cur:
        lines.append(cur)
    return lines


def module_args(mod: Module) -> str:
    """The arguments the instance was given (`cout=128, stride=2`), not the symbols bound from shapes."""
    return ", ".join(f"{k}={_value_text(v)}" for k, v in mod.args.items() if k in mod.arg_source)


def module_title(mod: Module) -> str:
    """`BasicBlock(cout=128, stride=2)` for a block instance, `Sequential` for a container (unescaped)."""
    if mod.kind == "sequential":
        return "Sequential"
    args = module_args(mod)
    return f"{mod.definition}({args})" if args else str(mod.definition)


def network_title(graph: Graph) -> str:
    args = ", ".join(f"{k}={_value_text(v)}" for k, v in graph.params.items())
    return f"{graph.name}({args})" if args else graph.name


def _family(op: str) -> str:
    spec = lookup(op)
    return getattr(spec, "family", "other") if spec is not None else "other"
