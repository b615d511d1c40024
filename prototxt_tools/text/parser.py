"""Recursive-descent parser: tokens -> lossless CST (:mod:`.cst`).

The grammar is the protobuf text format without a schema, as protobuf's C++ ``TextFormat`` parser
accepts it (that is what Caffe runs)::

    document := field*
    field    := IDENT [':'] value [';' | ',']      (':' required before a scalar)
    value    := block | list | scalar
    block    := '{' field* '}' | '<' field* '>'
    list     := '[' [item (',' item)*] ']'         item := block | scalar
    scalar   := STRING (STRING)* | ['-'] (NUMBER | IDENT)

Whether a value fits its field (a number for ``int32``, a block for a message...) is decided later
against the schema (:mod:`.convert`).  Syntax errors raise :class:`ParseError` with line and column.
"""

from __future__ import annotations

import re

from ..errors import ParseError
from .cst import Block, Document, Field, ListValue, Scalar
from .tokens import (BADSTRING, EOF, ERROR, IDENT, NUMBER, STRING, SYMBOL, TRIVIA, LineIndex,
                     Token, tokenize)

MAX_DEPTH = 100
"""Deepest message nesting accepted (Caffe nets use 4); deeper input is a ParseError."""

INT_RE = re.compile(r"0[xX][0-9A-Fa-f]+|0[0-7]*|[1-9][0-9]*")
FLOAT_RE = re.compile(r"(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?")

_CLOSING = {"{": "}", "<": ">"}


def parse_document(text: str, path: str = "<string>", encoding: str = "utf-8") -> Document:
    """Parse prototxt ``text`` into a :class:`Document` (raises :class:`ParseError`)."""
    index = LineIndex(text)
    parser = _Parser(tokenize(text), path, index)
    children, fields = parser.parse_fields_until_eof()
    return Document(children, fields, text, path, index, encoding)


def describe(tok: Token) -> str:
    """How a token is named in error messages."""
    if tok.kind == EOF:
        return "end of file"
    text = tok.text if len(tok.text) <= 30 else tok.text[:27] + "..."
    return repr(text)


