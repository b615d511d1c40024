"""Fork layers (SSD, PSPNet, SegNet, Fast R-CNN, R-FCN, ShuffleNet, SENet, MobileNet forks).

Expected numbers are worked out by hand from the forks' Reshape()/LayerSetUp() (arithmetic in the
comments).  A case whose fields our schema does not have yet is an expected failure, not a skip.
"""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from prototxt_tools.lint import lint_source
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.shapes import LayerShapeError, ShapeUnknown, infer_layer, infer_net

from conftest import CORPUS, corpus_available


def fork_layer(text: str, bottoms: int = 1, tops: int = 1) -> caffe_pb2.LayerParameter:
    try:
        msg = text_format.Parse(text, caffe_pb2.LayerParameter())
    except text_format.ParseError as exc:
        pytest.xfail(f"schema lacks a fork field: {exc}")
    if not msg.bottom:
        msg.bottom.extend(f"in{i}" for i in range(bottoms))
    if not msg.top:
        msg.top.extend(f"out{i}" for i in range(tops))
    return msg


def run(text: str, *bottoms, n_tops: int = 1):
    return infer_layer(fork_layer(text, len(bottoms), n_tops), bottoms)


# SSD300 heads: (feature map, min_size, max_size, aspect ratios) -- Liu et al.'s 8732 boxes.
SSD300 = [((1, 512, 38, 38), 30, 60, [2]), ((1, 1024, 19, 19), 60, 111, [2, 3]),
          ((1, 512, 10, 10), 111, 162, [2, 3]), ((1, 256, 5, 5), 162, 213, [2, 3]),
          ((1, 256, 3, 3), 213, 264, [2]), ((1, 256, 1, 1), 264, 315, [2])]


def _prior_box(feature, min_size, max_size, ratios, flip=True):
    text = (f'type: "PriorBox" prior_box_param {{ min_size: {min_size} max_size: {max_size} '
            + " ".join(f"aspect_ratio: {r}" for r in ratios)
            + f' flip: {"true" if flip else "false"} variance: 0.1 variance: 0.1 variance: 0.2 '
            f'variance: 0.2 }}')
    return run(text, feature, (1, 3, 300, 300))


def test_prior_box_ssd300_counts():
    # conv4_3: ratios {1, 2, 1/2} + one max_size prior = 4 per cell; 38 * 38 * 4 * 4 = 23104
    assert _prior_box(*SSD300[0]).tops == [(1, 2, 23104)]
    # fc7: {1, 2, 1/2, 3, 1/3} + 1 = 6; 19 * 19 * 6 * 4 = 8664
    assert _prior_box(*SSD300[1]).tops == [(1, 2, 8664)]
    # all heads: 5776 + 2166 + 600 + 150 + 36 + 4 = 8732 boxes, 4 numbers each
    total = sum(_prior_box(*head).tops[0][2] for head in SSD300)
    assert total == 8732 * 4


def test_prior_box_ratio_dedup_and_flip():
    # ratios 2 and 0.5 with flip: 0.5 already came from flipping 2 -> {1, 2, 0.5} = 3 priors
    one = run('type: "PriorBox" prior_box_param { min_size: 30 aspect_ratio: 2 '
              'aspect_ratio: 0.5 }', (1, 8, 2, 2), (1, 3, 300, 300))
    assert one.tops == [(1, 2, 2 * 2 * 3 * 4)]
    # no flip: {1, 2, 3} = 3 priors
    two = run('type: "PriorBox" prior_box_param { min_size: 30 aspect_ratio: 2 aspect_ratio: 3 '
              'flip: false }', (1, 8, 2, 2), (1, 3, 300, 300))
    assert two.tops == [(1, 2, 2 * 2 * 3 * 4)]
    with pytest.raises(LayerShapeError) as info:
        run('type: "PriorBox" prior_box_param { min_size: 60 max_size: 30 }', (1, 8, 2, 2),
            (1, 3, 300, 300))
    assert info.value.code == "invalid-param"


def test_detection_output_is_unknown_until_forward():
    # 8732 priors, 21 classes: loc 8732 * 4 = 34928, conf 8732 * 21 = 183372
    text = 'type: "DetectionOutput" detection_output_param { num_classes: 21 }'
    with pytest.raises(ShapeUnknown) as info:
        run(text, (1, 34928), (1, 183372), (1, 2, 34928))
    assert info.value.partial == [(1, 1, None, 7)]
    with pytest.raises(LayerShapeError) as bad:
        run(text, (1, 34928), (1, 183371), (1, 2, 34928))
    assert bad.value.code == "count-mismatch"


def test_permute_and_normalize():
    # order 0, 2, 3, 1: NCHW -> NHWC
    assert run('type: "Permute" permute_param { order: 0 order: 2 order: 3 order: 1 }',
               (1, 12, 19, 19)).tops == [(1, 19, 19, 12)]
    # only order 0, 2 given: the rest (1, 3) follow in order
    assert run('type: "Permute" permute_param { order: 0 order: 2 }', (2, 3, 4, 5)).tops == \
        [(2, 4, 3, 5)]
    norm = run('type: "Normalize" norm_param { across_spatial: false channel_shared: false }',
               (1, 512, 38, 38))
    assert (norm.tops, norm.params) == ([(1, 512, 38, 38)], [(512,)])


