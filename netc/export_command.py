"""The `netc export` and `netc verify --target onnx` commands: pick the network, report, map errors to exit codes."""
from __future__ import annotations

from pathlib import Path

import click

from .dsl.compiler import Result
from .dsl.diagnostics import render_all
from .dsl.source import Source

EXIT_OK, EXIT_USER_ERROR = 0, 1


def _missing(what: str) -> int:
    click.echo(f"error: {what} is not installed\n  = help: install the extra: pip install -e '.[onnx]'", err=True)
    return EXIT_USER_ERROR


def _report_error(exc: Exception, colour: bool) -> int:
    diagnostics = getattr(exc, "diagnostics", None)
    if diagnostics is not None and diagnostics.items:
        click.echo(render_all(diagnostics, colour), err=True, nl=False)
    else:
        click.echo(f"error: {exc}", err=True)
    return EXIT_USER_ERROR


def export_command(result: Result, fmt: str, output: str | None, weights: str | None, quantize: str | None,
                   network: str | None, colour: bool) -> int:
    try:
        import onnx  # noqa: F401
    except ImportError:
        if fmt == "onnx":
            return _missing("the `onnx` package")
    if quantize is not None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return _missing("`onnxruntime` (needed to quantize)")
    from .export import ExportError, export, graph_weights
    from .weights import save

    names = list(result.graphs) if network is None else [network]
    if output is not None and len(names) > 1:
        raise click.BadParameter(f"the file has {len(names)} networks ({', '.join(names)}); pick one with "
                                 "--network, or leave out -o to write one file each", param_hint="-o/--output")
    for name in names:
        graph = result.graphs[name]
        out = Path(output) if output else Path(f"{name}{'.int8' if quantize else ''}.{fmt}")
        try:
            if fmt == "safetensors":  # the weights alone: a torch checkpoint converted, or fresh weights
                save(graph_weights(graph, weights), out)
                click.echo(f"wrote {out} ({out.stat().st_size:,} bytes)", err=True)
                continue
            done = export(result, graph, out, weights, quantize)
        except ExportError as exc:
            return _report_error(exc, colour)
        for note in done.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"wrote {out} ({done.bytes:,} bytes)", err=True)
    return EXIT_OK


def verify_onnx_command(result: Result, source: Source, overrides: dict[str, int], weights: str | None,
                        seed: int, colour: bool) -> int:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return _missing("`onnx` or `onnxruntime`")
    from .export import ExportError, format_onnx_report, verify_onnx

    failed = False
    for name in result.graphs:
        try:
            report = verify_onnx(result, source, overrides, name, seed, weights)
        except ExportError as exc:
            return _report_error(exc, colour)
        click.echo(format_onnx_report(report))
        failed = failed or not report.ok
    return EXIT_USER_ERROR if failed else EXIT_OK
