"""Legacy-format upgrade (prototxt_tools.upgrade) against BVLC Caffe's own upgrade tests and data.

Sources of truth:
- ``BVLC_caffe/_extracted/test_upgrade_proto/``: inputs and expected outputs of Caffe's
  src/caffe/test/test_upgrade_proto.cpp.  Which Caffe function each pair exercises comes from that
  file: PaddingLayerUpgradeTest_* -> UpgradeV0PaddingLayers (plus its idempotence check),
  NetUpgradeTest_*: v0 -> expected_v1 via UpgradeV0Net, expected_v1 -> expected_v2 via
  UpgradeV1Net, TestAllParams input -> expected_output via UpgradeV0Net.
- ``BVLC_caffe/_history/<commit>/``: the same models in V0/V1 format from Caffe's history, to be
  compared with their current-format versions in ``BVLC_caffe/``.
- Hand-made nets for the rest, with the expected result stated from upgrade_proto.cpp's code.
Fixtures are parsed with google.protobuf.text_format (not our own text parser).
"""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from conftest import CORPUS, corpus_manifest
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.upgrade import (detect_format, net_needs_upgrade, upgrade_net,
                                    upgrade_v0_net, upgrade_v0_padding_layers, upgrade_v1_net)

FIXTURES = "BVLC_caffe/_extracted/test_upgrade_proto"


def parse_net(text: str) -> caffe_pb2.NetParameter:
    return text_format.Parse(text, caffe_pb2.NetParameter())


def load_fixture(corpus, name: str) -> caffe_pb2.NetParameter:
    return parse_net((corpus / FIXTURES / f"{name}.prototxt").read_text())


def assert_same_net(actual, expected) -> None:
    """Caffe's tests compare DebugString(); text format + message equality is the same check."""
    assert text_format.MessageToString(actual) == text_format.MessageToString(expected)
    assert actual == expected


def field_exists(msg, path) -> bool:
    """Does the field path (("layers", 3, "layer", "type"), ...) name a set field of msg?"""
    i = 0
    while i < len(path):
        fd = msg.DESCRIPTOR.fields_by_name.get(path[i])
        if fd is None:
            return False
        if fd.is_repeated:
            values = getattr(msg, path[i])
            if i + 1 == len(path):
                return len(values) > 0
            if path[i + 1] >= len(values):
                return False
            value, i = values[path[i + 1]], i + 2
        else:
            if not msg.HasField(path[i]):
                return False
            value, i = getattr(msg, path[i]), i + 1
        if i < len(path):
            if fd.message_type is None:
                return False
            msg = value
    return True


# --- Caffe's own upgrade tests ----------------------------------------------------------------

@pytest.mark.parametrize("case", ["TestSimple", "TestTwoTops", "TestImageNet"])
def test_padding_layer_upgrade(corpus, case):
    given = load_fixture(corpus, f"PaddingLayerUpgradeTest_{case}__input_proto")
    expected = load_fixture(corpus, f"PaddingLayerUpgradeTest_{case}__expected_output_proto")
    actual = upgrade_v0_padding_layers(given)
    assert_same_net(actual, expected)
    assert_same_net(upgrade_v0_padding_layers(actual), actual)   # idempotence, as Caffe checks


@pytest.mark.parametrize("case", ["TestSimple", "TestImageNet"])
def test_net_upgrade_v0_to_v1_to_v2(corpus, case):
    v0 = load_fixture(corpus, f"NetUpgradeTest_{case}__v0_proto")
    v1 = load_fixture(corpus, f"NetUpgradeTest_{case}__expected_v1_proto")
    v2 = load_fixture(corpus, f"NetUpgradeTest_{case}__expected_v2_proto")
    assert_same_net(upgrade_v0_net(v0), v1)
    assert_same_net(upgrade_v1_net(v1), v2)
    # UpgradeNetAsNeeded chains both (no data-transform, input or BatchNorm work in these nets).
    result = upgrade_net(v0)
    assert result.source_format == "V0"
    assert_same_net(result.net, v2)
    assert upgrade_net(v1).source_format == "V1"
    assert_same_net(upgrade_net(v1).net, v2)


def test_net_upgrade_all_params(corpus):
    given = load_fixture(corpus, "NetUpgradeTest_TestAllParams__input_proto")
    expected = load_fixture(corpus, "NetUpgradeTest_TestAllParams__expected_output_proto")
    assert_same_net(upgrade_v0_net(given), expected)
    # The whole pipeline then turns the fixture's input/input_dim (64, 3, 32, 32) into Caffe's
    # synthesized first layer: name "input", type "Input", one shape per input.
    net = upgrade_net(given).net
    assert (net.layer[0].name, net.layer[0].type, list(net.layer[0].top)) == \
        ("input", "Input", ["input_data"])
    assert list(net.layer[0].input_param.shape[0].dim) == [64, 3, 32, 32]
    assert not net.input and not net.input_dim and not net.layers
    assert [layer.name for layer in net.layer[1:]] == [c.layer.name for c in given.layers]


