"""Learned blobs for the exporter: from a caffemodel as Caffe copies them, or seeded random ones.

Caffe's ``Net::CopyTrainedLayersFrom`` matches weights to layers **by layer name**: a caffemodel
layer whose name the net lacks is ignored, one that matches must have exactly as many blobs as
the net's layer, and each blob must have the same shape (``Blob::ShapeEquals``; a legacy
num/channels/height/width blob compares with the shape padded with leading 1s), else Caffe
stops with "Cannot copy param 0 weights from layer 'fc6'; shape mismatch" — even when the
counts agree, which is why FCN's net surgery renames ``fc6`` to ``fc6-conv``.  A layer left
without weights would keep its random fillers in Caffe; the exporter refuses that instead.

Seeded random weights are refused up front, before any array is drawn, when their float32 bytes
would exceed the machine's memory (:func:`check_random_weights_fit`).
"""

from __future__ import annotations

import os
from math import prod
from typing import Callable

import numpy as np

from ..errors import CaffemodelError, PrototxtToolsError
from ..shapes.common import shape_string
from .problems import combined_error


def expected_params(shapes, layer) -> list:
    """Parameter-blob shapes of ``layer`` as the shape rule computed them (Caffe's order)."""
    result = shapes.layers.get(layer)
    if result is None or result.shapes is None or result.shapes.params is None:
        return []
    return [tuple(p) for p in result.shapes.params]


def _blob_protos(model, index: int):
    """The BlobProtos (values stripped) of caffemodel layer ``index``: V2, V1 or V0 layout."""
    if len(model.net.layer):
        return model.net.layer[index].blobs
    entry = model.net.layers[index]
    return entry.layer.blobs if entry.HasField("layer") else entry.blobs


def _is_legacy(proto) -> bool:
    return any(proto.HasField(f) for f in ("num", "channels", "height", "width"))


def shape_equals(source: tuple, legacy: bool, target: tuple) -> bool:
    """Blob::ShapeEquals: legacy 4-D source dims compare with the target padded to 4 axes."""
    if legacy:
        return len(target) <= 4 and tuple(source) == (1,) * (4 - len(target)) + tuple(target)
    return tuple(source) == tuple(target)


def match_weights(network, shapes, model) -> dict:
    """Layer name -> float32 arrays shaped as the net's layer expects, from ``model``.

    Every mismatch and every layer left without weights is listed in one
    :class:`CaffemodelError`, positioned at the layers in the prototxt.
    """
    first_by_name: dict = {}
    for layer in network.layers:
        first_by_name.setdefault(layer.name, layer)
    source = model.path or "the caffemodel"
    assigned: dict = {}
    problems: list = []
    for index, weights in enumerate(model.layers):
        layer = first_by_name.get(weights.name)
        if layer is None:
            continue  # Caffe: "Ignoring source layer"
        params = expected_params(shapes, layer)
        if len(weights.blobs) != len(params):
            problems.append((layer, f"Incompatible number of blobs for layer {layer.name}: "
                                    f"{source} has {len(weights.blobs)}, the net's "
                                    f"{layer.type} layer has {len(params)}"))
            continue
        arrays, protos = [], _blob_protos(model, index)
        for j, (blob, target) in enumerate(zip(weights.blobs, params)):
            legacy = j < len(protos) and _is_legacy(protos[j])
            if not shape_equals(blob.shape, legacy, target):
                problems.append((layer, f"Cannot copy param {j} weights from layer "
                                        f"'{layer.name}'; shape mismatch.  Source param shape "
                                        f"is {shape_string(blob.shape)}; target param shape "
                                        f"is {shape_string(target)} (Caffe matches weights "
                                        "by layer name and refuses other shapes even when the "
                                        "counts agree; rename the layer to start it afresh)"))
                break
            arrays.append(np.asarray(blob, dtype=np.float32).reshape(target))
        else:
            assigned[layer.name] = arrays  # a later layer of the same name wins, as in Caffe
    for layer in network.layers:
        if expected_params(shapes, layer) and layer.name not in assigned and \
                first_by_name[layer.name] is layer and \
                not any(layer is p[0] for p in problems):
            problems.append((layer, f"{source} has no weights for layer '{layer.name}' "
                                    f"({layer.type}); Caffe would start it from its fillers"))
    if problems:
        raise combined_error(CaffemodelError, [(layer.origin + ("name",), message)
                                               for layer, message in problems],
                             network.source_map, "the weights do not fit the net")
    return assigned


