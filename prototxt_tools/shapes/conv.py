"""Convolution family: Convolution, Deconvolution, Im2col and the depthwise forks.

Follows BaseConvolutionLayer::LayerSetUp/Reshape (base_conv_layer.cpp) and compute_output_shape
in conv_layer.cpp / deconv_layer.cpp.  Output sizes use C's truncating division, so a kernel a
little larger than the padded input can still give 1 with stride > 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from .common import (c_div, c_int, canonical_axis, count, fail, has, legacy4, require,
                     require_same_shape, shape_string)
from .registry import LayerShapes, shape_rule

P = "convolution_param"


@dataclass
class Geometry:
    """Per spatial axis: kernel, stride, pad, dilation, and which field set each kernel size."""

    channel_axis: int
    kernel: list
    stride: list
    pad: list
    dilation: list
    kernel_fields: list

    def extent(self, i: int) -> int:
        return self.dilation[i] * (self.kernel[i] - 1) + 1


def _per_axis(param, name: str, h_name: str, w_name: str, spatial: int, default: int | None):
    """One value for all axes, one per axis, or the 2-D _h/_w pair (not both), as Caffe reads."""
    if has(param, h_name) or has(param, w_name):
        require(spatial == 2, f"{h_name} & {w_name} can only be used for 2D convolution.",
                (P, h_name), "invalid-param")
        require(len(getattr(param, name)) == 0,
                f"Either {name} or {h_name}/{w_name} should be specified; not both.",
                (P, name, 0), "conflicting-params")
        return ([c_int(getattr(param, h_name), (P, h_name)),
                 c_int(getattr(param, w_name), (P, w_name))], [(P, h_name), (P, w_name)])
    given = list(getattr(param, name))
    allowed = (1, spatial) if default is None else (0, 1, spatial)
    require(len(given) in allowed,
            f"{name} must be specified once, or once per spatial dimension ({name} specified "
            f"{len(given)} times; {spatial} spatial dims).", (P, name), "invalid-param")
    out, fields = [], []
    for i in range(spatial):
        if not given:
            out.append(default)
            fields.append((P,))
        else:
            j = 0 if len(given) == 1 else i
            out.append(c_int(given[j], (P, name, j)))
            fields.append((P, name, j))
    return out, fields


def conv_geometry(layer, bottom: tuple, min_spatial: int = 0) -> Geometry:
    """BaseConvolutionLayer::LayerSetUp's kernel/stride/pad/dilation parsing."""
    param = layer.convolution_param
    channel_axis = canonical_axis(bottom, param.axis, (P, "axis"))
    spatial = len(bottom) - channel_axis - 1
    require(spatial >= min_spatial, f"input {shape_string(bottom)} has {spatial} spatial axes "
            f"after channel axis {channel_axis}", (P, "axis"), "axis-out-of-range")
    kernel, kernel_fields = _per_axis(param, "kernel_size", "kernel_h", "kernel_w", spatial, None)
    for k, f in zip(kernel, kernel_fields):
        require(k > 0, "Filter dimensions must be nonzero.", f, "invalid-param")
    stride, stride_fields = _per_axis(param, "stride", "stride_h", "stride_w", spatial, 1)
    for s, f in zip(stride, stride_fields):
        require(s > 0, "Stride dimensions must be nonzero.", f, "invalid-param")
    pad, _ = _per_axis(param, "pad", "pad_h", "pad_w", spatial, 0)
    dilation_given = list(param.dilation)
    require(len(dilation_given) in (0, 1, spatial),
            f"dilation must be specified once, or once per spatial dimension (dilation specified "
            f"{len(dilation_given)} times; {spatial} spatial dims).", (P, "dilation"),
            "invalid-param")
    dilation = [1 if not dilation_given else
                c_int(dilation_given[0 if len(dilation_given) == 1 else i], (P, "dilation"))
                for i in range(spatial)]
    return Geometry(channel_axis, kernel, stride, pad, dilation, kernel_fields)


