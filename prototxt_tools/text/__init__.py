"""Our own protobuf text-format reader for Caffe prototxt files.

- :func:`parse_prototxt` / :func:`read_prototxt` -> :class:`ParsedText` (document, message,
  source map, warnings);
- :func:`parse_document` -> lossless CST (:class:`Document`; ``document.to_text()`` gives the input
  back byte for byte), :func:`to_message` -> message for any generated message class;
- :class:`Editor` / :class:`TextEdit` / :func:`apply_edits` for minimal-diff fixes, and
  :func:`format_message` / :func:`format_field` for new text in Caffe's style.
"""

from .convert import TextSourceMap, TextWarning, to_message
from .cst import Block, Comment, Document, Field, ListValue, Scalar, print_tree, walk_fields
from .edit import EditConflict, Editor, TextEdit, apply_edits, detect_indent_unit
from .format import format_field, format_message, format_value
from .parser import MAX_DEPTH, parse_document
from .reader import ParsedText, decode_prototxt, parse_prototxt, read_prototxt
from .tokens import Token, tokenize

__all__ = [
    "parse_prototxt", "read_prototxt", "ParsedText", "decode_prototxt",
    "parse_document", "to_message", "TextSourceMap", "TextWarning", "MAX_DEPTH",
    "Document", "Field", "Block", "ListValue", "Scalar", "Comment", "Token", "tokenize",
    "print_tree", "walk_fields",
    "Editor", "TextEdit", "EditConflict", "apply_edits", "detect_indent_unit",
    "format_message", "format_field", "format_value",
]
