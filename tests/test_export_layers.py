"""Per-layer ONNX export table: each case is a one-layer net (or a short chain) written here as
prototxt, with seeded weights written to a caffemodel, exported, run in onnxruntime and
compared — value, dtype and shape separately — with a reference:

* ``OPENCV``: OpenCV's own Caffe importer on the same prototxt + caffemodel;
* a NumPy function written from the Caffe layer's formula (named ``caffe_*``), where OpenCV
  cannot run the layer or differs from Caffe (the case's ``why`` says which).

``tol`` bounds ``max |ours - reference| / max(1, max |reference|)``.  Every export also passes
``onnx.checker.check_model(full_check=True)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from prototxt_tools.caffemodel import write_caffemodel  # noqa: E402
from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export.verify import run_opencv, run_onnxruntime  # noqa: E402
from prototxt_tools.export.weights import random_weights  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402
from prototxt_tools.shapes.network import infer_shapes  # noqa: E402

OPENCV = "opencv"


@dataclass
class Case:
    id: str
    layers: str  # prototxt after the Input layers; the layer under test is named "l"
    inputs: dict = field(default_factory=lambda: {"data": (2, 4, 6, 6)})
    reference: object = OPENCV  # OPENCV or fn(inputs, weights) -> {output name: array}
    tol: float = 1e-5
    why: str = ""
    transform: Callable | None = None  # applied to the seeded inputs (e.g. positive for Log)
    via_caffemodel: bool = True  # False: export from the seed (scalar blobs, see below)
    adjust: Callable | None = None  # changes the seeded weights before they are written
    given: dict = field(default_factory=dict)  # fixed input arrays (e.g. ROIs), by name


def layer(type_: str, params: str = "", bottoms=("data",), tops=("out",), name="l") -> str:
    b = " ".join(f'bottom: "{x}"' for x in bottoms)
    t = " ".join(f'top: "{x}"' for x in tops)
    return f'layer {{ name: "{name}" type: "{type_}" {b} {t} {params} }}\n'


def prototxt(case: Case) -> str:
    head = f'name: "{case.id}"\n'
    for name, shape in case.inputs.items():
        dims = " ".join(f"dim: {d}" for d in shape)
        head += (f'layer {{ name: "{name}" type: "Input" top: "{name}" '
                 f'input_param {{ shape {{ {dims} }} }} }}\n')
    return head + case.layers


# --- NumPy references written from the Caffe sources ----------------------------------------

def caffe_out(size: int, pad: int, extent: int, stride: int) -> int:
    """conv_layer.cpp: (size + 2 pad - extent) / stride + 1 in C (truncation toward zero)."""
    return int((size + 2 * pad - extent) / stride) + 1


def caffe_conv(x, w, b, stride=(1, 1), pad=(0, 0), dilation=(1, 1), group=1):
    """im2col convolution: windows read zeros outside the input."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    ext = [d * (k - 1) + 1 for d, k in zip(dilation, (kh, kw))]
    oh, ow = (caffe_out(s, p, e, st) for s, p, e, st in zip((h, wd), pad, ext, stride))
    big = np.zeros((n, c, pad[0] + (oh - 1) * stride[0] + ext[0] + 1,
                    pad[1] + (ow - 1) * stride[1] + ext[1] + 1), np.float64)
    big[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    out = np.zeros((n, m, oh, ow))
    per = m // group
    for i in range(kh):
        for j in range(kw):
            patch = big[:, :, i * dilation[0]:i * dilation[0] + (oh - 1) * stride[0] + 1:stride[0],
                        j * dilation[1]:j * dilation[1] + (ow - 1) * stride[1] + 1:stride[1]]
            for g in range(group):
                out[:, g * per:(g + 1) * per] += np.einsum(
                    "nchw,mc->nmhw", patch[:, g * cg:(g + 1) * cg], w[g * per:(g + 1) * per, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def caffe_conv3d(x, w, b, stride: int, pad: int):
    """3-D convolution as a sum over depth taps of 2-D ones (same stride/pad on every axis)."""
    depth = caffe_out(x.shape[2], pad, w.shape[2], stride)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0), (0, 0)))
    planes = [sum(caffe_conv(padded[:, :, d * stride + t], w[:, :, t], None, (stride, stride),
                             (pad, pad)) for t in range(w.shape[2])) for d in range(depth)]
    return np.stack(planes, 2) + b.reshape(1, -1, 1, 1, 1)


