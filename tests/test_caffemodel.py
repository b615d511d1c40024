"""caffemodel reader/writer, checked against protobuf's own parser and serializer.

The independent oracle is google.protobuf: every file (corpus or hand-built) is also parsed
with ``NetParameter.FromString`` and its blobs converted with ``np.array(blob.data)``; messages
in unusual encodings (unpacked values, interleaved fields, unknown fields, groups) are produced
by protobuf's serializer from a test-only schema with the same field numbers.
"""

from __future__ import annotations

import os
import stat
import time
from math import prod

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from prototxt_tools.caffemodel import (CaffemodelError, LayerWeights, iter_layer_weights,
                                       read_caffemodel, write_caffemodel)
from prototxt_tools.caffemodel import writer as writer_module
from prototxt_tools.fileio import atomic_output
from prototxt_tools.schema import caffe_pb2

from conftest import CORPUS, corpus_available, corpus_files

LEGACY = ("num", "channels", "height", "width")


# --- the oracle ------------------------------------------------------------------------------

def protobuf_blob_array(blob: caffe_pb2.BlobProto) -> np.ndarray:
    """A blob as Caffe's Blob::FromProto sees it, computed from protobuf's parsed message."""
    if any(blob.HasField(f) for f in LEGACY):
        shape = [getattr(blob, f) for f in LEGACY]
    else:
        shape = list(blob.shape.dim)
    if len(blob.double_data):
        return np.array(blob.double_data, np.float64).reshape(shape)
    return np.array(blob.data, np.float32).reshape(shape)


def protobuf_entries(net: caffe_pb2.NetParameter) -> list[tuple[str, list[np.ndarray]]]:
    entries = []
    for layer in list(net.layer) + list(net.layers):
        holder = layer.layer if isinstance(layer, caffe_pb2.V1LayerParameter) and \
            layer.HasField("layer") else layer
        entries.append((holder.name, [protobuf_blob_array(b) for b in holder.blobs]))
    return entries


def without_values(net: caffe_pb2.NetParameter) -> caffe_pb2.NetParameter:
    """What ``CaffeModel.net`` should be: the net with blob values and diffs cleared."""
    net = caffe_pb2.NetParameter.FromString(net.SerializeToString())
    for layer in list(net.layer) + list(net.layers):
        blob_lists = [layer.blobs]
        if isinstance(layer, caffe_pb2.V1LayerParameter) and layer.HasField("layer"):
            blob_lists.append(layer.layer.blobs)
        for blobs in blob_lists:
            for blob in blobs:
                for f in ("data", "diff", "double_data", "double_diff"):
                    blob.ClearField(f)
    return net


def assert_matches_protobuf(data: bytes, model) -> None:
    expected_net = caffe_pb2.NetParameter.FromString(data)
    expected = protobuf_entries(expected_net)
    assert [lw.name for lw in model.layers] == [name for name, _ in expected]
    for lw, (name, arrays) in zip(model.layers, expected):
        assert len(lw.blobs) == len(arrays), name
        for ours, theirs in zip(lw.blobs, arrays):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, name
            np.testing.assert_array_equal(ours, theirs)
    assert model.net == without_values(expected_net)


def assert_same_weights(a: list[LayerWeights], b: list[LayerWeights]) -> None:
    assert [(x.name, x.type, len(x.blobs)) for x in a] == [(y.name, y.type, len(y.blobs)) for y in b]
    for x, y in zip(a, b):
        for u, v in zip(x.blobs, y.blobs):
            assert u.dtype == v.dtype and u.shape == v.shape
            np.testing.assert_array_equal(u, v)


# --- real files --------------------------------------------------------------------------------

def real_caffemodels():
    if not corpus_available():
        return []
    files = corpus_files("caffemodel") + sorted(CORPUS.glob("caffe_reference/*/weights.caffemodel"))
    return [pytest.param(f, id=str(f.relative_to(CORPUS))) for f in files]


