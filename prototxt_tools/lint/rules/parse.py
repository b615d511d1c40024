"""E0xx / W0xx: the file as a NetParameter -- syntax, fields, values, encoding, fork fields.

Loading stops at the first syntax or value error (as Caffe's parser does); that error becomes one
finding of the matching rule.  Unknown fields do not stop loading: the text reader skips them
with a warning, so every one of them is reported.
"""

from __future__ import annotations

from typing import Iterator

from google.protobuf.descriptor import FieldDescriptor

from ...errors import ParseError, UpgradeError
from ...schema import caffe_pb2
from ..diagnostic import Finding
from ..fork_fields import FORK_FIELDS, FORK_ONLY_PARAMS
from ..layer_types import FORK_TYPES
from ..registry import Rule, rule


def _error_finding(error) -> Finding:
    return Finding(error.message, line=error.line, col=error.col)


def _field_descriptor(path) -> FieldDescriptor | None:
    """Descriptor of the last named field of a NetParameter field path (None if unknown)."""
    descriptor, fd = caffe_pb2.NetParameter.DESCRIPTOR, None
    for part in path:
        if isinstance(part, int):
            continue
        if descriptor is None:
            return None
        fd = descriptor.fields_by_name.get(part)
        if fd is None:
            return None
        descriptor = fd.message_type
    return fd


def _value_error_kind(error) -> str | None:
    """'enum' or 'value' for a ParseError about a field's value; None for a syntax error."""
    if not isinstance(error, ParseError) or not getattr(error, "field_path", None):
        return None
    fd = _field_descriptor(error.field_path)
    is_enum = fd is not None and fd.type == FieldDescriptor.TYPE_ENUM
    return "enum" if is_enum and "invalid value" in error.message else "value"


@rule
class SyntaxError_(Rule):
    """Checks that the file is valid protobuf text format.

    ## What it does
    Reports the first syntax error: an unclosed block or string, a missing `:` before a value,
    a stray character, a byte-order mark.

    ## Why is this bad?
    Caffe refuses the whole file (`Error parsing text-format caffe.NetParameter`). Like Caffe,
    the linter stops at the first syntax error, so no other rule runs on this file.

    ## Example
    ```
    layer { name: "conv1" type: "Convolution"
    ```

    ## Fix
    Correct the text at the reported position.
    """

    code = "E001"
    name = "syntax-error"
    summary = "File is not valid protobuf text format"
    requires = ()

    def check(self, ctx) -> Iterator[Finding]:
        error = ctx.load_error
        if error is None or isinstance(error, UpgradeError) or _value_error_kind(error):
            return
        yield _error_finding(error)


@rule
class UnknownField(Rule):
    """Checks that every field exists in Caffe's schema.

    ## What it does
    Reports a field name the schema does not have at that place, with the closest valid name
    when there is one. Fields of known Caffe forks are W001 instead.

    ## Why is this bad?
    Caffe refuses the file (`Message type "caffe.LayerParameter" has no field named ...`).
    prototxt-tools skips the field and goes on, so a typo does not hide later problems.

    ## Example
    ```
    convolution_param { num_ouput: 64 kernel_size: 3 }
    ```

    ## Fix
    Correct the name (`num_output`) or move the field to the block it belongs to.
    """

    code = "E002"
    name = "unknown-field"
    summary = "Field does not exist in Caffe's schema"
    requires = ("document",)

    def check(self, ctx) -> Iterator[Finding]:
        for warning in ctx.parsed.warnings:
            if warning.kind == "unknown-field" and warning.field_path[-1:] and \
                    warning.field_path[-1] not in FORK_ONLY_PARAMS:
                yield Finding(warning.message.replace(" (field skipped)", ""), span=warning.span)


@rule
class InvalidEnumValue(Rule):
    """Checks that enum fields name a value of their enum.

    ## What it does
    Reports an enum field (`pool`, `phase`, `norm_region`, V1 `type`, ...) whose value is not
    one of the enum's names (or numbers), with the closest name.

    ## Why is this bad?
    Caffe refuses the file (`Unknown enumeration value of "AVG" for field "pool"`).

    ## Example
    ```
    pooling_param { pool: AVG kernel_size: 2 }
    ```

    ## Fix
    Use a value the enum defines (`AVE`); enum names are case-sensitive and unquoted.
    """

    code = "E003"
    name = "invalid-enum-value"
    summary = "Enum field has a value its enum does not define"
    requires = ()

    def check(self, ctx) -> Iterator[Finding]:
        if _value_error_kind(ctx.load_error) == "enum":
            yield _error_finding(ctx.load_error)


@rule
class InvalidValue(Rule):
    """Checks that every value fits its field.

    ## What it does
    Reports the first value that does not fit its field: a string or float for an integer, a
    number out of range, a block for a scalar, a non-repeated field given twice.

    ## Why is this bad?
    Caffe refuses the file. A repeated singular field is a common merge leftover: protobuf's
    text parser rejects it rather than keeping one of the two values.

    ## Example
    ```
    convolution_param { num_output: 64.5 }
    ```

    ## Fix
    Write a value of the field's type; remove the duplicate field.
    """

    code = "E004"
    name = "invalid-value"
    summary = "Value does not fit its field (type, range, repetition)"
    requires = ()

    def check(self, ctx) -> Iterator[Finding]:
        if _value_error_kind(ctx.load_error) == "value":
            yield _error_finding(ctx.load_error)


