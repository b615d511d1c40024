"""Write arrays that are untouched views of a read caffemodel by copying file to file in the kernel.

A blob read from a file is a read-only ``np.frombuffer`` view of the file's memory map.  Writing
it back (``upgrade``, ``fc-to-conv``, an ONNX export whose raw_data are the same float32 bytes)
through ``write(memoryview)`` maps every page of the source into this process (its RSS grows by
the file's size) and copies each byte through user space.  ``os.copy_file_range`` moves the same
bytes from the source file to the output inside the kernel: no page of the source is mapped here,
and it runs at ``cp``'s speed.

:func:`register_mapping` is called by the reader for each read-only map (private ``writable=True``
maps are never registered: their pages may have been changed in memory).  :func:`file_region`
finds, for a C-contiguous array whose ``base`` chain ends at such a map, the file and offset of
its bytes; :func:`write_array` uses it and falls back to a plain write wherever the kernel copy
is unavailable (other platforms, file systems that refuse it, arrays that are not file views).
"""

from __future__ import annotations

import errno
import mmap
import os
import weakref
from typing import BinaryIO, NamedTuple

import numpy as np

# mmap -> duplicated descriptor of the mapped file (the very inode mapped, even if the path is
# replaced meanwhile); the descriptor is closed when the map is collected.
_SOURCES: "weakref.WeakKeyDictionary[mmap.mmap, int]" = weakref.WeakKeyDictionary()
# the kernel cannot copy between these two files (other file systems, a pipe...): write instead
_FALLBACK = {errno.EXDEV, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF, errno.EPERM,
             errno.ETXTBSY}
_copy_file_range = getattr(os, "copy_file_range", None)


class FileRegion(NamedTuple):
    """Where an array's bytes live: an open descriptor of the file and the byte offset."""

    fd: int
    offset: int
    length: int


def register_mapping(mapped: mmap.mmap, fd: int) -> None:
    """Remember the file behind a read-only ``mapped`` (``fd`` is duplicated, not taken)."""
    if _copy_file_range is None:
        return
    own = os.dup(fd)
    _SOURCES[mapped] = own
    weakref.finalize(mapped, _close, own)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def file_region(array: np.ndarray) -> FileRegion | None:
    """The file bytes ``array`` views (C order, its own dtype), or None when it views no
    registered map (a copy, a computed array, a private writable map, bytes input)."""
    if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or array.nbytes == 0:
        return None
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    if not isinstance(base, memoryview):
        return None
    mapped = base.obj
    fd = _SOURCES.get(mapped) if isinstance(mapped, mmap.mmap) else None
    if fd is None or mapped.closed:
        return None
    start = np.frombuffer(base, np.uint8, 1, 0).ctypes.data if base.nbytes else 0
    offset = array.ctypes.data - start
    if offset < 0 or offset + array.nbytes > base.nbytes:
        return None  # not inside the map (cannot happen for a view; cheap to rule out)
    return FileRegion(fd, offset, array.nbytes)


def write_array(out: BinaryIO, array: np.ndarray) -> None:
    """Write the array's bytes (C order, as stored) to ``out`` at its current position."""
    region = file_region(array) if _copy_file_range is not None else None
    done = _kernel_copy(out, region) if region is not None else 0
    data = memoryview(array.reshape(-1)).cast("B")
    out.write(data[done:] if done else data)


def _kernel_copy(out: BinaryIO, region: FileRegion) -> int:
    """Copy what the kernel will of ``region`` to ``out``'s position; returns the bytes copied
    (``out`` is left positioned after them).  0 when ``out`` is no file the kernel copies to."""
    global _copy_file_range
    try:
        out.flush()  # the kernel writes to the descriptor: drain our buffer first
        target, position = out.fileno(), out.tell()
    except (OSError, ValueError):  # not a real file (BytesIO...): write it ourselves
        return 0
    done = 0
    try:
        while done < region.length:
            copied = _copy_file_range(region.fd, target, region.length - done,
                                      region.offset + done, position + done)
            if copied == 0:
                break  # the source ended early (truncated under us): write the rest
            done += copied
    except OSError as error:
        if error.errno == errno.ENOSYS:
            _copy_file_range = None  # the kernel lacks it: plain writes from now on
        elif error.errno not in _FALLBACK:
            raise
    if done:
        out.seek(position + done)
    return done
