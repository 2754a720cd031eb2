"""The `netc fmt` command: format files in place, or show (`--diff`) or check (`--check`) the changes."""
from __future__ import annotations

import difflib
from pathlib import Path

import click

from ..dsl.diagnostics import Diagnostics, render_all
from . import FormatError, format_text


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"{path} (original)", f"{path} (formatted)"))


def run_fmt(files: tuple[str, ...], check: bool, diff: bool, colour: bool) -> int:
    """Exit status: 0 when done (or, with --check, nothing to change), 1 on syntax errors or, with --check,
    when some file would change."""
    status = 0
    changed = failed = 0
    for path in files:
        try:
            before = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            diags = Diagnostics()
            diags.error("E105", f"cannot read {path}: {exc}", None)
            click.echo(render_all(diags, colour), err=True, nl=False)
            status, failed = 1, failed + 1
            continue
        try:
            after = format_text(before, path)
        except FormatError as exc:
            click.echo(render_all(exc.diagnostics, colour), err=True, nl=False)
            status, failed = 1, failed + 1
            continue
        if after == before:
            continue
        changed += 1
        if check or diff:
            click.echo(unified_diff(path, before, after), nl=False)
            if check:
                click.echo(f"would reformat {path}", err=True)
                status = 1
        else:
            Path(path).write_text(after, encoding="utf-8")
            click.echo(f"reformatted {path}", err=True)
    if not check and not diff:
        click.echo(f"{changed} file{'s' if changed != 1 else ''} reformatted, "
                   f"{len(files) - changed - failed} left unchanged"
                   + (f", {failed} not formatted (errors above)" if failed else ""), err=True)
    return status