@pytest.mark.parametrize("param,bottoms,expected", [
    # PSPNet final zoom: 60 + (60 - 1) * (8 - 1) = 473
    ("zoom_factor: 8", [(1, 150, 60, 60)], (1, 150, 473, 473)),
    # shrink: (473 - 1) / 8 + 1 = 60
    ("shrink_factor: 8", [(1, 3, 473, 473)], (1, 3, 60, 60)),
    # shrink then zoom: (473 - 1) / 8 + 1 = 60, then 60 + 59 * 1 = 119
    ("shrink_factor: 8 zoom_factor: 2", [(1, 3, 473, 473)], (1, 3, 119, 119)),
    # crop by pad_beg/pad_end: 65 - 2 - 2 = 61; zoom 2: 61 + 60 = 121
    ("zoom_factor: 2 pad_beg: -2 pad_end: -2", [(1, 3, 65, 65)], (1, 3, 121, 121)),
    ("height: 60 width: 80", [(1, 512, 30, 40)], (1, 512, 60, 80)),
    ("", [(1, 512, 30, 40), (1, 3, 97, 101)], (1, 512, 97, 101)),
])
def test_interp(param, bottoms, expected):
    assert run(f'type: "Interp" interp_param {{ {param} }}', *bottoms).tops == [expected]


def test_upsample_segnet_and_yolo():
    # SegNet: scale 2 with the pooling mask: 15 * 2, 20 * 2
    assert run('type: "Upsample" upsample_param { scale: 2 }', (1, 64, 15, 20),
               (1, 64, 15, 20)).tops == [(1, 64, 30, 40)]
    assert run('type: "Upsample" upsample_param { upsample_h: 45 upsample_w: 60 }',
               (1, 64, 23, 30), (1, 64, 23, 30)).tops == [(1, 64, 45, 60)]
    # pad_out_h with scale 2: 23 * 2 - 1 = 45
    assert run('type: "Upsample" upsample_param { scale: 2 pad_out_h: true }', (1, 8, 23, 30),
               (1, 8, 23, 30)).tops == [(1, 8, 45, 60)]
    # YOLOv3 route: one bottom, nearest neighbour x2
    assert run('type: "Upsample" upsample_param { scale: 2 }', (1, 256, 13, 13)).tops == \
        [(1, 256, 26, 26)]


def test_roi_pooling():
    # 300 ROIs, 512 channels, 7x7 bins
    assert run('type: "ROIPooling" roi_pooling_param { pooled_h: 7 pooled_w: 7 '
               'spatial_scale: 0.0625 }', (1, 512, 38, 50), (300, 5)).tops == \
        [(300, 512, 7, 7)]
    with pytest.raises(LayerShapeError) as info:  # ROIs must be (R, 5): batch index + box
        run('type: "ROIPooling" roi_pooling_param { pooled_h: 7 pooled_w: 7 }',
            (1, 512, 38, 50), (300, 4))
    assert info.value.code == "shape-mismatch"


def test_psroi_pooling():
    # R-FCN: 21 classes x 7 x 7 position-sensitive maps = 1029 channels
    assert run('type: "PSROIPooling" psroi_pooling_param { spatial_scale: 0.0625 '
               'output_dim: 21 group_size: 7 }', (1, 1029, 38, 50), (300, 5)).tops == \
        [(300, 21, 7, 7)]


def test_shuffle_channel_axpy_relu6():
    assert run('type: "ShuffleChannel" shuffle_channel_param { group: 3 }',
               (1, 240, 28, 28)).tops == [(1, 240, 28, 28)]
    with pytest.raises(LayerShapeError) as info:
        run('type: "ShuffleChannel" shuffle_channel_param { group: 7 }', (1, 240, 28, 28))
    assert info.value.code == "group-mismatch"  # 240 % 7 = 2
    assert run('type: "Axpy"', (1, 64, 1, 1), (1, 64, 56, 56), (1, 64, 56, 56)).tops == \
        [(1, 64, 56, 56)]
    assert run('type: "ReLU6"', (1, 32, 112, 112)).tops == [(1, 32, 112, 112)]


REORG = 'type: "Reorg" reorg_param { %s }'


def test_reorg_shapes():
    # YOLOv2's passthrough: 26x26x64 -> 13x13x(64 * 2 * 2)
    assert run(REORG % "stride: 2", (1, 64, 26, 26)).tops == [(1, 256, 13, 13)]
    # reverse: 256 / (2 * 2) = 64 channels, 13 * 2 = 26; a 2-D bottom reads as (N, C, 1, 1)
    assert run(REORG % "stride: 2 reverse: true", (1, 256, 13, 13)).tops == [(1, 64, 26, 26)]
    assert run(REORG % "stride: 3 reverse: true", (2, 18)).tops == [(2, 2, 3, 3)]
    assert run(REORG % "stride: 1", (1, 5, 7, 7)).tops == [(1, 5, 7, 7)]


