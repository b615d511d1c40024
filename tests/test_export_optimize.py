"""``--optimize``: BatchNorm/Scale/Bias folded into the preceding Convolution / InnerProduct /
Deconvolution, identities dropped; the outputs stay within 1e-4 relative of the unoptimized
export, names of net inputs and outputs are kept, and the result is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from prototxt_tools.cli import main  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export.verify import run_onnxruntime, seeded_inputs  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402

from conftest import CORPUS, corpus_available  # noqa: E402

CORPUS_NETS = {
    "mobilenet_v1": "shicai_MobileNet-Caffe/mobilenet_deploy.prototxt",
    "mobilenet_v2": "shicai_MobileNet-Caffe/mobilenet_v2_deploy.prototxt",
    "resnet50": "KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt",
}


def logits_and_outputs(exported) -> tuple:
    """The model with the Softmax inputs (the logits) exposed too, and the output names."""
    model = exported.to_proto()
    softmax_inputs = {n.input[0] for n in model.graph.node if n.op_type == "Softmax"}
    infos = {v.name: v for v in model.graph.value_info}
    model.graph.output.extend(infos[name] for name in sorted(softmax_inputs) if name in infos)
    return model.SerializeToString(), [o.name for o in model.graph.output]


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def op_counts(exported) -> dict:
    counts: dict = {}
    for node in exported.model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


@pytest.mark.skipif(not corpus_available(), reason="../shared/corpus is absent")
@pytest.mark.parametrize("name", sorted(CORPUS_NETS))
def test_corpus_nets_fold_every_batchnorm_and_keep_their_outputs(name: str):
    path = str(CORPUS / CORPUS_NETS[name])
    plain = export_onnx(path, random_seed=4)
    folded = export_onnx(path, random_seed=4, optimize=True)
    batch_norms = sum(layer.type == "BatchNorm" for layer in load_net(path).network.layers)
    before, after = op_counts(plain), op_counts(folded)
    # every BatchNorm (Sub + Div) and its Scale (Mul + Add) follows a Convolution here
    assert before["Sub"] == before["Div"] == batch_norms > 0
    assert "Sub" not in after and "Div" not in after and "Identity" not in after
    assert sum(after.values()) <= sum(before.values()) - 4 * batch_norms
    assert after["Conv"] == before["Conv"]
    plain_bytes, names = logits_and_outputs(plain)
    folded_bytes, folded_names = logits_and_outputs(folded)
    assert folded_names == names
    feeds = seeded_inputs(plain.input_shapes, 0)
    ours, reference = run_onnxruntime(folded_bytes, feeds), run_onnxruntime(plain_bytes, feeds)
    for output in names:
        assert ours[output].shape == reference[output].shape
        assert relative_error(ours[output], reference[output]) <= 1e-4, output
    assert export_onnx(path, random_seed=4, optimize=True).serialize() == folded.serialize()


CONV_BN_SCALE = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 1 dim: 2 dim: 2 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { eps: 0 } }
layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" scale_param { bias_term: true } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
"""


def test_folded_weights_are_the_hand_computed_ones(tmp_path):
    """conv w = (2, 3), b = (1, -1); BN mean (1, 2), var (4, 9) with factor 1 and eps 0, so
    std (2, 3); Scale (10, 100), bias (5, 6):  w' = w * s / std = (10, 100),
    b' = (b - mean) / std * s + beta = (0 + 5, -1 * 100 + 6) = (5, -94)."""
    from prototxt_tools.caffemodel import write_caffemodel
    path = tmp_path / "net.prototxt"
    path.write_text(CONV_BN_SCALE)
    weights = {"conv": [np.array([2, 3], np.float32).reshape(2, 1, 1, 1), np.array([1, -1], np.float32)],
               "bn": [np.array([1, 2], np.float32), np.array([4, 9], np.float32), np.ones(1, np.float32)],
               "scale": [np.array([10, 100], np.float32), np.array([5, 6], np.float32)]}
    caffemodel = tmp_path / "net.caffemodel"
    write_caffemodel(str(caffemodel), load_net(str(path)).net, weights, durable=False)
    folded = export_onnx(str(path), str(caffemodel), optimize=True)
    assert [n.op_type for n in folded.model.graph.node] == ["Conv", "Relu"]
    arrays = dict(folded.initializers)
    conv = folded.model.graph.node[0]
    np.testing.assert_allclose(arrays[conv.input[1]].reshape(-1), [10, 100])
    np.testing.assert_allclose(arrays[conv.input[2]], [5, -94])
    x = np.array([1, -2, 3, 0.5], np.float32).reshape(1, 1, 2, 2)
    (y,) = run_onnxruntime(folded.serialize(), {"data": x}).values()
    np.testing.assert_allclose(y[0, 0], np.maximum(10 * x[0, 0] + 5, 0))
    np.testing.assert_allclose(y[0, 1], np.maximum(100 * x[0, 0] - 94, 0))


