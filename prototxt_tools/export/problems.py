"""Many problems, one error: the exporter refuses a net once, listing every reason with its place.

The error renders on one line (the CLI's contract): the first problem's ``path:line:col`` leads,
the others follow as ``line:col: message`` separated by ``; ``.  ``error.problems`` keeps the
list as ``(line, col, message)`` for API users.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import PrototxtToolsError
from ..source import SourceMap


def combined_error(cls: type, problems: Sequence[tuple], source_map: SourceMap | None,
                   lead: str = "") -> PrototxtToolsError:
    """``problems`` are (field path in the file, message); returns one ``cls`` error."""
    located = []
    for field_path, message in problems:
        span = source_map.position(field_path) if source_map is not None else None
        located.append((span.line if span else None, span.col if span else None, message))
    line, col, first = located[0]
    text = first
    for other_line, other_col, message in located[1:]:
        where = f"{other_line}:{other_col}: " if other_line is not None else ""
        text += f"; {where}{message}"
    if lead and len(located) > 1:
        text = f"{lead} ({len(located)} problems): {text}"
    error = cls(text, source_map.path if source_map is not None else None, line, col)
    error.problems = located
    return error
