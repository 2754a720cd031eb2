"""The U-Net's size requirement: H and W must be multiples of 16 for its four skips to line up.

The checker infers it from the concatenations (2*((H)//16) against (H)//8 at the deepest level), reports it at
the input when the `where` clause is missing, proves every concatenation from it when it is there, and
rejects sizes that break it. Snapshots of the exact diagnostics, and the set of accepted sizes against what
a hand-written PyTorch U-Net (milesial's, without its padding) accepts.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pytest
from click.testing import CliRunner

from netc.cli import main
from netc.dsl.compiler import compile_source
from netc.dsl.diagnostics import render_all
from netc.dsl.source import Source

from .conftest import SAMPLES

UNET = (SAMPLES / "unet.net").read_text(encoding="utf-8")
WHERE = " where H % 16 == 0, W % 16 == 0"


def _diagnostics(text: str, overrides: dict[str, int] | None = None) -> str:
    return render_all(compile_source(Source("unet.net", text), overrides).diagnostics)


def test_the_sample_states_the_requirement_and_checks_cleanly() -> None:
    assert WHERE in UNET
    result = compile_source(Source("unet.net", UNET))
    assert result.ok and not result.diagnostics.items  # no W002 "can't decide" warnings at the skips
    graph = result.graphs["UNet"]
    assert [c.text for c in graph.constraints] == ["H % 16 == 0", "W % 16 == 0"]
    assert str(graph.outputs[0][1].type) == "f32[B, 2, H, W]"


MISSING_WHERE = """\
error[E207]: `H` must be a multiple of 16 for the shapes to line up
  --> unet.net:45:33
   |
33 |         y = concat(skip, x, dim=1) -> DoubleConv(cout) as conv
   |             ---------------------- `concat` needs (H)//8 == 2*((H)//16) here
45 |     input img: f32[B, channels, H, W]
   |                                 ^ input `img` allows any H
   |
   = note: in `up1` (Up), instantiated at unet.net:55:21
   = help: H must be a multiple of 16: state it on the input with `where H % 16 == 0` (generated code can then check it)

error[E207]: `W` must be a multiple of 16 for the shapes to line up
  --> unet.net:45:36
   |
33 |         y = concat(skip, x, dim=1) -> DoubleConv(cout) as conv
   |             ---------------------- `concat` needs (W)//8 == 2*((W)//16) here
45 |     input img: f32[B, channels, H, W]
   |                                    ^ input `img` allows any W
   |
   = note: in `up1` (Up), instantiated at unet.net:55:21
   = help: W must be a multiple of 16: state it on the input with `where W % 16 == 0` (generated code can then check it)

2 errors found
"""


def test_missing_where_is_reported_at_the_input() -> None:
    assert _diagnostics(UNET.replace(WHERE, "")) == MISSING_WHERE


WEAK_WHERE = """\
error[E207]: `H` must be a multiple of 16 for the shapes to line up
  --> unet.net:45:33
   |
33 |         y = concat(skip, x, dim=1) -> DoubleConv(cout) as conv
   |             ---------------------- `concat` needs (H)//8 == 2*((H)//16) here
45 |     input img: f32[B, channels, H, W] where H % 8 == 0, W % 16 == 0
   |                                 ^ input `img` only promises a multiple of 8
   |
   = note: in `up1` (Up), instantiated at unet.net:55:21
   = help: H must be a multiple of 16: state it on the input with `where H % 16 == 0` (generated code can then check it)

1 error found
"""


def test_a_weaker_where_is_not_enough() -> None:
    assert _diagnostics(UNET.replace("where H % 16 == 0", "where H % 8 == 0")) == WEAK_WHERE


SET_H_100 = """\
error[E209]: constraint `H % 16 == 0` does not hold: H = 100 is not a multiple of 16
  --> samples/unet.net:45:45
   |
45 |     input img: f32[B, channels, H, W] where H % 16 == 0, W % 16 == 0
   |                                             ^^^^^^^^^^^ 100 % 16 is 4
   |
   = note: H = 100 comes from `--set H=100`
   = help: H must be a multiple of 16

1 error found
"""


def test_set_h_100_is_rejected_at_the_input(in_repo_root: Path) -> None:
    r = CliRunner().invoke(main, ["check", "samples/unet.net", "--set", "H=100"])
    assert r.exit_code == 1
    assert r.stderr == SET_H_100  # the cause only: the skips that would then differ are not reported again


def test_a_multiple_of_16_checks_with_concrete_shapes(in_repo_root: Path) -> None:
    r = CliRunner().invoke(main, ["check", "samples/unet.net", "--set", "H=96", "--set", "W=32", "--set", "B=1"])
    assert r.exit_code == 0, r.output
    assert "outputs: logits: f32[1, 2, 96, 32]" in r.stdout


def test_the_requirement_becomes_a_guard_in_generated_code() -> None:
    from netc.codegen import get_backend

    code = get_backend("torch").generate(compile_source(Source("unet.net", UNET)), guards=True).code
    assert "assert img.shape[2] % 16 == 0" in code and "assert img.shape[3] % 16 == 0" in code


torch = pytest.importorskip("torch")


@functools.cache
def _torch_unet_runs(h: int, w: int) -> bool:
    """milesial's U-Net without the padding in `Up`, at a small width: does torch accept an h x w image?"""
    from .test_gen_models import UNet

    torch.manual_seed(0)
    model = UNet(base=2).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread only adds synchronisation (10 s vs 0.04 s here)
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w))
    except RuntimeError:  # torch.cat: "Sizes of tensors must match except in dimension 1"
        return False
    finally:
        torch.set_num_threads(threads)
    return True


@pytest.mark.parametrize("with_where", [True, False], ids=["where", "no-where"])
def test_accepted_sizes_are_the_ones_torch_runs(with_where: bool) -> None:
    """netc accepts exactly the sizes the PyTorch model runs on; with the `where`, the error is at the input."""
    text = UNET if with_where else UNET.replace(WHERE, "")
    for h in range(16, 49):  # every residue mod 16, three multiples of 16
        result = compile_source(Source("unet.net", text), {"H": h, "W": 16, "base": 2})
        assert result.ok == _torch_unet_runs(h, 16), h
        if not result.ok:
            codes = {d.code for d in result.diagnostics.errors}
            assert codes == ({"E209"} if with_where else {"E200"}), (h, codes)
