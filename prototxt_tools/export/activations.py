"""Element-wise neuron layers.  Constants are computed in float32 the way the Caffe layer's
LayerSetUp computes them, so e.g. Exp's ``outer_scale`` is the very float Caffe multiplies by.
"""

from __future__ import annotations

import numpy as np

from .registry import exporter

f32 = np.float32


def _unary(op_type: str, doc: str):
    def export(ctx, layer):
        ctx.op(op_type, ctx.bottom(layer), out=ctx.top(layer))
    export.__doc__ = doc
    return export


@exporter("ReLU", restrictions="negative_slope -> LeakyRelu")
def relu(ctx, layer):
    """Relu, or LeakyRelu(alpha = negative_slope): max(x, 0) + slope * min(x, 0)."""
    slope = layer.param.relu_param.negative_slope
    if slope == 0:
        ctx.op("Relu", ctx.bottom(layer), out=ctx.top(layer))
    else:
        ctx.op("LeakyRelu", ctx.bottom(layer), out=ctx.top(layer), alpha=float(slope))


def _relu6_limits(param):
    if param.HasField("relu6_param") and param.relu6_param.negative_slope != 0:
        yield (("relu6_param", "negative_slope"), "ReLU6 with a negative_slope")


@exporter("ReLU6", limits=_relu6_limits, fork="MobileNet-YOLO (eric612) and other MobileNet-v2 "
          "forks")
def relu6(ctx, layer):
    """Clip(0, 6)."""
    ctx.op("Clip", ctx.bottom(layer), ctx.const(0.0, "min"), ctx.const(6.0, "max"),
           out=ctx.top(layer))


@exporter("Clip")
def clip(ctx, layer):
    """Clip(min, max) = max(min, min(x, max))."""
    param = layer.param.clip_param
    ctx.op("Clip", ctx.bottom(layer), ctx.const(param.min, "min"), ctx.const(param.max, "max"),
           out=ctx.top(layer))


exporter("Sigmoid")(_unary("Sigmoid", "Sigmoid: 1 / (1 + exp(-x))."))
exporter("TanH")(_unary("Tanh", "Tanh."))
exporter("AbsVal")(_unary("Abs", "Abs: |x|."))


@exporter("BNLL")
def bnll(ctx, layer):
    """Softplus: log(1 + exp(x)), Caffe's numerically stable form of the same function."""
    ctx.op("Softplus", ctx.bottom(layer), out=ctx.top(layer))


@exporter("ELU")
def elu(ctx, layer):
    """Elu(alpha): max(x, 0) + alpha * (exp(min(x, 0)) - 1)."""
    ctx.op("Elu", ctx.bottom(layer), out=ctx.top(layer), alpha=float(layer.param.elu_param.alpha))


@exporter("Swish")
def swish(ctx, layer):
    """x * Sigmoid(beta * x)."""
    x = ctx.bottom(layer)
    beta = layer.param.swish_param.beta
    scaled = x if beta == 1 else ctx.op("Mul", x, ctx.const(beta, "beta"))
    ctx.op("Mul", x, ctx.op("Sigmoid", scaled), out=ctx.top(layer))


@exporter("PReLU", restrictions="one slope per channel (axis 1) or one for all (channel_shared)")
def prelu(ctx, layer):
    """PRelu with the slopes broadcast over axis 1 (a scalar when channel_shared)."""
    slope = ctx.weights(layer)[0]
    rank = len(ctx.bottom_shape(layer))
    slope = slope.reshape(1) if slope.ndim == 0 else ctx.broadcastable(slope, rank, 1)
    ctx.op("PRelu", ctx.bottom(layer), ctx.const(slope, "slope"), out=ctx.top(layer))


