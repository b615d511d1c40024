"""Hand-made nets for the upgrade paths Caffe's fixtures do not cover: its CHECK / LOG(FATAL) /
LOG(ERROR) conditions, the input, data-transformation and BatchNorm upgrades, ParamSpec filling,
solver type, binary nets.  Each expected value is stated from src/caffe/util/upgrade_proto.cpp.
"""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format

from prototxt_tools.errors import UpgradeError
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.upgrade import (V0_LAYER_TYPES, V1_LAYER_TYPES, detect_format,
                                    needs_batchnorm_upgrade, upgrade_caffemodel_net, upgrade_net,
                                    upgrade_solver)


def parse_net(text: str) -> caffe_pb2.NetParameter:
    return text_format.Parse(text, caffe_pb2.NetParameter())


def v0_layer(name: str, type_: str, bottoms=(), tops=(), extra: str = "") -> str:
    links = " ".join([f"bottom: '{b}'" for b in bottoms] + [f"top: '{t}'" for t in tops])
    return f"layers {{ layer {{ name: '{name}' type: '{type_}' {extra} }} {links} }}\n"


DATA = v0_layer("data", "data", tops=["data"], extra="source: 'db' batchsize: 1")
PAD = v0_layer("pad1", "padding", ["data"], ["pad1"], "pad: 2")


def upgrade_error(net, **kwargs) -> UpgradeError:
    with pytest.raises(UpgradeError) as info:
        upgrade_net(net, **kwargs)
    return info.value


# --- Caffe's CHECK / LOG(FATAL) conditions ------------------------------------------------------

def test_unknown_v0_type_is_reported_at_its_original_index():
    # layers[1] is a padding layer that disappears first; the bad type still points at layers[3].
    net = parse_net(DATA + PAD + v0_layer("conv1", "conv", ["pad1"], ["conv1"], "num_output: 4")
                    + v0_layer("odd", "maxout", ["conv1"], ["odd"]))
    err = upgrade_error(net)
    assert err.field_path == ("layers", 3, "layer", "type")
    assert err.message.startswith("layers[3].layer.type: unknown V0 layer type 'maxout'")


def test_padding_feeding_a_non_conv_pool_layer_fails():
    net = parse_net(DATA + PAD + v0_layer("relu", "relu", ["pad1"], ["relu"]))
    assert upgrade_error(net).field_path == ("layers", 2, "bottom", 0)


def test_padding_consumer_with_two_bottoms_fails():
    net = parse_net(DATA + PAD + v0_layer("conv1", "conv", ["pad1", "data"], ["conv1"]))
    assert upgrade_error(net).field_path == ("layers", 2, "bottom")


def test_padding_layer_with_two_tops_fails():
    pad = v0_layer("pad1", "padding", ["data"], ["pad1", "pad1b"], "pad: 2")
    net = parse_net(DATA + pad + v0_layer("conv1", "conv", ["pad1"], ["conv1"]))
    assert upgrade_error(net).field_path == ("layers", 1, "top")


def test_v0_bottom_without_producer_fails():
    # UpgradeV0PaddingLayers LOG(FATAL)s for any bottom that is not an input or an earlier top.
    net = parse_net(DATA + v0_layer("conv1", "conv", ["nowhere"], ["conv1"]))
    assert upgrade_error(net).field_path == ("layers", 1, "bottom", 0)


def test_net_with_both_layer_and_layers_is_refused():
    net = parse_net("layers { name: 'a' type: RELU } layer { name: 'b' type: 'ReLU' }")
    assert detect_format(net) == "V1"
    assert upgrade_error(net).field_path == ("layer", 0)


def test_too_few_input_dims_fail():
    net = parse_net("input: 'a' input: 'b' input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8")
    assert upgrade_error(net).field_path == ("input", 1)


def test_too_few_input_shapes_fail():
    net = parse_net("input: 'a' input: 'b' input_shape { dim: 1 }")
    assert upgrade_error(net).field_path == ("input", 1)


# --- LOG(ERROR) "continuing anyway": strict raises, non-strict behaves like Caffe ---------------

def test_parameter_foreign_to_the_layer_type():
    net = parse_net(DATA + v0_layer("relu", "relu", ["data"], ["data"], "num_output: 10"))
    assert upgrade_error(net).field_path == ("layers", 1, "layer", "num_output")
    result = upgrade_net(net, strict=False)
    assert not result.fully_compatible
    relu = result.net.layer[1]
    assert (relu.type, relu.HasField("inner_product_param"),
            relu.HasField("convolution_param")) == ("ReLU", False, False)
    lossy = [c.path for c in result.changes if c.lossy]
    assert lossy == [("layers", 1, "layer", "num_output")]


# --- the input upgrade ------------------------------------------------------------------------

def test_input_dims_become_a_first_input_layer():
    net = parse_net("input: 'a' input: 'b' "
                    + " ".join(f"input_dim: {d}" for d in (1, 3, 8, 6, 2, 5, 4, 4))
                    + " layer { name: 'c' type: 'Concat' bottom: 'a' bottom: 'b' top: 'c' }")
    result = upgrade_net(net)
    assert result.source_format == "V2"
    first = result.net.layer[0]
    assert (first.name, first.type, list(first.top)) == ("input", "Input", ["a", "b"])
    assert [list(s.dim) for s in first.input_param.shape] == [[1, 3, 8, 6], [2, 5, 4, 4]]
    assert result.layer_origin == [("input", 0), ("layer", 0)]
    assert not result.net.input and not result.net.input_dim


