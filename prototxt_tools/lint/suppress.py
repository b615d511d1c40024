"""Suppression comments, read from the real tokenizer (a ``#`` inside a string is no comment).

- ``# noqa`` / ``# noqa: E101, W401`` at the end of a line: findings starting on that line;
- ``# prototxt-lint: disable=E101,W401`` (or ``disable`` for all) on its own line: the next field
  -- usually a whole ``layer { ... }`` block -- as hadolint and shellcheck scope theirs; at the
  end of the line that opens a block it covers that block;
- ``# prototxt-lint: disable-file=E101`` (or ``disable-file``) before the first field: the file.

Codes may be prefixes (``E1``) as in ``--select``.  Directives that suppress nothing are reported
by rule W901, malformed ones by W902.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text import Comment, tokenize, walk_fields
from ..text.cst import scan_comments
from ..text.tokens import LineIndex
from .registry import RULES

NOQA_RE = re.compile(r"#\s*noqa\b(?::\s*(?P<codes>[A-Za-z0-9]+(?:[\s,]+[A-Za-z0-9]+)*))?", re.I)
DIRECTIVE_RE = re.compile(r"#\s*prototxt-lint:\s*(?P<kind>disable-file|disable)\b"
                          r"(?:\s*=\s*(?P<codes>[A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*))?")
ALL_LINES = 10 ** 9


@dataclass
class Directive:
    """One suppression comment and what it covers (lines ``first``..``last``)."""

    kind: str  # "noqa" | "disable" | "disable-file"
    codes: tuple | None  # None: every code
    comment: Comment
    first: int = 0
    last: int = -1
    problem: str | None = None  # why the directive is malformed (W902)
    used: set = field(default_factory=set)

    @property
    def written(self) -> str:
        return self.comment.raw.strip()

    def covers(self, code: str, line: int) -> bool:
        """Does this directive suppress ``code`` on ``line``?  Records the use."""
        if self.problem or not self.first <= line <= self.last:
            return False
        if self.codes is None:
            self.used.add("*")
            return True
        hits = [c for c in self.codes if c == "ALL" or code.startswith(c)]
        self.used.update(hits)
        return bool(hits)


def comments_of(text: str, document=None) -> list[Comment]:
    """Every comment of the file: from the CST when it parsed, else from the tokenizer alone."""
    if document is not None:
        return list(document.comments)
    return scan_comments(text, tokenize(text), LineIndex(text))


def parse_directives(text: str, document=None) -> list[Directive]:
    """The suppression directives of a file, each with its scope resolved."""
    directives = []
    fields = _fields_in_order(document)
    first_field_start = fields[0].start if fields else len(text)
    for comment in comments_of(text, document):
        m = DIRECTIVE_RE.search(comment.raw)
        if m:
            directive = Directive(m["kind"], _codes(m["codes"]), comment)
            _scope(directive, fields, first_field_start, document)
            directives.append(directive)
            continue
        m = NOQA_RE.search(comment.raw)
        if m:
            directives.append(Directive("noqa", _codes(m["codes"]), comment, comment.line,
                                        comment.line))
    for directive in directives:
        unknown = [c for c in directive.codes or () if not _known(c)]
        if unknown and not directive.problem:
            directive.problem = f"unknown rule code(s) {', '.join(unknown)}"
    return directives


def _codes(text: str | None) -> tuple | None:
    if not text:
        return None
    codes = tuple(c.upper() for c in re.split(r"[\s,]+", text.strip()) if c)
    return None if "ALL" in codes else codes


def _known(code: str) -> bool:
    return any(c.startswith(code) for c in RULES)


def _fields_in_order(document) -> list:
    """Every field of the CST, outer before inner, in source order (empty if it did not parse)."""
    return [] if document is None else list(walk_fields(document.fields))


def _scope(directive: Directive, fields: list, first_field_start: int, document) -> None:
    comment = directive.comment
    if directive.kind == "disable-file":
        if comment.start > first_field_start:
            directive.problem = "disable-file must come before the first field of the file"
        directive.first, directive.last = 1, ALL_LINES
        return
    if document is None:
        directive.problem = "the file did not parse, so the block this directive covers is unknown"
        return
    line_of = document.index.line_col
    target = None
    if comment.trailing:
        # `layer {  # prototxt-lint: disable=...` covers the block it opens
        enclosing = [f for f in fields if f.start < comment.start < f.end]
        if enclosing and line_of(enclosing[-1].start)[0] == comment.line:
            target = enclosing[-1]
        else:  # a trailing directive on any other line covers that line, like noqa
            directive.first = directive.last = comment.line
            return
    if target is None:
        target = next((f for f in fields if f.start >= comment.end), None)
    if target is not None:  # else nothing follows: it covers nothing and is reported unused
        directive.first, directive.last = line_of(target.start)[0], line_of(target.end)[0]


class Suppressions:
    """The directives of one file.  ``suppressed`` answers and records which directive (and code)
    was used, so the unused ones can be reported afterwards."""

    def __init__(self, directives: list[Directive]):
        self.directives = directives

    @classmethod
    def of(cls, text: str, document=None) -> "Suppressions":
        return cls(parse_directives(text, document))

    def suppressed(self, code: str, line: int, explicit_only: bool = False) -> bool:
        """Is a finding of ``code`` starting on ``line`` suppressed?  With ``explicit_only``
        blanket directives do not count (a blanket ``# noqa`` cannot hide its own W901)."""
        hit = False
        for d in self.directives:
            if explicit_only and d.codes is None:
                continue
            hit = d.covers(code, line) or hit
        return hit

    def unused(self, selected: frozenset) -> list[tuple[Directive, str | None]]:
        """(directive, code) for every code that suppressed nothing; code None for a blanket
        directive.  Codes whose rules are all deselected are not judged (they could not fire)."""
        out = []
        for d in self.directives:
            if d.problem:
                continue
            if d.codes is None:
                if not d.used:
                    out.append((d, None))
                continue
            for code in d.codes:
                if code not in d.used and any(c.startswith(code) for c in selected):
                    out.append((d, code))
        return out

    def invalid(self) -> list[Directive]:
        return [d for d in self.directives if d.problem]
