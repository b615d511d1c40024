"""Issue 7, CLI side: every command × every kind of bad input gives an exit code and one
positioned line, never a traceback; outputs are deterministic and inputs are never touched.

The matrix runs the commands in-process through ``prototxt_tools.cli.main`` (an exception that
escapes ``main`` fails the test, which is exactly "no traceback"); a few cases also run as real
processes to check what a user sees on the terminal.

Expected lines are stated by hand per kind: the error's position is the place in the file the
test wrote (line/column counted in the text below), or the byte offset for a caffemodel.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from prototxt_tools.cli import main

from conftest import SAMPLES

ONNX_AVAILABLE = True
try:  # the onnx command needs the optional onnx extra
    import onnx  # noqa: F401
except ImportError:  # pragma: no cover - the test extra installs it
    ONNX_AVAILABLE = False

INPUT = 'layer { name: "a" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
GOOD = 'name: "x"\n' + INPUT + \
    'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 10 } }\n'

# kind -> file content (bytes).  Positions quoted in EXPECTED are counted in these texts.
CONTENT: dict[str, bytes] = {
    # line 3, col 7: the '{' that is never closed
    "syntax": ('name: "x"\n' + INPUT + 'layer { name: "b"\n').encode(),
    # line 3 col 56: relu_parm (a misspelling: a warning, the field is skipped)
    "unknown-field": ('name: "x"\n' + INPUT + 'layer { name: "c" type: "ReLU" bottom: "data" '
                      'top: "r" relu_parm { negative_slope: 0.1 } }\n').encode(),
    # line 3 col 19: the type value
    "unknown-type": ('name: "x"\n' + INPUT + 'layer { name: "c" type: "FancyLayer" bottom: "data" '
                     'top: "r" }\n').encode(),
    # line 3 col 32: bottom "d" of c is produced later by d, which reads c's top
    "cycle": ('name: "x"\n' + INPUT + 'layer { name: "c" type: "ReLU" bottom: "d" top: "e" }\n'
              'layer { name: "d" type: "ReLU" bottom: "e" top: "d" }\n').encode(),
    # line 3 col 32: bottom "nothere"
    "undefined-blob": ('name: "x"\n' + INPUT + 'layer { name: "c" type: "ReLU" bottom: "nothere" '
                       'top: "e" }\n').encode(),
    "empty": b"",
    # not text at all: NUL and high bytes from the start (a caffemodel given as the net)
    "binary-garbage": bytes(range(256)) * 4,
    # a Latin-1 comment: Caffe never decodes comments, we read it as Latin-1 with a warning
    "non-utf8-comment": b'# caf\xe9 au lait\n' + GOOD.encode(),
    # a Latin-1 byte inside a string value: protobuf string fields must be UTF-8
    "non-utf8-string": b'name: "caf\xe9"\n' + INPUT.encode(),
}

COMMANDS = ("dump", "upgrade", "shapes", "lint", "fc-to-conv", "deploy", "onnx")


def argv_for(command: str, net: Path, out_dir: Path) -> list[str]:
    """The plainest invocation of ``command`` on ``net``, writing into ``out_dir``."""
    return {
        "dump": ["dump", str(net)],
        "upgrade": ["upgrade", str(net), "-o", str(out_dir / "up.prototxt")],
        "shapes": ["shapes", str(net)],
        "lint": ["lint", "--isolated", str(net)],
        "fc-to-conv": ["fc-to-conv", str(net), "-o", str(out_dir / "conv.prototxt")],
        "deploy": ["deploy", str(net), "-o", str(out_dir / "deploy.prototxt")],
        "onnx": ["onnx", str(net), "-o", str(out_dir / "net.onnx"), "--random-weights", "0"],
    }[command]


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if ": error: " in line]


def assert_one_error_line(err: str, path: Path, where: str | None) -> str:
    """stderr is exactly one line ``path[:line:col | : byte N]: error: ...``."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    prefix = str(path) + (f":{where}" if where else "")
    assert re.match(re.escape(prefix) + r"(: byte \d+)?: error: \S", line), line
    return line


