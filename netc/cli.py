"""The `netc` command line: thin click commands over the library. No compiler logic lives here."""
from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .codegen.base import UnwritableOutput
from .train.cli_options import run_options, train_options

# The front end (even its diagnostics, which pull in dataclasses) loads when a command needs it, so that
# `netc --help` starts in little more than the interpreter's own time (bench/bench_startup.py).
if TYPE_CHECKING:
    from .dsl.compiler import Result
    from .dsl.source import Source

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class UserError(click.ClickException):
    """A problem with the user's input that is already rendered; exits with code 1."""

    exit_code = EXIT_USER_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(self.message, err=True, nl=False)


def _colour() -> bool:
    return sys.stderr.isatty()


def guarded(fn: F) -> F:
    """Report crashes inside the compiler as `internal error` (exit 3), never as a bare traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except UnwritableOutput as exc:  # a refused or failed write: the command line named a bad path
            raise click.UsageError(str(exc)) from None
        except RecursionError:
            _internal("the input is nested too deeply for this compiler (recursion limit)")
        except Exception as exc:  # noqa: BLE001 - the whole point is to catch everything
            _internal(f"{type(exc).__name__}: {exc}")

    return wrapper  # type: ignore[return-value]


def _internal(message: str) -> None:
    ctx = click.get_current_context(silent=True)
    show = bool(ctx and ctx.find_root().params.get("show_traceback"))
    if show:
        import traceback

        traceback.print_exc()
    click.echo(f"internal error: {message}", err=True)
    if not show:
        click.echo("  = note: this is a bug in netc, not in your file; rerun with `netc --traceback ...` "
                   "and report it", err=True)
    sys.exit(EXIT_INTERNAL)


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """`--set NAME=VALUE` items as typed values (see netc/overrides.py)."""
    from .overrides import OverrideError, parse_value

    out: dict[str, Any] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        try:
            out[name] = parse_value(raw)
        except OverrideError as exc:
            raise click.BadParameter(f"{name}: {exc}", param_hint="--set") from None
    return out


def read_source(path: str) -> Source:
    from .dsl.diagnostics import Diagnostics, render_all
    from .dsl.source import Source, UnreadableSource, read_source_text

    try:
        return Source(path, read_source_text(path))
    except UnreadableSource as exc:
        diags = Diagnostics()
        diags.error(exc.code, f"cannot read {path}: {exc.reason}", None, help=exc.help)
        raise UserError(render_all(diags, _colour())) from None


def import_paths() -> tuple[str, ...]:
    ctx = click.get_current_context(silent=True)
    return tuple(ctx.find_root().params.get("import_paths") or ()) if ctx else ()


def front_end(path: str, sets: tuple[str, ...], network: str | None) -> Result:
    """Run the front end, print diagnostics, and stop with exit 1 on errors (exit 2 on a bad --set)."""
    from .dsl.compiler import compile_source
    from .dsl.diagnostics import render_all

    overrides = parse_sets(sets)
    result = compile_source(read_source(path), overrides, network, import_paths())
    if result.bad_overrides:
        raise click.BadParameter(result.bad_overrides[0], param_hint="--set")
    if result.ok and result.unknown_overrides:
        from .dsl.diagnostics import did_you_mean

        known = set()
        for g in result.graphs.values():
            known |= set(g.symbols) | set(g.params)
        bad = result.unknown_overrides[0]
        guess = did_you_mean(bad, known)
        hint = f"; did you mean {guess}?" if guess else (f"; the names are {', '.join(sorted(known))}" if known else "")
        raise click.BadParameter(f"no parameter or dimension named {bad!r}{hint}", param_hint="--set")
    if result.diagnostics.items:
        text = render_all(result.diagnostics, _colour())
        if not result.ok:
            raise UserError(text)
        click.echo(text, err=True, nl=False)
    return result


set_option = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                          help="Bind a dimension symbol or a network parameter: --set B=32, --set p=0.1, "
                          "--set bilinear=true, --set mode=nearest, --set kernel=(3, 3).")
network_option = click.option("--network", metavar="NAME", help="Only this network (default: all in the file).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="netc", prog_name="netc")
@click.option("--traceback", "show_traceback", is_flag=True, help="Show Python tracebacks of internal errors.")
@click.option("--import-path", "import_paths", multiple=True, type=click.Path(file_okay=False), metavar="DIR",
              help="A folder `import` may read from besides the main file's folder tree (also $NETC_IMPORT_PATH).")
def main(show_traceback: bool, import_paths: tuple[str, ...]) -> None:
    """netc: describe a neural network in a .net file; check its shapes, generate code, draw it."""


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@set_option
@network_option
@guarded
def check(file: str, sets: tuple[str, ...], network: str | None) -> None:
    """Parse, elaborate and shape-check FILE; print each layer's shape and parameters."""
    from .dsl.summary import format_table

    result = front_end(file, sets, network)
    tables = [format_table(g) for g in result.graphs.values()]
    click.echo("\n\n".join(tables))


