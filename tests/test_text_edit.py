"""prototxt_tools.text: minimal-diff edits and Caffe-style formatting.

Small cases state the whole expected text (so every untouched byte is checked); corpus cases check
that the diff holds only the intended lines and that the edited file parses (with protobuf's own
text_format) to the original message changed the same way through the protobuf API.
"""

from __future__ import annotations

import difflib
import math

import pytest
from google.protobuf import text_format

from prototxt_tools.schema import caffe_pb2
from prototxt_tools.text import (EditConflict, Editor, TextEdit, apply_edits, format_field,
                                 format_message, parse_prototxt, read_prototxt)
from prototxt_tools.text.format import format_float

BASE = """name: "net"
# the data layer
layer {
  name: "conv1"   # first conv
  type: "Convolution"
  convolution_param { num_output: 8 kernel_size: 3 }
  param {
    lr_mult: 1
  }
}
layer {}
"""

CONV = ("layer", 0, "convolution_param")


def _edit(action):
    parsed = parse_prototxt(BASE)
    editor = Editor(parsed.document)
    action(editor, parsed.node)
    return editor.apply()


def _replace_lines(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


# (id, action(editor, node), expected text)
EDIT_CASES = [
    ("replace-value", lambda e, n: e.replace_value(n(CONV + ("kernel_size", 0)), "5"),
     _replace_lines("kernel_size: 3", "kernel_size: 5")),
    ("replace-block-value", lambda e, n: e.replace_value(n(CONV), "{ num_output: 4 }"),
     _replace_lines("{ num_output: 8 kernel_size: 3 }", "{ num_output: 4 }")),
    ("rename", lambda e, n: e.rename(n(("layer", 0, "type")), "bottom"),
     _replace_lines('  type: "Convolution"', '  bottom: "Convolution"')),
    ("delete-own-line", lambda e, n: e.delete(n(("layer", 0, "type"))),
     _replace_lines('  type: "Convolution"\n', "")),
    ("delete-with-trailing-comment", lambda e, n: e.delete(n(("layer", 0, "name"))),
     _replace_lines('  name: "conv1"   # first conv\n', "")),
    ("delete-inline-first", lambda e, n: e.delete(n(CONV + ("num_output",))),
     _replace_lines("{ num_output: 8 kernel_size: 3 }", "{ kernel_size: 3 }")),
    ("delete-inline-last", lambda e, n: e.delete(n(CONV + ("kernel_size", 0))),
     _replace_lines("{ num_output: 8 kernel_size: 3 }", "{ num_output: 8 }")),
    ("delete-multiline-block", lambda e, n: e.delete(n(("layer", 0, "param", 0))),
     _replace_lines("  param {\n    lr_mult: 1\n  }\n", "")),
    ("delete-layer-keeps-comment-above", lambda e, n: e.delete(n(("layer", 0))),
     'name: "net"\n# the data layer\nlayer {}\n'),
    ("insert-after", lambda e, n: e.insert_after(n(("layer", 0, "type")), 'bottom: "data"'),
     _replace_lines('  type: "Convolution"\n', '  type: "Convolution"\n  bottom: "data"\n')),
    ("insert-after-trailing-comment",
     lambda e, n: e.insert_after(n(("layer", 0, "name")), 'top: "c"'),
     _replace_lines("# first conv\n", '# first conv\n  top: "c"\n')),
    ("insert-before", lambda e, n: e.insert_before(n(("layer", 0, "type")), 'top: "c"'),
     _replace_lines('  type: "Convolution"\n', '  top: "c"\n  type: "Convolution"\n')),
    ("insert-at-block-start", lambda e, n: e.insert_at_start(n(("layer", 0)), 'top: "c"'),
     _replace_lines('layer {\n  name: "conv1"', 'layer {\n  top: "c"\n  name: "conv1"')),
    ("insert-at-block-end", lambda e, n: e.insert_at_end(n(("layer", 0)), 'top: "c"'),
     _replace_lines("  }\n}\n", '  }\n  top: "c"\n}\n')),
    ("insert-at-nested-end", lambda e, n: e.insert_at_end(n(("layer", 0, "param", 0)),
                                                          "decay_mult: 0"),
     _replace_lines("    lr_mult: 1\n", "    lr_mult: 1\n    decay_mult: 0\n")),
    ("insert-inline-end", lambda e, n: e.insert_at_end(n(CONV), "pad: 1"),
     _replace_lines("kernel_size: 3 }", "kernel_size: 3 pad: 1 }")),
    ("insert-inline-start", lambda e, n: e.insert_at_start(n(CONV), "pad: 1"),
     _replace_lines("{ num_output: 8", "{ pad: 1 num_output: 8")),
    ("insert-into-empty-block", lambda e, n: e.insert_at_end(n(("layer", 1)), 'name: "x"'),
     _replace_lines("layer {}\n", 'layer {\n  name: "x"\n}\n')),
    ("insert-multiline-reindented",
     lambda e, n: e.insert_at_end(n(("layer", 0)), "param {\n  lr_mult: 2\n}"),
     _replace_lines("  }\n}\n", "  }\n  param {\n    lr_mult: 2\n  }\n}\n")),
    ("insert-at-document-end", lambda e, n: e.insert_at_end(e.document, "force_backward: true"),
     BASE + "force_backward: true\n"),
    ("insert-at-document-start", lambda e, n: e.insert_at_start(e.document, 'input: "data"'),
     'input: "data"\n' + BASE),
    ("several-edits-together", lambda e, n: (
        e.replace_value(n(CONV + ("num_output",)), "16"),
        e.delete(n(("layer", 0, "type"))),
        e.insert_at_end(n(("layer", 1)), 'name: "x"'),
        e.insert_at_end(n(("layer", 1)), 'type: "ReLU"')),
     'name: "net"\n# the data layer\nlayer {\n  name: "conv1"   # first conv\n'
     "  convolution_param { num_output: 16 kernel_size: 3 }\n  param {\n    lr_mult: 1\n  }\n}\n"
     'layer {\n  name: "x"\n  type: "ReLU"\n}\n'),
]


@pytest.mark.parametrize("action,expected", [c[1:] for c in EDIT_CASES],
                         ids=[c[0] for c in EDIT_CASES])
def test_edit(action, expected):
    assert _edit(action) == expected
    text_format.Parse(expected, caffe_pb2.NetParameter())  # still a valid net for protobuf


def test_insert_after_field_sharing_the_opening_line():
    parsed = parse_prototxt('layer { name: "a"\n}\n')
    editor = Editor(parsed.document)
    editor.insert_after(parsed.node(("layer", 0, "name")), 'type: "T"')
    assert editor.apply() == 'layer { name: "a"\n  type: "T"\n}\n'


def test_overlapping_edits_conflict():
    parsed = parse_prototxt(BASE)
    editor = Editor(parsed.document)
    editor.replace_value(parsed.node(CONV + ("num_output",)), "16")
    editor.delete(parsed.node(CONV))
    with pytest.raises(EditConflict):
        editor.apply()


def test_apply_edits_keeps_insertion_order_and_checks_bounds():
    assert apply_edits("ab", [TextEdit(1, 1, "x"), TextEdit(1, 1, "y"), TextEdit(0, 1, "A")]) \
        == "Axyb"
    with pytest.raises(EditConflict):
        apply_edits("ab", [TextEdit(1, 3, "")])


def test_crlf_file_gets_crlf_lines():
    text = 'layer {\r\n  name: "a"\r\n}\r\n'
    parsed = parse_prototxt(text)
    editor = Editor(parsed.document)
    editor.insert_after(parsed.node(("layer", 0, "name")), 'type: "ReLU"')
    editor.insert_at_end(parsed.document, 'name: "n"')
    assert editor.apply() == 'layer {\r\n  name: "a"\r\n  type: "ReLU"\r\n}\r\nname: "n"\r\n'


def _diff(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(True), after.splitlines(True))
            if line[:1] in "+-"]


