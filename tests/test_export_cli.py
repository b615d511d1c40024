"""The ``onnx`` command and the export API around the per-layer numerics: refusing nets up front
with positions, Caffe's weight matching, tensor names, opsets, dynamic batch, external data,
``--verify``, atomic writes and lazy imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from prototxt_tools.caffemodel import write_caffemodel  # noqa: E402
from prototxt_tools.cli import main  # noqa: E402
from prototxt_tools.errors import CaffemodelError, PrototxtToolsError, UnsupportedError  # noqa: E402
from prototxt_tools.export import (EXPORTERS, SUPPORTED, ExportContext, export_onnx, exporter,  # noqa: E402
                                   supported_markdown)
from prototxt_tools.export import model as model_module  # noqa: E402
from prototxt_tools.export.verify import compare, run_onnxruntime  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402
from prototxt_tools.schema import caffe_pb2  # noqa: E402

from conftest import SAMPLES  # noqa: E402

TINY = SAMPLES / "tiny_convnet.prototxt"
TINY_WEIGHTS = SAMPLES / "tiny_convnet.caffemodel"

UNSUPPORTED = """name: "bad"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "py" type: "Python" bottom: "data" top: "py"
  python_param { module: "my_layers" layer: "Magic" } }
layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
  pooling_param { pool: STOCHASTIC kernel_size: 2 } }
layer { name: "odd" type: "FancyOp" bottom: "pool" top: "odd" }
layer { name: "bn" type: "BatchNorm" bottom: "pool" top: "bn"
  batch_norm_param { use_global_stats: false } }
