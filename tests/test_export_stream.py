"""Saving an export streams its initializers: the same bytes as protobuf's serialization of the
whole model, still fully checked, weights of a caffemodel copied file to file."""

from __future__ import annotations

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from prototxt_tools.caffemodel import filecopy  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export import stream  # noqa: E402

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
    path = tmp_path / "m.onnx"
    with pytest.raises((onnx.checker.ValidationError, onnx.shape_inference.InferenceError)):
        exported.save(path)
    assert not path.exists()


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
