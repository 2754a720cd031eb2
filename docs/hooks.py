"""MkDocs hook: the reference pages are generated from the code when the site builds (netc/docgen.py), so
they cannot drift from the op registry, the train-section tables or the click commands."""
from __future__ import annotations

from pathlib import Path
from typing import Any

GRAMMAR = Path(__file__).resolve().parent.parent / "grammar" / "netc.lark"


def _generated() -> dict[str, str]:
    from netc.cli import main
    from netc.docgen import commands_markdown, ops_markdown, train_markdown

    return {
        "<!-- netc: ops -->": ops_markdown(),
        "<!-- netc: train -->": train_markdown(),
        "<!-- netc: commands -->": commands_markdown(main),
        "<!-- netc: grammar -->": "```\n" + GRAMMAR.read_text(encoding="utf-8").rstrip() + "\n```\n",
    }


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    if "<!-- netc: " not in markdown:
        return markdown
    for marker, text in _generated().items():
        markdown = markdown.replace(marker, text)
    return markdown
