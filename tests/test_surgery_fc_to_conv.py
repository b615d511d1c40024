"""fc-to-conv: InnerProduct -> Convolution by minimal text edits, weights reshaped.

Proofs: the converted CaffeNet is Caffe's own ``bvlc_caffenet_full_conv`` (but for the names it
renamed); converted nets run in OpenCV's Caffe importer give Caffe's reference outputs (LeNet
with seeded weights, MTCNN det2/det3 with their real weights); on a larger input the converted
LeNet's score map is the original net slid over the image.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import os
import re

import numpy as np
import pytest

from prototxt_tools.caffemodel import read_caffemodel, write_caffemodel
from prototxt_tools.cli import main
from prototxt_tools.errors import CaffemodelError, PrototxtToolsError, ShapeError, UnsupportedError
from prototxt_tools.load import load_net
from prototxt_tools.shapes.network import infer_shapes
from prototxt_tools.surgery import (NAMES_KEPT, convert_fc_to_conv, fc_to_conv_files,
                                    plan_fc_to_conv)


CAFFENET = "BVLC_caffe/models/bvlc_reference_caffenet/deploy.prototxt"
FULL_CONV = "BVLC_caffe/examples/net_surgery/bvlc_caffenet_full_conv.prototxt"
MTCNN = "kpzhang93_MTCNN_face_detection_alignment/code/codes/MTCNNv1/model/"
REFERENCE = "caffe_reference/"


def convert_text(text: str, path: str = "net.prototxt", inputs=None):
    return convert_fc_to_conv(load_net(path, text=text), inputs)


def changed_lines(before: str, after: str) -> tuple[list, list]:
    """(removed, added) lines of a line diff."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return ([d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")])


def assert_minimal_edits(before: str, after: str, n_layers: int) -> None:
    """Only type lines and param-block names change, and one kernel line per layer is added
    (square kernels); everything else, comments included, is byte for byte the same."""
    removed, added = changed_lines(before, after)
    assert sorted(line.strip() for line in removed) == sorted(
        ['type: "InnerProduct"'] * n_layers + ["inner_product_param {"] * n_layers)
    assert len(added) == 3 * n_layers
    assert sum(line.strip() == 'type: "Convolution"' for line in added) == n_layers
    assert sum(line.strip() == "convolution_param {" for line in added) == n_layers
    assert sum(line.strip().startswith("kernel_size: ") for line in added) == n_layers


# --- CaffeNet is Caffe's own fully convolutional CaffeNet ---------------------------------------

def test_caffenet_becomes_bvlc_caffenet_full_conv(corpus):
    deploy = (corpus / CAFFENET).read_text()
    result = convert_fc_to_conv(load_net(str(corpus / CAFFENET)))
    assert [(c.name, c.kernel) for c in result.conversions] == [
        ("fc6", (6, 6)), ("fc7", (1, 1)), ("fc8", (1, 1))]
    assert_minimal_edits(deploy, result.text, 3)

    # Caffe's example, with its renames undone and the input as in deploy.prototxt
    full_conv = (corpus / FULL_CONV).read_text()
    full_conv = full_conv.split("\n", 1)[1].replace('name: "CaffeNetConv"', 'name: "CaffeNet"')
    full_conv = re.sub(r"input_param \{.*?\n  \}", "input_param { shape: { dim: 10 dim: 3 "
                       "dim: 227 dim: 227 } }", full_conv, flags=re.S)
    full_conv = re.sub(r"(fc[678])-conv", r"\1", full_conv)
    assert result.text == full_conv


def test_caffenet_at_451_gives_an_8x8_score_map_like_full_conv(corpus):
    converted = convert_fc_to_conv(load_net(str(corpus / CAFFENET))).loaded
    ours = infer_shapes(converted.network, {"data": (1, 3, 451, 451)}).by_name()
    caffe = infer_shapes(load_net(str(corpus / FULL_CONV)).network).by_name()  # declares 451
    # 451: conv1 (451-11)/4+1 = 111, pool1 ceil(108/2)+1 = 55, conv2 55, pool2 27, conv3-5 27,
    # pool5 13, fc6 (13-6)+1 = 8, fc7 and fc8 8
    assert ours["pool5"] == (1, 256, 13, 13)
    assert ours["fc6"] == (1, 4096, 8, 8)
    assert ours["prob"] == (1, 1000, 8, 8)
    assert ours == {name.replace("-conv", ""): shape for name, shape in caffe.items()}
    assert [(l.name, l.type) for l in converted.network.layers] == [
        (l.name.replace("-conv", ""), l.type) for l in load_net(str(corpus / FULL_CONV)).network.layers]


