"""deploy: a train_val net becomes its deploy net.

Proof against BVLC's own pairs (models/*/train_val.prototxt vs deploy.prototxt): same layer
names and types in order and the same blob shapes.  BVLC's deploy files feed 10 images while
the TEST data layers read batches of 50 (and an LMDB's channels are not in the prototxt), so
those tests pass ``--input data=10,3,H,W``; that is the one intended difference.  BVLC's
deploy files also drop ``param``/filler blocks, which we keep (they are harmless at TEST time
and the output stays an edit of the user's file).
"""

from __future__ import annotations

import pytest

from prototxt_tools.cli import main
from prototxt_tools.errors import PrototxtToolsError, ShapeError
from prototxt_tools.ir import NetState
from prototxt_tools.lint.registry import all_rules
from prototxt_tools.lint.runner import lint_source
from prototxt_tools.load import load_net
from prototxt_tools.shapes.network import infer_shapes
from prototxt_tools.surgery import make_deploy

MODELS = "BVLC_caffe/models/"
DEFAULT_RULES = frozenset(r.code for r in all_rules() if r.default)


def deploy_of(text: str, inputs=None, state=None, path: str = "train_val.prototxt"):
    return make_deploy(load_net(path, state, text=text), inputs, state)


def layer_table(network) -> list:
    return [(layer.name, layer.type) for layer in network.layers]


@pytest.mark.parametrize("model, inputs", [
    ("bvlc_reference_caffenet", {"data": (10, 3, 227, 227)}),
    ("bvlc_alexnet", {"data": (10, 3, 227, 227)}),
    ("bvlc_googlenet", {"data": (10, 3, 224, 224)}),
    ("finetune_flickr_style", {"data": (10, 3, 227, 227)}),
])
def test_matches_bvlc_deploy(corpus, model, inputs):
    train_val = corpus / MODELS / model / "train_val.prototxt"
    bvlc = load_net(str(corpus / MODELS / model / "deploy.prototxt"))
    result = make_deploy(load_net(str(train_val)), inputs)
    assert layer_table(result.loaded.network) == layer_table(bvlc.network)
    assert infer_shapes(result.loaded.network).by_name() == infer_shapes(bvlc.network).by_name()
    assert "label" not in result.text and "include" not in result.text
    assert result.added == ["prob"]
    # lint-clean, as BVLC's own deploy file
    assert lint_source(str(train_val), DEFAULT_RULES, text=result.text) == []
    assert lint_source(str(corpus / MODELS / model / "deploy.prototxt"), DEFAULT_RULES) == []


def test_v1_train_val_gives_the_same_deploy(corpus):
    v1 = next((corpus / "BVLC_caffe/_history").glob("*/models/bvlc_googlenet/train_val.prototxt"))
    bvlc = load_net(str(corpus / MODELS / "bvlc_googlenet/deploy.prototxt"))
    result = make_deploy(load_net(str(v1)), {"data": (10, 3, 224, 224)})
    assert result.notes and "current format" in result.notes[0]
    assert layer_table(result.loaded.network) == layer_table(bvlc.network)
    assert infer_shapes(result.loaded.network).by_name() == infer_shapes(bvlc.network).by_name()


def test_shape_from_the_prototxt_when_it_tells(corpus):
    """GoogLeNet: TEST batch_size 50, crop_size 224, three mean_values = three channels."""
    result = make_deploy(load_net(str(corpus / MODELS / "bvlc_googlenet/train_val.prototxt")))
    assert result.inputs == {"data": (50, 3, 224, 224)}
    # the auxiliary classifiers (loss_weight 0.3) go with their losses; the main one stays
    names = {layer.name for layer in result.loaded.network.layers}
    assert not any(n.startswith(("loss1/", "loss2/")) for n in names)
    assert "loss3/classifier" in names
    removed = dict(result.removed)
    assert removed["loss1/fc"] == "feeds only removed layers" and removed["loss3/top-5"] == "Accuracy"


