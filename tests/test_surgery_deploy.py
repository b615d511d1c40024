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


# -- what replaces each kind of loss --------------------------------------------------------------

@pytest.mark.parametrize("model, inputs", [
    ("mnist/lenet", {"data": (64, 1, 28, 28)}),
    ("cifar10/cifar10_quick", {"data": (1, 3, 32, 32)}),
    ("cifar10/cifar10_full", {"data": (1, 3, 32, 32)}),
])
def test_matches_bvlc_example_deploy(corpus, model, inputs):
    """The examples' deploy files name their Input 'data' where ours keeps the data layer's
    name; every other layer and every shape agree."""
    examples = corpus / "BVLC_caffe/examples"
    result = make_deploy(load_net(str(examples / f"{model}_train_test.prototxt")), inputs)
    bvlc = load_net(str(examples / f"{model}.prototxt"))
    assert layer_table(result.loaded.network)[1:] == layer_table(bvlc.network)[1:]
    ours, theirs = infer_shapes(result.loaded.network), infer_shapes(bvlc.network)
    assert ours.by_name()["prob"] == theirs.by_name()["prob"]
    assert len(result.notes) == 1 and "replaced by Softmax 'prob' on 'ip" in result.notes[0]


@pytest.mark.parametrize("train_val, deploy, inputs, note", [
    ("BVLC_caffe/examples/siamese/mnist_siamese_train_test.prototxt",
     "BVLC_caffe/examples/siamese/mnist_siamese.prototxt", {"pair_data": (100, 2, 28, 28)},
     "ContrastiveLoss 'loss' removed; its bottom 'feat' (the first branch's features"),
    ("opencv_opencv_contrib/modules/cnn_3dobj/samples/build/linemod_triplet_train_test.prototxt",
     "opencv_opencv_contrib/modules/cnn_3dobj/samples/build/linemod_triplet.prototxt",
     {"triplet_data": (100, 3, 150, 130)}, "TripletLoss 'loss' removed; its bottom 'feat' ("),
])
def test_embedding_losses_keep_the_first_branch(corpus, train_val, deploy, inputs, note):
    """Both deploy files feed one image to one branch; ours keeps the pair/triplet Input and
    its Slice (the other images of each tuple go unused), then the same layers and shapes."""
    result = make_deploy(load_net(str(corpus / train_val)), inputs)
    theirs = load_net(str(corpus / deploy))
    assert layer_table(result.loaded.network)[2:] == layer_table(theirs.network)[1:]
    one_image = (100, 1) + next(iter(inputs.values()))[2:]
    ours = infer_shapes(result.loaded.network).by_name()
    expected = infer_shapes(theirs.network, {theirs.network.inputs[0].name: one_image}).by_name()
    assert {b: ours[b] for b in expected} == expected
    assert result.added == [] and len(result.notes) == 1
    assert note in result.notes[0] and "go" in result.notes[0]  # the other branches went


def small_net(*layers: str) -> str:
    return DATA_HEAD + (
        'layer { name: "d" type: "DummyData" top: "data" top: "label" dummy_data_param '
        '{ shape { dim: 2 dim: 3 } shape { dim: 2 dim: 4 } } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
        'inner_product_param { num_output: 4 } }\n') + "".join(f"layer {{ {x} }}\n" for x in layers)


