"""``prototxt-fix``: repair what the linter finds, by minimal edits of the file as written.

Public API::

    Fix(description, edits, applicability="safe", reason=None, positions=())
        what a rule attaches to a Finding (``fix=``); ``edits`` are TextEdits on the linted text
    make_fix(document, description, edits, unsafe_reason=None) -> Fix | None
    fix_text(path, text, selected, options=None, unsafe_fixes=False, max_rounds=10) -> FixOutcome
    fix_path(path, selected, options=None, unsafe_fixes=False, mode=WRITE, output=None) -> FileFix
    unified_diff(path, old, new) -> str          a diff ``git apply`` accepts

Fixes are built next to the rules that find the problems (each rule's ``## Fix`` says what its
fix does); this package holds the model, the text-editing builders and the engine.
"""

from .engine import MAX_ROUNDS, AppliedFix, FixInternalError, FixOutcome, fix_text
from .files import DIFF, WRITE, FileFix, fix_path, unified_diff
from .model import SAFE, UNSAFE, Fix, make_fix

__all__ = ["Fix", "make_fix", "SAFE", "UNSAFE", "fix_text", "FixOutcome", "AppliedFix",
           "FixInternalError", "MAX_ROUNDS", "fix_path", "FileFix", "unified_diff", "WRITE",
           "DIFF"]
