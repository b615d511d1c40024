"""Net surgery proven through our ONNX path as well: the original and the fc-to-conv net,
both exported and run in onnxruntime, compute the same thing (MTCNN, real trained weights)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CORPUS

MTCNN = CORPUS / "kpzhang93_MTCNN_face_detection_alignment/code/codes/MTCNNv1/model"

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", ["det2", "det3"])
def test_fc_to_conv_equal_through_onnx(corpus, tmp_path, name):
    import onnxruntime as ort

    from prototxt_tools.export import export_onnx
    from prototxt_tools.surgery import fc_to_conv_files

    proto, weights = MTCNN / f"{name}.prototxt", MTCNN / f"{name}.caffemodel"
    new_proto, new_weights = tmp_path / f"{name}_conv.prototxt", tmp_path / f"{name}_conv.caffemodel"
    fc_to_conv_files(str(proto), str(new_proto), str(weights), str(new_weights))

    outputs = []
    for p, w, out in ((proto, weights, tmp_path / "a.onnx"), (new_proto, new_weights, tmp_path / "b.onnx")):
        exported = export_onnx(str(p), str(w))
        exported.save(str(out))
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        feed = {i.name: np.random.default_rng(3).random(exported.input_shapes[i.name], dtype=np.float32)
                for i in session.get_inputs()}
        outputs.append({o.name: v for o, v in zip(session.get_outputs(), session.run(None, feed))})

    original, converted = outputs
    assert original.keys() == converted.keys()
    for key, want in original.items():
        got = converted[key]
        # the converted net keeps the spatial axes: N x K x 1 x 1 where the original has N x K
        assert got.size == want.size and got.dtype == want.dtype == np.float32
        got = got.reshape(want.shape)
        scale = float(np.max(np.abs(want))) or 1.0
        assert float(np.max(np.abs(got - want))) <= 1e-5 * scale, key