# -- the matrix: kind x command -> (exit code, position of the one error line) ----------------
# Per command contract (cli/__init__.py): 2 = could not run; ``lint`` reports a bad file as a
# finding (exit 1, diagnostic on stdout) and ``shapes`` reports layers Caffe refuses after the
# table (exit 1).  ``dump`` and ``upgrade`` do not interpret the graph, so a cycle is no error
# for them (dump lists it as a graph issue).
E = "error"
EXPECTED: dict[str, dict[str, tuple]] = {
    "syntax": {c: (2, "3:7") for c in COMMANDS} | {"lint": (1, "3:7", "E001")},
    "unknown-type": {"dump": (0,), "upgrade": (0,), "shapes": (1, "3:19"),
                     "lint": (1, "3:19", "E106"), "fc-to-conv": (0,), "deploy": (0,),
                     "onnx": (2, "3:19")},
    "cycle": {"dump": (0,), "upgrade": (0,), "shapes": (2, "3:32"), "lint": (1, "3:32", "E104"),
              "fc-to-conv": (2, "3:32"), "deploy": (2, "3:32"), "onnx": (2, "3:32")},
    "undefined-blob": {"dump": (0,), "upgrade": (0,), "shapes": (2, "3:32"),
                       "lint": (1, "3:32", "E101"), "fc-to-conv": (2, "3:32"),
                       "deploy": (2, "3:32"), "onnx": (2, "3:32")},
    "binary-garbage": {c: (2, "1:1") for c in COMMANDS} | {"lint": (1, "1:1", "E001")},
    "non-utf8-string": {c: (2, "1:7") for c in COMMANDS} | {"lint": (1, "1:7", "E004")},
}


def matrix_cases():
    for kind, per_command in EXPECTED.items():
        for command, expected in per_command.items():
            yield pytest.param(kind, command, expected, id=f"{kind}-{command}")


def skip_without_onnx(command: str) -> None:
    if command == "onnx" and not ONNX_AVAILABLE:
        pytest.skip("onnx is not installed")


@pytest.mark.parametrize("kind, command, expected", list(matrix_cases()))
def test_bad_input_matrix(kind, command, expected, tmp_path, capsys):
    skip_without_onnx(command)
    net = tmp_path / f"{kind}.prototxt"
    net.write_bytes(CONTENT[kind])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(argv_for(command, net, out_dir), capsys)
    assert code == expected[0], (out, err)
    if command == "lint" and code == 1:
        where, rule = expected[1], expected[2]
        assert f"{net}:{where}: {rule} " in out, out
        return
    if code == 2:
        assert_one_error_line(err, net, expected[1])
        assert not any(out_dir.iterdir()), "a failed command wrote output"
    elif code == 1:  # shapes: the table, then the refused layer at its line
        assert [l for l in error_lines(err) if l.startswith(f"{net}:{expected[1]}: error: ")], err
    else:
        assert not error_lines(err), err
    assert net.read_bytes() == CONTENT[kind], "the input was modified"


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_field_is_a_warning_not_an_error(command, tmp_path, capsys):
    skip_without_onnx(command)
    net = tmp_path / "typo.prototxt"
    net.write_bytes(CONTENT["unknown-field"])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(argv_for(command, net, out_dir), capsys)
    if command == "lint":  # Caffe's parser refuses unknown fields: lint reports it as E002
        assert code == 1 and f"{net}:3:56: E002 " in out, out
        return
    assert code == 0, err
    assert f"{net}:3:56: warning: " in err and "relu_param" in err, err
    assert not error_lines(err)


