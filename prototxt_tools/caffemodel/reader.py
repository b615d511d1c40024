"""Read a binary NetParameter (``.caffemodel``): layer parameters via protobuf, blobs via numpy.

The file is memory-mapped and walked with :mod:`.wire`.  Every layer's blob values become numpy
views of the mapping (see :mod:`.blobs`); what remains of each layer (name, type, params and
each blob's shape) is a few hundred bytes, re-assembled into a small NetParameter that protobuf
parses in one call.  Peak memory is therefore the pages of the file that get touched.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator, Literal, Union

import numpy as np
from google.protobuf.message import DecodeError

from ..errors import CaffemodelError
from ..schema import caffe_pb2
from . import numbers as n
from .blobs import ScannedBlob, scan_blob
from .filecopy import register_mapping
from .wire import LENGTH_DELIMITED, VARINT, Field, corrupt, iter_fields, length_prefix

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
Format = Literal["V0", "V1", "V2"]


@dataclass
class LayerWeights:
    """One layer's learned blobs, each already in the blob's shape.

    ``type`` is as the file spells it: a string for current (``"Convolution"``) and V0
    (``"conv"``) layers, the enum name for V1 layers (``"CONVOLUTION"``).  Arrays are float32,
    or float64 for blobs stored as ``double_data``.  Read from a file they are read-only views
    of its memory map (``read_caffemodel(..., writable=True)`` gives private writable pages).
    """

    name: str
    type: str
    blobs: list[np.ndarray] = field(default_factory=list)


@dataclass
class CaffeModel:
    """A caffemodel as read: ``net`` without blob values, ``layers`` parallel to its layers.

    ``net.layer`` (or ``net.layers`` for V0/V1 files) keeps each BlobProto with its shape
    fields (``shape`` or num/channels/height/width) but no ``data``/``double_data``/``diff``:
    never serialize ``net`` itself as a caffemodel, use :func:`write_caffemodel` with
    ``layers``.  ``layers[i]`` belongs to ``net.layer[i]`` (resp. ``net.layers[i]``).
    ``diff_blobs`` counts the blobs that also held saved gradients (a snapshot's ``diff``),
    which are not read: a caffemodel written from this one has none.
    """

    net: caffe_pb2.NetParameter
    format: Format
    layers: list[LayerWeights]
    path: str | None = None
    diff_blobs: int = 0

    def __repr__(self) -> str:
        blobs = sum(len(layer.blobs) for layer in self.layers)
        values = sum(blob.size for layer in self.layers for blob in layer.blobs)
        where = f" {self.path!r}" if self.path else ""
        return (f"<CaffeModel{where} ({self.format}): {len(self.layers)} layers, {blobs} blobs, "
                f"{values:,} values>")

    def dropped_diff_note(self) -> str | None:
        """What a rewrite of this model leaves out, for the user (None when nothing)."""
        if not self.diff_blobs:
            return None
        return (f"the saved gradients (diff) of {self.diff_blobs} blob"
                f"{'s' if self.diff_blobs != 1 else ''} are not written: a snapshot's training "
                "state, which inference never reads")

    def weights(self, name: str) -> list[np.ndarray]:
        """The blobs of the first layer called ``name``; KeyError when there is none."""
        for layer in self.layers:
            if layer.name == name:
                return layer.blobs
        raise KeyError(f"no layer named {name!r} in {self.path or 'the caffemodel'}")


def read_caffemodel(source: Source, *, writable: bool = False) -> CaffeModel:
    """Read a caffemodel from a path or from bytes.

    Raises :class:`CaffemodelError` (with the byte offset) for truncated or corrupt input, for a
    blob whose value count differs from its shape, and for a net mixing ``layer`` and
    ``layers`` (Caffe refuses to upgrade those).
    """
    buf, path = _open(source, writable)
    try:
        header: list[tuple[int, bytes]] = []
        scans = list(_scan_net(buf, header))
        formats = {scan.format for scan in scans}
        fmt: Format = "V0" if "V0" in formats else "V1" if "V1" in formats else "V2"
        layers = [scan.weights() for scan in scans]
        net = _parse_net(header, scans)
    except CaffemodelError as error:
        error.path = error.path or path
        raise
    diffs = sum(blob.has_diff for scan in scans for blob in scan.blobs)
    return CaffeModel(net, fmt, layers, path, diffs)


def iter_layer_weights(source: Source, *, writable: bool = False) -> Iterator[LayerWeights]:
    """Yield each layer's weights in file order, without parsing layer parameters.

    Errors surface when the iteration reaches them.
    """
    buf, path = _open(source, writable)
    try:
        for scan in _scan_net(buf, []):
            yield scan.weights()
    except CaffemodelError as error:
        error.path = error.path or path
        raise


# --- opening -------------------------------------------------------------------------------

def _open(source: Source, writable: bool) -> tuple[memoryview, str | None]:
    """A byte view of the source, memory-mapped for files; and the path for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return memoryview(source).cast("B"), None
    path = os.fspath(source)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:  # mmap cannot map an empty file; an empty message is a valid empty net
                return memoryview(b""), path
            access = mmap.ACCESS_COPY if writable else mmap.ACCESS_READ
            mapped = mmap.mmap(f.fileno(), 0, access=access)
            if not writable:  # its arrays are the file's bytes: writers may copy file to file
                register_mapping(mapped, f.fileno())
    except OSError as error:  # missing, a directory, a FIFO mmap refuses: one typed error
        raise CaffemodelError(f"cannot read file: {error.strerror or error}", path) from None
    return memoryview(mapped), path


# --- walking the net -----------------------------------------------------------------------

@dataclass
class _LayerScan:
    """One ``layer``/``layers`` entry: its bytes minus blob values, and its blobs."""

    offset: int
    field_number: int
    format: Format
    name: str
    type: str
    blobs: list[ScannedBlob]
    stripped: bytes  # the whole field (tag + length + payload) with values removed

    def weights(self) -> LayerWeights:
        return LayerWeights(self.name, self.type,
                            [blob.array(self.name, i) for i, blob in enumerate(self.blobs)])


def _scan_net(buf: memoryview, header: list[tuple[int, bytes]]) -> Iterator[_LayerScan]:
    """Yield the layer entries; append every other top-level field (offset, bytes) to header."""
    seen: dict[int, int] = {}
    for f in iter_fields(buf, 0, len(buf)):
        if f.wire_type == LENGTH_DELIMITED and f.number in (n.NET_LAYER, n.NET_LAYERS):
            seen.setdefault(f.number, f.start)
            if len(seen) == 2:
                raise corrupt(max(seen.values()), "the net has both 'layer' and 'layers' "
                                                  "entries; Caffe refuses to upgrade such a net")
            yield _scan_entry(buf, f)
        else:
            header.append((f.start, bytes(buf[f.start:f.end])))


def _scan_entry(buf: memoryview, f: Field) -> _LayerScan:
    if f.number == n.NET_LAYER:
        scan = _scan_layer(buf, f, n.V2_LAYER)
        return _LayerScan(f.start, f.number, "V2", scan.name, scan.type, scan.blobs,
                          length_prefix(f.number, len(scan.payload)) + scan.payload)
    scan = _scan_layer(buf, f, n.V1_LAYER)
    # A V0 entry wraps its real layer; Caffe's V0->V1 upgrade takes name, type and blobs from
    # there and drops everything else of the wrapper except bottom/top.
    source = scan.nested if scan.nested is not None else scan
    return _LayerScan(f.start, f.number, "V0" if scan.nested is not None else "V1",
                      source.name, source.type, source.blobs,
                      length_prefix(f.number, len(scan.payload)) + scan.payload)


@dataclass
class _Layer:
    name: str
    type: str
    blobs: list[ScannedBlob]
    payload: bytes
    nested: "_Layer | None"


def _scan_layer(buf: memoryview, entry: Field, layout: n.LayerLayout) -> _Layer:
    """Split one layer message into blobs and the bytes protobuf should parse."""
    name, type_, blobs, nested = "", "", [], None
    pieces: list[bytes | memoryview] = []
    for f in iter_fields(buf, entry.value_start, entry.end):
        if f.number == layout.blobs and f.wire_type == LENGTH_DELIMITED:
            blob = scan_blob(buf, f.value_start, f.end)
            blobs.append(blob)
            pieces.append(length_prefix(f.number, len(blob.stripped)) + blob.stripped)
            continue
        if f.number == layout.nested_v0 and f.wire_type == LENGTH_DELIMITED:
            nested = _scan_layer(buf, f, n.V0_LAYER)  # repeated occurrences: last one wins
            pieces.append(length_prefix(f.number, len(nested.payload)) + nested.payload)
            continue
        pieces.append(buf[f.start:f.end])
        if f.number == layout.name and f.wire_type == LENGTH_DELIMITED:
            name = _text(buf, f)
        elif f.number == layout.type:
            type_ = _type_name(buf, f, layout) or type_
    return _Layer(name, type_, blobs, b"".join(pieces), nested)


def _text(buf: memoryview, f: Field) -> str:
    return bytes(buf[f.value_start:f.end]).decode("utf-8", errors="replace")


def _type_name(buf: memoryview, f: Field, layout: n.LayerLayout) -> str:
    """A string type as written, or a V1 enum value's name ('' for a mismatched wire type)."""
    if f.wire_type == LENGTH_DELIMITED:
        return _text(buf, f)
    enum = layout.message.DESCRIPTOR.fields_by_number[layout.type].enum_type
    if f.wire_type != VARINT or enum is None:
        return ""
    value = enum.values_by_number.get(f.value)
    return value.name if value is not None else str(f.value)


# --- protobuf for the small remainder ---------------------------------------------------

def _parse_net(header: list[tuple[int, bytes]], scans: list[_LayerScan]) -> caffe_pb2.NetParameter:
    """Parse header fields and stripped layers in one protobuf call (file order kept)."""
    pieces = sorted([*header, *((s.offset, s.stripped) for s in scans)], key=lambda p: p[0])
    try:
        net = caffe_pb2.NetParameter.FromString(b"".join(piece for _, piece in pieces))
    except DecodeError as error:
        raise _locate_decode_error(pieces, error) from None
    if _non_utf8_string(net) is not None:
        raise _locate_non_utf8(pieces)
    return net


def _non_utf8_string(message) -> str | None:
    """Dotted name of the first string field holding bytes that are not UTF-8, else None.

    Protobuf's Python runtime parses such a proto2 string but hands it out as ``bytes`` (C++
    Caffe keeps it as is), and every later use of the name as text would fail somewhere
    unrelated; the stripped net is small, so walking it costs little."""
    for descriptor, value in message.ListFields():
        values = value if _is_repeated(descriptor) else [value]
        if descriptor.type == descriptor.TYPE_MESSAGE:
            if not _holds_strings(descriptor.message_type):
                continue  # blobs and shapes: numbers only
            for item in values:
                inner = _non_utf8_string(item)
                if inner is not None:
                    return f"{descriptor.name}.{inner}"
        elif descriptor.type == descriptor.TYPE_STRING and any(isinstance(v, bytes) for v in values):
            return descriptor.name
    return None


@lru_cache(maxsize=None)
def _holds_strings(message_type, _seen: frozenset = frozenset()) -> bool:
    """Does this message type have a string field, directly or in a nested message?"""
    for field_descriptor in message_type.fields:
        if field_descriptor.type == field_descriptor.TYPE_STRING:
            return True
        nested = field_descriptor.message_type
        if nested is not None and nested.full_name not in _seen and \
                _holds_strings(nested, _seen | {message_type.full_name}):
            return True
    return False


def _is_repeated(descriptor) -> bool:
    is_repeated = getattr(descriptor, "is_repeated", None)
    return is_repeated if is_repeated is not None else descriptor.label == descriptor.LABEL_REPEATED


def _locate_non_utf8(pieces: list[tuple[int, bytes]]) -> CaffemodelError:
    """The top-level field holding a non-UTF-8 string, parsed alone to find its offset."""
    for offset, piece in pieces:
        where = _non_utf8_string(caffe_pb2.NetParameter.FromString(piece))
        if where is not None:
            return corrupt(offset, f"string field {where} is not valid UTF-8 (names, types and "
                                   "blob names must be text)")
    return corrupt(0, "a string field is not valid UTF-8")


def _locate_decode_error(pieces: list[tuple[int, bytes]], error: DecodeError) -> CaffemodelError:
    """Re-parse field by field to name the top-level field protobuf refused."""
    for offset, piece in pieces:
        try:
            caffe_pb2.NetParameter.FromString(piece)
        except DecodeError as inner:
            return corrupt(offset, f"protobuf cannot parse this field: {inner}")
    return corrupt(0, f"protobuf cannot parse the net: {error}")