class _Parser:
    __slots__ = ("toks", "i", "path", "index")

    def __init__(self, tokens: list[Token], path: str, index: LineIndex):
        self.toks = tokens
        self.i = 0
        self.path = path
        self.index = index

    # -- helpers ---------------------------------------------------------------------------
    def error(self, message: str, offset: int) -> ParseError:
        line, col = self.index.line_col(offset)
        return ParseError(message, self.path, line, col)

    def trivia(self, out: list) -> Token:
        """Move trivia tokens at the cursor into ``out``; return the next significant token."""
        tok = self.toks[self.i]
        if tok.kind == TRIVIA:  # the tokenizer merges adjacent trivia: one token at most
            out.append(tok)
            self.i += 1
            tok = self.toks[self.i]
        return tok

    def peek_significant(self) -> int:
        """Index of the next significant token, without consuming anything."""
        return self.i + 1 if self.toks[self.i].kind == TRIVIA else self.i

    def bad_token(self, tok: Token, expected: str) -> ParseError:
        """The error for finding ``tok`` where ``expected`` was needed."""
        if tok.kind == BADSTRING:
            return self.error("string literal is not closed before the end of the line", tok.start)
        if tok.kind == ERROR:
            if tok.text == "\ufeff" and tok.start == 0:
                return self.error("file starts with a UTF-8 byte-order mark, which Caffe's parser "
                                  "rejects; remove it", 0)
            return self.error(f"unexpected character {tok.text!r}", tok.start)
        if tok.kind == NUMBER and not _valid_number(tok.text):
            return self.error(f"invalid number {tok.text!r}", tok.start)
        return self.error(f"expected {expected}, found {describe(tok)}", tok.start)

    # -- grammar ---------------------------------------------------------------------------
    def parse_fields_until_eof(self) -> tuple[list, list[Field]]:
        children: list = []
        fields: list[Field] = []
        while True:
            tok = self.trivia(children)
            if tok.kind == EOF:
                return children, fields
            if tok.kind == SYMBOL and tok.text in "}>":
                raise self.error(f"unexpected {tok.text!r}: no block is open", tok.start)
            field = self.parse_field(0)
            children.append(field)
            fields.append(field)

    def parse_field(self, depth: int) -> Field:
        name = self.toks[self.i]
        if name.kind != IDENT:
            raise self.bad_field_name(name)
        self.i += 1
        children: list = [name]
        tok = self.trivia(children)
        colon = None
        if tok.kind == SYMBOL and tok.text == ":":
            colon = tok
            children.append(tok)
            self.i += 1
            tok = self.trivia(children)
        if tok.kind == SYMBOL and tok.text in "{<":
            value = self.parse_block(depth + 1)
        elif tok.kind == SYMBOL and tok.text == "[":
            value = self.parse_list(depth)
        elif colon is None:
            if tok.kind in (NUMBER, IDENT, STRING) or tok.text == "-":
                raise self.error(f"expected ':' between field name {name.text!r} and its value",
                                 tok.start)
            raise self.bad_token(tok, f"':' or '{{' after field name {name.text!r}")
        else:
            value = self.parse_scalar(name)
        children.append(value)
        separator = None
        j = self.peek_significant()
        sep = self.toks[j]
        if sep.kind == SYMBOL and sep.text in ";,":
            children.extend(self.toks[self.i:j + 1])
            separator = sep
            self.i = j + 1
        return Field(children, name, colon, value, separator, self.index)

    def bad_field_name(self, tok: Token) -> ParseError:
        if tok.kind == SYMBOL and tok.text == "[":
            j = self.i + 1
            while self.toks[j].kind != EOF and self.toks[j].text != "]" \
                    and "\n" not in self.toks[j].text:
                j += 1
            written = "".join(t.text for t in self.toks[self.i:j + 1]).strip()
            return self.error(f"extension or Any field {written!r} is not supported: Caffe's "
                              "schema has no extensions", tok.start)
        return self.bad_token(tok, "a field name")

    def parse_block(self, depth: int) -> Block:
        open_ = self.toks[self.i]
        if depth > MAX_DEPTH:
            raise self.error(f"messages are nested deeper than {MAX_DEPTH} levels", open_.start)
        self.i += 1
        closing = _CLOSING[open_.text]
        children: list = [open_]
        fields: list[Field] = []
        while True:
            tok = self.trivia(children)
            if tok.kind == SYMBOL and tok.text in "}>":
                if tok.text != closing:
                    raise self.error(f"expected {closing!r} to close {open_.text!r} opened at "
                                     f"{self.where(open_)}, found {tok.text!r}", tok.start)
                children.append(tok)
                self.i += 1
                return Block(children, open_, tok, fields, self.index)
            if tok.kind == EOF:
                raise self.error(f"{open_.text!r} is never closed: expected {closing!r} before "
                                 "the end of the file", open_.start)
            field = self.parse_field(depth)
            children.append(field)
            fields.append(field)

    def parse_list(self, depth: int) -> ListValue:
        open_ = self.toks[self.i]
        self.i += 1
        children: list = [open_]
        items: list = []
        tok = self.trivia(children)
        if not (tok.kind == SYMBOL and tok.text == "]"):  # "[]" is an empty list
            while True:  # an item must follow every ',' (no trailing comma)
                if tok.kind == SYMBOL and tok.text in "{<":
                    item = self.parse_block(depth + 1)
                else:
                    item = self.parse_scalar(None)
                children.append(item)
                items.append(item)
                tok = self.trivia(children)
                if tok.kind == SYMBOL and tok.text == "]":
                    break
                if not (tok.kind == SYMBOL and tok.text == ","):
                    if tok.kind == EOF:
                        raise self.error("'[' is never closed: expected ']' before the end of "
                                         "the file", open_.start)
                    raise self.bad_token(tok, "',' or ']' in the list")
                children.append(tok)
                self.i += 1
                tok = self.trivia(children)
        children.append(tok)
        self.i += 1
        return ListValue(children, open_, tok, items, self.index)

    def parse_scalar(self, name: Token | None) -> Scalar:
        toks = self.toks
        tok = toks[self.i]
        children: list = []
        parts: list[Token] = []
        if tok.kind == STRING:
            while True:
                children.append(tok)
                parts.append(tok)
                self.i += 1
                j = self.peek_significant()
                if toks[j].kind != STRING:
                    break
                children.extend(toks[self.i:j])
                self.i = j
                tok = toks[j]
            return Scalar(children, parts, self.index)
        if tok.kind == SYMBOL and tok.text == "-":
            children.append(tok)
            parts.append(tok)
            self.i += 1
            tok = self.trivia(children)
            if tok.kind not in (NUMBER, IDENT):
                raise self.bad_token(tok, "a number after '-'")
        what = f"a value for field {name.text!r}" if name is not None else "a value"
        if tok.kind == IDENT or (tok.kind == NUMBER and _valid_number(tok.text)):
            children.append(tok)
            parts.append(tok)
            self.i += 1
            return Scalar(children, parts, self.index)
        raise self.bad_token(tok, what)

    def where(self, tok: Token) -> str:
        line, col = self.index.line_col(tok.start)
        return f"{line}:{col}"


def _valid_number(text: str) -> bool:
    return INT_RE.fullmatch(text) is not None or FLOAT_RE.fullmatch(text) is not None
