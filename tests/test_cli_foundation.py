"""CLI of the foundation: dump, upgrade (prototxt and caffemodel), exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from google.protobuf import text_format

from prototxt_tools.caffemodel import read_caffemodel
from prototxt_tools.cli import main
from prototxt_tools.schema import caffe_pb2

from conftest import SAMPLES


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prototxt_tools", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_version_and_help():
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("prototxt-tools ")
    assert run_cli("--help").returncode == 0


def test_dump_prototxt_lists_layers_with_lines(capsys):
    assert main(["dump", str(SAMPLES / "alexnet.prototxt")]) == 0
    out = capsys.readouterr().out
    assert "V2 format" in out
    # fc6 is the 17th layer block; its `layer {` is on line 204 of the sample
    assert any(" fc6 " in line and "line   204" in line for line in out.splitlines())


def test_dump_caffemodel_json(capsys):
    import json
    assert main(["dump", "--format", "json", str(SAMPLES / "tiny_convnet.caffemodel")]) == 0
    report = json.loads(capsys.readouterr().out)
    fc = next(l for l in report["layers"] if l["name"] == "fc")
    assert [b["shape"] for b in fc["blobs"]] == [[10, 512], [10]]
    # 8*3*3*3+8 conv, 3*8 BatchNorm statistics... counted from the file: 216+8 + 8+8+1 + 8+8 + 5120+10
    assert report["parameters"] == 216 + 8 + 17 + 16 + 5130


def test_upgrade_prototxt_writes_current_format(tmp_path):
    out = tmp_path / "lenet.prototxt"
    assert main(["upgrade", str(SAMPLES / "lenet_v1.prototxt"), "-o", str(out)]) == 0
    net = text_format.Parse(out.read_text(), caffe_pb2.NetParameter())  # protobuf's own parser
    assert not net.layers and not net.input
    assert [l.type for l in net.layer][:3] == ["Input", "Convolution", "Pooling"]
    assert out.read_text().startswith("# LeNet for 28x28 digits")


def _v1_lenet_caffemodel(path, rng):
    """A V1-format caffemodel built with protobuf itself (independent of our writer)."""
    net = text_format.Parse((SAMPLES / "lenet_v1.prototxt").read_text(), caffe_pb2.NetParameter())
    shapes = {"conv1": [(20, 1, 5, 5), (20,)], "conv2": [(50, 20, 5, 5), (50,)],
              "ip1": [(500, 800), (500,)], "ip2": [(10, 500), (10,)]}
    for layer in net.layers:
        for shape in shapes.get(layer.name, []):
            blob = layer.blobs.add()
            # V1-era files store legacy 4-D num/channels/height/width
            legacy = (1,) * (4 - len(shape)) + shape
            blob.num, blob.channels, blob.height, blob.width = legacy
            blob.data.extend(rng.normal(0, 0.1, int(np.prod(shape))).astype(np.float32).tolist())
    path.write_bytes(net.SerializeToString())


def test_upgrade_v1_caffemodel_runs_the_same_in_opencv(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(7)
    v1_model = tmp_path / "lenet_v1.caffemodel"
    _v1_lenet_caffemodel(v1_model, rng)
    new_proto, new_model = tmp_path / "lenet.prototxt", tmp_path / "lenet.caffemodel"
    assert main(["upgrade", str(SAMPLES / "lenet_v1.prototxt"), "-o", str(new_proto)]) == 0
    assert main(["upgrade", str(v1_model), "-o", str(new_model)]) == 0
    upgraded = read_caffemodel(new_model)
    assert upgraded.format == "V2"
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    outs = []
    for proto, model in ((SAMPLES / "lenet_v1.prototxt", v1_model), (new_proto, new_model)):
        net = cv2.dnn.readNetFromCaffe(str(proto), str(model))  # OpenCV upgrades V1 itself
        net.setInput(x)
        outs.append(net.forward())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_v1_net_and_v1_caffemodel_export_straight_to_onnx(tmp_path):
    """The 2014 pair, exported without upgrading either file first: onnxruntime computes what
    OpenCV's Caffe importer (which upgrades both itself) computes."""
    cv2 = pytest.importorskip("cv2")
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(11)
    v1_model, out = tmp_path / "lenet_v1.caffemodel", tmp_path / "lenet.onnx"
    _v1_lenet_caffemodel(v1_model, rng)
    assert main(["onnx", str(SAMPLES / "lenet_v1.prototxt"), "--weights", str(v1_model),
                 "-o", str(out)]) == 0
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    net = cv2.dnn.readNetFromCaffe(str(SAMPLES / "lenet_v1.prototxt"), str(v1_model))
    net.setInput(x)
    expected = net.forward()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {"data": x})
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("content,expected", [
    ("layer {\n  name: 'x'\n  bottom 'y'\n}\n", ":3:"),
    ("layer {\n  name: 'x'\n  convolution_param { num_output: 'many' }\n}\n", ":3:"),
    ("layer {\n  name: 'x'\n  type: 'Pooling'\n  pooling_param { pool: MAXIMUM }\n}\n", "did you mean 'MAX'"),
    ("layer { name: 'x'\n", ":"),
], ids=["missing-colon", "wrong-type", "misspelt-enum", "unclosed-block"])
def test_bad_prototxt_is_one_line_exit_2(tmp_path, content, expected):
    p = tmp_path / "bad.prototxt"
    p.write_text(content)
    out = run_cli("dump", str(p))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(str(p) + ":") and expected in lines[0]
    assert "Traceback" not in out.stderr


def test_misspelt_field_warns_with_suggestion(tmp_path):
    p = tmp_path / "m.prototxt"
    p.write_text("layer {\n  name: 'x'\n  convolution_param { kernal_size: 3 }\n}\n")
    out = run_cli("dump", str(p))
    assert out.returncode == 0
    assert f"{p}:3:23: warning:" in out.stderr and "did you mean 'kernel_size'" in out.stderr


def test_missing_file_and_directory_exit_2(tmp_path):
    for target in (tmp_path / "nope.prototxt", tmp_path):
        out = run_cli("dump", str(target))
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_truncated_caffemodel_leaves_no_output(tmp_path):
    data = (SAMPLES / "tiny_convnet.caffemodel").read_bytes()
    bad = tmp_path / "cut.caffemodel"
    bad.write_bytes(data[: len(data) // 2])
    out_file = tmp_path / "out.caffemodel"
    out = run_cli("upgrade", str(bad), "-o", str(out_file))
    assert out.returncode == 2 and "byte" in out.stderr and "Traceback" not in out.stderr
    assert not out_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.caffemodel"]
