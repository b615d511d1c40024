"""load_net: text -> upgrade -> IR, with errors positioned in the user's own file."""

from __future__ import annotations

import pytest

from prototxt_tools.errors import ParseError, UpgradeError
from prototxt_tools.ir import NetState
from prototxt_tools.load import load_net

from conftest import SAMPLES


@pytest.mark.parametrize("name,fmt,first_origin", [
    ("alexnet.prototxt", "V2", ("layer", 0)),
    ("lenet_v1.prototxt", "V1", ("input", 0)),
    ("cifar_small_v0.prototxt", "V0", ("input", 0)),
])
def test_samples_load(name, fmt, first_origin):
    net = load_net(str(SAMPLES / name))
    assert net.format == fmt
    assert net.layer_origin[0] == first_origin
    assert net.network.errors() == []
    assert [b.name for b in net.network.outputs] == ["prob"]


def test_v0_padding_folds_into_conv_and_points_back_at_the_file():
    net = load_net(str(SAMPLES / "cifar_small_v0.prototxt"))
    conv = net.network.layer("conv1")
    assert conv.param.convolution_param.pad == [2]
    assert conv.bottoms[0].name == "data"  # the padding layer is gone, as in Caffe
    # conv1 is the second `layers` block of the file (the first is the padding layer)
    assert conv.origin == ("layers", 1)
    span = net.source_map.position(conv.origin + ("layer", "name"))
    assert (span.line, span.col) == (21, 5)


def test_upgrade_error_is_positioned(tmp_path):
    p = tmp_path / "bad.prototxt"
    p.write_text("input: 'data'\ninput_dim: 1\ninput_dim: 1\ninput_dim: 8\ninput_dim: 8\n"
                 "layers {\n  layer { name: 'pad' type: 'padding' pad: 1 }\n"
                 "  bottom: 'data'\n  top: 'pad'\n}\n"
                 "layers {\n  layer { name: 'relu' type: 'relu' }\n  bottom: 'pad'\n  top: 'r'\n}\n")
    with pytest.raises(UpgradeError) as info:
        load_net(str(p))
    err = info.value
    assert err.path == str(p) and err.line is not None
    assert str(err).startswith(f"{p}:{err.line}:{err.col}: error: ")


def test_syntax_error_is_one_positioned_line(tmp_path):
    p = tmp_path / "bad.prototxt"
    p.write_text("layer {\n  name: 'x'\n  type: 'ReLU'\n  bottom 'y'\n}\n")
    with pytest.raises(ParseError) as info:
        load_net(str(p))
    assert str(info.value).startswith(f"{p}:4:")
    assert "\n" not in str(info.value)


def test_phase_selects_layers(corpus):
    path = corpus / "BVLC_caffe/examples/mnist/lenet_train_test.prototxt"
    train = load_net(str(path), NetState.of("TRAIN")).network
    test = load_net(str(path), NetState.of("TEST")).network
    assert "accuracy" in [l.name for l in test.layers]
    assert "accuracy" not in [l.name for l in train.layers]
