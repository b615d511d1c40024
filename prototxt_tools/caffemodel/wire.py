"""Protocol-buffer wire format: a bounds-checked field scanner and the few encoders the writer needs.

Why our own scanner: a caffemodel is one NetParameter message whose bulk is packed float arrays.
Letting protobuf parse it materialises every float inside repeated fields (and Python lists on
the way to numpy).  Walking the wire format ourselves lets the reader hand those byte ranges to
``np.frombuffer`` untouched and give protobuf only the small remainder.

Every length is checked against the bytes left in the enclosing message before anything is
sliced, so a corrupt or lying length field fails fast with the byte offset instead of
allocating or hanging.  Offsets are absolute positions in the buffer being scanned.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

from ..errors import CaffemodelError

VARINT, FIXED64, LENGTH_DELIMITED, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5
MAX_VARINT_BYTES = 10
# Unknown groups are skipped recursively; protobuf's own parser stops at depth 100 as well.
MAX_GROUP_DEPTH = 100
_UINT64 = (1 << 64) - 1


class Field(NamedTuple):
    """One field as found on the wire.

    ``start`` is the offset of the tag, ``value_start``/``end`` delimit the payload (for
    length-delimited fields: the bytes after the length prefix).  ``value`` is the decoded
    integer of a varint field, else 0.
    """

    number: int
    wire_type: int
    start: int
    value_start: int
    end: int
    value: int = 0


def corrupt(offset: int, message: str) -> CaffemodelError:
    """The error for malformed input at ``offset`` (the caller adds the path)."""
    return CaffemodelError(message, offset=offset)


def read_varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode the base-128 varint at ``pos`` (not past ``end``); return (value mod 2^64, next)."""
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise corrupt(start, "truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _UINT64, pos
        shift += 7
        if pos - start >= MAX_VARINT_BYTES:
            raise corrupt(start, "varint longer than 10 bytes")


def as_int64(value: int) -> int:
    """Reinterpret a decoded varint as a two's-complement int64 (how int64/int32 are encoded)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def read_field(buf: memoryview, pos: int, end: int, depth: int = 0) -> Field:
    """Read the field whose tag starts at ``pos``; its payload must end by ``end``."""
    key, after_key = read_varint(buf, pos, end)
    number, wire_type = key >> 3, key & 7
    if number == 0:
        raise corrupt(pos, "field number 0 is invalid")
    if wire_type == VARINT:
        value, after = read_varint(buf, after_key, end)
        return Field(number, wire_type, pos, after_key, after, value)
    if wire_type == FIXED64 or wire_type == FIXED32:
        size = 8 if wire_type == FIXED64 else 4
        if end - after_key < size:
            raise corrupt(pos, f"truncated {size * 8}-bit value of field {number}")
        return Field(number, wire_type, pos, after_key, after_key + size)
    if wire_type == LENGTH_DELIMITED:
        length, value_start = read_varint(buf, after_key, end)
        if length > end - value_start:
            raise corrupt(pos, f"field {number}: length {length} exceeds the "
                               f"{end - value_start} bytes left in its message")
        return Field(number, wire_type, pos, value_start, value_start + length)
    if wire_type == START_GROUP:
        return Field(number, wire_type, pos, after_key,
                     _skip_group(buf, after_key, end, number, depth + 1))
    if wire_type == END_GROUP:
        raise corrupt(pos, f"unexpected end-group tag for field {number}")
    raise corrupt(pos, f"invalid wire type {wire_type} for field {number}")


def _skip_group(buf: memoryview, pos: int, end: int, number: int, depth: int) -> int:
    """Skip a (deprecated) group's fields up to its end tag; return the offset after that tag."""
    if depth > MAX_GROUP_DEPTH:
        raise corrupt(pos, f"groups nested deeper than {MAX_GROUP_DEPTH}")
    while pos < end:
        key, after_key = read_varint(buf, pos, end)
        if key & 7 == END_GROUP:
            if key >> 3 != number:
                raise corrupt(pos, f"end-group tag {key >> 3} does not close group {number}")
            return after_key
        pos = read_field(buf, pos, end, depth).end
    raise corrupt(pos, f"group {number} is not closed")


def iter_fields(buf: memoryview, pos: int, end: int) -> Iterator[Field]:
    """Yield the fields of the message occupying ``buf[pos:end]``."""
    while pos < end:
        field = read_field(buf, pos, end)
        yield field
        pos = field.end


# --- encoding ----------------------------------------------------------------------------

def encode_varint(value: int) -> bytes:
    """Base-128 varint of a non-negative value, or of a negative int64 as 10 bytes."""
    if value < 0:
        value &= _UINT64
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_tag(number: int, wire_type: int) -> bytes:
    return encode_varint(number << 3 | wire_type)


def length_prefix(number: int, length: int) -> bytes:
    """Tag and length of a length-delimited field whose payload is ``length`` bytes."""
    return encode_tag(number, LENGTH_DELIMITED) + encode_varint(length)
