"""Per-layer ONNX export table, second part: the fork and rarer BVLC layers (BN of SegNet and
PSPNet, PriorBox, ROIPooling, PSROIPooling, SPP, Embed, BatchReindex, Im2col, DummyData,
Parameter, LSTM, RNN, MobileNet-YOLO's Reorg) and the layer types refused up front.

Same method as ``test_export_layers``: one-layer nets written here, seeded weights in a
caffemodel, onnxruntime against OpenCV's Caffe importer where OpenCV runs the layer as Caffe
does, else against a NumPy transcription of the fork's C++ (``caffe_*``), the case's ``why``
saying which.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from prototxt_tools.errors import UnsupportedError  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export.verify import run_onnxruntime  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402

from test_export_layers import (Case, cases_expecting, check_against_reference,
                                check_reference_evaluator, caffe_pool, case_inputs,  # noqa: E402
                                export_case, layer, ref)

f32 = np.float32


def c_round(value) -> float:
    """C's round(): halves away from zero."""
    return math.copysign(math.floor(abs(float(value)) + 0.5), float(value))


# --- NumPy transcriptions of the forks' forward passes -------------------------------------

def caffe_pspnet_bn(x, w, _):
    """PSPNet bn_layer.cpp, TEST phase: (x - mean) * (var + eps)^-0.5 * slope + bias."""
    slope, bias, mean, var = (b.reshape(1, -1, *([1] * (x.ndim - 2))) for b in w)
    return (x - mean) * np.power(var + f32(1e-4), f32(-0.5)) * slope + bias


def caffe_segnet_learn(inputs, w):
    """SegNet bn_layer.cpp LEARN: batch statistics over N, H, W, var = E(x^2) - (Ex)^2, 1e-9."""
    x = inputs["data"].astype(np.float64)
    mean = x.mean((0, 2, 3), keepdims=True)
    var = (x * x).mean((0, 2, 3), keepdims=True) - mean ** 2
    scale, shift = w["l"]
    out = (x - mean) / np.sqrt(var + 1e-9) * scale + shift
    return {"out": out, "mean": mean, "var": var}


