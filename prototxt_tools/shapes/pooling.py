"""Pooling family: Pooling (ceil/floor rounding, last-window clip, global), SPP, ROI pooling.

pooling_layer.cpp computes the output size in *float* — ``ceil(float(H + 2p - k) / s) + 1`` —
then, when there is padding, drops a last window that would start inside the padding.  The float
step is reproduced with numpy float32 so huge sizes round as Caffe's do.
"""

from __future__ import annotations

import math

import numpy as np

from .common import c_int, fail, fork_param, has, legacy4, require, shape_string
from .registry import LayerShapes, shape_rule

P = "pooling_param"
MAX, AVE, STOCHASTIC = 0, 1, 2


def pooled_size(size: int, kernel: int, pad: int, stride: int, ceil_mode: bool) -> int:
    """static_cast<int>(ceil|floor(static_cast<float>(size + 2*pad - kernel) / stride)) + 1."""
    ratio = np.float32(size + 2 * pad - kernel) / np.float32(stride)
    rounded = math.ceil(float(ratio)) if ceil_mode else math.floor(float(ratio))
    return rounded + 1


def pool_2d(bottom: tuple, kernel: tuple, pad: tuple, stride: tuple, ceil_mode: bool,
            kernel_field: tuple, notes: list) -> tuple:
    """PoolingLayer::Reshape for (kh, kw), (ph, pw), (sh, sw): the (pooled_h, pooled_w) pair."""
    _, _, height, width = bottom
    sizes = [pooled_size(n, k, p, s, ceil_mode)
             for n, k, p, s in zip((height, width), kernel, pad, stride)]
    if pad[0] or pad[1]:
        # The last window must start strictly inside the image (not in the padding).
        for axis, n in enumerate((height, width)):
            if (sizes[axis] - 1) * stride[axis] >= n + pad[axis]:
                sizes[axis] -= 1
                notes.append(f"{'hw'[axis]}: last window would start in the padding; Caffe "
                             f"clips it (output {sizes[axis]})")
        for axis, n in enumerate((height, width)):
            require((sizes[axis] - 1) * stride[axis] < n + pad[axis],
                    f"last pooling window starts outside the padded input on axis "
                    f"{'hw'[axis]}", ("pooling_param",), "invalid-param")
    for axis, n in enumerate((height, width)):
        if sizes[axis] <= 0:
            fail(f"pooling kernel {kernel[axis]} is larger than the padded input "
                 f"{n + 2 * pad[axis]} on axis {'hw'[axis]} (output size {sizes[axis]})",
                 kernel_field, "kernel-larger-than-input")
        reach = (sizes[axis] - 1) * stride[axis] + kernel[axis]
        if reach > n + 2 * pad[axis]:
            notes.append(f"{'hw'[axis]}: the last window hangs {reach - n - 2 * pad[axis]} past "
                         f"the padded input ({'ceil' if ceil_mode else 'floor'} rounding)")
    return tuple(sizes)


def empty_last_window(bottom: tuple, top: tuple, stride, pad) -> tuple | None:
    """(axis, start) of the first spatial axis whose last window starts past the input, or
    None.  With padding Caffe drops such a window (above); without, ceil rounding keeps it
    when the kernel is smaller than the stride, and Caffe then outputs -FLT_MAX (MAX) or
    divides by a window size <= 0 (AVE) there."""
    for axis, (n, o, s, p) in enumerate(zip(bottom[2:], top[2:], stride, pad)):
        start = (o - 1) * s - p
        if start >= n:
            return axis, start
    return None


def _pair(param, name: str, h_name: str, w_name: str) -> tuple:
    if has(param, h_name):
        return (c_int(getattr(param, h_name), (P, h_name)),
                c_int(getattr(param, w_name), (P, w_name)))
    value = c_int(getattr(param, name), (P, name))
    return (value, value)