def test_tab_indented_corpus_file_insert(corpus):
    parsed = read_prototxt(corpus / "KaimingHe_deep-residual-networks/prototxt/"
                                    "ResNet-152-deploy.prototxt")
    editor = Editor(parsed.document)
    assert editor.indent_unit == "\t"
    editor.insert_at_end(parsed.node(("layer", 0, "convolution_param")), "dilation: 1")
    after = editor.apply()
    assert _diff(parsed.text, after) == ["+ \t\tdilation: 1\n"]
    expected = caffe_pb2.NetParameter()
    expected.CopyFrom(parsed.message)
    expected.layer[0].convolution_param.dilation.append(1)
    assert text_format.Parse(after, caffe_pb2.NetParameter()) == expected


def test_corpus_delete_layer_and_change_value(corpus):
    parsed = read_prototxt(corpus / "BVLC_caffe/models/bvlc_alexnet/deploy.prototxt")
    editor = Editor(parsed.document)
    relu = next(i for i, layer in enumerate(parsed.message.layer) if layer.type == "ReLU")
    editor.delete(parsed.node(("layer", relu)))
    editor.replace_value(parsed.node(("layer", 1, "convolution_param", "num_output")), "48")
    after = editor.apply()
    lines = parsed.text.splitlines(True)
    whole = parsed.source_map.get(("layer", relu)).whole
    value = parsed.source_map.get(("layer", 1, "convolution_param", "num_output")).value
    expected_removed = lines[whole.line - 1:whole.end_line] + [lines[value.line - 1]]
    diff = _diff(parsed.text, after)
    assert sorted(line[2:] for line in diff if line.startswith("- ")) == sorted(expected_removed)
    assert [line[2:] for line in diff if line.startswith("+ ")] == [
        lines[value.line - 1].replace("96", "48")]
    expected = caffe_pb2.NetParameter()
    expected.CopyFrom(parsed.message)
    expected.layer[1].convolution_param.num_output = 48
    del expected.layer[relu]
    assert text_format.Parse(after, caffe_pb2.NetParameter()) == expected