"""

FC_NET = """name: "fc"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 12 } } }
layer { name: "fc6" type: "InnerProduct" bottom: "data" top: "fc6" inner_product_param { num_output: 4 } }
layer { name: "fc7" type: "InnerProduct" bottom: "fc6" top: "fc7" inner_product_param { num_output: 3 } }
"""


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prototxt_tools", *args], capture_output=True,
                          text=True)


# --- refusing up front -------------------------------------------------------------------

def test_every_unsupported_layer_and_option_listed_once_with_positions(tmp_path):
    path = write(tmp_path, "bad.prototxt", UNSUPPORTED)
    with pytest.raises(UnsupportedError) as info:
        export_onnx(path)
    error = info.value
    assert (error.path, error.line) == (path, 3)  # the first problem leads: the Python layer
    text = str(error)
    assert "\n" not in text and "(4 problems)" in text
    assert "module 'my_layers', class 'Magic'" in text
    assert "; 6:" in text and "STOCHASTIC" in text  # at `pool: STOCHASTIC`, line 6
    assert "; 7:" in text and "'FancyOp' has no ONNX exporter" in text
    assert "; 9:" in text and "use_global_stats: false" in text
    assert [line for line, _, _ in error.problems] == [3, 6, 7, 9]


def test_cli_unsupported_net_exits_2_with_one_line_and_writes_nothing(tmp_path):
    path = write(tmp_path, "bad.prototxt", UNSUPPORTED)
    out = tmp_path / "bad.onnx"
    result = run_cli("onnx", path, "--random-weights", "0", "-o", str(out))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"{path}:3:")
    assert not out.exists()


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    path = write(tmp_path, "broken.prototxt", 'layer { name: "x" type: "ReLU" bottom: \n')
    result = run_cli("onnx", path, "-o", str(tmp_path / "x.onnx"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(path)
    missing = run_cli("onnx", str(tmp_path / "nope.prototxt"), "-o", str(tmp_path / "x.onnx"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_net_with_parameters_needs_weights_or_a_seed(tmp_path):
    with pytest.raises(PrototxtToolsError, match="--random-weights SEED"):
        export_onnx(str(TINY))


def test_opset_outside_the_supported_range_is_refused():
    with pytest.raises(UnsupportedError, match="opset 12"):
        export_onnx(str(TINY), str(TINY_WEIGHTS), opset=12)


# --- weights matched as Caffe's CopyTrainedLayersFrom --------------------------------------

def _fc_weights(fc6_shape=(4, 12)):
    rng = np.random.default_rng(0)
    return {"fc6": [rng.standard_normal(fc6_shape).astype(np.float32),
                    rng.standard_normal(4).astype(np.float32)],
            "fc7": [rng.standard_normal((3, 4)).astype(np.float32),
                    rng.standard_normal(3).astype(np.float32)]}


def test_shape_mismatch_with_equal_count_is_refused_as_caffe_does(tmp_path):
    path = write(tmp_path, "fc.prototxt", FC_NET)
    caffemodel = tmp_path / "fc.caffemodel"
    # 12 x 4 holds as many values as 4 x 12, but Caffe compares shapes (net surgery's fc6)
    write_caffemodel(str(caffemodel), load_net(path).net, _fc_weights((12, 4)))
    with pytest.raises(CaffemodelError) as info:
        export_onnx(path, str(caffemodel))
    error = info.value
    assert error.line == 3
    assert ("Cannot copy param 0 weights from layer 'fc6'; shape mismatch.  Source param "
            "shape is 12 4 (48); target param shape is 4 12 (48)") in str(error)
    assert "rename the layer" in str(error)


def test_missing_and_miscounted_weights_listed_together(tmp_path):
    path = write(tmp_path, "fc.prototxt", FC_NET)
    caffemodel = tmp_path / "fc.caffemodel"
    only_fc6 = caffe_pb2.NetParameter()
    only_fc6.layer.add().CopyFrom(load_net(path).net.layer[1])
    write_caffemodel(str(caffemodel), only_fc6, {"fc6": _fc_weights()["fc6"][:1]})
    with pytest.raises(CaffemodelError) as info:
        export_onnx(path, str(caffemodel))
    text = str(info.value)
    assert "Incompatible number of blobs for layer fc6" in text and "has 1" in text
    assert "; 4:9: " in text and "no weights for layer 'fc7'" in text


def test_legacy_4d_blobs_load_like_caffe_and_unknown_layers_are_ignored(tmp_path):
    """A V1-era caffemodel stores InnerProduct weights as num/channels/height/width
    (1, 1, N, K); Caffe's ShapeEquals pads the target shape with leading 1s.  A caffemodel
    layer the net lacks is ignored ("Ignoring source layer")."""
    path = write(tmp_path, "fc.prototxt", FC_NET)
    weights = _fc_weights()
    model = caffe_pb2.NetParameter()
    for name in ("fc6", "fc7", "loss_extra"):
        layer = model.layer.add(name=name, type="InnerProduct")
        for array in weights.get(name, weights["fc7"]):
            blob = layer.blobs.add()
            blob.num, blob.channels = 1, 1
            blob.height, blob.width = (1, array.shape[0]) if array.ndim == 1 else array.shape
            blob.data.extend(array.ravel())  # protobuf's own encoder builds the test file
    caffemodel = tmp_path / "legacy.caffemodel"
    caffemodel.write_bytes(model.SerializeToString())
    exported = export_onnx(path, str(caffemodel))
    x = np.random.default_rng(1).standard_normal((2, 12)).astype(np.float32)
    (ours,) = run_onnxruntime(exported.serialize(), {"data": x}).values()
    expected = (x @ weights["fc6"][0].T + weights["fc6"][1]) @ weights["fc7"][0].T + weights["fc7"][1]
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


# --- the model written ---------------------------------------------------------------------

def test_names_opset_ir_version_and_producer():
    exported = export_onnx(str(TINY), str(TINY_WEIGHTS))
    model = exported.model
    graph = model.graph
    assert [i.name for i in graph.input] == ["data"] and [o.name for o in graph.output] == ["prob"]
    # conv1 -> bn1 -> scale1 -> relu1 all in place: the last version keeps the plain name
    assert [v.name for v in graph.value_info][:4] == ["conv1@0", "conv1@1", "conv1@2", "conv1"]
    assert [n.name for n in graph.node][:2] == ["conv1", "bn1"]
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert model.ir_version == 8  # the lowest IR version opset 17 needs
    assert (model.producer_name, model.producer_version) == ("prototxt-tools", "0.1.0")
    old = export_onnx(str(TINY), str(TINY_WEIGHTS), opset=13).model
    assert old.ir_version == 7 and old.opset_import[0].version == 13


def test_value_info_is_ours_and_input_override_changes_it():
    # (the trained fc expects 8x8x8 inputs: random weights follow the new shapes)
    exported = export_onnx(str(TINY), random_seed=0, input_shapes={"data": (2, 3, 32, 32)})
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in exported.model.graph.value_info}
    # 32x32 conv pad 1 keeps 32; max pool k3 s2 ceil: ceil((32 - 3) / 2) + 1 = 16
    assert shapes["conv1"] == [2, 8, 32, 32] and shapes["pool1"] == [2, 8, 16, 16]
    assert exported.input_shapes == {"data": (2, 3, 32, 32)}


def test_export_is_deterministic():
    first = export_onnx(str(TINY), str(TINY_WEIGHTS)).serialize()
    assert export_onnx(str(TINY), str(TINY_WEIGHTS)).serialize() == first


def test_dynamic_batch_runs_any_batch_like_the_static_export():
    dynamic = export_onnx(str(TINY), str(TINY_WEIGHTS), dynamic_batch=True)
    assert dynamic.model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    static = export_onnx(str(TINY), str(TINY_WEIGHTS), input_shapes={"data": (3, 3, 16, 16)})
    x = np.random.default_rng(2).standard_normal((3, 3, 16, 16)).astype(np.float32)
    ours = run_onnxruntime(dynamic.serialize(), {"data": x})["prob"]
    np.testing.assert_array_equal(ours, run_onnxruntime(static.serialize(), {"data": x})["prob"])


def test_dynamic_batch_refuses_ops_along_the_batch_axis(tmp_path):
    path = write(tmp_path, "cat.prototxt", """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "cat" type: "Concat" bottom: "data" bottom: "data" top: "cat" concat_param { axis: 0 } }
