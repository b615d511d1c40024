"""Normalizing layers: BatchNorm, Scale, Bias, LRN, MVN, Softmax, SSD's Normalize and the BN of
SegNet and PSPNet.

Where Caffe precomputes per-channel constants in float (BatchNorm's mean = blob0 * (1/f) and
sqrt(var + eps)), the same float32 arithmetic is done here in numpy, so the exported graph
subtracts and divides by the very values Caffe uses.
"""

from __future__ import annotations

import numpy as np

from ..shapes.common import canonical_axis, has
from ..shapes.elementwise import PSPNET_BN_FIELDS, SEGNET_BN_FIELDS
from .registry import exporter

f32 = np.float32


def _per_channel(ctx, values: np.ndarray, rank: int, hint: str) -> str:
    return ctx.const(ctx.broadcastable(values.astype(f32), rank, 1), hint)


def _batch_norm_limits(param):
    bn = param.batch_norm_param
    if bn.HasField("use_global_stats") and not bn.use_global_stats:
        yield (("batch_norm_param", "use_global_stats"), "use_global_stats: false normalizes "
                                                         "with the batch's own statistics")


@exporter("BatchNorm", limits=_batch_norm_limits,
          restrictions="stored statistics only (use_global_stats: false is refused)")
def batch_norm(ctx, layer):
    """(x - blob0/f) / sqrt(blob1/f + eps) per channel (axis 1); f == 0 gives zero statistics."""
    mean_sum, var_sum, factor = ctx.weights(layer)
    f = f32(factor.reshape(-1)[0])
    scale = f32(0) if f == 0 else f32(1) / f  # batch_norm_layer.cpp multiplies by 1 / f
    mean = mean_sum * scale
    std = np.sqrt(var_sum * scale + f32(layer.param.batch_norm_param.eps))
    rank = len(ctx.bottom_shape(layer))
    centered = ctx.op("Sub", ctx.bottom(layer), _per_channel(ctx, mean, rank, "mean"))
    ctx.op("Div", centered, _per_channel(ctx, std, rank, "std"), out=ctx.top(layer))


def _operand(ctx, layer, weights: list, axis_field: str, param) -> tuple:
    """The factor of Scale / addend of Bias as a broadcastable tensor, and the weights left."""
    bottom = ctx.bottom_shape(layer)
    rank = len(bottom)
    if len(layer.bottoms) == 2:
        shape = ctx.bottom_shape(layer, 1)
        start = 0 if not shape else canonical_axis(bottom, param.axis)
        target = tuple(shape) + (1,) * (rank - start - len(shape)) if shape else shape
        return ctx.reshape(ctx.bottom(layer, 1), shape, target), weights, start
    blob = weights[0]
    start = 0 if blob.ndim == 0 else canonical_axis(bottom, param.axis)
    ctx.guard_batch_axis(start if blob.ndim else 1, (axis_field, "axis"),
                         f"a learned {layer.type.lower()} blob")
    return ctx.const(ctx.broadcastable(blob, rank, start), axis_field.split("_")[0]), \
        weights[1:], start


@exporter("Scale", restrictions="learned factor not on axis 0 with --dynamic-batch")
def scale(ctx, layer):
    """x * factor (learned, or bottom[1]) broadcast from axis over num_axes; + bias_term."""
    param = layer.param.scale_param
    factor, rest, start = _operand(ctx, layer, ctx.weights(layer), "scale_param", param)
    out = ctx.top(layer)
    product = ctx.op("Mul", ctx.bottom(layer), factor, out=None if param.bias_term else out)
    if param.bias_term:
        bias = rest[0]
        rank = len(ctx.bottom_shape(layer))
        ctx.op("Add", product, ctx.const(ctx.broadcastable(bias, rank, start if bias.ndim else 0),
                                         "bias"), out=out)


@exporter("Bias", restrictions="learned bias not on axis 0 with --dynamic-batch")
def bias(ctx, layer):
    """x + bias (learned, or bottom[1]) broadcast from axis over num_axes."""
    addend, _, _ = _operand(ctx, layer, ctx.weights(layer), "bias_param", layer.param.bias_param)
    ctx.op("Add", ctx.bottom(layer), addend, out=ctx.top(layer))


