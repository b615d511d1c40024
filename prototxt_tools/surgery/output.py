"""Writing a command's prototxt result: a file (atomically) or standard output."""

from __future__ import annotations

import os
import sys

from ..errors import PrototxtToolsError


def is_stdout(output: str | None) -> bool:
    return output is None or output == "-"


def refuse_overwriting(output: str | None, *inputs: str | None, what: str = "-o") -> None:
    """Raise when ``output`` names one of ``inputs``: commands never modify their inputs."""
    if is_stdout(output):
        return
    for given in inputs:
        if given is not None and os.path.exists(output) and same_file(output, given):
            raise PrototxtToolsError(f"{what} names the input file {given}; write the result to "
                                     "a new file (inputs are never modified)", output)


def same_file(a: str, b: str) -> bool:
    """Do two paths name the same file (through links, case-insensitive file systems...)?"""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


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
    from ..fileio import atomic_write_bytes

    data = encode_text(text, encoding)
    if is_stdout(output):
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            sys.stdout.write(text)
        return "standard output"
    atomic_write_bytes(output, data)
    return output
