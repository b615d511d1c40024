"""prototxt_tools.text: CST -> message against google.protobuf.text_format, type errors, unknown
fields, source map, file reading.

The independent check is protobuf's own Python text-format parser: for every corpus prototxt it
accepts, our message must be equal; for the fork files it rejects (unknown fields) we must give
warnings at the line protobuf stops at, and otherwise the message protobuf builds when told to skip
unknown fields.
"""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, struct_pb2, text_format

from conftest import CORPUS, corpus_files
from prototxt_tools.errors import ParseError, PrototxtToolsError
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.text import parse_prototxt, read_prototxt

CORPUS_CASES = ([(p, caffe_pb2.NetParameter) for p in corpus_files("prototxt")]
                + [(p, caffe_pb2.SolverParameter) for p in corpus_files("solver")])
CORPUS_IDS = [str(p.relative_to(CORPUS)) for p, _ in CORPUS_CASES]


def _protobuf_parse(text: str, cls, **kw):
    try:
        return text_format.Parse(text, cls(), **kw), None
    except text_format.ParseError as e:
        return None, e


@pytest.mark.parametrize("path,cls", CORPUS_CASES, ids=CORPUS_IDS)
def test_corpus_matches_protobuf(path, cls):
    if not path.is_file():
        pytest.skip("corpus file absent")
    text = path.read_text(encoding="utf-8")
    ours = read_prototxt(path, cls)
    expected, error = _protobuf_parse(text, cls)
    if expected is not None:
        assert ours.message == expected
        assert ours.warnings == []
        return
    assert "has no field named" in str(error), f"protobuf rejects it for another reason: {error}"
    assert error.GetLine() in {w.span.line for w in ours.warnings}
    assert all(w.kind == "unknown-field" for w in ours.warnings)
    skipped, _ = _protobuf_parse(text, cls, allow_unknown_field=True)
    assert ours.message == skipped
    with pytest.raises(ParseError) as info:  # strict mode stops where protobuf stops
        read_prototxt(path, cls, strict=True)
    assert (info.value.line, info.value.col) == (error.GetLine(), error.GetColumn())


