"""Minimal-diff edits of a parsed prototxt (the machinery behind ``prototxt-fix``).

An :class:`Editor` collects :class:`TextEdit` s -- replace [start, end) of the original text --
against one :class:`Document`; :meth:`Editor.apply` checks they do not overlap and splices them in,
so every byte outside the edits stays as it was.  Helpers place new text the way the file already
looks: on its own line with the indentation of its sibling fields (or the parent's indentation plus
the file's indent unit), or inline with a space when the block is written on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from .cst import Block, Document, Field, ListValue, walk_fields

_LEADING_WS = re.compile(r"[ \t]*")


@dataclass(frozen=True)
class TextEdit:
    """Replace characters [start, end) of the original text by ``text`` (start == end inserts)."""

    start: int
    end: int
    text: str


class EditConflict(ValueError):
    """Two edits touch overlapping ranges of the text."""


def apply_edits(text: str, edits: Iterable[TextEdit]) -> str:
    """``text`` with all ``edits`` applied.  Insertions at one offset keep the order given;
    overlapping replacements raise :class:`EditConflict`."""
    ordered = sorted(enumerate(edits), key=lambda ie: (ie[1].start, ie[1].end, ie[0]))
    pieces = []
    pos = 0
    previous = None
    for _, edit in ordered:
        if not 0 <= edit.start <= edit.end <= len(text):
            raise EditConflict(f"edit {edit} is outside the text (length {len(text)})")
        if edit.start < pos:
            raise EditConflict(f"edit {edit} overlaps {previous}")
        pieces.append(text[pos:edit.start])
        pieces.append(edit.text)
        pos = edit.end
        previous = edit
    pieces.append(text[pos:])
    return "".join(pieces)


class Editor:
    """Collects edits against ``document``; :meth:`apply` returns the new text.

    ``text`` arguments are prototxt snippets (``"kernel_size: 3"``, or several lines from
    :func:`~prototxt_tools.text.format.format_field`); multi-line snippets are re-indented line
    by line.  Nodes passed in must come from this document."""

    def __init__(self, document: Document):
        self.document = document
        self.text = document.text
        self.index = document.index
        self.edits: list[TextEdit] = []
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        self.indent_unit = detect_indent_unit(document)
        # empty blocks being filled: id(block) -> (its edit, the snippets so far), so several
        # insertions into one ``{}`` become one multi-line block
        self._fills: dict[int, tuple[TextEdit, list[str]]] = {}
        self._parents: dict[int, Block] | None = None  # id(field) -> its block, built on demand

    # -- primitive -----------------------------------------------------------------------------
    def replace(self, start: int, end: int, text: str) -> TextEdit:
        edit = TextEdit(start, end, text)
        self.edits.append(edit)
        return edit

    def apply(self) -> str:
        return apply_edits(self.text, self.edits)

    # -- changing a field in place -------------------------------------------------------------
    def replace_value(self, field: Field, text: str) -> TextEdit:
        """Replace the value (scalar, ``{...}`` block or ``[...]`` list) of ``field``."""
        return self.replace(field.value.start, field.value.end, text)

    def rename(self, field: Field, new_name: str) -> TextEdit:
        return self.replace(field.name.start, field.name.end, new_name)

    def replace_field(self, field: Field, text: str) -> TextEdit:
        """Replace the whole field (name to value; a ``;``/``,`` separator stays)."""
        return self.replace(field.start, field.end, text)

    def delete(self, field: Field) -> TextEdit:
        """Remove ``field``.  A field alone on its line(s) takes its lines with it (and its
        trailing comment); comments on other lines stay.  Inline, one neighbouring space goes."""
        start, end = field.start, field.extent_end
        line_start = self.index.line_start(start)
        line_end = self.index.line_end(end)
        rest = self.text[end:line_end].strip()
        ends_line = not rest or rest.startswith("#")
        if ends_line and not self.text[line_start:start].strip():
            stop = line_end + 1 if line_end < len(self.text) else line_end
            return self.replace(line_start, stop, "")
        if ends_line:
            while start > line_start and self.text[start - 1] in " \t":
                start -= 1
        else:
            while end < line_end and self.text[end] in " \t":
                end += 1
        return self.replace(start, end, "")

    # -- inserting -----------------------------------------------------------------------------
    def insert_before(self, field: Field, text: str) -> TextEdit:
        """Insert ``text`` as a sibling just before ``field``."""
        line_start = self.index.line_start(field.start)
        indent = self.text[line_start:field.start]
        if not indent.strip():
            return self.replace(line_start, line_start,
                                self.indented(text, indent) + self.newline)
        return self.replace(field.start, field.start, text + " ")

    def insert_after(self, field: Field, text: str, indent: str | None = None) -> TextEdit:
        """Insert ``text`` as a sibling just after ``field`` (after its trailing comment when it
        ends its line)."""
        end = field.extent_end
        content_end = self.content_end(end)
        rest = self.text[end:content_end].strip()
        if rest and not rest.startswith("#"):
            return self.replace(end, end, " " + text)
        if indent is None:
            indent = self.own_indent(field)
            if indent is None:
                indent = self.child_indent(self.container_of(field))
        return self.replace(content_end, content_end, self.newline + self.indented(text, indent))

    def insert_at_start(self, container: Block | Field | Document, text: str) -> TextEdit:
        """Insert ``text`` as the first field of a block (or of the document)."""
        block = _as_container(container)
        if block.fields:
            first = block.fields[0]
            if self.own_indent(first) is not None:
                return self.insert_before(first, text)
            return self.replace(first.start, first.start, text + " ")
        return self.fill_empty(block, text, at_start=True)

    def insert_at_end(self, container: Block | Field | Document, text: str) -> TextEdit:
        """Insert ``text`` as the last field of a block (or of the document)."""
        block = _as_container(container)
        if isinstance(block, Block):
            line_start = self.index.line_start(block.close.start)
            if not self.text[line_start:block.close.start].strip():
                indent = self.child_indent(block)
                return self.replace(line_start, line_start,
                                    self.indented(text, indent) + self.newline)
        if block.fields:
            return self.insert_after(block.fields[-1], text, self.child_indent(block))
        return self.fill_empty(block, text)

    def fill_empty(self, block: Block | Document, text: str, at_start: bool = False) -> TextEdit:
        """Write the first fields of a block (or document) that has none."""
        previous = self._fills.pop(id(block), None)
        snippets = [text] if previous is None else (
            [text] + previous[1] if at_start else previous[1] + [text])
        if previous is not None:
            self.edits.remove(previous[0])
        if isinstance(block, Document):
            glue = self.newline if self.text.strip() and not self.text.endswith("\n") else ""
            body = self.newline.join(self.indented(t, "") for t in snippets)
            edit = self.replace(len(self.text), len(self.text), glue + body + self.newline)
        else:
            indent = self.child_indent(block)
            body = self.newline.join(self.indented(t, indent) for t in snippets)
            edit = self.replace(block.open.end, block.close.start, self.newline + body
                                + self.newline + self.line_indent(block.start))
        self._fills[id(block)] = (edit, snippets)
        return edit

    # -- layout helpers ------------------------------------------------------------------------
    def indented(self, text: str, indent: str) -> str:
        lines = text.split("\n")
        return self.newline.join(indent + line.rstrip("\r") if line.strip() else ""
                                 for line in lines)

    def content_end(self, offset: int) -> int:
        """End of the line holding ``offset``, before its ``\\r\\n`` / ``\\n``."""
        end = self.index.line_end(offset)
        return end - 1 if end > offset and self.text[end - 1] == "\r" else end

    def line_indent(self, offset: int) -> str:
        """The leading whitespace of the line holding ``offset``."""
        line_start = self.index.line_start(offset)
        return _LEADING_WS.match(self.text, line_start).group()

    def own_indent(self, field: Field) -> str | None:
        """The whitespace before ``field`` when it starts its line, else None."""
        line_start = self.index.line_start(field.start)
        prefix = self.text[line_start:field.start]
        return None if prefix.strip() else prefix

    def child_indent(self, block: Block | Document) -> str:
        """Indentation for a new field of ``block``: its fields' own, else the parent's + unit."""
        for f in block.fields:
            indent = self.own_indent(f)
            if indent is not None:
                return indent
        if isinstance(block, Document):
            return ""
        return self.line_indent(block.start) + self.indent_unit

    def container_of(self, field: Field) -> Block | Document:
        """The block (or the document) whose direct fields include ``field``."""
        if self._parents is None:
            self._parents = {}
            for f in walk_fields(self.document.fields):
                blocks = f.value.items if isinstance(f.value, ListValue) else [f.value]
                for block in blocks:
                    if isinstance(block, Block):
                        self._parents.update((id(child), block) for child in block.fields)
        return self._parents.get(id(field), self.document)


def _as_container(container: Block | Field | Document) -> Block | Document:
    if isinstance(container, Field):
        if not isinstance(container.value, Block):
            raise TypeError(f"field {container.name.text!r} has no {{ }} block to insert into")
        return container.value
    return container


def detect_indent_unit(document: Document) -> str:
    """The file's indentation step (first nested field on its own line vs. its parent's line);
    two spaces when the file has no nested field to learn from."""
    text = document.text
    index = document.index
    for f in walk_fields(document.fields):
        if not isinstance(f.value, Block):
            continue
        parent_indent = _LEADING_WS.match(text, index.line_start(f.start)).group()
        for child in f.value.fields:
            line_start = index.line_start(child.start)
            prefix = text[line_start:child.start]
            if not prefix.strip() and len(prefix) > len(parent_indent) \
                    and prefix.startswith(parent_indent):
                return prefix[len(parent_indent):]
    return "  "
