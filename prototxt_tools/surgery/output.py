"""Writing a command's prototxt result: a file (atomically) or standard output."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator



def is_stdout(output: str | None) -> bool:
    return output is None or output == "-"


def encode_text(text: str, encoding: str) -> bytes:
    """The text in the encoding the input was read with (a Latin-1 file stays byte-identical
    outside the edits); characters that encoding lacks fall back to UTF-8 for the whole file."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def write_net_text(output: str | None, text: str, encoding: str = "utf-8") -> str:
    """Write ``text`` to ``output`` atomically, or to standard output for None/``-``; returns
    where it went, for messages."""
    with net_text_output(output, text, encoding) as where:
        pass  # nothing else to write with it
    return where


def _write_stdout(text: str, encoding: str) -> None:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(encode_text(text, encoding))
        buffer.flush()
    else:
        sys.stdout.write(text)


@contextmanager
def net_text_output(output: str | None, text: str, encoding: str = "utf-8") -> Iterator[str]:
    """:func:`write_net_text` for a result that goes with another file written in the block.

    A file's temp copy is written on entry, so an unwritable ``output`` (a missing directory)
    fails before the block writes anything; it replaces ``output`` only when the block ends
    without an exception, right after the block's own atomic write has renamed its file: a
    failure anywhere before leaves both files as they were.  Standard output is written after
    the block.  Yields where the text goes, for messages."""
    if is_stdout(output):
        yield "standard output"
        _write_stdout(text, encoding)
        return
    from ..fileio import atomic_output

    with atomic_output(output) as out:
        out.write(encode_text(text, encoding))
        out.flush()  # a write error (disk full) shows now, before the other file is written
        yield output
