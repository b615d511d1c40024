"""Whole models from the shared corpus, exported and run in onnxruntime, against OpenCV's Caffe
importer (cv2.dnn.readNetFromCaffe) on the same prototxt and caffemodel: every net output and
the logits before a Softmax, by shape, dtype and value (max error relative to the reference's
largest magnitude <= 1e-4).

Weights are the real ones where the corpus has them (MTCNN), else seeded random ones written to
a caffemodel for OpenCV.  Batch 1 and modest inputs (``--input``) keep the default run short;
``-m slow`` adds the sweep over every deploy prototxt of the corpus.  (Outputs computed by real
Caffe are compared in test_export_corpus.)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
cv2 = pytest.importorskip("cv2")

from prototxt_tools.caffemodel import write_caffemodel  # noqa: E402
from prototxt_tools.errors import PrototxtToolsError  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export.verify import (compare, opencv_gaps, run_onnxruntime,  # noqa: E402
                                          run_opencv, seeded_inputs)
from prototxt_tools.load import load_net  # noqa: E402

from conftest import CORPUS, corpus_available, corpus_manifest  # noqa: E402

pytestmark = pytest.mark.skipif(not corpus_available(), reason="../shared/corpus is absent")

MTCNN = "kpzhang93_MTCNN_face_detection_alignment/code/codes/"
EXTERNAL_ABOVE = 100 * 2**20  # save big models with external data: faster to write and load


@dataclass
class Model:
    id: str
    prototxt: str
    weights: str | None = None  # real weights in the corpus; None: seeded random
    inputs: dict = field(default_factory=dict)  # --input overrides


MODELS = [
    Model("lenet", "BVLC_caffe/examples/mnist/lenet.prototxt", inputs={"data": (1, 1, 28, 28)}),
    Model("cifar10_full", "BVLC_caffe/examples/cifar10/cifar10_full.prototxt"),
    Model("caffenet", "BVLC_caffe/models/bvlc_reference_caffenet/deploy.prototxt",
          inputs={"data": (1, 3, 227, 227)}),
    Model("alexnet", "BVLC_caffe/models/bvlc_alexnet/deploy.prototxt",
          inputs={"data": (1, 3, 227, 227)}),
    Model("googlenet", "BVLC_caffe/models/bvlc_googlenet/deploy.prototxt",
          inputs={"data": (1, 3, 224, 224)}),
    Model("resnet50", "KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt"),
    Model("squeezenet_v1.0", "DeepScale_SqueezeNet/SqueezeNet_v1.0/deploy.prototxt",
          inputs={"data": (1, 3, 227, 227)}),
    Model("squeezenet_v1.1", "DeepScale_SqueezeNet/SqueezeNet_v1.1/deploy.prototxt",
          inputs={"data": (1, 3, 227, 227)}),
    Model("mobilenet_v1", "shicai_MobileNet-Caffe/mobilenet_deploy.prototxt"),
    Model("mobilenet_v2", "shicai_MobileNet-Caffe/mobilenet_v2_deploy.prototxt"),
    # FCN-32s: the 500x500 input shrunk to 64x64 (conv1's pad 100 keeps it valid)
    Model("fcn32s", "opencv_opencv_contrib/modules/dnn/samples/fcn32s-heavy-pascal.prototxt",
          inputs={"data": (1, 3, 64, 64)}),
    Model("mtcnn_pnet", MTCNN + "MTCNNv1/model/det1.prototxt", MTCNN + "MTCNNv1/model/det1.caffemodel",
          inputs={"data": (1, 3, 40, 52)}),
    Model("mtcnn_rnet", MTCNN + "MTCNNv1/model/det2.prototxt", MTCNN + "MTCNNv1/model/det2.caffemodel"),
    Model("mtcnn_onet", MTCNN + "MTCNNv1/model/det3.prototxt", MTCNN + "MTCNNv1/model/det3.caffemodel"),
    Model("mtcnn_lnet", MTCNN + "MTCNNv2/model/det4.prototxt", MTCNN + "MTCNNv2/model/det4.caffemodel"),
]


def logit_blobs(network) -> dict:
    """Tensor name -> BlobVersion of each Softmax bottom that is a plain-named blob."""
    return {layer.bottoms[0].name: layer.bottoms[0] for layer in network.layers
            if layer.type == "Softmax" and layer.bottoms[0].consumers == [layer]}


def export_and_compare(prototxt: str, weights: str | None, inputs: dict, directory) -> list:
    """Export, run both, return the comparison rows (ours vs OpenCV)."""
    loaded = load_net(prototxt)
    exported = export_onnx(loaded, weights, random_seed=None if weights else 1,
                           input_shapes=inputs or None)
    caffemodel = weights
    if caffemodel is None:
        caffemodel = str(directory / "weights.caffemodel")
        write_caffemodel(caffemodel, loaded.net, exported.caffe_weights, durable=False)
    model = directory / "model.onnx"
    exported.save(model, external_data=exported.weight_bytes > EXTERNAL_ABOVE)
    graph = onnx.load(str(model), load_external_data=False).graph
    extra = {name: blob for name, blob in logit_blobs(loaded.network).items()
             if name not in exported.outputs and
             name in {v.name for v in graph.value_info}}
    if extra:  # expose the logits as outputs too (their value_info carries the shape)
        proto = onnx.load(str(model), load_external_data=False)
        proto.graph.output.extend(v for v in proto.graph.value_info if v.name in extra)
        onnx.save(proto, str(model))
    feeds = seeded_inputs(exported.input_shapes, 0)
    ours = run_onnxruntime(str(model), feeds)
    wanted = {**exported.outputs, **extra}
    reference = run_opencv(prototxt, caffemodel, feeds, wanted)
    rows = []
    for name in wanted:
        assert name in reference, f"OpenCV does not expose {name}"
        assert ours[name].dtype == np.float32, name
        rows.append(compare(name, ours[name], reference[name], 1e-4))
    return rows


@pytest.mark.parametrize("model", MODELS, ids=[m.id for m in MODELS])
def test_whole_model_matches_opencv(model: Model, tmp_path):
    weights = str(CORPUS / model.weights) if model.weights else None
    rows = export_and_compare(str(CORPUS / model.prototxt), weights, model.inputs, tmp_path)
    assert rows
    for row in rows:
        assert row.shape == row.reference_shape, row
        assert row.ok, f"{row.name}: max abs {row.max_abs:.3g}, max rel {row.max_rel:.3g}"


# --- the full sweep: every deploy prototxt of the corpus (-m slow) ------------------------

def _deploy_prototxts() -> list:
    return sorted(r["local_path"] for r in corpus_manifest() if r["kind"] == "prototxt-deploy")


@pytest.fixture
def slow_only(request):
    expression = request.config.getoption("markexpr") or ""
    if "slow" not in expression or "not slow" in expression:
        pytest.skip("a long sweep: run with -m slow")


@pytest.mark.slow
def test_every_deploy_net_exports_and_matches_opencv_or_is_refused(slow_only, tmp_path):
    """Each net either matches OpenCV within 1e-4, or is refused / fails to load with one
    PrototxtToolsError (never a crash), or OpenCV cannot run it (or differs from Caffe)."""
    counts = {"matched": 0, "refused or invalid": 0, "not comparable": 0}
    mismatches, details = [], []
    for i, path in enumerate(_deploy_prototxts()):
        directory = tmp_path / str(i)
        directory.mkdir()
        try:
            rows = export_and_compare(str(CORPUS / path), None, {}, directory)
        except PrototxtToolsError as refused:
            shutil.rmtree(directory)
            counts["refused or invalid"] += 1
            details.append(f"refused  {path}: {type(refused).__name__}: {str(refused)[:150]}")
            continue
        except (cv2.error, AssertionError) as gap:
            shutil.rmtree(directory)
            counts["not comparable"] += 1
            details.append(f"no ref   {path}: {str(gap).strip().splitlines()[-1][:150]}")
            continue
        shutil.rmtree(directory)  # the caffemodels and models add up to gigabytes
        worst = max(rows, key=lambda r: r.max_rel)
        if all(row.ok for row in rows):
            counts["matched"] += 1
            details.append(f"matched  {path}: worst {worst.name} rel {worst.max_rel:.2g}")
        elif opencv_gaps(load_net(str(CORPUS / path)).network):
            counts["not comparable"] += 1
            details.append(f"gap      {path}: OpenCV differs from Caffe here (rel {worst.max_rel:.2g})")
        else:
            mismatches.append((path, [r for r in rows if not r.ok]))
    print("\n".join(details + [f"{counts}"]))
    assert not mismatches
    assert counts["matched"] >= 30


def test_ssd_net_up_to_its_detection_output_matches_opencv(tmp_path):
    """WeChat's SSD QR-code detector without the refused DetectionOutput: its bottoms (box
    deltas, confidences, and the five PriorBox layers' constants, concatenated) become the
    outputs and match OpenCV."""
    source = CORPUS / "opencv_opencv_contrib/modules/wechat_qrcode/samples/detect.prototxt"
    text = source.read_text()
    cut = text.rindex("layer {", 0, text.index('type: "DetectionOutput"'))
    prototxt = tmp_path / "detect_without_detection_output.prototxt"
    prototxt.write_text(text[:cut])
    rows = export_and_compare(str(prototxt), None, {}, tmp_path)
    assert sorted(row.name for row in rows) == ["mbox_conf_flatten", "mbox_conf_reshape",  # logits
                                               "mbox_loc", "mbox_priorbox"]
    for row in rows:
        assert row.shape == row.reference_shape and row.ok, row
