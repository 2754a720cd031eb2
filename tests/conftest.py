"""Shared test helpers."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# A copy of ../shared/reference (torchvision state_dict layouts), vendored so a clean clone can run the tests.
REFERENCE = ROOT / "tests" / "reference"
GRAMMAR = ROOT / "grammar" / "netc.lark"


@pytest.fixture
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with the repository root as working directory, so paths in diagnostics are relative."""
    monkeypatch.chdir(ROOT)
    return ROOT


def torch_namespace(text: str, path: str = "t.net", overrides: dict[str, object] | None = None,
                    ) -> tuple[str, dict[str, object]]:
    """The torch backend's file for a program given as text, and the namespace it defines when run."""
    import netc
    from netc.codegen import get_backend

    result = netc.check_source(text, path, overrides or None)
    assert result.ok, result.diagnostics
    code = get_backend("torch").generate(result).code
    ns: dict[str, object] = {}
    exec(compile(code, f"<{path}>", "exec"), ns)  # noqa: S102 - our generated code
    return code, ns


def update_snapshots() -> bool:
    return os.environ.get("NETC_UPDATE_SNAPSHOTS") == "1"


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread: the test tensors are tiny, and on a 2-core CI machine two threads per op mostly
    wait on each other (a U-Net size test ran 11x faster this way)."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


# -- every program the torch backend compiles during the run is also verified ---------------------------------
# A miscompilation (dropped parentheses) once passed every test that only looked at the generated text or
# shapes. So each distinct program that any test compiles with the torch backend is recorded, and at the end of
# the session `netc verify`'s comparison (torch vs the NumPy reference, float64, random weights and inputs)
# runs on every network of it. A mismatch fails the session, naming the program. NETC_VERIFY_ALL=0 turns it off.
_COMPILED: dict[tuple[str, str | None], object] = {}
_RECORDING = [True]


@contextlib.contextmanager
def unrecorded() -> Iterator[None]:
    """Compile without recording: for tests that verify every program they compile themselves
    (tests/test_fuzz_deep.py), so thousands of programs are not verified twice."""
    _RECORDING[0] = False
    try:
        yield
    finally:
        _RECORDING[0] = True


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("NETC_VERIFY_ALL", "1") == "0":
        return
    from netc.codegen import torch as torch_backend

    run = torch_backend.Generator.run

    def recording_run(self: torch_backend.Generator):  # type: ignore[no-untyped-def]
        out = run(self)
        if not _RECORDING[0]:
            return out
        graphs = self.result.graphs
        key = ("\n".join(f"{g.source.path}\n{g.source.text}" for g in graphs.values()), repr(sorted(
            (name, tuple(map(str, g.params.items()))) for name, g in graphs.items())))
        _COMPILED.setdefault(key, self.result)
        return out

    torch_backend.Generator.run = recording_run  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _COMPILED or exitstatus != 0:
        return
    from netc.verify import VerifyError, verify_network

    failures: list[str] = []
    verified = skipped = too_large = 0
    for result in list(_COMPILED.values()):
        for name, graph in result.graphs.items():  # type: ignore[attr-defined]
            try:
                report = verify_network(result, graph.source, result.overrides, name)  # type: ignore[attr-defined]
            except VerifyError as exc:
                if "draw" in str(exc) and "noise" in str(exc):
                    skipped += 1  # noise drawn inside the network: the two backends' generators differ
                    continue
                if "elements of weights and activations" in str(exc):
                    too_large += 1  # beyond NETC_VERIFY_MAX_ELEMENTS (Llama-2-7B built on the meta device)
                    continue
                failures.append(f"{graph.source.path} {name}: {exc}\n{graph.source.text}")
                continue
            except Exception as exc:  # noqa: BLE001 - any failure to verify is reported with its program
                failures.append(f"{graph.source.path} {name}: {type(exc).__name__}: {exc}\n{graph.source.text}")
                continue
            verified += 1
            if not report.ok:
                failures.append(f"{graph.source.path} {name}: torch and NumPy disagree\n{graph.source.text}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"netc verify: {verified} networks of {len(_COMPILED)} compiled programs agree"
                            f" ({skipped} draw noise inside and were not compared; {too_large} are larger than"
                            " netc verify materialises, verified at smaller sizes by their own tests)")
        for f in failures:
            reporter.write_line(f"netc verify FAILED: {f}", red=True)
    if failures:
        session.exitstatus = 1
