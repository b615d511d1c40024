"""Regression tests for the bugs the reliability work (issue 7) found outside the binary reader;
each names the symptom it pins down."""

from __future__ import annotations

import pytest

from prototxt_tools.shapes.network import parse_input_override


@pytest.mark.parametrize("text", ["data=1,3,,8", "data=1,3,x,8", "data=1,3,8,8,", "data=,1",
                                  "data=1x3xx8"])
def test_input_override_with_a_missing_dimension_is_refused(text):
    """``--input data=1,3,,8`` used to become a 3-D (1, 3, 8) input without a word."""
    with pytest.raises(ValueError, match="missing"):
        parse_input_override(text)


def test_input_override_separators_and_spaces_still_work():
    assert parse_input_override(" data = 1, 3 ,8x8") == ("data", (1, 3, 8, 8))


# -- fileio: outputs ------------------------------------------------------------------------------

def test_output_error_names_the_output_not_the_temp_file(tmp_path):
    """``-o DIR`` or ``-o missing/dir/file`` used to report ``.NAME.XXXX.tmp: error: ...``."""
    from prototxt_tools.errors import PrototxtToolsError
    from prototxt_tools.fileio import atomic_write_bytes

    for target in (tmp_path, tmp_path / "no" / "such.prototxt"):
        with pytest.raises(PrototxtToolsError) as info:
            atomic_write_bytes(target, b"x")
        assert str(info.value).startswith(f"{target}: error: cannot write file: ")
        assert isinstance(info.value, OSError) and info.value.errno is not None
    assert list(tmp_path.iterdir()) == []


SIGTERM_WHILE_WRITING = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from prototxt_tools.fileio import atomic_output
with atomic_output({target!r}) as out:
    out.write(b"new, half written")
    os.kill(os.getpid(), signal.SIGTERM)
    out.write(b" - never reached")
"""


def test_sigterm_while_writing_removes_the_temp_file(tmp_path):
    """SIGTERM used to kill the process with the hidden temp file left next to the target."""
    import subprocess
    import sys

    from conftest import REPO

    target = tmp_path / "out.caffemodel"
    target.write_bytes(b"old")
    script = SIGTERM_WHILE_WRITING.format(repo=str(REPO), target=str(target))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 143 and "Traceback" not in done.stderr
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.caffemodel"]


def test_sigterm_handler_of_the_caller_is_left_alone(tmp_path):
    import signal

    from prototxt_tools.fileio import atomic_write_bytes

    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        atomic_write_bytes(tmp_path / "a", b"x")
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert signal.getsignal(signal.SIGTERM) is previous


# -- CLI: Ctrl-C before the command runs ----------------------------------------------------------

@pytest.mark.parametrize("entry", ["prototxt-tools", "prototxt-lint"])
def test_ctrl_c_while_starting_is_one_line_exit_130(entry, monkeypatch, capsys):
    """Ctrl-C while the parser imported the commands used to print a KeyboardInterrupt
    traceback (found by the interrupt test of prototxt-fix)."""
    import prototxt_tools.cli as cli
    import prototxt_tools.cli.lint as lint_cli

    def interrupted_build(*args):
        raise KeyboardInterrupt

    module = cli if entry == "prototxt-tools" else lint_cli
    monkeypatch.setattr(module, "build_parser", interrupted_build)
    assert module.main(["--version"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


# -- IR: an in-place layer is no producer ----------------------------------------------------------

IN_PLACE_AFTER_REMOVED = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "bn" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "relu" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool" type: "Pooling" bottom: "conv1" top: "pool" pooling_param { kernel_size: 2 } }
"""


def test_missing_input_of_an_in_place_chain_is_undefined_not_a_cycle():
    """Deleting ResNet's conv1 left bn_conv1 (in place on conv1) reading nothing; the IR called
    it a cycle ('produced by layer bn_conv1, which itself depends on bn_conv1').  Caffe says
    'Unknown bottom blob': in-place layers rewrite a blob, they never define it."""
    from prototxt_tools.load import load_net

    network = load_net("net.prototxt", text=IN_PLACE_AFTER_REMOVED).network
    issues = [(i.code, i.layer) for i in network.issues]
    assert issues == [("undefined-bottom", "bn")]
    assert "not produced by any layer" in network.issues[0].message


def test_real_cycle_through_plain_layers_is_still_a_cycle():
    from prototxt_tools.load import load_net

    text = ('layer { name: "a" type: "ReLU" bottom: "y" top: "x" }\n'
            'layer { name: "b" type: "ReLU" bottom: "x" top: "y" }\n')
    network = load_net("net.prototxt", text=text).network
    assert [(i.code, i.layer) for i in network.issues] == [("cycle", "a")]


# -- lint API: an unreadable path -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_lint_source_of_an_unreadable_path_raises_our_error(kind, tmp_path):
    """``lint_source`` (and ``prototxt_tools.lint``) leaked FileNotFoundError/IsADirectoryError."""
    from prototxt_tools.errors import PrototxtToolsError
    from prototxt_tools.lint import default_codes
    from prototxt_tools.lint.runner import lint_source

    path = tmp_path / "net.prototxt"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(PrototxtToolsError) as info:
        lint_source(str(path), default_codes())
    assert str(info.value).startswith(f"{path}: error: ")


# -- CLI: a reader that goes away --------------------------------------------------------------------

def test_closed_pipe_is_quiet(tmp_path):
    """``dump big.prototxt | head -1`` printed '<io>: error: Broken pipe' and exited 2."""
    import subprocess
    import sys

    net = tmp_path / "long.prototxt"
    net.write_text('input: "x0"\ninput_shape { dim: 1 dim: 3 }\n' + "".join(
        f'layer {{ name: "r{i}" type: "ReLU" bottom: "x{i}" top: "x{i + 1}" }}\n'
        for i in range(1500)))  # a JSON dump of ~240 KB: more than a pipe holds
    proc = subprocess.Popen([sys.executable, "-m", "prototxt_tools", "dump", "--format", "json",
                             str(net)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_out_of_memory_is_one_line_not_a_traceback(monkeypatch, capsys):
    """``onnx --random-weights`` of a 1.9e9-parameter net (within Caffe's INT_MAX) died with a
    numpy _ArrayMemoryError traceback under a memory limit."""
    import prototxt_tools.cli.shapes as shapes_cli
    from prototxt_tools.cli import main

    from conftest import SAMPLES

    def too_big(args):
        raise MemoryError("Unable to allocate 7.15 GiB for an array with shape (10000000, 192)")

    monkeypatch.setattr(shapes_cli, "execute", too_big)
    assert main(["shapes", str(SAMPLES / "tiny_convnet.prototxt")]) == 2
    assert capsys.readouterr().err == ("prototxt-tools: error: out of memory: Unable to allocate "
                                       "7.15 GiB for an array with shape (10000000, 192)\n")