@pytest.mark.parametrize("path", real_caffemodels())
def test_real_caffemodel_matches_protobuf_and_round_trips(path, tmp_path):
    model = read_caffemodel(path)
    data = path.read_bytes()
    assert model.format == "V2" and model.path == str(path)
    assert_matches_protobuf(data, model)
    assert [lw.type for lw in model.layers] == [layer.type for layer in model.net.layer]
    copy = tmp_path / "copy.caffemodel"
    write_caffemodel(copy, model.net, model.layers)
    again = read_caffemodel(copy)
    assert again.net == model.net and again.format == "V2"
    assert_same_weights(again.layers, model.layers)
    assert_matches_protobuf(copy.read_bytes(), again)  # protobuf agrees with what we wrote
    assert_same_weights(list(iter_layer_weights(path)), model.layers)


def small_real_model() -> bytes:
    path = CORPUS / "opencv_opencv_contrib/modules/dnn/testdata/dnn/layers/layer_convolution.caffemodel"
    if not path.is_file():
        pytest.skip("corpus is absent")
    return path.read_bytes()


def test_every_truncation_is_an_error_or_a_prefix_protobuf_accepts():
    data = small_real_model()
    outcomes = {"ok": 0, "error": 0}
    for cut in range(len(data)):
        prefix = data[:cut]
        try:
            read_caffemodel(prefix)
            outcomes["ok"] += 1
        except CaffemodelError as error:
            assert 0 <= error.offset <= cut
            outcomes["error"] += 1
            continue
        caffe_pb2.NetParameter.FromString(prefix)  # whatever we accept, protobuf parses too
    assert outcomes["error"] > len(data) - 10  # the net is one layer field: almost all cuts fail


def test_corrupted_bytes_give_caffemodel_error_or_success():
    data = small_real_model()
    rng = np.random.default_rng(1234)
    for _ in range(400):
        mutated = bytearray(data)
        for at in rng.integers(0, len(data), rng.integers(1, 4)):
            mutated[at] = int(rng.integers(0, 256))
        try:
            model = read_caffemodel(bytes(mutated))
        except CaffemodelError:
            continue
        assert_matches_protobuf(bytes(mutated), model)


def test_error_names_path_and_byte(tmp_path):
    path = tmp_path / "cut.caffemodel"
    path.write_bytes(small_real_model()[:100])
    with pytest.raises(CaffemodelError) as info:
        read_caffemodel(path)
    layer_tag = small_real_model().index(b"\xa2\x06")  # the first layer (field 100, LEN)
    assert str(info.value).startswith(f"{path}: byte {layer_tag}: error: field 100: length ")


# --- a test-only schema, so protobuf itself writes the unusual encodings ----------------------

def _field(name, number, type_, label="LABEL_OPTIONAL", type_name=None, packed=None):
    fd = descriptor_pb2.FieldDescriptorProto(
        name=name, number=number, type=getattr(descriptor_pb2.FieldDescriptorProto, type_),
        label=getattr(descriptor_pb2.FieldDescriptorProto, label))
    if type_name:
        fd.type_name = type_name
    if packed is not None:
        fd.options.packed = packed
    return fd


def _build_wire_schema():
    file = descriptor_pb2.FileDescriptorProto(name="test_caffemodel_wire.proto",
                                              package="wiretest", syntax="proto2")
    rep = "LABEL_REPEATED"
    shape = file.message_type.add(name="Shape")
    shape.field.append(_field("dim", 1, "TYPE_INT64", rep, packed=False))
    blob = file.message_type.add(name="Blob")
    blob.nested_type.add(name="Extra").field.append(_field("x", 1, "TYPE_INT32"))
    blob.field.extend([
        _field("num", 1, "TYPE_INT32"), _field("channels", 2, "TYPE_INT32"),
        _field("height", 3, "TYPE_INT32"), _field("width", 4, "TYPE_INT32"),
        _field("data", 5, "TYPE_FLOAT", rep, packed=False),
        _field("diff", 6, "TYPE_FLOAT", rep, packed=False),
        _field("shape", 7, "TYPE_MESSAGE", type_name=".wiretest.Shape"),
        _field("double_data", 8, "TYPE_DOUBLE", rep, packed=False),
        _field("double_diff", 9, "TYPE_DOUBLE", rep, packed=True),
        _field("unknown_varint", 20, "TYPE_INT64"), _field("unknown_fixed32", 21, "TYPE_FIXED32"),
        _field("unknown_bytes", 22, "TYPE_BYTES"),
        _field("extra", 23, "TYPE_GROUP", type_name=".wiretest.Blob.Extra"),
        _field("unknown_fixed64", 24, "TYPE_FIXED64")])
    # Layers and nets holding raw bytes: protobuf wraps any blob/layer bytes we hand it.
    layer = file.message_type.add(name="RawLayer")
    layer.field.extend([_field("name", 1, "TYPE_STRING"), _field("type", 2, "TYPE_STRING"),
                        _field("blobs", 7, "TYPE_BYTES", rep),
                        _field("unknown_text", 999, "TYPE_STRING")])
    net = file.message_type.add(name="RawNet")
    net.field.extend([_field("name", 1, "TYPE_STRING"), _field("layers", 2, "TYPE_BYTES", rep),
                      _field("layer", 100, "TYPE_BYTES", rep)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"wiretest.{name}"))
            for name in ("Shape", "Blob", "RawLayer", "RawNet")}


