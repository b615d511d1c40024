"""Detection and resizing forks: PriorBox, DetectionOutput (SSD), Interp (PSPNet/DeepLab),
Upsample (SegNet's unpooling and YOLO's nearest-neighbour form).  MACs are 0.
"""

from __future__ import annotations

import numpy as np

from .common import c_div, fail, fork_param, has, legacy4, require, shape_string, values
from .registry import LayerShapes, ShapeUnknown, shape_rule


def prior_count(param) -> int:
    """PriorBoxLayer::LayerSetUp's num_priors_: aspect ratios (deduped, flipped) x min sizes + max.

    Aspect ratios start with 1; each new ratio (|ar - seen| >= 1e-6 in float) is added, and with
    flip also 1/ar.  Each max_size adds one more prior.  (Forks: TextBoxes++'s
    denser_prior_boxes doubles the count.)
    """
    ratios = [np.float32(1.0)]
    for ar in values(param, "aspect_ratio"):
        ar = np.float32(ar)
        if any(abs(float(ar - seen)) < 1e-6 for seen in ratios):
            continue
        ratios.append(ar)
        if param.flip:
            ratios.append(np.float32(1.0 / float(ar)))
    count = len(ratios) * len(values(param, "min_size")) + len(values(param, "max_size"))
    # TextBoxes++ (MhLiao/TextBoxes_plusplus) adds a vertically shifted copy of every prior.
    return 2 * count if has(param, "denser_prior_boxes") and param.denser_prior_boxes else count


OPENCV_ONLY_PRIOR_FIELDS = ("offset_h", "offset_w", "width", "height")


@shape_rule("PriorBox", bottoms=(2, 2), fork="SSD (weiliu89/caffe ssd)")
def prior_box(layer, bottoms):
    """Default boxes for a feature map: top (1, 2, H * W * num_priors * 4) (boxes, variances)."""
    param = fork_param(layer, "prior_box_param", "PriorBox")
    field = "prior_box_param"
    for name in OPENCV_ONLY_PRIOR_FIELDS:
        require(not has(param, name), f"prior_box_param.{name} is read only by OpenCV's dnn "
                f"importer; no Caffe fork parses it (their PriorBox counts priors differently)",
                (field, name, 0), "not-caffe-field")
    min_sizes = values(param, "min_size")
    require(len(min_sizes) > 0, "must provide min_size.", (field, "min_size"), "missing-param")
    for i, size in enumerate(min_sizes):
        require(size > 0, "min_size must be positive.", (field, "min_size", i), "invalid-param")
    max_sizes = values(param, "max_size")
    if max_sizes:
        require(len(max_sizes) == len(min_sizes), f"{len(max_sizes)} max_size values for "
                f"{len(min_sizes)} min_size values", (field, "max_size"), "count-mismatch")
        for i, (lo, hi) in enumerate(zip(min_sizes, max_sizes)):
            require(hi > lo, "max_size must be greater than min_size.", (field, "max_size", i),
                    "invalid-param")
    variances = values(param, "variance")
    require(len(variances) in (0, 1, 4), "Must and only provide 4 variance (or one).",
            (field, "variance"), "count-mismatch")
    for i, v in enumerate(variances):
        require(v > 0, "variance must be positive", (field, "variance", i), "invalid-param")
    _, _, height, width = legacy4(bottoms[0], ("bottom", 0))
    priors = prior_count(param)
    length = width * height * priors * 4
    require(length > 0, f"feature map {shape_string(bottoms[0])} gives no priors", ("bottom", 0),
            "invalid-input")
    return LayerShapes([(1, 2, length)], [], 0, [f"{priors} priors per location"])


@shape_rule("DetectionOutput", bottoms=(3, 4), fork="SSD (weiliu89/caffe ssd)")
def detection_output(layer, bottoms):
    """Decoded, NMS-filtered detections (1, 1, N, 7): N is only known after forward."""
    param = fork_param(layer, "detection_output_param", "DetectionOutput")
    field = "detection_output_param"
    require(has(param, "num_classes"), "Must specify num_classes", (field, "num_classes"),
            "missing-param")
    loc, conf, priors = bottoms[0], bottoms[1], bottoms[2]
    require(loc[0] == conf[0], f"loc {shape_string(loc)} and conf {shape_string(conf)} batch "
            f"sizes differ", ("bottom", 1), "shape-mismatch")
    num_priors = legacy4(priors, ("bottom", 2))[2] // 4
    loc_classes = 1 if param.share_location else param.num_classes
    loc_channels = legacy4(loc, ("bottom", 0))[1]
    conf_channels = legacy4(conf, ("bottom", 1))[1]
    require(num_priors * loc_classes * 4 == loc_channels, f"Number of priors ({num_priors}) must "
            f"match number of location predictions ({loc_channels} = priors * "
            f"{loc_classes} * 4?)", ("bottom", 0), "count-mismatch")
    require(num_priors * param.num_classes == conf_channels, f"Number of priors ({num_priors}) "
            f"must match number of confidence predictions ({conf_channels} = priors * "
            f"{param.num_classes}?)", ("bottom", 1), "count-mismatch")
    raise ShapeUnknown("DetectionOutput: (1, 1, N, 7) with N the detections kept after NMS, "
                       "set at forward time (Caffe reports N = 1 at setup)",
                       code="data-dependent", partial=[(1, 1, None, 7)])


