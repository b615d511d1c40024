"""Protobuf message -> prototxt text in Caffe's usual style, for inserting new fields and blocks.

Style: one field per line, ``name: value`` for scalars and ``name {`` ... ``}`` for messages, fields
in field-number order (as protobuf prints them), repeated values one line each, enums by name,
``true``/``false``, strings in double quotes with C escapes, floats in the shortest form that reads
back to the same value (``0.1`` for a float field, ``1`` rather than ``1.0``, as C++ protobuf).
The indent unit is a parameter so the text can match the file it goes into
(:attr:`~prototxt_tools.text.edit.Editor.indent_unit`).
"""

from __future__ import annotations

import math
import struct

from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import Message

_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"',
            ord("\\"): "\\\\"}


def format_message(message: Message, indent_unit: str = "  ", indent: str = "") -> str:
    """All set fields of ``message``, one line each (no trailing newline)."""
    lines: list[str] = []
    for fd, value in message.ListFields():
        values = value if _is_repeated(fd) else [value]
        for v in values:
            lines.extend(_field_lines(fd, v, indent_unit, indent))
    return "\n".join(lines)


def format_field(message: Message, name: str, indent_unit: str = "  ", indent: str = "") -> str:
    """The field ``name`` of ``message`` as prototxt (every value of a repeated field)."""
    fd = message.DESCRIPTOR.fields_by_name[name]
    value = getattr(message, name)
    values = value if _is_repeated(fd) else [value]
    return "\n".join(line for v in values for line in _field_lines(fd, v, indent_unit, indent))


def format_value(fd: FD, value) -> str:
    """One scalar value of field ``fd`` as written after ``name: ``."""
    if fd.type == FD.TYPE_ENUM:
        enum_value = fd.enum_type.values_by_number.get(value)
        return enum_value.name if enum_value is not None else str(value)
    if fd.type == FD.TYPE_BOOL:
        return "true" if value else "false"
    if fd.type == FD.TYPE_STRING:
        return quote(value.encode("utf-8"), keep_utf8=True)
    if fd.type == FD.TYPE_BYTES:
        return quote(value, keep_utf8=False)
    if fd.type == FD.TYPE_FLOAT:
        return format_float(value, single=True)
    if fd.type == FD.TYPE_DOUBLE:
        return format_float(value, single=False)
    return str(value)


def _field_lines(fd: FD, value, indent_unit: str, indent: str) -> list[str]:
    name = fd.message_type.name if fd.type == FD.TYPE_GROUP else fd.name
    if fd.type not in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
        return [f"{indent}{name}: {format_value(fd, value)}"]
    body = format_message(value, indent_unit, indent + indent_unit)
    if not body:
        return [f"{indent}{name} {{", f"{indent}}}"]
    return [f"{indent}{name} {{", body, f"{indent}}}"]


def quote(raw: bytes, keep_utf8: bool) -> str:
    """``raw`` as a double-quoted C-escaped literal; non-ASCII stays readable when ``keep_utf8``."""
    out = []
    for b in raw:
        if b in _ESCAPES:
            out.append(_ESCAPES[b])
        elif 0x20 <= b < 0x7F or (keep_utf8 and b >= 0x80):
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    text = "".join(out)
    if keep_utf8:
        text = text.encode("latin-1").decode("utf-8")  # chr(b) above kept bytes 1:1
    return f'"{text}"'


def format_float(value: float, single: bool) -> str:
    """Shortest decimal that reads back to ``value`` (as float32 when ``single``)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if single:
        for digits in range(6, 10):
            text = f"{value:.{digits}g}"
            if _as_float32(float(text)) == _as_float32(value):
                break
    else:
        text = repr(value)
    if text.endswith(".0"):
        text = text[:-2]
    return text


def _as_float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def _is_repeated(fd: FD) -> bool:
    is_repeated = getattr(fd, "is_repeated", None)
    return is_repeated if is_repeated is not None else fd.label == FD.LABEL_REPEATED