W = _build_wire_schema()


def net_with_blobs(*blobs: bytes, name: str = "ip", type_: str = "InnerProduct") -> bytes:
    layer = W["RawLayer"](name=name, type=type_, blobs=list(blobs)).SerializeToString()
    return W["RawNet"](name="net", layer=[layer]).SerializeToString()


def packed_blob(**fields) -> bytes:
    return caffe_pb2.BlobProto(**fields).SerializeToString()


def unpacked_blob(**fields) -> bytes:
    return W["Blob"](**fields).SerializeToString()


VALUES = [0.5, -1.25, 2.0, 3.75, -0.125, 1024.0]


def test_unpacked_floats_and_dims():
    blob = unpacked_blob(shape=W["Shape"](dim=[2, 3]), data=VALUES)
    assert len(blob) > 6 * 5  # one tag byte + 4 bytes per value: really unpacked
    data = net_with_blobs(blob)
    model = read_caffemodel(data)
    expected = np.array(VALUES, np.float32).reshape(2, 3)
    np.testing.assert_array_equal(model.weights("ip")[0], expected)
    assert_matches_protobuf(data, model)


def test_long_unpacked_run_crossing_probe_chunks():
    values = np.arange(3001, dtype=np.float32) * 0.5
    data = net_with_blobs(unpacked_blob(shape=W["Shape"](dim=[3001]), data=values))
    np.testing.assert_array_equal(read_caffemodel(data).weights("ip")[0], values)


def test_interleaved_packed_unpacked_and_unknown_fields_concatenate():
    # Concatenated messages merge: data values append, diff/unknown fields in between are skipped.
    blob = b"".join([
        unpacked_blob(data=VALUES[:2], unknown_varint=-7, unknown_fixed32=9),
        unpacked_blob(diff=[9.0, 9.0], extra=W["Blob"].Extra(x=5), unknown_fixed64=3),
        packed_blob(data=VALUES[2:4]),
        unpacked_blob(data=VALUES[4:], unknown_bytes=b"\x00" * 3, double_diff=[1.0]),
        unpacked_blob(shape=W["Shape"](dim=[3])), packed_blob(shape=caffe_pb2.BlobShape(dim=[2])),
    ])
    data = net_with_blobs(blob)
    model = read_caffemodel(data)
    # shape { dim: 3 } then shape { dim: 2 } merge to dims [3, 2]
    np.testing.assert_array_equal(model.weights("ip")[0],
                                  np.array(VALUES, np.float32).reshape(3, 2))
    assert_matches_protobuf(data, model)
    assert len(model.net.layer[0].blobs[0].diff) == 0


def test_double_data_is_float64_and_wins_over_data():
    data = net_with_blobs(packed_blob(shape=caffe_pb2.BlobShape(dim=[2]), double_data=[0.1, 1e300],
                                      data=[7.0, 8.0]),
                          unpacked_blob(shape=W["Shape"](dim=[1]), double_data=[-2.5]))
    blobs = read_caffemodel(data).weights("ip")
    assert blobs[0].dtype == np.float64 and blobs[0].tolist() == [0.1, 1e300]
    assert blobs[1].dtype == np.float64 and blobs[1].tolist() == [-2.5]


