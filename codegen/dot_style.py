"""The look of the diagrams: fonts, ink and edge colours, and the fill and border colour of each op family.

One place for the palette, so labels, nodes, edges and the legend agree.
"""
from __future__ import annotations

# -- style ------------------------------------------------------------------------------------------
FONT = "Helvetica,Arial,sans-serif"
INK = "#333333"
MUTED = "#6b6b6b"
EDGE = "#5c5c5c"
SKIP_EDGE = "#c0504d"  # residual/skip connections: the one accent colour of the picture

# Op family -> (fill, border). Muted fills so that black text stays readable in print and in greyscale.
FAMILY_COLOURS: dict[str, tuple[str, str]] = {
    "conv": ("#d6e4f5", "#5b84b1"),
    "linear": ("#e3dcf0", "#7d6aa8"),
    "norm": ("#fbefc9", "#c9a437"),
    "activation": ("#dcefd6", "#6aa25a"),
    "pool": ("#d3ebeb", "#4f9a9a"),
    "regularization": ("#ececec", "#9a9a9a"),
    "tensor": ("#f6f6f6", "#a8a8a8"),
    "arithmetic": ("#f9dcc8", "#d07a3c"),
    "recurrent": ("#f4d3d3", "#b55c5c"),
    "attention": ("#f1d6e6", "#a8608a"),
}
OTHER_COLOURS = ("#ffffff", "#8c8c8c")
MODULE_COLOURS = ("#ffffff", "#555555")  # a block drawn as one node (--depth)
BLOCK_LEGEND = "block (as one node)"
IO_COLOURS = ("#3a3a3a", "#ffffff", "#c8c8c8")  # fill, text, the small "input" tag