def _affine(ctx, x: str, scale, shift, out=None) -> str:
    """scale * x + shift with the steps Caffe skips (scale 1, shift 0) skipped too."""
    if scale != 1:
        x = ctx.op("Mul", x, ctx.const(scale, "scale"), out=out if shift == 0 else None)
    if shift != 0:
        x = ctx.op("Add", x, ctx.const(shift, "shift"), out=out)
    if out is not None and x != out:
        x = ctx.op("Identity", x, out=out)
    return x


@exporter("Power")
def power(ctx, layer):
    """(shift + scale * x) ^ power; a constant when power * scale == 0, as Caffe computes."""
    param = layer.param.power_param
    x, out = ctx.bottom(layer), ctx.top(layer)
    if f32(param.power) * f32(param.scale) == 0:
        value = f32(1) if param.power == 0 else np.power(f32(param.shift), f32(param.power))
        fill = ctx.const(np.array([value], f32), "value")
        ctx.op("Expand", fill, ctx.op("Shape", x), out=out)
        return
    if param.power == 1:
        _affine(ctx, x, param.scale, param.shift, out=out)
        return
    base = _affine(ctx, x, param.scale, param.shift)
    if param.power == 2:  # x*x is exactly what pow(x, 2) gives
        ctx.op("Mul", base, base, out=out)
    else:
        ctx.op("Pow", base, ctx.const(param.power, "power"), out=out)


@exporter("Exp")
def exp(ctx, layer):
    """base ^ (shift + scale * x) = outer * exp(inner * x), Caffe's two float constants."""
    param = layer.param.exp_param
    natural = param.base == -1
    log_base = f32(1) if natural else np.log(f32(param.base))
    inner = f32(log_base * f32(param.scale))
    if param.shift == 0:
        outer = f32(1)
    else:
        outer = np.exp(f32(param.shift)) if natural else np.power(f32(param.base), f32(param.shift))
    x = ctx.bottom(layer)
    if inner != 1:
        x = ctx.op("Mul", x, ctx.const(inner, "inner_scale"))
    y = ctx.op("Exp", x, out=ctx.top(layer) if outer == 1 else None)
    if outer != 1:
        ctx.op("Mul", y, ctx.const(outer, "outer_scale"), out=ctx.top(layer))


@exporter("Log")
def log(ctx, layer):
    """log_base(shift + scale * x) = ln(shift + scale * x) * (1 / ln(base))."""
    param = layer.param.log_param
    base_scale = f32(1) if param.base == -1 else f32(1) / np.log(f32(param.base))
    y = ctx.op("Log", _affine(ctx, ctx.bottom(layer), param.scale, param.shift),
               out=ctx.top(layer) if base_scale == 1 else None)
    if base_scale != 1:
        ctx.op("Mul", y, ctx.const(base_scale, "base_scale"), out=ctx.top(layer))


@exporter("Threshold")
def threshold(ctx, layer):
    """1 where x > threshold, else 0 (as float)."""
    above = ctx.op("Greater", ctx.bottom(layer),
                   ctx.const(layer.param.threshold_param.threshold, "threshold"))
    ctx.op("Cast", above, out=ctx.top(layer), to=1)  # 1 = FLOAT


def _dropout_limits(param):
    if param.dropout_param.sample_weights_test:
        yield (("dropout_param", "sample_weights_test"), "dropout sampled at test time "
                                                         "(Bayesian SegNet) is random")


@exporter("Dropout", limits=_dropout_limits,
          restrictions="scale_train: false (Faster R-CNN) multiplies by 1 - ratio")
def dropout(ctx, layer):
    """Identity at test time; times (1 - ratio) when training did not scale (scale_train)."""
    param = layer.param.dropout_param
    x, out = ctx.bottom(layer), ctx.top(layer)
    if param.scale_train:
        ctx.op("Identity", x, out=out)
        return
    # dropout_layer.cpp: scale_ = 1 / (1 - threshold_) in float, then multiplies by 1 / scale_
    scale = f32(1.0 / (1.0 - float(f32(param.dropout_ratio))))
    ctx.op("Mul", x, ctx.const(f32(1.0 / float(scale)), "keep"), out=out)
