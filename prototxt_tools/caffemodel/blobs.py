"""Scan one BlobProto on the wire: its shape, and its data as numpy views of the file buffer.

Caffe's rules (``Blob::FromProto`` with reshape, BVLC ``src/caffe/blob.cpp``):
- if any of the deprecated ``num``/``channels``/``height``/``width`` is present the shape is
  the 4-D ``(num, channels, height, width)``, absent ones counting as 0; otherwise it is
  ``shape.dim`` (no dims: a scalar holding one value);
- values come from ``double_data`` when it is non-empty (``data`` is then ignored), else from
  ``data``; their count must equal the shape's.
``diff``/``double_diff`` (gradients saved with snapshots) are skipped: inference never needs them;
``has_diff`` says a blob had some, so that commands rewriting the file can say they dropped them.

Packed data (what Caffe writes) becomes ``np.frombuffer`` over the buffer: zero-copy.  Unpacked
repeated values (one tag per element, legal protobuf) are found as runs of fixed-size records
and read with one strided numpy view per run, then copied contiguous; no per-element Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from . import numbers as n
from .wire import (FIXED32, FIXED64, LENGTH_DELIMITED, VARINT, as_int64, corrupt, read_field,
                   read_varint)

# Caffe's kMaxBlobAxes: Blob::Reshape refuses more axes.  Also bounds the dim loop below.
MAX_BLOB_AXES = 32
_FLOAT = np.dtype("<f4")
_DOUBLE = np.dtype("<f8")
# field number -> element dtype, for the four repeated value fields; diffs are read only to skip.
_VALUE_FIELDS = {n.BLOB_DATA: _FLOAT, n.BLOB_DIFF: _FLOAT,
                 n.BLOB_DOUBLE_DATA: _DOUBLE, n.BLOB_DOUBLE_DIFF: _DOUBLE}
_FIXED_WIRE_TYPE = {4: FIXED32, 8: FIXED64}
# One-byte tag of an unpacked element (all four field numbers are < 16) -> (field, dtype).
_UNPACKED_TAGS = {(f << 3 | _FIXED_WIRE_TYPE[d.itemsize]): (f, d) for f, d in _VALUE_FIELDS.items()}
# Runs of unpacked records are probed in growing chunks, so finding a run's end costs
# O(run length) even when runs are short and many.
_FIRST_PROBE = 256


@dataclass
class ScannedBlob:
    """A BlobProto's shape and raw values; ``stripped`` is the message without value fields."""

    offset: int
    shape: tuple[int, ...]
    floats: list[np.ndarray]
    doubles: list[np.ndarray]
    stripped: bytes
    has_diff: bool = False

    def array(self, layer_name: str, index: int) -> np.ndarray:
        """The values reshaped to the blob's shape, float32 (or float64 from ``double_data``)."""
        segments = self.doubles if any(s.size for s in self.doubles) else self.floats
        if not segments:
            values = np.empty(0, _FLOAT)
        elif len(segments) == 1:
            values = segments[0]
        else:
            values = np.concatenate(segments)
        count = prod(self.shape)
        if values.size != count:
            raise corrupt(self.offset, f"layer '{layer_name}' blob {index}: shape "
                                       f"{list(self.shape)} holds {count} values but the blob "
                                       f"has {values.size}")
        return values.reshape(self.shape)


