"""``prototxt-fix``: repair what the linter finds, by minimal edits of the file as written.

Public API::

    Fix(description, edits, applicability="safe", reason=None)   what a rule attaches to a Finding
    make_fix(document, description, edits, unsafe_reason=None) -> Fix | None
    fix_text(path, text, selected, options=None, unsafe_fixes=False) -> FixOutcome
    fix_path(path, selected, options, unsafe_fixes=False, mode=WRITE, output=None) -> FileFix
    unified_diff(path, old, new) -> str   (``git apply``-able)

Fixes are built next to the rules that find the problems (see each rule's ``## Fix``); this
package holds the model, the text-editing builders and the engine that applies them.
"""

from .engine import MAX_ROUNDS, AppliedFix, FixInternalError, FixOutcome, fix_text
from .model import SAFE, UNSAFE, Fix, make_fix

__all__ = ["Fix", "make_fix", "SAFE", "UNSAFE", "fix_text", "FixOutcome", "AppliedFix",
           "FixInternalError", "MAX_ROUNDS"]
