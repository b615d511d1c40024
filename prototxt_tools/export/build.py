"""The export pipeline: check the whole net, infer shapes, match weights, run the exporters.

1. graph errors and every unsupported layer type / option are refused before any work, in one
   :class:`UnsupportedError` listing each with its file position;
2. shapes come from our Caffe-exact inference (``--input`` overrides), and are written into
   the model as value_info — ONNX's own shape inference is only the checker's cross-check;
3. weights come from a caffemodel (matched by layer name as Caffe does) or are seeded random;
4. each layer's exporter adds its nodes; options only shapes can reveal are collected too.
"""

from __future__ import annotations

import os
from typing import Mapping

from .. import __version__
from ..errors import PrototxtToolsError, ShapeError, UnsupportedError
from ..load import LoadedNet, load_net
from ..shapes.network import infer_shapes
from . import onnx_proto
from .context import ExportContext, LayerUnsupported
from .model import ExportedModel
from .problems import combined_error
from .registry import EXPORTERS, layer_limits
from .weights import expected_params, match_weights, random_weights

DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 13, 21
BATCH_DIM = "N"


def check_supported(network) -> None:
    """Raise one UnsupportedError naming every layer type or option the exporter refuses."""
    problems = [(layer.origin + field, message) for layer in network.layers
                for field, message in layer_limits(layer)]
    if problems:
        raise combined_error(UnsupportedError, problems, network.source_map,
                             "the net cannot be exported to ONNX")


def export_onnx(net: LoadedNet | str, weights=None, *, random_seed: int | None = None,
                opset: int = DEFAULT_OPSET, dynamic_batch: bool = False,
                input_shapes: Mapping[str, tuple] | None = None,
                optimize: bool = False) -> ExportedModel:
    """Export a Caffe net (a path or a :class:`LoadedNet`) to ONNX.

    ``weights`` is a caffemodel path or a :class:`~prototxt_tools.caffemodel.CaffeModel`;
    without one, ``random_seed`` makes seeded weights from the inferred parameter shapes.
    ``optimize`` folds BatchNorm/Scale/Bias into the preceding Convolution/InnerProduct/
    Deconvolution and drops identities (:mod:`.optimize`).
    Raises PrototxtToolsError subclasses for every input the exporter cannot honour.
    """
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UnsupportedError(f"opset {opset} is not supported: choose {MIN_OPSET} to "
                               f"{MAX_OPSET} (default {DEFAULT_OPSET})")
    loaded = load_net(net) if isinstance(net, str) else net
    network = loaded.network
    network.raise_for_errors()
    check_supported(network)
    shapes = infer_shapes(network, input_shapes)
    _require_shapes(network, shapes)
    params = _weights(network, shapes, weights, random_seed, loaded.path)
    ctx = ExportContext(network, shapes, params, opset, dynamic_batch)
    _run_exporters(ctx)
    exported = _assemble(ctx, loaded)
    if optimize:
        from .optimize import optimize as optimize_graph
        exported = optimize_graph(exported)
    return exported


def _require_shapes(network, shapes) -> None:
    if shapes.errors:
        first = shapes.errors[0]
        extra = f" (and {len(shapes.errors) - 1} more)" if len(shapes.errors) > 1 else ""
        span = network.source_map.position(first.field_path) if network.source_map else None
        raise ShapeError(f"layer '{first.layer_name}': {first.message}{extra}",
                         network.source_map.path if network.source_map else None,
                         span.line if span else None, span.col if span else None)
    problems = []
    for layer in network.layers:
        outcome = shapes.layers[layer]
        if outcome.unknown is not None and outcome.unknown.code != "unknown-input":
            hint = (f"; give its shape with --input {layer.tops[0].name}=N,C,H,W"
                    if layer.type == "Input" else "")
            problems.append((layer.origin, f"layer '{layer.name}': the shape of its output "
                                           f"is unknown ({outcome.unknown.reason}){hint}"))
    if problems:
        raise combined_error(ShapeError, problems, network.source_map,
                             "the net's shapes are not all known")


def _weights(network, shapes, weights, seed: int | None, net_path: str) -> dict:
    if weights is not None:
        from ..caffemodel import read_caffemodel
        model = read_caffemodel(weights) if not hasattr(weights, "layers") else weights
        return match_weights(network, shapes, model)
    if seed is not None:
        return random_weights(network, shapes, seed)
    needing = [layer.name for layer in network.layers if expected_params(shapes, layer)]
    if needing:
        listed = ", ".join(f"'{n}'" for n in needing[:5]) + (" ..." if len(needing) > 5 else "")
        raise PrototxtToolsError(f"the net has learned parameters (layers {listed}): give a "
                                 "caffemodel (--weights) or --random-weights SEED", net_path)
    return {}


def _run_exporters(ctx: ExportContext) -> None:
    problems = []
    for layer in ctx.network.layers:
        ctx.begin_layer(layer)
        try:
            EXPORTERS[layer.type].function(ctx, layer)
        except LayerUnsupported as refusal:
            problems.append((layer.origin + refusal.field,
                             f"layer '{layer.name}' ({layer.type}): {refusal.message}"))
    if problems:
        raise combined_error(UnsupportedError, problems, ctx.network.source_map,
                             "the net cannot be exported to ONNX")


def _value_info(ctx: ExportContext, blob) -> onnx_proto.ValueInfoProto:
    shape = list(ctx.shapes.blobs[blob])
    if ctx.dynamic_batch and shape:
        shape[0] = BATCH_DIM
    return onnx_proto.make_tensor_value_info(ctx.tensor_names[blob],
                                             onnx_proto.TensorProto.FLOAT, shape)


def _assemble(ctx: ExportContext, loaded: LoadedNet) -> ExportedModel:
    network = ctx.network
    inputs = list(network.inputs)
    outputs = list(network.outputs)
    boundary = set(inputs) | set(outputs)
    inner = [b for b in network.blobs if b not in boundary]
    graph = onnx_proto.make_graph(
        ctx.nodes, network.name or "caffe_net",
        [_value_info(ctx, b) for b in inputs], [_value_info(ctx, b) for b in outputs],
        value_info=[_value_info(ctx, b) for b in inner])
    model = onnx_proto.make_model(graph, ctx.opset, producer_name="prototxt-tools",
                                  producer_version=__version__,
                                  doc_string=f"exported from {os.path.basename(loaded.path)}")
    return ExportedModel(model, ctx.initializers,
                         outputs={ctx.tensor_names[b]: b for b in outputs},
                         input_shapes={ctx.tensor_names[b]: tuple(ctx.shapes.blobs[b])
                                       for b in inputs},
                         caffe_weights=ctx.caffe_weights)
