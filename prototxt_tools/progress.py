"""A one-line progress display for commands that write big files: on a terminal only.

Library functions never print; the ones that write large outputs (``write_caffemodel``) take a
``progress(done, total)`` callback instead, and a command passes a :class:`TerminalProgress`:

    with TerminalProgress(f"writing {output}") as progress:
        write_caffemodel(output, net, weights, progress=progress)

It draws ``writing out.caffemodel  42%  232/553 MB`` on standard error, redrawn in place at most
ten times a second, and erases the line when done, so the command's own messages follow on a
clean line.  When standard error is not a terminal (a pipe, a CI log, pre-commit) or the output
is small, it shows nothing at all.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

Callback = Callable[[int, int], None]  # progress(bytes done, bytes in total)

MIN_TOTAL = 32 * 2**20  # smaller outputs are written before a display would help
_INTERVAL = 0.1


class TerminalProgress:
    """``progress(done, total)`` callable drawing on ``stream`` (default: standard error) when it
    is a terminal and ``total`` reaches ``min_total`` bytes; inert otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None, min_total: int = MIN_TOTAL,
                 clock: Callable[[], float] = time.monotonic):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.min_total = min_total
        self._clock = clock
        self._active = _is_terminal(self.stream)
        self._last_draw: float | None = None
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self._active or total < self.min_total:
            return
        now = self._clock()
        if done < total and self._last_draw is not None and now - self._last_draw < _INTERVAL:
            return
        self._last_draw = now
        percent = 100 * done // total if total else 100
        self._write(f"\r{self.label}  {percent:3d}%  {done / 1e6:,.0f}/{total / 1e6:,.0f} MB")
        self._drawn = True

    def close(self) -> None:
        """Erase the line (if anything was drawn)."""
        if self._drawn:
            self._write("\r\x1b[K")
            self._drawn = False

    def __enter__(self) -> "TerminalProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken terminal must not fail the write
            self._active = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