def scan_blob(buf: memoryview, start: int, end: int) -> ScannedBlob:
    """Scan the BlobProto occupying ``buf[start:end]``."""
    values: dict[int, list[np.ndarray]] = {n.BLOB_DATA: [], n.BLOB_DOUBLE_DATA: []}
    dims: list[int] = []
    legacy: dict[int, int] = {}
    kept: list[memoryview] = []
    has_diff = False
    pos = start
    while pos < end:
        unpacked = _UNPACKED_TAGS.get(buf[pos])
        if unpacked is not None:
            field, dtype = unpacked
            run, pos = _unpacked_run(buf, pos, end, dtype)
            if field in values:  # data, not diff
                values[field].append(np.ascontiguousarray(run))
            else:
                has_diff = has_diff or run.size > 0
            continue
        field = read_field(buf, pos, end)
        dtype = _VALUE_FIELDS.get(field.number)
        if dtype is not None and field.wire_type in (LENGTH_DELIMITED,
                                                     _FIXED_WIRE_TYPE[dtype.itemsize]):
            data = _packed(buf, field.value_start, field.end, dtype, field.start)
            if field.number in values:  # data, not diff
                values[field.number].append(data)
            else:
                has_diff = has_diff or data.size > 0
        else:
            kept.append(buf[field.start:field.end])
            if field.number == n.BLOB_SHAPE and field.wire_type == LENGTH_DELIMITED:
                # A message field seen twice is merged: its repeated dims concatenate.
                dims.extend(_scan_shape(buf, field.value_start, field.end, len(dims)))
            elif field.number in n.BLOB_LEGACY_DIMS and field.wire_type == VARINT:
                legacy[field.number] = _as_int32(field.value)
        pos = field.end
    shape = tuple(legacy.get(f, 0) for f in n.BLOB_LEGACY_DIMS) if legacy else tuple(dims)
    if any(d < 0 for d in shape):
        raise corrupt(start, f"blob shape {list(shape)} has a negative dimension")
    return ScannedBlob(start, shape, values[n.BLOB_DATA], values[n.BLOB_DOUBLE_DATA],
                       b"".join(kept), has_diff)


def _packed(buf: memoryview, start: int, end: int, dtype: np.dtype, tag_offset: int) -> np.ndarray:
    size = end - start
    if size % dtype.itemsize:
        raise corrupt(tag_offset, f"packed {dtype.itemsize * 8}-bit values: length {size} is "
                                  f"not a multiple of {dtype.itemsize}")
    return np.frombuffer(buf, dtype, size // dtype.itemsize, start)


def _unpacked_run(buf: memoryview, pos: int, end: int, dtype: np.dtype) -> tuple[np.ndarray, int]:
    """Find the run of one-tag-byte records like the one at ``pos``; return (strided view, next)."""
    tag = buf[pos]
    record = np.dtype([("tag", "u1"), ("value", dtype)])  # packed: itemsize 1 + width
    available = (end - pos) // record.itemsize
    if available == 0:
        raise corrupt(pos, f"truncated {dtype.itemsize * 8}-bit value of field {tag >> 3}")
    count, probe = 0, _FIRST_PROBE
    while count < available:
        chunk = min(probe, available - count)
        tags = np.frombuffer(buf, record, chunk, pos + count * record.itemsize)["tag"]
        mismatch = np.flatnonzero(tags != tag)
        if mismatch.size:
            count += int(mismatch[0])
            break
        count += chunk
        probe *= 2
    return np.frombuffer(buf, record, count, pos)["value"], pos + count * record.itemsize


def _scan_shape(buf: memoryview, start: int, end: int, have: int) -> list[int]:
    """The dims of a BlobShape (packed or one varint each); unknown fields skipped."""
    dims: list[int] = []
    pos = start
    while pos < end:
        field = read_field(buf, pos, end)
        if field.number == n.SHAPE_DIM and field.wire_type == VARINT:
            dims.append(as_int64(field.value))
        elif field.number == n.SHAPE_DIM and field.wire_type == LENGTH_DELIMITED:
            at = field.value_start
            while at < field.end and have + len(dims) <= MAX_BLOB_AXES:
                value, at = read_varint(buf, at, field.end)
                dims.append(as_int64(value))
        if have + len(dims) > MAX_BLOB_AXES:
            raise corrupt(field.start, f"blob shape has more than {MAX_BLOB_AXES} axes "
                                       "(Caffe's kMaxBlobAxes)")
        pos = field.end
    return dims


def _as_int32(value: int) -> int:
    """Protobuf's int32 from a decoded varint: the low 32 bits, two's complement."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