@exporter("LRN", restrictions="WITHIN_CHANNEL uses 1, not k, as Caffe's own composition does")
def lrn(ctx, layer):
    """ACROSS_CHANNELS: ONNX LRN (bias = k).  WITHIN_CHANNEL: x * (1 + alpha * avg(x^2))^-beta.

    lrn_layer.cpp builds WITHIN_CHANNEL from layers: Power(2), AVE Pooling(size, pad
    (size-1)/2, stride 1 — every window counts size^2 elements), Power(shift 1, scale alpha,
    power -beta), Eltwise PROD.  Its shift is 1: ``k`` is ignored there.
    """
    param = layer.param.lrn_param
    x, out = ctx.bottom(layer), ctx.top(layer)
    if param.norm_region == 0:  # ACROSS_CHANNELS
        ctx.op("LRN", x, out=out, size=param.local_size, alpha=float(param.alpha),
               beta=float(param.beta), bias=float(param.k))
        return
    size, pre_pad = param.local_size, (param.local_size - 1) // 2
    mean_square = ctx.op("AveragePool", ctx.op("Mul", x, x), kernel_shape=[size, size],
                         pads=[pre_pad] * 4, strides=[1, 1], count_include_pad=1)
    base = ctx.op("Add", ctx.op("Mul", mean_square, ctx.const(param.alpha, "alpha")),
                  ctx.const(1.0, "one"))
    ctx.op("Mul", x, ctx.op("Pow", base, ctx.const(-param.beta, "neg_beta")), out=out)


@exporter("MVN", restrictions="axes as Caffe's legacy (num, channels, height, width) view")
def mvn(ctx, layer):
    """x - mean over (C,)H,W per item (and channel); with normalize_variance / (sqrt(var) + eps)."""
    param = layer.param.mvn_param
    shape = ctx.bottom_shape(layer)
    first = 1 if param.across_channels else 2
    axes = list(range(first, len(shape)))
    x, out = ctx.bottom(layer), ctx.top(layer)
    if not axes:  # each mean is over one element: x - x
        mean = x
    else:
        mean = ctx.reduce("ReduceMean", x, axes, keepdims=True)
    centered = ctx.op("Sub", x, mean, out=None if param.normalize_variance else out)
    if not param.normalize_variance:
        return
    square = ctx.op("Mul", centered, centered)
    variance = ctx.reduce("ReduceMean", square, axes, keepdims=True) if axes else square
    # mvn_layer.cpp adds eps after the square root.
    std = ctx.op("Add", ctx.op("Sqrt", variance), ctx.const(param.eps, "eps"))
    ctx.op("Div", centered, std, out=out)


@exporter("Softmax", restrictions="with --dynamic-batch, axis >= 1")
def softmax(ctx, layer):
    """Softmax along axis (opset >= 13 normalizes exactly that axis, as Caffe)."""
    axis = canonical_axis(ctx.bottom_shape(layer), layer.param.softmax_param.axis)
    ctx.guard_batch_axis(axis, ("softmax_param", "axis"), "Softmax")
    ctx.op("Softmax", ctx.bottom(layer), out=ctx.top(layer), axis=axis)


@exporter("Normalize", fork="SSD (weiliu89/caffe ssd)",
          restrictions="legacy (num, channels, height, width) view; eps inside the square root")
def normalize(ctx, layer):
    """x / sqrt(sum x^2 + eps) over C,H,W (across_spatial) or over C per pixel; x scale."""
    param = layer.param.norm_param
    shape = ctx.bottom_shape(layer)
    axes = list(range(1, len(shape))) if param.across_spatial else [1]
    x = ctx.bottom(layer)
    sums = ctx.reduce("ReduceSumSquare", x, axes, keepdims=True)
    norm = ctx.op("Sqrt", ctx.op("Add", sums, ctx.const(param.eps, "eps")))
    if param.across_spatial:  # normalize_layer.cpp scales by the reciprocal
        normalized = ctx.op("Mul", x, ctx.op("Reciprocal", norm))
    else:
        normalized = ctx.op("Div", x, norm)
    factor = ctx.weights(layer)[0]
    factor = factor.reshape(1) if factor.ndim == 0 else ctx.broadcastable(factor, len(shape), 1)
    ctx.op("Mul", normalized, ctx.const(factor, "scale"), out=ctx.top(layer))


# --- the forks' BN layer: SegNet (2 blobs, batch statistics unless INFERENCE) and PSPNet
# (4 blobs, stored statistics at test time); which fork is meant follows the bn_param fields
# set, as the shape rule decides.

