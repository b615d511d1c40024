"""infer_shapes over the network IR: positions in the user's file, input overrides, limits."""

from __future__ import annotations

import pytest

from prototxt_tools.errors import ShapeError
from prototxt_tools.load import load_net
from prototxt_tools.shapes.network import infer_shapes, parse_input_override

from conftest import SAMPLES


def test_seed_error_points_at_kernel_size_line():
    loaded = load_net(str(SAMPLES / "alexnet.prototxt"))
    result = infer_shapes(loaded.network)
    assert [(e.code, e.layer_name) for e in result.errors] == [("kernel-larger-than-input", "fc6")]
    assert loaded.source_map.where(result.errors[0].field_path) == f"{SAMPLES / 'alexnet.prototxt'}:219:5"
    # pool5 is 256x6x6 for 227x227: (227-11)/4+1 = 55 -> pool 27 -> 27 -> pool 13 -> 13 -> pool 6
    assert result.by_name()["pool5"] == (1, 256, 6, 6)
    assert result.by_name()["prob"] is None  # unknown after the error, never guessed


def test_in_place_versions_have_their_own_entries():
    loaded = load_net(str(SAMPLES / "tiny_convnet.prototxt"))
    result = infer_shapes(loaded.network)
    conv_versions = [b for b in loaded.network.blobs if b.name == "conv1"]
    assert [b.key for b in conv_versions] == ["conv1", "conv1@1", "conv1@2", "conv1@3"]
    assert {result.shape(b) for b in conv_versions} == {(1, 8, 16, 16)}
    # conv 8*3*3*3 + 8 = 224, BatchNorm 8 + 8 + 1 = 17, Scale 8 + 8 = 16, fc 10*512 + 10 = 5130
    assert result.total_params == 224 + 17 + 16 + 5130
    # conv: 8*16*16 outputs x 27 = 55,296 MACs; fc: 10 x 512 = 5,120
    assert result.total_macs == 55_296 + 5_120


def test_input_override_and_score_map_of_the_fixed_demo(tmp_path):
    fixed = tmp_path / "alexnet.prototxt"
    fixed.write_text((SAMPLES / "alexnet.prototxt").read_text().replace("kernel_size: 7", "kernel_size: 6"))
    network = load_net(str(fixed)).network
    assert infer_shapes(network).by_name()["prob"] == (1, 1000, 1, 1)
    # Caffe's net_surgery example: CaffeNet fully convolutional on 451x451 gives an 8x8 score map
    assert infer_shapes(network, {"data": (1, 3, 451, 451)}).by_name()["prob"] == (1, 1000, 8, 8)


def test_absurd_override_is_a_diagnostic_not_an_allocation():
    network = load_net(str(SAMPLES / "tiny_convnet.prototxt")).network
    result = infer_shapes(network, {"data": (1, 3, 2 ** 20, 2 ** 20)})
    assert [e.code for e in result.errors] == ["blob-too-large"]
    assert result.by_name()["prob"] is None


def test_override_of_unknown_input_is_an_error():
    network = load_net(str(SAMPLES / "tiny_convnet.prototxt")).network
    with pytest.raises(ShapeError, match="not a net input"):
        infer_shapes(network, {"image": (1, 3, 8, 8)})


@pytest.mark.parametrize("text,expected", [
    ("data=1,3,384,384", ("data", (1, 3, 384, 384))),
    ("data=1x3x32x32", ("data", (1, 3, 32, 32))),
])
def test_parse_input_override(text, expected):
    assert parse_input_override(text) == expected


@pytest.mark.parametrize("text", ["data", "=1,2", "data=a,b", "data=-1,3", "data="])
def test_parse_input_override_rejects(text):
    with pytest.raises(ValueError):
        parse_input_override(text)