@pytest.mark.parametrize("loss, table_end, outputs, note", [
    ("SoftmaxWithLoss", ("prob", "Softmax"), ["prob"],
     "SoftmaxWithLoss 'loss' replaced by Softmax 'prob' on 'ip', the softmax the loss applies "
     "internally"),
    ("SigmoidCrossEntropyLoss", ("prob", "Sigmoid"), ["prob"],
     "SigmoidCrossEntropyLoss 'loss' replaced by Sigmoid 'prob' on 'ip', the sigmoid the loss "
     "applies internally"),
    ("InfogainLoss", ("prob", "Softmax"), ["prob"], "replaced by Softmax 'prob' on 'ip'"),
    ("EuclideanLoss", ("ip", "InnerProduct"), ["ip"],
     "EuclideanLoss 'loss' removed; its bottom 'ip' (the prediction) stays the net output"),
    ("HingeLoss", ("ip", "InnerProduct"), ["ip"], "its bottom 'ip' (the class scores)"),
    ("MultinomialLogisticLoss", ("ip", "InnerProduct"), ["ip"],
     "its bottom 'ip' (probabilities already: the loss takes them as they are)"),
])
def test_each_caffe_loss(loss, table_end, outputs, note):
    result = deploy_of(small_net(f'name: "loss" type: "{loss}" bottom: "ip" bottom: "label" '
                                 'top: "loss"'))
    network = result.loaded.network
    assert layer_table(network)[-1] == table_end
    assert [b.name for b in network.outputs] == outputs
    assert len(result.notes) == 1 and result.notes[0].startswith(f"train_val.prototxt: {loss} ")
    assert note in result.notes[0]
    assert result.added == (["prob"] if table_end[0] == "prob" else [])


def test_softmax_keeps_the_loss_axis():
    result = deploy_of(small_net('name: "loss" type: "SoftmaxWithLoss" bottom: "ip" '
                                 'bottom: "label" top: "loss" softmax_param { axis: 1 }'))
    assert "softmax_param {\n    axis: 1\n  }" in result.text


def test_infogain_after_a_softmax_adds_nothing():
    """Before 2017 InfogainLoss took probabilities: a net written so keeps its Softmax."""
    result = deploy_of(small_net(
        'name: "sm" type: "Softmax" bottom: "ip" top: "p"',
        'name: "loss" type: "InfogainLoss" bottom: "p" bottom: "label" top: "loss" '
        'infogain_loss_param { source: "H.binaryproto" }'))
    assert layer_table(result.loaded.network)[-1] == ("sm", "Softmax") and result.added == []
    assert "its bottom 'p' (probabilities already: a Softmax layer's output" in result.notes[0]


def test_unknown_loss_type_keeps_its_computed_bottoms_and_says_so():
    """A fork's loss (SqueezeDet's reads three predictions and the boxes): every bottom that
    is not a data-layer top stays an output, and the note asks to check them."""
    result = deploy_of(small_net(
        'name: "conf" type: "InnerProduct" bottom: "data" top: "conf" '
        'inner_product_param { num_output: 1 }',
        'name: "loss" type: "SqueezeDetLoss" bottom: "ip" bottom: "conf" bottom: "label" '
        'top: "loss"'))
    assert sorted(b.name for b in result.loaded.network.outputs) == ["conf", "ip"]
    assert len(result.notes) == 1
    assert ("SqueezeDetLoss 'loss' removed; SqueezeDetLoss is no loss type this tool knows, so "
            "its bottoms that are not data-layer tops stay net outputs ('ip', 'conf') and no "
            "activation is added: check") in result.notes[0]


def test_any_layer_with_a_loss_weight_is_a_loss():
    """Caffe counts the top of any layer with a loss_weight in the objective (pycaffe's
    linreg example: a Python loss).  One whose top other layers read is kept."""
    result = deploy_of(small_net(
        'name: "act" type: "ReLU" bottom: "ip" top: "act" loss_weight: 0.01',
        'name: "ip2" type: "InnerProduct" bottom: "act" top: "ip2" '
        'inner_product_param { num_output: 4 }',
        'name: "l1" type: "Python" bottom: "ip2" bottom: "label" top: "l1" loss_weight: 1 '
        'python_param { module: "losses" layer: "L1" }'))
    assert layer_table(result.loaded.network) == [
        ("d", "Input"), ("ip", "InnerProduct"), ("act", "ReLU"), ("ip2", "InnerProduct")]
    assert [b.name for b in result.loaded.network.outputs] == ["ip2"]
    assert result.notes == [
        "train_val.prototxt: ReLU 'act' has loss_weight 0.01 (a loss term in Caffe) but other "
        "layers read its top: kept as it is",
        "train_val.prototxt: Python 'l1' (loss_weight 1: a loss in Caffe) removed; Python is no "
        "loss type this tool knows, so its bottoms that are not data-layer tops stay net outputs "
        "('ip2') and no activation is added: check which are predictions and what the loss "
        "applied to them"]


