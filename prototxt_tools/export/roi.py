"""Region pooling: Fast R-CNN's ROIPooling (max) and R-FCN's PSROIPooling (position-sensitive
average).

ROIPooling is ONNX's MaxRoiPool, which descends from the same Fast R-CNN code: onnxruntime's
kernel rounds the scaled corners with round(), makes bins [floor(p * bin), ceil((p + 1) * bin))
of the (end - start + 1) extent and gives empty bins 0, as roi_pooling_layer.cpp does (the
per-layer tests check it against a transcription of the C++, on negative inputs too).

PSROIPooling has no ONNX op: it is composed.  The bins are computed for all ROIs at once in
float32, op for op as the CUDA kernel computes them (C's round() rounds halves away from zero,
ONNX's Round to even, so rounding is composed); then a Loop visits the ROIs: it slices the
ROI's rows and columns out of its image and sums each bin through row and column masks.
"""

from __future__ import annotations

import numpy as np

from ..shapes.common import legacy4
from .registry import exporter

f32 = np.float32


def _round_half_away(ctx, x: str) -> str:
    """C round(): floor(|x|) + (fraction >= 0.5), with x's sign (exact in float)."""
    magnitude = ctx.op("Abs", x)
    whole = ctx.op("Floor", magnitude)
    up = ctx.op("Cast", ctx.op("GreaterOrEqual", ctx.op("Sub", magnitude, whole),
                               ctx.const(0.5, "half")), to=1)
    return ctx.op("Mul", ctx.op("Sign", x), ctx.op("Add", whole, up))


def _column(ctx, rois: str, index: int) -> str:
    """Column ``index`` of the (R, 5) ROI table, kept (R, 1)."""
    return ctx.op("Slice", rois, ctx.ints([index], "starts"), ctx.ints([index + 1], "ends"),
                  ctx.ints([1], "axes"))


def _bins(ctx, start: str, size: str, pooled: int, limit: int) -> tuple:
    """(R, pooled) bin starts floor(p * bin + start) and ends ceil((p + 1) * bin + start),
    clipped to [0, limit], float."""
    bin_size = ctx.op("Div", size, ctx.const(float(pooled), "pooled"))
    low = ctx.op("Mul", ctx.const(np.arange(pooled, dtype=f32)[None], "p"), bin_size)
    high = ctx.op("Mul", ctx.const(np.arange(1, pooled + 1, dtype=f32)[None], "p1"), bin_size)
    low = ctx.op("Floor", ctx.op("Add", low, start))
    high = ctx.op("Ceil", ctx.op("Add", high, start))
    zero, top = ctx.const(0.0, "zero"), ctx.const(float(limit), "limit")
    return ctx.op("Clip", low, zero, top), ctx.op("Clip", high, zero, top)


def _mask(ctx, low: str, high: str, size: int) -> str:
    """(R, pooled, size) bool: position inside [low, high) of each bin."""
    position = ctx.const(np.arange(size, dtype=f32)[None, None], "position")
    low, high = (ctx.op("Unsqueeze", t, ctx.ints([2], "axes")) for t in (low, high))
    return ctx.op("And", ctx.op("GreaterOrEqual", position, low),
                  ctx.op("Less", position, high))


def _window(ctx, low: str, high: str, size: int) -> tuple:
    """(R,) int64 [first, last) rows (or columns) the ROI's bins touch, never empty."""
    first = ctx.op("Min", ctx.reduce("ReduceMin", low, [1], keepdims=False),
                   ctx.const(float(size - 1), "last"))
    last = ctx.op("Max", ctx.reduce("ReduceMax", high, [1], keepdims=False),
                  ctx.op("Add", first, ctx.const(1.0, "one")))
    return ctx.op("Cast", first, to=7), ctx.op("Cast", last, to=7)  # 7 = INT64


class RoiGeometry:
    """Everything the loop body needs, per ROI: batch index, row/column masks, windows."""

    def __init__(self, ctx, rois: str, starts: tuple, sizes: tuple, pooled: tuple,
                 data_shape: tuple):
        height, width = data_shape[2], data_shape[3]
        self.batch = ctx.op("Reshape", ctx.op("Cast", _column(ctx, rois, 0), to=7),
                            ctx.ints([-1], "flat"))  # static_cast<int>: toward zero
        rows = _bins(ctx, starts[0], sizes[0], pooled[0], height)
        cols = _bins(ctx, starts[1], sizes[1], pooled[1], width)
        self.row_mask, self.col_mask = _mask(ctx, *rows, height), _mask(ctx, *cols, width)
        self.row_window, self.col_window = _window(ctx, *rows, height), \
            _window(ctx, *cols, width)
        empty_rows = ctx.op("LessOrEqual", rows[1], rows[0])
        empty_cols = ctx.op("LessOrEqual", cols[1], cols[0])
        self.empty = ctx.op("Or", ctx.op("Unsqueeze", empty_rows, ctx.ints([2], "axes")),
                            ctx.op("Unsqueeze", empty_cols, ctx.ints([1], "axes")))
        extent = [ctx.op("Sub", high, low) for low, high in (rows, cols)]
        self.area = ctx.op("Mul", ctx.op("Unsqueeze", extent[0], ctx.ints([2], "axes")),
                           ctx.op("Unsqueeze", extent[1], ctx.ints([1], "axes")))

    def crop(self, ctx, data: str, i: str) -> tuple:
        """ROI i's image cut to its window (C, h, w), and its (pooled, h) / (pooled, w) masks."""
        at = ctx.op("Unsqueeze", i, ctx.ints([0], "axes"))
        image = ctx.op("Gather", data, ctx.op("Gather", self.batch, i), axis=0)
        row_lo, row_hi = (ctx.op("Gather", t, at) for t in self.row_window)
        col_lo, col_hi = (ctx.op("Gather", t, at) for t in self.col_window)
        starts = ctx.op("Concat", row_lo, col_lo, axis=0)
        ends = ctx.op("Concat", row_hi, col_hi, axis=0)
        window = ctx.op("Slice", image, starts, ends, ctx.ints([1, 2], "axes"))
        rows = ctx.op("Slice", ctx.op("Gather", self.row_mask, i), row_lo, row_hi,
                      ctx.ints([1], "axes"))
        cols = ctx.op("Slice", ctx.op("Gather", self.col_mask, i), col_lo, col_hi,
                      ctx.ints([1], "axes"))
        return window, rows, cols


