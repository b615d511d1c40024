"""Field numbers of the messages the scanner walks, looked up in our schema's descriptors.

Looking them up (rather than typing 100, 7, 5 ...) keeps the scanner and ``proto/`` from
drifting apart; a renamed or missing field fails at import time.
"""

from __future__ import annotations

from typing import NamedTuple

from google.protobuf.message import Message

from ..schema import caffe_pb2


def number(message: type[Message], field: str) -> int:
    """The field number of ``message.field`` in our schema."""
    return message.DESCRIPTOR.fields_by_name[field].number


_Blob = caffe_pb2.BlobProto
BLOB_SHAPE = number(_Blob, "shape")
BLOB_DATA = number(_Blob, "data")
BLOB_DIFF = number(_Blob, "diff")
BLOB_DOUBLE_DATA = number(_Blob, "double_data")
BLOB_DOUBLE_DIFF = number(_Blob, "double_diff")
# Deprecated 4-D dimensions, in Caffe's legacy order (num, channels, height, width).
BLOB_LEGACY_DIMS = tuple(number(_Blob, f) for f in ("num", "channels", "height", "width"))
SHAPE_DIM = number(caffe_pb2.BlobShape, "dim")

NET_LAYER = number(caffe_pb2.NetParameter, "layer")      # current format
NET_LAYERS = number(caffe_pb2.NetParameter, "layers")    # V1 (and V0, wrapped in V1)


class LayerLayout(NamedTuple):
    """Where one layer message keeps its name, type and blobs."""

    message: type[Message]
    name: int
    type: int
    blobs: int
    nested_v0: int | None  # V1LayerParameter.layer: the V0 layer a V0-format entry wraps


def _layout(message: type[Message], nested: str | None = None) -> LayerLayout:
    return LayerLayout(message, number(message, "name"), number(message, "type"),
                       number(message, "blobs"), number(message, nested) if nested else None)


V2_LAYER = _layout(caffe_pb2.LayerParameter)
V1_LAYER = _layout(caffe_pb2.V1LayerParameter, "layer")
V0_LAYER = _layout(caffe_pb2.V0LayerParameter)