def _ceil_mode(param) -> bool:
    """BVLC round_mode (CEIL=0, FLOOR=1); forks' ceil_mode: bool wins when it is set."""
    if has(param, "ceil_mode"):
        return bool(param.ceil_mode)
    return getattr(param, "round_mode", 0) == 0


def _check_pooling_fields(param) -> None:
    """PoolingLayer::LayerSetUp's mutually exclusive kernel/pad/stride spellings."""
    if param.global_pooling:
        require(not (has(param, "kernel_size") or has(param, "kernel_h") or
                     has(param, "kernel_w")),
                "With Global_pooling: true Filter size cannot specified", (P, "kernel_size"),
                "conflicting-params")
    else:
        both_hw = has(param, "kernel_h") and has(param, "kernel_w")
        require(has(param, "kernel_size") != both_hw,
                "Filter size is kernel_size OR kernel_h and kernel_w; not both"
                if has(param, "kernel_size") else
                "For non-square filters both kernel_h and kernel_w are required.",
                (P, "kernel_size"), "conflicting-params" if both_hw else "missing-param")
    for name in ("pad", "stride"):
        h, w = has(param, name + "_h"), has(param, name + "_w")
        require((not has(param, name) and h and w) or (not h and not w),
                f"{name} is {name} OR {name}_h and {name}_w are required.", (P, name),
                "conflicting-params")


@shape_rule("Pooling", tops=(1, 2),
            restrictions="a second top (the max mask) only with pool: MAX; a fork's ceil_mode, "
                         "when set, overrides round_mode")
def pooling(layer, bottoms):
    """2-D MAX/AVE/STOCHASTIC pooling; ceil rounding (round_mode/ceil_mode) and global pooling.

    MACs: 0 (no weights).
    """
    param = layer.pooling_param
    bottom = bottoms[0]
    require(len(bottom) == 4, f"Input must have 4 axes, corresponding to (num, channels, height, "
            f"width); got {shape_string(bottom)}", ("bottom", 0), "wrong-axes")
    _check_pooling_fields(param)
    require(len(layer.top) <= 1 or param.pool == MAX, "only MAX pooling has a second (mask) top",
            ("top", 1), "bad-blob-count")
    num, channels, height, width = bottom
    if param.global_pooling:
        kernel, kernel_field = (height, width), (P, "global_pooling")
    else:
        kernel = _pair(param, "kernel_size", "kernel_h", "kernel_w")
        kernel_field = (P, "kernel_size") if has(param, "kernel_size") else (P, "kernel_h")
    require(kernel[0] > 0 and kernel[1] > 0, "Filter dimensions cannot be zero.", kernel_field,
            "invalid-param")
    pad = _pair(param, "pad", "pad_h", "pad_w")
    stride = _pair(param, "stride", "stride_h", "stride_w")
    require(stride[0] > 0 and stride[1] > 0, "stride must be positive (Caffe divides by it)",
            (P, "stride"), "invalid-param")
    if param.global_pooling:
        require(pad == (0, 0) and stride == (1, 1),
                "With Global_pooling: true; only pad = 0 and stride = 1", (P, "global_pooling"),
                "conflicting-params")
    if pad != (0, 0):
        require(param.pool in (MAX, AVE), "Padding implemented only for average and max "
                "pooling.", (P, "pad"), "invalid-param")
        require(pad[0] < kernel[0] and pad[1] < kernel[1],
                f"pad {pad} must be smaller than the kernel {kernel}", (P, "pad"),
                "pad-not-less-than-kernel")
    notes: list = []
    pooled = pool_2d(bottom, kernel, pad, stride, _ceil_mode(param), kernel_field, notes)
    top = (num, channels) + pooled
    return LayerShapes([top] * max(1, len(layer.top)), [], 0, notes)