def _bn_fork(param) -> str | None:
    bn = param.bn_param
    if any(has(bn, f) for f in PSPNET_BN_FIELDS):
        return "pspnet"
    if any(has(bn, f) for f in SEGNET_BN_FIELDS):
        return "segnet"
    return None


def _bn_limits(param):
    if _bn_fork(param) is None:
        yield (("bn_param",), "bn_param sets none of SegNet's fields (bn_mode, scale_filler, "
                              "shift_filler) nor PSPNet's (slope_filler, bias_filler, momentum, "
                              "eps, frozen), so which fork's BN is meant (2 or 4 blobs; batch or "
                              "stored statistics) is unknown: set one of them")


@exporter("BN", limits=_bn_limits,
          fork="SegNet (alexgkendall/caffe-segnet) / PSPNet (hszhao/PSPNet)",
          restrictions="fork told by the bn_param fields set; SegNet LEARN mode normalizes with "
                       "the batch's statistics (refused with --dynamic-batch)")
def bn(ctx, layer):
    """SegNet: scale * (x - E x) / sqrt(E x^2 - (E x)^2 + 1e-9) + shift over N,H,W (LEARN), or
    scale * x + shift (INFERENCE).  PSPNet: (x - mean) * (var + eps)^-1/2 * slope + bias."""
    if _bn_fork(layer.param) == "pspnet":
        _pspnet_bn(ctx, layer)
    else:
        _segnet_bn(ctx, layer)


def _pspnet_bn(ctx, layer):
    """bn_layer.cpp (PSPNet) at test time: the stored moving averages, eps inside the power."""
    slope, bias, mean, var = (w.reshape(-1) for w in ctx.weights(layer))
    rank = len(ctx.bottom_shape(layer))
    inv_std = np.power(var + f32(layer.param.bn_param.eps), f32(-0.5))  # caffe_powx, in float
    centered = ctx.op("Sub", ctx.bottom(layer), _per_channel(ctx, mean, rank, "mean"))
    normalized = ctx.op("Mul", centered, _per_channel(ctx, inv_std, rank, "inv_std"))
    scaled = ctx.op("Mul", normalized, _per_channel(ctx, slope, rank, "slope"))
    ctx.op("Add", scaled, _per_channel(ctx, bias, rank, "bias"), out=ctx.top(layer))


def _segnet_bn(ctx, layer):
    """bn_layer.cpp (SegNet): the top is the bottom read as (num, channels, height, width)."""
    scale, shift = (w.reshape(-1) for w in ctx.weights(layer))
    top = ctx.top_shape(layer)
    x = ctx.reshape(ctx.bottom(layer), ctx.bottom_shape(layer), top)
    extra = [ctx.top(layer, i) for i in range(1, len(layer.tops))]
    if layer.param.bn_param.bn_mode == 1:  # INFERENCE: statistics already folded in
        scaled = ctx.op("Mul", x, _per_channel(ctx, scale, 4, "scale"))
        ctx.op("Add", scaled, _per_channel(ctx, shift, 4, "shift"), out=ctx.top(layer))
        if extra:
            ctx.guard_batch_axis(0, ("top", 1), "the (1, C, 1, 1) batch-statistics tops: each")
        for name in extra:  # never written in this mode: Caffe's zero-filled blobs
            ctx.op("Identity", ctx.const(np.zeros((1, top[1], 1, 1), f32), "unset"), out=name)
        return
    ctx.guard_batch_axis(0, ("bn_param", "bn_mode"), "SegNet's BN in LEARN mode (batch "
                                                     "statistics)")
    axes = [0, 2, 3]
    mean = ctx.reduce("ReduceMean", x, axes, keepdims=True)
    mean_square = ctx.reduce("ReduceMean", ctx.op("Mul", x, x), axes, keepdims=True)
    variance = ctx.op("Sub", mean_square, ctx.op("Mul", mean, mean))  # E(x^2) - (E x)^2
    std = ctx.op("Sqrt", ctx.op("Add", variance, ctx.const(1e-9, "var_eps")))
    normalized = ctx.op("Div", ctx.op("Sub", x, mean), std)
    scaled = ctx.op("Mul", normalized, _per_channel(ctx, scale, 4, "scale"))
    ctx.op("Add", scaled, _per_channel(ctx, shift, 4, "shift"), out=ctx.top(layer))
    for name, value in zip(extra, (mean, variance)):  # top[1] batch mean, top[2] variance
        ctx.op("Identity", value, out=name)
