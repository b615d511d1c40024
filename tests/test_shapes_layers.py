"""Per-layer shape rules against hand-computed numbers (the arithmetic is in the comments)."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from prototxt_tools.errors import ShapeError
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.shapes import (SHAPE_RULES, LayerShapeError, ShapeUnknown, coverage_markdown,
                                   infer_layer, infer_net, infer_net_shapes, shape_rule)


def layer(text: str, bottoms: int = 1, tops: int = 1) -> caffe_pb2.LayerParameter:
    """A LayerParameter from text, with generic bottom/top names unless the text names them."""
    msg = text_format.Parse(text, caffe_pb2.LayerParameter())
    if not msg.bottom:
        msg.bottom.extend(f"in{i}" for i in range(bottoms))
    if not msg.top:
        msg.top.extend(f"out{i}" for i in range(tops))
    if not msg.name:
        msg.name = msg.type.lower()
    return msg


def tops(text: str, *bottoms, n_tops: int = 1):
    return infer_layer(layer(text, len(bottoms), n_tops), bottoms).tops


def error_code(text: str, *bottoms, n_tops: int = 1) -> LayerShapeError:
    with pytest.raises(LayerShapeError) as info:
        infer_layer(layer(text, len(bottoms), n_tops), bottoms)
    return info.value


# --- convolution -------------------------------------------------------------------------------

def test_conv_kernel_larger_than_input_stride_1():
    # (6 + 0 - 7) / 1 + 1 = -1 + 1 = 0: no output
    err = error_code('type: "Convolution" convolution_param { num_output: 8 kernel_size: 7 }',
                     (1, 256, 6, 6))
    assert err.code == "kernel-larger-than-input"
    assert err.field == ("convolution_param", "kernel_size", 0)
    assert isinstance(err, ShapeError)


def test_conv_kernel_larger_than_input_stride_2_truncates_to_one():
    # C: (6 - 7) / 2 = 0 (truncation toward zero, a floor would give -1), + 1 = 1
    result = infer_layer(layer('type: "Convolution" convolution_param { num_output: 8 '
                               'kernel_size: 7 stride: 2 }'), [(1, 256, 6, 6)])
    assert result.tops == [(1, 8, 1, 1)]
    assert any("truncating" in note for note in result.notes)


def test_mobilenet_5x5_conv_weights_and_macs():
    # weights 32 * 192 * 5 * 5 = 153,600; MACs 32 * 28 * 28 * 192 * 25 = 120,422,400
    result = infer_layer(layer('type: "Convolution" convolution_param { num_output: 32 '
                               'kernel_size: 5 pad: 2 }'), [(1, 192, 28, 28)])
    assert result.tops == [(1, 32, 28, 28)]
    assert result.params == [(32, 192, 5, 5), (32,)]
    assert 32 * 192 * 5 * 5 == 153_600
    assert result.macs == 120_422_400


def _weights(text: str, bottom: tuple) -> int:
    weights = infer_layer(layer(text), [bottom]).params[0]
    total = 1
    for d in weights:
        total *= d
    return total


@pytest.mark.parametrize("multiplier,expected", [
    (1, 10_944),  # depthwise 192 * 1 * 5 * 5 = 4,800 + pointwise 32 * 192 = 6,144
    (4, 43_776),  # depthwise 768 * 1 * 5 * 5 = 19,200 + pointwise 32 * 768 = 24,576
])
def test_depthwise_separable_weights(multiplier, expected):
    channels = 192 * multiplier
    dw = _weights(f'type: "Convolution" convolution_param {{ num_output: {channels} '
                  f'kernel_size: 5 pad: 2 group: 192 bias_term: false }}', (1, 192, 28, 28))
    pw = _weights(f'type: "Convolution" convolution_param {{ num_output: 32 kernel_size: 1 '
                  f'bias_term: false }}', (1, channels, 28, 28))
    assert dw + pw == expected


def test_conv_nd_and_dilation():
    # 3 spatial axes, pad per axis: (5+0-3)+1 = 3, (6+2-3)+1 = 6, (7+4-3)+1 = 9
    result = infer_layer(layer('type: "Convolution" convolution_param { num_output: 4 '
                               'kernel_size: 3 pad: 0 pad: 1 pad: 2 }'), [(1, 2, 5, 6, 7)])
    assert result.tops == [(1, 4, 3, 6, 9)]
    assert result.params == [(4, 2, 3, 3, 3), (4,)]
    # dilation 2: extent 2 * (3 - 1) + 1 = 5; (10 - 5) / 1 + 1 = 6
    assert tops('type: "Convolution" convolution_param { num_output: 1 kernel_size: 3 '
                'dilation: 2 }', (1, 1, 10, 10)) == [(1, 1, 6, 6)]


def test_conv_group_and_axis_checks():
    assert error_code('type: "Convolution" convolution_param { num_output: 8 kernel_size: 1 '
                      'group: 3 }', (1, 4, 5, 5)).code == "group-mismatch"
    assert error_code('type: "Convolution" convolution_param { num_output: 8 kernel_size: 1 '
                      'kernel_size: 1 kernel_size: 1 }', (1, 4, 5, 5)).code == "invalid-param"
    assert error_code('type: "Convolution" convolution_param { num_output: 8 kernel_size: 3 '
                      'kernel_h: 3 kernel_w: 3 }', (1, 4, 5, 5)).code == "conflicting-params"


def test_deconvolution_fcn_upscore():
    # 2 * (16 - 1) + 4 - 2 * 0 = 34; weights (C_in, num_output / group, 4, 4)
    result = infer_layer(layer('type: "Deconvolution" convolution_param { num_output: 21 '
                               'kernel_size: 4 stride: 2 bias_term: false }'), [(1, 21, 16, 16)])
    assert result.tops == [(1, 21, 34, 34)]
    assert result.params == [(21, 21, 4, 4)]
    grouped = infer_layer(layer('type: "Deconvolution" convolution_param { num_output: 42 '
                                'kernel_size: 4 stride: 2 group: 21 }'), [(1, 21, 16, 16)])
    assert grouped.params == [(21, 2, 4, 4), (42,)]


def test_im2col():
    # channels 3 * 3 * 3 = 27; (8 - 3) / 1 + 1 = 6
    assert tops('type: "Im2col" convolution_param { kernel_size: 3 }', (1, 3, 8, 8)) == \
        [(1, 27, 6, 6)]


# --- pooling -----------------------------------------------------------------------------------

@pytest.mark.parametrize("param,size,expected", [
    # AlexNet pool5: ceil((13 - 3) / 2) + 1 = 5 + 1 = 6
    ("kernel_size: 3 stride: 2", 13, 6),
    # ceil((6 - 3) / 2) + 1 = ceil(1.5) + 1 = 3 (floor would give 2)
    ("kernel_size: 3 stride: 2", 6, 3),
    # FLOOR round mode: floor(1.5) + 1 = 2
    ("kernel_size: 3 stride: 2 round_mode: FLOOR", 6, 2),
    # pad 1: ceil((6 + 2 - 3) / 2) + 1 = 4; (4 - 1) * 2 = 6 < 6 + 1, kept
    ("kernel_size: 3 stride: 2 pad: 1", 6, 4),
    # pad 1: ceil((5 + 2 - 2) / 2) + 1 = 4; (4 - 1) * 2 = 6 >= 5 + 1: last window clipped, 3
    ("kernel_size: 2 stride: 2 pad: 1", 5, 3),
    # GoogLeNet pool1: ceil((112 - 3) / 2) + 1 = ceil(54.5) + 1 = 56
    ("kernel_size: 3 stride: 2", 112, 56),
])
def test_pooling_sizes(param, size, expected):
    assert tops(f'type: "Pooling" pooling_param {{ pool: MAX {param} }}',
                (2, 16, size, size)) == [(2, 16, expected, expected)]


def test_pooling_global_and_errors():
    assert tops('type: "Pooling" pooling_param { pool: AVE global_pooling: true }',
                (1, 1024, 7, 7)) == [(1, 1024, 1, 1)]
    assert error_code('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 pad: 2 }',
                      (1, 1, 8, 8)).code == "pad-not-less-than-kernel"
    # ceil((6 - 7) / 1) + 1 = -1 + 1 = 0
    assert error_code('type: "Pooling" pooling_param { pool: MAX kernel_size: 7 }',
                      (1, 1, 6, 6)).code == "kernel-larger-than-input"
    assert error_code('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 }',
                      (1, 8, 8)).code == "wrong-axes"
    assert error_code('type: "Pooling" pooling_param { pool: AVE kernel_size: 2 }',
                      (1, 1, 8, 8), n_tops=2).code == "bad-blob-count"


def test_spp_pyramid():
    # 13x13, 3 levels: 1x1; kernel 7 pad 1 -> ceil(8/7)+1 = 3, clipped to 2 -> 2x2;
    # kernel 4 pad 2 -> ceil(13/4)+1 = 5, clipped to 4 -> 4x4; (1 + 4 + 16) * 256 = 5376
    assert tops('type: "SPP" spp_param { pyramid_height: 3 pool: MAX }', (1, 256, 13, 13)) == \
        [(1, 5376)]
    assert tops('type: "SPP" spp_param { pyramid_height: 1 }', (1, 256, 13, 13)) == \
        [(1, 256, 1, 1)]


# --- dense -------------------------------------------------------------------------------------

def test_inner_product_axis_and_transpose():
    # axis 2 on (2, 3, 4, 5): K = 4 * 5 = 20, top (2, 3, 10); MACs 2 * 3 * 20 * 10 = 1200
    result = infer_layer(layer('type: "InnerProduct" inner_product_param { num_output: 10 '
                               'axis: 2 }'), [(2, 3, 4, 5)])
    assert (result.tops, result.params, result.macs) == ([(2, 3, 10)], [(10, 20), (10,)], 1200)
    transposed = infer_layer(layer('type: "InnerProduct" inner_product_param { num_output: 10 '
                                   'transpose: true bias_term: false }'), [(2, 3, 4, 5)])
    assert transposed.params == [(60, 10)]


def test_embed_and_recurrent():
    result = infer_layer(layer('type: "Embed" embed_param { num_output: 16 input_dim: 100 }'),
                         [(4, 7)])
    assert (result.tops, result.params) == ([(4, 7, 16)], [(100, 16), (16,)])
    # LSTM: gates 4 * 4 = 16; W_xc (16, 5), b_c (16,), W_hc (16, 4)
    lstm = infer_layer(layer('type: "LSTM" recurrent_param { num_output: 4 }', 2),
                       [(3, 2, 5), (3, 2)])
    assert (lstm.tops, lstm.params) == ([(3, 2, 4)], [(16, 5), (16,), (16, 4)])


# --- structure ---------------------------------------------------------------------------------

@pytest.mark.parametrize("param,expected", [
    ("shape { dim: 0 dim: -1 }", (2, 60)),                     # 120 / 2 = 60
    ("shape { dim: -1 } axis: 1 num_axes: 2", (2, 12, 5)),     # 3 * 4 = 12 replaced
    ("shape { dim: 1 dim: 1 } axis: -1 num_axes: 0", (2, 3, 4, 5, 1, 1)),  # appended axes
])
def test_reshape(param, expected):
    assert tops(f'type: "Reshape" reshape_param {{ {param} }}', (2, 3, 4, 5)) == [expected]


def test_reshape_errors():
    assert error_code('type: "Reshape" reshape_param { shape { dim: 7 dim: -1 } }',
                      (2, 3, 4, 5)).code == "count-mismatch"  # 120 % 7 != 0
    in_place = layer('type: "Reshape" bottom: "x" top: "x" reshape_param { shape { dim: -1 } }')
    with pytest.raises(LayerShapeError) as info:
        infer_layer(in_place, [(2, 3)])
    assert info.value.code == "in-place-not-allowed"


def test_flatten_crop_tile():
    assert tops('type: "Flatten" flatten_param { axis: 1 end_axis: 2 }', (2, 3, 4, 5)) == \
        [(2, 12, 5)]
    # offset 5: 44 - 5 = 39 >= 32
    assert tops('type: "Crop" crop_param { axis: 2 offset: 5 }', (1, 21, 44, 44),
                (1, 3, 32, 32)) == [(1, 21, 32, 32)]
    # offset 13: 44 - 13 = 31 < 32
    err = error_code('type: "Crop" crop_param { axis: 2 offset: 13 }', (1, 21, 44, 44),
                     (1, 3, 32, 32))
    assert (err.code, err.field) == ("crop-out-of-bounds", ("crop_param", "offset", 0))
    assert tops('type: "Tile" tile_param { axis: 1 tiles: 3 }', (2, 4)) == [(2, 12)]


def test_slice_and_concat():
    # slice points 1, 3 on 5 channels: 1, 2, 2
    assert tops('type: "Slice" slice_param { axis: 1 slice_point: 1 slice_point: 3 }',
                (2, 5, 3), n_tops=3) == [(2, 1, 3), (2, 2, 3), (2, 2, 3)]
    assert tops('type: "Slice" slice_param { slice_dim: 0 }', (6, 5), n_tops=3) == [(2, 5)] * 3
    assert error_code('type: "Slice" slice_param { axis: 1 }', (2, 5), n_tops=2).code == \
        "count-mismatch"
    assert tops('type: "Concat" concat_param { concat_dim: 0 }', (2, 5), (3, 5)) == [(5, 5)]
    assert tops('type: "Concat"', (2, 5, 7), (2, 3, 7)) == [(2, 8, 7)]
    assert error_code('type: "Concat"', (2, 5, 7), (2, 3, 6)).code == "shape-mismatch"


# --- shape-preserving --------------------------------------------------------------------------

def test_batchnorm_scale_bias_prelu_params():
    assert infer_layer(layer('type: "BatchNorm"'), [(1, 64, 8, 8)]).params == \
        [(64,), (64,), (1,)]
    assert infer_layer(layer('type: "Scale" scale_param { bias_term: true }'),
                       [(1, 64, 8, 8)]).params == [(64,), (64,)]
    # two-bottom Scale: the scale is bottom[1]; only the bias is learned, shaped like bottom[1]
    two = infer_layer(layer('type: "Scale" scale_param { axis: 0 bias_term: true }', 2),
                      [(2, 3, 4), (2, 3)])
    assert (two.tops, two.params) == ([(2, 3, 4)], [(2, 3)])
    assert error_code('type: "Scale"', (2, 3, 4), (4,)).code == "shape-mismatch"
    assert infer_layer(layer('type: "Bias" bias_param { axis: 1 num_axes: 2 }'),
                       [(2, 3, 4, 5)]).params == [(3, 4)]
    assert infer_layer(layer('type: "PReLU"'), [(1, 10, 12, 12)]).params == [(10,)]
    assert infer_layer(layer('type: "PReLU" prelu_param { channel_shared: true }'),
                       [(1, 10, 12, 12)]).params == [()]


def test_eltwise_lrn_neurons():
    assert error_code('type: "Eltwise"', (1, 3, 4, 4), (1, 3, 4, 5)).code == "shape-mismatch"
    assert error_code('type: "Eltwise" eltwise_param { operation: PROD coeff: 1 coeff: 2 }',
                      (2, 2), (2, 2)).code == "invalid-param"
    assert error_code('type: "LRN" lrn_param { local_size: 4 }', (1, 3, 4, 4)).code == \
        "invalid-param"
    assert tops('type: "ReLU" relu_param { negative_slope: 0.1 }', (3, 7)) == [(3, 7)]
    assert error_code('type: "AbsVal" bottom: "x" top: "x"', (3, 7)).code == \
        "in-place-not-allowed"


# --- reductions and losses ---------------------------------------------------------------------

def test_argmax_softmax_reduction():
    assert tops('type: "ArgMax" argmax_param { top_k: 5 }', (8, 1000)) == [(8, 1, 5)]
    assert tops('type: "ArgMax" argmax_param { top_k: 5 out_max_val: true }', (8, 1000)) == \
        [(8, 2, 5)]
    assert tops('type: "ArgMax" argmax_param { axis: 1 }', (8, 21, 5, 5)) == [(8, 1, 5, 5)]
    assert tops('type: "Softmax" softmax_param { axis: -1 }', (8, 10)) == [(8, 10)]
    assert tops('type: "Reduction"', (8, 10)) == [()]  # default axis 0 reduces everything
    assert tops('type: "Reduction" reduction_param { axis: 1 }', (8, 10, 3)) == [(8,)]


def test_losses_and_accuracy():
    assert tops('type: "SoftmaxWithLoss"', (8, 10), (8,)) == [()]
    assert tops('type: "SoftmaxWithLoss"', (8, 10), (8,), n_tops=2) == [(), (8, 10)]
    # a loss without tops still gets one (Caffe's AutoTopBlobs)
    auto = layer('type: "EuclideanLoss"', 2, 0)
    assert infer_layer(auto, [(4, 3), (4, 3)]).tops == [()]
    # (8, 10, 5) with class axis 1 has 8 * 5 = 40 predictions, the label 8
    assert error_code('type: "SoftmaxWithLoss"', (8, 10, 5), (8,)).code == "count-mismatch"
    assert tops('type: "Accuracy" accuracy_param { top_k: 5 }', (8, 10), (8,), n_tops=2) == \
        [(), (10,)]


# --- data layers -------------------------------------------------------------------------------

def test_input_and_dummy_data():
    assert tops('type: "Input" input_param { shape { dim: 1 dim: 3 dim: 227 dim: 227 } }') == \
        [(1, 3, 227, 227)]
    assert tops('type: "DummyData" dummy_data_param { num: 2 channels: 3 height: 4 width: 5 }') \
        == [(2, 3, 4, 5)]
    assert tops('type: "MemoryData" memory_data_param { batch_size: 4 channels: 1 height: 28 '
                'width: 28 }', n_tops=2) == [(4, 1, 28, 28), (4,)]


def test_data_layers_unknown_but_partial():
    with pytest.raises(ShapeUnknown) as info:
        infer_layer(layer('type: "Data" data_param { batch_size: 64 } '
                          'transform_param { crop_size: 227 }', 0, 2), [])
    assert info.value.partial == [(64, None, 227, 227), (64,)]
    # ImageData with a crop is known: is_color -> 3 channels
    assert tops('type: "ImageData" image_data_param { batch_size: 10 new_height: 256 '
                'new_width: 256 } transform_param { crop_size: 227 }', n_tops=2) == \
        [(10, 3, 227, 227), (10,)]
    with pytest.raises(ShapeUnknown):
        infer_layer(layer('type: "Python" python_param { module: "m" layer: "L" }', 1), [(1,)])
    with pytest.raises(ShapeUnknown) as info:
        infer_layer(layer('type: "NoSuchLayer"'), [(1,)])
    assert info.value.code == "unsupported-type"


# --- blob limits and the driver ----------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2**16, 2**16, 2), (2**31,)])
def test_blob_too_large(shape):
    # 2^16 * 2^16 * 2 = 2^33 > INT_MAX; a single 2^31 > INT_MAX
    err = error_code('type: "ReLU"', shape)
    assert err.code == "blob-too-large"


def _alexnet_layers() -> list:
    spec = [
        # 227: (227 - 11) / 4 + 1 = 55
        'name: "conv1" type: "Convolution" bottom: "data" top: "conv1" '
        'convolution_param { num_output: 96 kernel_size: 11 stride: 4 }',
        'name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1"',
        # ceil((55 - 3) / 2) + 1 = 27
        'name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" '
        'pooling_param { pool: MAX kernel_size: 3 stride: 2 }',
        # (27 + 4 - 5) / 1 + 1 = 27
        'name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2" '
        'convolution_param { num_output: 256 pad: 2 kernel_size: 5 group: 2 }',
        # ceil((27 - 3) / 2) + 1 = 13
        'name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2" '
        'pooling_param { pool: MAX kernel_size: 3 stride: 2 }',
        'name: "conv3" type: "Convolution" bottom: "pool2" top: "conv3" '
        'convolution_param { num_output: 384 pad: 1 kernel_size: 3 }',
        'name: "conv4" type: "Convolution" bottom: "conv3" top: "conv4" '
        'convolution_param { num_output: 384 pad: 1 kernel_size: 3 group: 2 }',
        'name: "conv5" type: "Convolution" bottom: "conv4" top: "conv5" '
        'convolution_param { num_output: 256 pad: 1 kernel_size: 3 group: 2 }',
        # ceil((13 - 3) / 2) + 1 = 6
        'name: "pool5" type: "Pooling" bottom: "conv5" top: "pool5" '
        'pooling_param { pool: MAX kernel_size: 3 stride: 2 }',
    ]
    return [text_format.Parse(t, caffe_pb2.LayerParameter()) for t in spec]


def test_alexnet_pool5_is_6x6_and_fc6_kernel_7_fails():
    blobs = infer_net_shapes(_alexnet_layers(), {"data": (1, 3, 227, 227)})
    assert blobs["conv1"] == (1, 96, 55, 55)  # in-place relu1 keeps the shape
    assert blobs["pool5"] == (1, 256, 6, 6)
    fc6 = text_format.Parse('name: "fc6-conv" type: "Convolution" bottom: "pool5" top: "fc6" '
                            'convolution_param { num_output: 4096 kernel_size: 7 }',
                            caffe_pb2.LayerParameter())
    with pytest.raises(LayerShapeError) as info:
        infer_net_shapes(_alexnet_layers() + [fc6], {"data": (1, 3, 227, 227)})
    assert info.value.code == "kernel-larger-than-input"
    assert (info.value.layer_index, info.value.layer_name) == (9, "fc6-conv")


def _vgg16_fully_conv() -> list:
    texts, bottom, n = [], "data", 0
    for block, (convs, channels) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]):
        for _ in range(convs):
            n += 1
            texts.append(f'name: "conv{n}" type: "Convolution" bottom: "{bottom}" top: "conv{n}"'
                         f' convolution_param {{ num_output: {channels} pad: 1 kernel_size: 3 }}')
            texts.append(f'name: "relu{n}" type: "ReLU" bottom: "conv{n}" top: "conv{n}"')
            bottom = f"conv{n}"
        texts.append(f'name: "pool{block + 1}" type: "Pooling" bottom: "{bottom}" '
                     f'top: "pool{block + 1}" pooling_param {{ pool: MAX kernel_size: 2 '
                     f'stride: 2 }}')
        bottom = f"pool{block + 1}"
    texts += [
        'name: "fc6" type: "Convolution" bottom: "pool5" top: "fc6" '
        'convolution_param { num_output: 4096 kernel_size: 7 }',
        'name: "fc7" type: "Convolution" bottom: "fc6" top: "fc7" '
        'convolution_param { num_output: 4096 kernel_size: 1 }',
        'name: "fc8" type: "Convolution" bottom: "fc7" top: "fc8" '
        'convolution_param { num_output: 1000 kernel_size: 1 }',
    ]
    return [text_format.Parse(t, caffe_pb2.LayerParameter()) for t in texts]


def test_vgg16_fully_convolutional_at_384():
    # 384 / 2^5 = 12 after pool5; fc6 as a 7x7 conv: 12 - 7 + 1 = 6
    blobs = infer_net_shapes(_vgg16_fully_conv(), {"data": (1, 3, 384, 384)})
    assert blobs["pool5"] == (1, 512, 12, 12)
    assert blobs["fc8"] == (1, 1000, 6, 6)


def test_driver_collects_errors_and_unknowns():
    layers = [text_format.Parse(t, caffe_pb2.LayerParameter()) for t in [
        'name: "py" type: "Python" bottom: "data" top: "a" python_param { module: "m" }',
        'name: "relu" type: "ReLU" bottom: "a" top: "b"',
        'name: "bad" type: "Convolution" bottom: "data" top: "c" '
        'convolution_param { num_output: 1 kernel_size: 9 }',
        'name: "after" type: "ReLU" bottom: "c" top: "d"',
    ]]
    net = infer_net(layers, {"data": (1, 1, 4, 4)}, stop_on_error=False)
    assert net.blobs == {"data": (1, 1, 4, 4), "a": None, "b": None, "c": None, "d": None}
    assert [e.code for e in net.errors] == ["kernel-larger-than-input"]
    assert net.layers[1].unknown.code == "unknown-input"
    undefined = text_format.Parse('name: "x" type: "ReLU" bottom: "nope" top: "y"',
                                  caffe_pb2.LayerParameter())
    with pytest.raises(LayerShapeError) as info:
        infer_net_shapes([undefined], {})
    assert (info.value.code, info.value.field) == ("undefined-bottom", ("bottom", 0))


# --- registry ----------------------------------------------------------------------------------

def test_registry_rejects_duplicates_and_documents_rules():
    with pytest.raises(ValueError):
        shape_rule("Convolution")(lambda layer, bottoms: None)
    assert {"Convolution", "Pooling", "InnerProduct", "PriorBox", "Interp"} <= set(SHAPE_RULES)
    for name, rule in SHAPE_RULES.items():
        assert rule.summary, f"{name} has no docstring"
    table = coverage_markdown()
    assert all(f"`{name}`" in table for name in SHAPE_RULES)
    assert "| `Convolution`, `DepthwiseConvolution` | BVLC Caffe |" in table
