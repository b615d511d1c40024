"""Source positions shared by every stage: spans in the prototxt text and the source map.

A *field path* names one field occurrence inside a parsed message, as a tuple alternating field
names and repeated-field indices, e.g. ``("layer", 3, "convolution_param", "kernel_size", 0)``;
a non-repeated field has no index (``("layer", 3, "name")``).  The source map answers "where in the
file is this field" for diagnostics and minimal-diff fixes; later stages never re-read text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FieldPath = tuple  # tuple[str | int, ...]


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of the source, with 1-based line/col of both ends."""

    start: int
    end: int
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


@dataclass(frozen=True)
class FieldSpan:
    """Where one field occurrence sits: its name token, its value (scalar or ``{...}`` block), all."""

    name: Span
    value: Span
    whole: Span


@dataclass
class SourceMap:
    """Field path -> FieldSpan for one parsed file (``path`` is the file name used in messages)."""

    path: str
    fields: dict = field(default_factory=dict)

    def get(self, field_path: FieldPath) -> FieldSpan | None:
        return self.fields.get(tuple(field_path))

    def position(self, field_path: FieldPath) -> Span | None:
        """Best position for a diagnostic about field_path: the field itself, else its nearest
        ancestor that has a span (e.g. a default value not written in the file -> its block)."""
        p = tuple(field_path)
        while p:
            fs = self.fields.get(p)
            if fs is not None:
                return fs.name
            p = p[:-1]
        return None

    def where(self, field_path: FieldPath) -> str:
        """``path:line:col`` (or just ``path``) for messages."""
        span = self.position(field_path)
        return f"{self.path}:{span.line}:{span.col}" if span else self.path
