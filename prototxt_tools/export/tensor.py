"""Layers that route, combine or reduce blobs: Input, Split, Silence, Concat, Slice, Flatten,
Reshape, Crop, Tile, Permute, ShuffleChannel, Reorg, Eltwise, Axpy, ArgMax, Reduction.

Target shapes always come from our Caffe-exact shape inference (Reshape's 0/-1, Flatten's axis
range), so ONNX never has to re-derive them.
"""

from __future__ import annotations

import numpy as np

from ..shapes.common import canonical_axis, legacy4
from .registry import exporter

f32 = np.float32
INT64_MIN = -(2**63)


@exporter("Input", restrictions="the shape comes from input_param or --input")
def input_(ctx, layer):
    """Graph inputs (declared by the exporter; no node)."""


@exporter("Silence")
def silence(ctx, layer):
    """Consumes its bottoms; nothing to compute."""


@exporter("Split")
def split(ctx, layer):
    """One Identity per top: the same tensor under each top's name."""
    for i in range(len(layer.tops)):
        ctx.op("Identity", ctx.bottom(layer), out=ctx.top(layer, i))


def _axis(param, legacy_name: str, shape: tuple) -> int:
    """Concat/Slice: the legacy ``*_dim`` (a plain index) or ``axis`` (negative allowed)."""
    if param.HasField(legacy_name):
        return getattr(param, legacy_name)
    return canonical_axis(shape, param.axis)


@exporter("Concat", restrictions="with --dynamic-batch, axis >= 1")
def concat(ctx, layer):
    """Concat along axis (legacy concat_dim)."""
    axis = _axis(layer.param.concat_param, "concat_dim", ctx.bottom_shape(layer))
    ctx.guard_batch_axis(axis, ("concat_param", "axis"), "Concat")
    inputs = [ctx.bottom(layer, i) for i in range(len(layer.bottoms))]
    ctx.op("Concat", *inputs, out=ctx.top(layer), axis=axis)


@exporter("Slice", restrictions="with --dynamic-batch, axis >= 1")
def slice_(ctx, layer):
    """Split along axis (legacy slice_dim) into the tops' sizes."""
    axis = _axis(layer.param.slice_param, "slice_dim", ctx.bottom_shape(layer))
    ctx.guard_batch_axis(axis, ("slice_param", "axis"), "Slice")
    tops = [ctx.top(layer, i) for i in range(len(layer.tops))]
    if len(tops) == 1:
        ctx.op("Identity", ctx.bottom(layer), out=tops[0])
        return
    sizes = [ctx.top_shape(layer, i)[axis] for i in range(len(tops))]
    ctx.ops("Split", [ctx.bottom(layer), ctx.ints(sizes, "split")], tops, axis=axis)


@exporter("Flatten", "Reshape", restrictions="with --dynamic-batch the batch axis must be kept")
def reshape(ctx, layer):
    """Reshape to the top shape our inference computed (dim 0 copies, -1 inferred, axis ranges)."""
    ctx.reshape(ctx.bottom(layer), ctx.bottom_shape(layer), ctx.top_shape(layer),
                out=ctx.top(layer))


@exporter("Crop", restrictions="with --dynamic-batch, axis >= 1")
def crop(ctx, layer):
    """Slice bottom[0] on axes >= axis to bottom[1]'s sizes at the offsets."""
    param = layer.param.crop_param
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    start = canonical_axis(bottom, param.axis)
    ctx.guard_batch_axis(start, ("crop_param", "axis"), "Crop")
    offsets = list(param.offset)
    axes = list(range(start, len(bottom)))
    begin = [0 if not offsets else offsets[0] if len(offsets) == 1 else offsets[i - start]
             for i in axes]
    end = [b + top[i] for b, i in zip(begin, axes)]
    ctx.op("Slice", ctx.bottom(layer), ctx.ints(begin, "starts"), ctx.ints(end, "ends"),
           ctx.ints(axes, "axes"), out=ctx.top(layer))


@exporter("Tile", restrictions="with --dynamic-batch, axis >= 1")
def tile(ctx, layer):
    """Tile: the whole blob from axis on repeated `tiles` times along axis."""
    param = layer.param.tile_param
    bottom = ctx.bottom_shape(layer)
    axis = canonical_axis(bottom, param.axis)
    ctx.guard_batch_axis(axis, ("tile_param", "axis"), "Tile")
    repeats = [param.tiles if i == axis else 1 for i in range(len(bottom))]
    ctx.op("Tile", ctx.bottom(layer), ctx.ints(repeats, "repeats"), out=ctx.top(layer))