@rule
class UpgradeFailed(Rule):
    """Checks that a legacy (V0/V1) net can be upgraded the way Caffe upgrades it.

    ## What it does
    Reports where Caffe's `UpgradeNetAsNeeded` stops or gives up: a V0 padding layer feeding
    something other than a convolution or pooling, a V0 parameter that does not apply to its
    layer type, fewer `input_dim` values than inputs need.

    ## Why is this bad?
    Caffe either aborts loading the net or loads it with settings dropped ("continuing
    anyway"), so the net that runs is not the net that is written.

    ## Example
    ```
    layers { layer { name: "relu1" type: "relu" num_output: 10 } }
    ```

    ## Fix
    Correct the field at the reported position, then upgrade the file
    (`prototxt-tools upgrade`).
    """

    code = "E005"
    name = "upgrade-failed"
    summary = "Caffe's upgrade of this legacy net fails or drops settings"
    requires = ()

    def check(self, ctx) -> Iterator[Finding]:
        if isinstance(ctx.load_error, UpgradeError):  # load_net positions it in the file
            yield _error_finding(ctx.load_error)


@rule
class ForkField(Rule):
    """Checks for fields that only a Caffe fork defines.

    ## What it does
    Reports a field that BVLC Caffe's schema lacks but a known fork defines (SSD's
    `prior_box_param`, SegNet's `bn_param`, a fork's `ceil_mode`, ...), naming the fork.

    ## Why is this bad?
    BVLC Caffe refuses the file (`has no field named ...`); the net only loads with that fork's
    `caffe.proto`. Fields of forks whose numbers clash with others are read by name only.

    ## Example
    ```
    layer { name: "conv4_3_norm" type: "Normalize" norm_param { across_spatial: false } }
    ```

    ## Fix
    Nothing to fix if you target that fork; otherwise replace the layer or field with BVLC
    equivalents.
    """

    code = "W001"
    name = "fork-field"
    summary = "Field exists only in a Caffe fork's schema"
    requires = ("document",)

    def check(self, ctx) -> Iterator[Finding]:
        for path, fork in _fork_fields(ctx.message, ()):
            yield Finding(f"field '{path[-1]}' is not in BVLC Caffe's schema; it comes from "
                          f"{fork}", at=path)
        for warning in ctx.parsed.warnings:
            name = warning.field_path[-1] if warning.field_path else None
            if warning.kind == "unknown-field" and name in FORK_ONLY_PARAMS:
                yield Finding(f"field '{name}' comes from {FORK_ONLY_PARAMS[name]}; neither BVLC "
                              "Caffe nor prototxt-tools reads it (skipped)", span=warning.span)


def _is_repeated(fd: FieldDescriptor) -> bool:
    is_repeated = getattr(fd, "is_repeated", None)  # protobuf >= 6.31 (``label`` deprecated)
    return is_repeated if is_repeated is not None else fd.label == FieldDescriptor.LABEL_REPEATED


def _fork_fields(message, prefix: tuple):
    """(field path, fork) for every fork field set in ``message``; fork blocks are not entered,
    and the parameter block of a fork layer type is left to W101 (one finding per layer)."""
    table = FORK_FIELDS.get(message.DESCRIPTOR.name, {})
    if message.DESCRIPTOR.name == "LayerParameter" and message.type in FORK_TYPES:
        table = {}
    for fd, value in message.ListFields():
        fork = table.get(fd.name)
        repeated = _is_repeated(fd)
        if fork is not None:
            yield (prefix + (fd.name, 0) if repeated else prefix + (fd.name,)), fork
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            items = enumerate(value) if repeated else [(None, value)]
            for i, item in items:
                path = prefix + ((fd.name, i) if i is not None else (fd.name,))
                yield from _fork_fields(item, path)


@rule
class NotUtf8(Rule):
    """Checks that the file is UTF-8.

    ## What it does
    Reports the first byte that is not valid UTF-8 (typically a Latin-1 or GBK comment).

    ## Why is this bad?
    Caffe itself only needs strings to be UTF-8, but editors, diff tools and other parsers
    (Python's protobuf, OpenCV) may mangle or refuse the file. prototxt-tools reads it as
    Latin-1 and writes fixes back byte for byte.

    ## Example
    ```
    # r\xe9seau de test
    ```

    ## Fix
    Re-encode the file as UTF-8.
    """

    code = "W002"
    name = "not-utf8"
    summary = "File is not valid UTF-8"
    requires = ("document",)

    def check(self, ctx) -> Iterator[Finding]:
        for warning in ctx.parsed.warnings:
            if warning.kind == "encoding":
                yield Finding(warning.message, span=warning.span)


@rule
class NotANet(Rule):
    """Notes a `.prototxt` file that is not a net (a solver, a label map).

    ## What it does
    Reports, as information, a file whose top-level fields are not a NetParameter's and that
    has no layers or inputs -- typically a `solver.prototxt` -- and lints nothing else in it.

    ## Why is this bad?
    It is not: solvers and label maps share the `.prototxt` extension. Linting one as a net
    would only list every field as unknown. Information never fails a run.

    ## Example
    ```
    net: "train_val.prototxt"
    base_lr: 0.01
    lr_policy: "step"
    ```

    ## Fix
    Nothing to fix; exclude such files in the configuration (`exclude = ["*solver*"]`) to
    silence the note.
    """

    code = "I001"
    name = "not-a-net"
    summary = "File is not a net (a solver or another message); not linted"
    requires = ("document",)
    any_file = True

    def check(self, ctx) -> Iterator[Finding]:
        kind = ctx.not_a_net
        if kind is not None:
            yield Finding(f"file is {kind}, not a net; not linted", line=1, col=1)
