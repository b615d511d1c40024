"""The one exception family of prototxt-tools.

Every user error (bad syntax, unknown field, corrupt caffemodel, graph error, unsupported option)
is raised as a subclass of :class:`PrototxtToolsError`, which renders as one line
``path:line:col: error: message`` (line/col when known, ``@offset`` for binary files).  The CLI
prints that line and exits 2; anything else escaping is a bug in prototxt-tools.
"""

from __future__ import annotations


class PrototxtToolsError(Exception):
    """Base class of every error prototxt-tools raises for bad input."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None,
                 col: int | None = None, offset: int | None = None,
                 field_path: tuple | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.col = col
        self.offset = offset
        # where in the parsed message the problem is, for callers that map it to a text position
        self.field_path = field_path

    def location(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        elif self.offset is not None:
            where += f": byte {self.offset}"
        return where

    def __str__(self) -> str:
        return f"{self.location()}: error: {self.message}"


class ParseError(PrototxtToolsError):
    """Text-format syntax error, unknown field/enum, wrong value type."""


class CaffemodelError(PrototxtToolsError):
    """Truncated or corrupt binary NetParameter (offset says where)."""


class UpgradeError(PrototxtToolsError):
    """A legacy (V0/V1) net that Caffe's upgrader itself would refuse."""


class GraphError(PrototxtToolsError):
    """Undefined bottom, top produced twice, duplicate layer name, cycle."""


class ShapeError(PrototxtToolsError):
    """A layer whose output shape Caffe could not compute (kernel larger than input, ...)."""


class UnsupportedError(PrototxtToolsError):
    """A layer type or option prototxt-tools does not handle (never silently ignored)."""
