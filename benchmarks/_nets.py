"""Synthetic benchmark nets: deploy prototxts written as text, caffemodels with random weights.

The prototxts are the published architectures (VGG-16 "D", BVLC CaffeNet) or a made-up net
with 600 M parameters; the caffemodels hold random float32 weights of exactly the shapes our
shape inference gives each layer, written with ``write_caffemodel``.  Nothing here is measured:
the benchmarks time separate processes reading these files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import _harness  # noqa: F401  (puts this checkout on sys.path)


def _conv(name: str, bottom: str, out: int, kernel: int, pad: int = 0, stride: int = 1,
          group: int = 1) -> str:
    extra = (f" pad: {pad}" if pad else "") + (f" stride: {stride}" if stride > 1 else "") + \
        (f" group: {group}" if group > 1 else "")
    return (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{name}"\n'
            f'  convolution_param {{ num_output: {out} kernel_size: {kernel}{extra} }} }}\n')


def _relu(name: str, blob: str) -> str:
    return f'layer {{ name: "{name}" type: "ReLU" bottom: "{blob}" top: "{blob}" }}\n'


def _pool(name: str, bottom: str, kernel: int, stride: int) -> str:
    return (f'layer {{ name: "{name}" type: "Pooling" bottom: "{bottom}" top: "{name}"\n'
            f'  pooling_param {{ pool: MAX kernel_size: {kernel} stride: {stride} }} }}\n')


def _fc(name: str, bottom: str, out: int) -> str:
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{name}"\n'
            f'  inner_product_param {{ num_output: {out} }} }}\n')


def _dropout(name: str, blob: str) -> str:
    return (f'layer {{ name: "{name}" type: "Dropout" bottom: "{blob}" top: "{blob}"\n'
            f'  dropout_param {{ dropout_ratio: 0.5 }} }}\n')


def _lrn(name: str, bottom: str) -> str:
    return (f'layer {{ name: "{name}" type: "LRN" bottom: "{bottom}" top: "{name}"\n'
            f'  lrn_param {{ local_size: 5 alpha: 0.0001 beta: 0.75 }} }}\n')


def _input(shape: tuple) -> str:
    dims = " ".join(f"dim: {d}" for d in shape)
    return (f'layer {{ name: "data" type: "Input" top: "data"\n'
            f'  input_param {{ shape {{ {dims} }} }} }}\n')


def _classifier(bottom: str) -> str:
    return f'layer {{ name: "prob" type: "Softmax" bottom: "{bottom}" top: "prob" }}\n'


def vgg16() -> str:
    """VGG_ILSVRC_16_layers deploy (138,357,544 parameters)."""
    text, blob = 'name: "VGG_ILSVRC_16_layers"\n' + _input((1, 3, 224, 224)), "data"
    for block, (convs, out) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, convs + 1):
            name = f"conv{block}_{i}"
            text += _conv(name, blob, out, 3, pad=1) + _relu(f"relu{block}_{i}", name)
            blob = name
        text += _pool(f"pool{block}", blob, 2, 2)
        blob = f"pool{block}"
    for name, out in (("fc6", 4096), ("fc7", 4096)):
        text += _fc(name, blob, out) + _relu(f"relu{name[2:]}", name)
        text += _dropout(f"drop{name[2:]}", name)
        blob = name
    return text + _fc("fc8", blob, 1000) + _classifier("fc8")


def caffenet() -> str:
    """bvlc_reference_caffenet deploy, batch 1 (60,965,224 parameters; AlexNet's size)."""
    text = 'name: "CaffeNet"\n' + _input((1, 3, 227, 227))
    text += _conv("conv1", "data", 96, 11, stride=4) + _relu("relu1", "conv1")
    text += _pool("pool1", "conv1", 3, 2) + _lrn("norm1", "pool1")
    text += _conv("conv2", "norm1", 256, 5, pad=2, group=2) + _relu("relu2", "conv2")
    text += _pool("pool2", "conv2", 3, 2) + _lrn("norm2", "pool2")
    text += _conv("conv3", "norm2", 384, 3, pad=1) + _relu("relu3", "conv3")
    text += _conv("conv4", "conv3", 384, 3, pad=1, group=2) + _relu("relu4", "conv4")
    text += _conv("conv5", "conv4", 256, 3, pad=1, group=2) + _relu("relu5", "conv5")
    text += _pool("pool5", "conv5", 3, 2)
    blob = "pool5"
    for name in ("fc6", "fc7"):
        text += _fc(name, blob, 4096) + _relu(f"relu{name[2:]}", name)
        text += _dropout(f"drop{name[2:]}", name)
        blob = name
    return text + _fc("fc8", blob, 1000) + _classifier("fc8")


def big(fc_outputs: tuple = (8192, 16384, 12288)) -> str:
    """A made-up classifier whose fully connected layers hold ~616 M parameters (2.46 GB):
    two small convolutions, then 32768 -> 8192 -> 16384 -> 12288 -> 1000."""
    text = 'name: "Big600M"\n' + _input((1, 3, 64, 64))
    text += _conv("conv1", "data", 64, 3, pad=1) + _relu("relu1", "conv1")
    text += _pool("pool1", "conv1", 2, 2)
    text += _conv("conv2", "pool1", 128, 3, pad=1) + _relu("relu2", "conv2")
    text += _pool("pool2", "conv2", 2, 2)
    blob = "pool2"
    for i, out in enumerate(fc_outputs, 1):
        text += _fc(f"fc{i}", blob, out) + _relu(f"relu_fc{i}", f"fc{i}")
        blob = f"fc{i}"
    return text + _fc("classifier", blob, 1000) + _classifier("classifier")


NETS = {"vgg16": vgg16, "caffenet": caffenet, "big": big}


def param_shapes(prototxt: str, with_types: bool = False) -> dict:
    """Layer name -> parameter blob shapes (with ``with_types``: (type, shapes)), from our
    Caffe-exact shape inference."""
    from prototxt_tools.load import load_net
    from prototxt_tools.shapes.network import infer_shapes

    loaded = load_net(prototxt)
    shapes = infer_shapes(loaded.network)
    result = {}
    for layer in loaded.network.layers:
        outcome = shapes.layers.get(layer)
        params = outcome.shapes.params if outcome is not None and outcome.shapes else None
        if params:
            shapes_ = [tuple(p) for p in params]
            result[layer.name] = (layer.type, shapes_) if with_types else shapes_
    return result


def random_blobs(shapes: dict, seed: int = 0) -> dict:
    """Uniform weights with variance 1/fan_in (float32, drawn in place), small biases."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, blob_shapes in shapes.items():
        blobs = []
        for shape in blob_shapes:
            values = rng.random(shape, dtype=np.float32)
            bound = np.sqrt(3.0 / max(1, int(np.prod(shape[1:])))) if len(shape) >= 2 else 0.1
            values -= np.float32(0.5)
            values *= np.float32(2 * bound)
            blobs.append(values)
        weights[name] = blobs
    return weights


def random_typed_blobs(typed: dict, seed: int = 0) -> dict:
    """Like :func:`random_blobs` for ``param_shapes(..., with_types=True)``, with what
    normalization layers need to stay finite: BatchNorm (mean, variance > 0, scale factor 1),
    Scale (factor near 1, bias)."""
    rng = np.random.default_rng(seed)
    plain = random_blobs({name: shapes for name, (kind, shapes) in typed.items()
                          if kind not in ("BatchNorm", "Scale")}, seed)

    def uniform(shape, low, high):
        return (low + (high - low) * rng.random(shape)).astype(np.float32)

    for name, (kind, shapes) in typed.items():
        if kind == "BatchNorm":
            plain[name] = [uniform(shapes[0], -0.5, 0.5), uniform(shapes[1], 0.5, 2.0),
                           np.ones(shapes[2], np.float32)]
        elif kind == "Scale":
            plain[name] = [uniform(shapes[0], 0.5, 1.5)] + [uniform(s, -0.5, 0.5)
                                                            for s in shapes[1:]]
    return plain


def write_weights(prototxt: str, caffemodel: str, seed: int = 0) -> int:
    """Random weights for any deploy prototxt (a corpus net) as a caffemodel; returns the
    parameter count."""
    from prototxt_tools.caffemodel import write_caffemodel
    from prototxt_tools.load import load_net

    weights = random_typed_blobs(param_shapes(prototxt, with_types=True), seed)
    write_caffemodel(caffemodel, load_net(prototxt).net, weights, durable=False)
    return sum(b.size for blobs in weights.values() for b in blobs)


def write_net(kind: str, directory: str | os.PathLike) -> tuple[str, str, int]:
    """Write ``<kind>.prototxt`` and ``<kind>.caffemodel`` (current format) into ``directory``;
    returns (prototxt, caffemodel, parameter count)."""
    from prototxt_tools.caffemodel import write_caffemodel
    from prototxt_tools.text import parse_prototxt

    prototxt = os.path.join(directory, f"{kind}.prototxt")
    Path(prototxt).write_text(NETS[kind]())
    weights = random_blobs(param_shapes(prototxt))
    net = parse_prototxt(Path(prototxt).read_text(), prototxt).message
    caffemodel = os.path.join(directory, f"{kind}.caffemodel")
    write_caffemodel(caffemodel, net, weights, durable=False)
    count = sum(b.size for blobs in weights.values() for b in blobs)
    return prototxt, caffemodel, count


_V1_TYPES = {"Convolution": "CONVOLUTION", "ReLU": "RELU", "Pooling": "POOLING", "LRN": "LRN",
             "InnerProduct": "INNER_PRODUCT", "Dropout": "DROPOUT", "Softmax": "SOFTMAX"}


def write_v1_caffemodel(caffemodel: str, path: str) -> None:
    """The same weights as a V1 (``layers`` with enum types) caffemodel, as BVLC's own
    CaffeNet/AlexNet downloads are: the input for ``upgrade`` to rewrite."""
    from prototxt_tools.caffemodel import read_caffemodel, write_caffemodel
    from prototxt_tools.schema import caffe_pb2

    model = read_caffemodel(caffemodel)
    v1 = caffe_pb2.NetParameter(name=model.net.name)
    weights = []
    for layer, held in zip(model.net.layer, model.layers):
        if layer.type == "Input":
            continue
        entry = v1.layers.add(name=layer.name, bottom=layer.bottom, top=layer.top)
        entry.type = caffe_pb2.V1LayerParameter.LayerType.Value(_V1_TYPES[layer.type])
        for param in ("convolution_param", "pooling_param", "lrn_param", "inner_product_param",
                      "dropout_param"):
            if layer.HasField(param):
                getattr(entry, param).CopyFrom(getattr(layer, param))
        weights.append(held)
    write_caffemodel(path, v1, weights, durable=False)