@main.command("compile")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--target", type=click.Choice(["torch", "numpy"]), default="torch", show_default=True,
              help="What to generate.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@network_option
@set_option
@click.option("--guards", is_flag=True, help="Assert input shapes and `where` constraints at the top of forward, naming the .net line.")
@guarded
def compile_cmd(file: str, target: str, output: str | None, network: str | None, sets: tuple[str, ...],
                guards: bool) -> None:
    """Generate PyTorch or NumPy source for the networks in FILE."""
    import ast as python_ast

    from .codegen import get_backend
    from .codegen.base import write_atomic

    result = front_end(file, sets, network)
    generated = get_backend(target).generate(result, network=network, guards=guards, source_path=file)
    # The backend's output must be valid Python; a failure here is our bug, never the user's.
    python_ast.parse(generated.code)
    for note in generated.notes:
        click.echo(f"note: {note}", err=True)
    if output:
        write_atomic(output, generated.code)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(generated.code, nl=False)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write; the format comes from the extension: .svg, .png, .pdf or .dot "
                   "[default: FILE's name with .svg, in the current folder].")
@network_option
@click.option("--depth", type=click.IntRange(min=0), metavar="N",
              help="Draw blocks and containers nested deeper than N levels as single nodes.")
@click.option("--expand", is_flag=True, help="Draw every repeat instead of collapsing identical ones to one ×N.")
@click.option("--rankdir", type=click.Choice(["TB", "LR"], case_sensitive=False), default="TB", show_default=True,
              help="Lay the network out top to bottom or left to right.")
@set_option
@guarded
def viz(file: str, output: str | None, network: str | None, depth: int | None, expand: bool, rankdir: str,
        sets: tuple[str, ...]) -> None:
    """Draw the networks in FILE with Graphviz: layers, shapes, parameters, blocks."""
    from pathlib import Path

    from .codegen import dot as diagram
    from .codegen.base import write_atomic

    out = Path(output) if output else Path(Path(file).stem + ".svg")
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in diagram.FORMATS:
        raise click.BadParameter(f"cannot tell the format of {out.name!r}; end it with .svg, .png, .pdf or .dot",
                                 param_hint="-o/--output")
    result = front_end(file, sets, network)
    text = diagram.to_dot(diagram.select(result, network), depth=depth, expand=expand, rankdir=rankdir.upper(),
                          dpi=diagram.PNG_DPI if fmt == "png" else None, title=Path(file).name)
    if fmt != "dot":
        try:
            text_or_image: str | bytes = diagram.render_dot(text, fmt)
        except diagram.DotNotFound:
            # Still leave something useful: the DOT source, which renders anywhere Graphviz is installed.
            fallback = out.with_suffix(".dot")
            write_atomic(fallback, text)
            raise UserError(diagram.missing_dot_message(out, fallback)) from None
    else:
        text_or_image = text
    write_atomic(out, text_or_image)
    click.echo(f"wrote {out}", err=True)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float64", show_default=True,
              help="Precision of both runs; float64 shows the backends' own differences, not rounding.")
@set_option
@network_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights and inputs.")
@click.option("--target", type=click.Choice(["numpy", "onnx"]), default="numpy", show_default=True,
              help="Compare torch with the NumPy backend, or with the ONNX export run in onnxruntime (float32).")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False),
              help="With --target onnx: a torch or safetensors state_dict instead of random weights.")
@guarded
def verify(file: str, dtype: str, sets: tuple[str, ...], network: str | None, seed: int, target: str,
           weights: str | None) -> None:
    """Run the PyTorch and NumPy backends (or torch and the ONNX export) on the same weights and inputs; compare."""
    result = front_end(file, sets, network)  # first: a bad input is rejected without importing torch
    try:
        import torch  # noqa: F401  (the only command that needs it)
    except ImportError:
        raise UserError("error: `netc verify` needs PyTorch, which is not installed\n"
                        "  = help: install the extra: pip install -e '.[torch]'\n") from None
    from .verify import VerifyError, format_report, verify_network

    if target == "onnx":
        from .export_command import verify_onnx_command

        sys.exit(verify_onnx_command(result, read_source(file), parse_sets(sets), weights, seed, _colour()))
    failed = False
    for name in result.graphs:
        try:
            report = verify_network(result, read_source(file), parse_sets(sets), name, dtype, seed)
        except VerifyError as exc:
            raise UserError(f"error: {exc}\n") from None
        click.echo(format_report(report))
        failed = failed or not report.ok
    if failed:
        sys.exit(EXIT_USER_ERROR)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@train_options
