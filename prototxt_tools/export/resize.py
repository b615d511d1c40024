"""Resizing forks: SegNet's max-unpooling and YOLO's nearest-neighbour Upsample, and
PSPNet/DeepLab's bilinear Interp.

SegNet's Upsample (caffe-segnet upsample_layer.cpp) zero-fills the top, then for every bottom
element writes ``top[n, c, int(mask)] = bottom`` — the mask indexes the (n, c) *output* plane,
in bottom order, so a repeated index keeps the last value written.  ONNX MaxUnpool does the
same scatter (onnxruntime and onnx.reference also write in order), but its indices count over
the whole tensor: each plane's ``(n * C + c) * outH * outW`` is added.  MaxUnpool's output size
comes from kernel/stride/pads; they are chosen so that it is exactly the top's size (the
optional output_shape input is left out: onnx.reference reads indices against the size the
attributes give, whatever output_shape says).
"""

from __future__ import annotations

import numpy as np

from .registry import exporter


@exporter("Upsample",
          fork="SegNet (alexgkendall/caffe-segnet: max-unpooling, 2 bottoms) / YOLO forks "
               "(eric612/MobileNet-YOLO: nearest neighbour, 1 bottom)",
          restrictions="two bottoms: the mask holds per-plane float indices, as Pooling's mask "
                       "top writes them; a repeated index keeps the last value written (Caffe's "
                       "CPU loop; ONNX leaves the order open, onnxruntime and onnx.reference "
                       "write in order)")
def upsample(ctx, layer):
    """SegNet: MaxUnpool at the mask's plane indices; YOLO: Resize nearest, (h // s, w // s)."""
    if len(layer.bottoms) == 2:
        _unpool(ctx, layer)
        return
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    scales = [t / b for t, b in zip(top, bottom)]
    # asymmetric + floor: x_in = floor(x_out / scale), Caffe's integer division
    ctx.op("Resize", ctx.bottom(layer), "", ctx.const(np.array(scales, np.float32), "scales"),
           out=ctx.top(layer), mode="nearest", coordinate_transformation_mode="asymmetric",
           nearest_mode="floor")


def _unpool(ctx, layer) -> None:
    data, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    # MaxUnpool only grows an axis: a top smaller than the data (legal in SegNet) is unpooled
    # to the data's size and cropped.
    extent = tuple(max(o, n) for o, n in zip(top[2:], data[2:]))
    cropped = extent != tuple(top[2:])
    index = ctx.op("Cast", ctx.bottom(layer, 1), to=7)  # INT64, toward zero as static_cast
    if extent[1] != top[3]:
        index = _reindex_rows(ctx, index, top[3], extent[1])
    index = ctx.op("Add", index, _plane_offsets(ctx, ctx.bottom(layer), data,
                                                extent[0] * extent[1]))
    # (n - 1) * stride + kernel == extent: MaxUnpool's inferred size is the one wanted
    strides = [o // n for o, n in zip(extent, data[2:])]
    kernels = [o - (n - 1) * s for o, n, s in zip(extent, data[2:], strides)]
    result = ctx.op("MaxUnpool", ctx.bottom(layer), index,
                    out=None if cropped else ctx.top(layer), kernel_shape=kernels,
                    strides=strides)
    if cropped:
        ctx.op("Slice", result, ctx.ints([0, 0], "starts"), ctx.ints(list(top[2:]), "ends"),
               ctx.ints([2, 3], "axes"), out=ctx.top(layer))


def _reindex_rows(ctx, index: str, width: int, wide: int) -> str:
    """Plane index h * width + w -> h * wide + w, for the wider unpooling plane."""
    width_t = ctx.const(width, "width", np.int64)
    rows = ctx.op("Div", index, width_t)
    return ctx.op("Add", ctx.op("Mul", rows, ctx.const(wide, "wide", np.int64)),
                  ctx.op("Mod", index, width_t))


def _plane_offsets(ctx, x: str, shape: tuple, plane: int) -> str:
    """(n * C + c) * plane, shaped (N, C, 1, 1); with --dynamic-batch N is read from ``x``."""
    channels = shape[1]
    per_channel = np.arange(channels, dtype=np.int64).reshape(1, channels, 1, 1) * plane
    if not ctx.dynamic_batch:
        per_item = np.arange(shape[0], dtype=np.int64).reshape(-1, 1, 1, 1) * channels * plane
        return ctx.const(per_item + per_channel, "plane_offsets", np.int64)
    count = ctx.op("Squeeze", ctx.op("Slice", ctx.op("Shape", x), ctx.ints([0], "starts"),
                                     ctx.ints([1], "ends")), ctx.ints([0], "axes"))
    items = ctx.op("Range", ctx.const(0, "zero", np.int64), count, ctx.const(1, "one", np.int64))
    per_item = ctx.op("Mul", ctx.op("Reshape", items, ctx.ints([-1, 1, 1, 1], "column")),
                      ctx.const(channels * plane, "item_stride", np.int64))
    return ctx.op("Add", per_item, ctx.const(per_channel, "channel_offsets", np.int64))


@exporter("Interp", fork="PSPNet / DeepLab v2 (interp_layer.cpp)",
          restrictions="pad_beg/pad_end (<= 0) crop the input first")
def interp(ctx, layer):
    """Bilinear resize with corners aligned (Caffe's caffe_cpu_interp2), after the crop."""
    param = layer.param.interp_param
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    x = ctx.bottom(layer)
    begin, end = -param.pad_beg, param.pad_end
    if begin or end:
        stops = [bottom[2] + end, bottom[3] + end]
        x = ctx.op("Slice", x, ctx.ints([begin, begin], "starts"), ctx.ints(stops, "ends"),
                   ctx.ints([2, 3], "axes"))
    ctx.op("Resize", x, "", "", ctx.shape_tensor(x, top), out=ctx.top(layer), mode="linear",
           coordinate_transformation_mode="align_corners")
