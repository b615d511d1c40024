"""Network IR: Caffe's NetStateRule filtering, in-place versions, graph issues."""

from __future__ import annotations

import json

import pytest
from google.protobuf import text_format

from prototxt_tools.errors import GraphError
from prototxt_tools.ir import NetState, build_network, layer_included
from prototxt_tools.schema import caffe_pb2

from conftest import CORPUS, corpus_available


def net_from(text: str) -> caffe_pb2.NetParameter:
    return text_format.Parse(text, caffe_pb2.NetParameter())


def layer_from(text: str) -> caffe_pb2.LayerParameter:
    return text_format.Parse(text, caffe_pb2.LayerParameter())


# Each case: rule text, state, expected inclusion -- the truth table of Caffe's StateMeetsRule.
RULE_CASES = [
    ("", NetState.of("TEST"), True),
    ("include { phase: TRAIN }", NetState.of("TEST"), False),
    ("include { phase: TRAIN }", NetState.of("TRAIN"), True),
    ("exclude { phase: TEST }", NetState.of("TEST"), False),
    ("exclude { phase: TEST }", NetState.of("TRAIN"), True),
    ("include { phase: TEST } include { phase: TRAIN }", NetState.of("TRAIN"), True),
    ("include { stage: 'deploy' }", NetState.of("TEST"), False),
    ("include { stage: 'deploy' }", NetState.of("TEST", stages=["deploy"]), True),
    ("include { stage: 'a' stage: 'b' }", NetState.of("TEST", stages=["a"]), False),
    ("include { not_stage: 'deploy' }", NetState.of("TEST", stages=["deploy"]), False),
    ("exclude { stage: 'deploy' }", NetState.of("TEST", stages=["deploy"]), False),
    ("include { min_level: 2 }", NetState.of("TEST", level=1), False),
    ("include { min_level: 2 }", NetState.of("TEST", level=2), True),
    ("include { max_level: 2 }", NetState.of("TEST", level=3), False),
    ("include { phase: TEST min_level: 1 }", NetState.of("TEST", level=0), False),
]


@pytest.mark.parametrize("rules,state,expected", RULE_CASES,
                         ids=[f"{r or 'none'}-{s.phase}-{s.level}-{sorted(s.stages)}" for r, s, _ in RULE_CASES])
def test_net_state_rules(rules, state, expected):
    assert layer_included(layer_from(f"name: 'x' {rules}"), state) is expected


def test_in_place_layers_make_new_versions():
    net = build_network(net_from("""
        layer { name: 'in' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 3 } } }
        layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip' }
        layer { name: 'relu' type: 'ReLU' bottom: 'ip' top: 'ip' }
        layer { name: 'drop' type: 'Dropout' bottom: 'ip' top: 'ip' }
        layer { name: 'prob' type: 'Softmax' bottom: 'ip' top: 'prob' }"""))
    assert net.issues == []
    assert [b.key for b in net.blobs] == ["data", "ip", "ip@1", "ip@2", "prob"]
    relu, drop, prob = net.layer("relu"), net.layer("drop"), net.layer("prob")
    assert relu.bottoms[0].key == "ip" and relu.tops[0].key == "ip@1"
    assert drop.bottoms[0] is relu.tops[0]
    assert prob.bottoms[0].key == "ip@2" and prob.bottoms[0].producer is drop
    assert [b.key for b in net.outputs] == ["prob"]
    assert [b.key for b in net.inputs] == ["data"]


@pytest.mark.parametrize("text,code,path", [
    ("layer { name: 'a' type: 'ReLU' bottom: 'x' top: 'y' }", "undefined-bottom", ("layer", 0, "bottom", 0)),
    ("layer { name: 'a' type: 'Input' top: 'x' }\nlayer { name: 'b' type: 'Input' top: 'x' }",
     "duplicate-top", ("layer", 1, "top", 0)),
    # a top named like the bottom but at another index is not in-place in Caffe
    ("layer { name: 'a' type: 'Input' top: 'x' top: 'y' }\n"
     "layer { name: 'b' type: 'Slice' bottom: 'x' top: 'z' top: 'x' }", "duplicate-top", ("layer", 1, "top", 1)),
    ("layer { name: 'a' type: 'Input' top: 'x' }\nlayer { name: 'a' type: 'ReLU' bottom: 'x' top: 'y' }",
     "duplicate-layer-name", ("layer", 1, "name")),
    ("layer { name: 'a' type: 'ReLU' bottom: 'y' top: 'x' }\nlayer { name: 'b' type: 'ReLU' bottom: 'x' top: 'y' }",
     "cycle", ("layer", 0, "bottom", 0)),
    ("layer { name: 'a' type: 'ReLU' bottom: 'y' top: 'x' }\n"
     "layer { name: 'i' type: 'Input' top: 'y' }", "undefined-bottom", ("layer", 0, "bottom", 0)),
    ("layer { name: 'a' type: 'Input' top: 'x' include { phase: TEST } exclude { phase: TRAIN } }",
     "include-and-exclude", ("layer", 0, "include", 0)),
], ids=["undefined", "two-producers", "not-in-place-index", "dup-name", "cycle", "produced-later", "incl-excl"])
def test_graph_issues(text, code, path):
    net = build_network(net_from(text))
    assert [(i.code, i.field_path) for i in net.issues] == [(code, path)]


def test_raise_for_errors_is_positioned():
    from prototxt_tools.source import FieldSpan, SourceMap, Span
    sm = SourceMap("net.prototxt")
    s = Span(10, 14, 3, 5, 3, 9)
    sm.fields[("layer", 0, "bottom", 0)] = FieldSpan(s, s, s)
    net = build_network(net_from("layer { name: 'a' type: 'ReLU' bottom: 'x' top: 'y' }"), source_map=sm)
    with pytest.raises(GraphError) as info:
        net.raise_for_errors()
    assert str(info.value).startswith("net.prototxt:3:5: error: bottom 'x' of layer 'a'")


def test_upgraded_origins_are_kept():
    net = build_network(net_from("layer { name: 'a' type: 'Input' top: 'x' }"), layer_origin=[("input", 0)])
    assert net.layers[0].origin == ("input", 0)


def _caffe_built_v2_nets():
    if not corpus_available():
        return []
    shapes = json.loads((CORPUS / "caffe_shapes" / "shapes.json").read_text())
    out = []
    for rel, entry in sorted(shapes.items()):
        net = caffe_pb2.NetParameter()
        try:
            text_format.Parse((CORPUS / rel).read_text(), net)
        except text_format.ParseError:
            continue
        if net.layers or net.input or net.input_shape or not net.layer:
            continue  # V0/V1 and legacy-input nets are checked once the upgrader lands
        out.append(pytest.param(rel, entry, net, id=rel))
    return out


@pytest.mark.parametrize("rel,entry,net", _caffe_built_v2_nets())
def test_blob_names_match_real_caffe(rel, entry, net):
    """Real Caffe's TEST-phase blobs (minus its own *_split_N) are exactly our IR's blob names."""
    ir = build_network(net, NetState.of("TEST"))
    if entry["built"]:
        caffe_blobs = {b for b in entry["shapes"] if "_split_" not in b}
        assert {b.name for b in ir.blobs} == caffe_blobs
        assert ir.errors() == []
    elif "Unknown bottom blob" in entry["caffe_error"]:
        blob = entry["caffe_error"].split("'")[1]
        assert any(i.code == "undefined-bottom" and f"'{blob}'" in i.message for i in ir.issues)
