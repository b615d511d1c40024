"""When atomic writes fsync (on replacing an existing file by default, always, or never), and
how they clean up after a killed write."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from prototxt_tools import fileio
from prototxt_tools.errors import PrototxtToolsError


@pytest.fixture
def fsyncs(monkeypatch):
    """The descriptors fsynced, in order (os.fsync counted, then really called)."""
    calls = []
    real = os.fsync

    def counting(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(fileio.os, "fsync", counting)
    return calls


def _write(path, data=b"new"):
    with fileio.atomic_output(path) as out:
        out.write(data)


@pytest.mark.parametrize("policy, new_file_syncs, replace_syncs", [
    (None, False, True), ("replace", False, True), ("always", True, True),
    ("never", False, False), ("ALWAYS ", True, True)])
def test_policy(tmp_path, monkeypatch, fsyncs, policy, new_file_syncs, replace_syncs):
    if policy is None:
        monkeypatch.delenv("PROTOTXT_TOOLS_FSYNC", raising=False)
    else:
        monkeypatch.setenv("PROTOTXT_TOOLS_FSYNC", policy)
    target = tmp_path / "out.bin"
    _write(target, b"first")
    assert bool(fsyncs) == new_file_syncs
    fsyncs.clear()
    _write(target, b"second")  # replaces the file written above
    assert bool(fsyncs) == replace_syncs
    assert target.read_bytes() == b"second"
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]


def test_explicit_durable_wins(tmp_path, monkeypatch, fsyncs):
    monkeypatch.setenv("PROTOTXT_TOOLS_FSYNC", "never")
    with fileio.atomic_output(tmp_path / "a", durable=True) as out:
        out.write(b"x")
    assert fsyncs  # the file and its directory
    fsyncs.clear()
    with fileio.atomic_output(tmp_path / "a", durable=False) as out:
        out.write(b"y")
    assert not fsyncs


def test_unknown_policy_is_an_error_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("PROTOTXT_TOOLS_FSYNC", "sometimes")
    target = tmp_path / "out.bin"
    with pytest.raises(PrototxtToolsError, match="PROTOTXT_TOOLS_FSYNC='sometimes'"):
        _write(target)
    assert os.listdir(tmp_path) == []


# -- leftovers of killed writes ----------------------------------------------------------------

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_removes_leftovers_of_killed_writes(tmp_path):
    """A SIGKILLed write leaves its hidden temp file; the next write of that target removes it
    when its process is gone, and leaves a live process's temp file and other files alone."""
    target = tmp_path / "model.caffemodel"
    dead = tmp_path / f".model.caffemodel.{_dead_pid()}.0123abcd.tmp"
    live = tmp_path / f".model.caffemodel.{os.getppid()}.89abcdef.tmp"
    other_target = tmp_path / f".other.caffemodel.{_dead_pid()}.0123abcd.tmp"
    not_ours = tmp_path / ".model.caffemodel.backup.tmp"
    for path in (dead, live, other_target, not_ours):
        path.write_bytes(b"partial")
    _write(target)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (target, live, other_target, not_ours))


def test_temp_files_carry_the_writing_process_id(tmp_path):
    seen = []
    with fileio.atomic_output(tmp_path / "x.bin") as out:
        seen = [p.name for p in tmp_path.iterdir()]
        out.write(b"x")
    assert len(seen) == 1 and seen[0].startswith(f".x.bin.{os.getpid()}.")