layer { name: "flat" type: "Reshape" bottom: "cat" top: "flat" reshape_param { shape { dim: -1 } } }
""")
    with pytest.raises(UnsupportedError) as info:
        export_onnx(path, dynamic_batch=True)
    assert info.value.line == 3 and "batch axis" in str(info.value)
    assert len(info.value.problems) == 2  # the Reshape to (-1,) merges the batch too
    export_onnx(path)  # fine with a static batch


def test_external_data_round_trip(tmp_path, monkeypatch):
    exported = export_onnx(str(TINY), str(TINY_WEIGHTS))
    x = np.random.default_rng(3).standard_normal((1, 3, 16, 16)).astype(np.float32)
    expected = run_onnxruntime(exported.serialize(), {"data": x})["prob"]
    out = tmp_path / "tiny.onnx"
    written = exported.save(out, external_data=True)
    assert written == [str(out), str(tmp_path / "tiny.onnx.data")]
    assert (tmp_path / "tiny.onnx.data").stat().st_size > 20_000  # conv and fc weights
    assert out.stat().st_size < 10_000
    np.testing.assert_array_equal(run_onnxruntime(str(out), {"data": x})["prob"], expected)
    # "auto" switches to external data past the protobuf limit (lowered here)
    monkeypatch.setattr(model_module, "EMBED_LIMIT", 1000)
    auto = tmp_path / "auto.onnx"
    assert exported.save(auto) == [str(auto), str(tmp_path / "auto.onnx.data")]
    with pytest.raises(UnsupportedError, match="external data"):
        exported.save(tmp_path / "never.onnx", external_data=False)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_failed_export_leaves_the_previous_file(tmp_path):
    out = tmp_path / "net.onnx"
    out.write_bytes(b"previous")
    path = write(tmp_path, "bad.prototxt", UNSUPPORTED)
    assert main(["onnx", path, "--random-weights", "1", "-o", str(out)]) == 2
    assert out.read_bytes() == b"previous"


# --- the command and --verify ---------------------------------------------------------------

def test_cli_random_weights_verify_against_opencv(tmp_path, capsys):
    pytest.importorskip("cv2")
    out = tmp_path / "tiny.onnx"
    assert main(["onnx", str(TINY), "--random-weights", "5", "-o", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "vs OpenCV" in text and "prob: max abs" in text and " ok" in text
    onnx.checker.check_model(str(out), full_check=True)


def test_cli_verify_exits_1_beyond_tolerance(tmp_path, capsys):
    pytest.importorskip("cv2")
    out = tmp_path / "tiny.onnx"
    # OpenCV and onnxruntime round the 72-term convolution sums differently: error ~1e-7
    assert main(["onnx", str(TINY), "--weights", str(TINY_WEIGHTS), "-o", str(out), "--verify",
                 "--tolerance", "0"]) == 1
    assert "BEYOND TOLERANCE" in capsys.readouterr().out


def test_verify_notes_opencv_ignoring_lrn_k(tmp_path, capsys):
    pytest.importorskip("cv2")
    path = write(tmp_path, "lrn.prototxt", """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 6 dim: 5 dim: 5 } } }
