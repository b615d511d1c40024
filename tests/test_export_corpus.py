"""ONNX exports against outputs computed by real BVLC Caffe (skipped when the corpus is absent).

* ``opencv_contrib/.../testdata/dnn/layers``: single-layer nets Caffe ran: ``<name>.prototxt``,
  ``<name>.caffemodel`` when the layer has weights, input ``<name>.input.npy`` or ``blob.npy``,
  Caffe's output ``<name>.npy``.
* ``caffe_reference``: whole nets (LeNet, CIFAR-10, GoogLeNet, SqueezeNet, MobileNet v1/v2,
  MTCNN) run through Caffe with ``input:NAME`` fed and ``output:NAME`` / ``blob:NAME`` kept, plus
  every blob's shape as Caffe computed it (``shapes_json``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from prototxt_tools.errors import GraphError  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402
from prototxt_tools.export.verify import run_onnxruntime  # noqa: E402

from conftest import CORPUS, corpus_available  # noqa: E402

LAYERS = CORPUS / "opencv_opencv_contrib" / "modules" / "dnn" / "testdata" / "dnn" / "layers"
REFERENCE = CORPUS / "caffe_reference"

needs_corpus = pytest.mark.skipif(not corpus_available(), reason="../shared/corpus is absent")


def _layer_tests() -> list:
    if not LAYERS.is_dir():
        return []
    return sorted(p.stem for p in LAYERS.glob("*.prototxt") if (LAYERS / f"{p.stem}.npy").exists())


def _reference_nets() -> list:
    index = REFERENCE / "index.json"
    return sorted(json.loads(index.read_text())) if index.exists() else []


def relative_error(ours: np.ndarray, caffe: np.ndarray) -> float:
    """Largest absolute difference over the reference's largest magnitude."""
    return float(np.abs(ours.astype(np.float64) - caffe).max() / max(np.abs(caffe).max(), 1e-30))


@needs_corpus
@pytest.mark.parametrize("name", _layer_tests())
def test_caffe_generated_layer(name: str):
    weights = LAYERS / f"{name}.caffemodel"
    given = LAYERS / f"{name}.input.npy"
    x = np.load(given if given.exists() else LAYERS / "blob.npy")
    caffe = np.load(LAYERS / f"{name}.npy")
    exported = export_onnx(str(LAYERS / f"{name}.prototxt"),
                           str(weights) if weights.exists() else None)
    onnx.checker.check_model(exported.to_proto(), full_check=True)
    (input_name,) = exported.input_shapes
    assert exported.input_shapes[input_name] == x.shape
    (ours,) = run_onnxruntime(exported.serialize(), {input_name: x}).values()
    assert ours.shape == caffe.shape and ours.dtype == np.float32
    # float32 sums over up to 5*5*6 products (conv) or 5-channel windows (LRN)
    assert relative_error(ours, caffe) < 1e-5


@needs_corpus
def test_reshape_and_slice_routines():
    """Caffe refuses this file ('input' has no dims, so no Input layer: "Unknown bottom blob
    'input'", caffe_shapes/shapes.json); so do we, at the bottom's position.  With an Input
    layer it exercises Split, Slice, an in-place Sigmoid on an unused slice, Concat, Reshape
    (0, -1, axis, num_axes) and Flatten: the concat re-assembles channels 0, 1 and 2..5, so the
    output is the input flattened per item (derived by hand from the prototxt)."""
    path = LAYERS / "reshape_and_slice_routines.prototxt"
    with pytest.raises(GraphError) as refused:
        export_onnx(str(path))
    assert "bottom 'input' of layer 'dummy_split'" in str(refused.value)
    assert refused.value.line == 7
    x = np.load(LAYERS / "blob.npy")
    dims = " ".join(f"dim: {d}" for d in x.shape)
    text = path.read_text().replace('input: "input"', 'layer { name: "input" type: "Input" '
                                    f'top: "input" input_param {{ shape {{ {dims} }} }} }}')
    exported = export_onnx(load_net(str(path), text=text))
    onnx.checker.check_model(exported.to_proto(), full_check=True)
    outputs = run_onnxruntime(exported.serialize(), {"input": x})
    assert outputs["output"].shape == (2, 6 * 75 * 113)
    np.testing.assert_array_equal(outputs["output"], x.reshape(2, -1))
    # the in-place Sigmoid's result is the final version of its blob: a plain-named net output
    expected = 1 / (1 + np.exp(-x[:, 2:].astype(np.float64)))
    assert relative_error(outputs["dummy_slice_1_2"], expected) < 1e-6


def _reference(name: str):
    entry = json.loads((REFERENCE / "index.json").read_text())[name]
    weights = entry["weights"]
    data = np.load(REFERENCE / name / entry["outputs"])
    return CORPUS / entry["prototxt"], CORPUS / weights, data


@needs_corpus
@pytest.mark.parametrize("name", _reference_nets())
def test_whole_net_matches_caffe(name: str):
    prototxt, weights, data = _reference(name)
    exported = export_onnx(str(prototxt), str(weights))
    model = exported.to_proto()
    logits = [k[5:] for k in data.files if k.startswith("blob:")]
    # expose the pre-softmax blobs as extra outputs (their value_info carries the shapes)
    infos = {v.name: v for v in model.graph.value_info}
    model.graph.output.extend(infos[n] for n in logits if n in infos)
    onnx.checker.check_model(model, full_check=True)
    feeds = {k[6:]: data[k] for k in data.files if k.startswith("input:")}
    outputs = run_onnxruntime(model.SerializeToString(), feeds)
    compared = 0
    for key in data.files:
        kind, _, blob = key.partition(":")
        if kind in ("output", "blob"):
            assert outputs[blob].shape == data[key].shape, key
            assert relative_error(outputs[blob], data[key]) < 1e-4, key
            compared += 1
    assert compared == len([k for k in data.files if k.startswith(("output:", "blob:"))])


@needs_corpus
@pytest.mark.parametrize("name", _reference_nets())
def test_value_info_shapes_are_caffes(name: str):
    """Every tensor named after a Caffe blob carries the shape real Caffe computed for it."""
    prototxt, weights, data = _reference(name)
    caffe_shapes = json.loads(str(data["shapes_json"]))
    graph = export_onnx(str(prototxt), str(weights)).model.graph
    ours = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    checked = [blob for blob in caffe_shapes if blob in ours]
    assert len(checked) >= len([b for b in caffe_shapes if "_split_" not in b]) - 1
    for blob in checked:
        assert ours[blob] == caffe_shapes[blob], blob