def spp_level(height: int, width: int, level: int) -> tuple:
    """SPPLayer::GetPoolingParam: kernel = ceil(size / 2^level), pad = (remainder + 1) / 2."""
    bins = 2 ** level
    kernel = tuple(math.ceil(n / bins) for n in (height, width))
    pad = tuple((k * bins - n + 1) // 2 for k, n in zip(kernel, (height, width)))
    return kernel, pad


@shape_rule("SPP")
def spp(layer, bottoms):
    """Spatial pyramid pooling: levels 0..H-1 pooled, flattened and concatenated on axis 1.

    With pyramid_height 1 the single pooling output is returned 4-D, as Caffe does.
    """
    param = layer.spp_param
    bottom = bottoms[0]
    require(len(bottom) == 4, f"Input must have 4 axes; got {shape_string(bottom)}",
            ("bottom", 0), "wrong-axes")
    num, channels, height, width = bottom
    require(height > 0 and width > 0, "Input dimensions cannot be zero.", ("bottom", 0),
            "invalid-input")
    require(param.pyramid_height >= 1, "pyramid_height must be at least 1",
            ("spp_param", "pyramid_height"), "invalid-param")
    total, notes = 0, []
    for level in range(param.pyramid_height):
        kernel, pad = spp_level(height, width, level)
        if pad != (0, 0):
            require(param.pool in (MAX, AVE), "Padding implemented only for average and max "
                    "pooling.", ("spp_param", "pool"), "invalid-param")
            require(pad[0] < kernel[0] and pad[1] < kernel[1],
                    f"pyramid level {level}: pad {pad} is not smaller than kernel {kernel} for "
                    f"a {height}x{width} input", ("spp_param", "pyramid_height"),
                    "pad-not-less-than-kernel")
        pooled = pool_2d(bottom, kernel, pad, kernel, True, ("spp_param", "pyramid_height"),
                         notes)
        if param.pyramid_height == 1:
            return LayerShapes([(num, channels) + pooled], [], 0, notes)
        total += channels * pooled[0] * pooled[1]
    return LayerShapes([(num, total)], [], 0, notes)


@shape_rule("ROIPooling", bottoms=(2, 2), fork="Fast R-CNN (rbgirshick/caffe-fast-rcnn)")
def roi_pooling(layer, bottoms):
    """Max pooling of each ROI to (pooled_h, pooled_w): top (num_rois, C, pooled_h, pooled_w)."""
    param = fork_param(layer, "roi_pooling_param", "ROIPooling")
    require(param.pooled_h > 0, "pooled_h must be > 0", ("roi_pooling_param", "pooled_h"),
            "invalid-param")
    require(param.pooled_w > 0, "pooled_w must be > 0", ("roi_pooling_param", "pooled_w"),
            "invalid-param")
    rois = legacy4(bottoms[1], ("bottom", 1))
    require(rois[1] * rois[2] * rois[3] == 5, "ROI layer C x W x H must be == 5", ("bottom", 1),
            "shape-mismatch")
    channels = legacy4(bottoms[0], ("bottom", 0))[1]
    return LayerShapes([(rois[0], channels, param.pooled_h, param.pooled_w)])


@shape_rule("PSROIPooling", bottoms=(2, 2), fork="R-FCN (psroi_pooling_layer.cpp)")
def psroi_pooling(layer, bottoms):
    """Position-sensitive ROI pooling: top (num_rois, output_dim, group_size, group_size)."""
    param = fork_param(layer, "psroi_pooling_param", "PSROIPooling")
    field = "psroi_pooling_param"
    require(param.output_dim > 0, "output_dim must be > 0", (field, "output_dim"),
            "invalid-param")
    require(param.group_size > 0, "group_size must be > 0", (field, "group_size"),
            "invalid-param")
    channels = legacy4(bottoms[0], ("bottom", 0))[1]
    need = param.output_dim * param.group_size ** 2
    require(channels == need, f"input channel number {channels} does not match layer "
            f"parameters (output_dim * group_size^2 = {need})", (field, "output_dim"),
            "channel-mismatch")
    num_rois = legacy4(bottoms[1], ("bottom", 1))[0]
    return LayerShapes([(num_rois, param.output_dim, param.group_size, param.group_size)])
