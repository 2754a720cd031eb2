"""Shared test helpers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
# A copy of ../shared/reference (torchvision state_dict layouts), vendored so a clean clone can run the tests.
REFERENCE = ROOT / "tests" / "reference"


@pytest.fixture
def in_repo_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run with the repository root as working directory, so paths in diagnostics are relative."""
    monkeypatch.chdir(ROOT)
    return ROOT


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
