"""Upgrades that also apply to current-format nets: Caffe's NetNeedsInputUpgrade/UpgradeNetInput
(legacy ``input:`` fields -> an ``Input`` layer) and NetNeedsBatchNormUpgrade/UpgradeNetBatchNorm.
"""

from __future__ import annotations

from ..schema import caffe_pb2
from .tracking import LayerTrace, UpgradeLog, identity_traces

INPUT_STAGE = "UpgradeNetInput"
BATCHNORM_STAGE = "UpgradeNetBatchNorm"
INPUT_LAYER_NAME = "input"   # the name Caffe gives the synthesized layer
DIMS_PER_INPUT = 4           # legacy input_dim: num, channels, height, width per input


def needs_input_upgrade(net: caffe_pb2.NetParameter) -> bool:
    """NetNeedsInputUpgrade: any ``input`` field."""
    return len(net.input) > 0


def upgrade_input(net: caffe_pb2.NetParameter, traces: list[LayerTrace] | None = None,
                  log: UpgradeLog | None = None) -> None:
    """UpgradeNetInput, in place: with input_shape or input_dim, one ``Input`` layer named
    "input" topped by every input becomes the first layer; then all input fields are cleared.
    An input with neither shape nor dims (a legacy caffemodel) is simply dropped.  Where Caffe
    would read past the end of input_shape / input_dim we raise instead."""
    traces = traces if traces is not None else identity_traces(net)
    log = log or UpgradeLog(strict=False)
    has_shape, has_dim = len(net.input_shape) > 0, len(net.input_dim) > 0
    if has_shape or has_dim:
        layer = caffe_pb2.LayerParameter(name=INPUT_LAYER_NAME, type="Input")
        trace = LayerTrace(("input", 0))
        for i, blob in enumerate(net.input):
            layer.top.append(blob)
            trace.fields[("top", i)] = ("input", i)
            shape = layer.input_param.shape.add()
            if has_shape:
                _shape_from_input_shape(net, i, shape, trace, log)
            else:
                _shape_from_input_dim(net, i, shape, trace, log)
        _note_unused_input_fields(net, has_shape, log)
        net.layer.insert(0, layer)
        traces.insert(0, trace)
        tops = ", ".join(f"'{t}'" for t in net.input)
        log.note(INPUT_STAGE, f"input {tops} -> first layer '{INPUT_LAYER_NAME}' of type "
                 "'Input'", ("input", 0))
    else:
        for i, blob in enumerate(net.input):
            log.note(INPUT_STAGE, f"input '{blob}' has no input_shape or input_dim; Caffe drops "
                     "it", ("input", i), lossy=True)
    for name in ("input", "input_shape", "input_dim"):
        net.ClearField(name)


def _shape_from_input_shape(net, i: int, shape, trace: LayerTrace, log: UpgradeLog) -> None:
    if i >= len(net.input_shape):
        raise log.fatal(f"input '{net.input[i]}' has no input_shape (there are "
                        f"{len(net.input)} inputs but {len(net.input_shape)} input_shape)",
                        ("input", i))
    shape.CopyFrom(net.input_shape[i])
    trace.fields[("input_param", "shape", i)] = ("input_shape", i)


def _shape_from_input_dim(net, i: int, shape, trace: LayerTrace, log: UpgradeLog) -> None:
    first = i * DIMS_PER_INPUT
    if first + DIMS_PER_INPUT > len(net.input_dim):
        raise log.fatal(f"input '{net.input[i]}' needs input_dim {first}..{first + 3} but the "
                        f"net has {len(net.input_dim)} input_dim values (4 per input)",
                        ("input", i))
    trace.fields[("input_param", "shape", i)] = ("input_dim", first)
    for j in range(DIMS_PER_INPUT):
        shape.dim.append(net.input_dim[first + j])
        trace.fields[("input_param", "shape", i, "dim", j)] = ("input_dim", first + j)


def _note_unused_input_fields(net, has_shape: bool, log: UpgradeLog) -> None:
    """Extra shapes/dims that Caffe's loop never reads are lost without a word; say so."""
    if has_shape:
        unused = [("input_shape", k) for k in range(len(net.input), len(net.input_shape))]
        unused += [("input_dim", k) for k in range(len(net.input_dim))]
    else:
        unused = [("input_dim", k) for k in range(DIMS_PER_INPUT * len(net.input),
                                                   len(net.input_dim))]
    for path in unused:
        reason = "input_shape takes precedence" if has_shape and path[0] == "input_dim" \
            else "no input uses it"
        log.note(INPUT_STAGE, f"{path[0]} value ignored by Caffe ({reason})", path, lossy=True)


def needs_batchnorm_upgrade(net: caffe_pb2.NetParameter) -> bool:
    """NetNeedsBatchNormUpgrade: a BatchNorm layer declaring exactly three ``param``s (the old
    way of freezing its statistics)."""
    return any(layer.type == "BatchNorm" and len(layer.param) == 3 for layer in net.layer)


def upgrade_batchnorm(net: caffe_pb2.NetParameter, traces: list[LayerTrace] | None = None,
                      log: UpgradeLog | None = None) -> None:
    """UpgradeNetBatchNorm, in place: set lr_mult and decay_mult to 0 in those three params
    (BVLC master; the earliest version cleared them instead), leaving other ParamSpec fields."""
    traces = traces if traces is not None else identity_traces(net)
    log = log or UpgradeLog(strict=False)
    for layer, trace in zip(net.layer, traces):
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = 0.0
                spec.decay_mult = 0.0
            log.note(BATCHNORM_STAGE, f"BatchNorm '{layer.name}': lr_mult and decay_mult of its "
                     "3 params set to 0", trace.resolve(("param", 0)))
