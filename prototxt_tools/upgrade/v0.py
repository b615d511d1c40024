"""V0 -> V1: Caffe's UpgradeV0Net, UpgradeV0PaddingLayers, UpgradeV0LayerParameter and
UpgradeV0LayerType.

A V0 net is ``layers { layer { type: "conv" kernelsize: 11 ... } bottom: ... top: ... }``: the
parameters live flat in a nested ``V0LayerParameter``.  Caffe first folds ``padding`` layers into
the conv/pool layer that reads them, then rewrites each layer as a ``V1LayerParameter`` with the
flat fields moved into typed sub-messages.  Fields a layer type does not own are dropped with a
LOG(ERROR) (our ``log.problem``).
"""

from __future__ import annotations

from ..schema import caffe_pb2
from ._proto import assign, copy_message, set_field_names
from .tracking import LayerTrace, UpgradeLog, format_field_path

STAGE = "UpgradeV0Net"
ANY_TYPE = "*"

# UpgradeV0LayerType: V0 type strings -> V1 enum names; anything else is a LOG(FATAL).
V0_LAYER_TYPES = {
    "accuracy": "ACCURACY", "bnll": "BNLL", "concat": "CONCAT", "conv": "CONVOLUTION",
    "data": "DATA", "dropout": "DROPOUT", "euclidean_loss": "EUCLIDEAN_LOSS",
    "flatten": "FLATTEN", "hdf5_data": "HDF5_DATA", "hdf5_output": "HDF5_OUTPUT",
    "im2col": "IM2COL", "images": "IMAGE_DATA", "infogain_loss": "INFOGAIN_LOSS",
    "innerproduct": "INNER_PRODUCT", "lrn": "LRN",
    "multinomial_logistic_loss": "MULTINOMIAL_LOGISTIC_LOSS", "pool": "POOLING", "relu": "RELU",
    "sigmoid": "SIGMOID", "softmax": "SOFTMAX", "softmax_loss": "SOFTMAX_LOSS", "split": "SPLIT",
    "tanh": "TANH", "window_data": "WINDOW_DATA",
}

_CONV_IP = "convolution_param", "inner_product_param"
_DATA_SOURCES = {"data": "data_param", "hdf5_data": "hdf5_data_param",
                 "images": "image_data_param", "window_data": "window_data_param"}


def _per_type(field_name: str, **by_type: str) -> dict:
    return {t: (sub, field_name) for t, sub in by_type.items()}


# UpgradeV0LayerParameter, in Caffe's order: V0 field -> {V0 type: (V1 sub-message, field)}.
# ANY_TYPE means "for every type" (the data-transformation fields); a sub-message of None means
# the V0 field is itself copied to the V1 layer.
V0_PARAM_RULES: list[tuple[str, dict]] = [
    ("num_output", _per_type("num_output", conv=_CONV_IP[0], innerproduct=_CONV_IP[1])),
    ("biasterm", _per_type("bias_term", conv=_CONV_IP[0], innerproduct=_CONV_IP[1])),
    ("weight_filler", _per_type("weight_filler", conv=_CONV_IP[0], innerproduct=_CONV_IP[1])),
    ("bias_filler", _per_type("bias_filler", conv=_CONV_IP[0], innerproduct=_CONV_IP[1])),
    ("pad", _per_type("pad", conv="convolution_param", pool="pooling_param")),
    ("kernelsize", _per_type("kernel_size", conv="convolution_param", pool="pooling_param")),
    ("group", _per_type("group", conv="convolution_param")),
    ("stride", _per_type("stride", conv="convolution_param", pool="pooling_param")),
    ("pool", _per_type("pool", pool="pooling_param")),
    ("dropout_ratio", _per_type("dropout_ratio", dropout="dropout_param")),
    ("local_size", _per_type("local_size", lrn="lrn_param")),
    ("alpha", _per_type("alpha", lrn="lrn_param")),
    ("beta", _per_type("beta", lrn="lrn_param")),
    ("k", _per_type("k", lrn="lrn_param")),
    ("source", {**_per_type("source", **_DATA_SOURCES),
                "infogain_loss": ("infogain_loss_param", "source")}),
    ("scale", {ANY_TYPE: ("transform_param", "scale")}),
    ("meanfile", {ANY_TYPE: ("transform_param", "mean_file")}),
    ("batchsize", _per_type("batch_size", **_DATA_SOURCES)),
    ("cropsize", {ANY_TYPE: ("transform_param", "crop_size")}),
    ("mirror", {ANY_TYPE: ("transform_param", "mirror")}),
    ("rand_skip", _per_type("rand_skip", data="data_param", images="image_data_param")),
    ("shuffle_images", _per_type("shuffle", images="image_data_param")),
    ("new_height", _per_type("new_height", images="image_data_param")),
    ("new_width", _per_type("new_width", images="image_data_param")),
    ("concat_dim", _per_type("concat_dim", concat="concat_param")),
    ("det_fg_threshold", _per_type("fg_threshold", window_data="window_data_param")),
    ("det_bg_threshold", _per_type("bg_threshold", window_data="window_data_param")),
    ("det_fg_fraction", _per_type("fg_fraction", window_data="window_data_param")),
    ("det_context_pad", _per_type("context_pad", window_data="window_data_param")),
    ("det_crop_mode", _per_type("crop_mode", window_data="window_data_param")),
    ("hdf5_output_param", {"hdf5_output": (None, "hdf5_output_param")}),
]

