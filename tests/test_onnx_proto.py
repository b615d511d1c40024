"""Our copy of ONNX's schema and helpers against onnx's own: same messages, same bytes."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from google.protobuf import descriptor_pb2  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from prototxt_tools.export import onnx_proto  # noqa: E402


def _file(descriptor) -> descriptor_pb2.FileDescriptorProto:
    return descriptor_pb2.FileDescriptorProto.FromString(descriptor.file.serialized_pb)


def _fields(fdp: descriptor_pb2.FileDescriptorProto, package: str) -> dict:
    """(message path, field name) -> (number, label, type, type name) over nested messages."""
    found = {}

    def walk(messages, prefix):
        for message in messages:
            path = prefix + message.name
            for f in message.field:
                found[(path, f.name)] = (f.number, f.label, f.type,
                                         f.type_name.replace(f".{package}.", "."))
            walk(message.nested_type, path + ".")

    walk(fdp.message_type, "")
    return found


def test_schema_agrees_with_onnx():
    """Every field both schemas have has the same number, label and type: what we write means
    the same to onnx.  With the onnx release our copy came from, the schemas are equal."""
    ours = _fields(_file(onnx_proto.ModelProto.DESCRIPTOR), "prototxt_tools.onnx")
    theirs = _fields(_file(onnx.ModelProto.DESCRIPTOR), "onnx")
    assert _file(onnx_proto.ModelProto.DESCRIPTOR).package == "prototxt_tools.onnx"
    differing = {key: (ours[key], theirs[key]) for key in ours.keys() & theirs.keys()
                 if ours[key] != theirs[key]}
    assert not differing
    assert len(ours.keys() & theirs.keys()) > 100
    if onnx.__version__.startswith("1.23."):  # proto/prototxt_tools_onnx.proto's source
        assert ours == theirs


@pytest.mark.parametrize("value", [
    3, True, -1, 2.5, np.float32(0.1), np.int64(7), "mode", b"raw", [1, 2, 3], (0, 0, 1, 1),
    [1.0, 2], [0.5, 0.25], ["a", "b"], np.array([1, 2], np.int64),
])
def test_attributes_equal_onnx_helper(value):
    ours = onnx_proto.make_attribute("k", value).SerializeToString()
    assert ours == helper.make_attribute("k", value).SerializeToString()


def test_graph_attribute_and_node_equal_onnx_helper():
    body = onnx_proto.make_graph([], "body", [], [])
    node = onnx_proto.make_node("Loop", ["n", "c"], ["y"], name="loop", body=body, z=1, a=[2.0])
    theirs = helper.make_node("Loop", ["n", "c"], ["y"], name="loop",
                              body=helper.make_graph([], "body", [], []), z=1, a=[2.0])
    assert node.SerializeToString() == theirs.SerializeToString()


@pytest.mark.parametrize("shape", [None, [], [1, 3, 224, 224], ["N", 3, 7, 7]])
@pytest.mark.parametrize("elem_type", [onnx.TensorProto.FLOAT, onnx.TensorProto.INT64,
                                       onnx.TensorProto.BOOL])
def test_value_info_equals_onnx_helper(shape, elem_type):
    ours = onnx_proto.make_tensor_value_info("x", elem_type, shape).SerializeToString()
    assert ours == helper.make_tensor_value_info("x", elem_type, shape).SerializeToString()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64, np.int32,
                                   np.int8, np.uint8, np.bool_])
def test_tensors_equal_numpy_helper(dtype):
    array = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    ours = onnx_proto.from_array(array, "w")
    assert ours.SerializeToString() == numpy_helper.from_array(array, "w").SerializeToString()
    read_back = numpy_helper.to_array(onnx.TensorProto.FromString(ours.SerializeToString()))
    np.testing.assert_array_equal(read_back, array)
    big_endian = onnx_proto.from_array(array.astype(array.dtype.newbyteorder(">")), "w")
    assert big_endian.SerializeToString() == ours.SerializeToString()  # raw_data is little-endian
    scalar = np.array(1.5, np.float32)
    assert onnx_proto.from_array(scalar).SerializeToString() == \
        numpy_helper.from_array(scalar).SerializeToString()


@pytest.mark.parametrize("opset", range(13, 22))
def test_model_header_equals_onnx_helper(opset):
    graph = onnx_proto.make_graph([], "g", [], [])
    ours = onnx_proto.make_model(graph, opset, producer_name="p", producer_version="1")
    ids = [helper.make_opsetid("", opset)]
    theirs = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=ids,
                               ir_version=helper.find_min_ir_version_for(ids),
                               producer_name="p", producer_version="1")
    assert ours.SerializeToString() == theirs.SerializeToString()


def test_unstorable_attributes_are_refused():
    with pytest.raises(ValueError, match="empty list"):
        onnx_proto.make_attribute("k", [])
    with pytest.raises(TypeError):
        onnx_proto.make_attribute("k", object())
    with pytest.raises(TypeError, match="no ONNX tensor type"):
        onnx_proto.np_dtype_to_tensor_dtype(np.complex64)


def test_onnx_own_messages_are_accepted_as_attribute_values():
    """A plugin exporter may build a tensor or graph with onnx.helper: same bytes either way."""
    tensor = numpy_helper.from_array(np.arange(3, dtype=np.float32), "t")
    ours = onnx_proto.make_attribute("value", tensor).SerializeToString()
    assert ours == helper.make_attribute("value", tensor).SerializeToString()
    graph = helper.make_graph([], "body", [], [])
    ours = onnx_proto.make_attribute("body", graph).SerializeToString()
    assert ours == helper.make_attribute("body", graph).SerializeToString()
