"""V1 -> V2: Caffe's NetNeedsDataUpgrade / UpgradeNetDataTransformation and UpgradeV1Net /
UpgradeV1LayerParameter / UpgradeV1LayerType.

A V1 net is ``layers { type: CONVOLUTION blobs_lr: 1 weight_decay: 1 ... }``; the current format is
``layer { type: "Convolution" param { lr_mult: 1 decay_mult: 1 } ... }``.
"""

from __future__ import annotations

from ..schema import caffe_pb2
from ._proto import assign, copy_message, set_field_names
from .tracking import LayerTrace, UpgradeLog, identity_traces

STAGE = "UpgradeV1Net"
DATA_STAGE = "UpgradeNetDataTransformation"

# UpgradeV1LayerType: V1 enum name -> current type string (NONE -> "").
V1_LAYER_TYPES = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution", "DATA": "Data", "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise",
    "EXP": "Exp", "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col", "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence",
    "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice",
    "TANH": "TanH", "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

# The typed sub-messages UpgradeV1LayerParameter copies verbatim (Caffe's list, in its order).
V1_COPIED_PARAMS = (
    "accuracy_param", "argmax_param", "concat_param", "contrastive_loss_param",
    "convolution_param", "data_param", "dropout_param", "dummy_data_param", "eltwise_param",
    "exp_param", "hdf5_data_param", "hdf5_output_param", "hinge_loss_param", "image_data_param",
    "infogain_loss_param", "inner_product_param", "lrn_param", "memory_data_param", "mvn_param",
    "pooling_param", "power_param", "relu_param", "sigmoid_param", "softmax_param",
    "slice_param", "tanh_param", "threshold_param", "window_data_param", "transform_param",
    "loss_param",
)
_V1_HANDLED = {"bottom", "top", "name", "include", "exclude", "type", "blobs", "param",
               "blob_share_mode", "blobs_lr", "weight_decay", "loss_weight", "layer",
               *V1_COPIED_PARAMS}

# blobs_lr & co. become fields of the i-th ParamSpec, in the order Caffe fills them.
_PARAM_SPEC_SOURCES = (("param", "name"), ("blob_share_mode", "share_mode"),
                       ("blobs_lr", "lr_mult"), ("weight_decay", "decay_mult"))

# Data layers whose own parameter message still has the old transformation fields.
_DATA_TRANSFORM_PARAMS = {"DATA": "data_param", "IMAGE_DATA": "image_data_param",
                          "WINDOW_DATA": "window_data_param"}
_TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")


def needs_v1_to_v2(net: caffe_pb2.NetParameter) -> bool:
    """NetNeedsV1ToV2Upgrade: any ``layers`` entry at all."""
    return len(net.layers) > 0


def _transform_param_name(layer) -> str | None:
    return _DATA_TRANSFORM_PARAMS.get(caffe_pb2.V1LayerParameter.LayerType.Name(layer.type)) \
        if layer.type in caffe_pb2.V1LayerParameter.LayerType.values() else None


def needs_data_upgrade(net: caffe_pb2.NetParameter) -> bool:
    """NetNeedsDataUpgrade: a V1 data layer sets scale/mean_file/crop_size/mirror in its own
    parameter message instead of transform_param."""
    for layer in net.layers:
        param_name = _transform_param_name(layer)
        if param_name and any(getattr(layer, param_name).HasField(f) for f in _TRANSFORM_FIELDS):
            return True
    return False


def upgrade_data_transformation(net: caffe_pb2.NetParameter,
                                traces: list[LayerTrace] | None = None,
                                log: UpgradeLog | None = None) -> None:
    """UpgradeNetDataTransformation, in place.  Like Caffe's ``mutable_*`` calls, every data
    layer ends up with (possibly empty) ``<type>_param`` and ``transform_param`` present."""
    traces = traces if traces is not None else identity_traces(net)
    log = log or UpgradeLog(strict=False)
    for layer, trace in zip(net.layers, traces):
        param_name = _transform_param_name(layer)
        if not param_name:
            continue
        param = getattr(layer, param_name)
        param.SetInParent()
        layer.transform_param.SetInParent()
        for name in _TRANSFORM_FIELDS:
            if param.HasField(name):
                setattr(layer.transform_param, name, getattr(param, name))
                param.ClearField(name)
                src = trace.resolve((param_name, name))
                trace.fields[("transform_param", name)] = src
                log.note(DATA_STAGE, f"{param_name}.{name} -> transform_param.{name}", src)


