"""Coverage-guided fuzzing of netc with atheris (libFuzzer): any bytes in, never a crash out.

    pip install -e ".[fuzz]"
    python tests/fuzz/atheris_netc.py -max_total_time=600 /tmp/netc-corpus
    python tests/fuzz/atheris_netc.py -runs=5000 -max_len=4096 /tmp/netc-corpus

The corpus folder is seeded with samples/*.net and samples/errors/*.net on the first run. libFuzzer's
options pass through (`-max_total_time`, `-runs`, `-jobs`, `-dict`, ...); a crash leaves `crash-<sha>` in the
current folder, which `python tests/fuzz/atheris_netc.py crash-<sha>` replays.

The first byte picks what the rest of the input is:
* even: `.net` source text (UTF-8, undecodable bytes replaced), mutated by libFuzzer from the samples;
* odd: a seed for tests/fuzz/programs.py, whose valid program is then cut and spliced at positions the
  remaining bytes choose: near-valid programs, which reach deeper into the elaborator than random text.
The properties (tests/fuzz/pipeline.py): the front end returns diagnostics that render, never raises; a
program that checks cleanly and is small generates code for both backends that parses and builds, and
`netc verify` finds the two backends in agreement (or reports, as a user error, why it cannot run).
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402,F401  - imported before instrumentation: only netc's own code is instrumented
import torch  # noqa: E402

torch.set_num_threads(1)

with atheris.instrument_imports(include=["netc"]):
    from netc.codegen.torch import CodegenError
    from netc.verify import VerifyError
    from tests.fuzz.pipeline import exercise, front_end
    from tests.fuzz.programs import program

SMALL = 200_000  # parameters: larger programs are checked but not run (time per input, not correctness)


def _text(data: bytes) -> str:
    if not data:
        return ""
    if data[0] % 2 == 0:
        return data[1:].decode("utf-8", errors="replace")
    fdp = atheris.FuzzedDataProvider(data[1:])
    text, _ = program(random.Random(fdp.ConsumeIntInRange(0, 2 ** 32)))
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        if not text:
            break
        a = fdp.ConsumeIntInRange(0, len(text) - 1)
        b = fdp.ConsumeIntInRange(a, min(len(text), a + 40))
        text = text[:a] + fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 8)) + text[b:]
    return text


def test_one_input(data: bytes) -> None:
    text = _text(data)
    result = front_end(text)
    if not result.ok or not result.graphs:
        return
    if any(g.num_params > SMALL for g in result.graphs.values()):
        return
    try:
        exercise(text, result)
    except (VerifyError, CodegenError):
        pass  # a reasoned refusal (sizes that never check, noise inside a block), shown to users as such


def seed_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        return
    for path in sorted((ROOT / "samples").glob("*.net")) + sorted((ROOT / "samples" / "errors").glob("*.net")):
        (folder / path.name).write_bytes(b"\x00" + path.read_bytes())


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:] if not a.startswith("-") and not Path(a).is_file()]
    for folder in folders:
        seed_corpus(folder)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
