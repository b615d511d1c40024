"""Atomic file replacement: write a temp file next to the target, then ``os.replace`` it.

Readers never see a half-written file, a failed write leaves the old file untouched and no
temp file behind, and an existing target keeps its permission bits.  Interrupted runs too:
SIGINT raises KeyboardInterrupt and, while a write is in progress, SIGTERM raises SystemExit
(exit status 143) instead of killing the process on the spot, so the temp file is removed
either way.  Only SIGKILL (or a crash of the interpreter, or a power cut) can leave a hidden
``.NAME.PID.XXXXXXXX.tmp`` next to the target; the target itself is always the old or the
complete new file, and the next write of the same target removes such leftovers whose process
is gone.

Durability (surviving a power cut, not just a crash of this process) costs an ``fsync``: for a
500 MB model, several times the copy itself.  It is paid where it protects something: when the
write replaces an existing file (``prototxt-fix`` in place, ``upgrade -o`` onto the input), the
new data reaches the disk before the rename, so a power cut leaves the old or the new file,
never an empty one.  A new file is written like ``cp`` writes one.  ``PROTOTXT_TOOLS_FSYNC``
overrides this: ``always``, ``never``, or ``replace`` (the default).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import threading
from contextlib import contextmanager, suppress
from typing import BinaryIO, Iterator

from .errors import PrototxtToolsError

_WRITE_BUFFER = 1 << 20
_TEMP_SUFFIX = re.compile(r"(\d+)\.[0-9a-f]{8}\.tmp")  # after ".BASE.": see _create_temp
FSYNC_POLICIES = ("replace", "always", "never")


class OutputError(PrototxtToolsError, OSError):
    """An output file that cannot be written (its directory is missing, it is a directory, the
    disk is full).  A PrototxtToolsError naming the output, never the temp file; also an
    OSError (``errno``/``strerror`` set) for callers that handle I/O errors as such."""

    def __init__(self, path: str, errno_: int | None, strerror: str | None):
        PrototxtToolsError.__init__(self, f"cannot write file: {strerror}", path)
        self.errno, self.strerror, self.filename = errno_, strerror, path


@contextmanager
def atomic_output(path: str | os.PathLike[str], *,
                  durable: bool | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` when the block exits without an exception.

    A symlink at ``path`` is followed (its target is replaced, the link stays).  With
    ``durable`` the data and the directory entry are fsynced before returning; by default
    (None) when an existing file is replaced (see the module's docstring).
    """
    name = os.fspath(path)
    target = os.path.realpath(name)
    if os.path.isdir(target):  # os.replace would refuse only after the whole write
        raise OutputError(name, errno.EISDIR, "is a directory")
    directory = os.path.dirname(target)
    mode = _existing_mode(target)
    if durable is None:
        durable = _fsync_wanted(replacing=mode is not None)
    with _sigterm_raises_system_exit():
        _remove_leftovers(directory, os.path.basename(target))
        try:
            fd, temp = _create_temp(directory, os.path.basename(target))
        except OSError as exc:
            raise OutputError(name, exc.errno, exc.strerror or str(exc)) from None
        try:
            with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER) as out:
                yield out
                out.flush()
                if durable:
                    os.fsync(out.fileno())
            if mode is not None:
                os.chmod(temp, mode)
            os.replace(temp, target)
        except BaseException as exc:
            with suppress(OSError):
                os.unlink(temp)
            if _is_our_write_error(exc, temp):
                raise OutputError(name, exc.errno, exc.strerror or str(exc)) from exc
            raise
    if durable:
        _fsync_directory(directory)


def refuse_overwriting(output: str | None, *inputs: str | None, what: str = "-o") -> None:
    """Raise when ``output`` names one of ``inputs``: commands never modify their inputs (a
    mistyped ``-o`` must not replace the caffemodel the command reads).  None/``-`` is stdout."""
    if output is None or output == "-":
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


def _is_our_write_error(exc: BaseException, temp: str) -> bool:
    """An OSError of writing/renaming the temp file (not one the caller's block raised about
    another file): reported under the output's name."""
    return isinstance(exc, OSError) and not isinstance(exc, PrototxtToolsError) \
        and exc.filename in (None, temp)


@contextmanager
def _sigterm_raises_system_exit() -> Iterator[None]:
    """While writing, turn SIGTERM into SystemExit so ``atomic_output`` removes its temp file.

    Only when SIGTERM has its default action (a caller's own handler is left alone) and only
    in the main thread, the one Python delivers signals to."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fsync_wanted(replacing: bool) -> bool:
    policy = os.environ.get("PROTOTXT_TOOLS_FSYNC", "replace").strip().lower() or "replace"
    if policy not in FSYNC_POLICIES:
        raise PrototxtToolsError(f"PROTOTXT_TOOLS_FSYNC={policy!r}: use one of "
                                 f"{', '.join(FSYNC_POLICIES)}")
    return policy == "always" or (policy == "replace" and replacing)


def _existing_mode(target: str) -> int | None:
    try:
        return os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    """Create a fresh hidden file in ``directory``; mode 0o666 minus the umask, like open().
    Its name carries our process id, so a later write can tell a leftover from a live write."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temp = os.path.join(directory, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file in {directory}")


def _remove_leftovers(directory: str, base: str) -> None:
    """Delete temp files of earlier writes of ``base`` whose process no longer exists (killed
    mid-write).  Another process's write in progress, and anything not named like our temp
    files, is left alone; POSIX only (elsewhere a process id cannot be probed this way)."""
    if os.name != "posix":
        return
    prefix = f".{base}."
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return
    for name in names:
        # ".BASE." then "PID.XXXXXXXX.tmp" (_create_temp); most names fail the first compare
        match = name.startswith(prefix) and _TEMP_SUFFIX.fullmatch(name, len(prefix))
        if match and not _process_exists(int(match.group(1))):
            with suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or an unusable number): not ours to judge
    return True


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


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *,
                       durable: bool | None = None) -> None:
    with atomic_output(path, durable=durable) as out:
        out.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *,
                      durable: bool | None = None) -> None:
    """Write text exactly as given, UTF-8 (fixes keep the file's own line endings)."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)
