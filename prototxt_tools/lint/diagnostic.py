"""What the linter reports: one :class:`Diagnostic` per problem, with a position in the file.

Rules do not build diagnostics themselves; they yield :class:`Finding` objects (a message and a
field path of the file as written) and the runner turns those into diagnostics with line and
column from the source map, so every rule gets positions for free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..source import FieldPath, Span

SEVERITIES = ("error", "warning", "info")
"""Severity names, most serious first.  ``error`` and ``warning`` fail a run; ``info`` does not."""

FAILING_SEVERITIES = frozenset({"error", "warning"})


@dataclass(frozen=True)
class Finding:
    """What a rule's ``check`` yields: a message and where it is.

    ``at`` is a field path of the file *as written* (for an upgraded net, build it from
    ``layer.origin`` -- see :class:`~prototxt_tools.ir.Layer`); the runner finds its span in the
    source map, falling back to the nearest written ancestor.  ``span`` (or ``line``/``col``) is
    for findings that are not about a field: a syntax error, a comment.
    """

    message: str
    at: FieldPath | None = None
    layer: str | None = None
    span: Span | None = None
    line: int | None = None
    col: int | None = None
    fix: object | None = None  # a prototxt_tools.fix.Fix when the rule can repair it


@dataclass(frozen=True)
class Diagnostic:
    """One problem in one file, positioned (1-based lines and columns; ``end_col`` exclusive)."""

    code: str
    severity: str
    message: str
    path: str
    line: int = 1
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None
    layer: str | None = None
    name: str = ""  # the rule's kebab-case name
    fix: object | None = None

    def __repr__(self) -> str:
        return f"<Diagnostic {self.code} {self.location()} {self.message!r}>"

    def sort_key(self) -> tuple:
        return (self.path, self.line, self.col, self.code, self.message)

    @property
    def fails(self) -> bool:
        """Does this diagnostic make the run exit 1?"""
        return self.severity in FAILING_SEVERITIES

    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def to_dict(self, fix_edits: bool = True) -> dict:
        """JSON form; without ``fix_edits`` the fix is described but its edits left out."""
        fix = self.fix
        data = asdict(replace(self, fix=None))
        data["fix"] = fix.to_dict(fix_edits) if fix is not None else None
        return data
