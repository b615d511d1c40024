"""Issue 7, "nothing lost": a run killed while it writes leaves the previous output intact.

A ~105 MB caffemodel (an fc6 of 4096x6400 float32, seeded) is generated in tmp with
write_caffemodel; ``upgrade``, ``fc-to-conv`` and ``onnx`` run on it as real processes and get
SIGINT, SIGTERM or SIGKILL as soon as their hidden temp file (``.NAME.XXXX.tmp``, see
prototxt_tools.fileio) has started to grow.  Afterwards each destination holds either its
previous content or exactly what an uninterrupted run writes (outputs are deterministic), with
its permission bits kept, and fc-to-conv's prototxt and caffemodel are both old or both new.
After SIGINT/SIGTERM no temp file is left; SIGKILL cannot be handled,
so it may leave the hidden temp file (documented in fileio) -- the destination is still intact,
and the next run of the command removes the leftover.
``prototxt-fix`` rewrites its input in place: it gets the signals at several moments of a run
over a large V1 net and the file must be the original or the fully fixed one.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

from prototxt_tools.caffemodel import write_caffemodel
from prototxt_tools.schema import caffe_pb2

from conftest import REPO

NET = """name: "big"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 256 dim: 5 dim: 5 } } }
layer { name: "fc6" type: "InnerProduct" bottom: "data" top: "fc6" inner_product_param { num_output: 4096 } }
"""
OLD = b"the previous file\n"
OLD_MODE = 0o640
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> dict:
    """The net and its 105 MB caffemodel (reference outputs: :func:`reference_outputs`)."""
    root = tmp_path_factory.mktemp("big")
    net_path = root / "net.prototxt"
    net_path.write_text(NET)
    weights = np.random.default_rng(0).standard_normal((4096, 6400), dtype=np.float32)
    model = root / "net.caffemodel"
    write_caffemodel(model, text_format.Parse(NET, caffe_pb2.NetParameter()),
                     {"fc6": [weights, np.zeros(4096, np.float32)]}, durable=False)
    del weights
    return {"net": net_path, "model": model, "root": root, "reference": {}}


def reference_outputs(big: dict, command: str) -> dict:
    """Name -> digest of what an uninterrupted run of ``command`` writes (computed once)."""
    if command not in big["reference"]:
        out = big["root"] / f"ref-{command}"
        out.mkdir()
        done = subprocess.run(command_argv(command, big["net"], big["model"], out),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        big["reference"][command] = {p.name: digest(p) for p in out.iterdir()}
    return big["reference"][command]




def command_argv(command: str, net: Path, model: Path, out: Path) -> list[str]:
    cli = [sys.executable, "-m", "prototxt_tools"]
    return cli + {
        "upgrade": ["upgrade", str(model), "-o", str(out / "up.caffemodel")],
        # fc-to-conv writes the prototxt's temp file, then the weights', then renames both
        "fc-to-conv": ["fc-to-conv", str(net), "-o", str(out / "conv.prototxt"), "--weights",
                       str(model), "--weights-out", str(out / "conv.caffemodel")],
        "onnx": ["onnx", str(net), "--weights", str(model), "-o", str(out / "net.onnx")],
    }[command]


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def temp_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def default_signals() -> None:
    """The child starts with SIGINT/SIGTERM at their defaults, whatever the test runner's shell
    did (a background job inherits SIGINT ignored, and Python would then never raise
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_and_signal(argv: list[str], watch: Path, signum: int, *, delay: float | None = None,
                   min_temp_bytes: int = 1 << 20) -> tuple[int, bool, str]:
    """Start ``argv``; send ``signum`` once a temp file in ``watch`` holds ``min_temp_bytes``
    (or after ``delay`` seconds).  Returns (exit status, whether the signal was sent while a
    temp file existed, stderr)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)
    mid_write = False
    deadline = time.monotonic() + 120
    start = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            temps = temp_files(watch)
            if delay is not None:
                ready = time.monotonic() - start >= delay
            else:
                ready = any(_size(t) >= min_temp_bytes for t in temps)
            if ready:
                mid_write = bool(temp_files(watch))
                proc.send_signal(signum)
                break
            time.sleep(0.002)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, mid_write, err


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def prepare_destination(out: Path, names) -> None:
    out.mkdir()
    for name in names:
        (out / name).write_bytes(OLD)
        os.chmod(out / name, OLD_MODE)


def check_destinations(out: Path, reference: dict) -> dict:
    """Each destination is the old file or the complete new one; returns name -> which."""
    which = {}
    for name, new_digest in reference.items():
        path = out / name
        data_is_old = path.stat().st_size == len(OLD) and path.read_bytes() == OLD
        assert data_is_old or digest(path) == new_digest, f"{name} is neither old nor new"
        assert stat.S_IMODE(path.stat().st_mode) == OLD_MODE, f"{name} lost its permissions"
        which[name] = "old" if data_is_old else "new"
    return which


EXIT_STATUS = {signal.SIGINT: (130,), signal.SIGTERM: (143,), signal.SIGKILL: (-9,)}


def interrupt_case(big: dict, tmp_path: Path, command: str, name: str) -> None:
    signum = SIGNALS[name]
    reference = reference_outputs(big, command)
    out = tmp_path / "out"
    prepare_destination(out, reference)
    status, mid_write, err = run_and_signal(command_argv(command, big["net"], big["model"], out),
                                            out, signum)
    assert "Traceback" not in err
    which = check_destinations(out, reference)
    assert len(set(which.values())) == 1, f"a pair half replaced: {which}"
    if not mid_write:  # the run finished before the temp file got big: nothing to check
        assert status == 0 and set(which.values()) == {"new"}
        return
    assert status in EXIT_STATUS[signum] + (0,), (status, err)
    if signum == signal.SIGKILL:
        # cannot be handled: hidden temp files may stay behind, the destinations are intact;
        # the next run of the command removes them (their process is gone) and writes anew
        assert len(temp_files(out)) <= len(reference)
        rerun = subprocess.run(command_argv(command, big["net"], big["model"], out),
                               capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert temp_files(out) == [] and set(check_destinations(out, reference).values()) == {"new"}
    else:
        assert temp_files(out) == [], "an interrupted run left its temp file"
        if status != 0:
            assert "old" in which.values()


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("command", ["upgrade", "fc-to-conv"])
def test_interrupted_caffemodel_write(big, tmp_path, command, name):
    interrupt_case(big, tmp_path, command, name)


@pytest.mark.parametrize("name", ["SIGTERM"])
def test_interrupted_onnx_write(big, tmp_path, name):
    pytest.importorskip("onnx")
    interrupt_case(big, tmp_path, "onnx", name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["SIGINT", "SIGKILL"])
def test_interrupted_onnx_write_other_signals(big, tmp_path, name):
    pytest.importorskip("onnx")
    interrupt_case(big, tmp_path, "onnx", name)


# -- prototxt-fix rewrites its input in place -------------------------------------------------

def big_v1_net(layers: int) -> str:
    """A V1 net (``layers`` blocks, legacy inputs): prototxt-fix upgrades every block."""
    lines = ['name: "chain"', 'input: "x0"', "input_dim: 1", "input_dim: 3", "input_dim: 8",
             "input_dim: 8"]
    for i in range(layers):
        lines.append(f'layers {{ name: "r{i}" type: RELU bottom: "x{i}" top: "x{i + 1}" }}')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fixed_reference(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("fix")
    original = big_v1_net(1000).encode()
    path = root / "net.prototxt"
    path.write_bytes(original)
    done = subprocess.run([sys.executable, "-m", "prototxt_tools", "fix", "--isolated", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    fixed = path.read_bytes()
    assert fixed != original
    return {"original": original, "fixed": fixed}


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_fix_in_place(fixed_reference, tmp_path, name):
    signum = SIGNALS[name]
    outcomes = set()
    for delay in (0.4, 1.0):
        work = tmp_path / f"d{delay}"
        work.mkdir()
        path = work / "net.prototxt"
        path.write_bytes(fixed_reference["original"])
        os.chmod(path, OLD_MODE)
        status, _, err = run_and_signal([sys.executable, "-m", "prototxt_tools", "fix",
                                         "--isolated", str(path)], work, signum, delay=delay)
        assert "Traceback" not in err
        data = path.read_bytes()
        assert data in (fixed_reference["original"], fixed_reference["fixed"])
        assert stat.S_IMODE(path.stat().st_mode) == OLD_MODE
        if signum != signal.SIGKILL:
            assert temp_files(work) == []
        outcomes.add("old" if data == fixed_reference["original"] else "new")
    assert outcomes  # which moments were caught depends on the machine's speed


def test_repository_checkout_has_no_stray_temp_files():
    """The tests above write only in tmp; a hidden temp next to the sources would be a leak."""
    assert not [p for p in REPO.rglob(".*.tmp") if ".git" not in p.parts]
