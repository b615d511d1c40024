"""Layers that move data around without weights: Reshape, Flatten, Crop, Slice, Concat, Tile,
Permute, Split, Silence, BatchReindex, Filter, ShuffleChannel, Reorg.  MACs are 0 for all of them.
"""

from __future__ import annotations

from .common import (canonical_axis, count, fail, forbid_in_place, fork_param, has, legacy4,
                     require, shape_string)
from .registry import LayerShapes, ShapeUnknown, shape_rule


@shape_rule("Reshape")
def reshape(layer, bottoms):
    """Replaces axes [axis, axis+num_axes) by shape; dim 0 copies, one -1 is inferred."""
    forbid_in_place(layer, "Reshape")
    param = layer.reshape_param
    bottom = bottoms[0]
    dims = list(param.shape.dim)
    field = ("reshape_param", "shape", "dim")
    require(dims.count(-1) <= 1, "new shape contains multiple -1 dims; at most a single (1) "
            "value of -1 may be specified", field, "invalid-param")
    n = len(bottom)
    start = param.axis if param.axis >= 0 else n + param.axis + 1
    require(0 <= start <= n, f"axis {param.axis} out of range for {n}-D input blob",
            ("reshape_param", "axis"), "axis-out-of-range")
    require(param.num_axes >= -1, "num_axes must be >= 0, or -1 for all",
            ("reshape_param", "num_axes"), "invalid-param")
    end = n if param.num_axes == -1 else start + param.num_axes
    require(end <= n, "end_axis = axis + num_axes is out of range",
            ("reshape_param", "num_axes"), "axis-out-of-range")
    top = list(bottom[:start]) + dims + list(bottom[end:])
    for i, d in enumerate(dims):
        if d == 0:
            require(start + i < n, "new shape contains a 0, but there was no corresponding "
                    "bottom axis to copy", field + (i,), "invalid-param")
            top[start + i] = bottom[start + i]
    if -1 in dims:
        i = dims.index(-1)
        explicit = count(bottom, 0, start) * count(bottom, end)
        for j, d in enumerate(dims):
            if j != i:
                explicit *= top[start + j]
        total = count(bottom)
        require(explicit > 0 and total % explicit == 0,
                f"bottom count ({total}) must be divisible by the product of the specified "
                f"dimensions ({explicit})", field + (i,), "count-mismatch")
        top[start + i] = total // explicit
    require(all(d >= 0 for d in top), f"new shape {tuple(top)} has a negative dimension", field,
            "negative-dimension")
    require(count(top) == count(bottom), f"output count must match input count: "
            f"{shape_string(top)} vs {shape_string(bottom)}", field, "count-mismatch")
    return LayerShapes([tuple(top)])


@shape_rule("Flatten")
def flatten(layer, bottoms):
    """Merges axes axis..end_axis (defaults 1 and -1) into one."""
    forbid_in_place(layer, "Flatten")
    bottom = bottoms[0]
    start = canonical_axis(bottom, layer.flatten_param.axis, ("flatten_param", "axis"))
    end = canonical_axis(bottom, layer.flatten_param.end_axis, ("flatten_param", "end_axis"))
    require(start <= end + 1, f"end_axis {end} comes before axis {start}",
            ("flatten_param", "end_axis"), "axis-out-of-range")
    top = tuple(bottom[:start]) + (count(bottom, start, end + 1),) + tuple(bottom[end + 1:])
    return LayerShapes([top])


@shape_rule("Crop", bottoms=(2, 2))
def crop(layer, bottoms):
    """bottom[0] cropped to bottom[1]'s sizes on axes >= axis, at the given offsets."""
    param = layer.crop_param
    data, like = bottoms
    start = canonical_axis(data, param.axis, ("crop_param", "axis"))
    offsets = list(param.offset)
    require(len(offsets) <= 1 or start + len(offsets) == len(data),
            f"number of offset values specified ({len(offsets)}) must be equal to the number of "
            f"dimensions following axis {start}", ("crop_param", "offset"), "invalid-param")
    top = list(data)
    for i in range(start, len(data)):
        require(i < len(like), f"bottom[1] {shape_string(like)} has no axis {i} to crop to",
                ("bottom", 1), "wrong-axes")
        offset = offsets[0] if len(offsets) == 1 else (offsets[i - start] if offsets else 0)
        field = ("crop_param", "offset", 0 if len(offsets) == 1 else i - start)
        require(data[i] - offset >= like[i], f"the crop for dimension {i} is out-of-bounds with "
                f"size {like[i]} and offset {offset} (input size {data[i]})",
                field if offsets else ("bottom", 1), "crop-out-of-bounds")
        top[i] = like[i]
    return LayerShapes([tuple(top)])


