"""Layers with weights: Convolution (and the depthwise forks), Deconvolution, InnerProduct; and
Im2col, the convolution's unfolding.

Caffe's convolution output size truncates toward zero, ONNX's floors, and Caffe's im2col reads
zeros wherever a window leaves the padded input.  Rather than trusting the two formulas to
agree, every exporter derives ONNX's end padding from the output size our Caffe-exact shape
inference computed (:func:`end_pad`), so the ONNX op produces exactly Caffe's windows.
"""

from __future__ import annotations

import numpy as np

from ..shapes.conv import conv_geometry
from .registry import exporter


def end_pad(size: int, out: int, extent: int, stride: int, pad: int) -> int:
    """Padding after the input that makes ONNX's floor formula give Caffe's ``out`` windows.

    Caffe's own symmetric ``pad`` when it already does; else exactly the padding the last
    window needs (extra zeros, which is what Caffe's im2col reads there), never negative.
    """
    span = size + 2 * pad - extent
    if span >= 0 and span // stride + 1 == out:
        return pad
    return max(0, (out - 1) * stride + extent - size - pad)


def _conv_attrs(geometry, bottom: tuple, top: tuple, group: int) -> dict:
    spatial = range(len(geometry.kernel))
    ends = [end_pad(bottom[2 + i], top[2 + i], geometry.extent(i), geometry.stride[i],
                    geometry.pad[i]) for i in spatial]
    return {"kernel_shape": list(geometry.kernel), "strides": list(geometry.stride),
            "dilations": list(geometry.dilation), "pads": list(geometry.pad) + ends,
            "group": group}


def _bias_inputs(ctx, layer, weights: list) -> list:
    names = [ctx.const(weights[0], "weight")]
    if len(weights) > 1:
        names.append(ctx.const(weights[1], "bias"))
    return names


def _require_channel_axis_1(ctx, geometry) -> None:
    if geometry.channel_axis != 1:
        ctx.unsupported(("convolution_param", "axis"), f"channel axis {geometry.channel_axis} "
                        "(ONNX convolutions read channels from axis 1)")


@exporter("Convolution",
          restrictions="channel axis 1 only (convolution_param.axis); N-D as ONNX Conv (ONNX "
                       "Runtime runs 1-D to 3-D)")
def convolution(ctx, layer):
    """Conv with Caffe's groups, dilation, per-axis pad/stride; end pads from Caffe's sizes."""
    param = layer.param.convolution_param
    params = None
    for i in range(len(layer.bottoms)):
        bottom, top = ctx.bottom_shape(layer, i), ctx.top_shape(layer, i)
        geometry = conv_geometry(layer.param, bottom)
        _require_channel_axis_1(ctx, geometry)
        params = params or _bias_inputs(ctx, layer, ctx.weights(layer))
        ctx.op("Conv", ctx.bottom(layer, i), *params, out=ctx.top(layer, i),
               **_conv_attrs(geometry, bottom, top, param.group))


exporter("DepthwiseConvolution", fork="yonghenglh6/DepthwiseConvolution",
         restrictions="exported as the Convolution it subclasses (group as written)")(convolution)


def _depthwise_pair(param, name: str, default: int) -> tuple:
    """conv_dw_layer.cpp: ``name_h``/``name_w`` when both are set, else element 0 (and 1)."""
    h_name, w_name = f"{name}_h", f"{name}_w"
    fields = param.DESCRIPTOR.fields_by_name
    if h_name in fields and param.HasField(h_name) and param.HasField(w_name):
        return getattr(param, h_name), getattr(param, w_name)
    given = list(getattr(param, name))
    if not given:
        return default, default
    return given[0], given[1] if len(given) > 1 else given[0]


@exporter("ConvolutionDepthwise", fork="ConvolutionDepthwise (conv_dw_layer.cpp: MobileNet-SSD "
          "forks, mini-caffe)",
          restrictions="always one filter per input channel (group = channels), whatever "
                       "num_output and group say, as the fork computes")
