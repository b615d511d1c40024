"""SVG and PNG through Graphviz's ``dot`` program, when it is installed (DOT needs nothing)."""

from __future__ import annotations

import shutil
import subprocess

from ..errors import UnsupportedError

FORMATS = ("dot", "svg", "png")
INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
                "graphviz; conda: conda install graphviz; Windows: winget install graphviz), or "
                "write DOT with -o NAME.dot")
TIMEOUT_SECONDS = 300


def dot_program() -> str | None:
    """Path of Graphviz's ``dot``, or None when it is not installed."""
    return shutil.which("dot")


def render(dot_text: str, fmt: str, path: str | None = None) -> bytes:
    """``dot_text`` laid out and rendered as ``fmt`` (svg or png) by Graphviz's ``dot``."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"render makes svg or png, not {fmt!r}")
    program = dot_program()
    if program is None:
        raise UnsupportedError(f"drawing {fmt.upper()} needs Graphviz's `dot` program, which is "
                               f"not installed: {INSTALL_HINT}", path)
    done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                          capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UnsupportedError(f"Graphviz's dot failed: {detail[-1] if detail else 'no message'}",
                               path)
    return done.stdout


def format_of(path: str) -> str:
    """The picture format an output path asks for, by extension (.dot/.gv, .svg, .png)."""
    lower = path.lower()
    for ext, fmt in ((".dot", "dot"), (".gv", "dot"), (".svg", "svg"), (".png", "png")):
        if lower.endswith(ext):
            return fmt
    raise ValueError(f"{path}: the output name must end in .dot, .gv, .svg or .png "
                     "(or give --format)")
