"""Reference pages generated from the code, so the documentation cannot drift from it: the op reference
from the op registry, the train-section reference from dsl/train.py's tables, the command reference from
the click commands. `netc ops --format markdown` prints the first; docs/hooks.py puts all three into the
site when MkDocs builds it."""
from __future__ import annotations

from typing import Any

import click


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value: Any, required: Any) -> str:
    if value is required:
        return "required"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value is None:
        return "`none`"
    return f"`{value!r}`" if not isinstance(value, str) else f'`"{value}"`'


# -- ops ------------------------------------------------------------------------------------------
def ops_markdown() -> str:
    from .dsl.ops import OPS, REQUIRED

    by_family: dict[str, list[Any]] = {}
    for spec in OPS.values():
        by_family.setdefault(spec.family, []).append(spec)
    out = [f"netc has {len(OPS)} ops in {len(by_family)} families. Attributes marked *keyword* must be "
           "named (`in_features=784`); the others may also be given in order. Names are case-sensitive; "
           "`netc ops NAME` prints the same table in a terminal.", ""]
    for family in sorted(by_family):
        out += [f"## {family}", ""]
        for spec in sorted(by_family[family], key=lambda s: s.name.lower()):
            out += [f"### {spec.name}", "", spec.doc, ""]
            if spec.aliases:
                out += ["Also spelled " + ", ".join(f"`{a}`" for a in spec.aliases) + ".", ""]
            if spec.attrs:
                out += ["| attribute | default | | meaning |", "|---|---|---|---|"]
                for at in spec.attrs:
                    how = "keyword" if not at.positional else ("variadic" if at.variadic else "")
                    out.append(f"| `{at.name}` | {_default(at.default, REQUIRED)} | {how} | {_cell(at.doc)} |")
                out.append("")
    return "\n".join(out).rstrip() + "\n"


# -- train sections -------------------------------------------------------------------------------
def train_markdown() -> str:
    from .dsl import train

    out = ["## Settings", "", "Each line of a `train` section is `key [target]: value`. The target names a "
           "network alias (`loss D: ...`), a submodule (`lr fc1: ...`) or a quoted path.", "",
           "| key | value | target |", "|---|---|---|"]
    for key, (what, target) in train.SETTINGS.items():
        out.append(f"| `{key}` | {_cell(what)} | {target} |")
    aliases = getattr(train, "_ALIASES", {})
    if aliases:
        out += ["", "Also accepted: " + ", ".join(f"`{a}` for `{k}`" for a, k in sorted(aliases.items())) + "."]
    tables = [("Losses", train.LOSSES), ("Terms of loss expressions", train.TERMS),
              ("Optimizers", train.OPTIMIZERS), ("Schedules", train.SCHEDULES), ("Metrics", train.METRICS),
              ("Data sources", train.DATA)]
    for title, fns in tables:
        out += ["", f"## {title}", ""]
        for fn in fns.values():
            out += [f"### `{fn.name}`", "", fn.doc[:1].upper() + fn.doc[1:] + ".", ""]
            if fn.params:
                out += ["| argument | kind | default | |", "|---|---|---|---|"]
                for p in fn.params:
                    extra = p.doc or ("one of " + ", ".join(f"`{c}`" for c in p.choices) if p.choices else "")
                    kind = p.kind + (", positional" if p.positional else "")
                    out.append(f"| `{p.name}` | {kind} | {_default(p.default, train.REQUIRED)} | {_cell(extra)} |")
    for title, fn in (("Early stopping", train.EARLY_STOPPING), ("Checkpoints", train.CHECKPOINT)):
        out += ["", f"## {title}: `{fn.name}(...)`", "", fn.doc[:1].upper() + fn.doc[1:] + ".", "",
                "| argument | kind | default |", "|---|---|---|"]
        out += [f"| `{p.name}` | {p.kind} | {_default(p.default, train.REQUIRED)} |" for p in fn.params]
    return "\n".join(out).rstrip() + "\n"


# -- commands -------------------------------------------------------------------------------------
def commands_markdown(group: click.Group) -> str:
    ctx = click.Context(group, info_name="netc")
    out = [f"```\n{group.get_help(ctx)}\n```", ""]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        out += [f"## netc {name}", "", (command.help or "").strip(), "", "```", command.get_usage(sub), "```", ""]
        rows = []
        for param in command.get_params(sub):
            if not isinstance(param, click.Option):
                continue
            record = param.get_help_record(sub)
            if record is not None:
                rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
        args = [p for p in command.params if isinstance(p, click.Argument)]
        if args:
            out += ["Arguments: " + ", ".join(f"`{a.human_readable_name}`" for a in args), ""]
        if rows:
            out += ["| option | meaning |", "|---|---|", *rows, ""]
    return "\n".join(out).rstrip() + "\n"