def caffe_pool(x, kernel, stride, pad, average: bool, ceil: bool = True):
    """pooling_layer.cpp: ceil size, last-window clip, AVE divisor = window in [-pad, H + pad)."""
    n, c, h, w = x.shape

    def size(length, k, s, p):
        out = (math.ceil if ceil else math.floor)((length + 2 * p - k) / s) + 1
        return out - 1 if p and (out - 1) * s >= length + p else out

    oh, ow = size(h, kernel[0], stride[0], pad[0]), size(w, kernel[1], stride[1], pad[1])
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        hs = i * stride[0] - pad[0]
        he = min(hs + kernel[0], h + pad[0])
        for j in range(ow):
            ws = j * stride[1] - pad[1]
            we = min(ws + kernel[1], w + pad[1])
            window = x[:, :, max(hs, 0):min(he, h), max(ws, 0):min(we, w)]
            out[:, :, i, j] = (window.sum((2, 3)) / ((he - hs) * (we - ws)) if average
                               else window.max((2, 3)))
    return out


def caffe_lrn_across(x, size, alpha, beta, k):
    """lrn_layer.cpp CrossChannelForward: x * (k + alpha/size * sum over the window of x^2)^-beta."""
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), ((size - 1) // 2,) * 2, (0, 0), (0, 0)))
    window = sum(sq[:, i:i + x.shape[1]] for i in range(size))
    return x * (k + alpha / size * window) ** -beta


def caffe_topk(x, axis, k):
    """argmax_layer.cpp: std::partial_sort with std::greater<pair<value, index>> (ties: larger index)."""
    keys = np.moveaxis(x, axis, -1)
    index = np.arange(keys.shape[-1])
    order = np.lexsort((-np.broadcast_to(index, keys.shape), -keys), axis=-1)[..., :k]
    return (np.moveaxis(np.take_along_axis(keys, order, -1), -1, axis),
            np.moveaxis(order, -1, axis).astype(np.float32))


def ref(fn: Callable) -> Callable:
    """Adapt fn(x, weights_of_l, inputs) -> array to the {"out": array} reference signature."""
    return lambda inputs, weights: {"out": fn(inputs["data"], weights.get("l", []), inputs)}


def _argmax_flat(x, w, _):
    values, index = caffe_topk(x.reshape(x.shape[0], -1), 1, 3)
    # argmax_layer.cpp: top (N, 2, k, 1...) for a >= 3-D bottom: indices, then values
    return np.stack([index, values], 1).reshape((x.shape[0], 2, 3) + (1,) * (x.ndim - 3))


def _bn(x, w, _):
    mean, var, f = w
    s = np.float32(0) if f[0] == 0 else np.float32(1) / f[0]
    return (x - (mean * s).reshape(1, -1, 1, 1)) / np.sqrt(var * s + np.float32(1e-5)).reshape(1, -1, 1, 1)


def _zero_factor(weights):
    weights["l"][2] = np.zeros(1, np.float32)


def caffe_deconv(x, w, b, stride, pad, dilation):
    """deconv_layer.cpp (col2im): every input pixel adds w * x into the output, minus the pad."""
    n, c, h, wd = x.shape
    _, m, kh, kw = w.shape
    full = np.zeros((n, m, (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1,
                     (wd - 1) * stride[1] + dilation[1] * (kw - 1) + 1))
    for i in range(kh):
        for j in range(kw):
            full[:, :, i * dilation[0]:i * dilation[0] + (h - 1) * stride[0] + 1:stride[0],
                 j * dilation[1]:j * dilation[1] + (wd - 1) * stride[1] + 1:stride[1]] += \
                np.einsum("nchw,cm->nmhw", x, w[:, :, i, j])
    out = full[:, :, pad[0]:full.shape[2] - pad[0], pad[1]:full.shape[3] - pad[1]]
    return out + b.reshape(1, -1, 1, 1)


def positive(x):
    return np.abs(x) + 0.5


def ties(x):
    """Few distinct values, so top-k meets ties."""
    return np.round(x)


CONV = 'convolution_param { num_output: %d %s }'
POOL = 'pooling_param { pool: %s %s }'
CASES = [
    # --- convolution family
    Case("conv_3x3_pad1", layer("Convolution", CONV % (5, "kernel_size: 3 pad: 1"))),
    Case("conv_group_dilation_per_axis", layer("Convolution", CONV % (
        6, "group: 2 dilation: 2 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 2 stride_h: 2 stride_w: 1 "
           "bias_term: false")), inputs={"data": (1, 4, 9, 11)}),
    Case("conv_stride_per_axis_list", layer("Convolution", CONV % (
        3, "kernel_size: 3 kernel_size: 1 stride: 2 stride: 3 pad: 0 pad: 1")),
        inputs={"data": (2, 3, 8, 7)}),
    Case("conv_kernel_past_input_truncates", layer("Convolution", CONV % (2, "kernel_size: 5 stride: 2")),
         inputs={"data": (1, 3, 4, 4)},
         reference=ref(lambda x, w, _: caffe_conv(x, w[0], w[1], stride=(2, 2))),
         why="(4 - 5) / 2 truncates to 0 in C, so Caffe makes one window that reads past the "
             "input (zeros); OpenCV refuses the size"),
    Case("conv_3d", layer("Convolution", CONV % (2, "kernel_size: 3 pad: 1 stride: 2")),
         inputs={"data": (1, 2, 4, 5, 6)},
         reference=ref(lambda x, w, _: caffe_conv3d(x, w[0], w[1], stride=2, pad=1)),
         why="N-D convolution: OpenCV's Caffe importer is 2-D only"),
    Case("depthwise_convolution_fork", layer("DepthwiseConvolution", CONV % (
        4, "group: 4 kernel_size: 3 pad: 1")),
         reference=ref(lambda x, w, _: caffe_conv(x, w[0], w[1], pad=(1, 1), group=4)),
         why="yonghenglh6's layer is a Convolution subclass; OpenCV does not know the type"),
    Case("convolution_depthwise_fork", layer("ConvolutionDepthwise", CONV % (
        4, "kernel_size: 3 pad: 1 stride: 2"))),
    Case("deconv_group_stride_pad", layer("Deconvolution", CONV % (
        6, "group: 2 kernel_size: 3 stride: 2 pad: 1")), inputs={"data": (1, 4, 5, 5)}),
    Case("deconv_dilation_per_axis", layer("Deconvolution", CONV % (
        3, "dilation: 2 kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 pad_w: 1")),
        inputs={"data": (2, 2, 4, 5)},
        reference=ref(lambda x, w, _: caffe_deconv(x, w[0], w[1], (1, 2), (0, 1), (2, 2))),
        why="OpenCV's deconvolution output size ignores dilation (5 rows, Caffe has "
            "1 * (4 - 1) + 2 * (2 - 1) + 1 = 6)"),
    Case("inner_product_4d", layer("InnerProduct", "inner_product_param { num_output: 7 }")),
    Case("inner_product_axis2", layer("InnerProduct", "inner_product_param { num_output: 5 axis: 2 }")),
    Case("inner_product_2d", layer("InnerProduct", "inner_product_param { num_output: 3 }"),
         inputs={"data": (3, 10)}),
    Case("inner_product_transpose", layer("InnerProduct",
                                          "inner_product_param { num_output: 5 transpose: true }"),
         reference=ref(lambda x, w, _: x.reshape(2, -1) @ w[0] + w[1]),
         why="weights stored (K, N); OpenCV ignores transpose"),
    # --- pooling: windows that hang over the edge, with and without pad
    Case("pool_max_6x6_k3_s2_p1", layer("Pooling", POOL % ("MAX", "kernel_size: 3 stride: 2 pad: 1")),
         reference=ref(lambda x, w, _: caffe_pool(x, (3, 3), (2, 2), (1, 1), False))),
    Case("pool_ave_6x6_k3_s2_p1", layer("Pooling", POOL % ("AVE", "kernel_size: 3 stride: 2 pad: 1")),
         reference=ref(lambda x, w, _: caffe_pool(x, (3, 3), (2, 2), (1, 1), True)),
         why="ceil gives 4 windows; the last starts at 5 and covers 5..7: pad column 6 counts, "
             "column 7 (past H + pad) does not"),
    Case("pool_ave_6x6_k3_s2_p1_opencv", layer("Pooling", POOL % ("AVE", "kernel_size: 3 stride: 2 pad: 1"))),
    Case("pool_max_7x7_k2_s2", layer("Pooling", POOL % ("MAX", "kernel_size: 2 stride: 2")),
         inputs={"data": (1, 3, 7, 7)}),
    Case("pool_ave_7x7_k2_s2", layer("Pooling", POOL % ("AVE", "kernel_size: 2 stride: 2")),
         inputs={"data": (1, 3, 7, 7)},
         reference=ref(lambda x, w, _: caffe_pool(x, (2, 2), (2, 2), (0, 0), True)),
         why="the 4th window covers column 6 and the overhang 7: divisor 2x1 at the edge"),
    Case("pool_max_13x13_k3_s2", layer("Pooling", POOL % ("MAX", "kernel_size: 3 stride: 2")),
         inputs={"data": (1, 2, 13, 13)}),
    Case("pool_ave_13x13_k3_s2", layer("Pooling", POOL % ("AVE", "kernel_size: 3 stride: 2")),
         inputs={"data": (1, 2, 13, 13)},
         reference=ref(lambda x, w, _: caffe_pool(x, (3, 3), (2, 2), (0, 0), True))),
    Case("pool_ave_rect_pad_overhang", layer("Pooling", POOL % (
        "AVE", "kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 1")),
        inputs={"data": (1, 2, 8, 9)},
        reference=ref(lambda x, w, _: caffe_pool(x, (3, 2), (2, 3), (1, 1), True))),
    Case("pool_ave_floor_round_mode", layer("Pooling", POOL % (
        "AVE", "kernel_size: 3 stride: 2 round_mode: FLOOR")),
        reference=ref(lambda x, w, _: caffe_pool(x, (3, 3), (2, 2), (0, 0), True, ceil=False)),
        why="round_mode FLOOR (newer BVLC); OpenCV does not read it"),
    Case("pool_global_max", layer("Pooling", POOL % ("MAX", "global_pooling: true"))),
    Case("pool_global_ave", layer("Pooling", POOL % ("AVE", "global_pooling: true"))),
    # --- neurons
    Case("relu", layer("ReLU")),
    Case("relu_negative_slope_in_place", layer("ReLU", "relu_param { negative_slope: 0.1 }",
                                               bottoms=("data",), tops=("data",))
         + layer("Sigmoid", bottoms=("data",), tops=("out",), name="after")),
    Case("sigmoid", layer("Sigmoid")),
    Case("tanh", layer("TanH")),
    Case("absval", layer("AbsVal")),
    Case("bnll", layer("BNLL")),
    Case("bnll_large_inputs", layer("BNLL"), transform=lambda x: 40 * x,
         reference=ref(lambda x, w, _: np.where(x > 0, x + np.log1p(np.exp(-np.abs(x))),
                                                np.log1p(np.exp(np.minimum(x, 0))))),
         why="bnll_layer.cpp's stable form x + log(1 + exp(-x)) for x > 0: no overflow"),
    Case("elu", layer("ELU", "elu_param { alpha: 0.5 }")),
    Case("prelu", layer("PReLU")),
    Case("prelu_channel_shared", layer("PReLU", "prelu_param { channel_shared: true }"),
         via_caffemodel=False, reference=ref(lambda x, w, _: np.where(x > 0, x, w[0] * x)),
         why="a scalar blob: exported from the seed (our caffemodel writer stores shape (1,))"),
    Case("power", layer("Power", "power_param { power: 2 scale: 0.5 shift: 1 }")),
    Case("power_fractional", layer("Power", "power_param { power: 0.5 scale: 2 shift: 0.1 }"),
         transform=positive),
    Case("power_constant_scale_0", layer("Power", "power_param { power: 3 scale: 0 shift: 2 }")),
    Case("exp_base_scale_shift", layer("Exp", "exp_param { base: 2 scale: 0.5 shift: 1 }")),
    Case("exp_natural", layer("Exp")),
    Case("log_base_scale_shift", layer("Log", "log_param { base: 10 scale: 2 shift: 20 }"),
         reference=ref(lambda x, w, _: np.log(20 + 2 * x.astype(np.float64)) / np.log(10)),
         why="OpenCV's Log returns NaN for these inputs"),
    Case("log_natural", layer("Log"), transform=positive),
    Case("threshold", layer("Threshold", "threshold_param { threshold: 0.3 }"),
         reference=ref(lambda x, w, _: (x > np.float32(0.3)).astype(np.float32)),
         why="OpenCV has no Threshold layer"),
    Case("clip", layer("Clip", "clip_param { min: -0.5 max: 0.7 }"),
         reference=ref(lambda x, w, _: np.clip(x, -0.5, 0.7)), why="OpenCV has no Clip layer"),
    Case("swish_beta", layer("Swish", "swish_param { beta: 1.5 }"),
         reference=ref(lambda x, w, _: x / (1 + np.exp(-1.5 * x.astype(np.float64)))),
         why="OpenCV's Swish ignores beta"),
    Case("relu6_fork", layer("ReLU6")),
    Case("dropout", layer("Dropout", "dropout_param { dropout_ratio: 0.3 }")),
    Case("dropout_scale_train_false", layer("Dropout", "dropout_param { dropout_ratio: 0.3 scale_train: false }"),
         reference=ref(lambda x, w, _: x * np.float32(0.7)),
         why="Faster R-CNN's scale_train: false scales by 1 - ratio at test time; OpenCV ignores it"),
    # --- routing
    Case("split_fan_out", layer("Split", tops=("a", "b")) + layer("ReLU", bottoms=("b",), tops=("out",), name="r"),
         reference=lambda i, w: {"a": i["data"], "out": np.maximum(i["data"], 0)},
         why="OpenCV cannot return a Split's second top"),
    Case("concat_axis1_three", layer("Concat", bottoms=("data", "x", "data")),
         inputs={"data": (2, 3, 4, 4), "x": (2, 2, 4, 4)}),
    Case("concat_axis2", layer("Concat", "concat_param { axis: 2 }", bottoms=("data", "x")),
         inputs={"data": (2, 3, 4, 4), "x": (2, 3, 1, 4)}),
    Case("slice_points_axis1", layer("Slice", "slice_param { slice_point: 1 slice_point: 3 }",
                                     tops=("out", "b", "c"))),
    Case("slice_equal_axis2", layer("Slice", "slice_param { axis: 2 }", tops=("out", "b")),
         reference=lambda i, w: {"out": i["data"][:, :, :3], "b": i["data"][:, :, 3:]},
         why="OpenCV refuses an equal split on axis 2"),
    Case("eltwise_sum_coeff", layer("Eltwise", "eltwise_param { operation: SUM coeff: 0.5 coeff: -2 }",
                                    bottoms=("data", "x")), inputs={"data": (2, 4, 6, 6), "x": (2, 4, 6, 6)}),
    Case("eltwise_prod", layer("Eltwise", "eltwise_param { operation: PROD }", bottoms=("data", "x")),
         inputs={"data": (2, 4, 6, 6), "x": (2, 4, 6, 6)}),
    Case("eltwise_max_three", layer("Eltwise", "eltwise_param { operation: MAX }", bottoms=("data", "x", "y")),
         inputs={"data": (2, 4, 6, 6), "x": (2, 4, 6, 6), "y": (2, 4, 6, 6)}),
    Case("flatten_axis2", layer("Flatten", "flatten_param { axis: 2 }")),
    Case("reshape_zero_minus_one", layer("Reshape", "reshape_param { shape { dim: 0 dim: -1 dim: 3 } }")),
    Case("softmax_axis1", layer("Softmax")),
    Case("softmax_axis2", layer("Softmax", "softmax_param { axis: 2 }")),
    Case("crop_offsets", layer("Crop", "crop_param { axis: 2 offset: 1 offset: 2 }", bottoms=("data", "like")),
         inputs={"data": (1, 3, 8, 9), "like": (1, 3, 5, 4)}),
    Case("crop_axis1_one_offset", layer("Crop", "crop_param { axis: 1 offset: 1 }", bottoms=("data", "like")),
         inputs={"data": (1, 5, 8, 9), "like": (1, 3, 5, 4)}),
    Case("tile", layer("Tile", "tile_param { axis: 1 tiles: 3 }"),
         reference=ref(lambda x, w, _: np.tile(x, (1, 3, 1, 1))), why="OpenCV refuses Tile here"),
    Case("permute_fork", layer("Permute", "permute_param { order: 0 order: 2 order: 3 order: 1 }")),
    Case("shuffle_channel_fork", layer("ShuffleChannel", "shuffle_channel_param { group: 2 }")),
    Case("argmax_axis_top1", layer("ArgMax", "argmax_param { axis: 1 }"),
         reference=ref(lambda x, w, _: caffe_topk(x, 1, 1)[1]), why="OpenCV has no ArgMax"),
    Case("argmax_axis_top2_values", layer("ArgMax", "argmax_param { axis: 3 top_k: 2 out_max_val: true }"),
         reference=ref(lambda x, w, _: caffe_topk(x, 3, 2)[0]), why="OpenCV has no ArgMax"),
    Case("argmax_ties_top3_axis1", layer("ArgMax", "argmax_param { axis: 1 top_k: 3 }"),
         transform=ties, reference=ref(lambda x, w, _: caffe_topk(x, 1, 3)[1]),
         why="rounded inputs tie: Caffe lists the larger index first"),
    Case("argmax_ties_top1", layer("ArgMax", "argmax_param { axis: 1 }"), transform=ties,
         reference=ref(lambda x, w, _: caffe_topk(x, 1, 1)[1])),
    Case("argmax_flat_top3_with_values", layer("ArgMax", "argmax_param { top_k: 3 out_max_val: true }"),
         reference=ref(_argmax_flat), why="OpenCV has no ArgMax"),
    Case("reduction_sum_axis1", layer("Reduction", "reduction_param { operation: SUM axis: 1 }"),
         reference=ref(lambda x, w, _: x.sum((1, 2, 3))), why="OpenCV has no Reduction"),
    Case("reduction_asum", layer("Reduction", "reduction_param { operation: ASUM axis: 2 coeff: 3 }"),
         reference=ref(lambda x, w, _: 3 * np.abs(x).sum((2, 3))), why="OpenCV has no Reduction"),
    Case("reduction_sumsq_all", layer("Reduction", "reduction_param { operation: SUMSQ }"),
         reference=ref(lambda x, w, _: np.array((x.astype(np.float64) ** 2).sum(), np.float32)),
         why="axis 0 reduces to a scalar top; OpenCV has no Reduction"),
    Case("reduction_mean_coeff", layer("Reduction", "reduction_param { operation: MEAN axis: 1 coeff: -2 }"),
         reference=ref(lambda x, w, _: -2 * x.mean((1, 2, 3))), why="OpenCV has no Reduction"),
    # --- normalization
    Case("lrn_across", layer("LRN", "lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 }")),
    Case("lrn_across_k2", layer("LRN", "lrn_param { local_size: 5 alpha: 0.5 beta: 0.6 k: 2 }"),
         reference=ref(lambda x, w, _: caffe_lrn_across(x, 5, 0.5, 0.6, 2.0)),
         why="OpenCV ignores LRN k; reference written from lrn_layer.cpp CrossChannelForward"),
    Case("lrn_within_channel", layer("LRN", "lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 "
                                            "norm_region: WITHIN_CHANNEL }")),
    Case("batch_norm", layer("BatchNorm")),
    Case("batch_norm_factor_zero", layer("BatchNorm"), adjust=_zero_factor,
         reference=ref(lambda x, w, _: x / np.sqrt(np.float32(1e-5))),
         why="scale factor 0 makes mean and variance 0: y = x / sqrt(eps)"),
    Case("batch_norm_2d", layer("BatchNorm"), inputs={"data": (3, 5)}, reference=ref(
        lambda x, w, _: (x - w[0] / w[2][0]) / np.sqrt(w[1] / w[2][0] + np.float32(1e-5)))),
    Case("scale_bias_term", layer("Scale", "scale_param { bias_term: true }")),
    Case("scale_axis1_num_axes2", layer("Scale", "scale_param { num_axes: 2 }"),
         reference=ref(lambda x, w, _: x * w[0].reshape(1, 4, 6, 1))),
    Case("scale_two_bottoms_axis0", layer("Scale", "scale_param { axis: 0 }", bottoms=("data", "s")),
         inputs={"data": (2, 4, 6, 6), "s": (2, 4)}),
    Case("scale_two_bottoms_bias", layer("Scale", "scale_param { axis: 1 bias_term: true }", bottoms=("data", "s")),
         inputs={"data": (2, 4, 6, 6), "s": (4, 6)},
         reference=ref(lambda x, w, i: x * i["s"].reshape(1, 4, 6, 1) + w[0].reshape(1, 4, 6, 1))),
    Case("bias_learned", layer("Bias"),
         reference=ref(lambda x, w, _: x + w[0].reshape(1, -1, 1, 1)), why="OpenCV has no Bias layer"),
    Case("bias_two_bottoms", layer("Bias", bottoms=("data", "b")),
         inputs={"data": (2, 4, 6, 6), "b": (4,)},
         reference=ref(lambda x, w, i: x + i["b"].reshape(1, 4, 1, 1)), why="OpenCV has no Bias layer"),
    Case("mvn_default", layer("MVN")),
    Case("mvn_across_channels", layer("MVN", "mvn_param { across_channels: true eps: 0.01 }"),
         reference=ref(lambda x, w, _: (x - x.mean((1, 2, 3), keepdims=True))
                       / (x.std((1, 2, 3), keepdims=True) + 0.01)),
         why="mvn_layer.cpp adds eps after the square root; OpenCV adds it inside"),
    Case("mvn_mean_only", layer("MVN", "mvn_param { normalize_variance: false }")),
    Case("normalize_fork_per_pixel", layer("Normalize", "norm_param { across_spatial: false channel_shared: false }")),
    Case("normalize_fork_across_spatial", layer("Normalize", "norm_param { across_spatial: true channel_shared: false }"),
         reference=ref(lambda x, w, _: x / np.sqrt((x.astype(np.float64) ** 2).sum((1, 2, 3), keepdims=True)
                                                   + 1e-10) * w[0].reshape(1, -1, 1, 1)),
         why="OpenCV refuses per-channel scales with across_spatial"),
    Case("normalize_fork_shared_scale", layer("Normalize", "norm_param { across_spatial: false }"),
         via_caffemodel=False,
         reference=ref(lambda x, w, _: x / np.sqrt((x.astype(np.float64) ** 2).sum(1, keepdims=True)
                                                   + 1e-10) * w[0]),
         why="channel_shared: a scalar blob, exported from the seed"),
    # --- resizing forks and Axpy
    Case("interp_zoom", layer("Interp", "interp_param { zoom_factor: 2 }")),
    Case("interp_height_width", layer("Interp", "interp_param { height: 9 width: 4 }")),
    Case("upsample_nearest", layer("Upsample", "upsample_param { scale: 3 }"),
         reference=ref(lambda x, w, _: x.repeat(3, 2).repeat(3, 3)),
         why="YOLO's Upsample: top(h, w) = bottom(h / 3, w / 3); OpenCV lacks the layer"),
    Case("axpy_fork", layer("Axpy", bottoms=("a", "data", "y")),
         inputs={"a": (2, 4), "data": (2, 4, 6, 6), "y": (2, 4, 6, 6)},
         reference=ref(lambda x, w, i: i["a"].reshape(2, 4, 1, 1) * x + i["y"]),
         why="SENet's Axpy: F = a * X + Y; OpenCV rejects the 2-D scale"),
]


def export_case(case: Case, tmp_path, opset: int = 17, **options):
    path = tmp_path / f"{case.id}.prototxt"
    path.write_text(prototxt(case))
    loaded = load_net(str(path))
    weights = random_weights(loaded.network, infer_shapes(loaded.network), seed=7)
    if case.adjust is not None:
        case.adjust(weights)
    caffemodel = tmp_path / f"{case.id}.caffemodel"
    write_caffemodel(str(caffemodel), loaded.net, weights, durable=False)
    if case.via_caffemodel:
        exported = export_onnx(loaded, str(caffemodel), opset=opset, **options)
    else:
        exported = export_onnx(loaded, random_seed=7, opset=opset, **options)
    return path, caffemodel, weights, exported


def case_inputs(case: Case) -> dict:
    rng = np.random.default_rng(11)
    inputs = {n: rng.standard_normal(s).astype(np.float32) for n, s in case.inputs.items()}
    if case.transform is not None:
        inputs = {n: case.transform(v).astype(np.float32) for n, v in inputs.items()}
    inputs.update({n: np.asarray(v, np.float32) for n, v in case.given.items()})
    return inputs


def assert_matches(name: str, ours: np.ndarray, expected: np.ndarray, tol: float) -> None:
    """Shape, dtype and value checked separately (as tf2onnx's assert_results_equal)."""
    expected = np.asarray(expected)
    assert ours.shape == expected.shape, f"{name}: shape {ours.shape}, expected {expected.shape}"
    assert ours.dtype == np.float32, f"{name}: dtype {ours.dtype}, expected float32"
    error = float(np.abs(ours.astype(np.float64) - expected).max()) if ours.size else 0.0
    scale = max(1.0, float(np.abs(expected).max()) if expected.size else 0.0)
    assert error <= tol * scale, f"{name}: max abs error {error:.3g} > {tol:g} x {scale:.3g}"


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_layer_export_matches_reference(case: Case, opset: int, tmp_path):
    check_against_reference(case, opset, tmp_path)


def check_against_reference(case: Case, opset: int, tmp_path, every_output: bool = False) -> None:
    """Export ``case`` at ``opset``; onnx's full checker passes and onnxruntime's outputs match
    the case's reference (OpenCV, or a transcription of Caffe's C++) on every output it gives
    (``every_output``: the reference must give every net output)."""
    path, caffemodel, weights, exported = export_case(case, tmp_path, opset)
    onnx.checker.check_model(exported.to_proto(), full_check=True)
    inputs = case_inputs(case)
    ours = run_onnxruntime(exported.serialize(), inputs)
    if case.reference == OPENCV:
        pytest.importorskip("cv2")
        expected = run_opencv(str(path), str(caffemodel), inputs, exported.outputs)
    else:
        expected = case.reference(inputs, weights)
    assert expected, "the reference produced no output to compare"
    if every_output:
        assert set(expected) == set(ours), "every net output is compared"
    for name, value in expected.items():
        assert_matches(name, ours[name], value, case.tol)


def cases_expecting(cases: list, failures: dict) -> list:
    """``cases`` as pytest params; those whose id ``failures`` names (id -> reason: a bug of
    the second runtime, not ours) are strict expected failures."""
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=failures[c.id],
                                                              strict=True)]
                         if c.id in failures else []) for c in cases]