def conv_output_dims(geometry: Geometry, bottom: tuple, notes: list) -> list:
    """(in + 2p - extent) / s + 1 with C division; <= 0 means the kernel does not fit."""
    dims = []
    for i in range(len(geometry.kernel)):
        size = bottom[geometry.channel_axis + 1 + i]
        padded = size + 2 * geometry.pad[i]
        extent = geometry.extent(i)
        out = c_div(padded - extent, geometry.stride[i]) + 1
        if out <= 0:
            fail(f"kernel extent {extent} is larger than the padded input {padded} "
                 f"(input {size}, pad {geometry.pad[i]}) on spatial axis {i}: Caffe computes "
                 f"output size ({padded} - {extent}) / {geometry.stride[i]} + 1 = {out}",
                 geometry.kernel_fields[i], "kernel-larger-than-input")
        if padded < extent:
            notes.append(f"spatial axis {i}: kernel extent {extent} exceeds padded input "
                         f"{padded}; C's truncating division ({padded} - {extent}) / "
                         f"{geometry.stride[i]} = 0 still gives output size 1")
        dims.append(out)
    return dims


def _channels_and_groups(layer, channels: int, num_output: int) -> int:
    param = layer.convolution_param
    require(num_output > 0, "num_output must be positive", (P, "num_output"), "invalid-param")
    group = param.group
    require(group > 0, "group must be positive (Caffe divides by it)", (P, "group"),
            "invalid-param")
    require(channels % group == 0, f"input channels {channels} are not a multiple of group "
            f"{group}", (P, "group"), "group-mismatch")
    require(num_output % group == 0, f"num_output {num_output} is not a multiple of group "
            f"{group} (Caffe: Number of output should be multiples of group.)", (P, "group"),
            "group-mismatch")
    return group


def _product(values) -> int:
    total = 1
    for v in values:
        total *= v
    return total


@shape_rule("Convolution", "DepthwiseConvolution", bottoms=(1, None), tops=(1, None),
            equal_bottom_top=True,
            restrictions="DepthwiseConvolution (yonghenglh6 fork) subclasses Convolution: same "
                         "shapes and weights")
