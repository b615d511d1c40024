"""CST -> protobuf message, with a source map and warnings (any generated message class).

Fields are resolved through the message descriptor, values converted by field type
(:mod:`.values`), and every field occurrence is recorded in the source map under its field path
(``("layer", 3, "convolution_param", "kernel_size", 0)``).

Errors follow protobuf's text-format parser: a singular field given twice, a second member of a
oneof, a value of the wrong type -- each a :class:`ParseError` at the offending token.  The one
deliberate difference: a field the schema does not know (another fork's ``*_param`` block, a typo)
is kept in the CST as an opaque node, left out of the message and reported as a
:class:`TextWarning` of kind ``unknown-field`` (``strict=True`` raises instead, as Caffe would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import Message

from ..errors import ParseError
from ..source import FieldSpan, SourceMap, Span
from .cst import Block, Document, Field, ListValue, Node, Scalar
from .parser import describe
from .tokens import NUMBER, STRING, checked_constructor
from .values import (TYPE_NAMES, closest, did_you_mean, parse_bool, parse_enum, parse_float,
                     parse_integer, scalar_bytes)


@dataclass(frozen=True)
class TextWarning:
    """A problem that does not stop parsing.  ``kind`` is ``unknown-field`` or ``encoding``;
    ``field_path`` is the path of the unknown field (parent path + its name)."""

    kind: str
    message: str
    span: Span
    file: str
    field_path: tuple = ()
    suggestion: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.span.line}:{self.span.col}: warning: {self.message}"


@dataclass
class TextSourceMap(SourceMap):
    """A :class:`SourceMap` that also knows the CST: ``nodes`` maps each field path to its
    :class:`Field` (a ``[a, b]`` list maps every index to the one field), and ``unknown`` maps
    ``parent path + (name,)`` to the unknown fields kept out of the message."""

    nodes: dict = field(default_factory=dict)
    unknown: dict = field(default_factory=dict)

    def node(self, field_path) -> Field | None:
        return self.nodes.get(tuple(field_path))

    def unknown_fields(self):
        """``(path, Field)`` for every unknown field, in source order."""
        pairs = [(p, f) for p, fs in self.unknown.items() for f in fs]
        return sorted(pairs, key=lambda pf: pf[1].start)


def _field_span_by_dict(name: Span, value: Span, whole: Span) -> FieldSpan:
    fs = object.__new__(FieldSpan)  # frozen-dataclass __init__ is slow; see tokens._span_by_dict
    fields = fs.__dict__
    fields["name"] = name
    fields["value"] = value
    fields["whole"] = whole
    return fs


_make_field_span = checked_constructor(_field_span_by_dict, FieldSpan, 3)
# field type -> converter of a Scalar node to the Python value protobuf stores
_SCALAR_PARSERS: dict[int, Callable[[Scalar, FD, str], object]] = {}


def scalar_parser(*field_types: int):
    """Register the decorated function as the Scalar converter of ``field_types``."""
    def register(func):
        for field_type in field_types:
            if field_type in _SCALAR_PARSERS:
                raise ValueError(f"a parser for field type {field_type} is already registered")
            _SCALAR_PARSERS[field_type] = func
        return func
    return register


@scalar_parser(FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32, FD.TYPE_INT64, FD.TYPE_SINT64,
               FD.TYPE_SFIXED64, FD.TYPE_UINT32, FD.TYPE_FIXED32, FD.TYPE_UINT64,
               FD.TYPE_FIXED64)
def _parse_int(scalar: Scalar, fd: FD, encoding: str) -> int:
    if scalar.kind != NUMBER:
        raise ValueError(f"expected an integer, found {scalar.text!r}")
    return parse_integer(scalar.parts[-1].text, scalar.negative, fd.type)


@scalar_parser(FD.TYPE_FLOAT, FD.TYPE_DOUBLE)
def _parse_float(scalar: Scalar, fd: FD, encoding: str) -> float:
    if scalar.kind == STRING:
        raise ValueError(f"expected a number, found {scalar.text!r}")
    return parse_float(scalar.parts[-1].text, scalar.negative, scalar.kind)


@scalar_parser(FD.TYPE_BOOL)
def _parse_bool(scalar: Scalar, fd: FD, encoding: str) -> bool:
    return parse_bool(scalar.parts[-1].text, scalar.negative, scalar.kind)


@scalar_parser(FD.TYPE_STRING)
def _parse_string(scalar: Scalar, fd: FD, encoding: str) -> str:
    parts = scalar.parts
    if (len(parts) == 1 and parts[0].kind == STRING and encoding == "utf-8"
            and "\\" not in parts[0].text):
        return parts[0].text[1:-1]  # fast path: the decoded file text is the value
    raw = scalar_bytes(scalar, encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("string is not valid UTF-8 (use a bytes field for binary data)") from None


@scalar_parser(FD.TYPE_BYTES)
def _parse_bytes(scalar: Scalar, fd: FD, encoding: str) -> bytes:
    return scalar_bytes(scalar, encoding)


@scalar_parser(FD.TYPE_ENUM)
def _parse_enum(scalar: Scalar, fd: FD, encoding: str) -> int:
    return parse_enum(fd, scalar)


def to_message(doc: Document, message_class, *, strict: bool = False):
    """Build a ``message_class`` message from ``doc``.

    Returns ``(message, source_map, warnings)``; raises :class:`ParseError` on type errors,
    duplicate singular fields and (``strict=True``) unknown fields."""
    message = message_class()
    builder = _Builder(doc, strict)
    builder.fill(message, doc.fields, ())
    return message, builder.source_map, builder.warnings


class _FieldInfo:
    """What the builder needs to know about one field, computed once per descriptor."""

    __slots__ = ("fd", "name", "repeated", "is_message", "is_map", "parser")

    def __init__(self, fd: FD):
        self.fd = fd
        self.name = fd.name
        is_repeated = getattr(fd, "is_repeated", None)  # protobuf >= 6.31; ``label`` before
        self.repeated = is_repeated if is_repeated is not None else fd.label == FD.LABEL_REPEATED
        self.is_message = fd.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP)
        self.is_map = self.is_message and self.repeated and fd.message_type.GetOptions().map_entry
        self.parser = None if self.is_message else _SCALAR_PARSERS[fd.type]


_FIELD_INFO_CACHE: dict = {}


def _fields_of(descriptor) -> dict[str, _FieldInfo]:
    """Written field name -> :class:`_FieldInfo` (group fields under their type name)."""
    infos = _FIELD_INFO_CACHE.get(descriptor)
    if infos is None:
        infos = {}
        for fd in descriptor.fields:
            # a group is written with its type name (``MyGroup``), not its lower-case field name
            written = fd.message_type.name if fd.type == FD.TYPE_GROUP else fd.name
            infos[written] = _FieldInfo(fd)
        _FIELD_INFO_CACHE[descriptor] = infos
    return infos


class _Builder:
    def __init__(self, doc: Document, strict: bool):
        self.doc = doc
        self.strict = strict
        self.span = doc.index.span
        self.source_map = TextSourceMap(doc.path)
        self.warnings: list[TextWarning] = []
        self.encoding = doc.encoding

    def error(self, message: str, node: Node, path: tuple) -> ParseError:
        line, col = self.doc.index.line_col(node.start)
        return ParseError(message, self.doc.path, line, col, field_path=path)

    def fill(self, message: Message, fields: list[Field], prefix: tuple) -> None:
        descriptor = message.DESCRIPTOR
        infos = _fields_of(descriptor)
        for f in fields:
            info = infos.get(f.name.text)
            if info is None:
                self.unknown(descriptor, f, prefix)
                continue
            if info.fd.containing_oneof is not None:
                self.check_oneof(message, info.fd, f, prefix)
            value = f.value
            if value.__class__ is ListValue:
                path = prefix + (info.name,)
                if not info.repeated:
                    raise self.error(f"field {info.name!r} of {descriptor.name} is not repeated: "
                                     "a [...] list is not allowed", value, path)
                if not info.is_message and f.colon is None:
                    raise self.error(f"expected ':' between field name {info.name!r} and its "
                                     "value", value, path)
                for item in value.items:
                    self.set_value(message, info, f, item, prefix)
            else:
                self.set_value(message, info, f, value, prefix)

    def set_value(self, message: Message, info: _FieldInfo, f: Field, value: Node,
                  prefix: tuple) -> None:
        name = info.name
        if info.repeated:
            container = getattr(message, name)
            path = prefix + (name, len(container))
        else:
            path = prefix + (name,)
            if self.already_set(message, info.fd):
                first = self.source_map.fields[path].name
                raise self.error(f"non-repeated field {f.name.text!r} of "
                                 f"{message.DESCRIPTOR.name} is given twice (first at "
                                 f"{first.line}:{first.col})", f, path)
        if info.is_message:
            if value.__class__ is not Block:
                raise self.error(f"field {name!r} is a message ({info.fd.message_type.name}): "
                                 f"expected '{{', found {describe(value.parts[0])}", value, path)
            if info.is_map:
                self.set_map_entry(message, info.fd, value, path)
            elif info.repeated:
                self.fill(container.add(), value.fields, path)
            else:
                sub = getattr(message, name)
                sub.SetInParent()
                self.fill(sub, value.fields, path)
        else:
            if value.__class__ is not Scalar:
                raise self.error(f"field {name!r} is a {TYPE_NAMES[info.fd.type]}, not a "
                                 "message: expected a value, found '{'", value, path)
            try:
                converted = info.parser(value, info.fd, self.encoding)
            except ValueError as e:
                raise self.error(f"invalid value for {name!r} ({TYPE_NAMES[info.fd.type]}): "
                                 f"{e}", value, path) from None
            if info.repeated:
                container.append(converted)
            else:
                setattr(message, name, converted)
        span = self.span
        self.source_map.fields[path] = _make_field_span(span(f.name.start, f.name.end),
                                                 span(value.start, value.end),
                                                 span(f.start, f.end))
        self.source_map.nodes[path] = f

    def already_set(self, message: Message, fd: FD) -> bool:
        if fd.has_presence:
            return message.HasField(fd.name)
        # proto3 scalars without presence: like protobuf, a non-default value counts as set
        return getattr(message, fd.name) != fd.default_value

    def set_map_entry(self, message: Message, fd: FD, block: Block, path: tuple) -> None:
        container = getattr(message, fd.name)
        entry = container.GetEntryClass()()
        self.fill(entry, block.fields, path)
        if fd.message_type.fields_by_name["value"].type == FD.TYPE_MESSAGE:
            container[entry.key].CopyFrom(entry.value)
        else:
            container[entry.key] = entry.value

    def check_oneof(self, message: Message, fd: FD, f: Field, prefix: tuple) -> None:
        oneof = fd.containing_oneof
        which = message.WhichOneof(oneof.name)
        if which is not None and which != fd.name:
            raise self.error(f"field {fd.name!r} is given together with {which!r}, another "
                             f"member of oneof {oneof.name!r}", f, prefix + (fd.name,))

    def unknown(self, descriptor, f: Field, prefix: tuple) -> None:
        name = f.name.text
        # field typos keep most letters; a looser cutoff suggests unrelated fork fields
        suggestion = closest(name, descriptor.fields_by_name, cutoff=0.82)
        message = f"{descriptor.name} has no field named {name!r}{did_you_mean(suggestion)}"
        path = prefix + (name,)
        if self.strict:
            raise self.error(message, f, path)
        self.source_map.unknown.setdefault(path, []).append(f)
        self.warnings.append(TextWarning("unknown-field", message + " (field skipped)",
                                         self.span(f.name.start, f.name.end), self.doc.path,
                                         path, suggestion))