# (id, text, line, col, message fragment, field path)
TYPE_ERRORS = [
    ("int32-overflow", "input_dim: 2147483648", 1, 12, "out of range for int32",
     ("input_dim", 0)),
    ("int32-underflow", "input_dim: -2147483649", 1, 12, "out of range for int32",
     ("input_dim", 0)),
    ("uint32-negative", "layer { convolution_param { kernel_size: -1 } }", 1, 42,
     "out of range for uint32", ("layer", 0, "convolution_param", "kernel_size", 0)),
    ("int-from-float", "input_dim: 1.5", 1, 12, "expected an integer, found '1.5'",
     ("input_dim", 0)),
    ("int-from-exponent", "input_dim: 1e3", 1, 12, "expected an integer, found '1e3'",
     ("input_dim", 0)),
    ("int-from-ident", "input_dim: inf", 1, 12, "expected an integer, found 'inf'",
     ("input_dim", 0)),
    ("int-from-string", 'input_dim: "3"', 1, 12, "expected an integer", ("input_dim", 0)),
    ("float-from-hex", "layer { loss_weight: 0x10 }", 1, 22, "expected a decimal number",
     ("layer", 0, "loss_weight", 0)),
    ("float-from-octal", "layer { loss_weight: 010 }", 1, 22, "expected a decimal number",
     ("layer", 0, "loss_weight", 0)),
    ("float-from-string", 'layer { loss_weight: "1" }', 1, 22, "expected a number",
     ("layer", 0, "loss_weight", 0)),
    ("float-from-ident", "layer { loss_weight: one }", 1, 22, "expected a number, found 'one'",
     ("layer", 0, "loss_weight", 0)),
    ("bool-two", "force_backward: 2", 1, 17, "expected true or false, found '2'",
     ("force_backward",)),
    ("bool-yes", "force_backward: yes", 1, 17, "found 'yes'", ("force_backward",)),
    ("bool-upper", "force_backward: TRUE", 1, 17, "found 'TRUE'", ("force_backward",)),
    ("bool-negative", "force_backward: -1", 1, 17, "found '-1'", ("force_backward",)),
    ("string-from-number", "name: 5", 1, 7, "expected a quoted string, found '5'", ("name",)),
    ("string-not-utf8", r'name: "\377"', 1, 7, "not valid UTF-8", ("name",)),
    ("bad-escape", r'name: "a\qb"', 1, 7, "invalid escape sequence \\q", ("name",)),
    ("octal-escape-too-big", r'name: "\777"', 1, 7, "larger than one byte", ("name",)),
    ("enum-unknown-name", "layer { phase: TSET }", 1, 16,
     "Phase has no value named 'TSET'; did you mean 'TEST'?", ("layer", 0, "phase")),
    ("enum-unknown-number", "layer { phase: 7 }", 1, 16, "Phase has no value with number 7",
     ("layer", 0, "phase")),
    ("enum-from-string", 'layer { phase: "TEST" }', 1, 16, "expected a Phase value",
     ("layer", 0, "phase")),
    ("enum-pool-typo", "layer { pooling_param { pool: AVG } }", 1, 31,
     "no value named 'AVG'; did you mean 'AVE'?", ("layer", 0, "pooling_param", "pool")),
    ("duplicate-scalar", 'name: "a"\nname: "b"', 2, 1,
     "non-repeated field 'name' of NetParameter is given twice (first at 1:1)", ("name",)),
    ("duplicate-message", "layer { convolution_param { } convolution_param { } }", 1, 31,
     "'convolution_param' of LayerParameter is given twice", ("layer", 0, "convolution_param")),
    ("message-given-scalar", "layer: 5", 1, 8,
     "'layer' is a message (LayerParameter): expected '{', found '5'", ("layer", 0)),
    ("scalar-given-block", "name { }", 1, 6, "'name' is a string, not a message", ("name",)),
    ("list-on-singular", 'name: ["a"]', 1, 7, "is not repeated", ("name",)),
    ("list-without-colon", 'input ["a"]', 1, 7, "expected ':'", ("input",)),
    ("block-in-scalar-list", "input_dim: [1, {}]", 1, 16, "not a message", ("input_dim", 1)),
]