@shape_rule("Interp", bottoms=(1, 2), fork="PSPNet / DeepLab v2 (interp_layer.cpp)")
def interp(layer, bottoms):
    """Bilinear resize: zoom/shrink factors, explicit height/width, or bottom[1]'s size."""
    param = fork_param(layer, "interp_param", "Interp")
    field = "interp_param"
    num, channels, height, width = legacy4(bottoms[0], ("bottom", 0))
    require(param.pad_beg <= 0 and param.pad_end <= 0, "Only supports non-pos padding "
            "(cropping) for now", (field, "pad_beg"), "invalid-param")
    h_eff = height + param.pad_beg + param.pad_end
    w_eff = width + param.pad_beg + param.pad_end
    zoom, shrink = has(param, "zoom_factor"), has(param, "shrink_factor")
    explicit = has(param, "height") and has(param, "width")
    # interp_layer.cpp's order: shrink only, zoom only, height/width, shrink then zoom, bottom[1].
    if (shrink or zoom) and not (shrink and zoom and explicit):
        out = (h_eff, w_eff)
        if shrink:
            require(param.shrink_factor >= 1, "Shrink factor must be positive",
                    (field, "shrink_factor"), "invalid-param")
            out = tuple(c_div(s - 1, param.shrink_factor) + 1 for s in out)
        if zoom:
            require(param.zoom_factor >= 1, "Zoom factor must be positive",
                    (field, "zoom_factor"), "invalid-param")
            out = tuple(s + (s - 1) * (param.zoom_factor - 1) for s in out)
    elif explicit:
        out = (param.height, param.width)
    elif len(bottoms) == 2:
        out = legacy4(bottoms[1], ("bottom", 1))[2:]
    else:
        fail("Interp needs zoom_factor, shrink_factor, height and width, or a second bottom",
             (field,), "missing-param")
    require(h_eff > 0 and w_eff > 0, "height should be positive", (field, "pad_beg"),
            "nonpositive-output")
    require(out[0] > 0 and out[1] > 0, f"output size {out} should be positive", (field,),
            "nonpositive-output")
    return LayerShapes([(num, channels) + tuple(out)])


@shape_rule("Upsample", bottoms=(1, 2),
            fork="SegNet (alexgkendall/caffe-segnet, 2 bottoms) / YOLO forks (1 bottom)",
            restrictions="two bottoms: SegNet max-unpooling (scale default 2, or upsample_h/w); "
                         "one bottom: nearest-neighbour x scale (default 1) on the last two axes")
def upsample(layer, bottoms):
    """SegNet unpooling with the pooling mask, or YOLO's nearest-neighbour upsampling."""
    param = fork_param(layer, "upsample_param", "Upsample")
    field = "upsample_param"
    if len(bottoms) == 1:
        bottom = bottoms[0]
        require(len(bottom) >= 2, f"Upsample needs two spatial axes; got {shape_string(bottom)}",
                ("bottom", 0), "wrong-axes")
        # eric612's UpsampleParameter defaults scale to 1 (SegNet's, in our schema, to 2).
        scale = param.scale if has(param, "scale") else 1
        return LayerShapes([tuple(bottom[:-2]) + (bottom[-2] * scale, bottom[-1] * scale)])
    data, mask = bottoms
    require(len(data) == 4 and len(mask) == 4, "Input and mask must have 4 axes",
            ("bottom", 0), "wrong-axes")
    require(tuple(data) == tuple(mask), f"data {shape_string(data)} and mask "
            f"{shape_string(mask)} must have the same shape", ("bottom", 1), "shape-mismatch")
    if has(param, "upsample_h") and has(param, "upsample_w"):
        out = (param.upsample_h, param.upsample_w)
        require(out[0] > 1 and out[1] > 1, "upsample_h and upsample_w must be > 1",
                (field, "upsample_h"), "invalid-param")
        return LayerShapes([(data[0], data[1]) + out])
    require(not has(param, "scale") or not (has(param, "scale_h") or has(param, "scale_w")),
            "upsample_h & upsample_w are required, else (DEPRECATED) scale OR scale_h & scale_w "
            "are required.", (field, "scale"), "conflicting-params")
    if has(param, "scale_h") or has(param, "scale_w"):
        require(has(param, "scale_h") and has(param, "scale_w"), "scale_h & scale_w are both "
                "required", (field, "scale_h"), "missing-param")
        scale = (param.scale_h, param.scale_w)
    else:
        scale = (param.scale, param.scale)
    require(scale[0] > 1 and scale[1] > 1, f"scale must be > 1; got {scale}", (field, "scale"),
            "invalid-param")
    pad_out = (bool(getattr(param, "pad_out_h", False)), bool(getattr(param, "pad_out_w", False)))
    for s, p, name in zip(scale, pad_out, ("pad_out_h", "pad_out_w")):
        require(not p or s == 2, "Output padding compensation requires scale == 2",
                (field, name), "invalid-param")
    out = (data[2] * scale[0] - pad_out[0], data[3] * scale[1] - pad_out[1])
    return LayerShapes([(data[0], data[1]) + out])
