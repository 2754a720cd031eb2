"""The installed package holds every module of the source tree: each folder with an `__init__.py` under the
folders pyproject.toml maps (netc/, dsl/, codegen/, grammar/) is one of its listed packages. A folder left out
installs in editable mode (which follows the folders) and breaks a wheel install (which does not)."""
from __future__ import annotations

import ast
import re

from .conftest import ROOT


def _setting(name: str) -> str:
    """One line of pyproject.toml's [tool.setuptools] (tomllib is Python 3.11+; netc supports 3.10)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools]", 1)[1].split("\n[", 1)[0]
    match = re.search(rf"^{re.escape(name)} = (.+)$", section, re.M)
    assert match, name
    return match.group(1)


def test_every_source_package_is_listed_for_the_wheel() -> None:
    pairs = re.findall(r'"([\w.]+)" = "([\w/]+)"', _setting("package-dir"))
    roots = dict(pairs)
    listed = set(ast.literal_eval(_setting("packages")))
    found = set()
    for name, folder in roots.items():
        if "." in name:
            continue  # a subpackage mapped explicitly: found under its parent's folder below
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join((name, *rel.parts)) if rel.parts else name)
    for name, folder in roots.items():  # netc.dsl = dsl/, netc.codegen = codegen/: top-level folders of their own
        if "." in name and (ROOT / folder).parent == ROOT:
            for init in (ROOT / folder).rglob("__init__.py"):
                rel = init.parent.relative_to(ROOT / folder)
                found.add(".".join((name, *rel.parts)) if rel.parts else name)
    assert found - listed == set(), f"packages missing from pyproject.toml: {sorted(found - listed)}"