@pytest.mark.parametrize("params, bottom, code, field, words", [
    ("stride: 2", (1, 64, 13, 26), "stride-mismatch", ("reorg_param", "stride"), "height 13"),
    ("stride: 2", (1, 64, 26, 13), "stride-mismatch", ("reorg_param", "stride"), "width 13"),
    ("stride: 2", (1, 6, 26, 26), "stride-mismatch", ("reorg_param", "stride"), "channels 6"),
    # reverse needs C / s^2 whole; height 13 is fine (it grows to 39)
    ("stride: 3 reverse: true", (1, 64, 13, 13), "stride-mismatch", ("reorg_param", "stride"),
     "channels 64 is not a multiple of 9"),
    ("stride: 0", (1, 4, 4, 4), "invalid-param", ("reorg_param", "stride"), "stride"),
    ("reverse: true", (1, 4, 4, 4), "missing-param", ("reorg_param",), "needs stride"),
])
def test_reorg_refusals(params, bottom, code, field, words):
    with pytest.raises(LayerShapeError) as info:
        run(REORG % params, bottom)
    assert (info.value.code, info.value.field) == (code, field)
    assert words in str(info.value)


def test_reorg_in_place_and_error_positions():
    with pytest.raises(LayerShapeError) as info:
        infer_layer(fork_layer('type: "Reorg" bottom: "x" top: "x" reorg_param { stride: 2 }'),
                    [(1, 4, 2, 2)])
    assert info.value.code == "in-place-not-allowed"
    text = """layer { name: "data" type: "Input" top: "data"
  input_param { shape { dim: 1 dim: 64 dim: 13 dim: 13 } } }
layer { name: "reorg" type: "Reorg" bottom: "data" top: "reorg"
  reorg_param {
    stride: 2 } }
layer { name: "back" type: "Reorg" bottom: "data" top: "back" reorg_param { reverse: true } }
"""
    found = lint_source("yolo.prototxt", frozenset({"E210", "E299"}), text=text)
    assert [(d.code, d.line, d.col) for d in found] == [("E299", 5, 5), ("E210", 6, 63)]


def test_bn_flavours():
    # PSPNet: slope, bias, mean, variance, each (1, C, 1, 1)
    assert run('type: "BN" bn_param { frozen: true }', (1, 64, 8, 8)).params == \
        [(1, 64, 1, 1)] * 4
    # SegNet: scale, shift
    assert run('type: "BN" bn_param { bn_mode: INFERENCE }', (1, 64, 8, 8)).params == \
        [(1, 64, 1, 1)] * 2
    assert run('type: "BN"', (1, 64, 8, 8)).params is None


def test_depthwise_forks():
    # ConvolutionDepthwise ignores num_output: (112 + 2 - 3) / 2 + 1 = 56, weights (C, 1, 3, 3)
    dw = run('type: "ConvolutionDepthwise" convolution_param { num_output: 32 kernel_size: 3 '
             'stride: 2 pad: 1 }', (1, 32, 112, 112))
    assert (dw.tops, dw.params) == ([(1, 32, 56, 56)], [(32, 1, 3, 3), (32,)])
    assert dw.macs == 32 * 56 * 56 * 9
    # DepthwiseConvolution subclasses Convolution: (num_output, C / group, k, k) = (64, 1, 3, 3)
    assert run('type: "DepthwiseConvolution" convolution_param { num_output: 64 group: 32 '
               'kernel_size: 3 pad: 1 bias_term: false }', (1, 32, 56, 56)).params == \
        [(64, 1, 3, 3)]


def _corpus_net(relpath: str) -> caffe_pb2.NetParameter:
    if not corpus_available():
        pytest.skip("corpus absent")
    try:
        return text_format.Parse((CORPUS / relpath).read_text(), caffe_pb2.NetParameter())
    except text_format.ParseError as exc:
        pytest.xfail(f"schema lacks a fork field: {exc}")


def test_wechat_ssd_detector_priors_match_heads():
    # DetectionOutput CHECKs priors * 4 == loc channels and priors * classes == conf channels:
    # passing them ties every PriorBox count to its Convolution head.
    net = _corpus_net("opencv_opencv_contrib/modules/wechat_qrcode/samples/detect.prototxt")
    result = infer_net(list(net.layer), {})
    last = result.layers[-1]
    assert last.type == "DetectionOutput" and last.unknown.partial == [(1, 1, None, 7)]
    assert all(r.shapes is not None for r in result.layers[:-1])


def test_opencv_only_prior_box_fields_are_rejected():
    # textbox.prototxt uses OpenCV's offset_h/offset_w, which no Caffe fork parses
    net = _corpus_net("opencv_opencv_contrib/modules/text/samples/textbox.prototxt")
    inputs = {"data": tuple(net.input_shape[0].dim)}
    result = infer_net(list(net.layer), inputs, stop_on_error=False)
    assert {e.code for e in result.errors} == {"not-caffe-field"}
