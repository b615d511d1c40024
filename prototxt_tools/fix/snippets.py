"""Editing helpers the fixes share, on top of :class:`~prototxt_tools.text.Editor`.

New text is written the way its neighbourhood already looks: a block written on one line gets
one-line snippets (``param { lr_mult: 1 }``), a block written one field per line gets formatted
lines in the file's indent unit, and every line ending is the file's own.
"""

from __future__ import annotations

from google.protobuf.message import Message

from ..text import Block, Editor, Field, ListValue, format_field, format_message
from ..text.format import format_value


def one_line(snippet: str) -> str:
    """Formatted (multi-line) prototxt on one line: ``param {`` / ``lr_mult: 1`` / ``}`` ->
    ``param { lr_mult: 1 }`` (strings never hold a raw newline: format_value escapes it)."""
    return " ".join(line.strip() for line in snippet.split("\n") if line.strip())


def starts_line(editor: Editor, node) -> bool:
    """Is ``node`` the first thing on its line?"""
    start = editor.index.line_start(node.start)
    return not editor.text[start:node.start].strip()


def is_inline(editor: Editor, block: Block) -> bool:
    """Is the block ``{ ... }`` opened and closed on one line?"""
    return editor.index.line_col(block.open.start)[0] == editor.index.line_col(block.close.start)[0]


def field_text(editor: Editor, message: Message, name: str) -> str:
    """Field ``name`` of ``message`` formatted in the file's indent unit (every value)."""
    return format_field(message, name, editor.indent_unit)


def block_text(editor: Editor, name: str, message: Message) -> str:
    """``name { <message> }`` formatted one field per line (no base indentation)."""
    body = format_message(message, editor.indent_unit, editor.indent_unit)
    return f"{name} {{\n{body}\n}}" if body else f"{name} {{\n}}"


def scalar_text(message: Message, name: str) -> str:
    """The value of singular scalar field ``name`` as written after ``name: ``."""
    return format_value(message.DESCRIPTOR.fields_by_name[name], getattr(message, name))


def children(block: Block, name: str) -> list[Field]:
    """The direct fields of ``block`` called ``name``, in source order."""
    return [f for f in block.fields if f.name.text == name]


def insert_before(editor: Editor, anchor: Field, snippet: str) -> None:
    """``snippet`` as a sibling just before ``anchor``, one line if ``anchor`` shares its line."""
    editor.insert_before(anchor, snippet if starts_line(editor, anchor) else one_line(snippet))


def insert_into(editor: Editor, block: Block, snippet: str) -> None:
    """``snippet`` as the last field of ``block``, one line if the block is written on one."""
    editor.insert_at_end(block, one_line(snippet) if is_inline(editor, block) else snippet)


def replace_whole(editor: Editor, field: Field, snippet: str, comments: list[str] = ()) -> None:
    """Replace ``field`` (name to value) by ``snippet`` -- on one line if the field is written
    on one, else aligned with it line by line -- preceded by ``comments`` (lines starting with
    ``#``; those of the text being replaced)."""
    nl = editor.newline
    one_line_field = editor.index.line_col(field.start)[0] == editor.index.line_col(field.end)[0]
    if not starts_line(editor, field) or (one_line_field and not comments):
        # a comment cannot share a line with code after it: each goes on its own line
        tail = "".join(nl + c for c in comments) + nl if comments else ""
        editor.replace_field(field, one_line(snippet) + tail)
        return
    indent = editor.line_indent(field.start)
    first, *rest = list(comments) + snippet.split("\n")
    text = nl.join([first] + [indent + line if line.strip() else "" for line in rest])
    editor.replace_field(field, text)


def set_scalar(editor: Editor, field: Field, index: int, text: str) -> None:
    """Set value ``index`` of ``field`` (one value, or item ``index`` of a ``[a, b]`` list)."""
    value = field.value
    if isinstance(value, ListValue):
        item = value.items[index]
        editor.replace(item.start, item.end, text)
    else:
        editor.replace_value(field, text)


def delete_fields(editor: Editor, fields: list[Field]) -> None:
    """Delete several fields at once, keeping every comment: a field alone on its line takes
    the line, unless a comment follows it there (the comment stays, in the field's place);
    inline, one neighbouring run of blanks goes with it.  Ranges that touch are merged, and a
    merged range that leaves only blanks on its lines takes the lines."""
    ranges = sorted(_deletion(editor, f) for f in fields)
    merged: list[list[int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        start, end = _whole_lines(editor, start, end)
        editor.replace(start, end, "")


def _deletion(editor: Editor, field: Field) -> tuple[int, int]:
    text, index = editor.text, editor.index
    start, end = field.start, field.extent_end
    line_start, line_end = index.line_start(start), index.line_end(end)
    rest = text[end:line_end].strip()
    alone = not text[line_start:start].strip()
    if rest and not rest.startswith("#"):  # code follows: take the blanks after the field
        while end < line_end and text[end] in " \t":
            end += 1
        return start, end
    if alone and rest:  # `field  # comment`: the comment keeps the field's place
        return start, text.index("#", end)
    if alone:
        return line_start, min(line_end + 1, len(text))
    while start > line_start and text[start - 1] in " \t":
        start -= 1
    return start, end


def _whole_lines(editor: Editor, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to whole lines when only blanks would remain on them, or over the
    blanks before it when it ends its line's code."""
    text, index = editor.text, editor.index
    line_start = index.line_start(start)
    alone = not text[line_start:start].strip()
    if alone and end > start and text[end - 1] == "\n":
        return line_start, end
    line_end = index.line_end(end)
    rest = text[end:line_end].strip()
    if alone and not rest:
        return line_start, min(line_end + 1, len(text))
    if not alone and (not rest or rest.startswith("#")):
        while start > line_start and text[start - 1] in " \t":
            start -= 1
    return start, end


def comments_inside(editor: Editor, node) -> list[str]:
    """The ``#`` comments written inside ``node``'s text, without their line endings."""
    return [c.raw.rstrip("\r") for c in editor.document.comments
            if node.start <= c.start < node.end]
