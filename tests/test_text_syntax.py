"""prototxt_tools.text: every syntax element Caffe files use, lossless round trip, syntax errors.

Expected messages are built by hand with the protobuf API; where Python's
``google.protobuf.text_format`` accepts the same text it is run too, as an independent check (a few
forms only protobuf's C++ parser -- Caffe's -- accepts are marked ``cpp_only``).
"""

from __future__ import annotations

import math
import time

import pytest
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS, corpus_files
from prototxt_tools.errors import ParseError
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.text import MAX_DEPTH, parse_document, parse_prototxt, print_tree, tokenize

Net = caffe_pb2.NetParameter


def net(**kw) -> caffe_pb2.NetParameter:
    return Net(**kw)


def layer_net(**kw) -> caffe_pb2.NetParameter:
    n = Net()
    n.layer.add(**kw)
    return n


def loss_weights(*values) -> caffe_pb2.NetParameter:
    return layer_net(loss_weight=list(values))


# (id, text, expected message, text_format accepts it too)
SYNTAX_CASES = [
    ("scalar", 'name: "x"', net(name="x"), True),
    ("block", 'layer { name: "a" }', layer_net(name="a"), True),
    ("block-colon", 'layer: { name: "a" }', layer_net(name="a"), True),
    ("angle-block", 'layer < name: "a" >', layer_net(name="a"), True),
    ("empty-block", "layer {}", layer_net(), True),
    ("list-strings", 'input: ["a", "b"]', net(input=["a", "b"]), True),
    ("list-ints", "input_dim: [1, 3, 224, 224]", net(input_dim=[1, 3, 224, 224]), True),
    ("list-empty", "input_dim: []", net(), True),
    ("list-messages", 'layer [ { name: "a" }, < name: "b" > ]',
     Net(layer=[caffe_pb2.LayerParameter(name="a"), caffe_pb2.LayerParameter(name="b")]), True),
    ("list-messages-colon", 'layer: [{ name: "a" }]', layer_net(name="a"), True),
    ("repeated-twice", 'input: "a" input: "b"', net(input=["a", "b"]), True),
    ("repeated-mixed-list", "input_dim: 1 input_dim: [2, 3] input_dim: 4",
     net(input_dim=[1, 2, 3, 4]), True),
    ("string-concat", "name: \"a\" 'b'\n  \"c\"", net(name="abc"), True),
    ("string-single-quotes", "name: 'say \"hi\"'", net(name='say "hi"'), True),
    ("string-escapes", r'name: "\n\t\\\'\"\r\a\b\f\v"', net(name="\n\t\\'\"\r\a\b\f\v"), True),
    ("string-escape-question", r'name: "\?"', net(name="?"), False),  # Python keeps the \
    ("string-octal-hex", r'name: "\101\60\x41\x4a\7"', net(name="A0AJ\x07"), True),
    ("string-utf8", 'name: "Größe ✓"', net(name="Größe ✓"), True),
    ("bytes-escapes", r'data: "\377\x00a"', caffe_pb2.Datum(data=b"\xff\x00a"), True),
    ("enum-name", "layer { phase: TEST }", layer_net(phase=caffe_pb2.TEST), True),
    ("enum-number", "layer { phase: 1 }", layer_net(phase=caffe_pb2.TEST), True),
    ("int-hex", "input_dim: 0x1F input_dim: 0XA", net(input_dim=[31, 10]), True),
    ("int-octal", "input_dim: 017 input_dim: 0", net(input_dim=[15, 0]), True),
    ("int-negative", "input_dim: -3", net(input_dim=[-3]), True),
    ("int-negative-spaced", "input_dim: - 3", net(input_dim=[-3]), False),  # cpp_only
    ("int32-limits", "input_dim: 2147483647 input_dim: -2147483648",
     net(input_dim=[2147483647, -2147483648]), True),
    ("int64-limits", "input_shape { dim: 9223372036854775807 dim: -9223372036854775808 }",
     Net(input_shape=[caffe_pb2.BlobShape(dim=[2 ** 63 - 1, -2 ** 63])]), True),
    ("uint32-max", "layer { convolution_param { kernel_size: 4294967295 } }",
     layer_net(convolution_param=caffe_pb2.ConvolutionParameter(kernel_size=[2 ** 32 - 1])),
     True),
    ("floats", "layer { loss_weight: [1e-4, .5, 5., 1.0f, 1e3F, 2, -0.25, 1E+2, 0, 7f] }",
     loss_weights(0.0001, 0.5, 5.0, 1.0, 1000.0, 2.0, -0.25, 100.0, 0.0, 7.0), True),
    ("float-inf", "layer { loss_weight: [inf, -inf, Infinity, -INF] }",
     loss_weights(math.inf, -math.inf, math.inf, -math.inf), True),
    ("float-negative-spaced", "layer { loss_weight: - 2.5 }", loss_weights(-2.5), False),
    ("bools", "layer { propagate_down: [true, false, True, False, t, f, 1, 0] }",
     layer_net(propagate_down=[True, False, True, False, True, False, True, False]), True),
    ("bool-hex-one", "force_backward: 0x1", net(force_backward=True), False),
    ("separators", 'input: "a"; input: "b", name: "n";', net(input=["a", "b"], name="n"), True),
    ("separators-in-block", 'layer { name: "a", type: "b"; }', layer_net(name="a", type="b"),
     True),
    ("comments", '# head\nlayer { # open\n  name: "a" # tail\n  # own line\n}  # end\n',
     layer_net(name="a"), True),
    ("comment-in-string", 'name: "a # not a comment"', net(name="a # not a comment"), True),
    ("crlf", 'name: "x"\r\nlayer {\r\n  name: "a"\r\n}\r\n', Net(name="x", layer=[
        caffe_pb2.LayerParameter(name="a")]), True),
    ("no-final-newline", 'name: "x"', net(name="x"), True),
    ("empty-document", "", Net(), True),
    ("only-comments", "# nothing\n\n   # here\n", Net(), True),
    ("tabs", 'layer {\n\tname:\t"a"\n}', layer_net(name="a"), True),
    ("nested", "layer { param { lr_mult: 2 } param { lr_mult: 0 decay_mult: 0 } }",
     layer_net(param=[caffe_pb2.ParamSpec(lr_mult=2),
                      caffe_pb2.ParamSpec(lr_mult=0, decay_mult=0)]), True),
    ("v1-enum", "layers { type: CONVOLUTION }",
     Net(layers=[caffe_pb2.V1LayerParameter(type=caffe_pb2.V1LayerParameter.CONVOLUTION)]),
     True),
]


