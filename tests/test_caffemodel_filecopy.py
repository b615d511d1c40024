"""Blobs that are untouched views of a read caffemodel are written file to file by the kernel.

The oracle is the plain write path: the same arrays copied into memory (``np.array``) and
written with ``write(memoryview)``; both outputs must be the same bytes, and their values the
ones protobuf parses from the file.
"""

from __future__ import annotations

import errno
import gc
import io
import os

import numpy as np
import pytest

from prototxt_tools.caffemodel import LayerWeights, filecopy, read_caffemodel, write_caffemodel
from prototxt_tools.schema import caffe_pb2

pytestmark = pytest.mark.skipif(not hasattr(os, "copy_file_range"),
                                reason="os.copy_file_range is Linux only")


def make_model(path, seed=0):
    """A small V2 caffemodel: a 4-D conv weight, a bias, an fc weight (values hand-set)."""
    rng = np.random.default_rng(seed)
    net = caffe_pb2.NetParameter(name="n")
    net.layer.add(name="conv", type="Convolution")
    net.layer.add(name="relu", type="ReLU")
    net.layer.add(name="fc", type="InnerProduct")
    weights = {"conv": [rng.standard_normal((8, 3, 3, 3), dtype=np.float32),
                        np.arange(8, dtype=np.float32)],
               "fc": [rng.standard_normal((5, 72), dtype=np.float32)]}
    write_caffemodel(path, net, weights, durable=False)
    return weights


@pytest.fixture
def counted(monkeypatch):
    """Count the kernel copies (the real os.copy_file_range does the work)."""
    calls = []
    real = os.copy_file_range

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(filecopy, "_copy_file_range", spy)
    return calls


def in_memory(model):
    return [LayerWeights(l.name, l.type, [np.array(b) for b in l.blobs]) for l in model.layers]


def test_read_then_write_copies_every_blob_in_the_kernel_with_the_same_bytes(tmp_path, counted):
    source, kernel, plain = tmp_path / "a.caffemodel", tmp_path / "k.caffemodel", tmp_path / "p"
    weights = make_model(source)
    model = read_caffemodel(source)
    write_caffemodel(kernel, model.net, model.layers, durable=False)
    assert len(counted) == 3  # conv weight, conv bias, fc weight
    counted.clear()
    write_caffemodel(plain, model.net, in_memory(model), durable=False)
    assert counted == []  # copies in memory are no file views
    assert kernel.read_bytes() == plain.read_bytes()
    again = read_caffemodel(kernel)
    parsed = caffe_pb2.NetParameter.FromString(kernel.read_bytes())
    np.testing.assert_array_equal(again.weights("conv")[0], weights["conv"][0])
    np.testing.assert_array_equal(np.array(parsed.layer[2].blobs[0].data, np.float32),
                                  weights["fc"][0].reshape(-1))


def test_region_of_a_view_is_where_its_bytes_are_in_the_file(tmp_path):
    source = tmp_path / "a.caffemodel"
    make_model(source)
    data = source.read_bytes()
    weight = read_caffemodel(source).weights("fc")[0]
    for view in (weight, weight.reshape(5, 8, 3, 3), weight[2:4], weight.reshape(-1)[7:50]):
        region = filecopy.file_region(view)
        assert region is not None and region.length == view.nbytes
        assert data[region.offset:region.offset + region.length] == view.tobytes()


def test_no_region_for_copies_strided_views_private_maps_and_bytes(tmp_path):
    source = tmp_path / "a.caffemodel"
    make_model(source)
    weight = read_caffemodel(source).weights("conv")[0]
    assert filecopy.file_region(weight.T) is None  # not C-contiguous: transposed on write
    assert filecopy.file_region(weight[:, 1]) is None
    assert filecopy.file_region(weight * 2) is None
    assert filecopy.file_region(np.ascontiguousarray(weight.T)) is None
    private = read_caffemodel(source, writable=True).weights("conv")[0]
    private[0, 0, 0, 0] = 42.0  # changed in memory: the file no longer holds these bytes
    assert filecopy.file_region(private) is None
    assert filecopy.file_region(read_caffemodel(source.read_bytes()).weights("conv")[0]) is None