def vgg16_deploy() -> str:
    """VGG-16 (ILSVRC-2014 configuration D) written out as a deploy prototxt."""
    layers = ['name: "VGG_ILSVRC_16_layers"',
              'layer { name: "data" type: "Input" top: "data" '
              'input_param { shape: { dim: 1 dim: 3 dim: 224 dim: 224 } } }']
    bottom = "data"
    for block, (convs, width) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, convs + 1):
            name = f"conv{block}_{i}"
            layers.append(f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" '
                          f'top: "{name}" convolution_param {{ num_output: {width} pad: 1 '
                          'kernel_size: 3 } }')
            layers.append(f'layer {{ name: "relu{block}_{i}" type: "ReLU" bottom: "{name}" '
                          f'top: "{name}" }}')
            bottom = name
        layers.append(f'layer {{ name: "pool{block}" type: "Pooling" bottom: "{bottom}" '
                      f'top: "pool{block}" pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}')
        bottom = f"pool{block}"
    for name, width in (("fc6", 4096), ("fc7", 4096), ("fc8", 1000)):
        layers.append(f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" '
                      f'top: "{name}" inner_product_param {{ num_output: {width} }} }}')
        bottom = name
        if name != "fc8":
            layers.append(f'layer {{ name: "relu{name[2:]}" type: "ReLU" bottom: "{name}" '
                          f'top: "{name}" }}')
    layers.append('layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" }')
    return "\n".join(layers) + "\n"


def test_vgg16_at_384_gives_6x6x1000():
    result = convert_text(vgg16_deploy(), "vgg16.prototxt")
    assert [(c.name, c.kernel) for c in result.conversions] == [
        ("fc6", (7, 7)), ("fc7", (1, 1)), ("fc8", (1, 1))]
    shapes = infer_shapes(result.loaded.network, {"data": (1, 3, 384, 384)}).by_name()
    # five 2x2/2 pools: 384 / 32 = 12; fc6 as a 7x7 convolution: 12 - 7 + 1 = 6
    assert shapes["pool5"] == (1, 512, 12, 12)
    assert shapes["prob"] == (1, 1000, 6, 6)
    # at the original size the outputs are the original's, with 1x1 spatial axes
    at_224 = infer_shapes(result.loaded.network).by_name()
    assert at_224["fc6"] == (1, 4096, 1, 1) and at_224["prob"] == (1, 1000, 1, 1)


def test_non_square_input_gets_kernel_h_and_kernel_w():
    text = ('layer { name: "data" type: "Input" top: "data" input_param { shape: { dim: 2 dim: 3 '
            'dim: 4 dim: 5 } } }\nlayer {\n  name: "fc"\n  type: "InnerProduct"\n  bottom: "data"\n'
            '  top: "fc"\n  inner_product_param {\n    num_output: 7\n  }\n}\n')
    result = convert_text(text)
    assert "    num_output: 7\n    kernel_h: 4\n    kernel_w: 5\n" in result.text
    assert infer_shapes(result.loaded.network).by_name()["fc"] == (2, 7, 1, 1)


# --- numbers: OpenCV runs both nets -------------------------------------------------------------

def opencv_outputs(prototxt, caffemodel, data: np.ndarray) -> dict:
    cv2 = pytest.importorskip("cv2")
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(np.ascontiguousarray(data, np.float32))
    names = list(net.getUnconnectedOutLayersNames())
    return dict(zip(names, net.forward(names)))


def assert_close(got: np.ndarray, want: np.ndarray) -> None:
    """max |err| <= 1e-5 relative to the largest reference value."""
    want = np.asarray(want, np.float32)
    got = np.asarray(got).reshape(want.shape)
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max()))


