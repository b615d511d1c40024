"""Write a caffemodel: layer parameters serialized by protobuf, blob values streamed from numpy.

Each blob is written as ``shape { dim ... }`` (or legacy 4-D dims, see ``_blob``) plus one
packed ``data`` field (``double_data`` for float64 arrays, as Caffe's ``Blob<double>::ToProto``
does) whose bytes go from the array's buffer straight to the file (or, for a blob that is an
untouched view of a read caffemodel, from that file by the kernel: :mod:`.filecopy`).  Lengths
are computed up front, so nothing is assembled in memory but the small parameter bytes.  The
file is replaced atomically.

Layers keep the layout the net uses: ``layer`` entries (V2), or ``layers`` entries for V1 nets
(blobs in the entry) and V0 nets (blobs in the wrapped V0 layer).  Upgrading is not our job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from math import prod
from typing import BinaryIO, Callable, Union

import numpy as np
from google.protobuf.message import Message

from ..errors import CaffemodelError
from ..schema import caffe_pb2
from . import numbers as n
from ..fileio import atomic_output
from .filecopy import write_array
from .reader import LayerWeights
from .wire import VARINT, encode_tag, encode_varint, length_prefix

Weights = Union[Mapping[str, Sequence[np.ndarray]], Sequence[LayerWeights]]
Chunk = Union[bytes, np.ndarray]  # arrays are written by write_array (file to file if it can)


class _Sized:
    """Pieces of output and their total length (needed for the enclosing length prefix)."""

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.size = 0

    def add(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.size += chunk.nbytes if isinstance(chunk, np.ndarray) else len(chunk)

    def add_field(self, number: int, body: "_Sized") -> None:
        """Append ``body`` as the length-delimited field ``number``."""
        self.add(length_prefix(number, body.size))
        self.chunks.extend(body.chunks)
        self.size += body.size


def write_caffemodel(path: str | os.PathLike[str], net: caffe_pb2.NetParameter,
                     weights: Weights | None = None, *, durable: bool | None = None,
                     progress: Callable[[int, int], None] | None = None) -> None:
    """Write ``net`` with ``weights`` as a binary caffemodel at ``path`` (atomically).

    ``progress(bytes written, total bytes)`` is called as the file is written (see
    :class:`prototxt_tools.progress.TerminalProgress`).  ``durable`` fsyncs the file before it
    replaces ``path``; None (the default) does when an existing file is replaced
    (:mod:`prototxt_tools.fileio`).

    ``weights`` maps layer names to their blobs, or is a list of :class:`LayerWeights` matched
    to the net's layers in order (as ``CaffeModel.layers``).  A layer with weights gets exactly
    those blobs (its BlobProtos in ``net`` only decide whether a 4-D blob keeps the legacy
    num/channels/height/width form); other layers keep the blobs ``net`` holds, which must then
    carry their values.  Raises :class:`CaffemodelError` for weights of
    unknown layers and for blobs whose value count does not match their shape.
    """
    entries, field_number = _layer_entries(net)
    names = [_entry_name(entry) for entry in entries]
    assigned = _assign(names, weights)
    try:
        body = [_header(net)]
        for index, (entry, blobs) in enumerate(zip(entries, assigned)):
            layer = _Sized()
            layer.add_field(field_number, _entry(entry, names[index], blobs))
            body.append(layer)
    except CaffemodelError as error:
        error.path = os.fspath(path)
        raise
    with atomic_output(path, durable=durable) as out:
        _write(out, body, progress)


def _write(out: BinaryIO, body: list[_Sized], progress) -> None:
    total = sum(part.size for part in body)
    written = 0
    for chunk in (chunk for part in body for chunk in part.chunks):
        for piece in _pieces(chunk):
            if isinstance(piece, np.ndarray):
                write_array(out, piece)
                written += piece.nbytes
            else:
                out.write(piece)
                written += len(piece)
            if progress is not None:
                progress(written, total)


# Big blobs are written in slices of this many bytes, so progress moves within them.
_SLICE_BYTES = 64 * 2**20


def _pieces(chunk: Chunk) -> list[Chunk]:
    """The chunk, or a big array's contiguous slices (views: still file regions)."""
    if not isinstance(chunk, np.ndarray) or chunk.nbytes <= _SLICE_BYTES:
        return [chunk]
    flat = chunk.reshape(-1)
    step = max(1, _SLICE_BYTES // flat.itemsize)
    return [flat[i:i + step] for i in range(0, flat.size, step)]


def _layer_entries(net: caffe_pb2.NetParameter) -> tuple[Sequence[Message], int]:
    if len(net.layer) and len(net.layers):
        raise CaffemodelError("the net has both 'layer' and 'layers' entries; upgrade it first")
    if len(net.layers):
        return net.layers, n.NET_LAYERS
    return net.layer, n.NET_LAYER


def _entry_name(entry: Message) -> str:
    return entry.layer.name if _is_v0(entry) else entry.name


def _is_v0(entry: Message) -> bool:
    return isinstance(entry, caffe_pb2.V1LayerParameter) and entry.HasField("layer")


def _assign(names: list[str], weights: Weights | None) -> list[Sequence[np.ndarray] | None]:
    """Blobs for each layer, or None where the net's own blobs are kept."""
    if weights is None:
        return [None] * len(names)
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise CaffemodelError(f"weights given for layers not in the net: {unknown}")
        return [weights.get(name) for name in names]
    assigned: list[Sequence[np.ndarray] | None] = [None] * len(names)
    items = list(weights)
    next_item = 0
    for index, name in enumerate(names):
        if next_item < len(items) and items[next_item].name == name:
            assigned[index] = items[next_item].blobs
            next_item += 1
    if next_item < len(items):
        raise CaffemodelError(f"weights of layer '{items[next_item].name}' (item {next_item}) "
                              "match no layer of the net in order")
    return assigned


def _header(net: caffe_pb2.NetParameter) -> _Sized:
    """Every NetParameter field except the layers, copied field by field (layers untouched)."""
    head = caffe_pb2.NetParameter()
    for descriptor, value in net.ListFields():
        if descriptor.number in (n.NET_LAYER, n.NET_LAYERS):
            continue
        if isinstance(value, Message):
            getattr(head, descriptor.name).CopyFrom(value)
        elif hasattr(value, "extend"):  # repeated field
            getattr(head, descriptor.name).extend(value)
        else:
            setattr(head, descriptor.name, value)
    out = _Sized()
    out.add(head.SerializeToString())
    return out


def _entry(entry: Message, name: str, blobs: Sequence[np.ndarray] | None) -> _Sized:
    """One layer message: parameters by protobuf, then the blobs."""
    if blobs is None:
        _check_own_blobs(_blob_holder(entry), name)
        out = _Sized()
        out.add(entry.SerializeToString())
        return out
    if _is_v0(entry):
        wrapper = _without(entry, "layer", "blobs")  # Caffe ignores a V0 wrapper's blobs
        out = _Sized()
        out.add(wrapper.SerializeToString())
        out.add_field(n.V1_LAYER.nested_v0, _with_blobs(entry.layer, n.V0_LAYER.blobs, name, blobs))
        return out
    layout = n.V1_LAYER if isinstance(entry, caffe_pb2.V1LayerParameter) else n.V2_LAYER
    return _with_blobs(entry, layout.blobs, name, blobs)


def _blob_holder(entry: Message) -> Message:
    return entry.layer if _is_v0(entry) else entry


def _without(message: Message, *fields: str) -> Message:
    copy = type(message)()
    copy.CopyFrom(message)
    for field in fields:
        copy.ClearField(field)
    return copy


def _with_blobs(layer: Message, blobs_field: int, name: str,
                blobs: Sequence[np.ndarray]) -> _Sized:
    out = _Sized()
    out.add(_without(layer, "blobs").SerializeToString())
    for index, array in enumerate(blobs):
        legacy = index < len(layer.blobs) and _uses_legacy_dims(layer.blobs[index])
        out.add_field(blobs_field, _blob(array, name, index, legacy))
    return out


_LEGACY = ("num", "channels", "height", "width")


def _uses_legacy_dims(blob: caffe_pb2.BlobProto) -> bool:
    return any(blob.HasField(f) for f in _LEGACY)


def _blob(array: np.ndarray, name: str, index: int, legacy: bool) -> _Sized:
    """Shape and packed values, the values as a view of the array's memory.

    The shape is ``shape { dim }``, or the 4-D num/channels/height/width when the net's blob
    used those and the array is 4-D: Caffe matches legacy dims to a layer's blob from the
    trailing axes (``Blob::ShapeEquals``), so a legacy (1, 1, M, N) InnerProduct weight loads
    into an (M, N) blob, while ``shape { dim: 1 1 M N }`` would be refused.
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"layer '{name}' blob {index}: dtype {array.dtype} is not a real number")
    double = array.dtype == np.float64
    values = np.ascontiguousarray(array, "<f8" if double else "<f4")
    # ascontiguousarray makes a 0-d array 1-d; the blob keeps the caller's shape (a scalar
    # blob, e.g. channel-shared PReLU, has no dims in Caffe)
    shape_dims = array.shape
    out = _Sized()
    if legacy and len(shape_dims) == 4:
        out.add(b"".join(encode_tag(number, VARINT) + encode_varint(dim)
                         for number, dim in zip(n.BLOB_LEGACY_DIMS, shape_dims)))
    else:
        dims = b"".join(encode_varint(d) for d in shape_dims)
        shape = length_prefix(n.SHAPE_DIM, len(dims)) + dims if dims else b""
        out.add(length_prefix(n.BLOB_SHAPE, len(shape)) + shape)
    if values.size:
        out.add(length_prefix(n.BLOB_DOUBLE_DATA if double else n.BLOB_DATA, values.nbytes))
        out.add(values)
    return out


def _check_own_blobs(layer: Message, name: str) -> None:
    """A kept BlobProto must hold as many values as its shape (Caffe's Blob::FromProto check)."""
    for index, blob in enumerate(layer.blobs):
        if _uses_legacy_dims(blob):
            shape = [getattr(blob, f) for f in _LEGACY]
        else:
            shape = list(blob.shape.dim)
        held = len(blob.double_data) or len(blob.data)
        if held != prod(shape):
            raise CaffemodelError(f"layer '{name}' blob {index}: shape {shape} holds "
                                  f"{prod(shape)} values but the blob has {held}; pass this "
                                  "layer's weights")
