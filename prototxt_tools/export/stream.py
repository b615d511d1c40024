"""Write an ONNX model with its initializers streamed from numpy, never as one protobuf message.

``ModelProto.SerializeToString()`` of a model holding its weights costs, for VGG-16 (553 MB),
three copies of the weights (``from_array``'s ``tobytes``, the TensorProto's ``raw_data``, the
serialized bytes) and ~6 s in upb; the checker serializes it once more and parses it again in
C++.  Here the model's own fields (nodes, value_info: small) are serialized by protobuf, and each
large initializer is written as its TensorProto header (dims, data_type, name) followed by the
``raw_data`` field whose bytes go from the array's buffer straight to the file, or from the
caffemodel to the file inside the kernel when the array is the caffemodel's own float32 bytes
(:mod:`prototxt_tools.caffemodel.filecopy`: the source pages never enter this process).  Fields keep
protobuf's field-number order, so the bytes equal ``to_proto().SerializeToString()``.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from ..caffemodel.filecopy import write_array
from ..caffemodel.wire import length_prefix
from .onnx_proto import (GraphProto, ModelProto, TensorProto, from_array,
                         np_dtype_to_tensor_dtype)

# ModelProto.graph, GraphProto.initializer, TensorProto.raw_data
_MODEL_GRAPH = ModelProto.DESCRIPTOR.fields_by_name["graph"].number
_GRAPH_INITIALIZER = GraphProto.DESCRIPTOR.fields_by_name["initializer"].number
_TENSOR_RAW_DATA = TensorProto.DESCRIPTOR.fields_by_name["raw_data"].number
# Below this the whole TensorProto is built in memory (the copy is small).
STREAM_MIN_BYTES = 1 << 16


def write_model(out: BinaryIO, model: ModelProto, initializers: list,
                progress=None) -> None:
    """Write ``model`` (no initializers of its own) with ``initializers`` (name, array) added
    to its graph, as protobuf would serialize the whole; ``progress(done, total)`` follows
    the initializers' bytes."""
    model_before, model_after = _split(model, _MODEL_GRAPH)
    graph_before, graph_after = _split(model.graph, _GRAPH_INITIALIZER)
    tensors = [_tensor_pieces(name, array) for name, array in initializers]
    graph_size = len(graph_before) + len(graph_after) + sum(
        len(length_prefix(_GRAPH_INITIALIZER, size)) + size for _, size in tensors)
    out.write(model_before)
    out.write(length_prefix(_MODEL_GRAPH, graph_size))
    out.write(graph_before)
    total, done = sum(size for _, size in tensors), 0
    for pieces, size in tensors:
        out.write(length_prefix(_GRAPH_INITIALIZER, size))
        for piece in pieces:
            if isinstance(piece, np.ndarray):
                write_array(out, piece)  # file to file when it is a caffemodel's own bytes
            else:
                out.write(piece)
        done += size
        if progress is not None:
            progress(done, total)
    out.write(graph_after)
    out.write(model_after)


def _split(message, number: int) -> tuple[bytes, bytes]:
    """``message`` serialized without field ``number``: the fields numbered below it, above it."""
    parts = []
    for keep in (lambda n: n < number, lambda n: n > number):
        part = type(message)()
        part.CopyFrom(message)
        for descriptor, _ in part.ListFields():
            if not keep(descriptor.number):
                part.ClearField(descriptor.name)
        parts.append(part.SerializeToString())
    return parts[0], parts[1]


def _tensor_pieces(name: str, array: np.ndarray) -> tuple[list, int]:
    """The TensorProto of one initializer as byte pieces (a view of the array for the values)
    and its total size."""
    if array.nbytes < STREAM_MIN_BYTES or array.dtype.kind not in "fiub" or \
            array.dtype.itemsize > 8:
        data = from_array(array, name).SerializeToString()
        return [data], len(data)
    values = np.ascontiguousarray(array, array.dtype.newbyteorder("<"))
    header = TensorProto(dims=array.shape, name=name,
                         data_type=np_dtype_to_tensor_dtype(array.dtype))
    head = header.SerializeToString() + length_prefix(_TENSOR_RAW_DATA, values.nbytes)
    return [head, values], len(head) + values.nbytes
