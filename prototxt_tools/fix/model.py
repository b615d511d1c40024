"""What a fix is: a description, an applicability, and text edits on the file as linted.

A rule attaches a :class:`Fix` to the :class:`~prototxt_tools.lint.diagnostic.Finding` it yields.
The edits replace ranges of the *original* text of that lint run (``TextEdit`` offsets), so
every byte outside them stays as it was.  ``safe`` fixes keep what the net means to Caffe (its
upgraded message, its weights' shapes); ``unsafe`` ones change it and need ``--unsafe-fixes``,
with ``reason`` saying what changes (ruff's applicability, shown in JSON output).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..text import TextEdit

SAFE, UNSAFE = "safe", "unsafe"
APPLICABILITIES = (SAFE, UNSAFE)


@dataclass(frozen=True)
class EditPosition:
    """Where an edit sits in the text it was made for (1-based; ``end_col`` exclusive)."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Fix:
    """One repair: ``edits`` are applied together or not at all."""

    description: str
    edits: tuple
    applicability: str = SAFE
    reason: str | None = None  # what the fix changes, when it is unsafe
    positions: tuple = ()  # one EditPosition per edit, for JSON output

    def __post_init__(self):
        if self.applicability not in APPLICABILITIES:
            raise ValueError(f"applicability {self.applicability!r} is not one of "
                             f"{APPLICABILITIES}")
        if self.applicability == UNSAFE and not self.reason:
            raise ValueError("an unsafe fix must say why (reason)")

    @property
    def safe(self) -> bool:
        return self.applicability == SAFE

    def applies(self, unsafe_fixes: bool) -> bool:
        """Is this fix applied in a run with (or without) ``--unsafe-fixes``?"""
        return self.safe or unsafe_fixes

    def key(self) -> tuple:
        """Identity of the change itself: several findings may carry the same fix."""
        return tuple((e.start, e.end, e.text) for e in self.edits)

    def to_dict(self, edits: bool = True) -> dict:
        """JSON form (ruff's shape: message, applicability, edits with content and locations);
        ``edits=False`` gives an empty edit list (a fix already given in full elsewhere)."""
        items = []
        for edit, pos in zip(self.edits if edits else (),
                             self.positions or [None] * len(self.edits)):
            item = {"content": edit.text, "start": edit.start, "end": edit.end}
            if pos is not None:
                item["location"] = {"row": pos.line, "column": pos.col}
                item["end_location"] = {"row": pos.end_line, "column": pos.end_col}
            items.append(item)
        return {"message": self.description, "applicability": self.applicability,
                "reason": self.reason, "edits": items}


def make_fix(document, description: str, edits, unsafe_reason: str | None = None) -> Fix | None:
    """A Fix of ``edits`` (TextEdits on ``document``'s text), positioned for output; None when
    there is nothing to edit.  An ``unsafe_reason`` makes it unsafe."""
    edits = tuple(sorted(edits, key=lambda e: (e.start, e.end)))
    if not edits:
        return None
    positions = tuple(_position(document, e) for e in edits)
    return Fix(description, edits, UNSAFE if unsafe_reason else SAFE, unsafe_reason, positions)


def _position(document, edit: TextEdit) -> EditPosition:
    span = document.span_of(edit.start, edit.end)
    return EditPosition(span.line, span.col, span.end_line, span.end_col)


def edits_overlap(a: TextEdit, b: TextEdit) -> bool:
    """Do two edits (of different fixes) touch the same text?  Two insertions at one offset
    count as overlapping (their order would be arbitrary); an insertion at the boundary of a
    replaced range does not."""
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end