# onnx 1.23's reference implementation itself is wrong on these (onnxruntime and Caffe agree):
REFERENCE_EVALUATOR_BUGS = {
    "deconv_group_stride_pad": "onnx.reference ConvTranspose mishandles group > 1 "
                               "(reshape error)",
    "lrn_across": "onnx.reference LRN loops over the batch axis instead of the channels",
    "lrn_across_k2": "onnx.reference LRN loops over the batch axis instead of the channels",
}


@pytest.mark.parametrize("case", cases_expecting(CASES, REFERENCE_EVALUATOR_BUGS))
def test_onnx_reference_evaluator_agrees(case: Case, tmp_path):
    """A second runtime: ONNX's own reference implementation of the op specifications, so the
    graphs are exact by the standard and not only by onnxruntime's reading of it."""
    check_reference_evaluator(case, tmp_path)


def check_reference_evaluator(case: Case, tmp_path) -> None:
    """onnx.reference runs ``case``'s export to onnxruntime's outputs."""
    from onnx.reference import ReferenceEvaluator
    _, _, _, exported = export_case(case, tmp_path)
    inputs = case_inputs(case)
    ours = run_onnxruntime(exported.serialize(), inputs)
    evaluator = ReferenceEvaluator(exported.to_proto())
    for name, value in zip(evaluator.output_names, evaluator.run(None, inputs)):
        assert_matches(name, np.asarray(value, np.float32), ours[name], 1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if len({s[0] for s in c.inputs.values()}) == 1],
                         ids=lambda c: c.id)
def test_dynamic_batch_computes_each_item_as_the_static_export(case: Case, tmp_path):
    """--dynamic-batch: feeding the batch twice over gives each item's static result twice, or
    the layer is refused because it works along the batch axis."""
    from prototxt_tools.errors import UnsupportedError
    _, _, _, static = export_case(case, tmp_path)
    try:
        _, _, _, dynamic = export_case(case, tmp_path, dynamic_batch=True)
    except UnsupportedError as refused:
        assert "batch axis" in str(refused)
        return
    onnx.checker.check_model(dynamic.to_proto(), full_check=True)
    inputs = case_inputs(case)
    once = run_onnxruntime(static.serialize(), inputs)
    twice = run_onnxruntime(dynamic.serialize(),
                            {n: np.concatenate([v, v]) for n, v in inputs.items()})
    for name, value in once.items():
        np.testing.assert_array_equal(twice[name], np.concatenate([value, value]), err_msg=name)