def _message_class(expected):
    return type(expected)


@pytest.mark.parametrize("text,expected,python_too",
                         [c[1:] for c in SYNTAX_CASES], ids=[c[0] for c in SYNTAX_CASES])
def test_syntax_element(text, expected, python_too):
    parsed = parse_prototxt(text, message_class=_message_class(expected))
    assert parsed.message == expected
    assert parsed.warnings == []
    assert print_tree(parsed.document) == text
    if python_too:
        assert text_format.Parse(text, type(expected)()) == expected


def test_nan():
    parsed = parse_prototxt("layer { loss_weight: [nan, NaN, -nan] }")
    assert all(math.isnan(v) for v in parsed.message.layer[0].loss_weight)
    assert len(parsed.message.layer[0].loss_weight) == 3


# (id, text, line, col, message fragment)
SYNTAX_ERRORS = [
    ("unterminated-string", 'name: "abc\n', 1, 7, "not closed before the end of the line"),
    ("string-across-lines", "name: 'a\nb'", 1, 7, "not closed"),
    ("unclosed-block", 'layer {\n  name: "a"\n', 1, 7, "'{' is never closed"),
    ("unclosed-nested", "layer {\n  param {\n}\n", 1, 7, "'{' is never closed"),
    ("mismatched-close", 'layer { name: "a" >', 1, 19, "expected '}' to close '{' opened at 1:7"),
    ("stray-close", 'name: "a"\n}', 2, 1, "no block is open"),
    ("missing-colon", 'name "a"', 1, 6, "expected ':' between field name 'name'"),
    ("missing-value", "layer { name: }", 1, 15, "expected a value for field 'name', found '}'"),
    ("value-at-eof", "name:", 1, 6, "found end of file"),
    ("extension", "[foo.bar]: 1", 1, 1, "extension or Any field '[foo.bar]' is not supported"),
    ("field-number", "1: 2", 1, 1, "expected a field name, found '1'"),
    ("bad-char", "name: @", 1, 7, "unexpected character '@'"),
    ("bad-char-in-block", "layer {\n  $\n}", 2, 3, "unexpected character '$'"),
    ("number-two-dots", "input_dim: 1.2.3", 1, 12, "invalid number '1.2.3'"),
    ("number-octal-digit", "input_dim: 09", 1, 12, "invalid number '09'"),
    ("number-glued-ident", "input_dim: 1x", 1, 12, "invalid number '1x'"),
    ("number-bad-exponent", "layer { loss_weight: 1e }", 1, 22, "invalid number '1e'"),
    ("minus-alone", "input_dim: - ,", 1, 14, "expected a number after '-', found ','"),
    ("list-unclosed", "input_dim: [1, 2", 1, 12, "'[' is never closed"),
    ("list-missing-comma", "input_dim: [1 2]", 1, 15, "expected ',' or ']' in the list, found '2'"),
    ("list-trailing-comma", "input_dim: [1, ]", 1, 16, "expected a value, found ']'"),
    ("bom", '\ufeffname: "a"', 1, 1, "byte-order mark"),
    ("field-name-string", '"name": 1', 1, 1, "expected a field name"),
]


