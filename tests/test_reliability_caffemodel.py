"""Issue 7, binary side: truncated, corrupt and hostile caffemodels give CaffemodelError (with a
byte offset inside the input) or a correct read, never another exception, a hang or a large
allocation.

Extends tests/test_caffemodel.py (which sweeps one 2 KB model) to every real caffemodel of the
shared corpus: all cut offsets for files under 20 KB, spread offsets for the others (40 in the
default run, 200 under ``-m slow``), seeded random byte flips, and tracemalloc bounds.

Memory bound stated and checked here: reading a caffemodel (whole, truncated or flipped) allocates
at most 1 MB of Python/numpy memory at its peak, whatever the file size (blob values are views of
the file's memory map or of the caller's buffer; only layer parameters are parsed).  The largest
peak measured on the corpus is ~0.5 MB (mobilenet_v2, 14 MB, 150+ layers).
"""

from __future__ import annotations

import time
import tracemalloc
from math import prod
from pathlib import Path

import numpy as np
import pytest

from prototxt_tools.caffemodel import CaffemodelError, read_caffemodel
from prototxt_tools.errors import PrototxtToolsError
from prototxt_tools.schema import caffe_pb2

from conftest import CORPUS, SAMPLES, corpus_available, corpus_files

SMALL = 20_000            # files below this are cut at every offset
PEAK_BOUND = 1 << 20      # bytes: the stated allocation bound of a read


def real_caffemodels() -> list[Path]:
    if not corpus_available():
        return []
    files = corpus_files("caffemodel") + sorted(CORPUS.glob("caffe_reference/*/weights.caffemodel"))
    unique: dict[bytes, Path] = {}
    for f in files:  # MTCNN v1/v2 det1-3 are the same files twice: sweep each once
        unique.setdefault(f.read_bytes()[:4096] + str(f.stat().st_size).encode(), f)
    return list(unique.values())


def model_params(slow: bool = False):
    marks = [pytest.mark.slow] if slow else []
    return [pytest.param(f, id=str(f.relative_to(CORPUS)), marks=marks) for f in real_caffemodels()]


