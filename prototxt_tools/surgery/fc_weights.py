"""The weights of an InnerProduct -> Convolution conversion (see :mod:`.fc_to_conv`).

Caffe's InnerProduct flattens its ``C×H×W`` input row-major, so its ``(N, C·H·W)`` weight matrix
*is* the ``(N, C, H, W)`` kernel of the equivalent convolution: a reshape, no value moves (a
``transpose: true`` layer stores ``(C·H·W, N)`` and is transposed first).  The bias is unchanged.

Layer names are kept.  Caffe copies weights by layer name and refuses a blob whose shape
differs even when the counts agree (``Blob::ShapeEquals``), which is why Caffe's net_surgery
example renamed ``fc6`` to ``fc6-conv`` and copied the values by hand.  The caffemodel written
here already holds the reshaped blobs, so it matches the converted prototxt under the old names.
The whole caffemodel is carried over (upgraded to the current format, other layers' blobs
untouched), and the input file is never overwritten unless asked to.
"""

from __future__ import annotations

import numpy as np

from ..caffemodel import CaffeModel, LayerWeights, read_caffemodel, write_caffemodel
from ..errors import CaffemodelError, PrototxtToolsError
from ..fileio import refuse_overwriting, same_file
from ..schema import caffe_pb2
from .fc_to_conv import FcConversion, FcToConvResult

NAMES_KEPT = (
    "layer names are kept: the new caffemodel holds each converted layer's weights already "
    "reshaped to its convolution kernel, so it matches the new prototxt by name (Caffe refuses "
    "to copy e.g. 4096x9216 InnerProduct weights into a 4096x256x6x6 Convolution, which is why "
    "Caffe's net_surgery example renamed fc6 to fc6-conv; use the new caffemodel with the new "
    "prototxt, not the old one)")

OLD_WEIGHTS_WONT_FIT = (
    "a caffemodel trained for the original net no longer fits the converted layers (Caffe "
    "refuses InnerProduct-shaped blobs for a Convolution); convert it too with "
    "--weights IN.caffemodel --weights-out OUT.caffemodel")


def convert_fc_weights(model: CaffeModel, result: FcToConvResult
                       ) -> tuple[caffe_pb2.NetParameter, list, list]:
    """``(net, weights, notes)`` for :func:`write_caffemodel`: ``model`` upgraded to the current
    format with every converted layer turned into its Convolution and its blobs reshaped.

    Raises CaffemodelError when a converted layer's blobs do not have the InnerProduct's shape
    (the caffemodel belongs to another net)."""
    from ..upgrade import upgrade_caffemodel_net

    upgraded = upgrade_caffemodel_net(model.net)
    net = upgraded.net
    weights = [_weights_of(model, layer, origin)
               for layer, origin in zip(net.layer, upgraded.layer_origin)]
    by_name = {c.name: c for c in result.conversions}
    targets = {layer.name: layer for layer in result.loaded.net.layer if layer.name in by_name}
    done = set()
    for layer, layer_weights in zip(net.layer, weights):
        conversion = by_name.get(layer.name)
        if conversion is None:
            continue
        if layer.type != "InnerProduct":
            raise CaffemodelError(f"layer '{layer.name}' is a {layer.type} in the caffemodel, not "
                                  "an InnerProduct: it does not belong to this prototxt",
                                  model.path)
        layer_weights.blobs = reshape_fc_blobs(conversion, layer_weights.blobs, model.path)
        layer_weights.type = "Convolution"
        _make_convolution(layer, targets[layer.name])
        done.add(layer.name)
    if by_name and not done:
        raise CaffemodelError(f"the caffemodel has none of the converted layers "
                              f"({', '.join(by_name)}): it is not this net's caffemodel",
                              model.path)
    notes = [f"{name}: no weights in the caffemodel; Caffe will fill it from its fillers"
             for name in by_name if name not in done]
    dropped = model.dropped_diff_note()
    if dropped:
        notes.append(dropped)
    return net, weights, notes


def _weights_of(model: CaffeModel, layer, origin) -> LayerWeights:
    # the upgrade keeps each layer's blobs with it; synthesized layers (Input) have none
    if origin and origin[0] in ("layer", "layers"):
        return LayerWeights(layer.name, layer.type, list(model.layers[origin[1]].blobs))
    return LayerWeights(layer.name, layer.type, [])


def _make_convolution(layer: caffe_pb2.LayerParameter, target: caffe_pb2.LayerParameter) -> None:
    layer.type = "Convolution"
    layer.ClearField("inner_product_param")
    layer.convolution_param.CopyFrom(target.convolution_param)
    del layer.blobs[:]  # the new blobs are written from the arrays, with their own shapes