layer { name: "norm" type: "LRN" bottom: "data" top: "norm" lrn_param { local_size: 3 alpha: 1 k: 2 } }
""")
    assert main(["onnx", path, "-o", str(tmp_path / "lrn.onnx"), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "OpenCV ignores LRN k" in text and "BEYOND TOLERANCE" in text


def test_verify_knows_opencv_mvn_eps_differs_from_caffe():
    """layer_mvn (eps 0.1) matches real Caffe's output (test_export_corpus) but not OpenCV."""
    from prototxt_tools.export.verify import opencv_gaps
    net = load_net("mvn.prototxt", text="""
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 3 } } }
layer { name: "mvn" type: "MVN" bottom: "data" top: "mvn" mvn_param { eps: 0.1 } }
""").network
    assert "MVN eps inside the square root" in opencv_gaps(net)[0]


def test_verify_says_when_opencv_cannot_run_the_net(tmp_path, capsys):
    pytest.importorskip("cv2")
    path = write(tmp_path, "argmax.prototxt", """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 5 } } }
layer { name: "top" type: "ArgMax" bottom: "data" top: "top" argmax_param { axis: 1 } }
""")
    assert main(["onnx", path, "-o", str(tmp_path / "argmax.onnx"), "--verify"]) == 0
    assert "OpenCV could not run this net" in capsys.readouterr().out


def test_compare_separates_shape_from_value():
    assert not compare("x", np.zeros((2, 3)), np.zeros((3, 2)), 1e-4).ok
    row = compare("x", np.array([1.0, 2.0]), np.array([1.0, 2.0002]), 1e-4)
    assert row.max_abs == pytest.approx(2e-4) and row.max_rel == pytest.approx(1e-4, rel=1e-3)


def test_cli_help_states_the_opsets_the_exporter_uses():
    from prototxt_tools.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
    text = run_cli("onnx", "--help").stdout
    assert f"default {DEFAULT_OPSET}; {MIN_OPSET} to {MAX_OPSET}" in " ".join(text.split())


# --- registry and imports -------------------------------------------------------------------

def test_registry_refuses_duplicates_and_feeds_the_coverage_table():
    with pytest.raises(ValueError, match="registered twice"):
        exporter("ReLU")(lambda ctx, layer: None)
    required = {"Input", "Convolution", "Deconvolution", "InnerProduct", "Pooling", "ReLU",
                "Sigmoid", "TanH", "AbsVal", "BNLL", "ELU", "PReLU", "Power", "Exp", "Log",
                "Threshold", "Dropout", "Split", "Concat", "Slice", "Eltwise", "Flatten",
                "Reshape", "Softmax", "LRN", "BatchNorm", "Scale", "Bias", "MVN", "Crop",
                "ArgMax", "Reduction", "Tile", "ReLU6", "ConvolutionDepthwise",
                "DepthwiseConvolution", "ShuffleChannel", "Permute", "Upsample", "Interp",
                "Normalize", "Axpy"}
    assert required <= set(SUPPORTED) == set(EXPORTERS)
    table = supported_markdown()
    assert all(f"`{t}`" in table for t in required)
    assert "STOCHASTIC" in SUPPORTED["Pooling"]