def _legacy_axis(layer_param, name: str, legacy: str, shape: tuple, what: str) -> int:
    """Concat/Slice: `axis` (negative allowed) or the legacy uint32 `*_dim`, never both."""
    pname = what + "_param"
    require(not (has(layer_param, "axis") and has(layer_param, legacy)),
            f"Either axis or {legacy} should be specified; not both.", (pname, legacy),
            "conflicting-params")
    if has(layer_param, legacy):
        axis = getattr(layer_param, legacy)
        require(axis < len(shape), f"{legacy} out of range.", (pname, legacy),
                "axis-out-of-range")
        return axis
    return canonical_axis(shape, layer_param.axis, (pname, "axis"))


@shape_rule("Slice", tops=(1, None))
def slice_(layer, bottoms):
    """Splits along axis (legacy slice_dim) at slice_point, or into equal parts."""
    param = layer.slice_param
    bottom = bottoms[0]
    axis = _legacy_axis(param, "axis", "slice_dim", bottom, "slice")
    size = bottom[axis]
    tops = len(layer.top)
    points = list(param.slice_point)
    if points:
        require(len(points) == tops - 1, f"{len(points)} slice_point values need {len(points) + 1}"
                f" tops, not {tops}", ("slice_param", "slice_point"), "bad-blob-count")
        require(tops <= size, f"{tops} tops cannot slice an axis of size {size}", ("top",),
                "bad-blob-count")
        sizes, prev = [], 0
        for i, point in enumerate(points):
            require(point > prev, f"slice_point values must increase strictly (got {point} "
                    f"after {prev})", ("slice_param", "slice_point", i), "invalid-param")
            sizes.append(point - prev)
            prev = point
        require(size - prev >= 0, f"last slice_point {prev} is beyond the axis size {size}",
                ("slice_param", "slice_point", len(points) - 1), "slice-point-out-of-range")
        sizes.append(size - prev)
    else:
        require(size % tops == 0, f"Number of top blobs ({tops}) should evenly divide input "
                f"slice axis ({size})", ("top",), "count-mismatch")
        sizes = [size // tops] * tops
    shapes = [tuple(bottom[:axis]) + (s,) + tuple(bottom[axis + 1:]) for s in sizes]
    return LayerShapes(shapes)


@shape_rule("Concat", bottoms=(1, None))
def concat(layer, bottoms):
    """Sum of sizes along axis (legacy concat_dim); all other axes must agree."""
    param = layer.concat_param
    first = bottoms[0]
    axis = _legacy_axis(param, "axis", "concat_dim", first, "concat")
    top = list(first)
    for i, other in enumerate(bottoms[1:], start=1):
        require(len(other) == len(first), f"All inputs must have the same #axes: bottom[0] "
                f"{shape_string(first)}, bottom[{i}] {shape_string(other)}", ("bottom", i),
                "shape-mismatch")
        for j in range(len(first)):
            if j != axis:
                require(other[j] == first[j], f"All inputs must have the same shape, except at "
                        f"concat_axis {axis}: bottom[0] {shape_string(first)}, bottom[{i}] "
                        f"{shape_string(other)}", ("bottom", i), "shape-mismatch")
        top[axis] += other[axis]
    return LayerShapes([tuple(top)])


@shape_rule("Tile")
def tile(layer, bottoms):
    """Repeats the blob `tiles` times along axis."""
    param = layer.tile_param
    bottom = bottoms[0]
    axis = canonical_axis(bottom, param.axis, ("tile_param", "axis"))
    require(has(param, "tiles"), "Number of tiles must be specified", ("tile_param",),
            "missing-param")
    require(param.tiles > 0, "Number of tiles must be positive.", ("tile_param", "tiles"),
            "invalid-param")
    top = list(bottom)
    top[axis] *= param.tiles
    return LayerShapes([tuple(top)])


@shape_rule("Permute", fork="SSD (weiliu89/caffe ssd)")
def permute(layer, bottoms):
    """Reorders axes: the listed `order`, then the unlisted axes in their original order."""
    param = fork_param(layer, "permute_param", "Permute")
    bottom = bottoms[0]
    order: list = []
    for i, axis in enumerate(param.order):
        require(axis < len(bottom), "order should be less than the input dimension.",
                ("permute_param", "order", i), "axis-out-of-range")
        require(axis not in order, "there are duplicate orders", ("permute_param", "order", i),
                "invalid-param")
        order.append(axis)
    order += [i for i in range(len(bottom)) if i not in order]
    return LayerShapes([tuple(bottom[i] for i in order)])


@shape_rule("Split", tops=(1, None))
def split(layer, bottoms):
    """Copies the bottom to every top (Caffe also inserts these itself as *_split_N)."""
    forbid_in_place(layer, "Split")
    return LayerShapes([tuple(bottoms[0])] * len(layer.top))


@shape_rule("Silence", bottoms=(1, None), tops=(0, 0))
def silence(layer, bottoms):
    """Consumes its bottoms; no tops."""
    return LayerShapes([])


@shape_rule("BatchReindex", bottoms=(2, 2))
def batch_reindex(layer, bottoms):
    """Gathers items of bottom[0] by the 1-D index blob bottom[1]: (len(index),) + shape[1:]."""
    data, index = bottoms
    require(len(index) == 1, f"bottom[1] must be 1-D; got {shape_string(index)}", ("bottom", 1),
            "wrong-axes")
    return LayerShapes([(index[0],) + tuple(data[1:])])


@shape_rule("Filter", bottoms=(2, None), tops=(1, None))
def filter_(layer, bottoms):
    """Keeps the items the selector (last bottom) marks: first axis known only at run time."""
    selector = bottoms[-1]
    require(len(layer.top) == len(bottoms) - 1, "Filter needs one top per filtered bottom",
            ("top",), "bad-blob-count")
    for i in range(1, len(selector)):
        require(selector[i] == 1, "Selector blob dimensions must be singletons (1), except the "
                "first", ("bottom", len(bottoms) - 1), "shape-mismatch")
    for i, b in enumerate(bottoms[:-1]):
        require(len(b) >= 1 and b[0] == selector[0], "Each bottom should have the same 0th "
                "dimension as the selector blob", ("bottom", i), "shape-mismatch")
    raise ShapeUnknown("Filter keeps the items whose selector value is non-zero: the first axis "
                       "is set at forward time", code="data-dependent",
                       partial=[(None,) + tuple(b[1:]) for b in bottoms[:-1]])


@shape_rule("ShuffleChannel", fork="ShuffleNet (farmingyard/ShuffleNet)")
def shuffle_channel(layer, bottoms):
    """Channel shuffle; top is the bottom read through 4-D legacy accessors (N, C, H, W)."""
    param = fork_param(layer, "shuffle_channel_param", "ShuffleChannel")
    require(param.group > 0, "group must be greater than 0", ("shuffle_channel_param", "group"),
            "invalid-param")
    top = legacy4(bottoms[0], ("bottom", 0))
    if top[1] % param.group:
        fail(f"channels {top[1]} are not a multiple of group {param.group} (Caffe: Wrong group "
             f"size, at forward)", ("shuffle_channel_param", "group"), "group-mismatch")
    return LayerShapes([top])


@shape_rule("Reorg", fork="MobileNet-YOLO (eric612/MobileNet-YOLO)",
            restrictions="channels a multiple of stride^2; without reverse, height and width "
                         "multiples of stride")
def reorg(layer, bottoms):
    """YOLOv2's reorg: (N, C * s^2, H / s, W / s), with reverse (N, C / s^2, H * s, W * s)."""
    forbid_in_place(layer, "Reorg")
    param = fork_param(layer, "reorg_param", "Reorg")
    field = ("reorg_param", "stride")
    require(has(param, "stride"), "Reorg Layer needs stride param.", ("reorg_param",),
            "missing-param")
    stride = param.stride
    require(stride > 0, "stride must be greater than 0", field, "invalid-param")
    num, channels, height, width = legacy4(bottoms[0], ("bottom", 0))
    # The fork's LayerSetUp checks none of these (Cambricon's copy CHECK_EQs them), yet its
    # forward loop, reading channel c % (C / s^2), would then index outside the blobs.
    checks = [("channels", channels, stride * stride, "(stride_ * stride_)")]
    if not param.reverse:
        checks += [("height", height, stride, "stride_"), ("width", width, stride, "stride_")]
    for name, size, multiple, expr in checks:
        require(size % multiple == 0, f"{name} {size} is not a multiple of {multiple} (stride "
                f"{stride}); Caffe: CHECK_EQ({name}_ % {expr}, 0)", field, "stride-mismatch")
    if param.reverse:
        return LayerShapes([(num, channels // stride ** 2, height * stride, width * stride)])
    return LayerShapes([(num, channels * stride ** 2, height // stride, width // stride)])
