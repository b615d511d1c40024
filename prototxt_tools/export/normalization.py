"""Normalizing layers: BatchNorm, Scale, Bias, LRN, MVN, Softmax and SSD's Normalize.

Where Caffe precomputes per-channel constants in float (BatchNorm's mean = blob0 * (1/f) and
sqrt(var + eps)), the same float32 arithmetic is done here in numpy, so the exported graph
subtracts and divides by the very values Caffe uses.
"""

from __future__ import annotations

import numpy as np

from ..shapes.common import canonical_axis
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