def v1_layer_type(value: int, path, log: UpgradeLog) -> str:
    """UpgradeV1LayerType: the current type string for a V1 enum value."""
    enum = caffe_pb2.V1LayerParameter.LayerType
    name = enum.Name(value) if value in enum.values() else None
    if name not in V1_LAYER_TYPES:
        raise log.fatal(f"unknown V1 layer type {name or value} "
                        "(Caffe: Unknown V1LayerParameter layer type)", path)
    return V1_LAYER_TYPES[name]


def upgrade_v1_layer(v1, out, old: LayerTrace, log: UpgradeLog) -> LayerTrace:
    """UpgradeV1LayerParameter: fill current-format layer ``out`` from V1 layer ``v1``; returns
    the trace of ``out`` (chained to ``old``, the trace of ``v1``)."""
    trace = LayerTrace(old.origin, parent=old)
    out.Clear()
    out.bottom.extend(v1.bottom)
    out.top.extend(v1.top)
    if v1.HasField("name"):
        out.name = v1.name
    for name in ("include", "exclude"):
        for rule in getattr(v1, name):
            assign(out, name, rule)
    if v1.HasField("type"):
        out.type = v1_layer_type(v1.type, old.resolve(("type",)), log)
        enum_name = caffe_pb2.V1LayerParameter.LayerType.Name(v1.type)
        log.note(STAGE, f"type {enum_name} -> '{out.type}'", old.resolve(("type",)))
    for blob in v1.blobs:
        assign(out, "blobs", blob)
    _fill_param_specs(v1, out, trace, log)
    out.loss_weight.extend(v1.loss_weight)
    for name in V1_COPIED_PARAMS:
        if v1.HasField(name):
            assign(out, name, getattr(v1, name))
    if v1.HasField("layer"):
        log.problem(STAGE, "V1 layer still holds a V0 layer; Caffe ignores it (Input "
                    "NetParameter has V0 layer -- ignoring.)", old.resolve(("layer",)))
    for name in set_field_names(v1):
        if name not in _V1_HANDLED:   # only possible with a schema wider than BVLC's
            log.note(STAGE, f"{name} is not carried over by Caffe's V1 upgrade",
                     old.resolve((name,)), lossy=True)
    return trace


def _fill_param_specs(v1, out, trace: LayerTrace, log: UpgradeLog) -> None:
    """param / blob_share_mode / blobs_lr / weight_decay [i] -> param[i].{name, share_mode,
    lr_mult, decay_mult}, growing ``param`` as needed."""
    for v1_field, spec_field in _PARAM_SPEC_SOURCES:
        for i, value in enumerate(getattr(v1, v1_field)):
            while len(out.param) <= i:
                out.param.add()
            if v1_field == "blob_share_mode":
                mode = caffe_pb2.V1LayerParameter.DimCheckMode.Name(value)
                value = caffe_pb2.ParamSpec.DimCheckMode.Value(mode)
            setattr(out.param[i], spec_field, value)
            src = trace.parent.resolve((v1_field, i))
            trace.fields[("param", i, spec_field)] = src
            trace.fields.setdefault(("param", i), src)
            log.note(STAGE, f"{v1_field}[{i}] -> param[{i}].{spec_field}", src)


def upgrade_v1_net_traced(net: caffe_pb2.NetParameter, traces: list[LayerTrace],
                          log: UpgradeLog):
    """UpgradeV1Net with traces: (current-format net, one trace per layer)."""
    if len(net.layer) > 0:
        raise log.fatal("the net has both 'layer' and V1 'layers' entries; Caffe refuses to "
                        "upgrade it (switch every entry to the 'layer' format)", ("layer", 0))
    out = copy_message(net)
    out.ClearField("layers")
    out.ClearField("layer")
    new_traces = [upgrade_v1_layer(v1, out.layer.add(), old, log)
                  for v1, old in zip(net.layers, traces)]
    return out, new_traces


def upgrade_v1_net(net: caffe_pb2.NetParameter, strict: bool = False) -> caffe_pb2.NetParameter:
    """Caffe's UpgradeV1Net alone: V1 net -> current-format net."""
    return upgrade_v1_net_traced(net, identity_traces(net), UpgradeLog(strict=strict))[0]