FOLDABLE_AND_NOT = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 5 dim: 5 } } }
layer { name: "s" type: "Input" top: "s" input_param { shape { dim: 6 } } }
layer { name: "deconv" type: "Deconvolution" bottom: "data" top: "deconv"
  convolution_param { num_output: 6 group: 2 kernel_size: 3 stride: 2 bias_term: false } }
layer { name: "dbn" type: "BatchNorm" bottom: "deconv" top: "deconv" }
layer { name: "dbias" type: "Bias" bottom: "deconv" top: "deconv" }
layer { name: "conv" type: "Convolution" bottom: "deconv" top: "conv"
  convolution_param { num_output: 3 kernel_size: 3 } }
layer { name: "split" type: "Split" bottom: "conv" top: "branch1" top: "branch2" }
layer { name: "bn1" type: "BatchNorm" bottom: "branch1" top: "bn1" }
layer { name: "by_input" type: "Scale" bottom: "deconv" bottom: "s" top: "by_input" scale_param { axis: 1 } }
layer { name: "fc" type: "InnerProduct" bottom: "bn1" top: "fc" inner_product_param { num_output: 3 transpose: true } }
layer { name: "fcs" type: "Scale" bottom: "fc" top: "fcs" scale_param { bias_term: true } }
layer { name: "fc2" type: "InnerProduct" bottom: "branch2" top: "fc2" inner_product_param { num_output: 4 } }
layer { name: "fc2bn" type: "BatchNorm" bottom: "fc2" top: "fc2bn" }
"""


def test_what_folds_and_what_does_not():
    """Deconvolution (group 2) + BatchNorm + Bias fold; the conv output feeds a Split with two
    consumers, so bn1 stays; a Scale by a net input stays; InnerProduct with and without
    transpose folds its Scale / BatchNorm; the Split's identities go, names stay."""
    net = load_net("mixed.prototxt", text=FOLDABLE_AND_NOT)
    plain = export_onnx(net, random_seed=9)
    folded = export_onnx(net, random_seed=9, optimize=True)
    assert [n.op_type for n in folded.model.graph.node] == \
        ["ConvTranspose", "Conv", "Sub", "Div", "Reshape", "Mul", "Flatten", "Gemm", "Flatten",
         "Gemm"]
    assert [o.name for o in folded.model.graph.output] == \
        [o.name for o in plain.model.graph.output] == ["by_input", "fcs", "fc2bn"]
    rng = np.random.default_rng(5)
    feeds = {"data": rng.standard_normal((2, 4, 5, 5)).astype(np.float32),
             "s": rng.standard_normal(6).astype(np.float32)}
    ours, reference = run_onnxruntime(folded.serialize(), feeds), \
        run_onnxruntime(plain.serialize(), feeds)
    for name, value in reference.items():
        assert relative_error(ours[name], value) <= 1e-5, name


def test_cli_optimize_writes_fewer_nodes(tmp_path, capsys):
    path = tmp_path / "net.prototxt"
    path.write_text(CONV_BN_SCALE)
    assert main(["onnx", str(path), "--random-weights", "1", "-o", str(tmp_path / "a.onnx")]) == 0
    assert "6 nodes" in capsys.readouterr().out  # Conv, Sub, Div, Mul, Add, Relu
    assert main(["onnx", str(path), "--random-weights", "1", "--optimize",
                 "-o", str(tmp_path / "b.onnx")]) == 0
    assert "2 nodes" in capsys.readouterr().out
    onnx.checker.check_model(str(tmp_path / "b.onnx"), full_check=True)


def _reference_nets() -> list:
    import json
    index = CORPUS / "caffe_reference" / "index.json"
    return sorted(json.loads(index.read_text()).items()) if index.exists() else []


@pytest.mark.skipif(not corpus_available(), reason="../shared/corpus is absent")
@pytest.mark.parametrize("name,entry", _reference_nets(), ids=lambda v: v if isinstance(v, str) else "")
def test_optimized_reference_nets_still_match_real_caffe(name: str, entry: dict):
    """The nets real Caffe ran (caffe_reference): folded exports match its outputs too."""
    data = np.load(CORPUS / "caffe_reference" / name / entry["outputs"])
    folded = export_onnx(str(CORPUS / entry["prototxt"]), str(CORPUS / entry["weights"]),
                         optimize=True)
    feeds = {k[6:]: data[k] for k in data.files if k.startswith("input:")}
    ours = run_onnxruntime(folded.serialize(), feeds)
    outputs = [k for k in data.files if k.startswith("output:")]
    assert outputs
    for key in outputs:
        assert ours[key[7:]].shape == data[key].shape, key
        assert relative_error(ours[key[7:]], data[key]) < 1e-4, key