@pytest.mark.parametrize("fields, shape", [
    (dict(num=2, channels=3, height=1, width=1), (2, 3, 1, 1)),
    (dict(height=2, width=3), (0, 0, 2, 3)),  # absent legacy dims count as 0 (Caffe's rule)
    (dict(num=1, channels=1, height=2, width=3, shape=caffe_pb2.BlobShape(dim=[6])), (1, 1, 2, 3)),
    (dict(shape=caffe_pb2.BlobShape()), ()),  # no dims: a scalar, one value
])
def test_blob_shape_rules(fields, shape):
    count = prod(shape)
    data = net_with_blobs(packed_blob(data=VALUES[:count], **fields))
    array = read_caffemodel(data).weights("ip")[0]
    assert array.shape == shape
    np.testing.assert_array_equal(array.reshape(-1), np.array(VALUES[:count], np.float32))


def test_count_mismatch_names_layer_and_blob():
    data = net_with_blobs(packed_blob(shape=caffe_pb2.BlobShape(dim=[2]), data=[1, 2]),
                          packed_blob(shape=caffe_pb2.BlobShape(dim=[2, 3]), data=VALUES[:5]),
                          name="fc7")
    with pytest.raises(CaffemodelError, match=r"layer 'fc7' blob 1: shape \[2, 3\] holds 6 "):
        read_caffemodel(data)
    with pytest.raises(CaffemodelError, match="layer 'fc7' blob 1"):
        list(iter_layer_weights(data))


def test_v1_layers(tmp_path):
    layer = caffe_pb2.V1LayerParameter(
        name="ip1", type=caffe_pb2.V1LayerParameter.INNER_PRODUCT, bottom=["data"], top=["ip1"],
        blobs_lr=[1, 2], blobs=[caffe_pb2.BlobProto(num=1, channels=1, height=2, width=3,
                                                    data=VALUES)])
    relu = caffe_pb2.V1LayerParameter(name="relu1", type=caffe_pb2.V1LayerParameter.RELU)
    data = caffe_pb2.NetParameter(name="v1", layers=[layer, relu]).SerializeToString()
    model = read_caffemodel(data)
    assert model.format == "V1"
    assert [(lw.name, lw.type) for lw in model.layers] == [("ip1", "INNER_PRODUCT"), ("relu1", "RELU")]
    np.testing.assert_array_equal(model.weights("ip1")[0],
                                  np.array(VALUES, np.float32).reshape(1, 1, 2, 3))
    assert_matches_protobuf(data, model)
    out = tmp_path / "v1.caffemodel"
    write_caffemodel(out, model.net, model.layers)
    written = caffe_pb2.NetParameter.FromString(out.read_bytes())
    # legacy dims stay legacy: Caffe matches (1, 1, 2, 3) to a (2, 3) blob only in that form
    assert written == caffe_pb2.NetParameter.FromString(data)
    assert read_caffemodel(out).format == "V1"


def test_legacy_dims_kept_only_for_4d_arrays(tmp_path):
    model = read_caffemodel(net_with_blobs(packed_blob(num=1, channels=1, height=1, width=2,
                                                       data=[1, 2]),
                                           packed_blob(num=1, channels=1, height=1, width=1,
                                                       data=[3])))
    out = tmp_path / "w.caffemodel"
    write_caffemodel(out, model.net, {"ip": [np.ones((1, 1, 1, 2)), np.ones(1)]})
    blobs = caffe_pb2.NetParameter.FromString(out.read_bytes()).layer[0].blobs
    assert (blobs[0].num, blobs[0].width, blobs[0].HasField("shape")) == (1, 2, False)
    assert (blobs[1].HasField("num"), list(blobs[1].shape.dim)) == (False, [1])