@pytest.mark.parametrize("net, prototxt, weights", [
    ("lenet", "BVLC_caffe/examples/mnist/lenet.prototxt", "caffe_reference/lenet/weights.caffemodel"),
    ("mtcnn_v1_det2", MTCNN + "det2.prototxt", MTCNN + "det2.caffemodel"),
    ("mtcnn_v1_det3", MTCNN + "det3.prototxt", MTCNN + "det3.caffemodel"),
    ("googlenet", "BVLC_caffe/models/bvlc_googlenet/deploy.prototxt",
     "caffe_reference/googlenet/weights.caffemodel"),
])
def test_converted_net_gives_caffes_outputs_in_opencv(corpus, tmp_path, net, prototxt, weights):
    out_proto, out_model = tmp_path / "conv.prototxt", tmp_path / "conv.caffemodel"
    before = hashlib.sha256((corpus / weights).read_bytes()).digest()
    result, notes = fc_to_conv_files(str(corpus / prototxt), str(out_proto), str(corpus / weights),
                                     str(out_model))
    assert result.conversions and NAMES_KEPT in notes
    assert hashlib.sha256((corpus / weights).read_bytes()).digest() == before
    assert_minimal_edits((corpus / prototxt).read_text(), out_proto.read_text(),
                         len(result.conversions))
    reference = np.load(corpus / REFERENCE / net / "reference.npz")
    data = reference["input:data"][:2]  # two samples are proof enough, and fast
    original = opencv_outputs(corpus / prototxt, corpus / weights, data)
    converted = opencv_outputs(out_proto, out_model, data)
    assert set(converted) == set(original)
    for name, value in converted.items():
        assert value.shape[2:] in ((), (1, 1))
        assert_close(value, original[name])
        assert_close(value, reference[f"output:{name}"][:2])  # real Caffe's numbers


def test_converted_lenet_slides_over_a_larger_image(corpus, tmp_path):
    """LeNet has no padding and its pools divide evenly, so at 36x36 the score map at (i, j) is
    the original net on the 28x28 crop at (4i, 4j): total stride 2*2 = 4, (36-28)/4 + 1 = 3."""
    prototxt = corpus / "BVLC_caffe/examples/mnist/lenet.prototxt"
    weights = corpus / "caffe_reference/lenet/weights.caffemodel"
    out_proto, out_model = tmp_path / "lenet_conv.prototxt", tmp_path / "lenet_conv.caffemodel"
    fc_to_conv_files(str(prototxt), str(out_proto), str(weights), str(out_model))
    image = np.random.default_rng(0).random((1, 1, 36, 36), dtype=np.float32)
    score_map = opencv_outputs(out_proto, out_model, image)["prob"]
    assert score_map.shape == (1, 10, 3, 3)
    crops = np.concatenate([image[:, :, 4 * i:4 * i + 28, 4 * j:4 * j + 28]
                            for i in range(3) for j in range(3)])
    windows = opencv_outputs(prototxt, weights, crops)["prob"]  # (9, 10)
    assert_close(score_map[0].reshape(10, 9).T, windows)


def small_caffenet(corpus, transpose_fc6: bool = False) -> str:
    """CaffeNet's topology (LRN, grouped convolutions, 6x6 pool5) with narrow layers."""
    widths = {"conv1": 16, "conv2": 16, "conv3": 24, "conv4": 24, "conv5": 16, "fc6": 64,
              "fc7": 64, "fc8": 10}
    text = (corpus / CAFFENET).read_text()
    for name, width in widths.items():
        text = re.sub(rf'(name: "{name}".*?num_output: )\d+', rf"\g<1>{width}", text, flags=re.S)
    if transpose_fc6:
        text = text.replace("num_output: 64\n", "num_output: 64\n    transpose: true\n", 1)
    return text.replace("dim: 10 dim: 3", "dim: 1 dim: 3")


