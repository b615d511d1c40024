"""Resizing forks: YOLO's nearest-neighbour Upsample and PSPNet/DeepLab's bilinear Interp."""

from __future__ import annotations

import numpy as np

from .registry import exporter


def _upsample_limits(param):
    if len(param.bottom) == 2:
        yield (("bottom", 1), "SegNet's Upsample (max-unpooling with the pooling mask)")


@exporter("Upsample", limits=_upsample_limits,
          fork="YOLO forks (eric612/MobileNet-YOLO: nearest neighbour)",
          restrictions="one bottom only (SegNet's two-bottom unpooling is refused)")
def upsample(ctx, layer):
    """Resize nearest, output pixel (h, w) <- input (h // scale, w // scale)."""
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    scales = [t / b for t, b in zip(top, bottom)]
    # asymmetric + floor: x_in = floor(x_out / scale), Caffe's integer division
    ctx.op("Resize", ctx.bottom(layer), "", ctx.const(np.array(scales, np.float32), "scales"),
           out=ctx.top(layer), mode="nearest", coordinate_transformation_mode="asymmetric",
           nearest_mode="floor")


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