def test_an_exporter_is_one_small_function(tmp_path):
    """The framework's contract: register a type, read tensors/shapes, add nodes."""
    @exporter("TestOnlyNegate")
    def negate(ctx: ExportContext, layer) -> None:
        ctx.op("Neg", ctx.bottom(layer), out=ctx.top(layer))
    try:
        from prototxt_tools.shapes import SHAPE_RULES, shape_rule
        from prototxt_tools.shapes.registry import LayerShapes
        shape_rule("TestOnlyNegate")(lambda layer, bottoms: LayerShapes([bottoms[0]]))
        path = write(tmp_path, "neg.prototxt", """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 2 } } }
layer { name: "neg" type: "TestOnlyNegate" bottom: "data" top: "neg" }
""")
        x = np.arange(4, dtype=np.float32).reshape(2, 2)
        (y,) = run_onnxruntime(export_onnx(path).serialize(), {"data": x}).values()
        np.testing.assert_array_equal(y, -x)
    finally:
        EXPORTERS.pop("TestOnlyNegate", None)
        SHAPE_RULES.pop("TestOnlyNegate", None)


def test_lint_shapes_load_and_cli_never_import_onnx():
    code = ("import sys, prototxt_tools.lint, prototxt_tools.shapes, prototxt_tools.load, "
            "prototxt_tools.ir, prototxt_tools.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('onnx', 'onnxruntime', 'cv2') or m == 'prototxt_tools.export'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]"


def test_cli_check_runs_onnx_checker_and_needs_onnx(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["onnx", str(TINY), "--weights", str(TINY_WEIGHTS), "-o", str(out),
                 "--check"]) == 0
    onnx.checker.check_model(str(out), full_check=True)
    # without the onnx package --check is one line and exit 2, and nothing is written
    missing = tmp_path / "missing.onnx"
    code = ("import sys\nsys.modules['onnx'] = None\nfrom prototxt_tools.cli import main\n"
            f"sys.exit(main(['onnx', {str(TINY)!r}, '--weights', {str(TINY_WEIGHTS)!r}, "
            f"'-o', {str(missing)!r}, '--check']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2 and not missing.exists()
    assert done.stderr.strip().splitlines() == [
        f"{missing}: error: checking the model needs the onnx package: pip install "
        "'prototxt-tools[onnx]'"]


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_pooling_with_an_empty_last_window_is_refused(tmp_path, pool):
    """kernel < stride without pad: ceil rounding starts the last window past the input, which
    Caffe computes as -FLT_MAX / a division by <= 0 and onnxruntime refuses to load."""
    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { '
                   'dim: 1 dim: 2 dim: 5 dim: 7 } } }\n'
                   'layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" '
                   f'pooling_param {{ pool: {pool} kernel_size: 1 stride: 3 }} }}\n')
    with pytest.raises(UnsupportedError, match=r"along the height starts at 6, past the input "
                       r"\(5\)") as caught:
        export_onnx(str(net))
    assert (caught.value.line, caught.value.col) == (2, 65)
    net.write_text(net.read_text().replace("stride: 3", "stride: 2"))  # last start 4 < 5
    exported = export_onnx(str(net))
    x = np.arange(70, dtype=np.float32).reshape(1, 2, 5, 7)
    y = run_onnxruntime(exported.serialize(), {"data": x})["pool"]
    assert y.shape == (1, 2, 3, 4)
    np.testing.assert_array_equal(y, x[:, :, ::2, ::2])  # a 1x1 kernel picks one value


@pytest.mark.parametrize("target", ["net", "weights", "weights.data"])
def test_cli_never_writes_over_its_inputs(tmp_path, capsys, target):
    """A mistyped -o naming the caffemodel (or the net) must not replace it with the model."""
    # "weights.data": external data would go to OUTPUT.data, here the caffemodel's name
    name = "net.onnx.data" if target == "weights.data" else "net.caffemodel"
    net, weights = tmp_path / "net.prototxt", tmp_path / name
    net.write_bytes(TINY.read_bytes())
    weights.write_bytes(TINY_WEIGHTS.read_bytes())
    before = {p: p.read_bytes() for p in (net, weights)}
    output = {"net": net, "weights": weights, "weights.data": tmp_path / "net.onnx"}[target]
    assert main(["onnx", str(net), "--weights", str(weights), "-o", str(output)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "names the input file" in err[0]
    assert {p: p.read_bytes() for p in (net, weights)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "net.prototxt"])