def test_format_message_caffe_style():
    layer = caffe_pb2.LayerParameter(name="pool1", type="Pooling", bottom=["conv1"], top=["pool1"])
    layer.pooling_param.pool = caffe_pb2.PoolingParameter.MAX
    layer.pooling_param.kernel_size = 3
    layer.pooling_param.stride = 2
    assert format_message(layer) == (
        'name: "pool1"\ntype: "Pooling"\nbottom: "conv1"\ntop: "pool1"\npooling_param {\n'
        "  pool: MAX\n  kernel_size: 3\n  stride: 2\n}")
    net = caffe_pb2.NetParameter()
    net.layer.add().CopyFrom(layer)
    assert format_field(net, "layer", indent_unit="\t").splitlines()[5] == "\tpooling_param {"


@pytest.mark.parametrize("value,single,text", [
    (0.1, True, "0.1"), (1.0, True, "1"), (1e-4, True, "0.0001"), (1 / 3, True, "0.33333334"),
    (0.1, False, "0.1"), (2.5e-10, False, "2.5e-10"), (math.inf, True, "inf"),
    (-math.inf, False, "-inf"), (math.nan, True, "nan"), (-0.25, True, "-0.25"),
])
def test_format_float(value, single, text):
    stored = caffe_pb2.FillerParameter(std=value).std if single else value
    assert format_float(stored, single) == text


def test_format_strings_escape():
    net = caffe_pb2.NetParameter(name='a"b\\c\n\tü\x01')
    assert format_message(net) == 'name: "a\\"b\\\\c\\n\\tü\\001"'
    assert text_format.Parse(format_message(net), caffe_pb2.NetParameter()) == net
    datum = caffe_pb2.Datum(data=b"\xff\x00A")
    assert format_message(datum) == 'data: "\\377\\000A"'


FORMAT_ROUND_TRIP = ["BVLC_caffe/models/bvlc_googlenet/train_val.prototxt",
                     "BVLC_caffe/examples/mnist/lenet_consolidated_solver.prototxt",
                     "BVLC_caffe/_history/19a7e23ccc/examples/imagenet/imagenet_train.prototxt",
                     "shicai_MobileNet-Caffe/mobilenet_deploy.prototxt"]


@pytest.mark.parametrize("relpath", FORMAT_ROUND_TRIP)
def test_format_message_round_trips(corpus, relpath):
    cls = caffe_pb2.SolverParameter if "solver" in relpath else caffe_pb2.NetParameter
    message = read_prototxt(corpus / relpath, cls).message
    text = format_message(message)
    assert text_format.Parse(text, cls()) == message
    assert parse_prototxt(text, message_class=cls).message == message
