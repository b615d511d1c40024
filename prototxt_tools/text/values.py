"""Scalar values of the text format -> Python values, by protobuf field type.

The rules are protobuf's C++ ``TextFormat::Parser`` (what Caffe runs), which agrees with Python's
``text_format`` on every form Caffe files use:

- integers: decimal, hex ``0x1F``, octal ``017``, a ``-`` sign for signed types; range-checked;
  a float token (``1.5``, ``1e3``) is not an integer;
- floats/doubles: any decimal number (``1``, ``1e-4``, ``.5``, ``5.``, ``1.0f``, ``1e3F``) and the
  identifiers ``inf``, ``infinity``, ``nan`` (any case), each with an optional ``-``; hex and
  leading-zero octal spellings are rejected;
- bools: ``true True t false False f`` and the integers ``0``/``1``;
- strings/bytes: adjacent quoted pieces concatenate; C escapes ``\\n \\t \\\\ \\' \\"``,
  ``\\a \\b \\f \\r \\v \\?``, octal ``\\123``, hex ``\\x41``; a string field must hold valid UTF-8;
- enums: a value name, or a number that names a value (closed proto2 enums).

Each converter raises :class:`ValueError` with a short reason; :mod:`.convert` adds the position.
"""

from __future__ import annotations

import difflib
import re

from google.protobuf.descriptor import FieldDescriptor as FD

from .cst import Scalar
from .parser import FLOAT_RE, INT_RE
from .tokens import IDENT, NUMBER, STRING

_INT_RANGES = {
    FD.TYPE_INT32: (-(2 ** 31), 2 ** 31 - 1), FD.TYPE_SINT32: (-(2 ** 31), 2 ** 31 - 1),
    FD.TYPE_SFIXED32: (-(2 ** 31), 2 ** 31 - 1),
    FD.TYPE_INT64: (-(2 ** 63), 2 ** 63 - 1), FD.TYPE_SINT64: (-(2 ** 63), 2 ** 63 - 1),
    FD.TYPE_SFIXED64: (-(2 ** 63), 2 ** 63 - 1),
    FD.TYPE_UINT32: (0, 2 ** 32 - 1), FD.TYPE_FIXED32: (0, 2 ** 32 - 1),
    FD.TYPE_UINT64: (0, 2 ** 64 - 1), FD.TYPE_FIXED64: (0, 2 ** 64 - 1),
}

TYPE_NAMES = {
    FD.TYPE_DOUBLE: "double", FD.TYPE_FLOAT: "float", FD.TYPE_INT64: "int64",
    FD.TYPE_UINT64: "uint64", FD.TYPE_INT32: "int32", FD.TYPE_FIXED64: "fixed64",
    FD.TYPE_FIXED32: "fixed32", FD.TYPE_BOOL: "bool", FD.TYPE_STRING: "string",
    FD.TYPE_GROUP: "group", FD.TYPE_MESSAGE: "message", FD.TYPE_BYTES: "bytes",
    FD.TYPE_UINT32: "uint32", FD.TYPE_ENUM: "enum", FD.TYPE_SFIXED32: "sfixed32",
    FD.TYPE_SFIXED64: "sfixed64", FD.TYPE_SINT32: "sint32", FD.TYPE_SINT64: "sint64",
}

_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11,
                   "\\": 92, "'": 39, '"': 34, "?": 63}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)


def parse_integer(text: str, negative: bool, field_type: int) -> int:
    """The value of an integer token (``text`` without its sign) for a field of ``field_type``."""
    if INT_RE.fullmatch(text) is None:
        raise ValueError(f"expected an integer, found {_signed(text, negative)!r}")
    value = _int_value(text)
    if negative:
        value = -value
    low, high = _INT_RANGES[field_type]
    if not low <= value <= high:
        raise ValueError(f"integer {_signed(text, negative)} is out of range for "
                         f"{TYPE_NAMES[field_type]} ({low}..{high})")
    return value


def parse_float(text: str, negative: bool, kind: str) -> float:
    """The value of a float field written as a number token or ``inf``/``infinity``/``nan``."""
    if kind == IDENT:
        lowered = text.lower()
        if lowered in ("inf", "infinity"):
            return float("-inf") if negative else float("inf")
        if lowered == "nan":
            return float("nan")
        raise ValueError(f"expected a number, found {_signed(text, negative)!r}")
    if FLOAT_RE.fullmatch(text) is None:
        # hex / octal spellings are integers only: protobuf rejects them for floats
        raise ValueError(f"expected a decimal number, found {_signed(text, negative)!r}")
    value = float(text.rstrip("fF"))
    return -value if negative else value


def parse_bool(text: str, negative: bool, kind: str) -> bool:
    if not negative:
        if kind == IDENT:
            if text in ("true", "True", "t"):
                return True
            if text in ("false", "False", "f"):
                return False
        elif INT_RE.fullmatch(text) is not None and _int_value(text) in (0, 1):
            return _int_value(text) == 1
    raise ValueError(f"expected true or false, found {_signed(text, negative)!r}")


def unescape(token_text: str, encoding: str = "utf-8") -> bytes:
    """The bytes of one quoted string token (quotes included in ``token_text``).

    Literal characters are encoded with the file's ``encoding`` so they give back the file's own
    bytes (Caffe reads strings as raw bytes)."""
    body = token_text[1:-1]
    if "\\" not in body:
        return body.encode(encoding)
    out = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(body):
        out += body[pos:m.start()].encode(encoding)
        octal, hexa, other = m.groups()
        if octal is not None:
            value = int(octal, 8)
            if value > 255:
                raise ValueError(f"octal escape \\{octal} is larger than one byte")
            out.append(value)
        elif hexa is not None:
            out.append(int(hexa, 16))
        elif other in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[other])
        else:
            raise ValueError(f"invalid escape sequence \\{other} in string")
        pos = m.end()
    out += body[pos:].encode(encoding)
    return bytes(out)


def scalar_bytes(scalar: Scalar, encoding: str) -> bytes:
    """The concatenated bytes of a string scalar (``"a" 'b'`` -> ``b"ab"``)."""
    if scalar.kind != STRING:
        raise ValueError(f"expected a quoted string, found {scalar.text!r}")
    return b"".join(unescape(tok.text, encoding) for tok in scalar.parts)


def parse_enum(field: FD, scalar: Scalar) -> int:
    """The number of the enum value named (or numbered) by ``scalar``."""
    enum = field.enum_type
    text = scalar.parts[-1].text
    if scalar.kind == IDENT and not scalar.negative:
        value = enum.values_by_name.get(text)
        if value is None:
            raise ValueError(f"{enum.name} has no value named {text!r}"
                             + did_you_mean(closest(text, enum.values_by_name)))
        return value.number
    if scalar.kind == NUMBER:
        number = parse_integer(text, scalar.negative, FD.TYPE_INT32)
        if number in enum.values_by_number or not enum.is_closed:
            return number
        raise ValueError(f"{enum.name} has no value with number {number}")
    raise ValueError(f"expected a {enum.name} value name or number, found {scalar.text!r}")


def closest(word: str, candidates, cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word`` (difflib ratio >= cutoff), or None."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(suggestion: str | None) -> str:
    """``"; did you mean 'x'?"`` (empty without a suggestion), to append to a message."""
    return f"; did you mean {suggestion!r}?" if suggestion else ""


def _int_value(text: str) -> int:
    """Value of a token matching INT_RE: hex ``0x..``, octal with a leading ``0``, or decimal."""
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if len(text) > 1 and text[0] == "0":
        return int(text, 8)
    return int(text)


def _signed(text: str, negative: bool) -> str:
    return "-" + text if negative else text
