"""Shape inference against real BVLC Caffe: every blob shape Caffe reported for the corpus nets.

Independent of our text parser: files are read with google.protobuf.text_format into our schema.
V2 nets are checked directly (legacy ``input``/``input_dim``/``input_shape`` read here); V0/V1 nets
go through prototxt_tools.upgrade first.  Caffe's own ``*_split_N`` blobs are not in the prototxt
and are skipped.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from google.protobuf import text_format

from prototxt_tools.schema import caffe_pb2
from prototxt_tools.shapes import LayerShapeError, infer_net

from conftest import CORPUS, corpus_available


def _shape_entries(built: bool) -> list:
    if not corpus_available():
        return []
    entries = json.loads((CORPUS / "caffe_shapes" / "shapes.json").read_text())
    return sorted(k for k, v in entries.items() if v["built"] == built)


def _reference_nets() -> list:
    if not corpus_available():
        return []
    return sorted(json.loads((CORPUS / "caffe_reference" / "index.json").read_text()))


def _parse(path) -> caffe_pb2.NetParameter:
    return text_format.Parse(path.read_text(), caffe_pb2.NetParameter())


def _in_test_phase(layer) -> bool:
    """Caffe's NetStateRule check for the default state: phase TEST, level 0, no stages."""
    def meets(rule):
        return ((not rule.HasField("phase") or rule.phase == caffe_pb2.TEST)
                and (not rule.HasField("min_level") or rule.min_level <= 0)
                and (not rule.HasField("max_level") or rule.max_level >= 0)
                and not rule.stage)
    if layer.include:
        return any(meets(r) for r in layer.include)
    return not any(meets(r) for r in layer.exclude)


def _legacy_inputs(net: caffe_pb2.NetParameter) -> dict:
    """Net-level ``input`` with ``input_shape`` (one per input) or ``input_dim`` (4 per input).

    Without either, Caffe's UpgradeNetInput just drops the inputs (a legacy caffemodel's)."""
    shapes = {}
    if not net.input_shape and not net.input_dim:
        return shapes
    for i, name in enumerate(net.input):
        if net.input_shape:
            shapes[name] = tuple(net.input_shape[i].dim)
        else:
            shapes[name] = tuple(net.input_dim[4 * i:4 * i + 4])
    return shapes


def _current_net(path) -> caffe_pb2.NetParameter:
    net = _parse(path)
    if len(net.layers):  # V0/V1
        upgrade = pytest.importorskip("prototxt_tools.upgrade.pipeline")
        net = upgrade.upgrade_net(net).net
    return net


def _run(net: caffe_pb2.NetParameter, inputs: dict | None = None):
    layers = [layer for layer in net.layer if _in_test_phase(layer)]
    return infer_net(layers, inputs if inputs is not None else _legacy_inputs(net))


@pytest.mark.parametrize("relpath", _shape_entries(built=True))
def test_blob_shapes_equal_caffe(corpus, relpath):
    expected = json.loads((corpus / "caffe_shapes" / "shapes.json").read_text())[relpath]
    net = _current_net(corpus / relpath)
    blobs = _run(net).blobs
    wrong = {name: (tuple(shape), blobs.get(name)) for name, shape in expected["shapes"].items()
             if blobs.get(name) != tuple(shape) and not (name not in blobs and "_split_" in name)}
    assert not wrong, f"(Caffe, ours): {wrong}"


def test_all_built_nets_are_covered():
    if not corpus_available():
        pytest.skip("corpus absent")
    assert len(_shape_entries(built=True)) == 68


@pytest.mark.parametrize("key", _reference_nets())
def test_parameter_shapes_equal_caffe(corpus, key):
    entry = json.loads((corpus / "caffe_reference" / "index.json").read_text())[key]
    reference = np.load(corpus / "caffe_reference" / key / entry["outputs"])
    expected = json.loads(str(reference["param_shapes_json"]))
    net = _current_net(corpus / entry["prototxt"])
    inputs = _legacy_inputs(net)
    inputs.update({k[len("input:"):]: reference[k].shape for k in reference.files
                   if k.startswith("input:")})
    result = _run(net, inputs)
    ours = {r.name: [list(p) for p in r.shapes.params] for r in result.layers
            if r.shapes is not None and r.shapes.params}
    assert ours == expected


def test_mobilenet_v1_multiply_adds(corpus):
    # Howard et al. 2017, Table 1/8: MobileNet 1.0-224 has 569 million mult-adds.
    net = _current_net(corpus / "shicai_MobileNet-Caffe" / "mobilenet_deploy.prototxt")
    assert round(_run(net).macs / 1e6) == 569


def test_caffe_blob_size_limit(corpus):
    # Caffe: "Check failed: shape[i] <= 0x7fffffff / count_ (126 vs. 73) blob size exceeds
    # INT_MAX" -- conv1 is 10000 x 20 x 146 x 126; 2^31-1 // (10000 * 20 * 146) = 73 < 126.
    path = corpus / "opencv_opencv_contrib/modules/cnn_3dobj/samples/build/linemod_triplet.prototxt"
    with pytest.raises(LayerShapeError) as info:
        _run(_current_net(path))
    assert info.value.code == "blob-too-large"
    assert "(126 vs. 73)" in str(info.value)


def _unknown_bottom_failures() -> list:
    """Non-built corpus nets where Caffe stopped with insert_splits.cpp's 'Unknown bottom blob'."""
    if not corpus_available():
        return []
    entries = json.loads((CORPUS / "caffe_shapes" / "shapes.json").read_text())
    return sorted(k for k, v in entries.items()
                  if not v["built"] and "Unknown bottom blob" in v["caffe_error"])


@pytest.mark.parametrize("relpath", _unknown_bottom_failures())
def test_unknown_bottom_blob_like_caffe(corpus, relpath):
    # e.g. "Unknown bottom blob 'input' (layer 'dummy_split', bottom index 0)"
    message = json.loads((corpus / "caffe_shapes" / "shapes.json").read_text())[relpath]
    match = re.search(r"Unknown bottom blob '([^']+)' \(layer '([^']+)', bottom index (\d+)\)",
                      message["caffe_error"])
    blob, layer_name, index = match.group(1), match.group(2), int(match.group(3))
    with pytest.raises(LayerShapeError) as info:
        _run(_current_net(corpus / relpath))
    assert (info.value.code, info.value.layer_name, info.value.field) == \
        ("undefined-bottom", layer_name, ("bottom", index))
    assert repr(blob) in str(info.value)