# Net-level fields UpgradeV0Net carries over; every other one is dropped by its Clear().
_V0_NET_FIELDS = ("name", "layers", "input", "input_dim", "force_backward")


def needs_v0_to_v1(net: caffe_pb2.NetParameter) -> bool:
    """NetNeedsV0ToV1Upgrade: some ``layers`` entry has a nested V0 ``layer``."""
    return any(conn.HasField("layer") for conn in net.layers)


def fold_padding_layers(net: caffe_pb2.NetParameter, log: UpgradeLog):
    """UpgradeV0PaddingLayers: drop ``padding`` layers, moving their ``pad`` (and their input
    blob) into the conv/pool layer that reads their output.  Returns (net, traces)."""
    out = copy_message(net)
    out.ClearField("layers")
    traces: list[LayerTrace] = []
    last_producer = {blob: -1 for blob in net.input}   # blob -> index of its latest producer
    for i, conn in enumerate(net.layers):
        if conn.layer.type != "padding":
            out.layers.add().CopyFrom(conn)
            traces.append(LayerTrace(("layers", i)))
        else:
            log.note(STAGE, f"padding layer '{conn.layer.name}' removed (its pad moves into the "
                     "layer reading its output)", ("layers", i))
        for j, blob in enumerate(conn.bottom):
            if blob not in last_producer:
                raise log.fatal(f"bottom '{blob}' is neither a net input nor the top of an "
                                f"earlier layer (Caffe: Unknown blob input {blob} to layer {j})",
                                ("layers", i, "bottom", j))
            src = last_producer[blob]
            if src >= 0 and net.layers[src].layer.type == "padding":
                _fold_one(net, i, j, src, out, traces[-1] if traces else None, log)
        for blob in conn.top:
            last_producer[blob] = i
    return out, traces


def _fold_one(net, i: int, j: int, src: int, out, trace: LayerTrace | None,
              log: UpgradeLog) -> None:
    """Layer i reads padding layer src through bottom j: check Caffe's CHECKs, then fold."""
    conn, pad_layer = net.layers[i], net.layers[src]
    if conn.layer.type not in ("conv", "pool"):
        raise log.fatal(f"padding layer '{pad_layer.layer.name}' feeds a layer of type "
                        f"'{conn.layer.type}'; Caffe folds V0 padding only into 'conv' or 'pool' "
                        "layers", ("layers", i, "bottom", j))
    if len(conn.bottom) != 1:
        raise log.fatal("a conv/pool layer reading a padding layer must have exactly one bottom",
                        ("layers", i, "bottom"))
    if len(pad_layer.bottom) != 1:
        raise log.fatal("a padding layer must have exactly one bottom", ("layers", src, "bottom"))
    if len(pad_layer.top) != 1:
        raise log.fatal("a padding layer must have exactly one top", ("layers", src, "top"))
    target = out.layers[-1]
    target.layer.pad = pad_layer.layer.pad
    target.bottom[j] = pad_layer.bottom[0]
    trace.fields[("layer", "pad")] = ("layers", src, "layer", "pad")
    trace.fields[("bottom", j)] = ("layers", src, "bottom", 0)
    log.note(STAGE, f"pad {pad_layer.layer.pad} of padding layer '{pad_layer.layer.name}' folded "
             f"into '{conn.layer.name}', which now reads '{pad_layer.bottom[0]}'",
             ("layers", i, "bottom", j))


def v0_layer_type(v0_type: str, path, log: UpgradeLog) -> int:
    """UpgradeV0LayerType: the V1 enum value for a V0 type string."""
    name = V0_LAYER_TYPES.get(v0_type)
    if name is None:
        raise log.fatal(f"unknown V0 layer type '{v0_type}' (Caffe: Unknown layer name)", path)
    return caffe_pb2.V1LayerParameter.LayerType.Value(name)