def test_v0_layers(tmp_path):
    conv = caffe_pb2.V0LayerParameter(
        name="conv1", type="conv", num_output=2, kernelsize=1,
        blobs=[caffe_pb2.BlobProto(num=2, channels=1, height=1, width=1, data=[3, 4]),
               caffe_pb2.BlobProto(num=1, channels=1, height=1, width=2, data=[5, 6])])
    entry = caffe_pb2.V1LayerParameter(layer=conv, bottom=["data"], top=["conv1"])
    data = caffe_pb2.NetParameter(name="v0", input=["data"], input_dim=[1, 1, 4, 4],
                                  layers=[entry]).SerializeToString()
    model = read_caffemodel(data)
    assert model.format == "V0"
    assert [(lw.name, lw.type) for lw in model.layers] == [("conv1", "conv")]
    assert [b.shape for b in model.weights("conv1")] == [(2, 1, 1, 1), (1, 1, 1, 2)]
    assert_matches_protobuf(data, model)
    out = tmp_path / "v0.caffemodel"
    write_caffemodel(out, model.net, model.layers)
    again = read_caffemodel(out)
    assert again.format == "V0" and again.net == model.net
    assert_same_weights(again.layers, model.layers)


def test_both_layer_and_layers_is_refused():
    data = caffe_pb2.NetParameter(layer=[caffe_pb2.LayerParameter(name="a")],
                                  layers=[caffe_pb2.V1LayerParameter(name="b")]).SerializeToString()
    with pytest.raises(CaffemodelError, match="both 'layer' and 'layers'"):
        read_caffemodel(data)


def test_empty_input_is_an_empty_net(tmp_path):
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    for source in (b"", tmp_path / "empty.caffemodel"):
        model = read_caffemodel(source)
        assert model.format == "V2" and model.layers == [] and model.net == caffe_pb2.NetParameter()


# --- hostile input -----------------------------------------------------------------------------

# 2**40 as a varint: five 0x80 continuation bytes, then 2**40 >> 35 = 32 = 0x20.
LENGTH_2_40 = b"\x80\x80\x80\x80\x80\x20"


@pytest.mark.parametrize("data", [
    b"\xa2\x06" + LENGTH_2_40 + b"abc",                            # layer (100, LEN) of 2**40 bytes
    net_with_blobs(b"\x2a" + LENGTH_2_40 + b"\x00" * 8),           # packed data (5, LEN) in a blob
    net_with_blobs(b"\x3a\x07\x0a" + LENGTH_2_40),  # shape (7, LEN) { dim (1, LEN) of 2**40 }
], ids=["layer", "blob-data", "shape"])
def test_lying_length_is_rejected_fast(data):
    start = time.perf_counter()
    with pytest.raises(CaffemodelError, match="length"):
        read_caffemodel(data)
    assert time.perf_counter() - start < 1.0


def test_huge_shape_with_little_data_is_a_count_error():
    data = net_with_blobs(packed_blob(shape=caffe_pb2.BlobShape(dim=[2**40, 2**40]), data=[1.0]))
    with pytest.raises(CaffemodelError, match="blob 0"):
        read_caffemodel(data)


@pytest.mark.parametrize("data, message", [
    (net_with_blobs(b"\xbb\x01" * 500), "nested deeper"),      # group 23 opened 500 times
    (b"\x08" + b"\xff" * 11, "varint longer"),
    (b"\x0f", "invalid wire type"),
    (b"\x00\x00", "field number 0"),
    (net_with_blobs(b"\x2a\x03\x00\x00\x00"), "not a multiple of 4"),
    (net_with_blobs(packed_blob(shape=caffe_pb2.BlobShape(dim=[1] * 33), data=[1.0])), "33|32"),
    (net_with_blobs(packed_blob(shape=caffe_pb2.BlobShape(dim=[-1]))), "negative"),
])
def test_malformed_blobs(data, message):
    with pytest.raises(CaffemodelError, match=message):
        read_caffemodel(data)


def test_layer_params_protobuf_refuses_are_located():
    # A convolution_param (field 106) whose body is a truncated varint: only protobuf sees it.
    good = caffe_pb2.LayerParameter(name="a").SerializeToString()
    bad = good + b"\xd2\x06\x02\x08\xff"
    data = W["RawNet"](layer=[good, bad]).SerializeToString()
    with pytest.raises(DecodeError):
        caffe_pb2.NetParameter.FromString(data)
    with pytest.raises(CaffemodelError, match="protobuf cannot parse") as info:
        read_caffemodel(data)
    assert info.value.offset == 3 + len(good)  # the second layer's tag (2-byte tag, 1-byte length)


