"""Shape-preserving layers: neurons, Eltwise, BatchNorm, Scale, Bias, PReLU, LRN, MVN, Softmax,
and the forks' ReLU6, Normalize, BN, Axpy.

MAC convention: 0 for all of them — like published MAC counts, only weighted sums over inputs
(convolution, inner product, recurrent) count; per-element affine ops such as Scale do not.
"""

from __future__ import annotations

from .common import (canonical_axis, forbid_in_place, fork_param, has, legacy4,
                     legacy_dim, require, require_same_shape, shape_string)
from .registry import LayerShapes, ShapeUnknown, shape_rule

NEURONS = ("BNLL", "Clip", "Dropout", "ELU", "Exp", "Log", "Power", "ReLU", "Sigmoid", "Swish",
           "TanH", "Threshold")


@shape_rule(*NEURONS)
def neuron(layer, bottoms):
    """Element-wise; top = bottom (in place allowed)."""
    if layer.type in ("Exp", "Log"):
        name = layer.type.lower() + "_param"
        base = getattr(layer, name).base
        require(base == -1 or base > 0, "base must be strictly positive.", (name, "base"),
                "invalid-param")
    return LayerShapes([tuple(bottoms[0])])


@shape_rule("AbsVal")
def absval(layer, bottoms):
    """|x|; top = bottom, but Caffe refuses in-place AbsVal."""
    forbid_in_place(layer, "AbsVal")
    return LayerShapes([tuple(bottoms[0])])


@shape_rule("ReLU6", fork="MobileNet-YOLO (eric612) and other MobileNet-v2 forks")
def relu6(layer, bottoms):
    """min(max(x, 0), 6); top = bottom."""
    return LayerShapes([tuple(bottoms[0])])


@shape_rule("PReLU")
def prelu(layer, bottoms):
    """Leaky ReLU with learned slopes: one per channel (C,), or one scalar () if channel_shared."""
    bottom = bottoms[0]
    require(len(bottom) >= 2, "Number of axes of bottom blob must be >=2.", ("bottom", 0),
            "wrong-axes")
    channels = legacy_dim(bottom, 1, ("bottom", 0))
    params = [()] if layer.prelu_param.channel_shared else [(channels,)]
    return LayerShapes([tuple(bottom)], params)


@shape_rule("Eltwise", bottoms=(2, None))
def eltwise(layer, bottoms):
    """SUM (optional coeff per bottom), PROD or MAX of equally shaped bottoms."""
    param = layer.eltwise_param
    require(len(param.coeff) in (0, len(bottoms)), "Eltwise Layer takes one coefficient per "
            "bottom blob.", ("eltwise_param", "coeff"), "invalid-param")
    require(not (param.operation == 0 and len(param.coeff)),  # 0 = PROD
            "Eltwise layer only takes coefficients for summation.", ("eltwise_param", "coeff"),
            "invalid-param")
    require_same_shape(bottoms, "Eltwise bottoms must have the same shape")
    return LayerShapes([tuple(bottoms[0])])


@shape_rule("BatchNorm")
def batch_norm(layer, bottoms):
    """Normalizes per channel (axis 1); 3 blobs: mean (C,), variance (C,), scale factor (1,)."""
    bottom = bottoms[0]
    require(len(bottom) >= 2, f"BatchNorm reads channels from axis 1; got "
            f"{shape_string(bottom)}", ("bottom", 0), "wrong-axes")
    channels = bottom[1]
    return LayerShapes([tuple(bottom)], [(channels,), (channels,), (1,)])


def _broadcast_shape(bottom: tuple, axis_field: tuple, axis: int, num_axes: int,
                     what: str) -> tuple:
    """Scale/Bias LayerSetUp: the learned blob covers bottom axes [axis, axis+num_axes)."""
    start = canonical_axis(bottom, axis, axis_field)
    require(num_axes >= -1, "num_axes must be non-negative, or -1 to extend to the end of "
            "bottom[0]", axis_field[:1] + ("num_axes",), "invalid-param")
    if num_axes >= 0:
        require(len(bottom) >= start + num_axes, f"{what} blob's shape extends past bottom[0]'s "
                f"shape when applied starting with bottom[0] axis = {start}",
                axis_field[:1] + ("num_axes",), "axis-out-of-range")
    end = len(bottom) if num_axes == -1 else start + num_axes
    return tuple(bottom[start:end])


def _check_broadcast(bottom: tuple, operand: tuple, axis: int, axis_field: tuple,
                     what: str) -> None:
    """Scale/Bias Reshape: operand dims must equal bottom dims from axis (0 for a scalar)."""
    start = 0 if len(operand) == 0 else canonical_axis(bottom, axis, axis_field)
    require(len(bottom) >= start + len(operand), f"{what} blob's shape extends past "
            f"bottom[0]'s shape when applied starting with bottom[0] axis = {start}",
            ("bottom", 1), "axis-out-of-range")
    for i, dim in enumerate(operand):
        require(bottom[start + i] == dim, f"dimension mismatch between bottom[0]->shape("
                f"{start + i}) = {bottom[start + i]} and {what}->shape({i}) = {dim}",
                ("bottom", 1), "shape-mismatch")


@shape_rule("Scale", bottoms=(1, 2))
def scale(layer, bottoms):
    """x * scale broadcast from axis; the scale is a learned blob or bottom[1]; optional bias."""
    param = layer.scale_param
    bottom = bottoms[0]
    field = ("scale_param", "axis")
    params = []
    if len(bottoms) == 1:
        factor = _broadcast_shape(bottom, field, param.axis, param.num_axes, "scale")
        params.append(factor)
    else:
        factor = tuple(bottoms[1])
    _check_broadcast(bottom, factor, param.axis, field, "scale")
    if param.bias_term:
        # Caffe builds an internal Bias layer with num_axes = bottom[1]'s axes (two bottoms).
        bias_axes = len(bottoms[1]) if len(bottoms) == 2 else param.num_axes
        params.append(_broadcast_shape(bottom, field, param.axis, bias_axes, "bias"))
    return LayerShapes([tuple(bottom)], params)