def test_weight_zero_losses_and_train_only_layers_go():
    """MNIST autoencoder style: the weighted sigmoid cross-entropy gives the output; the
    EuclideanLoss weighted 0 (a monitor) goes with the Sigmoid only it read; TRAIN-only layers
    are not in the TEST net at all."""
    result = deploy_of(small_net(
        'name: "drop" type: "Dropout" bottom: "ip" top: "ip" include { phase: TRAIN }',
        'name: "xent" type: "SigmoidCrossEntropyLoss" bottom: "ip" bottom: "label" '
        'top: "xent" loss_weight: 1',
        'name: "neuron" type: "Sigmoid" bottom: "ip" top: "neuron"',
        'name: "l2" type: "EuclideanLoss" bottom: "neuron" bottom: "label" top: "l2" '
        'loss_weight: 0',
        'name: "extra" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "extra" '
        'include { phase: TRAIN }'))
    assert layer_table(result.loaded.network) == [
        ("d", "Input"), ("ip", "InnerProduct"), ("prob", "Sigmoid")]
    assert dict(result.removed) == {"neuron": "feeds only removed layers", "l2": "loss",
                                    "d": "data layer, replaced by an Input layer"}
    assert len(result.notes) == 2 and "replaced by Sigmoid 'prob' on 'ip'" in result.notes[0]
    assert result.notes[1] == ("train_val.prototxt: EuclideanLoss 'l2' removed with the layers "
                               "only it fed: an auxiliary loss (weight 0, the main loss 1)")
    assert "drop" not in result.text and "extra" not in result.text


def test_several_activations_are_named_after_their_blobs():
    result = deploy_of(small_net(
        'name: "attr" type: "InnerProduct" bottom: "data" top: "attr" '
        'inner_product_param { num_output: 5 }',
        'name: "cls_loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "cls_loss"',
        'name: "attr_loss" type: "SigmoidCrossEntropyLoss" bottom: "attr" bottom: "label" '
        'top: "attr_loss"',
        'name: "again" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "again"'))
    assert result.added == ["ip_prob", "attr_prob"]
    assert layer_table(result.loaded.network)[-2:] == [("ip_prob", "Softmax"),
                                                       ("attr_prob", "Sigmoid")]
    assert result.notes[2] == ("train_val.prototxt: SoftmaxWithLoss 'again' removed: Softmax "
                               "'ip_prob' already follows 'ip'")


def test_prob_stays_the_name_when_the_train_net_had_its_own_prob():
    """A Softmax 'prob' read only by Accuracy goes; the new one takes its name."""
    result = deploy_of(small_net(
        'name: "prob" type: "Softmax" bottom: "ip" top: "prob"',
        'name: "acc" type: "Accuracy" bottom: "prob" bottom: "label" top: "acc"',
        'name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss"'))
    assert result.added == ["prob"]
    assert layer_table(result.loaded.network) == [("d", "Input"), ("ip", "InnerProduct"),
                                                  ("prob", "Softmax")]


def test_cli_prints_one_note_per_loss(tmp_path, capsys):
    source = tmp_path / "train_val.prototxt"
    source.write_text(small_net(
        'name: "a" type: "SigmoidCrossEntropyLoss" bottom: "ip" bottom: "label" top: "a"',
        'name: "b" type: "HingeLoss" bottom: "ip" bottom: "label" top: "b" loss_weight: 0.5'))
    assert main(["deploy", str(source), "-o", str(tmp_path / "deploy.prototxt")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "'a'" in line] == [
        f"{source}: SigmoidCrossEntropyLoss 'a' replaced by Sigmoid 'prob' on 'ip', the sigmoid "
        "the loss applies internally"]
    assert [line for line in err if "'b'" in line] == [
        f"{source}: HingeLoss 'b' removed with the layers only it fed: an auxiliary loss (weight "
        "0.5, the main loss 1)"]
