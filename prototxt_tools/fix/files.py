"""Fixing files: read, fix, and write back atomically -- or show a diff, or write elsewhere.

Nothing is written unless the whole fix loop succeeded: a file that does not load, a fix that
breaks the text (a bug), a read-only file or a failed write leaves the file as it was.  The
file's encoding (UTF-8, or Latin-1 for files that are not UTF-8), line endings and permissions
are kept; a symlink is followed and its target replaced.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

from ..errors import PrototxtToolsError
from ..fileio import atomic_write_bytes
from ..lint.context import LintOptions
from ..text import decode_prototxt
from .engine import FixOutcome, fix_text

WRITE, DIFF = "write", "diff"
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


@dataclass
class FileFix:
    """The outcome for one path: the fix loop's ``outcome``, or the ``error`` that stopped it
    (reading, fixing or writing: then nothing was written); ``written`` is where the fixed text
    went (None: nowhere)."""

    path: str
    outcome: FixOutcome | None = None
    error: str | None = None
    written: str | None = None


def fix_path(path: str, selected: frozenset, options: LintOptions | None = None,
             unsafe_fixes: bool = False, mode: str = WRITE, output: str | None = None) -> FileFix:
    """Fix one file.  ``mode`` WRITE writes the fixed text back to ``path`` (or to ``output``
    when given, leaving ``path`` alone); DIFF writes nothing."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return FileFix(path, error=f"{path}: error: cannot read file: {exc.strerror or exc}")
    text, encoding, _ = decode_prototxt(data)
    try:
        outcome = fix_text(path, text, selected, options, unsafe_fixes, raw=data)
    except PrototxtToolsError as exc:
        return FileFix(path, error=str(exc))
    result = FileFix(path, outcome)
    if mode != WRITE or (output is None and not outcome.changed):
        return result
    target = output if output is not None else path
    try:
        _write(target, outcome.text.encode(encoding), in_place=output is None)
    except (OSError, UnicodeEncodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return FileFix(path, error=f"{target}: error: cannot write the fixed file: {reason}; "
                                   f"{path} is unchanged")
    result.written = target
    return result


def _write(target: str, data: bytes, in_place: bool) -> None:
    """Atomic replace.  A read-only file is refused even where a rename could replace it (its
    directory is writable, or we are root): read-only means do not touch."""
    real = os.path.realpath(target)
    if (in_place or os.path.exists(real)) and _read_only(real):
        raise PermissionError(13, "the file is read-only")
    atomic_write_bytes(target, data)


def _read_only(path: str) -> bool:
    return not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222


def unified_diff(path: str, old: str, new: str) -> str:
    """A unified diff of one file that ``git apply`` accepts: ``a/``/``b/`` paths relative to
    the current directory, lines split on ``\\n`` only (a ``\\r`` stays part of its line), and
    git's marker after a last line without a newline."""
    rel = os.path.relpath(path).replace(os.sep, "/")
    out = []
    for line in difflib.unified_diff(_LINE.findall(old), _LINE.findall(new), f"a/{rel}",
                                     f"b/{rel}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
