"""``--verify``: run an export in onnxruntime and compare it with OpenCV's Caffe importer.

OpenCV 4.x (``cv2.dnn.readNetFromCaffe``) is an independent implementation of Caffe's forward
pass that runs the user's own prototxt and caffemodel (with ``--random-weights`` a temporary
caffemodel holding the same seeded weights is written for it).  Both get the same seeded
random input; every net output is compared by shape and by its largest absolute and relative
(to the reference's largest magnitude) error.  Where OpenCV is known to differ from Caffe the
report says so and does not fail on it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np


@dataclass
class OutputComparison:
    name: str
    shape: tuple
    reference_shape: tuple
    max_abs: float
    max_rel: float
    ok: bool


@dataclass
class VerifyReport:
    tolerance: float
    reference: str | None  # "OpenCV 4.x.y", or None when there is nothing to compare with
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    binding: bool = True  # False when OpenCV is known to differ from Caffe on this net

    @property
    def ok(self) -> bool:
        return not self.binding or all(row.ok for row in self.rows)

    def render(self) -> str:
        lines = [f"verify: onnxruntime (CPUExecutionProvider) vs {self.reference or 'nothing'}"]
        for row in self.rows:
            status = "ok" if row.ok else f"BEYOND TOLERANCE {self.tolerance:g}"
            if row.shape != row.reference_shape:
                status = f"SHAPE {row.shape} vs {row.reference_shape}"
            lines.append(f"  {row.name}: max abs {row.max_abs:.3g}, max rel {row.max_rel:.3g}"
                         f"  {status}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def seeded_inputs(shapes: dict, seed: int) -> dict:
    """Standard-normal float32 input per net input, from one seeded generator, in order."""
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def run_onnxruntime(model, inputs: dict) -> dict:
    """Outputs by name; ``model`` is a path or serialized bytes."""
    import onnxruntime
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def run_opencv(prototxt: str, caffemodel: str, inputs: dict, outputs: dict) -> dict:
    """OpenCV's forward pass; ``outputs`` maps names to Caffe BlobVersions (found by producer
    layer and top index, as OpenCV names outputs by layer)."""
    import cv2
    net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.enableFusion(False)  # fused BatchNorm/Scale would round differently from Caffe
    if hasattr(net, "enableWinograd"):
        net.enableWinograd(False)
    for name, value in inputs.items():
        net.setInput(value, name)
    known = set(net.getLayerNames())
    # OpenCV names layers as the prototxt does, except some it renames after their top.
    where = {}
    for name, blob in outputs.items():
        layer = blob.producer
        if layer is None or layer.type == "Input":
            continue
        if layer.name in known:
            where[name] = (layer.name, layer.tops.index(blob))
        elif blob.name in known:
            where[name] = (blob.name, 0)
    layers = sorted({layer for layer, _ in where.values()})
    results = dict(zip(layers, net.forwardAndRetrieve(layers)))
    return {name: np.asarray(results[layer][index]) for name, (layer, index) in where.items()}


def opencv_gaps(network) -> list:
    """Reasons OpenCV's result differs from Caffe's on this net (comparisons then inform only)."""
    gaps = []
    for layer in network.layers:
        if layer.type == "LRN" and layer.param.lrn_param.norm_region == 0 and \
                layer.param.lrn_param.k != 1:
            gaps.append(f"OpenCV ignores LRN k (layer '{layer.name}' has k = "
                        f"{layer.param.lrn_param.k:g}); differences from there on are expected")
        mvn = layer.param.mvn_param
        if layer.type == "MVN" and mvn.normalize_variance and mvn.eps >= 1e-6:
            gaps.append(f"OpenCV adds MVN eps inside the square root, Caffe after it (layer "
                        f"'{layer.name}' has eps = {mvn.eps:g}); differences are expected")
    return gaps


def compare(name: str, value: np.ndarray, reference: np.ndarray, tolerance: float):
    value, reference = np.asarray(value), np.asarray(reference)
    if value.shape != reference.shape:
        return OutputComparison(name, value.shape, reference.shape, float("inf"),
                                float("inf"), False)
    diff = np.abs(value.astype(np.float64) - reference.astype(np.float64))
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    return OutputComparison(name, value.shape, reference.shape, max_abs, max_rel,
                            bool(max_rel <= tolerance))


def verify_export(model_path: str, loaded, exported, *, weights: str | None = None,
                  seed: int = 0, tolerance: float = 1e-4) -> VerifyReport:
    """Compare the saved export with OpenCV on seeded random input."""
    inputs = seeded_inputs(exported.input_shapes, seed)
    ours = run_onnxruntime(model_path, inputs)
    try:
        import cv2
    except ImportError:
        report = VerifyReport(tolerance, None)
        report.notes.append("OpenCV (cv2) is not installed: the export ran in onnxruntime, "
                            "nothing to compare it with")
        return report
    report = VerifyReport(tolerance, f"OpenCV {cv2.__version__} (cv2.dnn.readNetFromCaffe)")
    report.notes = opencv_gaps(loaded.network)
    report.binding = not report.notes
    with tempfile.TemporaryDirectory(prefix="prototxt-tools-verify-") as scratch:
        caffemodel = weights or _temporary_caffemodel(loaded, exported.caffe_weights, scratch)
        try:
            reference = run_opencv(loaded.path, caffemodel, inputs, exported.outputs)
        except cv2.error as error:
            reason = (str(error).strip().splitlines() or ["?"])[-1]
            report.notes.append(f"OpenCV could not run this net ({reason}); the export ran "
                                "in onnxruntime, nothing to compare it with")
            report.binding = False
            return report
    for name in exported.outputs:
        if name in reference:
            report.rows.append(compare(name, ours[name], reference[name], tolerance))
        else:
            report.notes.append(f"output '{name}' not compared: OpenCV does not expose it")
    return report


def _temporary_caffemodel(loaded, caffe_weights: dict, directory: str) -> str:
    from ..caffemodel import write_caffemodel
    path = os.path.join(directory, "weights.caffemodel")
    write_caffemodel(path, loaded.net, caffe_weights, durable=False)
    return path