# Python's text_format keeps unknown escapes; protobuf's C++ parser (Caffe's) rejects them
PYTHON_ACCEPTS = {"bad-escape"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # text_format's own escape warnings
@pytest.mark.parametrize("case_id,text,line,col,fragment,field_path", TYPE_ERRORS,
                         ids=[c[0] for c in TYPE_ERRORS])
def test_type_error(case_id, text, line, col, fragment, field_path):
    with pytest.raises(ParseError) as info:
        parse_prototxt(text, "net.prototxt")
    err = info.value
    assert (err.line, err.col) == (line, col), str(err)
    assert fragment in err.message
    assert err.field_path == field_path
    assert "\n" not in str(err)
    if case_id in PYTHON_ACCEPTS:
        return
    with pytest.raises(text_format.ParseError):
        text_format.Parse(text, caffe_pb2.NetParameter())


def test_unknown_field_is_a_warning_with_did_you_mean():
    text = 'layer {\n  name: "c"\n  convolution_param { kernal_size: 3 num_output: 8 }\n}\n'
    parsed = parse_prototxt(text, "net.prototxt")
    assert parsed.message.layer[0].convolution_param.num_output == 8
    assert list(parsed.message.layer[0].convolution_param.kernel_size) == []
    (warning,) = parsed.warnings
    assert warning.kind == "unknown-field"
    assert (warning.span.line, warning.span.col) == (3, 23)
    assert "did you mean 'kernel_size'?" in warning.message
    assert warning.suggestion == "kernel_size"
    assert warning.field_path == ("layer", 0, "convolution_param", "kernal_size")
    assert str(warning).startswith("net.prototxt:3:23: warning: ")
    (path, node), = parsed.source_map.unknown_fields()
    assert path == warning.field_path and node.name.text == "kernal_size"
    with pytest.raises(ParseError) as info:
        parse_prototxt(text, "net.prototxt", strict=True)
    assert (info.value.line, info.value.col) == (3, 23)
    assert "did you mean 'kernel_size'?" in info.value.message


def test_unknown_fork_block_is_kept_opaque():
    text = ('layer {\n  name: "norm"\n  type: "AcmeWidget"\n'
            '  acme_widget_param {\n    across_spatial: false\n'
            '    scale_filler { type: "constant" }\n'
            '  }\n  top: "out"\n}\n')
    parsed = parse_prototxt(text)
    assert parsed.message.layer[0].top == ["out"]
    (warning,) = parsed.warnings
    assert (warning.span.line, warning.span.col) == (4, 3)
    assert warning.suggestion is None  # no LayerParameter field is close enough to suggest
    nodes = parsed.source_map.unknown[("layer", 0, "acme_widget_param")]
    assert [f.name.text for f in nodes[0].fields] == ["across_spatial", "scale_filler"]
    assert parsed.document.to_text() == text


def test_any_message_class_protobuf_descriptor_types():
    text = ('name { name_part: "a" is_extension: true }\nidentifier_value: "id"\n'
            "positive_int_value: 18446744073709551615\nnegative_int_value: -9223372036854775808\n"
            'double_value: -1.5e300\nstring_value: "\\377\\000x"\naggregate_value: "agg"\n')
    cls = descriptor_pb2.UninterpretedOption
    assert parse_prototxt(text, message_class=cls).message == text_format.Parse(text, cls())
    with pytest.raises(ParseError) as info:
        parse_prototxt("positive_int_value: 18446744073709551616", message_class=cls)
    assert "out of range for uint64" in info.value.message


def test_proto3_map_and_oneof():
    text = ('fields { key: "a" value { number_value: 1 } }\n'
            'fields { key: "b" value { list_value { values { string_value: "x" } } } }\n'
            'fields { key: "c" value { null_value: NULL_VALUE } }\n')
    parsed = parse_prototxt(text, message_class=struct_pb2.Struct)
    assert parsed.message == text_format.Parse(text, struct_pb2.Struct())
    with pytest.raises(ParseError) as info:
        parse_prototxt('fields { key: "a" value { number_value: 1 string_value: "x" } }',
                       message_class=struct_pb2.Struct)
    assert (info.value.line, info.value.col) == (1, 43)
    assert "together with 'number_value', another member of oneof 'kind'" in info.value.message


def _is_repeated(fd) -> bool:
    if hasattr(fd, "is_repeated"):
        return fd.is_repeated
    return fd.label == fd.LABEL_REPEATED


def _message_paths(message, prefix=()):
    """Every field occurrence of ``message`` as a field path (independent of our parser)."""
    for fd, value in message.ListFields():
        if _is_repeated(fd):
            for i, v in enumerate(value):
                yield prefix + (fd.name, i)
                if fd.type == fd.TYPE_MESSAGE:
                    yield from _message_paths(v, prefix + (fd.name, i))
        else:
            yield prefix + (fd.name,)
            if fd.type == fd.TYPE_MESSAGE:
                yield from _message_paths(value, prefix + (fd.name,))


SOURCE_MAP_FILES = ["KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt",
                    "BVLC_caffe/models/bvlc_googlenet/train_val.prototxt",
                    "BVLC_caffe/examples/mnist/lenet_consolidated_solver.prototxt"]


@pytest.mark.parametrize("relpath", SOURCE_MAP_FILES)
def test_source_map_covers_every_field_with_right_spans(corpus, relpath):
    path = corpus / relpath
    cls = caffe_pb2.SolverParameter if "solver" in relpath else caffe_pb2.NetParameter
    parsed = read_prototxt(path, cls)
    text = parsed.text
    fields = parsed.source_map.fields
    assert set(fields) == set(_message_paths(parsed.message))
    for field_path, fs in fields.items():
        name = next(p for p in reversed(field_path) if isinstance(p, str))
        assert text[fs.name.start:fs.name.end] == name
        assert fs.whole.start == fs.name.start and fs.name.end <= fs.value.start
        assert fs.value.end <= fs.whole.end
        for span in (fs.name, fs.value, fs.whole):
            assert span.line == text.count("\n", 0, span.start) + 1
            assert span.col == span.start - (text.rfind("\n", 0, span.start) + 1) + 1
    # scalar value spans hold exactly the value: protobuf parses them back to the same value
    for field_path, fs in list(fields.items())[:400]:
        *parent_path, last = field_path
        index = last if isinstance(last, int) else None
        name = parent_path.pop() if index is not None else last
        parent = parsed.message
        for step in parent_path:
            parent = parent[step] if isinstance(step, int) else getattr(parent, step)
        fd = parent.DESCRIPTOR.fields_by_name[name]
        if fd.type == fd.TYPE_MESSAGE:
            continue
        probe = type(parent)()
        text_format.Merge(f"{name}: {text[fs.value.start:fs.value.end]}", probe)
        if index is None:
            assert getattr(probe, name) == getattr(parent, name)
        else:
            assert getattr(probe, name)[-1] == getattr(parent, name)[index]


def test_source_map_positions_by_hand():
    text = ('name: "n"\nlayer {\n  name: "a"\n}\nlayer {\n  convolution_param {\n'
            '    kernel_size: [3, 5]\n  }\n}\n')
    sm = parse_prototxt(text, "x.prototxt").source_map
    first = sm.get(("layer", 1, "convolution_param", "kernel_size", 0))
    second = sm.get(("layer", 1, "convolution_param", "kernel_size", 1))
    assert (first.name.line, first.name.col, first.value.col) == (7, 5, 19)
    assert (second.name.col, second.value.col, second.whole.end_col) == (5, 22, 24)
    assert sm.where(("layer", 1, "convolution_param", "pad", 0)) == "x.prototxt:6:3"
    assert sm.get(("layer", 0)).value.end_line == 4
    assert sm.node(("layer", 1, "convolution_param")).name.text == "convolution_param"


def test_read_prototxt_errors(tmp_path):
    with pytest.raises(PrototxtToolsError) as info:
        read_prototxt(tmp_path)
    assert "is a directory" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(PrototxtToolsError) as info:
        read_prototxt(tmp_path / "missing.prototxt")
    assert str(info.value).startswith(str(tmp_path / "missing.prototxt"))
    assert "No such file" in str(info.value)


def test_read_prototxt_latin1_fallback(tmp_path):
    data = b'# caf\xe9\nname: "reseau"\n'
    path = tmp_path / "latin1.prototxt"
    path.write_bytes(data)
    parsed = read_prototxt(path)
    (warning,) = parsed.warnings
    assert warning.kind == "encoding" and (warning.span.line, warning.span.col) == (1, 6)
    assert parsed.document.encoding == "latin-1"
    assert parsed.document.to_text().encode("latin-1") == data
    assert parsed.message.name == "reseau"
    # a string field holding byte 0xE9 is not UTF-8: an error for us and for protobuf's parser
    bad = b'name: "r\xe9seau"\n'
    with pytest.raises(text_format.ParseError):
        text_format.Parse(bad, caffe_pb2.NetParameter())
    with pytest.raises(ParseError) as info:
        parse_prototxt(bad)
    assert "not valid UTF-8" in info.value.message and (info.value.line, info.value.col) == (1, 7)


def test_bytes_field_keeps_latin1_bytes():
    parsed = parse_prototxt(b'data: "\xff\\001"', message_class=caffe_pb2.Datum)
    assert parsed.message.data == b"\xff\x01"