def test_unknown_channels_ask_for_input(corpus, capsys):
    path = corpus / MODELS / "bvlc_alexnet/train_val.prototxt"
    with pytest.raises(ShapeError, match=r"channels .* --input data=50,C,227,227") as info:
        make_deploy(load_net(str(path)))
    assert info.value.line == 21  # the TEST data layer
    assert main(["deploy", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "--input data=50,C,227,227" in err


TRAIN_VAL = """\
# a small train/val net
name: "Small"
layer {
  name: "mnist"
  type: "Data"
  top: "data"
  top: "label"
  include { phase: TRAIN }
  transform_param { scale: 0.00390625 }
  data_param { source: "train_lmdb" batch_size: 64 backend: LMDB }
}
layer {
  name: "mnist"
  type: "Data"
  top: "data"
  top: "label"
  include {
    phase: TEST
  }
  transform_param { scale: 0.00390625 crop_size: 24 force_gray: true }
  data_param { source: "test_lmdb" batch_size: 100 backend: LMDB }
}
# the features
layer {
  name: "conv1"  # first convolution
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param { lr_mult: 1 }
  convolution_param { num_output: 20 kernel_size: 5 }  # 20 maps
}
layer { name: "only_test" type: "Power" bottom: "conv1" top: "conv1" exclude { phase: TRAIN } }
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "conv1"
  top: "ip"
  inner_product_param { num_output: 10 }
}
layer { name: "accuracy" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
layer {
  name: "loss"  # trained with this
  type: "SoftmaxWithLoss"
  bottom: "ip"
  bottom: "label"
  top: "loss"
}
"""

EXPECTED_DEPLOY = """\
# a small train/val net
name: "Small"
# Input replaces Data layer 'mnist' (scale: 0.00390625, crop_size: 24, force_gray: true): preprocess inputs the same way
layer {
  name: "mnist"
  type: "Input"
  top: "data"
  input_param { shape: { dim: 100 dim: 1 dim: 24 dim: 24 } }
}
# the features
layer {
  name: "conv1"  # first convolution
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param { lr_mult: 1 }
  convolution_param { num_output: 20 kernel_size: 5 }  # 20 maps
}
layer { name: "only_test" type: "Power" bottom: "conv1" top: "conv1" }
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "conv1"
  top: "ip"
  inner_product_param { num_output: 10 }
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "ip"
  top: "prob"
}
"""


def test_edits_keep_comments_and_layout():
    """Hand-written expectation: TRAIN data layer gone, TEST one an Input (batch 100, force_gray
    -> 1 channel, crop 24), include/exclude dropped, accuracy gone, the loss a Softmax."""
    result = deploy_of(TRAIN_VAL)
    assert result.text == EXPECTED_DEPLOY
    assert result.inputs == {"data": (100, 1, 24, 24)}
    assert lint_source("deploy.prototxt", DEFAULT_RULES, text=result.text) == []


def test_train_val_indented_with_tabs_and_crlf():
    text = TRAIN_VAL.replace("  ", "\t").replace("\n", "\r\n")
    result = deploy_of(text)
    assert result.text == EXPECTED_DEPLOY.replace("  ", "\t").replace("\n", "\r\n")


DATA_HEAD = 'name: "n"\n'
TAIL = ('layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
        'inner_product_param { num_output: 2 } }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }\n')


@pytest.mark.parametrize("layer, shape", [
    ('type: "MemoryData" memory_data_param { batch_size: 4 channels: 2 height: 5 width: 6 }',
     (4, 2, 5, 6)),
    ('type: "ImageData" image_data_param { source: "l.txt" batch_size: 8 new_height: 32 '
     'new_width: 40 is_color: false }', (8, 1, 32, 40)),
    ('type: "Data" transform_param { crop_size: 9 force_color: true } data_param { batch_size: 3 }',
     (3, 3, 9, 9)),
    ('type: "DummyData" dummy_data_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } shape { dim: 2 } }',
     (2, 3, 4, 4)),
])
def test_data_layer_shapes(layer, shape):
    text = DATA_HEAD + f'layer {{ name: "d" top: "data" top: "label" {layer} }}\n' + TAIL
    result = deploy_of(text)
    assert result.inputs == {"data": shape}
    assert infer_shapes(result.loaded.network).by_name()["prob"] == (shape[0], 2)


@pytest.mark.parametrize("layer", [
    'type: "HDF5Data" hdf5_data_param { source: "h5.txt" batch_size: 4 }',
    'type: "Python" python_param { module: "m" layer: "L" }',
    'type: "Data" data_param { batch_size: 3 }',
])
def test_data_layers_needing_input(layer):
    text = DATA_HEAD + f'layer {{ name: "d" top: "data" top: "label" {layer} }}\n' + TAIL
    with pytest.raises(ShapeError, match="--input data="):
        deploy_of(text)
    assert deploy_of(text, {"data": (1, 3, 8, 8)}).inputs == {"data": (1, 3, 8, 8)}


def test_input_naming_a_label_or_nothing_is_refused():
    text = DATA_HEAD + 'layer { name: "d" type: "Data" top: "data" top: "label" data_param { batch_size: 3 } }\n' + TAIL
    for name in ("label", "nope"):
        with pytest.raises(PrototxtToolsError, match=f"--input names {name}"):
            deploy_of(text, {"data": (1, 3, 8, 8), name: (1,)})


def test_multi_task_keeps_every_main_output():
    """Two losses of equal weight: the Euclidean one's prediction stays a net output, the
    softmax one gets prob; a Silence layer goes."""
    text = DATA_HEAD + (
        'layer { name: "d" type: "DummyData" top: "data" top: "label" top: "box" dummy_data_param '
        '{ shape { dim: 2 dim: 3 } shape { dim: 2 } shape { dim: 2 dim: 4 } } }\n'
        'layer { name: "cls" type: "InnerProduct" bottom: "data" top: "cls" inner_product_param { num_output: 2 } }\n'
        'layer { name: "reg" type: "InnerProduct" bottom: "data" top: "reg" inner_product_param { num_output: 4 } }\n'
        'layer { name: "unused" type: "Silence" bottom: "reg" }\n'
        'layer { name: "l1" type: "SoftmaxWithLoss" bottom: "cls" bottom: "label" top: "l1" }\n'
        'layer { name: "l2" type: "EuclideanLoss" bottom: "reg" bottom: "box" top: "l2" }\n')
    result = deploy_of(text)
    assert result.inputs == {"data": (2, 3)}
    assert layer_table(result.loaded.network) == [
        ("d", "Input"), ("cls", "InnerProduct"), ("reg", "InnerProduct"), ("prob", "Softmax")]
    assert sorted(b.name for b in result.loaded.network.outputs) == ["prob", "reg"]


def test_stage_rules_follow_the_net_state():
    text = DATA_HEAD + (
        'layer { name: "d" type: "DummyData" top: "data" top: "label" dummy_data_param '
        '{ shape { dim: 2 dim: 3 } shape { dim: 2 } } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }\n'
        'layer { name: "extra" type: "ReLU" bottom: "ip" top: "ip" include { stage: "deploy" } }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }\n')
    without = deploy_of(text)
    with_stage = deploy_of(text, state=NetState.of("TEST", stages=["deploy"]))
    assert "extra" not in without.text
    assert 'layer { name: "extra" type: "ReLU" bottom: "ip" top: "ip" }' in with_stage.text


def test_cli_writes_atomically_and_never_touches_the_input(tmp_path, capsys):
    source = tmp_path / "train_val.prototxt"
    source.write_text(TRAIN_VAL)
    assert main(["deploy", str(source)]) == 0
    out, err = capsys.readouterr()
    assert out == EXPECTED_DEPLOY
    assert "removed" in err and "accuracy (Accuracy)" in err and "Softmax 'prob'" in err
    assert main(["deploy", str(source), "-o", "-"]) == 0
    assert capsys.readouterr().out == EXPECTED_DEPLOY
    target = tmp_path / "deploy.prototxt"
    assert main(["deploy", str(source), "-o", str(target)]) == 0
    assert target.read_text() == EXPECTED_DEPLOY and capsys.readouterr().out == ""
    assert main(["deploy", str(source), "-o", str(source)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert source.read_text() == TRAIN_VAL
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_latin1_comments_stay_byte_for_byte(tmp_path):
    source = tmp_path / "train_val.prototxt"
    data = TRAIN_VAL.replace("# the features", "# caract\xe9ristiques").encode("latin-1")
    source.write_bytes(data)
    target = tmp_path / "deploy.prototxt"
    assert main(["deploy", str(source), "-o", str(target)]) == 0
    assert b"# caract\xe9ristiques\n" in target.read_bytes()
