"""SegNet's encoder/decoder pair in ONNX: MAX Pooling with its mask top and the fork's
two-bottom Upsample (max-unpooling), one layer at a time and as a small SegNet.

References (what we did not write):

* OpenCV's Caffe importer runs Pooling with a mask top (``OPENCV`` cases); it has no layer
  for SegNet's ``Upsample`` ("Can't create layer ... of type Upsample", OpenCV 4.14);
* NumPy transcriptions, loop for loop, of
  - BVLC/caffe ``src/caffe/layers/pooling_layer.cpp`` Forward_cpu, MAX with ``top[1]``
    (read at commit 25a4973528f88feb4413eddf9680f7a290b1fab0; 0323844, the older layout
    SegNet's fork was cut from, has the same MAX loop): the maximum starts at -FLT_MAX and
    the mask at -1, the window is clipped to the image, ``>`` keeps the first maximum;
  - alexgkendall/caffe-segnet ``src/caffe/layers/upsample_layer.cpp`` Forward_cpu (commit
    03d1e9f162b43f81db301cb9bc2ad47126bad8ee): zero-fill, then per (n, c) plane
    ``top[static_cast<int>(mask[i])] = bottom[i]`` in bottom order.

Every case runs at opsets 13/17/18/21 in onnxruntime, once in onnx.reference, and with
--dynamic-batch against the static export.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from prototxt_tools.export import export_onnx  # noqa: E402
from prototxt_tools.export.verify import run_onnxruntime  # noqa: E402
from prototxt_tools.load import load_net  # noqa: E402
from prototxt_tools.shapes.network import infer_shapes  # noqa: E402

from test_export_layers import (Case, cases_expecting, check_against_reference,
                                check_reference_evaluator, caffe_conv, case_inputs,  # noqa: E402
                                export_case, layer, ties)

f32 = np.float32
FLT_MAX = np.finfo(np.float32).max


# --- NumPy transcriptions of the C++ ---------------------------------------------------------

def caffe_pooled_size(size: int, kernel: int, pad: int, stride: int, ceil: bool) -> int:
    """PoolingLayer::Reshape: float ceil/floor, then the clip of a window starting in the pad."""
    rounded = (math.ceil if ceil else math.floor)(float(f32(size + 2 * pad - kernel) / f32(stride)))
    out = int(rounded) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def caffe_max_pool_with_mask(x, kernel, stride, pad=(0, 0), ceil=True):
    """pooling_layer.cpp Forward_cpu, PoolMethod_MAX with use_top_mask."""
    num, channels, height, width = x.shape
    pooled_h = caffe_pooled_size(height, kernel[0], pad[0], stride[0], ceil)
    pooled_w = caffe_pooled_size(width, kernel[1], pad[1], stride[1], ceil)
    top = np.full((num, channels, pooled_h, pooled_w), -FLT_MAX, f32)
    mask = np.full(top.shape, -1, f32)
    for n, c in np.ndindex(num, channels):
        plane = x[n, c].ravel()
        for ph in range(pooled_h):
            for pw in range(pooled_w):
                hstart, wstart = ph * stride[0] - pad[0], pw * stride[1] - pad[1]
                hend, wend = min(hstart + kernel[0], height), min(wstart + kernel[1], width)
                hstart, wstart = max(hstart, 0), max(wstart, 0)
                for h in range(hstart, hend):
                    for w in range(wstart, wend):
                        index = h * width + w
                        if plane[index] > top[n, c, ph, pw]:
                            top[n, c, ph, pw] = plane[index]
                            mask[n, c, ph, pw] = index
    return top, mask


def segnet_upsample(data, mask, out_h: int, out_w: int):
    """upsample_layer.cpp Forward_cpu: zero top, then top[n, c, int(mask)] = bottom, in order."""
    num, channels = data.shape[:2]
    top = np.zeros((num, channels, out_h * out_w), f32)
    for n, c in np.ndindex(num, channels):
        for value, where in zip(data[n, c].ravel(), mask[n, c].ravel()):
            index = int(where)  # static_cast<int>: toward zero
            assert 0 <= index < out_h * out_w, "Caffe stops: upsample top index out of range"
            top[n, c, index] = value
    return top.reshape(num, channels, out_h, out_w)


def pool_ref(kernel, stride, pad=(0, 0), ceil=True):
    def reference(inputs, weights):
        out, mask = caffe_max_pool_with_mask(inputs["data"], kernel, stride, pad, ceil)
        return {"out": out, "mask": mask}
    return reference


def unpool_ref(kernel, stride, out_hw, data=None):
    """Pool ``data`` with a mask, then unpool ``data`` (default: the pooled maxima, else the
    pooled maxima are a net output too)."""
    def reference(inputs, weights):
        pooled, mask = caffe_max_pool_with_mask(inputs["data"], kernel, stride)
        if data is None:
            return {"out": segnet_upsample(pooled, mask, *out_hw)}
        return {"out": segnet_upsample(inputs[data], mask, *out_hw), "pooled": pooled}
    return reference


def negative(x):
    """All below zero: a padding zero that took part in the maximum would win."""
    return x - 4


# --- the cases ---------------------------------------------------------------------------------

def pool(params: str, tops=("out", "mask"), name="l", bottom="data") -> str:
    return layer("Pooling", f"pooling_param {{ pool: MAX {params} }}", bottoms=(bottom,),
                 tops=tops, name=name)


def upsample(params: str, bottoms=("pooled", "mask"), top="out", name="l") -> str:
    return layer("Upsample", f"upsample_param {{ {params} }}", bottoms=bottoms, tops=(top,),
                 name=name)


POOL_FIRST = pool("kernel_size: 2 stride: 2", tops=("pooled", "mask"), name="p")
DUPLICATES = np.array([[0, 5, 5.9], [11, 2.5, 0]], f32)  # 5 twice (5.9 truncates), 0 twice
CASES = [
    # --- Pooling's mask top
    Case("pool_mask_opencv", pool("kernel_size: 3 stride: 2"), inputs={"data": (2, 3, 9, 9)},
         why="OpenCV writes the same per-plane float mask"),
    Case("pool_mask_ties", pool("kernel_size: 3 stride: 2"), inputs={"data": (2, 3, 9, 9)},
         transform=ties, reference=pool_ref((3, 3), (2, 2)),
         why="rounded inputs: many equal maxima, Caffe keeps the first in its scan order"),
    Case("pool_mask_ties_opencv", pool("kernel_size: 2 stride: 2"),
         inputs={"data": (2, 3, 6, 8)}, transform=ties),
    Case("pool_mask_pad", pool("kernel_size: 3 stride: 2 pad: 1"), inputs={"data": (2, 3, 8, 7)},
         transform=negative, reference=pool_ref((3, 3), (2, 2), (1, 1)),
         why="negative inputs: padding never wins, indices count the unpadded plane"),
    Case("pool_mask_pad_opencv", pool("kernel_size: 3 stride: 2 pad: 1"),
         inputs={"data": (2, 3, 8, 7)}, transform=negative),
    Case("pool_mask_pad_last_window_clipped", pool("kernel_size: 2 stride: 2 pad: 1"),
         inputs={"data": (2, 3, 5, 5)}, transform=negative,
         reference=pool_ref((2, 2), (2, 2), (1, 1)),
         why="ceil gives 4 windows; the 4th would start in the padding and Caffe drops it"),
    Case("pool_mask_ceil_extra_row", pool("kernel_size: 3 stride: 2"),
         inputs={"data": (2, 3, 8, 10)}, transform=negative, reference=pool_ref((3, 3), (2, 2)),
         why="ceil((8 - 3) / 2) + 1 = 4 rows, 5 columns: the last windows hang past the input"),
    Case("pool_mask_floor_round_mode", pool("kernel_size: 3 stride: 2 round_mode: FLOOR"),
         inputs={"data": (2, 3, 8, 10)}, reference=pool_ref((3, 3), (2, 2), ceil=False),
         why="BVLC's round_mode FLOOR"),
    Case("pool_mask_global", pool("global_pooling: true"), inputs={"data": (2, 3, 5, 4)},
         transform=ties, reference=pool_ref((5, 4), (1, 1)),
         why="global: one window, the first maximum of the plane"),
    Case("pool_mask_stride1", pool("kernel_size: 3 stride: 1"), inputs={"data": (2, 3, 5, 6)},
         transform=ties, reference=pool_ref((3, 3), (1, 1)),
         why="stride 1: every input is in several windows"),
    Case("pool_mask_rect",
         pool("kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0"),
         inputs={"data": (1, 2, 7, 8)}, reference=pool_ref((3, 2), (2, 3), (1, 0)),
         why="per-axis kernel, stride and pad"),
    # --- SegNet's Upsample
    Case("upsample_scale2", POOL_FIRST + upsample("scale: 2"), inputs={"data": (2, 4, 6, 8)},
         reference=unpool_ref((2, 2), (2, 2), (6, 8)), why="OpenCV has no SegNet Upsample"),
    Case("upsample_default_scale", POOL_FIRST + upsample(""), inputs={"data": (2, 2, 4, 6)},
         reference=unpool_ref((2, 2), (2, 2), (4, 6)), why="SegNet's scale defaults to 2"),
    Case("upsample_hw_odd", POOL_FIRST + upsample("upsample_h: 7 upsample_w: 9"),
         inputs={"data": (2, 3, 7, 9)}, reference=unpool_ref((2, 2), (2, 2), (7, 9)),
         why="ceil pooling 7x9 -> 4x5, unpooled to the explicit odd size"),
    Case("upsample_pad_out", POOL_FIRST + upsample("scale: 2 pad_out_h: true"),
         inputs={"data": (2, 3, 7, 8)}, reference=unpool_ref((2, 2), (2, 2), (7, 8)),
         why="pad_out_h: 4 * 2 - 1 = 7 rows"),
    Case("upsample_scale_hw",
         pool("kernel_h: 3 kernel_w: 2 stride_h: 3 stride_w: 2", ("pooled", "mask"), "p")
         + upsample("scale_h: 3 scale_w: 2"), inputs={"data": (2, 3, 9, 8)},
         reference=unpool_ref((3, 2), (3, 2), (9, 8)), why="scale_h / scale_w"),
    Case("upsample_overlapping_windows_last_write_wins",
         pool("kernel_size: 3 stride: 2", ("pooled", "mask"), "p")
         + upsample("upsample_h: 9 upsample_w: 9", bottoms=("feat", "mask")),
         inputs={"data": (2, 3, 9, 9), "feat": (2, 3, 4, 4)}, transform=ties,
         reference=unpool_ref((3, 3), (2, 2), (9, 9), data="feat"),
         why="overlapping windows share maxima: several features go to one place, the last "
             "in bottom order stays (the decoder's features are not the pooled maxima)"),
    Case("upsample_given_mask_truncated_duplicates",
         upsample("upsample_h: 3 upsample_w: 4", bottoms=("data", "mask")),
         inputs={"data": (2, 2, 2, 3), "mask": (2, 2, 2, 3)},
         given={"mask": np.broadcast_to(DUPLICATES, (2, 2, 2, 3))},
         reference=lambda i, w: {"out": segnet_upsample(i["data"], i["mask"], 3, 4)},
         why="a mask from anywhere: 5.9 truncates to 5, repeated indices keep the last"),
    Case("upsample_smaller_than_input",
         upsample("upsample_h: 2 upsample_w: 2", bottoms=("data", "mask")),
         inputs={"data": (2, 2, 3, 3), "mask": (2, 2, 3, 3)},
         given={"mask": np.arange(36, dtype=f32).reshape(2, 2, 3, 3) % 4},
         reference=lambda i, w: {"out": segnet_upsample(i["data"], i["mask"], 2, 2)},
         why="SegNet only asks upsample_h/w > 1: a top smaller than the data is legal"),
    Case("upsample_narrower_than_input",
         upsample("upsample_h: 4 upsample_w: 2", bottoms=("data", "mask")),
         inputs={"data": (2, 2, 2, 3), "mask": (2, 2, 2, 3)},
         given={"mask": np.arange(24, dtype=f32).reshape(2, 2, 2, 3) * 5 % 8},
         reference=lambda i, w: {"out": segnet_upsample(i["data"], i["mask"], 4, 2)},
         why="taller but narrower than the data: the rows are re-indexed for a wider plane"),
]


# --- a small SegNet: (conv-bn-relu-pool with mask) x 2, then (upsample-conv) x 2 ------------

def conv(name: str, bottom: str, top: str, outputs: int) -> str:
    return layer("Convolution", f"convolution_param {{ num_output: {outputs} kernel_size: 3 "
                 "pad: 1 }", bottoms=(bottom,), tops=(top,), name=name)


def conv_bn_relu(name: str, bottom: str, outputs: int) -> str:
    return (conv(name, bottom, name, outputs)
            + layer("BN", "bn_param { bn_mode: INFERENCE }", bottoms=(name,), tops=(name,),
                    name=f"{name}_bn")
            + layer("ReLU", bottoms=(name,), tops=(name,), name=f"{name}_relu"))


SEGNET = (conv_bn_relu("conv1", "data", 4)
          + pool("kernel_size: 2 stride: 2", ("pool1", "pool1_mask"), "pool1", "conv1")
          + conv_bn_relu("conv2", "pool1", 5)
          + pool("kernel_size: 2 stride: 2", ("pool2", "pool2_mask"), "pool2", "conv2")
          + upsample("upsample_h: 5 upsample_w: 5", ("pool2", "pool2_mask"), "up2", "up2")
          + conv_bn_relu("conv2_D", "up2", 4)
          + upsample("scale: 2", ("conv2_D", "pool1_mask"), "up1", "up1")
          + conv("conv1_D", "up1", "out", 3))


def caffe_segnet(inputs, weights):
    """The net above, layer by layer with the transcriptions (BN INFERENCE: x * scale + shift)."""
    def block(name, x):
        w, b = weights[name]
        scale, shift = weights[f"{name}_bn"]
        convolved = caffe_conv(x, w, b, pad=(1, 1)).astype(f32)
        return np.maximum(convolved * scale + shift, 0).astype(f32)

    conv1 = block("conv1", inputs["data"])
    pool1, mask1 = caffe_max_pool_with_mask(conv1, (2, 2), (2, 2))
    conv2 = block("conv2", pool1)
    pool2, mask2 = caffe_max_pool_with_mask(conv2, (2, 2), (2, 2))
    conv2_d = block("conv2_D", segnet_upsample(pool2, mask2, 5, 5))
    up1 = segnet_upsample(conv2_d, mask1, 10, 10)
    return {"out": caffe_conv(up1, *weights["conv1_D"], pad=(1, 1))}


CASES.append(Case("segnet_encoder_decoder", SEGNET, inputs={"data": (2, 3, 10, 10)},
                  reference=caffe_segnet, tol=1e-4,
                  why="pooling 10 -> 5 -> 3 (ceil), unpooled 3 -> 5 (upsample_h/w) -> 10"))


# --- the tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("opset", [13, 17, 18, 21])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_segnet_layers_match_reference(case: Case, opset: int, tmp_path):
    check_against_reference(case, opset, tmp_path, every_output=True)


# onnx 1.23's MaxPool with all strides 1 takes a generic path whose Indices are wrong: the
# window's argmax is unravelled against the *output* shape and no (n, c) offset is added.
# onnxruntime, OpenCV and the transcription agree on these.
REFERENCE_EVALUATOR_BUGS = {c: "onnx.reference MaxPool Indices are wrong when every stride is 1"
                            for c in ("pool_mask_global", "pool_mask_stride1")}


@pytest.mark.parametrize("case", cases_expecting(CASES, REFERENCE_EVALUATOR_BUGS))
def test_onnx_reference_evaluator_agrees(case: Case, tmp_path):
    check_reference_evaluator(case, tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dynamic_batch_computes_each_item_as_the_static_export(case: Case, tmp_path):
    """--dynamic-batch: the unpooling offsets (n * C + c) * H * W are built from the batch size
    read at run time, so each item of a tripled batch gets its static result."""
    _, _, _, static = export_case(case, tmp_path)
    _, _, _, dynamic = export_case(case, tmp_path, dynamic_batch=True)
    onnx.checker.check_model(dynamic.to_proto(), full_check=True)
    inputs = case_inputs(case)
    once = run_onnxruntime(static.serialize(), inputs)
    thrice = run_onnxruntime(dynamic.serialize(),
                             {n: np.concatenate([v] * 3) for n, v in inputs.items()})
    for name, value in once.items():
        np.testing.assert_array_equal(thrice[name], np.concatenate([value] * 3), err_msg=name)


# --- checks on the cases and the transcriptions themselves -----------------------------------

def test_the_tie_and_duplicate_cases_do_meet_ties_and_duplicates():
    x = ties(np.random.default_rng(11).standard_normal((2, 3, 9, 9))).astype(f32)
    _, mask = caffe_max_pool_with_mask(x, (3, 3), (2, 2))
    planes = mask.reshape(6, -1)
    assert any(len(set(p)) < len(p) for p in planes), "no index is written twice"
    assert sum(int((x[n, c, :3, :3] == x[n, c, :3, :3].max()).sum() > 1)
               for n, c in np.ndindex(2, 3)) > 0, "no window with two equal maxima"


def test_the_pooling_transcription_agrees_with_opencv(tmp_path):
    """The transcription itself checked against OpenCV on the tie and padding inputs."""
    cv2 = pytest.importorskip("cv2")
    x = ties(np.random.default_rng(3).standard_normal((2, 3, 8, 7))).astype(f32) - 1
    for params, kernel, stride, pad in [("kernel_size: 3 stride: 2 pad: 1", 3, 2, 1),
                                        ("kernel_size: 2 stride: 2", 2, 2, 0),
                                        ("kernel_size: 3 stride: 1", 3, 1, 0)]:
        text = ('layer { name: "data" type: "Input" top: "data" input_param { shape { '
                'dim: 2 dim: 3 dim: 8 dim: 7 } } }\n' + pool(params))
        path = tmp_path / "pool.prototxt"
        path.write_text(text)
        net = cv2.dnn.readNetFromCaffe(str(path))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setInput(x, "data")
        top, mask = net.forwardAndRetrieve(["l"])[0]
        expected = caffe_max_pool_with_mask(x, (kernel,) * 2, (stride,) * 2, (pad,) * 2)
        np.testing.assert_array_equal(np.asarray(top), expected[0], err_msg=params)
        np.testing.assert_array_equal(np.asarray(mask), expected[1], err_msg=params)


def test_the_mask_top_is_a_net_output_when_nothing_reads_it(tmp_path):
    _, _, _, exported = export_case(CASES[0], tmp_path)
    outputs = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim]
               for o in exported.to_proto().graph.output}
    assert outputs == {"out": [2, 3, 4, 4], "mask": [2, 3, 4, 4]}
    assert all(o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
               for o in exported.to_proto().graph.output)


def test_shapes_of_the_mask_top_and_of_segnet_upsample():
    net = load_net("segnet.prototxt", text=(
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 '
        'dim: 7 dim: 9 } } }\n' + pool("kernel_size: 2 stride: 2", ("pooled", "mask"), "p")
        + upsample("scale: 2 pad_out_h: true pad_out_w: true", top="a", name="a")
        + upsample("upsample_h: 3 upsample_w: 2", top="b", name="b")))
    shapes = infer_shapes(net.network)
    by_name = {blob.name: tuple(shape) for blob, shape in shapes.blobs.items()}
    assert by_name["pooled"] == by_name["mask"] == (1, 2, 4, 5)
    assert by_name["a"] == (1, 2, 7, 9)  # 4 * 2 - 1, 5 * 2 - 1
    assert by_name["b"] == (1, 2, 3, 2)  # explicit sizes win, even below the input's


def test_the_exported_graph_of_pool_with_mask_and_unpool():
    """Pooling with mask: MaxPool + Mod + Cast; Upsample: Cast + Add + MaxUnpool."""
    net = load_net("s.prototxt", text=(
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 '
        'dim: 4 dim: 4 } } }\n' + POOL_FIRST + upsample("scale: 2")))
    ops = [n.op_type for n in export_onnx(net).to_proto().graph.node]
    assert ops == ["MaxPool", "Mod", "Cast", "Cast", "Add", "MaxUnpool"]