@pytest.mark.parametrize("command", COMMANDS)
def test_non_utf8_comment_reads_as_latin1_with_a_warning(command, tmp_path, capsys):
    skip_without_onnx(command)
    net = tmp_path / "latin1.prototxt"
    net.write_bytes(CONTENT["non-utf8-comment"])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(argv_for(command, net, out_dir), capsys)
    assert not error_lines(err), err
    assert code == 0 or (command == "lint" and code == 1 and f"{net}:1:6: W002 " in out), out
    for written in out_dir.iterdir():
        if written.suffix == ".prototxt" and command != "upgrade":
            # minimal-edit commands keep the file's bytes, the Latin-1 comment included
            assert written.read_bytes().startswith(b"# caf\xe9 au lait\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_empty_file_is_an_empty_net(command, tmp_path, capsys):
    """Caffe builds an empty NetParameter without complaint; so do we (no crash, no error)."""
    skip_without_onnx(command)
    net = tmp_path / "empty.prototxt"
    net.write_bytes(b"")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(argv_for(command, net, out_dir), capsys)
    assert code == 0 and not error_lines(err), err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", ["directory", "dangling-symlink", "missing"])
def test_unreadable_input(kind, command, tmp_path, capsys):
    """Tests run as root (chmod 000 is no obstacle), so unreadable = a directory, a dangling
    symlink or a missing path.  ``lint`` searches a directory for nets (none here: exit 0)."""
    skip_without_onnx(command)
    net = tmp_path / "net.prototxt"
    if kind == "directory":
        net.mkdir()
    elif kind == "dangling-symlink":
        net.symlink_to(tmp_path / "gone.prototxt")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(argv_for(command, net, out_dir), capsys)
    if command == "lint" and kind == "directory":
        assert code == 0 and not error_lines(err)
        return
    assert code == 2
    line = assert_one_error_line(err, net, None)
    assert ".tmp" not in line
    assert not any(out_dir.iterdir())


# -- caffemodels: truncated, a directory, garbage ---------------------------------------------

def tiny_model_cut(tmp_path: Path) -> Path:
    data = (SAMPLES / "tiny_convnet.caffemodel").read_bytes()
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(data[: len(data) * 2 // 3])
    return cut


def caffemodel_argv(command: str, model: Path, out_dir: Path) -> list[str]:
    net = str(SAMPLES / "tiny_convnet.prototxt")
    return {
        "dump": ["dump", str(model)],
        "upgrade": ["upgrade", str(model), "-o", str(out_dir / "up.caffemodel")],
        "fc-to-conv": ["fc-to-conv", net, "-o", str(out_dir / "conv.prototxt"), "--weights",
                       str(model), "--weights-out", str(out_dir / "conv.caffemodel")],
        "onnx": ["onnx", net, "-o", str(out_dir / "net.onnx"), "--weights", str(model)],
        "lint": ["lint", "--isolated", net, "--weights", str(model)],
    }[command]


CAFFEMODEL_COMMANDS = ("dump", "upgrade", "fc-to-conv", "onnx", "lint")


@pytest.mark.parametrize("command", CAFFEMODEL_COMMANDS)
@pytest.mark.parametrize("kind", ["truncated", "directory", "garbage"])
def test_bad_caffemodel(kind, command, tmp_path, capsys):
    skip_without_onnx(command)
    if kind == "truncated":
        model = tiny_model_cut(tmp_path)
    elif kind == "directory":
        model = tmp_path / "dir.caffemodel"
        model.mkdir()
    else:
        model = tmp_path / "garbage.caffemodel"
        model.write_bytes(b"\xff" * 64)  # a varint that never ends
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(caffemodel_argv(command, model, out_dir), capsys)
    if command == "lint":
        # lint reports the unreadable weights as E300 (or refuses a --weights that is no file)
        assert (code == 1 and " E300 " in out) or (code == 2 and "--weights" in err), (out, err)
        return
    assert code == 2, (out, err)
    line = assert_one_error_line(err, model, None)
    assert ".tmp" not in line
    if kind != "directory":
        assert re.search(r": byte \d+: error: ", line), line
    assert not any(out_dir.iterdir()), "a failed command wrote output"


# -- absurd --input dimensions ----------------------------------------------------------------

TRAIN_VAL = """name: "tv"
layer { name: "data" type: "Data" top: "data" top: "label" data_param { source: "db" batch_size: 4 } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 10 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
"""

HUGE = "1,3,100000000000,100000000000"  # 3e22 elements: over Caffe's INT_MAX count


def absurd_argv(command: str, net: Path, train_val: Path, dims: str, out_dir: Path) -> list[str]:
    return {
        "shapes": ["shapes", str(net), "--input", f"data={dims}"],
        "lint": ["lint", "--isolated", str(net), "--input", f"data={dims}"],
        "fc-to-conv": ["fc-to-conv", str(net), "-o", str(out_dir / "c.prototxt"), "--input",
                       f"data={dims}"],
        "deploy": ["deploy", str(train_val), "-o", str(out_dir / "d.prototxt"), "--input",
                   f"data={dims}"],
        "onnx": ["onnx", str(net), "-o", str(out_dir / "n.onnx"), "--random-weights", "0",
                 "--input", f"data={dims}"],
    }[command]


@pytest.mark.parametrize("command", ["shapes", "lint", "fc-to-conv", "deploy", "onnx"])
@pytest.mark.parametrize("dims, kind", [
    (HUGE, "too-large"),
    ("1,3,8," + ",".join(["2"] * 30), "too-many-axes"),          # 33 axes > kMaxBlobAxes
    ("1,3,-5,8", "malformed"), ("1,3,,8", "malformed"), ("1,3,x,8", "malformed"),
    ("", "malformed"), ("1,3,8e3,8", "malformed"),
])
def test_absurd_input_dims(command, dims, kind, tmp_path, capsys):
    skip_without_onnx(command)
    net = tmp_path / "net.prototxt"
    net.write_text(GOOD)
    train_val = tmp_path / "train_val.prototxt"
    train_val.write_text(TRAIN_VAL)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run_main(absurd_argv(command, net, train_val, dims, out_dir), capsys)
    assert not any(out_dir.iterdir()), "a refused command wrote output"
    if kind == "malformed":
        assert code == 2 and len(err.strip().splitlines()) == 1 and ": error: " in err, err
        assert "input override" in err
        return
    if command in ("shapes", "lint"):
        # the net runs through to the table / the findings: the Input layer is the culprit
        assert code == 1
        where = f"{net}:2:33"
        assert (f"{where}: error: " in err) or (f"{where}: E2" in out), (out, err)
        return
    assert code == 2
    if command == "deploy":  # the Data layer whose top the deploy net's Input replaces
        assert_one_error_line(err, train_val, "2:1")
    else:
        assert_one_error_line(err, net, "2:33")


# -- determinism --------------------------------------------------------------------------------

def _run_twice(tmp_path: Path, argv_of) -> list[tuple[bytes, bytes]]:
    outputs = []
    for attempt in ("a", "b"):
        out_dir = tmp_path / attempt
        out_dir.mkdir()
        assert main(argv_of(out_dir)) == 0
        outputs.append({p.name: p.read_bytes() for p in sorted(out_dir.iterdir())})
    return outputs


@pytest.mark.parametrize("case", ["upgrade-prototxt", "upgrade-caffemodel", "fc-to-conv",
                                  "deploy", "onnx"])
def test_outputs_are_byte_identical_across_runs(case, tmp_path, capsys):
    skip_without_onnx(case)
    net = SAMPLES / "tiny_convnet.prototxt"
    model = SAMPLES / "tiny_convnet.caffemodel"
    argv_of = {
        "upgrade-prototxt": lambda d: ["upgrade", str(SAMPLES / "lenet_v1.prototxt"), "-o",
                                       str(d / "lenet.prototxt")],
        "upgrade-caffemodel": lambda d: ["upgrade", str(model), "-o", str(d / "up.caffemodel")],
        "fc-to-conv": lambda d: ["fc-to-conv", str(net), "-o", str(d / "c.prototxt"),
                                 "--weights", str(model), "--weights-out",
                                 str(d / "c.caffemodel")],
        "deploy": lambda d: ["deploy", str(SAMPLES / "cifar_small_v0.prototxt"), "-o",
                             str(d / "deploy.prototxt")],
        "onnx": lambda d: ["onnx", str(net), "--weights", str(model), "-o", str(d / "n.onnx")],
    }[case]
    first, second = _run_twice(tmp_path, argv_of)
    capsys.readouterr()
    assert first and first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs"


# -- what a user sees: real processes -----------------------------------------------------------

def run_process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prototxt_tools", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def test_process_prints_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.prototxt"
    bad.write_bytes(CONTENT["syntax"])
    done = run_process("shapes", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"{bad}:3:7: error: '{{' is never closed: expected '}}' before the end of the file"]
    debug = run_process("--debug", "shapes", str(bad))  # --debug shows where it came from
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_output_into_a_directory_names_the_output_not_a_temp_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.mkdir()
    code, out, err = run_main(["upgrade", str(SAMPLES / "lenet_v1.prototxt"), "-o", str(target)],
                              capsys)
    assert code == 2
    assert_one_error_line(err, target, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert not any(target.iterdir())


def test_output_in_a_missing_directory(tmp_path, capsys):
    target = tmp_path / "no" / "such" / "dir.prototxt"
    code, out, err = run_main(["upgrade", str(SAMPLES / "lenet_v1.prototxt"), "-o", str(target)],
                              capsys)
    assert code == 2
    assert_one_error_line(err, target, None)


# -- prototxt-fix (in place, as users run it) ----------------------------------------------------------
# Like lint, a net it can read gives findings on stdout (exit 1 when some remain); a file it
# cannot parse is exit 2 with one positioned line.  None of these faults has an automatic fix,
# so the file must come back byte for byte.
FIX_EXPECTED = {
    "syntax": (2, "3:7"), "binary-garbage": (2, "1:1"),
    "unknown-field": (1, "3:56", "E002"), "unknown-type": (1, "3:19", "E106"),
    "cycle": (1, "3:32", "E104"), "undefined-blob": (1, "3:32", "E101"),
    "non-utf8-string": (2, "1:7"), "empty": (0,),
}
@pytest.mark.parametrize("kind", sorted(FIX_EXPECTED))
def test_fix_on_bad_input(kind, tmp_path, capsys):
    # a file that does not load (syntax, a string that is not UTF-8) is reported, exit 2,
    # untouched; one that loads gets its findings, exit 1
    net = tmp_path / f"{kind}.prototxt"
    net.write_bytes(CONTENT[kind])
    code, out, err = run_main(["fix", "--isolated", str(net)], capsys)
    expected = FIX_EXPECTED[kind]
    assert net.read_bytes() == CONTENT[kind]
    assert code == expected[0], (out, err)
    if code == 2:
        assert_one_error_line(err, net, expected[1])
    elif code == 1:
        assert f"{net}:{expected[1]}: {expected[2]} " in out, out
        assert not error_lines(err)


def test_fix_does_not_claim_success_for_an_unparsable_file(tmp_path, capsys):
    net = tmp_path / "bad.prototxt"
    net.write_bytes(CONTENT["syntax"])
    code, out, err = run_main(["fix", "--isolated", str(net)], capsys)
    assert code == 2 and "All checks passed" not in out


@pytest.mark.parametrize("kind", ["dangling-symlink", "missing"])
def test_fix_on_unreadable_input(kind, tmp_path, capsys):
    net = tmp_path / "net.prototxt"
    if kind == "dangling-symlink":
        net.symlink_to(tmp_path / "gone.prototxt")
    code, out, err = run_main(["fix", "--isolated", str(net)], capsys)
    assert code == 2
    assert_one_error_line(err, net, None)


def test_fix_output_is_byte_identical_across_runs(tmp_path, capsys):
    first, second = _run_twice(tmp_path, lambda d: [
        "fix", "--isolated", str(SAMPLES / "lenet_v1.prototxt"), "-o", str(d / "fixed.prototxt")])
    capsys.readouterr()
    assert first == second and first["fixed.prototxt"] != (SAMPLES / "lenet_v1.prototxt").read_bytes()
