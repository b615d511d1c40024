"""Entry points: prototxt text or file -> CST + message + source map + warnings.

Encoding: Caffe reads bytes and never decodes them, so any bytes are fine inside comments and
strings.  We decode UTF-8; a file that is not valid UTF-8 (old Latin-1 / GBK comments) is decoded
as Latin-1 instead -- one character per byte, so columns still count bytes and writing the text back
with the same encoding gives the original bytes -- and gets an ``encoding`` warning at the first
invalid byte.  ``ParsedText.document.encoding`` says which was used; write edits back with it.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass

from google.protobuf.message import Message

from ..errors import PrototxtToolsError
from .convert import TextSourceMap, TextWarning, to_message
from .cst import Document, Field
from .parser import parse_document


@dataclass
class ParsedText:
    """One parsed prototxt: the lossless ``document``, the ``message``, where each field sits
    (``source_map``) and the non-fatal ``warnings`` (unknown fields, encoding)."""

    document: Document
    message: Message
    source_map: TextSourceMap
    warnings: list[TextWarning]

    @property
    def path(self) -> str:
        return self.document.path

    @property
    def text(self) -> str:
        return self.document.text

    def node(self, field_path) -> Field | None:
        """The CST :class:`Field` of a field path (``("layer", 3, "name")``), for edits."""
        return self.source_map.node(field_path)


@contextmanager
def _cycle_collector_paused():
    """Pause the cyclic GC while building the tree: the CST and source map hold no reference
    cycles, so the collector's passes over tens of thousands of new nodes find nothing (they
    were a fifth of the parse time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def decode_prototxt(data: bytes) -> tuple[str, str, int | None]:
    """``(text, encoding, first_bad_offset)``: UTF-8, else Latin-1 and where UTF-8 failed."""
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as e:
        return data.decode("latin-1"), "latin-1", e.start


def parse_prototxt(text: str | bytes, path: str = "<string>", message_class=None,
                   strict: bool = False) -> ParsedText:
    """Parse prototxt ``text`` (``str``, or ``bytes`` decoded as described in the module doc)
    into a ``message_class`` message (default ``NetParameter``).

    Raises :class:`ParseError` for syntax and type errors (and unknown fields when ``strict``)."""
    if message_class is None:
        from ..schema import NetParameter  # late: the schema module may be regenerated
        message_class = NetParameter
    bad_offset = None
    encoding = "utf-8"
    if isinstance(text, (bytes, bytearray, memoryview)):
        text, encoding, bad_offset = decode_prototxt(bytes(text))
    with _cycle_collector_paused():
        document = parse_document(text, path, encoding)
        message, source_map, warnings = to_message(document, message_class, strict=strict)
    if bad_offset is not None:
        span = document.span_of(bad_offset, bad_offset + 1)
        warnings.insert(0, TextWarning(
            "encoding", f"file is not valid UTF-8 (byte 0x{text.encode('latin-1')[bad_offset]:02x}"
            " here); it was read as Latin-1", span, path))
    return ParsedText(document, message, source_map, warnings)


def read_prototxt(path, message_class=None, strict: bool = False) -> ParsedText:
    """Read and parse the prototxt file at ``path`` (see :func:`parse_prototxt`).

    A directory or unreadable file raises :class:`PrototxtToolsError` with the OS reason."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise PrototxtToolsError("is a directory, not a prototxt file", name)
    try:
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PrototxtToolsError(f"cannot read file: {e.strerror or e}", name) from None
    return parse_prototxt(data, name, message_class, strict)