def test_changed_private_map_is_written_from_memory(tmp_path, counted):
    source, out = tmp_path / "a.caffemodel", tmp_path / "b.caffemodel"
    make_model(source)
    model = read_caffemodel(source, writable=True)
    model.weights("conv")[1][:] = -1.0
    write_caffemodel(out, model.net, model.layers, durable=False)
    assert counted == []
    np.testing.assert_array_equal(read_caffemodel(out).weights("conv")[1], np.full(8, -1.0))


@pytest.mark.parametrize("code", [errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP])
def test_kernel_refusal_falls_back_to_writing(tmp_path, monkeypatch, code):
    source, out, expected = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    make_model(source)
    model = read_caffemodel(source)
    write_caffemodel(expected, model.net, in_memory(model), durable=False)

    def refuse(*args):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(filecopy, "_copy_file_range", refuse)
    write_caffemodel(out, model.net, model.layers, durable=False)
    assert out.read_bytes() == expected.read_bytes()
    assert filecopy._copy_file_range is refuse  # tried again next time (another file pair)


def test_kernel_without_copy_file_range_is_not_asked_again(tmp_path, monkeypatch):
    source, out, expected = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    make_model(source)
    model = read_caffemodel(source)
    write_caffemodel(expected, model.net, in_memory(model), durable=False)

    def missing(*args):
        raise OSError(errno.ENOSYS, "not implemented")

    monkeypatch.setattr(filecopy, "_copy_file_range", missing)
    write_caffemodel(out, model.net, model.layers, durable=False)
    assert out.read_bytes() == expected.read_bytes()
    assert filecopy._copy_file_range is None


def test_partial_kernel_copy_is_completed_from_memory(tmp_path, monkeypatch):
    """copy_file_range may copy less than asked (and 0 at an unexpected end): the rest is
    written from the array, at the right position."""
    source, out, expected = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    make_model(source)
    model = read_caffemodel(source)
    write_caffemodel(expected, model.net, in_memory(model), durable=False)
    real = os.copy_file_range
    budget = {"calls": 0}

    def stingy(src, dst, count, src_offset, dst_offset):
        budget["calls"] += 1
        if budget["calls"] % 3 == 0:
            return 0
        return real(src, dst, min(count, 20), src_offset, dst_offset)

    monkeypatch.setattr(filecopy, "_copy_file_range", stingy)
    write_caffemodel(out, model.net, model.layers, durable=False)
    assert out.read_bytes() == expected.read_bytes()


def test_source_replaced_after_reading_still_gives_the_read_values(tmp_path):
    """The copy reads the mapped inode, not whatever the path names by then."""
    source, out = tmp_path / "a.caffemodel", tmp_path / "b.caffemodel"
    weights = make_model(source, seed=1)
    model = read_caffemodel(source)
    replacement = tmp_path / "other.caffemodel"
    make_model(replacement, seed=2)
    os.replace(replacement, source)
    write_caffemodel(out, model.net, model.layers, durable=False)
    np.testing.assert_array_equal(read_caffemodel(out).weights("conv")[0], weights["conv"][0])


def test_write_array_to_a_buffer_without_descriptor(tmp_path):
    source = tmp_path / "a.caffemodel"
    weights = make_model(source)
    buffer = io.BytesIO(b"xy")
    buffer.seek(2)
    filecopy.write_array(buffer, read_caffemodel(source).weights("fc")[0])
    assert buffer.getvalue() == b"xy" + weights["fc"][0].tobytes()


def test_write_array_after_buffered_bytes_keeps_the_order(tmp_path):
    source, out = tmp_path / "a.caffemodel", tmp_path / "out.bin"
    weights = make_model(source)
    array = read_caffemodel(source).weights("conv")[1]
    with open(out, "wb") as f:
        f.write(b"head")  # still in the buffer when the kernel copies
        filecopy.write_array(f, array)
        f.write(b"tail")
    assert out.read_bytes() == b"head" + weights["conv"][1].tobytes() + b"tail"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_descriptor_is_closed_with_the_map(tmp_path):
    source = tmp_path / "a.caffemodel"
    make_model(source)
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    model = read_caffemodel(source)
    assert len(os.listdir("/proc/self/fd")) > before  # the map's own and the copy source
    del model
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before