def convolution(layer, bottoms):
    """N-D convolution; weights (num_output, C/group, *kernel), bias (num_output,).

    MACs: per top, outer * num_output * out_spatial * (C/group) * kernel volume (bias adds
    not counted).
    """
    require_same_shape(bottoms, "All inputs must have the same shape")
    bottom = bottoms[0]
    geometry = conv_geometry(layer, bottom)
    channels = bottom[geometry.channel_axis]
    num_output = layer.convolution_param.num_output
    group = _channels_and_groups(layer, channels, num_output)
    notes: list = []
    out_dims = conv_output_dims(geometry, bottom, notes)
    top = tuple(bottom[:geometry.channel_axis]) + (num_output,) + tuple(out_dims)
    params = [(num_output, channels // group) + tuple(geometry.kernel)]
    if layer.convolution_param.bias_term:
        params.append((num_output,))
    per_top = (count(bottom, 0, geometry.channel_axis) * num_output * _product(out_dims)
               * (channels // group) * _product(geometry.kernel))
    return LayerShapes([top] * len(bottoms), params, per_top * len(bottoms), notes)


@shape_rule("Deconvolution", bottoms=(1, None), tops=(1, None), equal_bottom_top=True)
def deconvolution(layer, bottoms):
    """Transposed convolution s*(in-1) + extent - 2p; weights (C_in, num_output/group, *kernel).

    MACs: per top, outer * C_in * in_spatial * (num_output/group) * kernel volume.
    """
    require_same_shape(bottoms, "All inputs must have the same shape")
    bottom = bottoms[0]
    geometry = conv_geometry(layer, bottom)
    channels = bottom[geometry.channel_axis]
    num_output = layer.convolution_param.num_output
    group = _channels_and_groups(layer, channels, num_output)
    out_dims = []
    for i in range(len(geometry.kernel)):
        size = bottom[geometry.channel_axis + 1 + i]
        out = geometry.stride[i] * (size - 1) + geometry.extent(i) - 2 * geometry.pad[i]
        require(out > 0, f"deconvolution output size {geometry.stride[i]} * ({size} - 1) + "
                f"{geometry.extent(i)} - 2 * {geometry.pad[i]} = {out} on spatial axis {i} is "
                f"not positive", (P, "pad"), "nonpositive-output")
        out_dims.append(out)
    top = tuple(bottom[:geometry.channel_axis]) + (num_output,) + tuple(out_dims)
    params = [(channels, num_output // group) + tuple(geometry.kernel)]
    if layer.convolution_param.bias_term:
        params.append((num_output,))
    in_spatial = count(bottom, geometry.channel_axis + 1)
    per_top = (count(bottom, 0, geometry.channel_axis) * channels * in_spatial
               * (num_output // group) * _product(geometry.kernel))
    return LayerShapes([top] * len(bottoms), params, per_top * len(bottoms))


@shape_rule("Im2col")
def im2col(layer, bottoms):
    """Unfolds patches: channels * kernel volume, spatial sizes as a convolution's."""
    bottom = bottoms[0]
    geometry = conv_geometry(layer, bottom, min_spatial=1)
    notes: list = []
    out_dims = conv_output_dims(geometry, bottom, notes)
    top = list(bottom)
    top[geometry.channel_axis] = bottom[geometry.channel_axis] * _product(geometry.kernel)
    for i, out in enumerate(out_dims):
        top[geometry.channel_axis + 1 + i] = out
    return LayerShapes([tuple(top)], [], 0, notes)


def _dw_pair(param, name: str, h_name: str, w_name: str, default: int | None):
    """ConvolutionDepthwise reads _h/_w when both are set, else element 0 (and 1)."""
    if has(param, h_name) and has(param, w_name):
        return (getattr(param, h_name), getattr(param, w_name)), (P, h_name)
    given = list(getattr(param, name))
    if not given:
        require(default is not None, f"ConvolutionDepthwise needs {name}", (P, name),
                "missing-param")
        return (default, default), (P, name)
    return (given[0], given[0] if len(given) == 1 else given[1]), (P, name, 0)


@shape_rule("ConvolutionDepthwise", fork="ConvolutionDepthwise (conv_dw_layer.cpp: MobileNet-SSD "
            "forks, mini-caffe)",
            restrictions="output channels = input channels whatever num_output says; stride/pad "
                         "default to 1/0 as in mini-caffe (older copies read stride(0) unchecked)")
def convolution_depthwise(layer, bottoms):
    """Depthwise 2-D convolution; weights (C, 1, kh, kw), bias (C,); 4-D legacy axes.

    MACs: N * C * out_h * out_w * kh * kw.
    """
    param = layer.convolution_param
    num, channels, height, width = legacy4(bottoms[0], ("bottom", 0))
    kernel, kernel_field = _dw_pair(param, "kernel_size", "kernel_h", "kernel_w", None)
    stride, _ = _dw_pair(param, "stride", "stride_h", "stride_w", 1)
    pad, _ = _dw_pair(param, "pad", "pad_h", "pad_w", 0)
    dilation, _ = _dw_pair(param, "dilation", "dilation", "dilation", 1)
    for s in stride:
        require(s > 0, "stride must be positive (Caffe divides by it)", (P, "stride"),
                "invalid-param")
    out = []
    for size, k, s, p, d in zip((height, width), kernel, stride, pad, dilation):
        extent = d * (k - 1) + 1
        o = c_div(size + 2 * p - extent, s) + 1
        require(o > 0, f"kernel extent {extent} is larger than the padded input {size + 2 * p}",
                kernel_field, "kernel-larger-than-input")
        out.append(o)
    params = [(channels, 1, kernel[0], kernel[1])]
    if param.bias_term:
        params.append((channels,))
    macs = num * channels * out[0] * out[1] * kernel[0] * kernel[1]
    return LayerShapes([(num, channels, out[0], out[1])], params, macs)