@shape_rule("Bias", bottoms=(1, 2))
def bias(layer, bottoms):
    """x + bias broadcast from axis; the bias is a learned blob or bottom[1]."""
    param = layer.bias_param
    bottom = bottoms[0]
    field = ("bias_param", "axis")
    params = []
    if len(bottoms) == 1:
        operand = _broadcast_shape(bottom, field, param.axis, param.num_axes, "bias")
        params.append(operand)
    else:
        operand = tuple(bottoms[1])
    _check_broadcast(bottom, operand, param.axis, field, "bias")
    return LayerShapes([tuple(bottom)], params)


@shape_rule("LRN")
def lrn(layer, bottoms):
    """Local response normalization (ACROSS_CHANNELS or WITHIN_CHANNEL) on 4-D input."""
    bottom = bottoms[0]
    require(len(bottom) == 4, f"Input must have 4 axes, corresponding to (num, channels, height, "
            f"width); got {shape_string(bottom)}", ("bottom", 0), "wrong-axes")
    require(layer.lrn_param.local_size % 2 == 1, "LRN only supports odd values for local_size",
            ("lrn_param", "local_size"), "invalid-param")
    return LayerShapes([tuple(bottom)])


@shape_rule("MVN")
def mvn(layer, bottoms):
    """Mean-variance normalization; reads legacy num/channels so at most 4 axes."""
    legacy4(bottoms[0], ("bottom", 0))
    return LayerShapes([tuple(bottoms[0])])


@shape_rule("Softmax")
def softmax(layer, bottoms):
    """Softmax along axis (default 1); top = bottom."""
    canonical_axis(bottoms[0], layer.softmax_param.axis, ("softmax_param", "axis"))
    return LayerShapes([tuple(bottoms[0])])


@shape_rule("Normalize", fork="SSD (weiliu89/caffe ssd)")
def normalize(layer, bottoms):
    """L2 normalization (ParseNet/SSD) with a learned scale: () if channel_shared else (C,)."""
    param = fork_param(layer, "norm_param", "Normalize")
    bottom = bottoms[0]
    require(len(bottom) >= 2, "Number of axes of bottom blob must be >=2.", ("bottom", 0),
            "wrong-axes")
    channels = legacy_dim(bottom, 1, ("bottom", 0))
    params = [()] if param.channel_shared else [(channels,)]
    return LayerShapes([tuple(bottom)], params)


PSPNET_BN_FIELDS = ("slope_filler", "bias_filler", "momentum", "eps", "frozen")
SEGNET_BN_FIELDS = ("bn_mode", "scale_filler", "shift_filler")


@shape_rule("BN", tops=(1, 3), fork="SegNet (alexgkendall/caffe-segnet) / PSPNet (hszhao/PSPNet)",
            restrictions="which fork is meant is read from the bn_param fields set; with none set "
                         "the parameter shapes are reported unknown")
def bn(layer, bottoms):
    """Batch norm with built-in affine: SegNet 2 blobs / PSPNet 4 blobs, each (1, C, 1, 1)."""
    param = fork_param(layer, "bn_param", "BN")
    bottom = bottoms[0]
    pspnet = any(has(param, f) for f in PSPNET_BN_FIELDS)
    segnet = any(has(param, f) for f in SEGNET_BN_FIELDS)
    require(not (pspnet and segnet), "bn_param mixes SegNet fields (bn_mode, scale_filler, "
            "shift_filler) with PSPNet fields (slope_filler, bias_filler, momentum, eps, frozen)",
            ("bn_param",), "conflicting-params")
    num, channels, height, width = legacy4(bottom, ("bottom", 0))
    blob = (1, channels, 1, 1)
    if pspnet:
        require(len(layer.top) == 1, "PSPNet's BN has one top", ("top",), "bad-blob-count")
        return LayerShapes([tuple(bottom)], [blob] * 4)
    extra = [blob] * (len(layer.top) - 1)  # SegNet: optional batch mean / variance tops
    if segnet:
        return LayerShapes([(num, channels, height, width)] + extra, [blob] * 2)
    if len(bottom) != 4 and len(layer.top) == 1:
        raise ShapeUnknown("BN without bn_param fields: SegNet's reshapes to 4-D, PSPNet's keeps "
                           f"{shape_string(bottom)}", code="ambiguous-fork")
    return LayerShapes([(num, channels, height, width)] + extra, None,
                       notes=["BN parameter blobs: 2 x (1, C, 1, 1) in SegNet, 4 x (1, C, 1, 1) "
                              "in PSPNet; bn_param does not say which fork"])


@shape_rule("Axpy", bottoms=(3, 3), fork="SENet (hujie-frank/SENet)")
def axpy(layer, bottoms):
    """F = a * X + Y with a (N, C[, 1, 1]) per channel; top = X's shape."""
    a, x, y = bottoms
    require(len(a) >= 2 and len(x) >= 2 and a[0] == x[0] and a[1] == x[1],
            f"scale bottom {shape_string(a)} must be (N, C) of X {shape_string(x)}",
            ("bottom", 0), "shape-mismatch")
    if len(a) == 4:
        require(a[2] == 1 and a[3] == 1, "scale bottom must be N x C x 1 x 1", ("bottom", 0),
                "shape-mismatch")
    require(tuple(x) == tuple(y), f"X {shape_string(x)} and Y {shape_string(y)} differ",
            ("bottom", 2), "shape-mismatch")
    return LayerShapes([tuple(x)])
