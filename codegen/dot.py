"""Architecture diagrams: the typed IR drawn with Graphviz (`netc viz`, and the `dot` backend).

Everything comes from the IR; nothing runs. One node per layer (op, key attributes, parameter count),
edges labelled with the tensor shape (symbolic where symbolic), a cluster per block instance and
sequential container, identical consecutive repeats in a sequential collapsed to one cluster marked ×N,
and `depth` to draw deeply nested modules as single nodes with their total parameters.

Escaping, the one rule: every label is an HTML-like label assembled from :func:`_h`-escaped text, and
every node or cluster id comes from :func:`_ident`, which keeps only ``[A-Za-z0-9_.]`` and hex-encodes
everything else. So no layer name, unicode identifier or string argument can close a label, open a tag,
or inject DOT statements. (The ``graphviz`` package passes a string that starts with ``<`` and ends
with ``>`` through unquoted as HTML, which is why plain-text labels are never handed to it raw.) Both
functions live in dot_escape.py.

The ``graphviz`` package is imported inside the functions that build or render, so importing this
module costs nothing for `netc check`.

The work is split by job: dot_style.py (colours and fonts), dot_escape.py (escaping and label primitives),
dot_text.py (values, shapes and attributes as text), dot_structure.py (runs of identical repeats),
dot_plan.py (what is drawn as what, and the edges), dot_labels.py (node and cluster labels and styles),
dot_emit.py (a plan written into a Digraph); this module is the public API.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from ..dsl.ir import Graph
from .base import GeneratedCode
from .dot_emit import _draw
from .dot_escape import _font, _h, _ident
from .dot_labels import _legend, _table, _title
from .dot_plan import NARY_OPS, _Drawing
from .dot_structure import local_name, runs, signature
from .dot_style import (
    BLOCK_LEGEND,
    EDGE,
    FAMILY_COLOURS,
    FONT,
    INK,
    IO_COLOURS,
    MODULE_COLOURS,
    MUTED,
    OTHER_COLOURS,
    SKIP_EDGE,
)
from .dot_text import key_attributes, module_args, module_title, network_title, shape_text

if TYPE_CHECKING:
    import graphviz

    from ..dsl.compiler import Result

FORMATS = ("svg", "png", "pdf", "dot")
RANKDIRS = ("TB", "LR")
PNG_DPI = 150  # sharp enough for slides and print; SVG and PDF are vector and need none

INSTALL_HINT = ("install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
                "(macOS) or `conda install graphviz` (conda)")


class DotNotFound(RuntimeError):
    """The Graphviz `dot` program is not on PATH, so only DOT text can be produced."""

    def __init__(self) -> None:
        super().__init__(f"the Graphviz `dot` program was not found on PATH; {INSTALL_HINT}")


# -- public API ---------------------------------------------------------------------------------------------
def build(graphs: Graph | Sequence[Graph], *, depth: int | None = None, expand: bool = False,
          rankdir: str = "TB", dpi: int | None = None, title: str | None = None) -> graphviz.Digraph:
    """The diagram as a `graphviz.Digraph`. Several graphs are drawn side by side, one cluster each."""
    import graphviz

    graph_list = [graphs] if isinstance(graphs, Graph) else list(graphs)
    if not graph_list:
        raise ValueError("no network to draw")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if depth is not None and depth < 0:
        raise ValueError(f"depth must be at least 0, got {depth}")
    single = len(graph_list) == 1
    g = graphviz.Digraph(name=_ident(graph_list[0].name if single else "networks"))
    g.attr(rankdir=rankdir, fontname=FONT, fontsize="11", fontcolor=INK, labelloc="t", labeljust="c",
           nodesep="0.25", ranksep="0.32", newrank="true", outputorder="edgesfirst", bgcolor="white",
           pad="0.2")
    if dpi:
        g.attr(dpi=str(dpi))
    g.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="11", fontcolor=INK,
           margin="0.12,0.05", height="0.3", penwidth="1")
    g.attr("edge", fontname=FONT, fontsize="8.5", fontcolor=MUTED, color=EDGE, arrowsize="0.6", penwidth="1")
    families: set[str] = set()
    any_skip = False
    for graph in graph_list:
        drawing = _Drawing(graph, () if single else (graph.name,), depth, expand)
        if single:
            any_skip |= _draw(drawing, g)
        else:
            with g.subgraph(name="cluster-net-" + _ident(graph.name)) as c:
                c.attr(label=_table(_title(graph, 14)), style="rounded", color="#c8c8c8", margin="14")
                any_skip |= _draw(drawing, c)
        families |= drawing.families
    rows = _title(graph_list[0], 18) if single else [_font(f"<B>{_h(title or 'networks')}</B>", 18)]
    legend = _legend(families, any_skip)
    g.attr(label=_table(rows + ([legend] if legend else [])))  # no layers: no legend (`<TR></TR>` is invalid)
    return g


def to_dot(graphs: Graph | Sequence[Graph], *, depth: int | None = None, expand: bool = False,
           rankdir: str = "TB", dpi: int | None = None, title: str | None = None) -> str:
    """The diagram as DOT text (deterministic: the same IR gives the same bytes)."""
    return build(graphs, depth=depth, expand=expand, rankdir=rankdir, dpi=dpi, title=title).source


def render_dot(dot_text: str, fmt: str) -> bytes:
    """Lay out DOT text with Graphviz into `fmt` (svg, png or pdf). Raises DotNotFound without `dot`."""
    import graphviz

    if fmt not in FORMATS or fmt == "dot":
        raise ValueError(f"cannot render to {fmt!r}; use one of svg, png, pdf")
    try:
        return graphviz.pipe("dot", fmt, dot_text.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise DotNotFound() from None


def render(graphs: Graph | Sequence[Graph], fmt: str = "svg", *, depth: int | None = None, expand: bool = False,
           rankdir: str = "TB", title: str | None = None) -> bytes:
    """The diagram rendered by Graphviz: SVG, PNG or PDF bytes, or DOT text encoded as UTF-8 for "dot"."""
    text = to_dot(graphs, depth=depth, expand=expand, rankdir=rankdir, title=title,
                  dpi=PNG_DPI if fmt == "png" else None)
    if fmt == "dot":
        return text.encode("utf-8")
    return render_dot(text, fmt)


def missing_dot_message(target: str | PurePath, fallback: str | PurePath) -> str:
    """What `netc viz` says when `dot` is missing and only the DOT text could be written."""
    fmt = PurePath(target).suffix.lstrip(".").lower()
    command = f"dot -T{fmt} {shlex.quote(str(fallback))} -o {shlex.quote(str(target))}"
    return (f"error: cannot render {target}: the Graphviz `dot` program is not on PATH\n"
            f"  = note: wrote the diagram as DOT text to {fallback}; with Graphviz installed, `{command}` renders it\n"
            f"  = help: {INSTALL_HINT}\n")


def generate(result: Result, network: str | None = None, *, depth: int | None = None, expand: bool = False,
             rankdir: str = "TB", **_options: Any) -> GeneratedCode:
    """The backend entry point: DOT text for one network of a front-end result, or all of them."""
    graphs = select(result, network)
    return GeneratedCode(to_dot(graphs, depth=depth, expand=expand, rankdir=rankdir,
                                title=_source_title(result)))


def select(result: Result, network: str | None = None) -> list[Graph]:
    if network is not None:
        return [result.graphs[network]]
    return list(result.graphs.values())


def _source_title(result: Result) -> str | None:
    for g in result.graphs.values():
        return PurePath(str(g.source.path)).name
    return None


__all__ = [
    "BLOCK_LEGEND", "EDGE", "FAMILY_COLOURS", "FONT", "FORMATS", "INK", "INSTALL_HINT", "IO_COLOURS", "MODULE_COLOURS",
    "MUTED", "NARY_OPS", "OTHER_COLOURS", "PNG_DPI", "RANKDIRS", "SKIP_EDGE", "DotNotFound", "build", "generate",
    "key_attributes", "local_name", "missing_dot_message", "module_args", "module_title", "network_title", "render",
    "render_dot", "runs", "select", "shape_text", "signature", "to_dot",
]
