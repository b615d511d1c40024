"""SSD's PriorBox: default boxes that depend only on the feature map's and the image's sizes, so
they are computed here, once, as the constant Caffe's forward pass would fill in.

The arithmetic is prior_box_layer.cpp's, type for type: step = float(image) / feature size,
centre = (w + offset) * step in float, box sizes from the *integer* min/max sizes (the layer
stores them in float but reads them into ``int``; aspect-ratio boxes scale min_size alone),
coordinates computed in double and stored as float, then clip and the variances.  (OpenCV's
PriorBox keeps fractional sizes and defaults clip to true; the SSD proto defaults it to false.)
"""

from __future__ import annotations

import numpy as np

from ..shapes.common import has, values
from .registry import exporter

f32 = np.float32


def aspect_ratios(param) -> list:
    """LayerSetUp's aspect_ratios_: 1, then each new ratio (and 1/ratio with flip), in float."""
    ratios = [f32(1.0)]
    for ar in values(param, "aspect_ratio"):
        ar = f32(ar)
        if any(abs(float(f32(ar - seen))) < 1e-6 for seen in ratios):
            continue
        ratios.append(ar)
        if param.flip:
            ratios.append(f32(1.0 / float(ar)))
    return ratios


def _box_sizes(param) -> list:
    """(width, height) of each prior at one location, in Forward_cpu's order."""
    ratios = aspect_ratios(param)
    max_sizes = [int(v) for v in values(param, "max_size")]
    sizes = []
    for s, min_value in enumerate(values(param, "min_size")):
        min_size = int(min_value)  # `int min_size_ = min_sizes_[s];`
        sizes.append((f32(min_size), f32(min_size)))
        if max_sizes:
            side = f32(np.sqrt(float(min_size * max_sizes[s])))
            sizes.append((side, side))
        for ar in ratios:  # from min_size alone, with or without max_size
            if abs(float(ar) - 1.0) < 1e-6:
                continue
            root = np.sqrt(ar)  # float
            sizes.append((f32(f32(min_size) * root), f32(f32(min_size) / root)))
    return sizes


def _image_size(param, image_shape: tuple) -> tuple:
    if has(param, "img_h") or has(param, "img_w"):
        return param.img_h, param.img_w
    if has(param, "img_size"):
        return param.img_size, param.img_size
    return image_shape[2], image_shape[3]  # bottom[1]->height(), width()


def _steps(param, image: tuple, layer: tuple) -> tuple:
    if has(param, "step_h") or has(param, "step_w"):
        return f32(param.step_h), f32(param.step_w)
    if has(param, "step"):
        return f32(param.step), f32(param.step)
    return f32(image[0]) / f32(layer[0]), f32(image[1]) / f32(layer[1])


def _variances(param, count: int) -> np.ndarray:
    given = [f32(v) for v in values(param, "variance")] or [f32(0.1)]
    if len(given) == 1:
        return np.full(count, given[0], f32)
    return np.tile(np.asarray(given, f32), count // 4)


def prior_boxes(param, feature_shape: tuple, image_shape: tuple) -> np.ndarray:
    """The PriorBox top, (1, 2, H * W * priors * 4): boxes, then variances."""
    layer = (feature_shape[2], feature_shape[3])
    image = _image_size(param, image_shape)
    step_h, step_w = _steps(param, image, layer)
    offset = f32(param.offset)
    # center = (w + offset_) * step_w in float; then (center -+ size / 2.) / img in double
    cx = ((np.arange(layer[1], dtype=f32) + offset) * step_w).astype(np.float64)
    cy = ((np.arange(layer[0], dtype=f32) + offset) * step_h).astype(np.float64)
    sizes = np.asarray(_box_sizes(param), f32).astype(np.float64)  # (priors, 2)
    half_w, half_h = sizes[:, 0] / 2.0, sizes[:, 1] / 2.0
    cx = cx[None, :, None]
    cy = cy[:, None, None]
    boxes = np.stack(np.broadcast_arrays((cx - half_w) / image[1], (cy - half_h) / image[0],
                                         (cx + half_w) / image[1], (cy + half_h) / image[0]),
                     axis=-1).astype(f32).reshape(-1)
    if param.clip:
        boxes = np.minimum(np.maximum(boxes, f32(0)), f32(1))
    return np.stack([boxes, _variances(param, boxes.size)])[None]


@exporter("PriorBox", fork="SSD (weiliu89/caffe ssd)",
          restrictions="a constant computed from the input sizes (integer min/max sizes, as the "
                       "fork reads them); not with --dynamic-batch (its top is (1, 2, L) for "
                       "any batch)")
def prior_box(ctx, layer):
    """Constant (1, 2, H*W*priors*4): corner boxes / image size (clipped), then variances."""
    if ctx.dynamic_batch:
        ctx.unsupported(("type",), "its top (1, 2, L) has no batch axis, whatever the batch "
                                   "size; it cannot be exported with --dynamic-batch")
    value = prior_boxes(layer.param.prior_box_param, ctx.bottom_shape(layer, 0),
                        ctx.bottom_shape(layer, 1))
    ctx.op("Identity", ctx.const(value, "priors"), out=ctx.top(layer))