@exporter("Permute", fork="SSD (weiliu89/caffe ssd)",
          restrictions="with --dynamic-batch, axis 0 must stay first")
def permute(ctx, layer):
    """Transpose: the listed order, then the unlisted axes in their original order."""
    rank = len(ctx.bottom_shape(layer))
    order = list(layer.param.permute_param.order)
    order += [i for i in range(rank) if i not in order]
    if order[0] != 0:
        ctx.guard_batch_axis(0, ("permute_param", "order", 0), "Permute moving axis 0")
    ctx.op("Transpose", ctx.bottom(layer), out=ctx.top(layer), perm=order)


@exporter("ShuffleChannel", fork="ShuffleNet (farmingyard/ShuffleNet)")
def shuffle_channel(ctx, layer):
    """Reshape (N, g, C/g, HW), swap the group axes, reshape back (channel c*g+i <- i*C/g+c)."""
    group = layer.param.shuffle_channel_param.group
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    num, channels = top[0], top[1]
    spatial = top[2] * top[3]
    grouped = ctx.reshape(ctx.bottom(layer), bottom, (num, group, channels // group, spatial))
    swapped = ctx.op("Transpose", grouped, perm=[0, 2, 1, 3])
    ctx.reshape(swapped, (num, channels // group, group, spatial), top, out=ctx.top(layer))


@exporter("Reorg", fork="MobileNet-YOLO (eric612/MobileNet-YOLO)")
def reorg(ctx, layer):
    """SpaceToDepth of the bottom read as (N, C/s^2, H*s, W*s); reverse: DepthToSpace (DCR)."""
    param = layer.param.reorg_param
    stride, bottom, top = param.stride, ctx.bottom_shape(layer), ctx.top_shape(layer)
    num, channels, height, width = legacy4(bottom)
    x = ctx.bottom(layer)
    if param.reverse:
        # reorg_cpu(forward=1): top[c % C', h*s + k / s, w*s + k % s] = bottom[c, h, w] with
        # C' = C/s^2 and k = c / C': DepthToSpace's DCR order
        x = ctx.reshape(x, bottom, (num, channels, height, width))
        ctx.op("DepthToSpace", x, out=ctx.top(layer), blocksize=stride, mode="DCR")
        return
    # reorg_cpu(forward=0) runs over the bottom's own C, H, W, so it reads the bottom buffer as
    # (C/s^2, H*s, W*s) and writes the top buffer as (C, H, W): darknet's reorg, kept by forks
    spread = (num, channels // stride ** 2, height * stride, width * stride)
    packed = ctx.op("SpaceToDepth", ctx.reshape(x, bottom, spread), blocksize=stride)
    ctx.reshape(packed, (num, channels, height, width), top, out=ctx.top(layer))


PROD, SUM, MAX = 0, 1, 2


@exporter("Eltwise", restrictions="SUM coefficients applied as Mul then Add")
def eltwise(ctx, layer):
    """SUM (with coeff: sum of coeff_i * x_i, in bottom order), PROD or MAX of the bottoms."""
    param = layer.param.eltwise_param
    inputs = [ctx.bottom(layer, i) for i in range(len(layer.bottoms))]
    out = ctx.top(layer)
    if param.operation == MAX:
        ctx.op("Max", *inputs, out=out)
        return
    if param.operation == SUM and len(param.coeff):
        inputs = [x if c == 1 else ctx.op("Mul", x, ctx.const(c, f"coeff{i}"))
                  for i, (x, c) in enumerate(zip(inputs, param.coeff))]
    combine = "Mul" if param.operation == PROD else "Add"
    result = inputs[0]
    for i, x in enumerate(inputs[1:], start=2):  # Caffe accumulates left to right
        result = ctx.op(combine, result, x, out=out if i == len(inputs) else None)


@exporter("Axpy", fork="SENet (hujie-frank/SENet)")
def axpy(ctx, layer):
    """a * X + Y with a (N, C[, 1, 1]) broadcast over X's spatial axes."""
    a_shape, x_shape = ctx.bottom_shape(layer, 0), ctx.bottom_shape(layer, 1)
    target = tuple(a_shape[:2]) + (1,) * (len(x_shape) - 2)
    a = ctx.reshape(ctx.bottom(layer, 0), a_shape, target)
    scaled = ctx.op("Mul", a, ctx.bottom(layer, 1))
    ctx.op("Add", scaled, ctx.bottom(layer, 2), out=ctx.top(layer))


def _top_k(ctx, x: str, size: int, k: int, axis: int) -> tuple:
    """(values, float indices) of the k largest along axis, ties to the *larger* index as
    Caffe's std::partial_sort with std::greater<pair<value, index>> orders them: TopK on the
    reversed axis (ties to the lower index there), indices mapped back."""
    reversed_ = ctx.op("Slice", x, ctx.ints([-1], "starts"), ctx.ints([INT64_MIN], "ends"),
                       ctx.ints([axis], "axes"), ctx.ints([-1], "steps"))
    values, positions = ctx.temp("values"), ctx.temp("positions")
    ctx.ops("TopK", [reversed_, ctx.ints([k], "k")], [values, positions], axis=axis,
            largest=1, sorted=1)
    index = ctx.op("Sub", ctx.const(size - 1, "last"), ctx.op("Cast", positions, to=1))
    return values, index


@exporter("ArgMax", restrictions="indices as float, as Caffe; ties pick the larger index, as "
                                 "Caffe's sort does")
def argmax(ctx, layer):
    """Top-k indices (or values) along axis, or per item over its flattened data."""
    param = layer.param.argmax_param
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    x, out = ctx.bottom(layer), ctx.top(layer)
    if param.HasField("axis"):
        axis = canonical_axis(bottom, param.axis)
        ctx.guard_batch_axis(axis, ("argmax_param", "axis"), "ArgMax")
        values, index = _top_k(ctx, x, bottom[axis], param.top_k, axis)
        ctx.op("Identity", values if param.out_max_val else index, out=out)
        return
    inner = int(np.prod(bottom[1:], dtype=np.int64))
    rows = ctx.reshape(x, bottom, (bottom[0], inner))
    values, index = _top_k(ctx, rows, inner, param.top_k, 1)
    if param.out_max_val:  # (N, 2, k): indices, then values
        both = ctx.op("Concat", ctx.op("Unsqueeze", index, ctx.ints([1], "axes")),
                      ctx.op("Unsqueeze", values, ctx.ints([1], "axes")), axis=1)
        ctx.reshape(both, (bottom[0], 2, param.top_k), top, out=out)
    else:
        ctx.reshape(index, (bottom[0], param.top_k), top, out=out)


REDUCE_OPS = {1: "ReduceSum", 2: "ReduceL1", 3: "ReduceSumSquare", 4: "ReduceSum"}


@exporter("Reduction", restrictions="with --dynamic-batch, axis >= 1")
def reduction(ctx, layer):
    """SUM/ASUM/SUMSQ/MEAN over the axes from axis on, times coeff (MEAN: coeff / count)."""
    param = layer.param.reduction_param
    bottom = ctx.bottom_shape(layer)
    axis = canonical_axis(bottom, param.axis)
    ctx.guard_batch_axis(axis, ("reduction_param", "axis"), "Reduction")
    coeff = f32(param.coeff)
    if param.operation == 4:  # reduction_layer.cpp: MEAN is SUM with coeff_ /= dim_
        coeff = f32(coeff / f32(int(np.prod(bottom[axis:], dtype=np.int64))))
    out = ctx.top(layer)
    total = ctx.reduce(REDUCE_OPS[param.operation], ctx.bottom(layer),
                       range(axis, len(bottom)), keepdims=False,
                       out=out if coeff == 1 else None)
    if coeff != 1:
        ctx.op("Mul", total, ctx.const(coeff, "coeff"), out=out)


@exporter("Embed", restrictions="indices truncated to integers, as static_cast<int> does")
def embed(ctx, layer):
    """Gather rows of the (input_dim, num_output) table by the bottom's values; + bias."""
    weights = ctx.weights(layer)
    index = ctx.op("Cast", ctx.bottom(layer), to=7)  # INT64, toward zero
    out = ctx.top(layer)
    rows = ctx.op("Gather", ctx.const(weights[0], "weight"), index, axis=0,
                  out=out if len(weights) == 1 else None)
    if len(weights) > 1:
        ctx.op("Add", rows, ctx.const(weights[1], "bias"), out=out)


@exporter("BatchReindex", restrictions="not with --dynamic-batch (its output's first axis is "
                                       "the index count)")
def batch_reindex(ctx, layer):
    """Items of bottom[0] in the order of the (float) indices in bottom[1]: Gather on axis 0."""
    ctx.guard_batch_axis(0, ("bottom", 1), "BatchReindex")
    index = ctx.op("Cast", ctx.bottom(layer, 1), to=7)
    ctx.op("Gather", ctx.bottom(layer, 0), index, out=ctx.top(layer), axis=0)