# --- writing -----------------------------------------------------------------------------------

def simple_net() -> caffe_pb2.NetParameter:
    net = caffe_pb2.NetParameter(name="tiny", input=["data"])
    net.layer.add(name="conv", type="Convolution").convolution_param.num_output = 2
    net.layer.add(name="relu", type="ReLU")
    net.layer.add(name="ip", type="InnerProduct").inner_product_param.num_output = 3
    return net


def test_writer_output_is_what_protobuf_reads(tmp_path):
    rng = np.random.default_rng(0)
    conv_w = rng.standard_normal((2, 3, 3, 3)).astype(">f4")              # big-endian input
    ip_w = rng.standard_normal((4, 3)).T                                   # float64, transposed
    ints = np.arange(3, dtype=np.int16)
    out = tmp_path / "w.caffemodel"
    write_caffemodel(out, simple_net(), {"conv": [conv_w, np.zeros(2, np.float32)],
                                         "ip": [ip_w, ints]})
    parsed = caffe_pb2.NetParameter.FromString(out.read_bytes())
    assert [layer.name for layer in parsed.layer] == ["conv", "relu", "ip"]
    conv = parsed.layer[0].blobs
    assert list(conv[0].shape.dim) == [2, 3, 3, 3]
    np.testing.assert_array_equal(np.array(conv[0].data, np.float32).reshape(2, 3, 3, 3), conv_w)
    assert list(parsed.layer[2].blobs[0].double_data) == ip_w.reshape(-1).tolist()
    assert list(parsed.layer[2].blobs[1].data) == [0.0, 1.0, 2.0]
    model = read_caffemodel(out)
    assert model.weights("ip")[0].dtype == np.float64
    np.testing.assert_array_equal(model.weights("ip")[0], ip_w)
    assert model.net == without_values(parsed)


def test_writer_accepts_layer_weight_lists_in_order(tmp_path):
    out = tmp_path / "w.caffemodel"
    write_caffemodel(out, simple_net(), [LayerWeights("conv", "Convolution", [np.ones(2)]),
                                         LayerWeights("ip", "InnerProduct", [np.ones(3)])])
    assert [len(lw.blobs) for lw in read_caffemodel(out).layers] == [1, 0, 1]
    with pytest.raises(CaffemodelError, match="'conv'"):
        write_caffemodel(out, simple_net(), [LayerWeights("ip", "", []),
                                             LayerWeights("conv", "", [])])
    with pytest.raises(CaffemodelError, match="not in the net"):
        write_caffemodel(out, simple_net(), {"fc9": [np.ones(1)]})


def test_writer_refuses_blobs_without_values(tmp_path):
    out = tmp_path / "w.caffemodel"
    write_caffemodel(out, simple_net(), {"conv": [np.ones((2, 2), np.float32)]})
    model = read_caffemodel(out)
    with pytest.raises(CaffemodelError, match="layer 'conv' blob 0: shape \\[2, 2\\]"):
        write_caffemodel(tmp_path / "other.caffemodel", model.net)  # net alone has no values
    assert not (tmp_path / "other.caffemodel").exists()


def test_write_is_atomic_and_keeps_permissions(tmp_path, monkeypatch):
    out = tmp_path / "w.caffemodel"
    out.write_bytes(b"old")
    os.chmod(out, 0o640)
    write_caffemodel(out, simple_net(), {"conv": [np.ones(2)]})
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    written = out.read_bytes()

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(writer_module, "_write", fail)
    with pytest.raises(OSError, match="disk full"):
        write_caffemodel(out, simple_net(), {"conv": [np.zeros(2)]})
    assert out.read_bytes() == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.caffemodel"]


def test_atomic_output_follows_symlinks(tmp_path):
    target = tmp_path / "real.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with atomic_output(link, durable=False) as out:
        out.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_arrays_are_views_read_only_unless_writable(tmp_path):
    out = tmp_path / "w.caffemodel"
    write_caffemodel(out, simple_net(), {"conv": [np.arange(4, dtype=np.float32)]})
    array = read_caffemodel(out).weights("conv")[0]
    assert not array.flags.writeable
    private = read_caffemodel(out, writable=True).weights("conv")[0]
    private[:] = 7
    np.testing.assert_array_equal(read_caffemodel(out).weights("conv")[0], np.arange(4))