def cut_offsets(size: int, spread: int) -> list[int]:
    """Every offset of a small file; else ``spread`` offsets over the whole file plus the
    first and last 8 bytes (tags and length prefixes live there)."""
    if size < SMALL:
        return list(range(size))
    step = max(1, size // spread)
    return sorted(set(range(0, size, step)) | set(range(8)) | set(range(size - 8, size)))


def read_outcome(data) -> object:
    """The model, or the CaffemodelError; any other exception propagates and fails the test."""
    try:
        return read_caffemodel(data)
    except CaffemodelError as error:
        return error


def check_outcome(outcome, data, size: int) -> None:
    if isinstance(outcome, CaffemodelError):
        assert outcome.offset is not None and 0 <= outcome.offset <= size, str(outcome)
        assert "\n" not in str(outcome)
        return
    for layer in outcome.layers:
        for blob in layer.blobs:
            assert blob.size == prod(blob.shape)
    # whatever we accept, protobuf's own parser accepts too (we are never more lenient)
    caffe_pb2.NetParameter.FromString(bytes(data))


def sweep_truncations(path: Path, spread: int) -> dict:
    data = path.read_bytes()
    view = memoryview(data)
    counts = {"ok": 0, "error": 0}
    for cut in cut_offsets(len(data), spread):
        outcome = read_outcome(view[:cut])
        if isinstance(outcome, CaffemodelError):
            counts["error"] += 1
            assert outcome.offset <= cut
        else:
            counts["ok"] += 1
            if len(data) < SMALL:
                check_outcome(outcome, view[:cut], cut)
    return counts


@pytest.mark.parametrize("path", model_params())
def test_truncations_error_or_read(path):
    counts = sweep_truncations(path, spread=40)
    # a cut inside a layer entry is always an error; cuts landing on a layer boundary read the
    # layers before it (a valid, shorter net): those must be the minority
    assert counts["error"] > counts["ok"]


@pytest.mark.parametrize("path", model_params(slow=True))
def test_truncations_error_or_read_dense(path):
    counts = sweep_truncations(path, spread=200)
    assert counts["error"] > counts["ok"]


def flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    mutated = bytearray(data)
    # half the flips hit the first 4 KB, where the net header and first layer's tags are
    limit = len(data) if rng.random() < 0.5 else min(len(data), 4096)
    for at in rng.integers(0, limit, rng.integers(1, 5)):
        mutated[at] = int(rng.integers(0, 256))
    return bytes(mutated)


def sweep_flips(path: Path, count: int, seed: int) -> dict:
    data = path.read_bytes()
    rng = np.random.default_rng(seed)
    counts = {"ok": 0, "error": 0}
    for _ in range(count):
        mutated = flip_bytes(data, rng)
        outcome = read_outcome(mutated)
        counts["error" if isinstance(outcome, CaffemodelError) else "ok"] += 1
        check_outcome(outcome, mutated, len(mutated))
    return counts


@pytest.mark.parametrize("path", model_params())
def test_byte_flips_error_or_read(path):
    counts = sweep_flips(path, count=15 if path.stat().st_size > 2_000_000 else 40, seed=7)
    assert counts["ok"] + counts["error"] > 0


@pytest.mark.parametrize("path", model_params(slow=True))
def test_byte_flips_error_or_read_many(path):
    sweep_flips(path, count=400, seed=11)


# -- memory: the stated bound ---------------------------------------------------------------------

def traced_peak(func) -> int:
    tracemalloc.start()
    try:
        func()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("path", model_params())
def test_read_peak_allocation_is_bounded(path):
    """Whole file (memory-mapped), half of it (from a buffer) and a flipped copy."""
    data = path.read_bytes()
    half = memoryview(data)[: len(data) // 2]
    flipped = flip_bytes(data, np.random.default_rng(3))
    for source in (path, half, flipped):
        peak = traced_peak(lambda: read_outcome(source))
        assert peak < PEAK_BOUND, f"{peak} bytes allocated reading {path.name}"


def blob_entry(shape: list[int], values: int) -> bytes:
    """A net with one layer holding one blob of ``shape`` and ``values`` packed floats."""
    blob = caffe_pb2.BlobProto(shape=caffe_pb2.BlobShape(dim=shape),
                               data=np.zeros(values, np.float32).tolist())
    layer = caffe_pb2.LayerParameter(name="big", type="InnerProduct", blobs=[blob])
    return caffe_pb2.NetParameter(layer=[layer]).SerializeToString()


@pytest.mark.parametrize("shape", [[2**40], [1 << 20, 1 << 20], [2**31, 2**31, 2**31],
                                   [2**62, 4]])
def test_huge_blob_shape_is_diagnosed_without_allocating(shape):
    data = blob_entry(shape, values=3)
    error = None

    def read():
        nonlocal error
        try:
            read_caffemodel(data)
        except CaffemodelError as exc:
            error = exc

    start = time.perf_counter()
    peak = traced_peak(read)
    assert error is not None and "blob 0" in str(error) and "3" in str(error)
    assert peak < PEAK_BOUND and time.perf_counter() - start < 1.0


# 2**62 as a varint: eight 0x80 continuation bytes, then 2**62 >> 56 = 64 = 0x40.
LENGTH_2_62 = b"\x80" * 8 + b"\x40"
LENGTH_2_64_MINUS_1 = b"\xff" * 9 + b"\x01"


def length_delimited(tag: bytes, payload: bytes) -> bytes:
    """A field with a truthful length prefix (payload shorter than 128 bytes)."""
    assert len(payload) < 128
    return tag + bytes([len(payload)]) + payload


LAYER, BLOBS, DATA = b"\xa2\x06", b"\x3a", b"\x2a"  # NetParameter.layer, .blobs, BlobProto.data


@pytest.mark.parametrize("data", [
    LAYER + LENGTH_2_62,
    b"\x0a" + LENGTH_2_62 + b"name",
    length_delimited(LAYER, BLOBS + LENGTH_2_62 + b"\x00" * 12),
    length_delimited(LAYER, length_delimited(BLOBS, DATA + LENGTH_2_64_MINUS_1 + b"\x00" * 4)),
], ids=["layer", "name", "blob-in-layer", "packed-data-2^64"])
def test_lying_lengths_refused_before_allocation(data):
    error = None

    def read():
        nonlocal error
        try:
            read_caffemodel(data)
        except CaffemodelError as exc:
            error = exc

    peak = traced_peak(read)
    assert error is not None and 0 <= error.offset < len(data)
    assert peak < 64 * 1024


# -- regressions from the fuzz run ---------------------------------------------------------------

def test_non_utf8_input_name_is_a_caffemodel_error():
    """Fuzz finding: protobuf's Python runtime hands a non-UTF-8 proto2 string out as bytes;
    the upgrade then failed with UnicodeDecodeError.  Now the read refuses it at its field."""
    good = caffe_pb2.NetParameter(name="n", input=["dataX"], input_dim=[1, 3, 4, 4])
    data = good.SerializeToString().replace(b"dataX", b"dat\xa2\x06")
    with pytest.raises(CaffemodelError) as info:
        read_caffemodel(data)
    assert info.value.offset == data.index(b"\x1a\x05dat")  # the `input` field (3, LEN)
    assert "input" in info.value.message and "UTF-8" in info.value.message


def test_non_utf8_layer_bottom_names_the_layer_entry():
    layers = [caffe_pb2.LayerParameter(name="a", type="Input", top=["x"]),
              caffe_pb2.LayerParameter(name="b", type="ReLU", bottom=["xQ"], top=["y"])]
    data = caffe_pb2.NetParameter(layer=layers).SerializeToString()
    second = data.index(b"\xa2\x06", 1)
    data = data.replace(b"xQ", b"x\xff")
    with pytest.raises(CaffemodelError) as info:
        read_caffemodel(data)
    assert info.value.offset == second and "layer.bottom" in info.value.message


# -- the Python API: one exception family -----------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory", "dangling-symlink"])
def test_unreadable_caffemodel_is_a_typed_error(kind, tmp_path):
    path = tmp_path / "w.caffemodel"
    if kind == "directory":
        path.mkdir()
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "gone")
    with pytest.raises(CaffemodelError) as info:
        read_caffemodel(path)
    assert isinstance(info.value, PrototxtToolsError)
    assert str(info.value).startswith(f"{path}: error: ")


def test_sample_model_survives_every_cut_and_flip_quickly():
    """The repository's own sample (no corpus needed): every offset, and 200 flips."""
    path = SAMPLES / "tiny_convnet.caffemodel"
    counts = sweep_truncations(path, spread=200)
    assert counts["error"] > counts["ok"]
    sweep_flips(path, count=200, seed=5)