@pytest.mark.parametrize("text,line,col,fragment", [c[1:] for c in SYNTAX_ERRORS],
                         ids=[c[0] for c in SYNTAX_ERRORS])
def test_syntax_error(text, line, col, fragment):
    with pytest.raises(ParseError) as info:
        parse_document(text, path="t.prototxt")
    err = info.value
    assert (err.line, err.col) == (line, col), str(err)
    assert fragment in err.message
    assert str(err).startswith(f"t.prototxt:{line}:{col}: error: ")
    assert "\n" not in str(err)


def test_depth_limit_is_a_parse_error():
    ok = "a {" * MAX_DEPTH + "}" * MAX_DEPTH
    assert print_tree(parse_document(ok)) == ok
    too_deep = "a {" * (MAX_DEPTH + 1) + "}" * (MAX_DEPTH + 1)
    with pytest.raises(ParseError) as info:
        parse_document(too_deep)
    assert (info.value.line, info.value.col) == (1, 3 * MAX_DEPTH + 3)
    with pytest.raises(ParseError):  # far beyond Python's recursion limit: still a ParseError
        parse_document("a {" * 50_000)


def test_tokens_cover_every_character():
    text = 'layer{name:"a"#c\n  x: -1.5e3f , y: [1,2];}\t\r\n@'
    tokens = tokenize(text)
    assert "".join(t.text for t in tokens) == text
    assert all(t.start == sum(len(u.text) for u in tokens[:i]) for i, t in enumerate(tokens))


def test_comments_per_line():
    doc = parse_document('# header\nname: "x"  # noqa: E101\nlayer {\n  # inside\n}\n')
    by_line = doc.comments_by_line()
    assert sorted(by_line) == [1, 2, 4]
    assert by_line[2].text == "noqa: E101" and by_line[2].trailing and by_line[2].col == 12
    assert not by_line[1].trailing and not by_line[4].trailing
    assert by_line[4].raw == "# inside"


def test_cst_nodes_and_spans():
    doc = parse_document('layer {\n  name: "a"; top: [\'x\', "y"]\n}\n')
    layer = doc.fields[0]
    assert layer.name.text == "layer" and layer.colon is None
    name, top = layer.fields
    assert name.separator.text == ";" and name.value.text == '"a"'
    assert [item.text for item in top.value.items] == ["'x'", '"y"']
    span = top.span
    assert (span.line, span.col, span.end_line, span.end_col) == (2, 14, 2, 29)
    assert doc.node_span(top) == span
    assert (top.name_span.col, top.value.span.col, top.value.items[1].span.col) == (14, 19, 25)
    assert (layer.value.span.line, layer.value.span.end_line, layer.value.span.end_col) == (1, 3, 2)
    assert doc.text[top.start:top.end] == "top: ['x', \"y\"]"


def _chain_net(layers: int) -> str:
    return "".join(f'layer {{\n  name: "c{i}"\n  type: "Convolution"\n  bottom: "x{i}"\n'
                   f'  top: "x{i + 1}"\n  convolution_param {{ num_output: 16 }}\n}}\n'
                   for i in range(layers))


def _best_time(func, repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def test_parse_time_grows_linearly():
    small, large = _chain_net(300), _chain_net(3000)
    assert len(parse_prototxt(large).message.layer) == 3000
    ratio = (_best_time(lambda: parse_prototxt(large), 2)
             / _best_time(lambda: parse_prototxt(small), 3))
    assert ratio < 25, f"10x the input took {ratio:.1f}x the time (linear: ~10, quadratic: ~100)"


CORPUS_PROTOTXT = corpus_files("prototxt") + corpus_files("solver")


@pytest.mark.parametrize("path", CORPUS_PROTOTXT,
                         ids=[str(p.relative_to(CORPUS)) for p in CORPUS_PROTOTXT])
def test_corpus_round_trip(path):
    if not path.is_file():
        pytest.skip("corpus file absent")
    text = path.read_bytes().decode("utf-8")
    doc = parse_document(text, str(path))
    assert print_tree(doc) == text


_PIECES = ["layer", "name", "input_dim", "loss_weight", "phase", "convolution_param",
           "kernel_size", "param", ":", "{", "}", "<", ">", "[", "]", ",", ";", "-", " ", "\n",
           "\t", "# c\n", '"s"', "'q'", '"\\x41\\101"', '"open', "1", "0x1F", "017", "09", "1.5",
           "1e-4", ".5", "5.", "inf", "nan", "TEST", "true", "@", "\\", "\ufeff", "é", "\r\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40))
def test_any_input_round_trips_or_raises_parse_error(pieces):
    text = "".join(pieces)
    try:
        parsed = parse_prototxt(text)
    except ParseError as err:
        assert err.line is not None and err.col is not None and "\n" not in str(err)
        return
    assert print_tree(parsed.document) == text