def reshape_fc_blobs(conversion: FcConversion, blobs: list, path: str | None = None) -> list:
    """InnerProduct blobs -> Convolution blobs: weights reshaped (views when possible), bias
    flattened to ``(num_output,)``."""
    expected = 1 + int(conversion.bias_term)
    if len(blobs) != expected:
        raise CaffemodelError(f"layer '{conversion.name}' has {len(blobs)} blobs in the "
                              f"caffemodel; an InnerProduct with bias_term "
                              f"{str(conversion.bias_term).lower()} has {expected}", path)
    weight = _as_fc_matrix(conversion, blobs[0], path)
    if conversion.transpose:
        weight = weight.T
    out = [weight.reshape(conversion.conv_weight_shape)]
    if conversion.bias_term:
        bias = np.asarray(blobs[1])
        if bias.size != conversion.num_output:
            raise CaffemodelError(f"layer '{conversion.name}': the bias has {bias.size} values "
                                  f"in the caffemodel, the prototxt says num_output "
                                  f"{conversion.num_output}", path)
        out.append(bias.reshape(conversion.num_output))
    return out


def _as_fc_matrix(conversion: FcConversion, weight, path: str | None) -> np.ndarray:
    """The weight blob as its 2-D matrix; legacy ``(1, 1, rows, cols)`` blobs are accepted, as
    Caffe's ShapeEquals accepts them."""
    weight = np.asarray(weight)
    rows, cols = conversion.fc_weight_shape
    if weight.shape not in ((rows, cols), (1, 1, rows, cols)):
        raise CaffemodelError(f"layer '{conversion.name}': weights are "
                              f"{'x'.join(map(str, weight.shape))} in the caffemodel, but the "
                              f"prototxt's InnerProduct needs {rows}x{cols}: they do not "
                              "belong to this net", path)
    return weight.reshape(rows, cols)


def write_fc_to_conv_weights(weights_in: str, weights_out: str, result: FcToConvResult,
                             force: bool = False, progress=None) -> list:
    """Read ``weights_in``, convert, write ``weights_out`` atomically; returns notes.

    Refuses (PrototxtToolsError) to replace ``weights_in`` itself unless ``force``.
    ``progress(done, total)`` follows the write (a
    :class:`prototxt_tools.progress.TerminalProgress`)."""
    net, weights, notes = _read_converted(weights_in, weights_out, result, force)
    write_caffemodel(weights_out, net, weights, progress=progress)
    return notes


def _read_converted(weights_in: str, weights_out: str, result: FcToConvResult,
                    force: bool) -> tuple[caffe_pb2.NetParameter, list, list]:
    if not force and same_file(weights_in, weights_out):
        raise PrototxtToolsError("--weights-out is the input caffemodel; write the converted "
                                 "weights to a new file (or pass --force to replace it)",
                                 weights_out)
    return convert_fc_weights(read_caffemodel(weights_in), result)


def fc_to_conv_files(net_path: str, output: str | None = None, weights: str | None = None,
                     weights_out: str | None = None, inputs=None, state=None,
                     force: bool = False, progress=None) -> tuple[FcToConvResult, list]:
    """The whole command: convert ``net_path`` and write it to ``output`` (None/``-``: standard
    output), and with ``weights`` write the converted caffemodel to ``weights_out``.

    Nothing is written unless everything converts; inputs are never replaced unless ``force``.
    The two files are replaced together: both are written to temp files first (the prototxt's
    first, so an unwritable ``-o`` fails before the big write) and renamed only once both are
    complete, so a failure or an interrupt leaves both as they were.  Only one in the last
    step, the prototxt's rename (and fsync, when it replaces a file), right after the
    caffemodel's, could leave the new caffemodel next to the old prototxt.
    Returns the result and the notes to show the user (what changed, why names are kept).
    ``progress(done, total)`` follows the write of the weights."""
    from ..load import load_net
    from .fc_to_conv import convert_fc_to_conv
    from .output import is_stdout, net_text_output

    if (weights is None) != (weights_out is None):
        raise PrototxtToolsError("--weights and --weights-out go together: the converted "
                                 "weights are written to a new caffemodel", weights or weights_out)
    if weights_out is not None and not is_stdout(output) and same_file(output, weights_out):
        raise PrototxtToolsError("-o and --weights-out name the same file", weights_out)
    if not force:
        refuse_overwriting(output, net_path, weights, what="-o")
        refuse_overwriting(weights_out, net_path, what="--weights-out")
    loaded = load_net(net_path, state)
    result = convert_fc_to_conv(loaded, inputs, state)
    result.warnings = list(loaded.warnings)
    notes = [c.describe() for c in result.conversions] + list(result.notes)
    converted = None
    if weights is not None:
        converted = _read_converted(weights, weights_out, result, force)
        notes += converted[2]
        if result.conversions:
            notes.append(NAMES_KEPT)
    elif result.conversions:
        notes.append(OLD_WEIGHTS_WONT_FIT)
    with net_text_output(output, result.text, loaded.parsed.document.encoding) as where:
        if converted is not None:  # renamed into place first, then the prototxt
            write_caffemodel(weights_out, converted[0], converted[1], progress=progress)
    notes.append(f"converted net written to {where}"
                 + (f", weights to {weights_out}" if weights is not None else ""))
    return result, notes
