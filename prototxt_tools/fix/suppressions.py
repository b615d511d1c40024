"""W901: delete a suppression comment that suppresses nothing, or the codes in it that do not.

Only the directive goes: in ``# conv1, see paper  # noqa: E101`` the first comment stays; a
directive that is a whole comment takes its line when it is alone on it, else the blanks
before it.  In ``# noqa: E101, W401`` with only E101 unused, just ``E101`` goes.
"""

from __future__ import annotations

import re

from ..lint.suppress import DIRECTIVE_RE, NOQA_RE
from ..text import TextEdit
from .model import Fix, make_fix

_SEPARATOR = re.compile(r"[\s,]+")


def unused_suppression_fix(ctx, directive, unused: list) -> Fix | None:
    """The fix of ``directive`` whose codes ``unused`` suppress nothing (``None`` in the list:
    a blanket directive)."""
    document = ctx.document
    if document is None:
        return None
    comment = directive.comment
    raw = comment.raw.rstrip("\r")
    match = (NOQA_RE if directive.kind == "noqa" else DIRECTIVE_RE).search(raw)
    if match is None:
        return None
    gone = {c for c in unused if c is not None}
    kept = [] if None in unused or directive.codes is None else \
        [c for c in directive.codes if c not in gone]
    if kept:
        edit = _drop_codes(comment.start, raw, match, gone)
        what = f"remove {', '.join(sorted(gone))} from `{directive.written}`"
    else:
        edit = _drop_directive(ctx.text, document.index, comment.start, raw, match)
        what = f"delete `{raw[match.start():].strip()}`"
    return make_fix(document, what, [edit]) if edit is not None else None


def _drop_codes(base: int, raw: str, match, gone: set) -> TextEdit | None:
    start, end = match.span("codes")
    written = raw[start:end]
    codes = [c for c in _SEPARATOR.split(written) if c]
    separator = _SEPARATOR.search(written)
    glue = separator.group() if separator else ", "
    kept = [c for c in codes if c.upper() not in gone]
    if len(kept) == len(codes):
        return None
    return TextEdit(base + start, base + end, glue.join(kept))


def _drop_directive(text: str, index, base: int, raw: str, match) -> TextEdit:
    """Delete from the directive's ``#`` to the end of the comment, with the blanks before
    it; the whole line when nothing else is on it."""
    start = base + match.start()
    end = base + len(raw)
    while start > 0 and text[start - 1] in " \t":
        start -= 1
    line_start = index.line_start(start)
    line_end = index.line_end(end)
    if start == line_start and not text[end:line_end].strip():
        return TextEdit(line_start, min(line_end + 1, len(text)), "")
    return TextEdit(start, end, "")
