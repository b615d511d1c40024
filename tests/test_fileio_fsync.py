"""When atomic writes fsync: on replacing an existing file (by default), always, or never."""

from __future__ import annotations

import os

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
