"""Saving an export streams its initializers: the same bytes as protobuf's serialization of the
whole model, checked on request, weights of a caffemodel copied file to file."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from prototxt_tools.caffemodel import filecopy  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export import stream  # noqa: E402
from prototxt_tools.export.onnx_proto import ExportCheckError  # noqa: E402

from conftest import CORPUS, SAMPLES, corpus_available  # noqa: E402

TINY = SAMPLES / "tiny_convnet.prototxt"
TINY_WEIGHTS = SAMPLES / "tiny_convnet.caffemodel"
CAFFENET = CORPUS / "BVLC_caffe/models/bvlc_reference_caffenet/deploy.prototxt"
RESNET50 = CORPUS / "KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt"


@pytest.mark.parametrize("stream_min_bytes", [0, stream.STREAM_MIN_BYTES])
def test_saved_bytes_are_protobufs_serialization(tmp_path, monkeypatch, stream_min_bytes):
    """Every initializer streamed (0) or only the big ones: byte for byte what
    ``ModelProto.SerializeToString`` gives for the model holding its initializers."""
    monkeypatch.setattr(stream, "STREAM_MIN_BYTES", stream_min_bytes)
    nets = [(TINY, str(TINY_WEIGHTS))]
    if corpus_available():
        nets += [(CAFFENET, None), (RESNET50, None)]
    for net, weights in nets:
        exported = export_onnx(str(net), weights, random_seed=None if weights else 3)
        path = tmp_path / "m.onnx"
        assert exported.save(path) == [str(path)]
        assert path.read_bytes() == exported.to_proto().SerializeToString(), net.name


def test_weights_of_a_caffemodel_are_copied_file_to_file(tmp_path, monkeypatch):
    if filecopy._copy_file_range is None:
        pytest.skip("no os.copy_file_range here")
    copies = []
    real = filecopy._copy_file_range
    monkeypatch.setattr(filecopy, "_copy_file_range",
                        lambda *args: copies.append(args[2]) or real(*args))
    monkeypatch.setattr(stream, "STREAM_MIN_BYTES", 0)
    exported = export_onnx(str(TINY), str(TINY_WEIGHTS))
    exported.save(tmp_path / "m.onnx")
    # every blob of the caffemodel goes straight from file to file, except BatchNorm's
    # statistics: the export computes mean / factor and sqrt(var / factor + eps) from them
    kept = sum(a.nbytes for layer, blobs in exported.caffe_weights.items() if layer != "bn1"
               for a in blobs)
    assert sum(copies) == kept == 21480


def test_the_checker_still_sees_initializer_shapes(tmp_path):
    """The full check runs on the model with stub external data: shape inference still
    compares each initializer's dims with the graph (here a Conv weight of the wrong shape)."""
    exported = export_onnx(str(TINY), str(TINY_WEIGHTS))
    index = next(i for i, (name, a) in enumerate(exported.initializers) if a.ndim == 4)
    name, weight = exported.initializers[index]
    exported.initializers[index] = (name, np.zeros((weight.shape[0] + 1,) + weight.shape[1:],
                                                   np.float32))
    for external in (False, True):
        path = tmp_path / f"m{external}.onnx"
        with pytest.raises(ExportCheckError, match="onnx's checker refused"):
            exported.save(path, external_data=external, check=True)
        assert not path.exists() and not os.path.exists(f"{path}.data")
    exported.save(tmp_path / "unchecked.onnx")  # the default writes without onnx's checker
    with pytest.raises((onnx.checker.ValidationError, onnx.shape_inference.InferenceError)):
        onnx.checker.check_model(str(tmp_path / "unchecked.onnx"), full_check=True)


def test_export_writes_without_importing_onnx(tmp_path):
    """The CLI's export (no --check/--verify) builds and writes the model with our own copy of
    ONNX's schema: importing onnx alone costs more than copying a VGG-16 caffemodel (nor does
    it import the linter).  The file it writes is what onnx itself reads and checks."""
    out = tmp_path / "m.onnx"
    code = ("import sys\nfrom prototxt_tools.cli import main\n"
            f"status = main(['onnx', {str(TINY)!r}, '--weights', {str(TINY_WEIGHTS)!r}, "
            f"'-o', {str(out)!r}])\n"
            "assert status == 0, status\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime', "
            "'ml_dtypes') or m.startswith('prototxt_tools.lint')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    onnx.checker.check_model(str(out), full_check=True)
    model = onnx.load(str(out))
    assert model.producer_name == "prototxt-tools" and len(model.graph.initializer) > 0


def test_progress_follows_the_weights(tmp_path):
    exported = export_onnx(str(TINY), random_seed=1)
    calls = []
    exported.save(tmp_path / "m.onnx", progress=lambda done, total: calls.append((done, total)))
    total = exported.weight_bytes
    assert calls[-1][0] == calls[-1][1] >= total
    external = []
    exported.save(tmp_path / "e.onnx", external_data=True,
                  progress=lambda done, total: external.append((done, total)))
    assert external[-1][0] == external[-1][1] == os.path.getsize(tmp_path / "e.onnx.data")