def test_packed_values_are_zero_copy_views():
    blob = packed_blob(shape=caffe_pb2.BlobShape(dim=[2, 3]), data=VALUES)
    data = net_with_blobs(blob)
    for source in (data, bytearray(data), memoryview(data)):
        array = read_caffemodel(source).weights("ip")[0]
        assert np.shares_memory(array, np.frombuffer(source, np.uint8))
        np.testing.assert_array_equal(array, np.array(VALUES, np.float32).reshape(2, 3))


def test_rewrite_in_place_from_its_own_mapping(tmp_path):
    out = tmp_path / "w.caffemodel"
    write_caffemodel(out, simple_net(), {"conv": [np.arange(6, dtype=np.float32).reshape(2, 3)]})
    model = read_caffemodel(out)  # arrays are views of out's mapping
    write_caffemodel(out, model.net, model.layers)
    np.testing.assert_array_equal(read_caffemodel(out).weights("conv")[0],
                                  np.arange(6).reshape(2, 3))


def test_scalar_blob_keeps_its_empty_shape(tmp_path):
    """A 0-d blob (channel-shared PReLU's slope) is written with no dims, as Caffe's ToProto does."""
    net = text_format.Parse("layer { name: 'p' type: 'PReLU' }", caffe_pb2.NetParameter())
    out = tmp_path / "scalar.caffemodel"
    write_caffemodel(out, net, {"p": [np.array(0.25, np.float32)]})
    proto = caffe_pb2.NetParameter.FromString(out.read_bytes())
    assert list(proto.layer[0].blobs[0].shape.dim) == [] and list(proto.layer[0].blobs[0].data) == [0.25]
    blob = read_caffemodel(out).weights("p")[0]
    assert blob.shape == () and float(blob) == 0.25


def test_saved_gradients_are_counted_not_read(tmp_path):
    """A snapshot's diff/double_diff is skipped (inference never reads it) but counted, packed
    or not, so commands that rewrite the file say they leave it out."""
    from prototxt_tools.cli import main
    net = caffe_pb2.NetParameter(name="snap")
    for name, diff in (("with_diff", True), ("plain", False)):
        layer = net.layers.add(name=name, type=caffe_pb2.V1LayerParameter.INNER_PRODUCT)
        blob = layer.blobs.add(num=1, channels=1, height=2, width=3)
        blob.data.extend([1, 2, 3, 4, 5, 6])
        if diff:
            blob.diff.extend([0.5] * 6)
            blob.double_diff.extend([0.25] * 6)
    path = tmp_path / "snap.caffemodel"
    path.write_bytes(net.SerializeToString())
    model = read_caffemodel(path)
    assert model.diff_blobs == 1
    assert model.weights("with_diff")[0].ravel().tolist() == [1, 2, 3, 4, 5, 6]
    # unpacked diff values (one fixed32 record each: legal protobuf, not what Caffe writes)
    raw_blob = (bytes([0x08, 1, 0x10, 1, 0x18, 1, 0x20, 2, 0x2a, 8])
                + np.array([1, 2], "<f4").tobytes()
                + b"".join(b"\x35" + np.float32(v).tobytes() for v in (0.5, 0.5)))
    layer = caffe_pb2.V1LayerParameter(name="u").SerializeToString() + bytes(
        [0x32, len(raw_blob)]) + raw_blob
    unpacked = read_caffemodel(bytes([0x12, len(layer)]) + layer)
    assert unpacked.diff_blobs == 1 and unpacked.weights("u")[0].ravel().tolist() == [1, 2]
    clean = caffe_pb2.NetParameter()
    clean.CopyFrom(net)
    for layer in clean.layers:
        for blob in layer.blobs:
            blob.ClearField("diff")
            blob.ClearField("double_diff")
    assert read_caffemodel(clean.SerializeToString()).diff_blobs == 0
    out = tmp_path / "up.caffemodel"
    assert main(["upgrade", str(path), "-o", str(out)]) == 0
    assert read_caffemodel(out).diff_blobs == 0
