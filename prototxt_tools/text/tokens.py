"""Tokenizer for the protobuf text format as Caffe files use it.

One compiled master regex splits the whole text into tokens in a single ``findall`` pass; every
character lands in exactly one token, so joining the token texts gives the input back.  A maximal
run of whitespace and ``#`` comments is one *trivia* token; everything else is significant.
Malformed input (an unterminated string, a stray character) still becomes a token (kind
``badstring`` / ``error``) so the parser can report it with its position.

Token rules follow protobuf's C++ ``io::Tokenizer`` (what Caffe runs): identifiers are
``[A-Za-z_][A-Za-z0-9_]*``; a number starts with a digit or ``.digit`` and runs over letters, digits
and dots (validated later, so ``1.2.3`` is one bad number rather than two tokens); ``-`` is a
separate symbol; strings end on the same line; whitespace is ASCII only.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_right

from ..source import Span


def _span_by_dict(start: int, end: int, line: int, col: int, end_line: int, end_col: int) -> Span:
    # A frozen dataclass ``__init__`` sets each field through ``object.__setattr__``, which made
    # span creation a fifth of the parse time; filling the instance dict builds an equal object.
    span = object.__new__(Span)
    fields = span.__dict__
    fields["start"] = start
    fields["end"] = end
    fields["line"] = line
    fields["col"] = col
    fields["end_line"] = end_line
    fields["end_col"] = end_col
    return span


def checked_constructor(fast, cls, arity: int):
    """``fast`` if it builds objects equal to ``cls(...)`` (it needs an instance ``__dict__``),
    else ``cls`` itself -- so a future ``slots=True`` Span costs speed, not correctness."""
    sample = tuple(range(arity))
    try:
        if fast(*sample) == cls(*sample):
            return fast
    except (AttributeError, TypeError):
        pass
    return cls


_make_span = checked_constructor(_span_by_dict, Span, 6)

TRIVIA = "trivia"
IDENT = "ident"
NUMBER = "number"
STRING = "string"
BADSTRING = "badstring"
SYMBOL = "symbol"
ERROR = "error"
EOF = "eof"

# No capturing groups: ``findall`` then returns the token texts, and the kind is read off the first
# character -- much faster than asking every match for ``lastgroup``.
_MASTER = re.compile(
    r"(?:[ \t\r\n\v\f]+|\#[^\n]*)+"                    # trivia: whitespace and comments
    r"|[A-Za-z_][A-Za-z0-9_]*"                            # identifier
    r"|(?:\d|\.\d)(?:[eE][+-]\d|[0-9A-Za-z_.])*"          # number (validated by the parser)
    r"|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'"          # string
    r"|[\"'](?:[^\"'\\\n]|\\.)*\\?"                      # unterminated string
    r"|.",                                                # symbol or stray character
    re.DOTALL,
)
_STRING = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'")
COMMENT_RE = re.compile(r"\#[^\n]*")

_KIND_BY_FIRST_CHAR = {c: TRIVIA for c in " \t\r\n\v\f#"}
_KIND_BY_FIRST_CHAR.update({c: IDENT for c in string.ascii_letters + "_"})
_KIND_BY_FIRST_CHAR.update({c: NUMBER for c in string.digits})
_KIND_BY_FIRST_CHAR.update({c: SYMBOL for c in "{}<>[]:;,-"})
_QUOTE = "quote"
_DOT = "dot"
_KIND_BY_FIRST_CHAR.update({'"': _QUOTE, "'": _QUOTE, ".": _DOT})


class Token:
    """One token: its kind (``trivia``, ``ident``, ``number``, ...), exact text and offset.

    A trivia token is a maximal run of whitespace and ``#`` comments."""

    __slots__ = ("kind", "text", "start")

    def __init__(self, kind: str, text: str, start: int):
        self.kind = kind
        self.text = text
        self.start = start

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, {self.start})"


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` in order (trivia included), ending with one empty ``eof`` token."""
    tokens = []
    append = tokens.append
    kind_of = _KIND_BY_FIRST_CHAR.get
    pos = 0
    for piece in _MASTER.findall(text):
        kind = kind_of(piece[0], ERROR)
        if kind == _QUOTE:
            kind = STRING if _STRING.fullmatch(piece) else BADSTRING
        elif kind == _DOT:
            kind = NUMBER if len(piece) > 1 else ERROR
        append(Token(kind, piece, pos))
        pos += len(piece)
    append(Token(EOF, "", pos))
    return tokens


class LineIndex:
    """Maps character offsets to 1-based (line, column); columns count characters, a tab is one."""

    __slots__ = ("text", "line_starts")

    def __init__(self, text: str):
        self.text = text
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self.line_starts = starts

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        starts = self.line_starts
        line = bisect_right(starts, start)
        end_line = line
        # most spans end on their first line: skip the second bisect then
        if end_line >= len(starts) or end < starts[end_line]:
            end_col = end - starts[line - 1] + 1
        else:
            end_line = bisect_right(starts, end)
            end_col = end - starts[end_line - 1] + 1
        return _make_span(start, end, line, start - starts[line - 1] + 1, end_line, end_col)

    def line_start(self, offset: int) -> int:
        """Offset of the first character of the line holding ``offset``."""
        return self.line_starts[bisect_right(self.line_starts, offset) - 1]

    def line_end(self, offset: int) -> int:
        """Offset of the ``\\n`` ending the line holding ``offset`` (or the text length)."""
        pos = self.text.find("\n", offset)
        return len(self.text) if pos == -1 else pos