@set_option
@guarded
def train(file: str, sets: tuple[str, ...], **kw: Any) -> None:
    """Train the networks of FILE as its `train` section says: the code `compile` writes for it (netc/train/)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UserError("error: `netc train` needs PyTorch, which is not installed\n"
                        "  = help: install the extra: pip install -e '.[train]'\n") from None
    from .train.command import run

    result = front_end(file, sets, None)
    code = run(result, file, kw["name"], run_options(kw), kw["nproc"], kw["nnodes"], kw["node_rank"], kw["rdzv"],
               _colour())
    if code:
        sys.exit(code)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["onnx", "safetensors"]), default="onnx", show_default=True,
              help="An ONNX model, or the weights alone as a safetensors state_dict (e.g. from a torch checkpoint).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write [default: the network's name with .onnx; NAME.int8.onnx when quantized].")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False),
              help="A torch (.pt, loaded with weights_only) or .safetensors state_dict; default: fresh weights.")
@click.option("--quantize", type=click.Choice(["dynamic", "static"]),
              help="int8 weights (dynamic), or int8 weights and activations calibrated on the train data (static).")
@set_option
@network_option
@guarded
def export(file: str, fmt: str, output: str | None, weights: str | None, quantize: str | None,
           sets: tuple[str, ...], network: str | None) -> None:
    """Export a network of FILE to ONNX (opset 18), dynamic axes named after its symbols; no torch needed."""
    from .export_command import export_command

    if quantize and fmt != "onnx":
        raise click.BadParameter("only ONNX models are quantized", param_hint="--quantize")
    result = front_end(file, sets, network)
    sys.exit(export_command(result, fmt, output, weights, quantize, network, _colour()))


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@set_option
@network_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--optimizer", type=click.Choice(["sgd", "sgd-momentum", "adam", "adamw", "rmsprop"]),
              help="Optimizer of the training-memory estimate [default: the train section's, else adam].")
@guarded
def summary(file: str, sets: tuple[str, ...], network: str | None, fmt: str, optimizer: str | None) -> None:
    """Per-layer parameters, MACs, FLOPs and memory of FILE: formulas in its symbols, numbers with --set."""
    from .analysis import summarize_result

    result = front_end(file, sets, network)
    click.echo(summarize_result(result, read_source(file), parse_sets(sets), network, fmt, optimizer))


@main.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text", show_default=True,
              help="markdown: the op reference of the documentation, every op with its attributes.")
@guarded
def ops(name: str | None, fmt: str) -> None:
    """List the ops, or describe one op's attributes."""
    from .dsl.ops import OPS, REQUIRED, lookup

    if fmt == "markdown" and name is None:
        from .docgen import ops_markdown

        click.echo(ops_markdown(), nl=False)
        return
    if name is None:
        width = max(len(n) for n in OPS)
        for op_name in sorted(OPS, key=str.lower):
            click.echo(f"{op_name:<{width}}  {OPS[op_name].doc}")
        return
    spec = lookup(name)
    if spec is None:
        from .dsl.diagnostics import did_you_mean

        guess = did_you_mean(name, OPS)
        raise click.BadParameter(f"no op named {name!r}" + (f"; did you mean {guess}?" if guess else ""))
    click.echo(f"{spec.name} ({spec.family}): {spec.doc}")
    if spec.aliases:
        click.echo(f"  also spelled: {', '.join(spec.aliases)}")
    for at in spec.attrs:
        default = "required" if at.default is REQUIRED else f"default {at.default!r}"
        kind = "..." if at.variadic else ("keyword" if not at.positional else "")
        click.echo(f"  {at.name:<24} {default:<20} {kind:<8} {at.doc}".rstrip())


@main.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 and show the diff if a file is not formatted.")
@click.option("--diff", is_flag=True, help="Print the changes as a unified diff instead of writing them.")
@guarded
def fmt_cmd(files: tuple[str, ...], check: bool, diff: bool) -> None:
    """Format FILES in netc's one canonical layout, in place (comments kept)."""
    from .fmt.command import run_fmt

    sys.exit(run_fmt(files, check, diff, _colour()))


@main.command()
def lsp() -> None:
    """Run the language server over stdio (editors start this; see editors/vscode)."""
    from .lsp import run_server

    run_server()


if __name__ == "__main__":
    main()
