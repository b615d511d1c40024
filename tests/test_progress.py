"""Progress display of big writes: drawn on a terminal only, quiet everywhere else."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from prototxt_tools.caffemodel import read_caffemodel, write_caffemodel
from prototxt_tools.caffemodel import writer as writer_module
from prototxt_tools.load import load_net
from prototxt_tools.progress import MIN_TOTAL, TerminalProgress
from prototxt_tools.schema import caffe_pb2

from conftest import REPO


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_draws_percent_and_megabytes_in_place_then_erases():
    stream, clock = FakeTerminal(), Clock()
    with TerminalProgress("writing out.caffemodel", stream, min_total=100, clock=clock) as show:
        show(0, 400_000_000)
        clock.now = 1.0
        show(100_000_000, 400_000_000)
        clock.now = 2.0
        show(400_000_000, 400_000_000)
    drawn = stream.getvalue()
    assert drawn.split("\r")[1:] == ["writing out.caffemodel    0%  0/400 MB",
                                     "writing out.caffemodel   25%  100/400 MB",
                                     "writing out.caffemodel  100%  400/400 MB",
                                     "\x1b[K"]


def test_redraws_at_most_ten_times_a_second_but_always_shows_the_end():
    stream, clock = FakeTerminal(), Clock()
    show = TerminalProgress("w", stream, min_total=1, clock=clock)
    for step in range(1, 101):  # 100 updates within 0.099 s
        clock.now = step * 0.001
        show(step, 100)
    assert stream.getvalue().count("\r") == 2  # the first update and the final 100 %
    assert stream.getvalue().endswith("100%  0/0 MB")


def test_silent_when_not_a_terminal_or_small():
    plain = io.StringIO()
    with TerminalProgress("w", plain, min_total=1) as show:
        show(5, 10)
    assert plain.getvalue() == ""
    terminal = FakeTerminal()
    with TerminalProgress("w", terminal) as show:
        show(MIN_TOTAL - 1, MIN_TOTAL - 1)
    assert terminal.getvalue() == ""


def test_a_broken_terminal_does_not_fail_the_write():
    class Broken(FakeTerminal):
        def write(self, text):
            raise OSError("terminal gone")

    show = TerminalProgress("w", Broken(), min_total=1)
    show(1, 2)
    show(2, 2)
    show.close()


def net_with_fc(rows: int, cols: int):
    net = caffe_pb2.NetParameter(name="n")
    net.layer.add(name="fc", type="InnerProduct")
    weights = {"fc": [np.arange(rows * cols, dtype=np.float32).reshape(rows, cols),
                      np.ones(rows, np.float32)]}
    return net, weights


def test_write_caffemodel_reports_every_byte_up_to_the_file_size(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "_SLICE_BYTES", 4096)  # 40,000-byte blob: 10 slices
    out = tmp_path / "m.caffemodel"
    net, weights = net_with_fc(100, 100)
    calls = []
    write_caffemodel(out, net, weights, durable=False, progress=lambda d, t: calls.append((d, t)))
    size = out.stat().st_size
    assert calls[-1] == (size, size)
    assert all(t == size for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)
    big_blob = [d for d in done if 0 < d < size]
    assert len(big_blob) >= 10  # the weight blob moved the display in slices
    np.testing.assert_array_equal(read_caffemodel(out).weights("fc")[0], weights["fc"][0])


def write_v1_model(path, values: int) -> None:
    net = caffe_pb2.NetParameter(name="n")
    net.layers.add(name="fc", type=caffe_pb2.V1LayerParameter.INNER_PRODUCT)
    write_caffemodel(path, net, {"fc": [np.zeros((values // 1000, 1000), np.float32)]},
                     durable=False)


def run_upgrade(model, out, stderr):
    return run_cli(["upgrade", str(model), "-o", str(out)], stderr)


def run_cli(args, stderr):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "prototxt_tools", *args],
                          stdout=subprocess.PIPE, stderr=stderr, env=env, timeout=120)


def read_terminal(args) -> tuple[subprocess.CompletedProcess, bytes]:
    """Run the CLI with standard error on a pseudo-terminal; what the terminal received."""
    pty = pytest.importorskip("pty")
    main, secondary = pty.openpty()
    try:
        done = run_cli(args, secondary)
        os.close(secondary)
        seen = b""
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO once the child side is closed
                break
            if not data:
                break
            seen += data
    finally:
        os.close(main)
    return done, seen


def test_upgrade_draws_progress_on_a_terminal_only(tmp_path):
    model, out = tmp_path / "v1.caffemodel", tmp_path / "up.caffemodel"
    write_v1_model(model, MIN_TOTAL // 4 + 1000)  # just over the display threshold
    piped = run_upgrade(model, out, subprocess.PIPE)
    assert piped.returncode == 0
    assert b"\r" not in piped.stderr and b"%" not in piped.stderr
    assert b"upgraded V1 -> current format" in piped.stderr

    done, seen = read_terminal(["upgrade", str(model), "-o", str(out)])
    assert done.returncode == 0
    assert b"writing " + str(out).encode() in seen and b"100%" in seen
    assert b"\r\x1b[K" in seen  # erased before the command's own message
    assert seen.rstrip().endswith(b"written to " + str(out).encode())


BIG_FC = """name: "big_fc"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 64 dim: 4 dim: 4 } } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"
  inner_product_param { num_output: 9000 } }
"""


@pytest.mark.parametrize("command", ["onnx", "fc-to-conv"])
def test_export_and_surgery_draw_progress_on_a_terminal_only(tmp_path, command):
    net, model = tmp_path / "big_fc.prototxt", tmp_path / "big_fc.caffemodel"
    net.write_text(BIG_FC)
    weights = np.full((9000, 1024), 0.5, np.float32)  # 36.9 MB: over the display threshold
    write_caffemodel(model, load_net(str(net)).net, {"fc": [weights, np.zeros(9000, np.float32)]},
                     durable=False)
    out = tmp_path / ("out.onnx" if command == "onnx" else "out.caffemodel")
    args = (["onnx", str(net), "--weights", str(model), "-o", str(out)] if command == "onnx"
            else ["fc-to-conv", str(net), "-o", str(tmp_path / "conv.prototxt"), "--weights",
                  str(model), "--weights-out", str(out)])
    piped = run_cli(args, subprocess.PIPE)
    assert piped.returncode == 0, piped.stderr
    assert b"\r" not in piped.stderr and b"%" not in piped.stderr
    out.unlink()
    done, seen = read_terminal(args)
    assert done.returncode == 0
    assert b"writing " + str(out).encode() in seen and b"100%" in seen and b"\r\x1b[K" in seen
    assert out.stat().st_size > weights.nbytes