def random_weights(loaded, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    shapes = infer_shapes(loaded.network)
    return {layer.name: [rng.standard_normal(p, dtype=np.float32) * 0.1
                         for p in shapes.layers[layer].shapes.params]
            for layer in loaded.network.layers if shapes.layers[layer].shapes.params}


def test_small_caffenet_equal_in_opencv_also_transposed(corpus, tmp_path):
    plain, transposed = tmp_path / "plain.prototxt", tmp_path / "transposed.prototxt"
    plain.write_text(small_caffenet(corpus))
    transposed.write_text(small_caffenet(corpus, transpose_fc6=True))
    weights = random_weights(load_net(str(plain)))
    write_caffemodel(tmp_path / "plain.caffemodel", load_net(str(plain)).net, weights)
    flipped = dict(weights, fc6=[weights["fc6"][0].T.copy(), weights["fc6"][1]])  # (576, 64)
    write_caffemodel(tmp_path / "transposed.caffemodel", load_net(str(transposed)).net, flipped)
    data = np.random.default_rng(1).random((1, 3, 227, 227), dtype=np.float32)
    original = opencv_outputs(plain, tmp_path / "plain.caffemodel", data)["prob"]
    for source in ("plain", "transposed"):
        out = tmp_path / f"{source}_conv"
        result, _ = fc_to_conv_files(str(tmp_path / f"{source}.prototxt"), f"{out}.prototxt",
                                     str(tmp_path / f"{source}.caffemodel"), f"{out}.caffemodel")
        assert "transpose" not in result.text
        model = read_caffemodel(f"{out}.caffemodel")
        assert model.weights("fc6")[0].shape == (64, 16, 6, 6)
        assert np.array_equal(model.weights("fc6")[0].reshape(64, -1), weights["fc6"][0])
        converted = opencv_outputs(f"{out}.prototxt", f"{out}.caffemodel", data)["prob"]
        assert converted.shape == (1, 10, 1, 1)
        assert_close(converted, original)


def test_legacy_4d_fc_blobs_and_no_bias(tmp_path):
    text = ('layer { name: "data" type: "Input" top: "data" input_param { shape: { dim: 1 dim: 2 '
            'dim: 3 dim: 3 } } }\nlayer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" '
            'inner_product_param { num_output: 4 bias_term: false } }\n')
    proto = tmp_path / "net.prototxt"
    proto.write_text(text)
    weight = np.arange(72, dtype=np.float32).reshape(1, 1, 4, 18)  # legacy num/channels/h/w form
    write_caffemodel(tmp_path / "in.caffemodel", load_net(str(proto)).net, {"fc": [weight]})
    fc_to_conv_files(str(proto), str(tmp_path / "out.prototxt"), str(tmp_path / "in.caffemodel"),
                     str(tmp_path / "out.caffemodel"))
    (converted,) = read_caffemodel(tmp_path / "out.caffemodel").weights("fc")
    assert converted.shape == (4, 2, 3, 3)
    assert converted[1, 1, 2, 0] == 18 + 9 + 6  # row 1, flat index c*9 + h*3 + w = 15


def test_caffemodel_of_another_net_is_refused(corpus, tmp_path):
    with pytest.raises(CaffemodelError, match="none of the converted layers"):
        fc_to_conv_files(str(corpus / CAFFENET), str(tmp_path / "o.prototxt"),
                         str(corpus / MTCNN / "det2.caffemodel"), str(tmp_path / "o.caffemodel"))
    proto = tmp_path / "net.prototxt"
    proto.write_text(INPUT + fc())
    write_caffemodel(tmp_path / "w.caffemodel", load_net(str(proto)).net,
                     {"fc": [np.zeros((4, 10), np.float32), np.zeros(4, np.float32)]})
    with pytest.raises(CaffemodelError, match="4x10 in the caffemodel.*needs 4x18"):
        fc_to_conv_files(str(proto), str(tmp_path / "o.prototxt"), str(tmp_path / "w.caffemodel"),
                         str(tmp_path / "o.caffemodel"))
    assert not (tmp_path / "o.prototxt").exists() and not (tmp_path / "o.caffemodel").exists()


# --- refusals ----------------------------------------------------------------------------------

INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape: { dim: 1 dim: 2 dim: 3 dim: 3 } } }\n'


def fc(extra: str = "", bottom: str = "data", name: str = "fc") -> str:
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{name}" '
            f'inner_product_param {{ num_output: 4 {extra}}} }}\n')


@pytest.mark.parametrize("text, error, message", [
    (INPUT + fc("axis: 2 "), UnsupportedError, "axis 2"),
    (INPUT.replace("dim: 3 dim: 3", "dim: 9"), UnsupportedError, "3-D"),
    (INPUT + 'layer { name: "flat" type: "Flatten" bottom: "data" top: "flat" }\n' + fc(bottom="flat"),
     UnsupportedError, "from layer 'flat' \\(Flatten\\) would be 1x18"),
    (INPUT + fc() + 'layer { name: "sm" type: "Softmax" bottom: "fc" top: "sm" '
     'softmax_param { axis: -1 } }\n', UnsupportedError, "axis: -1"),
    ('layer { name: "data" type: "Input" top: "data" }\n' + fc(), ShapeError, "--input"),
])
def test_refused_with_a_reason(text, error, message):
    if "dim: 9" in text:
        text += fc()
    with pytest.raises(error, match=message) as info:
        convert_text(text)
    assert info.value.line is not None


