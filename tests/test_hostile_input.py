"""Hostile and broken input (issue 17): every reproducer of the issue, as a regression test.

The rule they pin: a user's input, however large, strange or malicious, gets a located `error[CODE]` (exit 1)
or a usage error (exit 2), never `internal error` (exit 3); netc never writes where it should not, never
reads what it should not, and never hangs or exhausts memory on the way to saying so.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

import netc
from netc.cli import main
from netc.codegen import get_backend, numpy_ref
from netc.codegen.base import UnwritableOutput, write_atomic

from .conftest import SAMPLES

torch = pytest.importorskip("torch")


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    r = CliRunner().invoke(main, list(args), env=env)
    assert "internal error" not in r.output and "Traceback" not in r.output, r.output
    assert r.exit_code in (0, 1, 2), (r.exit_code, r.output, r.exception)
    return r


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- 1. resource limits as diagnostics -------------------------------------------------------------------------
def test_a_source_past_the_size_limit_is_e106_before_it_is_read(tmp_path: Path) -> None:
    # was: a 50 MB file ran 5 min 45 s to a 9.9 GB peak and a MemoryError. The limit is checked on the file's
    # size, so a file 10x the (lowered) limit costs nothing; bench/bench_limits.py times the real 50 MB case.
    big = write(tmp_path / "big.net", "network N {\n    input x: f32[B, 4]\n    output x\n}\n" + "# pad\n" * 2000)
    r = run("check", str(big), env={"NETC_MAX_SOURCE_BYTES": "1000"})
    assert r.exit_code == 1 and "error[E106]" in r.stderr and "too large" in r.stderr
    assert "NETC_MAX_SOURCE_BYTES" in r.stderr  # the hint says how to raise it
    assert run("check", str(big), env={"NETC_MAX_SOURCE_BYTES": "100000"}).exit_code == 0


def test_dev_zero_as_the_input_file_is_e105() -> None:
    # was: MemoryError (read without end)
    r = run("check", "/dev/zero")
    assert r.exit_code == 1 and "error[E105]" in r.stderr and "not a regular file" in r.stderr


def test_a_fifo_as_the_input_file_is_e105_not_a_hang(tmp_path: Path) -> None:
    # was: a hang (open() of a FIFO blocks until a writer comes)
    fifo = tmp_path / "pipe.net"
    os.mkfifo(fifo)
    r = run("check", str(fifo))
    assert r.exit_code == 1 and "error[E105]" in r.stderr and "not a regular file" in r.stderr


def test_lstm_with_2_to_the_31_layers_is_e211_at_the_argument_and_its_default(tmp_path: Path) -> None:
    # was: memory grew until MemoryError (one parameter set per stacked layer)
    text = ("network N(layers: int = 2147483648) {\n    input x: f32[T, B, 4]\n"
            "    output x -> LSTM(8, layers)\n}\n")
    r = run("check", str(write(tmp_path / "lstm.net", text)))
    assert r.exit_code == 1 and "error[E211]" in r.stderr and "2,147,483,648" in r.stderr
    assert "lstm.net:3:25" in r.stderr  # the caret is at `layers`, the argument at fault
    assert "`layers` is 2147483648 by default" in r.stderr  # and the header's default is pointed at too


def test_too_many_parameters_is_e212(tmp_path: Path) -> None:
    path = write(tmp_path / "clf.net", "network C(classes: int = 10) {\n    input x: f32[B, 84]\n"
                                       "    output x -> Linear(classes)\n}\n")
    r = run("check", str(path), "--set", "classes=1000000000000")
    assert r.exit_code == 1 and "error[E212]" in r.stderr and "85,000,000,000,000 parameters" in r.stderr
    # 84 * 10**12 weights + 10**12 biases, hand-counted
    r = run("verify", str(path), "--set", "classes=1000000000000")
    assert r.exit_code == 1 and "error[E212]" in r.stderr


def test_verify_with_a_batch_of_2_to_the_63_is_e213(tmp_path: Path) -> None:
    path = write(tmp_path / "v.net", "network V {\n    input x: f32[B, 4]\n    output x -> Linear(4)\n}\n")
    r = run("verify", str(path), "--set", "B=9223372036854775807")
    assert r.exit_code == 1 and "error[E213]" in r.stderr and "36,893,488,147,419,103,228 elements" in r.stderr


def test_verify_refuses_sizes_past_its_budget_before_allocating(tmp_path: Path) -> None:
    # 10**7 classes: 8.5e8 elements of weights, fine for `check` but several GB for verify's two backends
    path = write(tmp_path / "clf.net", "network C(classes: int = 10) {\n    input x: f32[B, 84]\n"
                                       "    output x -> Linear(classes)\n}\n")
    r = run("verify", str(path), "--set", "classes=10000000")
    assert r.exit_code == 1 and "870,000,168 elements" in r.stderr and "NETC_VERIFY_MAX_ELEMENTS" in r.stderr


# -- 2. names that survive Python ------------------------------------------------------------------------------
MANGLED = """
block __(__: int = 2) {
    input x: f32[B, 4]
    output x -> Linear(__)
}
network N {
    input x: f32[B, 4]
    output x -> __(__=4) -> __
}
"""


@pytest.mark.parametrize("target", ["torch", "numpy"])
def test_double_underscore_names_are_not_mangled(target: str) -> None:
    # was: `NameError: name '_N__1'` (Python mangles `__1` inside class N) and `__` as a keyword argument
    result = netc.check_source(MANGLED, "mangled.net")
    code = get_backend(target).generate(result).code
    ids = set(re.findall(r"\b__\w*", code))
    assert {i for i in ids if not i.endswith("__")} == set(), ids  # no identifier Python would mangle
    if target == "torch":
        model = get_backend("torch").build(result)()
        assert model(torch.randn(2, 4)).shape == (2, 2)
    else:
        model = numpy_ref.build(result)({k.key: np.ones(k.shape) for k in result.graphs["N"].state_dict()},
                                        dtype="float64")
        # all-ones weights: 4 ones + bias 1 = 5 in each of 4 features, then 4 * 5 + 1 = 21 in each of 2
        np.testing.assert_array_equal(model(np.ones((2, 4))), np.full((2, 2), 21.0))


@pytest.mark.parametrize("name", ["eval", "class", "forward", "training", "state_dict", "_1"])
def test_gpt2_tie_follows_a_renamed_attribute(name: str) -> None:
    # was: the attribute became `eval_1` while the tie still read get_parameter('eval.wte.weight'): an
    # AttributeError at construction, and `netc verify` an internal error
    text = (SAMPLES / "gpt2.net").read_text(encoding="utf-8").replace("as transformer", f"as {name}")
    assert f"as {name}" in text
    small = {"vocab": 50, "ctx": 8, "d": 16, "layers": 1, "heads": 2}
    result = netc.check_source(text, "gpt2.net", small)
    model = get_backend("torch").build(result)()
    sub = dict(model.named_children())
    attr = next(k for k in sub if k not in ("lm_head",))
    assert isinstance(model.training, bool) and callable(model.eval) and callable(model.forward)
    assert model.lm_head.weight is getattr(model, attr).wte.weight  # the tie is the same Parameter
    assert model(torch.randint(0, 50, (2, 8))).shape == (2, 8, 50)
    # the torch module (renamed) and the NumPy one (IR keys) agree layer by layer
    from netc.verify import verify_network

    report = verify_network(result, netc.Source("gpt2.net", text), small, "GPT2", "float64", 0)
    assert report.ok and f"{name}.wte" not in report.unmatched  # the renamed layers were compared


def test_renamed_layers_are_compared_by_verify(tmp_path: Path) -> None:
    path = write(tmp_path / "r.net", "network R {\n    input x: f32[B, 4]\n"
                                     "    output x -> Linear(4) as eval -> Linear(4) as class\n}\n")
    r = run("verify", str(path))
    assert r.exit_code == 0 and "2 layers compared" in r.stdout, r.output


def test_confusable_and_mixed_script_identifiers_warn(tmp_path: Path) -> None:
    text = ("network N {\n    input x: f32[B, 4]\n    y = x -> Linear(4) as fc1\n"
            "    z = y -> Linear(4) as f\u04411\n    w = z -> Linear(4) as p\u03bfol\n    output w\n}\n")
    r = run("check", str(write(tmp_path / "c.net", text)))
    assert r.exit_code == 0
    assert "warning[W003]: `f\u04411` looks like `fc1`" in r.stderr
    assert "cyrillic small letter es" in r.stderr
    assert "warning[W003]: `p\u03bfol` mixes Latin and Greek letters" in r.stderr


def test_an_ascii_file_has_no_confusable_warnings(tmp_path: Path) -> None:
    text = "network N {\n    input x: f32[B, 4]\n    y = x -> Linear(4) as fc1\n    output y -> Linear(4) as fcl\n}\n"
    assert "W003" not in run("check", str(write(tmp_path / "a.net", text))).stderr


# -- 3. writes that respect the file system ---------------------------------------------------------------------
LENET = str(SAMPLES / "lenet5.net")


def test_output_onto_a_non_regular_file_is_refused(tmp_path: Path) -> None:
    # was (as root): `-o /dev/full` replaced the device node with a regular file. A FIFO and a folder stand in
    # for the device here, so a regression cannot damage the machine running the tests.
    fifo = tmp_path / "out.py"
    os.mkfifo(fifo)
    r = run("compile", LENET, "-o", str(fifo))
    assert r.exit_code == 2 and "not a regular file" in r.stderr and str(fifo) in r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    (tmp_path / "folder.svg").mkdir()
    r = run("viz", LENET, "-o", str(tmp_path / "folder.svg"))
    assert r.exit_code == 2 and "is a directory" in r.stderr and (tmp_path / "folder.svg").is_dir()  # click's check
    with pytest.raises(UnwritableOutput, match="it is a folder"):  # the writer's own, for every other caller
        write_atomic(tmp_path / "folder.svg", "x")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_dev_full_is_left_a_device() -> None:
    r = run("compile", LENET, "-o", "/dev/full")
    assert r.exit_code == 2 and "not a regular file" in r.stderr
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_read_only_output_is_refused_and_kept(tmp_path: Path) -> None:
    # was: overwritten and made 0644
    out = tmp_path / "ro.py"
    out.write_text("keep me\n")
    out.chmod(0o444)
    r = run("compile", LENET, "-o", str(out))
    assert r.exit_code == 2 and "read-only" in r.stderr and str(out) in r.stderr
    assert out.read_text() == "keep me\n" and stat.S_IMODE(out.stat().st_mode) == 0o444


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    out = tmp_path / "model.py"
    out.write_text("old\n")
    out.chmod(0o640)
    assert run("compile", LENET, "-o", str(out)).exit_code == 0
    assert "class LeNet5" in out.read_text() and stat.S_IMODE(out.stat().st_mode) == 0o640


def test_a_symlink_output_is_followed_and_kept(tmp_path: Path) -> None:
    # was: the link was replaced by a regular file; now it is followed, as a shell's `>` does
    real = tmp_path / "real.py"
    real.write_text("old\n")
    link = tmp_path / "link.py"
    link.symlink_to(real.name)
    assert run("compile", LENET, "-o", str(link)).exit_code == 0
    assert link.is_symlink() and "class LeNet5" in real.read_text()


def test_a_missing_output_folder_is_not_created(tmp_path: Path) -> None:
    r = run("compile", LENET, "-o", str(tmp_path / "no" / "such" / "model.py"))
    assert r.exit_code == 2 and "does not exist" in r.stderr and not (tmp_path / "no").exists()
    r = run("viz", LENET, "-o", str(tmp_path / "nope" / "d.dot"))
    assert r.exit_code == 2 and not (tmp_path / "nope").exists()


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs /proc")
def test_unwritable_system_paths_are_usage_errors() -> None:
    # was: internal errors (exit 3)
    r = run("compile", LENET, "-o", "/proc/version")
    assert r.exit_code == 2 and "/proc/version" in r.stderr
    r = run("viz", LENET, "-o", "/proc/nope.dot")
    assert r.exit_code == 2 and "/proc/nope.dot" in r.stderr


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs /proc")
def test_train_out_in_proc_is_a_usage_error(tmp_path: Path) -> None:
    # was: internal error (mkdir under /proc)
    text = (SAMPLES / "digits_mlp.net").read_text(encoding="utf-8")
    path = write(tmp_path / "d.net", text)
    r = run("train", str(path), "--epochs", "1", "--out", "/proc/nope", "--no-progress")
    assert r.exit_code == 2 and "/proc/nope" in r.stderr


# -- 4. reads that stay in bounds -----------------------------------------------------------------------------
NET = "network N {\n    input x: f32[B, 4]\n    output x -> relu\n}\n"


@pytest.mark.parametrize("target", ["../../../../../../../../etc/passwd", "/etc/passwd", "/etc/shadow",
                                    "/etc/hostname"])
def test_imports_of_system_files_are_refused_unread(tmp_path: Path, target: str) -> None:
    # was: read, and the first line printed in the error (as root, the root entry of the shadow file)
    r = run("check", str(write(tmp_path / "m.net", f'import "{target}"\n' + NET)))
    assert r.exit_code == 1 and "error[E404]" in r.stderr
    for secret in ("/etc/passwd", "/etc/shadow", "/etc/hostname"):
        try:
            first = Path(secret).read_text().splitlines()[0]
        except (OSError, IndexError):
            continue
        assert first not in r.output


def test_an_import_outside_the_project_is_refused_even_if_named_net(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    write(outside / "lib.net", "block Lib {\n    input x: f32[B, 4]\n    output x\n}\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    main_file = write(proj / "m.net", 'import "../outside/lib.net"\n' + NET)
    r = run("check", str(main_file))
    assert r.exit_code == 1 and "outside the project" in r.stderr and "--import-path" in r.stderr
    # ... unless the user names the folder, on the command line or in the environment
    assert run("--import-path", str(outside), "check", str(main_file)).exit_code == 0
    assert run("check", str(main_file), env={"NETC_IMPORT_PATH": str(outside)}).exit_code == 0
    # a symlink inside the project that leads outside is resolved first, so it is refused too
    (proj / "sneaky.net").symlink_to(outside / "lib.net")
    r = run("check", str(write(proj / "s.net", 'import "sneaky.net"\n' + NET)))
    assert r.exit_code == 1 and "outside the project" in r.stderr


def test_imports_in_subfolders_of_the_project_still_work(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib" / "blocks.net", "block Lib {\n    input x: f32[B, 4]\n    output x -> relu\n}\n")
    r = run("check", str(write(tmp_path / "m.net", 'import "lib/blocks.net"\n'
                                                   "network N {\n    input x: f32[B, 4]\n    output x -> Lib\n}\n")))
    assert r.exit_code == 0, r.output


def test_a_symlink_loop_is_e404(tmp_path: Path) -> None:
    # was: internal error: RuntimeError: Symlink loop
    (tmp_path / "a.net").symlink_to("b.net")
    (tmp_path / "b.net").symlink_to("a.net")
    r = run("check", str(write(tmp_path / "m.net", 'import "a.net"\n' + NET)))
    assert r.exit_code == 1 and "error[E404]" in r.stderr and "symlink loop" in r.stderr


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    # was: E103 at 1:1
    path = tmp_path / "bom.net"
    path.write_bytes(b"\xef\xbb\xbf" + NET.encode())
    r = run("check", str(path))
    assert r.exit_code == 0 and "total parameters: 0" in r.stdout
    write(tmp_path / "lib.net", "\ufeffblock Lib {\n    input x: f32[B, 4]\n    output x\n}\n")
    assert run("check", str(write(tmp_path / "m.net", 'import "lib.net"\n' + NET))).exit_code == 0
    assert netc.check_source("\ufeff" + NET).ok  # text in memory (an editor's buffer) too
    r = run("check", str(write(tmp_path / "bad.net", "\ufeffnetwork N {\n  input x: f32[B, 4]\n  output y\n}\n")))
    assert "bad.net:3:10" in r.stderr  # columns on the first lines are not shifted by the mark


# -- 5. the other defects -------------------------------------------------------------------------------------
def test_viz_of_a_network_without_layers_renders(tmp_path: Path) -> None:
    # was: `<TR></TR>` in the legend, which Graphviz rejects (exit 3)
    path = write(tmp_path / "e.net", "network E {\n    input x: f32[B, 4]\n    output x\n}\n")
    r = run("viz", str(path), "-o", str(tmp_path / "e.svg"))
    assert r.exit_code == 0 and (tmp_path / "e.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_viz_draws_an_80_term_sum_as_one_node(tmp_path: Path) -> None:
    # was: 79 chained add nodes, 129 s in Graphviz
    inputs = "".join(f"    input x{i}: f32[B, 4]\n" for i in range(80))
    path = write(tmp_path / "s.net", "network S {\n" + inputs + "    output " + " + ".join(f"x{i}" for i in range(80))
                 + "\n}\n")
    r = run("viz", str(path), "-o", str(tmp_path / "s.dot"))
    assert r.exit_code == 0
    dot = (tmp_path / "s.dot").read_text()
    # one node: its declaration, 80 edges in (one per input), one out (to the output): 82 mentions
    assert dot.count("of 80 terms") == 1 and dot.count("op-add") == 82
    assert run("viz", str(path), "-o", str(tmp_path / "s.svg")).exit_code == 0


def test_a_sum_whose_partial_result_is_used_elsewhere_is_not_folded(tmp_path: Path) -> None:
    path = write(tmp_path / "p.net", "network P {\n    input a: f32[B, 4]\n    input b: f32[B, 4]\n"
                                     "    s = a + b\n    t = s + a\n    output t, s\n}\n")
    run("viz", str(path), "-o", str(tmp_path / "p.dot"))
    assert "terms" not in (tmp_path / "p.dot").read_text()


def test_errors_come_before_warnings(tmp_path: Path) -> None:
    # was: a warning on an earlier line printed first, so the first location pointed at the warning
    text = "network N {\n    input unused: f32[B, 4]\n    input x: f32[B, 4]\n    output x -> Linnear(4)\n}\n"
    r = run("check", str(write(tmp_path / "o.net", text)))
    assert r.exit_code == 1
    assert r.stderr.index("error[E301]") < r.stderr.index("warning[W001]")
    assert r.stderr.startswith("error[E301]")


def test_an_error_from_a_default_points_at_the_default(tmp_path: Path) -> None:
    text = "network N(layers: int = 0) {\n    input x: f32[T, B, 4]\n    output x -> LSTM(8, layers)\n}\n"
    r = run("check", str(write(tmp_path / "d.net", text)))
    assert r.exit_code == 1 and "error[E305]" in r.stderr
    lines = r.stderr.splitlines()
    assert "1 | network N(layers: int = 0) {" in lines[3]
    assert lines[4].endswith("- `layers` is 0 by default") and lines[4].index("-") == lines[3].index("0) {")