def caffe_prior_box(feature, image, min_sizes, max_sizes=(), ratios_given=(), flip=True,
                    clip=False, variances=(), offset=0.5, step=None, img=None):
    """prior_box_layer.cpp Forward_cpu, loop for loop (integer sizes: `int min_size_`)."""
    layer_h, layer_w = feature[2], feature[3]
    img_h, img_w = img or (image[2], image[3])
    ratios = [f32(1)]
    for ar in map(f32, ratios_given):
        if any(abs(float(f32(ar - r))) < 1e-6 for r in ratios):
            continue
        ratios.append(ar)
        if flip:
            ratios.append(f32(1.0 / float(ar)))
    step_w, step_h = (f32(step), f32(step)) if step else (f32(img_w) / f32(layer_w),
                                                          f32(img_h) / f32(layer_h))
    boxes = []
    for h in range(layer_h):
        for w in range(layer_w):
            cx, cy = (f32(w) + f32(offset)) * step_w, (f32(h) + f32(offset)) * step_h

            def emit(bw, bh):
                boxes.extend([(float(cx) - float(bw) / 2.) / img_w, (float(cy) - float(bh) / 2.) / img_h,
                              (float(cx) + float(bw) / 2.) / img_w, (float(cy) + float(bh) / 2.) / img_h])
            for s, min_value in enumerate(min_sizes):
                m = int(min_value)
                emit(f32(m), f32(m))
                if max_sizes:
                    side = f32(math.sqrt(m * int(max_sizes[s])))
                    emit(side, side)
                for ar in ratios:
                    if abs(float(ar) - 1.) < 1e-6:
                        continue
                    emit(f32(m * math.sqrt(ar)), f32(m / math.sqrt(ar)))
    top = np.asarray(boxes, f32)
    if clip:
        top = np.clip(top, 0, 1)
    variance = np.tile(np.asarray(variances or [0.1], f32), top.size // len(variances or [0.1]))
    return np.stack([top, variance])[None]


def caffe_roi_pooling(x, rois, pooled_h, pooled_w, scale):
    """roi_pooling_layer.cpp Forward_cpu: maxima start at -FLT_MAX, empty bins are 0."""
    height, width = x.shape[2:]
    out = np.zeros((len(rois), x.shape[1], pooled_h, pooled_w), f32)
    for n, roi in enumerate(rois.reshape(-1, 5)):
        batch = int(roi[0])
        start_w, start_h, end_w, end_h = (int(c_round(f32(v) * f32(scale))) for v in roi[1:])
        bin_h = f32(max(end_h - start_h + 1, 1)) / f32(pooled_h)
        bin_w = f32(max(end_w - start_w + 1, 1)) / f32(pooled_w)
        for ph in range(pooled_h):
            hs = min(max(math.floor(f32(ph) * bin_h) + start_h, 0), height)
            he = min(max(math.ceil(f32(ph + 1) * bin_h) + start_h, 0), height)
            for pw in range(pooled_w):
                ws = min(max(math.floor(f32(pw) * bin_w) + start_w, 0), width)
                we = min(max(math.ceil(f32(pw + 1) * bin_w) + start_w, 0), width)
                if he > hs and we > ws:
                    out[n, :, ph, pw] = x[batch, :, hs:he, ws:we].max((1, 2))
    return out


def caffe_psroi_pooling(x, rois, output_dim, group, scale):
    """psroi_pooling_layer.cu PSROIPoolingForward, one thread's work per output element."""
    height, width = x.shape[2:]
    out = np.zeros((len(rois), output_dim, group, group), f32)
    for n, roi in enumerate(rois.reshape(-1, 5)):
        batch = int(roi[0])
        start_w, start_h = f32(c_round(roi[1])) * f32(scale), f32(c_round(roi[2])) * f32(scale)
        end_w = f32(c_round(roi[3]) + 1.) * f32(scale)
        end_h = f32(c_round(roi[4]) + 1.) * f32(scale)
        bin_w = max(end_w - start_w, f32(0.1)) / f32(group)
        bin_h = max(end_h - start_h, f32(0.1)) / f32(group)
        for ph in range(group):
            hs = min(max(math.floor(f32(ph) * bin_h + start_h), 0), height)
            he = min(max(math.ceil(f32(ph + 1) * bin_h + start_h), 0), height)
            for pw in range(group):
                ws = min(max(math.floor(f32(pw) * bin_w + start_w), 0), width)
                we = min(max(math.ceil(f32(pw + 1) * bin_w + start_w), 0), width)
                if he <= hs or we <= ws:
                    continue
                for ctop in range(output_dim):
                    c = (ctop * group + ph) * group + pw
                    out[n, ctop, ph, pw] = x[batch, c, hs:he, ws:we].sum() / f32((he - hs) * (we - ws))
    return out


def caffe_spp(x, levels: int, average: bool):
    """spp_layer.cpp: level l pools with kernel ceil(size / 2^l), pad (kernel 2^l - size + 1) / 2,
    stride = kernel; levels flattened and concatenated."""
    pooled = []
    for level in range(levels):
        bins = 2 ** level
        kernel = [math.ceil(n / bins) for n in x.shape[2:]]
        pad = [(k * bins - n + 1) // 2 for k, n in zip(kernel, x.shape[2:])]
        pooled.append(caffe_pool(x, kernel, kernel, pad, average))
    if levels == 1:
        return pooled[0]
    return np.concatenate([p.reshape(x.shape[0], -1) for p in pooled], 1)


def caffe_im2col(x, kernel, pad, stride, dilation):
    """im2col_cpu: channel (c * kh + i) * kw + j holds tap (i, j), zeros outside the input."""
    n, c, h, w = x.shape
    out_h = (h + 2 * pad[0] - (dilation[0] * (kernel[0] - 1) + 1)) // stride[0] + 1
    out_w = (w + 2 * pad[1] - (dilation[1] * (kernel[1] - 1) + 1)) // stride[1] + 1
    out = np.zeros((n, c * kernel[0] * kernel[1], out_h, out_w), f32)
    for ch in range(c):
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                row = (ch * kernel[0] + i) * kernel[1] + j
                for oh in range(out_h):
                    y = -pad[0] + i * dilation[0] + oh * stride[0]
                    for ow in range(out_w):
                        xx = -pad[1] + j * dilation[1] + ow * stride[1]
                        if 0 <= y < h and 0 <= xx < w:
                            out[:, row, oh, ow] = x[:, ch, y, xx]
    return out


def caffe_reorg(x, stride: int, reverse: bool):
    """reorg_layer.hpp's reorg_cpu, the const-bottom overload that Forward_cpu calls with the
    bottom's own W, H, C and forward = reverse: each bottom-sized index i pairs with an index j
    into a (C/s^2, H*s, W*s) buffer; forward=0 copies top[i] = bottom[j], forward=1 the other way.
    (eric612's Caffe-YOLOv3-Windows reorg_layer.cpp, MobileNet-YOLO's parent, with the header
    its copies share, e.g. troyliu0105/caffe; not SpaceToDepth of the bottom as (C, H, W).)
    """
    num, channels, height, width = x.shape
    small = channels // stride ** 2
    src, dst = x.ravel(), np.empty(x.size, f32)
    for n, c, h, w in np.ndindex(x.shape):
        k = c // small
        i = ((n * channels + c) * height + h) * width + w
        j = (((n * small + c % small) * height * stride + h * stride + k // stride) * width
             * stride + w * stride + k % stride)
        if reverse:
            dst[j] = src[i]
        else:
            dst[i] = src[j]
    if reverse:
        return dst.reshape(num, small, height * stride, width * stride)
    return dst.reshape(num, channels * stride ** 2, height // stride, width // stride)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def caffe_lstm(inputs, w):
    """The unrolled LSTM net + LSTMUnit: gates i, f, o, g; f is 0 where cont is 0."""
    x, cont = inputs["data"].astype(np.float64), inputs["cont"]
    w_xc, b_c, *static, w_hc = w["l"]
    hidden = w_hc.shape[1]
    gates_x = x.reshape(x.shape[0], x.shape[1], -1) @ w_xc.T + b_c
    if static:
        gates_x = gates_x + inputs["static"].reshape(x.shape[1], -1) @ static[0].T
    h = c = np.zeros((x.shape[1], hidden))
    out = []
    for t in range(x.shape[0]):
        g = (cont[t][:, None] * h) @ w_hc.T + gates_x[t]
        i, f, o, gg = (g[:, k * hidden:(k + 1) * hidden] for k in range(4))
        f = np.where(cont[t][:, None] == 0, 0, cont[t][:, None] * sigmoid(f))
        c = f * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return {"out": np.stack(out)}


def caffe_rnn(inputs, w):
    """The unrolled RNN net: h_t = tanh(W_hh (cont_t h_{t-1}) + W_xh x_t + b_h); o_t = tanh(W_ho h_t + b_o)."""
    x, cont = inputs["data"].astype(np.float64), inputs["cont"]
    w_xh, b_h, w_hh, w_ho, b_o = w["l"]
    h = np.zeros((x.shape[1], w_hh.shape[0]))
    out = []
    for t in range(x.shape[0]):
        h = np.tanh((cont[t][:, None] * h) @ w_hh.T + x[t].reshape(x.shape[1], -1) @ w_xh.T + b_h)
        out.append(np.tanh(h @ w_ho.T + b_o))
    return {"out": np.stack(out)}


def fractions(x):
    """Indices for Embed: integers 0..9 stored as float."""
    return np.floor(np.abs(x) * 4) % 10


ROIS = [[0, 1.5, 2.5, 12.49, 9.5],      # halves round away from zero (scale 0.5: 0.75 -> 1)
        [1, -8, -3, 6, 4],              # partly outside: clipped bins
        [1, 30, 2, 40, 30],             # outside on the right: every bin empty -> 0
        [0, 9, 7, 3, 2],                # x2 < x1: forced to one pixel
        [1, 0, 0, 19, 15]]              # the whole map
SEQ_CONT = [[0, 0], [1, 1], [1, 0], [1, 1]]  # stream 1 restarts at t = 2
PRIOR = "prior_box_param { %s }"
CASES = [
    Case("bn_pspnet", layer("BN", "bn_param { frozen: true eps: 1e-4 }"),
         reference=ref(caffe_pspnet_bn), why="fork layer; OpenCV has no BN"),
    Case("bn_pspnet_2d", layer("BN", "bn_param { eps: 1e-4 slope_filler { type: 'constant' } }"),
         inputs={"data": (3, 4)}, reference=ref(caffe_pspnet_bn), why="fork layer"),
    Case("bn_segnet_inference", layer("BN", "bn_param { bn_mode: INFERENCE }"),
         reference=ref(lambda x, w, _: x * w[0] + w[1]), why="fork layer; OpenCV has no BN"),
    Case("bn_segnet_learn_batch_stats", layer(
        "BN", "bn_param { scale_filler { type: 'constant' value: 1 } }", tops=("out", "mean", "var")),
        inputs={"data": (3, 4, 5, 6)}, reference=caffe_segnet_learn,
        why="SegNet's default LEARN mode normalizes with the batch's own statistics, at test "
            "time too; tops 1 and 2 are the batch mean and variance"),
    Case("prior_box_ssd", layer("PriorBox", PRIOR % (
        "min_size: 30 max_size: 60 aspect_ratio: 2 flip: true clip: false variance: 0.1 "
        "variance: 0.1 variance: 0.2 variance: 0.2"), bottoms=("data", "image")),
        inputs={"data": (1, 4, 5, 6), "image": (1, 3, 40, 48)}),
    Case("prior_box_clip_default_false", layer("PriorBox", PRIOR % (
        "min_size: 30 max_size: 60 aspect_ratio: 2"), bottoms=("data", "image")),
        inputs={"data": (1, 4, 5, 6), "image": (1, 3, 40, 48)},
        reference=lambda i, w: {"out": caffe_prior_box((1, 4, 5, 6), (1, 3, 40, 48), [30], [60],
                                                       [2])},
        why="the SSD proto's clip defaults to false; OpenCV's PriorBox defaults it to true"),
    Case("prior_box_clip_step_ratios", layer("PriorBox", PRIOR % (
        "min_size: 20 aspect_ratio: 2 aspect_ratio: 3 aspect_ratio: 2 clip: true step: 8 "
        "offset: 0.5 variance: 0.1"), bottoms=("data", "image")),
        inputs={"data": (1, 4, 4, 5), "image": (1, 3, 32, 40)}),
    Case("prior_box_fractional_sizes_img_hw", layer("PriorBox", PRIOR % (
        "min_size: 21.7 max_size: 45.3 aspect_ratio: 2 flip: false img_h: 50 img_w: 60 "
        "offset: 0.25"), bottoms=("data", "image")),
        inputs={"data": (1, 2, 3, 4), "image": (1, 3, 10, 10)},
        reference=lambda i, w: {"out": caffe_prior_box(
            (1, 2, 3, 4), None, [21.7], [45.3], [2], flip=False, offset=0.25, img=(50, 60))},
        why="the fork reads min/max sizes into int (21 and 45); OpenCV keeps 21.7 and 45.3"),
    Case("roi_pooling", layer("ROIPooling", "roi_pooling_param { pooled_h: 3 pooled_w: 2 "
                                            "spatial_scale: 0.5 }", bottoms=("data", "rois")),
         inputs={"data": (2, 3, 8, 10), "rois": (5, 5)}, given={"rois": ROIS},
         transform=lambda x: x - 3,
         reference=lambda i, w: {"out": caffe_roi_pooling(i["data"], i["rois"], 3, 2, 0.5)},
         why="inputs shifted to be mostly negative: Caffe's maxima start at -FLT_MAX"),
    Case("roi_pooling_opencv", layer("ROIPooling", "roi_pooling_param { pooled_h: 2 pooled_w: 3 "
                                                   "spatial_scale: 0.5 }", bottoms=("data", "rois")),
         inputs={"data": (2, 3, 8, 10), "rois": (5, 5)}, given={"rois": ROIS}),
    Case("psroi_pooling", layer("PSROIPooling", "psroi_pooling_param { spatial_scale: 0.5 "
                                                "output_dim: 2 group_size: 3 }",
                                bottoms=("data", "rois")),
         inputs={"data": (2, 18, 8, 10), "rois": (5, 5)}, given={"rois": ROIS},
         reference=lambda i, w: {"out": caffe_psroi_pooling(i["data"], i["rois"], 2, 3, 0.5)},
         why="R-FCN's only forward is this CUDA kernel"),
    Case("psroi_pooling_opencv", layer("PSROIPooling", "psroi_pooling_param { spatial_scale: 0.5 "
                                                       "output_dim: 3 group_size: 2 }",
                                       bottoms=("data", "rois")),
         inputs={"data": (2, 12, 8, 10), "rois": (5, 5)}, given={"rois": ROIS}),
    Case("spp_max_3_levels", layer("SPP", "spp_param { pyramid_height: 3 }"),
         inputs={"data": (2, 3, 7, 9)},
         reference=ref(lambda x, w, _: caffe_spp(x, 3, False)), why="OpenCV has no SPP"),
    Case("spp_ave_1_level", layer("SPP", "spp_param { pyramid_height: 1 pool: AVE }"),
         inputs={"data": (2, 3, 5, 6)},
         reference=ref(lambda x, w, _: caffe_spp(x, 1, True)), why="OpenCV has no SPP"),
    Case("embed", layer("Embed", "embed_param { num_output: 4 input_dim: 10 }"),
         inputs={"data": (2, 5)}, transform=fractions,
         reference=ref(lambda x, w, _: w[0][x.astype(int)] + w[1]), why="OpenCV has no Embed"),
    Case("batch_reindex", layer("BatchReindex", bottoms=("data", "index")),
         inputs={"data": (4, 3, 2, 2), "index": (5,)}, given={"index": [3, 0, 0, 2, 1]},
         reference=lambda i, w: {"out": i["data"][[3, 0, 0, 2, 1]]}, why="OpenCV lacks the layer"),
    Case("im2col", layer("Im2col", "convolution_param { kernel_size: 3 pad: 1 stride: 2 }"),
         inputs={"data": (2, 3, 7, 8)},
         reference=ref(lambda x, w, _: caffe_im2col(x, (3, 3), (1, 1), (2, 2), (1, 1))),
         why="OpenCV lacks Im2col"),
    Case("im2col_rect_dilated", layer("Im2col", "convolution_param { kernel_h: 2 kernel_w: 3 "
                                                "dilation: 2 stride_h: 1 stride_w: 2 pad_w: 2 }"),
         inputs={"data": (1, 2, 6, 7)},
         reference=ref(lambda x, w, _: caffe_im2col(x, (2, 3), (0, 2), (1, 2), (2, 2))),
         why="OpenCV lacks Im2col"),
    Case("dummy_data_constant", layer("DummyData", "dummy_data_param { shape { dim: 2 dim: 3 } "
                                      "data_filler { type: 'constant' value: 2.5 } }",
                                      bottoms=(), tops=("d",), name="dummy")
         + layer("Eltwise", bottoms=("data", "d")), inputs={"data": (2, 3)},
         reference=ref(lambda x, w, _: x + 2.5), why="OpenCV does not run DummyData"),
    Case("parameter", layer("Parameter", "parameter_param { shape { dim: 2 dim: 3 } }",
                            bottoms=(), tops=("p",))
         + layer("Eltwise", "eltwise_param { operation: PROD }", bottoms=("data", "p"), name="e"),
         inputs={"data": (2, 3)}, reference=ref(lambda x, w, _: x * w[0]),
         why="OpenCV does not run Parameter"),
    Case("lstm_cont_restarts", layer("LSTM", "recurrent_param { num_output: 5 }",
                                     bottoms=("data", "cont")),
         inputs={"data": (4, 2, 3), "cont": (4, 2)}, given={"cont": SEQ_CONT},
         reference=caffe_lstm, why="Caffe's LSTM restarts a stream where cont is 0; OpenCV "
                                   "ignores cont"),
    Case("lstm_static_input", layer("LSTM", "recurrent_param { num_output: 3 }",
                                    bottoms=("data", "cont", "static")),
         inputs={"data": (3, 2, 2, 2), "cont": (3, 2), "static": (2, 4)},
         given={"cont": [[0, 0], [1, 1], [1, 1]]}, reference=caffe_lstm, why="as above"),
    Case("reorg_yolov2_opencv", layer("Reorg", "reorg_param { stride: 2 }"),
         inputs={"data": (2, 8, 4, 6)},
         why="OpenCV's ReorgLayer is darknet's reorg; its importer skips reorg_param and keeps "
             "its own default stride, 2"),
    Case("reorg_stride3", layer("Reorg", "reorg_param { stride: 3 }"),
         inputs={"data": (2, 18, 6, 9)}, reference=ref(lambda x, w, _: caffe_reorg(x, 3, False)),
         why="OpenCV would run stride 2; the fork's loop, transcribed, is the reference"),
    Case("reorg_reverse", layer("Reorg", "reorg_param { stride: 2 reverse: true }"),
         inputs={"data": (2, 8, 3, 5)}, reference=ref(lambda x, w, _: caffe_reorg(x, 2, True)),
         why="OpenCV has no reverse; the fork's loop with forward=1"),
    Case("reorg_reverse_2d", layer("Reorg", "reorg_param { stride: 2 reverse: true }"),
         inputs={"data": (2, 8)},
         reference=ref(lambda x, w, _: caffe_reorg(x.reshape(2, 8, 1, 1), 2, True)),
         why="Caffe's legacy accessors read a 2-D bottom as (N, C, 1, 1)"),
    Case("rnn_cont_restarts", layer("RNN", "recurrent_param { num_output: 4 }",
                                    bottoms=("data", "cont")),
         inputs={"data": (4, 2, 3), "cont": (4, 2)}, given={"cont": SEQ_CONT},
         reference=caffe_rnn, why="OpenCV's RNN ignores cont"),
]


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_export_matches_reference(case: Case, opset: int, tmp_path):
    check_against_reference(case, opset, tmp_path)


REFERENCE_EVALUATOR_GAPS = {c: "onnx.reference (1.23) has no MaxRoiPool"
                            for c in ("roi_pooling", "roi_pooling_opencv")}


@pytest.mark.parametrize("case", cases_expecting(CASES, REFERENCE_EVALUATOR_GAPS))
def test_onnx_reference_evaluator_agrees(case: Case, tmp_path):
    """ONNX's reference implementation runs the same graphs (Loops with outer-scope reads too)."""
    check_reference_evaluator(case, tmp_path)


@pytest.mark.parametrize("case", [c for c in CASES if len({s[0] for s in c.inputs.values()}) == 1],
                         ids=lambda c: c.id)
def test_dynamic_batch_computes_each_item_as_the_static_export(case: Case, tmp_path):
    _, _, _, static = export_case(case, tmp_path)
    try:
        _, _, _, dynamic = export_case(case, tmp_path, dynamic_batch=True)
    except UnsupportedError as refused:
        assert "batch axis" in str(refused)
        return
    inputs = case_inputs(case)
    once = run_onnxruntime(static.serialize(), inputs)
    twice = run_onnxruntime(dynamic.serialize(),
                            {n: np.concatenate([v, v]) for n, v in inputs.items()})
    for name, value in once.items():
        np.testing.assert_array_equal(twice[name], np.concatenate([value, value]), err_msg=name)


REFUSED_NET = """name: "refused"
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 1 dim: 8 dim: 4 dim: 4 } shape { dim: 1 } } }
layer { name: "bn" type: "BN" bottom: "data" top: "bn" }
layer { name: "noise" type: "DummyData" top: "noise"
  dummy_data_param { shape { dim: 1 dim: 8 } data_filler { type: "gaussian" } } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "bn" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "bn" bottom: "label" top: "acc" }
layer { name: "sel" type: "Filter" bottom: "bn" bottom: "label" top: "kept" }
layer { name: "det" type: "DetectionOutput" bottom: "bn" bottom: "bn" bottom: "bn" top: "det"
  detection_output_param { num_classes: 2 } }
layer { name: "psroi" type: "PSROIPooling" bottom: "bn" bottom: "label" top: "ps"
  psroi_pooling_param { output_dim: 2 group_size: 2 } }
"""


def test_refusals_come_up_front_in_one_error_with_positions(tmp_path):
    path = tmp_path / "refused.prototxt"
    path.write_text(REFUSED_NET)
    with pytest.raises(UnsupportedError) as info:
        export_onnx(str(path), random_seed=0)
    error = info.value
    text = str(error)
    assert "(7 problems)" in text and "\n" not in text
    assert [line for line, _, _ in error.problems] == [4, 6, 7, 8, 9, 10, 13]
    messages = [m for _, _, m in error.problems]
    assert "which fork's BN is meant" in messages[0]
    assert "filler 'gaussian' draws new values" in messages[1]
    for training in messages[2:4]:
        assert "training-only layer; make a deploy net with `prototxt-tools deploy`" in training
    assert "data-dependent shape" in messages[4]
    assert "known only at run time" in messages[5] and "std::sort" in messages[5] \
        and "eta" in messages[5]
    assert "spatial_scale is required" in messages[6]


def test_data_layers_are_refused_with_the_deploy_hint():
    net = load_net("train.prototxt", text="""
layer { name: "mnist" type: "Data" top: "data" top: "label" data_param { batch_size: 4 } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }
""")
    with pytest.raises(UnsupportedError, match="prototxt-tools deploy") as info:
        export_onnx(net, random_seed=0)
    assert info.value.line == 2


def test_every_type_the_shape_inference_knows_is_exported_or_refused_with_a_reason():
    from prototxt_tools.export import EXPORTERS, REFUSED
    from prototxt_tools.shapes import SHAPE_RULES
    assert set(SHAPE_RULES) - set(EXPORTERS) - set(REFUSED) == {"Python"}  # refused by name
    assert not set(EXPORTERS) & set(REFUSED)
    assert all(len(reason) > 40 for reason in REFUSED.values())


def test_a_plugin_exporter_replaces_a_refusal():
    from prototxt_tools.export.registry import EXPORTERS, REFUSED, exporter
    reason = REFUSED["Filter"]
    try:
        exporter("Filter")(lambda ctx, layer: None)
        assert "Filter" not in REFUSED and "Filter" in EXPORTERS
    finally:
        EXPORTERS.pop("Filter", None)
        REFUSED["Filter"] = reason