def test_axis_minus_three_on_4d_is_axis_1():
    assert plan_fc_to_conv(load_net("n", text=INPUT + fc("axis: -3 ")))[0].kernel == (3, 3)
    result = convert_text(INPUT + fc("axis: -3 "))
    assert "axis" not in result.text.split("InnerProduct")[-1]


def test_v0_is_refused_and_v1_is_converted_in_its_own_syntax(corpus):
    v0 = 'layers { layer { name: "fc" type: "innerproduct" num_output: 2 } bottom: "d" top: "fc" }'
    with pytest.raises(UnsupportedError, match="upgrade"):
        convert_text('input: "d" input_dim: 1 input_dim: 2 input_dim: 1 input_dim: 1\n' + v0)
    v1_path = next((corpus / "BVLC_caffe/_history").glob("*/models/bvlc_reference_caffenet/deploy.prototxt"))
    v1 = convert_fc_to_conv(load_net(str(v1_path)))
    assert v1.loaded.format == "V1" and v1.text.count("type: CONVOLUTION") == 8
    removed, _ = changed_lines(v1_path.read_text(), v1.text)
    assert sorted(l.strip() for l in removed) == ["inner_product_param {"] * 3 + ["type: INNER_PRODUCT"] * 3
    v2 = convert_fc_to_conv(load_net(str(corpus / CAFFENET)))
    assert infer_shapes(v1.loaded.network, {"data": (1, 3, 451, 451)}).by_name() == \
        infer_shapes(v2.loaded.network, {"data": (1, 3, 451, 451)}).by_name()


def test_no_inner_product_is_a_no_op():
    result = convert_text(INPUT)
    assert result.text == INPUT and not result.conversions


# --- CLI ---------------------------------------------------------------------------------------

