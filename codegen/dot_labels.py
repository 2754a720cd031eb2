"""The HTML-like labels and styles of a diagram's nodes and clusters: an op's name, attributes and
parameters, inputs and outputs, blocks drawn as one node, cluster titles, the legend and the network title.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..dsl.ir import Graph, Module, OpNode
from ..dsl.types import TensorType
from .dot_escape import _font, _h, _label
from .dot_structure import _run_name, local_name
from .dot_style import BLOCK_LEGEND, FAMILY_COLOURS, IO_COLOURS, MODULE_COLOURS, MUTED, OTHER_COLOURS, SKIP_EDGE
from .dot_text import _count, _params_text, _wrap, key_attributes, module_args, module_title, network_title


# -- labels and styles ------------------------------------------------------------------------------------
def _display_name(node: OpNode) -> str | None:
    """Layers with parameters, a user-given name or a sequential index show it (it is their state_dict
    key); generated names of stateless layers (`relu3`) are noise and are left out."""
    if (node.parent is not None and node.parent.kind == "sequential") or node.named or node.params:
        return local_name(node)
    return None


def _op_label(node: OpNode, run: Sequence[OpNode | Module] = ()) -> str:
    times = max(1, len(run))
    head = f"<B>{_h(node.op)}</B>"
    name = _display_name(node)
    if name and times > 1:
        name = _run_name(run)
    if name:
        head += f" {_font(_h(name), colour=MUTED)}"
    if times > 1:
        head += f" <B>×{times}</B>"
    lines = [head]
    lines += [_font(_h(line), 9) for line in _wrap(key_attributes(node))]
    tied: dict[str, str] = getattr(node, "tied", None) or {}
    if node.params and node.num_params:
        lines.append(_font(_h(_params_text(node.num_params, times)), 9, MUTED))
    for pname, key in tied.items():
        lines.append(_font(_h(f"{pname} tied to {key}"), 9, MUTED))
    return _label(lines)


def _io_label(kind: str, name: str, t: TensorType) -> str:
    return _label([_font(_h(kind), 8, IO_COLOURS[2]), f"<B>{_h(name)}</B>", _font(_h(str(t)), 9)])


def _io_style() -> dict[str, str]:
    return {"shape": "box", "style": "rounded,filled", "fillcolor": IO_COLOURS[0], "color": IO_COLOURS[0],
            "fontcolor": IO_COLOURS[1], "margin": "0.14,0.06"}


def _module_label(mod: Module, run: list[OpNode | Module]) -> str:
    head = f"<B>{_h(_run_name(run))}</B>" + (f" <B>×{len(run)}</B>" if len(run) > 1 else "")
    return _label([head, _font(_h(_summary_kind(mod)), 9),
                   _font(_h(_params_text(mod.num_params, len(run))), 9, MUTED)])


def _summary_kind(mod: Module) -> str:
    """`BasicBlock(cout=64)` for a block; `Sequential: BasicBlock ×2` or `Sequential: 27 layers` for a container."""
    if mod.kind != "sequential":
        return module_title(mod)
    kinds: list[list[Any]] = []
    for item in mod.body:
        kind = item.op if isinstance(item, OpNode) else (item.definition or "Sequential")
        if kinds and kinds[-1][0] == kind:
            kinds[-1][1] += 1
        else:
            kinds.append([kind, 1])
    if len(kinds) <= 3:
        return "Sequential: " + ", ".join(f"{k} ×{n}" if n > 1 else str(k) for k, n in kinds)
    return f"Sequential: {len(mod.body)} layers"


def _cluster_label(mod: Module, run: list[OpNode | Module]) -> str:
    """Name, type and parameters on three short left-aligned lines, so edges entering the cluster at
    its centre line do not run through the title."""
    times = len(run)
    head = f"<B>{_h(_run_name(run))}</B>" + (f"  <B>×{times}</B>" if times > 1 else "")
    rows = [head, _h(mod.definition if mod.kind == "block" else "Sequential")]
    args = module_args(mod)
    if args:
        rows.append(_font(_h(args), 9))
    rows.append(_font(_h(_params_text(mod.num_params, times)), 9, MUTED))
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
            + "".join(f'<TR><TD ALIGN="LEFT">{r}</TD></TR>' for r in rows) + "</TABLE>>")


def _cluster_style(mod: Module, times: int) -> dict[str, str]:
    style = {"labeljust": "l", "fontsize": "10", "margin": "10"}
    if mod.kind == "sequential":
        style.update(style="rounded,dashed", color="#9a9a9a", fillcolor="none", penwidth="1")
    else:
        style.update(style="rounded,filled", color="#8a8a8a", fillcolor="#f7f7f7", penwidth="1")
    if times > 1:
        style.update(penwidth="2.2", color="#555555")
    return style


def _legend(families: Iterable[str], skips: bool) -> str:
    cells = []
    for fam in sorted(families):
        fill, border = MODULE_COLOURS if fam == BLOCK_LEGEND else FAMILY_COLOURS.get(fam, OTHER_COLOURS)
        cells.append(f'<TD BGCOLOR="{fill}" COLOR="{border}" BORDER="1" CELLPADDING="3">'
                     f'{_font(_h(fam), 9)}</TD>')
    if skips:
        cells.append(f'<TD BORDER="0" CELLPADDING="3">{_font(_h("→ skip connection"), 9, SKIP_EDGE)}</TD>')
    if not cells:
        return ""
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="0"><TR>' + "".join(cells)
            + "</TR></TABLE>")


def _title(graph: Graph, size: float) -> list[str]:
    name = _h(graph.name)
    args = _h(network_title(graph)[len(graph.name):])
    buffers = sum(e.numel for e in graph.state_dict() if e.kind == "buffer")
    stats = f"{_count(graph.num_params)} parameters" + (f" · {_count(buffers)} buffer elements" if buffers else "")
    return [f'{_font(f"<B>{name}</B>", size)}{_font(args, size * 0.75)}', _font(_h(stats), size * 0.65, MUTED)]


def _table(rows: list[str]) -> str:
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">'
            + "".join(f"<TR><TD>{r}</TD></TR>" for r in rows) + "</TABLE>>")
