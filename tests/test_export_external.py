"""Models too large for one protobuf message (2 GiB) are saved with external data, and
onnxruntime loads and runs them.  The default run lowers the threshold through the API
(``save(..., embed_limit=...)``) on a small net; ``-m slow`` writes a net whose weights are
just over 2 GiB with the default threshold."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export.model import EMBED_LIMIT  # noqa: E402
from prototxt_tools.export.verify import run_onnxruntime  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402

from conftest import SAMPLES  # noqa: E402

WIDE_FC = """name: "wide_fc"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: %d } } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: %d } }
"""


def test_lowered_threshold_writes_external_data_that_onnxruntime_runs(tmp_path):
    exported = export_onnx(str(SAMPLES / "tiny_convnet.prototxt"),
                           str(SAMPLES / "tiny_convnet.caffemodel"))
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    expected = run_onnxruntime(exported.serialize(), {"data": x})["prob"]
    below = tmp_path / "embedded.onnx"
    assert exported.save(below, embed_limit=exported.weight_bytes) == [str(below)]
    above = tmp_path / "external.onnx"
    written = exported.save(above, embed_limit=exported.weight_bytes - 1)
    assert written == [str(above), str(tmp_path / "external.onnx.data")]
    model = onnx.load(str(above), load_external_data=False)
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and (tmp_path / "external.onnx.data").stat().st_size >= 20_000
    onnx.checker.check_model(str(above), full_check=True)
    np.testing.assert_array_equal(run_onnxruntime(str(above), {"data": x})["prob"], expected)


@pytest.fixture
def slow_only(request):
    expression = request.config.getoption("markexpr") or ""
    if "slow" not in expression or "not slow" in expression:
        pytest.skip("writes 2 GiB: run with -m slow")


@pytest.mark.slow
def test_weights_over_2_gib_are_saved_external_and_run(slow_only, tmp_path):
    """InnerProduct 16384 -> 32769: 16384 * 32769 * 4 = 2,147,549,184 bytes of weights, 64 KiB
    over 2 GiB, so the default ``save`` switches to external data by itself."""
    inputs, outputs = 16384, 32769
    net = load_net("wide_fc.prototxt", text=WIDE_FC % (inputs, outputs))
    exported = export_onnx(net, random_seed=0)
    assert exported.weight_bytes > 2**31 > EMBED_LIMIT
    path, data = tmp_path / "wide.onnx", tmp_path / "wide.onnx.data"
    try:
        assert exported.save(path) == [str(path), str(data)]
        assert path.stat().st_size < 1_000_000
        assert data.stat().st_size == exported.weight_bytes
        x = np.random.default_rng(1).standard_normal((1, inputs)).astype(np.float32)
        (y,) = run_onnxruntime(str(path), {"data": x}).values()
    finally:
        data.unlink(missing_ok=True)  # pytest keeps recent temporary directories: 2 GiB
    weight, bias = exported.caffe_weights["fc"]
    expected = x @ weight.T + bias  # float32: a float64 copy of the weights would be 4 GiB
    assert y.shape == (1, outputs)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