def _rois_table(ctx, layer) -> str:
    shape = ctx.bottom_shape(layer, 1)
    return ctx.reshape(ctx.bottom(layer, 1), shape, (shape[0], 5))


def _roi_count(ctx, rois: str) -> str:
    return ctx.op("Squeeze", ctx.op("Slice", ctx.op("Shape", rois), ctx.ints([0], "starts"),
                                    ctx.ints([1], "ends")), ctx.ints([0], "axes"))


@exporter("ROIPooling", fork="Fast R-CNN (rbgirshick/caffe-fast-rcnn)",
          restrictions="MaxRoiPool, whose specification leaves the bin arithmetic open; "
                       "onnxruntime's kernel computes the fork's (round, +1, floor/ceil bins, "
                       "empty bins 0)")
def roi_pooling(ctx, layer):
    """MaxRoiPool: max over bins [floor(p * bin), ceil((p+1) * bin)) of round(coord * scale)."""
    param = layer.param.roi_pooling_param
    ctx.op("MaxRoiPool", ctx.bottom(layer, 0), _rois_table(ctx, layer), out=ctx.top(layer),
           pooled_shape=[param.pooled_h, param.pooled_w],
           spatial_scale=float(param.spatial_scale))


def _psroi_limits(param):
    ps = param.psroi_pooling_param
    if not ps.HasField("spatial_scale"):
        yield (("psroi_pooling_param",), "spatial_scale is required (R-FCN's proto declares it "
                                         "`required`)")


@exporter("PSROIPooling", limits=_psroi_limits, fork="R-FCN (psroi_pooling_layer.cu)",
          restrictions="composed (Loop over the ROIs) from the CUDA kernel, the layer's only "
                       "forward; float ops unfused (nvcc may fuse multiply-adds)")
def psroi_pooling(ctx, layer):
    """Average of channel (c * g + ph) * g + pw over bin (ph, pw) of the scaled rounded ROI."""
    param = layer.param.psroi_pooling_param
    group, out_dim = param.group_size, param.output_dim
    data_shape = legacy4(ctx.bottom_shape(layer, 0))
    rois = _rois_table(ctx, layer)
    rounded = _round_half_away(ctx, ctx.op("Slice", rois, ctx.ints([1], "s"), ctx.ints([5], "e"),
                                           ctx.ints([1], "a")))
    scale, one = ctx.const(param.spatial_scale, "spatial_scale"), ctx.const(1.0, "one")
    x1, y1, x2, y2 = (_column(ctx, rounded, k) for k in range(4))
    start_w, start_h = ctx.op("Mul", x1, scale), ctx.op("Mul", y1, scale)
    end_w = ctx.op("Mul", ctx.op("Add", x2, one), scale)
    end_h = ctx.op("Mul", ctx.op("Add", y2, one), scale)
    smallest = ctx.const(0.1, "smallest")  # "avoid 0"
    sizes = (ctx.op("Max", ctx.op("Sub", end_h, start_h), smallest),
             ctx.op("Max", ctx.op("Sub", end_w, start_w), smallest))
    geometry = RoiGeometry(ctx, rois, (start_h, start_w), sizes, (group, group), data_shape)
    zero = ctx.const(0.0, "zero")
    head = ctx.ints([out_dim, group, group], "head")

    def body(i, state):
        window, rows, cols = geometry.crop(ctx, ctx.bottom(layer, 0), i)
        # (D, g_h, g_w, h, w): bin (ph, pw) reads channel (c * g + ph) * g + pw
        tail = ctx.op("Slice", ctx.op("Shape", window), ctx.ints([1], "s"), ctx.ints([3], "e"))
        split = ctx.op("Reshape", window, ctx.op("Concat", head, tail, axis=0))
        in_cols = ctx.op("Where", ctx.op("Unsqueeze", cols, ctx.ints([0, 1, 3], "axes")),
                         split, zero)
        by_col = ctx.reduce("ReduceSum", in_cols, [4], keepdims=False)  # (D, g, g, h)
        in_rows = ctx.op("Where", ctx.op("Unsqueeze", rows, ctx.ints([0, 2], "axes")),
                         by_col, zero)
        sums = ctx.reduce("ReduceSum", in_rows, [3], keepdims=False)  # (D, g, g)
        area = ctx.op("Max", ctx.op("Gather", geometry.area, i), one)  # empty bins: 0 below
        mean = ctx.op("Div", sums, area)
        return [], [ctx.op("Where", ctx.op("Gather", geometry.empty, i), zero, mean)]

    ctx.loop(_roi_count(ctx, rois), [], [(out_dim, group, group)], body, [ctx.top(layer)])