def test_input_shape_wins_over_input_dim():
    net = parse_net("input: 'a' input_shape { dim: 2 dim: 7 } input_dim: 1 input_dim: 1 "
                    "input_dim: 1 input_dim: 1")
    result = upgrade_net(net)
    assert [list(s.dim) for s in result.net.layer[0].input_param.shape] == [[2, 7]]
    assert {c.path for c in result.changes if c.lossy} == {("input_dim", k) for k in range(4)}


def test_input_without_shape_is_dropped():
    # A legacy caffemodel's bare ``input``: Caffe just strips it, no Input layer.
    result = upgrade_net(parse_net("input: 'data' layer { name: 'r' type: 'ReLU' }"))
    assert [layer.name for layer in result.net.layer] == ["r"]
    assert not result.net.input
    assert [c.path for c in result.changes if c.lossy] == [("input", 0)]


# --- BatchNorm, data transformation, ParamSpec ------------------------------------------------

def test_batchnorm_with_three_params_gets_zero_lr_and_decay():
    net = parse_net("layer { name: 'bn' type: 'BatchNorm' param { name: 'm' lr_mult: 1 } "
                    "param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 1 } } "
                    "layer { name: 'bn2' type: 'BatchNorm' param { lr_mult: 1 } param {} }")
    assert needs_batchnorm_upgrade(net)
    result = upgrade_net(net)
    bn, bn2 = result.net.layer
    assert [(p.name, p.lr_mult, p.decay_mult, p.HasField("decay_mult")) for p in bn.param] == \
        [("m", 0.0, 0.0, True), ("", 0.0, 0.0, True), ("", 0.0, 0.0, True)]
    assert bn2 == net.layer[1]          # only exactly three params trigger the upgrade
    assert [c.path for c in result.changes] == [("layer", 0, "param", 0)]


def test_v1_data_transformation_fields_move_to_transform_param():
    net = parse_net("layers { name: 'd' type: DATA top: 'd' "
                    "  data_param { source: 'db' batch_size: 4 scale: 0.5 mirror: true } } "
                    "layers { name: 'i' type: IMAGE_DATA top: 'i' "
                    "  image_data_param { source: 's' } }")
    result = upgrade_net(net)
    data, images = result.net.layer
    assert text_format.MessageToString(data.transform_param, as_one_line=True) == \
        "scale: 0.5 mirror: true"
    assert text_format.MessageToString(data.data_param, as_one_line=True) == \
        'source: "db" batch_size: 4'
    # Caffe's macro calls mutable_transform_param() on every data layer: present, even empty.
    assert images.HasField("transform_param") and images.transform_param.ByteSize() == 0
    moved = [c.path for c in result.changes if c.stage == "UpgradeNetDataTransformation"]
    assert moved == [("layers", 0, "data_param", "scale"), ("layers", 0, "data_param", "mirror")]


def test_v1_param_specs_merge_by_index():
    net = parse_net("layers { name: 'c' type: CONVOLUTION param: 'w' blob_share_mode: PERMISSIVE "
                    "blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0 }")
    result = upgrade_net(net)
    expected = [text_format.Parse(t, caffe_pb2.ParamSpec()) for t in (
        "name: 'w' share_mode: PERMISSIVE lr_mult: 1 decay_mult: 1", "lr_mult: 2 decay_mult: 0")]
    assert list(result.net.layer[0].param) == expected
    paths = {c.message: c.path for c in result.changes}
    assert paths["blobs_lr[1] -> param[1].lr_mult"] == ("layers", 0, "blobs_lr", 1)


def test_type_tables_cover_caffe_enums():
    # Caffe's TestUpgradeV1LayerType walks every V1 enum value; every V0 type maps to one.
    v1_enum = caffe_pb2.V1LayerParameter.LayerType
    assert set(v1_enum.keys()) <= set(V1_LAYER_TYPES)
    assert set(V0_LAYER_TYPES.values()) <= set(v1_enum.keys())


# --- solver, binary nets ----------------------------------------------------------------------

def test_solver_type_enum_becomes_string():
    solver = caffe_pb2.SolverParameter(solver_type=caffe_pb2.SolverParameter.NESTEROV)
    result = upgrade_solver(solver)
    assert result.solver.type == "Nesterov" and not result.solver.HasField("solver_type")
    both = caffe_pb2.SolverParameter(solver_type=caffe_pb2.SolverParameter.ADAM, type="Adam")
    with pytest.raises(UpgradeError):
        upgrade_solver(both)


def test_v0_caffemodel_blobs_move_with_their_layers():
    weights = np.arange(24, dtype=np.float32)
    blob = caffe_pb2.BlobProto(num=2, channels=3, height=2, width=2)
    blob.data.extend(weights)
    conv = v0_layer("conv1", "conv", ["pad1"], ["conv1"], "num_output: 2")
    net = parse_net("input: 'data' " + PAD + conv)
    net.layers[1].layer.blobs.add().CopyFrom(blob)
    binary = caffe_pb2.NetParameter.FromString(net.SerializeToString())
    result = upgrade_caffemodel_net(binary)
    conv = result.net.layer[0]     # the bare input is dropped, the padding layer folded
    assert (conv.name, conv.type, list(conv.bottom)) == ("conv1", "Convolution", ["data"])
    assert conv.blobs[0].SerializeToString() == blob.SerializeToString()
    assert result.layer_origin == [("layers", 1)]