def upgrade_v0_layer(conn, out, trace: LayerTrace, log: UpgradeLog) -> None:
    """UpgradeV0LayerParameter: fill V1 layer ``out`` from V0 connection ``conn``."""
    out.Clear()
    out.bottom.extend(conn.bottom)
    out.top.extend(conn.top)
    if not conn.HasField("layer"):
        dropped = [n for n in set_field_names(conn) if n not in ("bottom", "top")]
        if dropped:
            log.note(STAGE, f"V1 fields {', '.join(dropped)} of a layer in a V0 net are dropped "
                     "by Caffe's V0 upgrade", trace.origin, lossy=True)
        return
    v0 = conn.layer
    here = trace.origin + ("layer",)
    if v0.HasField("name"):
        out.name = v0.name
        trace.fields[("name",)] = here + ("name",)
    if v0.HasField("type"):
        out.type = v0_layer_type(v0.type, here + ("type",), log)
        trace.fields[("type",)] = here + ("type",)
        log.note(STAGE, f"type '{v0.type}' -> {V0_LAYER_TYPES[v0.type]}", here + ("type",))
    for name in ("blobs", "blobs_lr", "weight_decay"):
        for k, value in enumerate(getattr(v0, name)):
            assign(out, name, value)
            trace.fields[(name, k)] = here + (name, k)
    for v0_field, targets in V0_PARAM_RULES:
        if v0.HasField(v0_field):
            _move_v0_param(v0, v0_field, targets, out, trace, log)
    for v0_field in ("new_num", "new_channels"):
        if v0.HasField(v0_field):   # defined in V0LayerParameter but never read by the upgrader
            log.note(STAGE, f"{v0_field} is ignored by Caffe's V0 upgrade", here + (v0_field,),
                     lossy=True)


def _move_v0_param(v0, v0_field: str, targets: dict, out, trace: LayerTrace,
                   log: UpgradeLog) -> None:
    src_path = trace.resolve(("layer", v0_field))
    dest = targets.get(ANY_TYPE) or targets.get(v0.type)
    if dest is None:
        log.problem(STAGE, f"parameter {v0_field} does not apply to layer type '{v0.type}'; "
                    f"Caffe drops it (Unknown parameter {v0_field} for layer type {v0.type})",
                    src_path)
        return
    sub_name, field_name = dest
    value = getattr(v0, v0_field)
    if v0_field == "pool":   # same names in both enums
        name = caffe_pb2.V0LayerParameter.PoolMethod.Name(value)
        value = caffe_pb2.PoolingParameter.PoolMethod.Value(name)
    container = out if sub_name is None else getattr(out, sub_name)
    assign(container, field_name, value)
    rel = (field_name,) if sub_name is None else (sub_name, field_name)
    if container.DESCRIPTOR.fields_by_name[field_name].is_repeated:
        rel += (len(getattr(container, field_name)) - 1,)
    trace.fields[rel] = src_path
    log.note(STAGE, f"{v0_field} -> {format_field_path(rel)}", src_path)


def upgrade_v0_net_traced(net: caffe_pb2.NetParameter, log: UpgradeLog):
    """UpgradeV0Net with traces: (V1 net, one LayerTrace per V1 layer)."""
    padded, traces = fold_padding_layers(net, log)
    out = caffe_pb2.NetParameter()
    if padded.HasField("name"):
        out.name = padded.name
    for conn, trace in zip(padded.layers, traces):
        upgrade_v0_layer(conn, out.layers.add(), trace, log)
    out.input.extend(padded.input)
    out.input_dim.extend(padded.input_dim)
    if padded.HasField("force_backward"):
        out.force_backward = padded.force_backward
    for name in set_field_names(net):
        if name not in _V0_NET_FIELDS:
            log.note(STAGE, f"net field '{name}' is dropped by Caffe's V0 upgrade", (name,),
                     lossy=True)
    return out, traces


def upgrade_v0_padding_layers(net: caffe_pb2.NetParameter) -> caffe_pb2.NetParameter:
    """Caffe's UpgradeV0PaddingLayers alone (as its unit tests call it)."""
    return fold_padding_layers(net, UpgradeLog(strict=False))[0]


def upgrade_v0_net(net: caffe_pb2.NetParameter, strict: bool = False) -> caffe_pb2.NetParameter:
    """Caffe's UpgradeV0Net alone: V0 net -> V1 net (``strict`` as in UpgradeLog)."""
    return upgrade_v0_net_traced(net, UpgradeLog(strict=strict))[0]
