"""The language server (`netc lsp`). pygls is an extra: `pip install 'netc[lsp]'`."""
from __future__ import annotations


def run_server() -> None:
    try:
        from .server import run
    except ImportError as exc:  # pygls missing
        import click

        raise click.ClickException(f"`netc lsp` needs pygls ({exc}); install the extra: pip install 'netc[lsp]'") from None
    run()