def convolution_depthwise(ctx, layer):
    """Depthwise Conv (group = C) with the fork's kernel/stride/pad/dilation reading."""
    param = layer.param.convolution_param
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    weights = ctx.weights(layer)
    kernel = tuple(weights[0].shape[2:])
    stride = _depthwise_pair(param, "stride", 1)
    pad = _depthwise_pair(param, "pad", 0)
    dilation = _depthwise_pair(param, "dilation", 1)
    extents = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    ends = [end_pad(bottom[2 + i], top[2 + i], extents[i], stride[i], pad[i]) for i in range(2)]
    ctx.op("Conv", ctx.bottom(layer), *_bias_inputs(ctx, layer, weights), out=ctx.top(layer),
           kernel_shape=list(kernel), strides=list(stride), dilations=list(dilation),
           pads=list(pad) + ends, group=bottom[1])


@exporter("Deconvolution",
          restrictions="channel axis 1 only; Caffe's weight layout (C_in, num_output/group, "
                       "k...) is ONNX ConvTranspose's")
def deconvolution(ctx, layer):
    """ConvTranspose: s*(in-1) + d*(k-1)+1 - 2p, groups and dilation as Caffe."""
    param = layer.param.convolution_param
    params = None
    for i in range(len(layer.bottoms)):
        geometry = conv_geometry(layer.param, ctx.bottom_shape(layer, i))
        _require_channel_axis_1(ctx, geometry)
        params = params or _bias_inputs(ctx, layer, ctx.weights(layer))
        ctx.op("ConvTranspose", ctx.bottom(layer, i), *params, out=ctx.top(layer, i),
               kernel_shape=list(geometry.kernel), strides=list(geometry.stride),
               dilations=list(geometry.dilation), pads=list(geometry.pad) * 2,
               group=param.group)


@exporter("InnerProduct", restrictions="with --dynamic-batch, axis >= 1")
def inner_product(ctx, layer):
    """Gemm on the input flattened from ``axis`` (MatMul + Add when axis > 1); transpose."""
    param = layer.param.inner_product_param
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    axis = param.axis + len(bottom) if param.axis < 0 else param.axis
    ctx.guard_batch_axis(axis, ("inner_product_param", "axis"), "InnerProduct")
    weights = ctx.weights(layer)
    x, out = ctx.bottom(layer), ctx.top(layer)
    inner = 1
    for d in bottom[axis:]:
        inner *= d
    if axis <= 1:
        # (M, K) x W^T: Gemm reads Caffe's (N, K) weights with transB, (K, N) ones without.
        flat = x if len(bottom) == 2 and axis == 1 else ctx.op("Flatten", x, axis=axis)
        result = ctx.op("Gemm", flat, *_bias_inputs(ctx, layer, weights),
                        out=out if axis == 1 else None,
                        transB=0 if param.transpose else 1)
        if axis == 0:
            ctx.reshape(result, (1, top[0]), top, out=out)
        return
    rows = ctx.reshape(x, bottom, tuple(bottom[:axis]) + (inner,))
    matrix = weights[0] if param.transpose else weights[0].T
    product = ctx.op("MatMul", rows, ctx.const(matrix, "weight"),
                     out=out if len(weights) == 1 else None)
    if len(weights) > 1:
        ctx.op("Add", product, ctx.const(weights[1], "bias"), out=out)


@exporter("Im2col", restrictions="channel axis 1 only")
def im2col(ctx, layer):
    """Conv with one-hot filters, one group per channel: output channel c * K + k is tap k of
    input channel c (K = kernel volume), each a plain copy of a value or of padding zero."""
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    geometry = conv_geometry(layer.param, bottom)
    _require_channel_axis_1(ctx, geometry)
    channels, taps = bottom[1], int(np.prod(geometry.kernel))
    weight = np.zeros((channels, taps, 1, taps), np.float32)
    weight[:, np.arange(taps), 0, np.arange(taps)] = 1
    weight = weight.reshape((channels * taps, 1) + tuple(geometry.kernel))
    ctx.op("Conv", ctx.bottom(layer), ctx.const(weight, "taps"), out=ctx.top(layer),
           **_conv_attrs(geometry, bottom, top, channels))