# --- seeded random weights ---------------------------------------------------------------

def _fan_in_uniform(shape: tuple, rng) -> np.ndarray:
    """U(-a, a) with a = sqrt(3 / fan_in): variance 1 / fan_in, drawn in float32 (large nets'
    weights are drawn several times faster than normal float64 ones)."""
    fan_in = max(1, prod(shape[1:]))
    return _uniform(-np.sqrt(3.0 / fan_in), np.sqrt(3.0 / fan_in))(shape, rng)


def _uniform(low: float, high: float):
    def draw(shape, rng) -> np.ndarray:
        values = np.asarray(rng.random(shape, dtype=np.float32))
        values *= np.float32(high - low)
        values += np.float32(low)
        return values
    return draw


def _default(params: list, rng) -> list:
    """Weights (2-D and up) with variance 1/fan_in keep activations O(1); small uniform biases."""
    return [_fan_in_uniform(s, rng) if len(s) >= 2 else _uniform(-0.5, 0.5)(s, rng)
            for s in params]


def _batch_norm(params: list, rng) -> list:
    """Summed mean, summed positive variance, scale factor 1."""
    mean, var, factor = params
    return [_uniform(-0.5, 0.5)(mean, rng), _uniform(0.5, 2.0)(var, rng),
            np.ones(factor, np.float32)]


def _positive_then_bias(params: list, rng) -> list:
    """Scale-like layers: a factor near 1, then (if present) a bias."""
    return [_uniform(0.5, 1.5)(params[0], rng)] + \
        [_uniform(-0.5, 0.5)(s, rng) for s in params[1:]]


def _fork_bn(params: list, rng) -> list:
    """SegNet (scale, shift) or PSPNet (slope, bias, mean, positive variance)."""
    if len(params) == 2:
        return _positive_then_bias(params, rng)
    slope, bias, mean, var = params
    return [_uniform(0.5, 1.5)(slope, rng), _uniform(-0.5, 0.5)(bias, rng),
            _uniform(-0.5, 0.5)(mean, rng), _uniform(0.5, 2.0)(var, rng)]


RANDOM_PARAMS: dict[str, Callable] = {
    "BN": _fork_bn,
    "BatchNorm": _batch_norm,
    "Scale": _positive_then_bias,
    "Normalize": _positive_then_bias,
    "PReLU": lambda params, rng: [_uniform(0.05, 0.3)(s, rng) for s in params],
}


def memory_limit() -> int:
    """Bytes of random weights the exporter agrees to draw: the machine's physical memory.

    Every array is held in memory until the model is written (streamed, so about once), hence a
    net whose parameters exceed the RAM could only swap or be OOM-killed after minutes of drawing.
    Without sysconf (Windows) a fixed 64 GiB stands in.
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 64 << 30


def _gib(n: int) -> str:
    return f"{n / (1 << 30):,.1f} GiB"


def check_random_weights_fit(network, shapes) -> None:
    """Refuse, before drawing anything, random float32 weights larger than :func:`memory_limit`,
    naming the largest layers at their positions."""
    sizes, seen = [], set()
    for layer in network.layers:
        params = expected_params(shapes, layer)
        if params and layer.name not in seen:
            seen.add(layer.name)
            sizes.append((layer, 4 * sum(prod(s) for s in params)))
    total, limit = sum(n for _, n in sizes), memory_limit()
    if total <= limit:
        return
    largest = sorted(sizes, key=lambda item: -item[1])[:3]  # stable: ties keep file order
    problems = [(layer.origin + ("name",), f"layer '{layer.name}' ({layer.type}) {_gib(n)}")
                for layer, n in largest]
    problems[0] = (problems[0][0], f"random weights for this net would take {_gib(total)} "
                                   f"(float32), more than the {_gib(limit)} of memory of this "
                                   f"machine: {problems[0][1]}")
    if len(sizes) > 3:
        problems[-1] = (problems[-1][0], f"{problems[-1][1]}; and {len(sizes) - 3} more layers")
    raise combined_error(PrototxtToolsError, problems, network.source_map)


def random_weights(network, shapes, seed: int) -> dict:
    """Seeded weights for every layer with parameters, from the inferred parameter shapes."""
    check_random_weights_fit(network, shapes)
    rng = np.random.default_rng(seed)
    weights = {}
    for layer in network.layers:
        params = expected_params(shapes, layer)
        if params and layer.name not in weights:
            weights[layer.name] = RANDOM_PARAMS.get(layer.type, _default)(params, rng)
    return weights
