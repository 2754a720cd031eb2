"""Fuzzing with depth: thousands of random valid programs through check, both backends, verify and the DOT writer.

tests/test_fuzz.py throws broken text at the front end; this file generates programs that are valid by
construction (tests/fuzz/programs.py tracks every value's shape while writing them, and draws layer and value
names from a list of hostile ones) and takes each through everything netc does with a program
(tests/fuzz/pipeline.py): the front end, PyTorch and NumPy code generation (`ast.parse`, import, build),
`netc verify`'s layer-by-layer comparison of the two backends on random weights and inputs, the output shapes
against the generator's, and the DOT writer (every 100th diagram laid out by Graphviz).

    NETC_FUZZ_SCALE=50 pytest tests/test_fuzz_deep.py      # 100,000 programs instead of 2,000
    NETC_FUZZ_SEED=12345 pytest tests/test_fuzz_deep.py    # another stretch of seeds (default 0)

A failure prints the seed and the program; `program(random.Random(seed))` regenerates it.
"""
from __future__ import annotations

import os
import random
import shutil
import time

import pytest

from .conftest import unrecorded
from .fuzz.pipeline import exercise, front_end
from .fuzz.programs import program

pytest.importorskip("torch")

SCALE = float(os.environ.get("NETC_FUZZ_SCALE", "1"))
SEED = int(os.environ.get("NETC_FUZZ_SEED", "0"))
PROGRAMS = max(1, int(2000 * SCALE))
RENDER_EVERY = 100


def test_generated_programs_pass_every_backend() -> None:
    render = shutil.which("dot") is not None
    valid = 0
    started = time.perf_counter()
    with unrecorded():  # each program is verified here; conftest's session-end verify need not repeat it
        for i, seed in enumerate(range(SEED, SEED + PROGRAMS)):
            text, shapes = program(random.Random(seed))
            result = front_end(text)
            try:
                assert result.ok, "the generator wrote a program the front end rejects"
                exercise(text, result, shapes, render=render and i % RENDER_EVERY == 0)
            except AssertionError as exc:
                raise AssertionError(f"seed {seed}: {exc}\n--- program ---\n{text}") from None
            valid += 1
    assert valid == PROGRAMS >= 2000 * min(SCALE, 1)
    print(f"{valid} valid programs through check, torch, numpy, verify and DOT in "
          f"{time.perf_counter() - started:.1f} s")
