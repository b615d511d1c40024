"""Atomic file replacement: write a temp file next to the target, then ``os.replace`` it.

Readers never see a half-written file, a failed write leaves the old file untouched and no
temp file behind, and an existing target keeps its permission bits.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager, suppress
from typing import BinaryIO, Iterator

_WRITE_BUFFER = 1 << 20


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` when the block exits without an exception.

    A symlink at ``path`` is followed (its target is replaced, the link stays).  With
    ``durable`` the data and the directory entry are fsynced before returning.
    """
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    mode = _existing_mode(target)
    fd, temp = _create_temp(directory, os.path.basename(target))
    try:
        with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER) as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    if durable:
        _fsync_directory(directory)


def _existing_mode(target: str) -> int | None:
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    """Create a fresh hidden file in ``directory``; mode 0o666 minus the umask, like open()."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory}")


def _fsync_directory(directory: str) -> None:
    """Persist the rename (POSIX); platforms that cannot open directories skip it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, durable: bool = True) -> None:
    with atomic_output(path, durable=durable) as out:
        out.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> None:
    """Write text exactly as given, UTF-8 (fixes keep the file's own line endings)."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)