def test_padding_fixture_traces_point_at_original_lines(corpus):
    given = load_fixture(corpus, "NetUpgradeTest_TestImageNet__v0_proto")
    result = upgrade_net(given)
    kept = [i for i, conn in enumerate(given.layers) if conn.layer.type != "padding"]
    assert result.layer_origin == [("layers", i) for i in kept]
    # conv2's pad comes from padding layer 'pad2' (layers[5]), its bottom from pad2's bottom.
    conv2 = [c for c in result.changes if c.path == ("layers", 5, "layer", "pad")]
    assert [c.message for c in conv2] == ["pad -> convolution_param.pad[0]"]
    lr = [c.path for c in result.changes if "param[1].lr_mult" in c.message]
    assert ("layers", 6, "layer", "blobs_lr", 1) in lr


# --- the corpus: every V0/V1 prototxt upgrades, traces name real fields -------------------------

def _legacy_prototxts() -> list:
    rows = [r for r in corpus_manifest() if r["format"] in ("V0", "V1")
            and r["kind"].startswith("prototxt") and "BVLC caffe.proto: FAIL" not in r["notes"]]
    return [pytest.param(r["local_path"], id=r["local_path"]) for r in rows]


@pytest.mark.parametrize("local_path", _legacy_prototxts())
def test_corpus_legacy_prototxt_upgrades(corpus, local_path):
    original = parse_net((corpus / local_path).read_text())
    before = original.SerializeToString()
    result = upgrade_net(original)                       # strict: no Caffe error of any kind
    assert original.SerializeToString() == before          # input untouched
    assert result.source_format == detect_format(original) != "V2"
    assert result.fully_compatible and not any(c.lossy for c in result.changes)
    net = result.net
    assert not net.layers and not net.input and not net.input_dim and not net.input_shape
    assert not net_needs_upgrade(net)
    assert all(layer.type for layer in net.layer)
    assert len(result.layer_origin) == len(net.layer)
    for origin in result.layer_origin:
        assert field_exists(original, origin), origin
    for change in result.changes:
        assert field_exists(original, change.path), str(change)


def test_corpus_solver_inline_net_upgrades(corpus):
    path = corpus / "BVLC_caffe/examples/mnist/lenet_consolidated_solver.prototxt"
    solver = text_format.Parse(path.read_text(), caffe_pb2.SolverParameter())
    result = upgrade_net(solver.net_param)
    assert result.source_format == "V1"
    assert [layer.type for layer in result.net.layer][:2] == ["Data", "Data"]


# Files upstream edited after converting them (commit e6c80dac4 ran Caffe's upgrade tool on the
# V1 files; later commits changed some models by hand).  For these only the layers not named here
# are compared, and only by name/type/bottom/top.
LATER_UPSTREAM_EDITS = {
    "_history/11a4c16558/models/bvlc_googlenet/train_val.prototxt":
        ({"loss2/loss"}, "loss2/loss's top renamed loss2/loss1 -> loss2/loss2; filler stds"),
    "_history/11a4c16558/models/finetune_flickr_style/train_val.prototxt":
        ({"loss"}, "loss layer moved after accuracy and given a top"),
    "_history/11a4c16558/examples/hdf5_classification/train_val.prototxt":
        (set(), "fillers switched to xavier"),
    "_history/19a7e23ccc/examples/cifar10/cifar10_full.prototxt":
        (set(), "norm_region: WITHIN_CHANNEL added to the LRN layers"),
}


def _history_pairs() -> list:
    base = CORPUS / "BVLC_caffe"
    pairs = []
    for old in sorted((base / "_history").rglob("*.prototxt")) if base.is_dir() else []:
        current = base.joinpath(*old.relative_to(base / "_history").parts[1:])
        if current.is_file() and "solver" not in old.name:
            rel = old.relative_to(base).as_posix()
            pairs.append(pytest.param(rel, current.relative_to(base).as_posix(), id=rel))
    return pairs


def _topology(net, skip=()) -> list:
    return [(l.name, l.type, list(l.bottom), list(l.top)) for l in net.layer if l.name not in skip]


@pytest.mark.parametrize("old_rel,current_rel", _history_pairs())
def test_history_upgrade_matches_current_version(corpus, old_rel, current_rel):
    base = corpus / "BVLC_caffe"
    old = parse_net((base / old_rel).read_text())
    ours = upgrade_net(old).net
    theirs = upgrade_net(parse_net((base / current_rel).read_text())).net
    if old.input:
        # Intended difference: Caffe's UpgradeNetInput names the layer "input"; upstream's
        # hand-written replacement Input layer is named "data".  Everything else must agree.
        assert (ours.layer[0].name, ours.layer[0].type) == ("input", "Input")
        assert (theirs.layer[0].name, theirs.layer[0].type) == ("data", "Input")
        ours.layer[0].name = theirs.layer[0].name
    if old_rel in LATER_UPSTREAM_EDITS:
        skip, _reason = LATER_UPSTREAM_EDITS[old_rel]
        assert _topology(ours, skip) == _topology(theirs, skip)
    else:
        assert_same_net(ours, theirs)
