"""The lossless concrete syntax tree of a prototxt file.

Every node keeps ``children``: its tokens (trivia included) and sub-nodes in source order, so
:func:`print_tree` re-assembles the exact input by walking the tree.  Trivia between two fields of a
block belongs to the block; trivia inside a field (``name  :  value``) belongs to the field.

Nodes: :class:`Document` (top-level fields), :class:`Field` (name token, optional ``:``, a value,
optional ``;``/``,`` separator), and the three value kinds :class:`Scalar` (one value token, an
optional ``-`` before it, or adjacent string tokens), :class:`Block` (``{ ... }`` / ``< ... >``)
and :class:`ListValue` (``[a, b]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..source import Span
from .tokens import COMMENT_RE, STRING, TRIVIA, LineIndex, Token


class Node:
    """Base of CST nodes: ``children`` are :class:`Token` and :class:`Node` objects in order."""

    __slots__ = ("children", "index")

    start: int
    end: int

    @property
    def span(self) -> Span:
        """Where the node sits (first to last significant token, trivia excluded)."""
        return self.index.span(self.start, self.end)

    def tokens(self):
        """Every token under this node, trivia included, in source order."""
        stack = [iter(self.children)]
        while stack:
            for child in stack[-1]:
                if isinstance(child, Token):
                    yield child
                else:
                    stack.append(iter(child.children))
                    break
            else:
                stack.pop()


class Scalar(Node):
    """A scalar value: ``tokens`` are its significant tokens (``-`` then a number or identifier,
    or one or more adjacent strings)."""

    __slots__ = ("parts", "start", "end")

    def __init__(self, children: list, parts: list[Token], index: LineIndex):
        self.children = children
        self.index = index
        self.parts = parts
        self.start = parts[0].start
        self.end = parts[-1].end

    @property
    def kind(self) -> str:
        """``string``, ``number`` or ``ident`` (a ``-`` sign does not change the kind)."""
        return self.parts[-1].kind

    @property
    def negative(self) -> bool:
        return self.parts[0].text == "-"

    @property
    def text(self) -> str:
        """The value as written, without trivia (``-`` joined to its number)."""
        if self.parts[-1].kind == STRING:
            return " ".join(t.text for t in self.parts)
        return "".join(t.text for t in self.parts)

    def __repr__(self) -> str:
        return f"Scalar({self.text!r})"


class Block(Node):
    """A message value ``{ fields }`` or ``< fields >``."""

    __slots__ = ("open", "close", "fields", "start", "end")

    def __init__(self, children: list, open_: Token, close: Token, fields: list[Field],
                 index: LineIndex):
        self.children = children
        self.index = index
        self.open = open_
        self.close = close
        self.fields = fields
        self.start = open_.start
        self.end = close.end

    def __repr__(self) -> str:
        return f"Block({len(self.fields)} fields)"


class ListValue(Node):
    """A short repeated value ``[item, item]``; items are :class:`Scalar` or :class:`Block`."""

    __slots__ = ("open", "close", "items", "start", "end")

    def __init__(self, children: list, open_: Token, close: Token, items: list,
                 index: LineIndex):
        self.children = children
        self.index = index
        self.open = open_
        self.close = close
        self.items = items
        self.start = open_.start
        self.end = close.end

    def __repr__(self) -> str:
        return f"ListValue({self.items!r})"


class Field(Node):
    """``name [:] value [;|,]``.  ``start``/``end`` cover name..value (not the separator);
    ``extent_end`` includes the separator when there is one."""

    __slots__ = ("name", "colon", "value", "separator", "start", "end")

    def __init__(self, children: list, name: Token, colon: Token | None, value: Node,
                 separator: Token | None, index: LineIndex):
        self.children = children
        self.index = index
        self.name = name
        self.colon = colon
        self.value = value
        self.separator = separator
        self.start = name.start
        self.end = value.end

    @property
    def name_span(self) -> Span:
        return self.index.span(self.name.start, self.name.end)

    @property
    def extent_end(self) -> int:
        return self.separator.end if self.separator is not None else self.end

    @property
    def fields(self) -> list[Field]:
        """Sub-fields when the value is a block (empty otherwise)."""
        return self.value.fields if isinstance(self.value, Block) else []

    def __repr__(self) -> str:
        return f"Field({self.name.text!r}, {self.value!r})"


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment: ``raw`` is its exact text from ``#`` to the end of the line, [start, end)
    its offsets; ``trailing`` is true when code precedes it on its line."""

    raw: str
    start: int
    end: int
    line: int
    col: int
    trailing: bool

    @property
    def text(self) -> str:
        """The comment without the ``#`` and surrounding whitespace (a ``\\r`` is dropped)."""
        return self.raw[1:].strip()


class Document(Node):
    """A parsed file: top-level ``fields``, the source ``text`` and its ``path`` for messages."""

    __slots__ = ("fields", "text", "path", "encoding", "_comments")

    def __init__(self, children: list, fields: list[Field], text: str, path: str,
                 index: LineIndex, encoding: str = "utf-8"):
        self.children = children
        self.fields = fields
        self.text = text
        self.path = path
        self.encoding = encoding
        self.index = index
        self._comments: list[Comment] | None = None

    @property
    def start(self) -> int:
        return 0

    @property
    def end(self) -> int:
        return len(self.text)

    def span_of(self, start: int, end: int) -> Span:
        """A :class:`Span` for the character range [start, end) of this document."""
        return self.index.span(start, end)

    def node_span(self, node: Node | Token) -> Span:
        return self.index.span(node.start, node.end)

    @property
    def comments(self) -> list[Comment]:
        """Every comment in source order (computed once)."""
        if self._comments is None:
            self._comments = _collect_comments(self)
        return self._comments

    def comments_by_line(self) -> dict[int, Comment]:
        """Line number -> the comment on that line (a line holds at most one comment)."""
        return {c.line: c for c in self.comments}

    def to_text(self) -> str:
        return print_tree(self)

    def __repr__(self) -> str:
        return f"Document({self.path!r}, {len(self.fields)} fields)"


def _collect_comments(doc: Document) -> list[Comment]:
    return scan_comments(doc.text, doc.tokens(), doc.index)


def scan_comments(text: str, tokens, index: LineIndex) -> list[Comment]:
    """The ``#`` comments among ``tokens`` (trivia only: a ``#`` inside a string is not one)."""
    out = []
    for tok in tokens:
        if tok.kind == TRIVIA and "#" in tok.text:
            for m in COMMENT_RE.finditer(tok.text):
                start = tok.start + m.start()
                line, col = index.line_col(start)
                before = text[index.line_start(start):start]
                out.append(Comment(m.group(), start, tok.start + m.end(), line, col,
                                   bool(before.strip())))
    return out


def print_tree(node: Node) -> str:
    """Re-assemble the source text of ``node`` from its tokens (lossless)."""
    return "".join([tok.text for tok in node.tokens()])


def walk_fields(fields: list[Field]):
    """Every field under ``fields``, depth first in source order, inside blocks and lists too."""
    stack = [iter(fields)]
    while stack:
        for f in stack[-1]:
            yield f
            value = f.value
            if isinstance(value, Block):
                stack.append(iter(value.fields))
                break
            if isinstance(value, ListValue):
                stack.append(iter([sub for item in value.items if isinstance(item, Block)
                                   for sub in item.fields]))
                break
        else:
            stack.pop()


__all__ = ["Node", "Scalar", "Block", "ListValue", "Field", "Document", "Comment", "Token",
           "print_tree", "walk_fields"]
