"""The fix loop: lint, apply the fixes that do not collide, re-lint the new text, repeat.

Each round lints the current text with the selected rules, keeps the findings whose fix applies
(safe ones, unsafe ones too with ``unsafe_fixes``), and applies them in file order; a fix whose
edits touch text an earlier fix of the round already edits waits for the next round, when it
is recomputed on the new text.  Several findings may carry the same fix (the format upgrade):
it is applied once.  The new text must load again -- a fix that breaks the file is a bug, and
the whole run stops with :class:`FixInternalError` before anything is written.  The loop ends
when no fix applies (or after ``max_rounds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import PrototxtToolsError
from ..lint.context import LintOptions
from ..lint.diagnostic import Diagnostic
from ..lint.runner import lint_source
from ..load import load_net
from ..text import apply_edits
from ..text.tokens import LineIndex
from .model import edits_overlap

MAX_ROUNDS = 10


class FixInternalError(PrototxtToolsError):
    """A fix produced text that does not load: a bug in the fix, never the user's fault."""


@dataclass
class AppliedFix:
    """One fix applied: the findings it repairs, what it did, where (line/col in the fixed
    text), its applicability and the round it was applied in."""

    codes: tuple
    description: str
    line: int
    col: int
    applicability: str
    round: int
    findings: int = 1  # how many findings it repaired
    offset: int = 0  # of the first finding, in the text of its round


@dataclass
class FixOutcome:
    """The fixed text of one file and how it came about."""

    path: str
    original: str
    text: str
    applied: list = field(default_factory=list)
    remaining: list = field(default_factory=list)  # diagnostics of the fixed text
    converged: bool = True

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @property
    def fixed_count(self) -> int:
        return sum(a.findings for a in self.applied)

    def __repr__(self) -> str:
        return (f"<FixOutcome {self.path!r}: {self.fixed_count} fixed, {len(self.remaining)} remaining"
                f"{'' if self.changed else ', unchanged'}>")


def fix_text(path: str, text: str, selected: frozenset, options: LintOptions | None = None,
             unsafe_fixes: bool = False, max_rounds: int = MAX_ROUNDS,
             raw: bytes | None = None) -> FixOutcome:
    """Fix ``text`` (the content of ``path``; ``raw`` its bytes when read from a file).  Raises
    the load error (ParseError, UpgradeError) when the original does not load,
    FixInternalError when a fix breaks it."""
    options = options or LintOptions()
    # a file we cannot read is not ours to fix; checked on the bytes when we have them, since
    # a string field that is not UTF-8 is an error there that the decoded text would hide
    load_net(path, options.state, text=raw if raw is not None else text)
    current = text
    rounds: list[tuple[list, list]] = []  # per round: (edits applied, AppliedFix records)
    for number in range(1, max_rounds + 2):
        diagnostics = lint_source(path, selected, options, text=current)
        fixable = [d for d in diagnostics if d.fix is not None and d.fix.applies(unsafe_fixes)]
        if not fixable or number > max_rounds:
            break
        edits, applied = _choose(fixable, current, number)
        new_text = apply_edits(current, edits)
        if new_text == current:
            break
        _check_loads(path, new_text, options, applied)
        rounds.append((edits, applied))
        current = new_text
    outcome = FixOutcome(path, text, current, remaining=diagnostics,
                         converged=not fixable or number <= max_rounds)
    outcome.applied = _positions_in_final(rounds, current)
    return outcome


def _choose(fixable: list[Diagnostic], text: str, number: int) -> tuple[list, list]:
    """The non-colliding fixes of one round, in file order: (their edits, AppliedFix records
    positioned in this round's text)."""
    index = LineIndex(text)
    edits: list = []
    by_key: dict[tuple, AppliedFix] = {}
    for d in sorted(fixable, key=Diagnostic.sort_key):
        fix = d.fix
        key = fix.key()
        if key in by_key:
            record = by_key[key]
            record.findings += 1
            if d.code not in record.codes:
                record.codes += (d.code,)
            continue
        if any(edits_overlap(e, mine) for e in edits for mine in fix.edits):
            continue  # next round, recomputed on the new text
        edits.extend(fix.edits)
        offset = _offset(index, d.line, d.col)
        by_key[key] = AppliedFix((d.code,), fix.description, d.line, d.col, fix.applicability,
                                 number, offset=offset)
    return edits, list(by_key.values())


def _check_loads(path: str, text: str, options: LintOptions, applied: list) -> None:
    try:
        load_net(path, options.state, text=text)
    except PrototxtToolsError as exc:
        codes = ", ".join(c for a in applied for c in a.codes)
        raise FixInternalError(f"internal error: the fixes for {codes} produced text that "
                               f"does not load ({exc.message}); nothing was written -- please "
                               "report this", path) from None


def _offset(index: LineIndex, line: int, col: int) -> int:
    line = min(max(line, 1), len(index.line_starts))
    return min(index.line_starts[line - 1] + max(col, 1) - 1, len(index.text))


def map_offset(offset: int, edits: list) -> int:
    """Where ``offset`` of a text lands after ``edits``: at the start of text inserted there,
    at the start of a replacement covering it, else shifted by the edits before it."""
    shift = 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if e.end < offset or (e.end == offset and e.start < e.end):
            shift += len(e.text) - (e.end - e.start)
        elif e.start < offset:
            return e.start + shift
        else:
            break
    return offset + shift


def _positions_in_final(rounds: list, final_text: str) -> list[AppliedFix]:
    """The AppliedFix records of every round, positioned in the final text."""
    index = LineIndex(final_text)
    out = []
    for r, (_, applied) in enumerate(rounds):
        for record in applied:
            offset = record.offset
            for edits, _ in rounds[r:]:
                offset = map_offset(offset, edits)
            record.line, record.col = index.line_col(min(offset, len(final_text)))
            out.append(record)
    return out