def test_cli_writes_stdout_and_explains_names(corpus, tmp_path, capsys):
    assert main(["fc-to-conv", str(corpus / MTCNN / "det2.prototxt")]) == 0
    out, err = capsys.readouterr()
    assert out.count("kernel_size: 1") == 4 and "conv4: InnerProduct -> Convolution" in err
    assert "--weights" in err  # the old caffemodel no longer fits: say how to convert it
    assert main(["fc-to-conv", str(corpus / MTCNN / "det2.prototxt"), "-o", str(tmp_path / "o.prototxt"),
                 "--weights", str(corpus / MTCNN / "det2.caffemodel"),
                 "--weights-out", str(tmp_path / "o.caffemodel")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "fc6-conv" in err and "names are kept" in err


def test_cli_refuses_to_overwrite_inputs(tmp_path, capsys):
    proto = tmp_path / "net.prototxt"
    proto.write_text(INPUT + fc())
    write_caffemodel(tmp_path / "w.caffemodel", load_net(str(proto)).net,
                     {"fc": [np.zeros((4, 18), np.float32), np.zeros(4, np.float32)]})
    before = (tmp_path / "w.caffemodel").read_bytes()
    args = ["fc-to-conv", str(proto), "--weights", str(tmp_path / "w.caffemodel"),
            "--weights-out", str(tmp_path / "w.caffemodel")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--weights-out" in err
    assert (tmp_path / "w.caffemodel").read_bytes() == before
    assert main(["fc-to-conv", str(proto), "-o", str(proto)]) == 2
    assert proto.read_text() == INPUT + fc()
    assert main(["fc-to-conv", str(proto), "--weights", str(tmp_path / "w.caffemodel")]) == 2
    assert main(args + ["-o", str(tmp_path / "o.prototxt"), "--force"]) == 0
    assert read_caffemodel(tmp_path / "w.caffemodel").weights("fc")[0].shape == (4, 2, 3, 3)


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.prototxt"
    bad.write_text(INPUT + fc("axis: 2 "))
    assert main(["fc-to-conv", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"{bad}:2:") and "axis" in err
    with pytest.raises(PrototxtToolsError):
        fc_to_conv_files(str(bad))


def test_v1_prototxt_and_v1_caffemodel(tmp_path):
    """A V1 net keeps its syntax; its V1 caffemodel is written back in the current format."""
    from prototxt_tools.text import parse_prototxt

    text = ('input: "data"\ninput_dim: 1\ninput_dim: 2\ninput_dim: 3\ninput_dim: 3\n'
            'layers {\n  name: "fc"\n  type: INNER_PRODUCT\n  bottom: "data"\n  top: "fc"\n'
            '  blobs_lr: 1\n  inner_product_param {\n    num_output: 4\n  }\n}\n')
    proto = tmp_path / "v1.prototxt"
    proto.write_text(text)
    weight = np.arange(72, dtype=np.float32).reshape(4, 18)
    bias = np.arange(4, dtype=np.float32)
    write_caffemodel(tmp_path / "v1.caffemodel", parse_prototxt(text).message,
                     {"fc": [weight, bias]})
    assert read_caffemodel(tmp_path / "v1.caffemodel").format == "V1"
    result, _ = fc_to_conv_files(str(proto), str(tmp_path / "o.prototxt"),
                                 str(tmp_path / "v1.caffemodel"), str(tmp_path / "o.caffemodel"))
    assert "  type: CONVOLUTION\n" in result.text and "  blobs_lr: 1\n" in result.text
    model = read_caffemodel(tmp_path / "o.caffemodel")
    assert model.format == "V2" and model.net.layer[-1].type == "Convolution"
    assert model.net.layer[-1].convolution_param.kernel_size == [3]
    w, b = model.weights("fc")
    assert w.shape == (4, 2, 3, 3) and np.array_equal(w.reshape(4, 18), weight)
    assert np.array_equal(b, bias)


# --- the prototxt and its caffemodel are replaced together -------------------------------------

OLD = b"the previous file\n"


def pair_args(tmp_path, out_dir=None) -> list:
    """fc-to-conv of the tiny sample with its weights, into ``out_dir`` (tmp_path/out)."""
    from conftest import SAMPLES

    out_dir = out_dir or tmp_path / "out"
    return ["fc-to-conv", str(SAMPLES / "tiny_convnet.prototxt"), "-o", str(out_dir / "c.prototxt"),
            "--weights", str(SAMPLES / "tiny_convnet.caffemodel"),
            "--weights-out", str(out_dir / "c.caffemodel")]


def old_pair(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("c.prototxt", "c.caffemodel"):
        (out / name).write_bytes(OLD)
    return out


def test_unwritable_prototxt_fails_before_the_caffemodel_is_written(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    args = pair_args(tmp_path)
    args[3] = str(tmp_path / "missing" / "c.prototxt")  # -o into a directory that is not there
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{args[3]}: error: cannot write file")
    assert list((tmp_path / "out").iterdir()) == []  # no caffemodel, no temp file


def test_the_two_outputs_must_differ(tmp_path, capsys):
    args = pair_args(tmp_path)
    args[3] = args[-1]
    assert main(args) == 2 and "-o and --weights-out" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _DiskFull:
    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self):
        pass


@pytest.mark.parametrize("where", ["prototxt", "caffemodel", "interrupt"])
def test_a_failure_replaces_neither_file(tmp_path, capsys, monkeypatch, where):
    """Disk full while the prototxt or the caffemodel is written, Ctrl-C during the caffemodel:
    both old files stay, no temp file is left; then an undisturbed run writes both."""
    from contextlib import contextmanager

    from prototxt_tools import fileio
    from prototxt_tools.caffemodel import writer

    out = old_pair(tmp_path)
    if where == "prototxt":  # the prototxt's atomic_output is looked up when it is written
        real = fileio.atomic_output

        @contextmanager
        def failing(path, **kwargs):
            with real(path, **kwargs):
                yield _DiskFull()
        monkeypatch.setattr(fileio, "atomic_output", failing)
    elif where == "caffemodel":
        monkeypatch.setattr(writer, "write_array", lambda out, array: _DiskFull().write(array))
    if where == "interrupt":
        def interrupt(done, total):
            raise KeyboardInterrupt
        _, net, _, proto, _, weights, _, weights_out = pair_args(tmp_path)
        with pytest.raises(KeyboardInterrupt):
            fc_to_conv_files(net, proto, weights, weights_out, progress=interrupt)
    else:
        assert main(pair_args(tmp_path)) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "No space left on device" in err[0]
        assert err[0].startswith(str(out / f"c.{where}"))
    assert sorted(p.name for p in out.iterdir()) == ["c.caffemodel", "c.prototxt"]
    assert all(p.read_bytes() == OLD for p in out.iterdir())
    monkeypatch.undo()
    assert main(pair_args(tmp_path)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["c.caffemodel", "c.prototxt"]
    assert 'type: "Convolution"' in (out / "c.prototxt").read_text()
    assert read_caffemodel(out / "c.caffemodel").net.layer[-2].type == "Convolution"
