"""Help texts that show `.net` syntax are valid `.net`: each snippet is pasted into a file and parsed."""
from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from netc.cli import main
from netc.dsl.compiler import compile_source
from netc.dsl.source import Source
from netc.dsl.train import SETTINGS, TRANSFORM_FNS
from netc.train import EXAMPLE

NET = "network Net {\n    input x: f32[B, 64]\n    x -> Linear(10) as fc -> logits\n    output logits\n}\n"


def codes(text: str) -> list[str]:
    return [d.code for d in compile_source(Source("help.net", text)).diagnostics.items]


def test_the_section_suggested_for_a_file_without_one_is_valid(tmp_path: Path) -> None:
    plain = tmp_path / "plain.net"
    plain.write_text(NET)
    result = CliRunner().invoke(main, ["train", str(plain)])
    assert result.exit_code == 1 and EXAMPLE.splitlines()[1].strip() in result.stderr
    assert codes(NET + EXAMPLE + "\n") == []  # pasted as shown: no error, no warning


def test_every_setting_example_parses() -> None:
    snippets = []
    for key, (doc, _) in SETTINGS.items():
        for example in re.findall(r"`([^`]+)`", doc):
            if ":" in example and not example.startswith(key):
                continue  # an example of another setting's value form (`patience(N, ...)` below)
            line = example if example.startswith(key) else f"{key}: {example}"
            snippets.append(line.replace("N,", "3,"))
    assert len(snippets) >= 12
    for line in snippets:
        found = codes(NET + "train Net {\n    " + line + "\n    epochs: 1\n}\n")
        assert not [c for c in found if c.startswith("E1")], (line, found)  # E1xx: syntax


def test_every_transform_is_a_valid_setting() -> None:
    for name, fn in TRANSFORM_FNS.items():
        args = ", ".join("0.5" if p.kind in ("float", "floats") else "4" for p in fn.params
                         if p.default is not None and p.name != "padding" or p.name in ("height",))
        call = f"{name}({args})" if args else name
        found = codes(NET + f"train Net {{\n    transforms: [{call}]\n    epochs: 1\n}}\n")
        assert not [c for c in found if c.startswith("E1") or c in ("E504", "E505", "E506")], (call, found)


def test_the_reference_names_every_key_and_function() -> None:
    from netc.dsl.train import DATA, LOSSES, METRICS, OPTIMIZERS, SCHEDULES, TERMS

    doc = (Path(__file__).resolve().parent.parent / "docs" / "train.md").read_text()
    names = [*SETTINGS, *LOSSES, *TERMS, *OPTIMIZERS, *SCHEDULES, *METRICS, *DATA, *TRANSFORM_FNS]
    missing = [n for n in names if f"`{n}" not in doc]
    assert not missing, missing


def test_every_setting_shown_in_a_message_parses() -> None:
    # Every `key: value` snippet in the train checker's and the runtime's messages and hints, as the user
    # would paste it (f-string fields filled with a plain name), is valid syntax in a section.
    root = Path(__file__).resolve().parent.parent
    files = [*(root / "dsl").glob("train*.py"), *(root / "netc" / "train").glob("*.py")]
    snippets = set()
    for path in files:
        for example in re.findall(r"`((\w+)(?: \w+)?: [^`]+)`", path.read_text()):
            line, key = example
            if key in SETTINGS:
                snippets.add(re.sub(r"\{[^}]*\}", "fc", line).replace('\\"', '"'))
    assert len(snippets) >= 8, snippets
    for line in sorted(snippets):
        found = codes(NET + "train Net {\n    " + line + "\n    epochs: 1\n}\n")
        assert not [c for c in found if c.startswith("E1")], (line, found)  # E1xx: syntax


def test_the_reference_gives_every_argument_in_its_function_row() -> None:
    from netc.dsl.train import DATA, LOSSES, OPTIMIZERS, SCHEDULES

    doc = (Path(__file__).resolve().parent.parent / "docs" / "train.md").read_text().splitlines()
    missing = []
    for table in (DATA, LOSSES, OPTIMIZERS, SCHEDULES, TRANSFORM_FNS):
        for name, fn in table.items():
            rows = [line for line in doc if line.startswith(f"| `{name}` |")]
            wanted = [p.name for p in fn.params if p.kind != "tensor"]
            if not any(all(w in row for w in wanted) for row in rows):
                missing.append((name, wanted))
    assert not missing, missing
