"""Shape rules (E2xx/W201) and weight rules (E3xx/W302) through the real providers.

The fixtures' expected positions are in test_lint_rules.CASES; here: the AlexNet seed case
through the CLI, ``--input``, the shape rules against what real Caffe built or refused, W414
through our shapes against W414 through Caffe's, and the weight rules with caffemodels written
into tmp_path -- hand-specified ones for the fixtures, and mutated copies of real trained ones.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prototxt_tools.caffemodel import read_caffemodel, write_caffemodel
from prototxt_tools.cli.lint import main
from prototxt_tools.lint import LintOptions, all_rules, lint_source
from prototxt_tools.lint import context as lint_context
from prototxt_tools.load import load_net
from prototxt_tools.schema import NetParameter, V1LayerParameter

from conftest import CORPUS, REPO, corpus_available

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lint"
SHAPE_CODES = frozenset(r.code for r in all_rules() if r.code[1] == "2")
WEIGHT_CODES = frozenset(r.code for r in all_rules() if r.code[1] == "3")
SEED = ("samples/alexnet.prototxt:219:5: E201 [*] fc6: kernel 7×7 is larger than its input "
        "pool5 (256×6×6, pad 0) — use kernel_size: 6 to cover the whole input")


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "prototxt_tools", "lint", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, encoding="utf-8")


def codes(path, selected, **options) -> list[tuple]:
    found = lint_source(str(path), frozenset(selected), LintOptions(**options))
    return [(d.code, d.line, d.col) for d in found]


# -- the seed case ---------------------------------------------------------------------------------

def test_alexnet_fc6_kernel_7_on_pool5_6x6():
    """pool5 is 256x6x6 for a 227x227 input (caffe-notes): a 7x7 fc6 cannot be placed."""
    result = cli("samples/alexnet.prototxt")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [SEED, "Found 1 problem (1 error).",
                                          "[*] 1 fixable with `prototxt-fix`."]


def test_alexnet_with_kernel_6_is_clean(tmp_path):
    text = (REPO / "samples/alexnet.prototxt").read_text()
    fixed = tmp_path / "alexnet.prototxt"
    fixed.write_text(text.replace("kernel_size: 7", "kernel_size: 6"))
    result = cli(str(fixed))
    assert (result.returncode, result.stdout) == (0, "All checks passed!\n")


def test_alexnet_stride_2_overhang_is_a_warning(tmp_path):
    """(6 - 7) / 2 + 1 = 1 in C: Caffe builds it; W201 says so, at the same kernel_size."""
    text = (REPO / "samples/alexnet.prototxt").read_text()
    path = tmp_path / "alexnet.prototxt"
    path.write_text(text.replace("    kernel_size: 7\n", "    kernel_size: 7\n    stride: 2\n"))
    found = lint_source(str(path), SHAPE_CODES)
    assert [(d.code, d.line, d.col) for d in found] == [("W201", 219, 5)]
    assert "1×1 output" in found[0].message and "use kernel_size: 6" in found[0].message


def test_kernel_messages():
    found = lint_source(str(FIXTURES / "E201.prototxt"), frozenset({"E201"}))
    fc6, wide, dilated, pool = (d.message for d in found)
    assert wide == ("wide: kernel 3×9 is larger than its input data (8×6×6, pad 0) — Caffe's "
                    "output size (6 - 9) / 1 + 1 = -2")
    assert dilated.startswith("dilated: kernel 3×3 with dilation 3 (spanning 7×7)")
    assert pool.endswith("use global_pooling: true (or kernel_size: 6) to cover the whole input")
    # a 6x5 input: the kernel covering it is non-square
    text = (FIXTURES / "E201.prototxt").read_text().replace("dim: 6 dim: 6", "dim: 6 dim: 5")
    found = lint_source("nonsquare.prototxt", frozenset({"E201"}), text=text)
    assert found[0].message == ("fc6: kernel 7×7 is larger than its input data (8×6×5, pad 0) "
                                "— use kernel_h: 6 kernel_w: 5 to cover the whole input")


# -- --input ---------------------------------------------------------------------------------------

@pytest.fixture
def alexnet6(tmp_path) -> Path:
    path = tmp_path / "alexnet.prototxt"
    path.write_text((REPO / "samples/alexnet.prototxt").read_text()
                    .replace("kernel_size: 7", "kernel_size: 6"))
    return path


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_input_override_small_image(alexnet6, capsys):
    """100x100: conv1 (100-11)/4+1 = 23, pool1 ceil(20/2)+1 = 11, conv2 (11+4-5)+1 = 11,
    pool2 ceil(8/2)+1 = 5, conv3-5 stay 5, pool5 ceil(2/2)+1 = 2: fc6's 6x6 no longer fits."""
    code, out, _ = run(["--isolated", "--input", "data=1,3,100,100", alexnet6], capsys)
    assert code == 1
    assert out.splitlines()[0] == (f"{alexnet6}:219:5: E201 [*] fc6: kernel 6×6 is larger than "
                                   "its input pool5 (256×2×2, pad 0) — use kernel_size: 2 to "
                                   "cover the whole input")


def test_input_override_large_image_is_fine_and_too_large_batch_is_not(alexnet6, capsys):
    assert run(["--isolated", "--input", "data=1,3,451,451", alexnet6], capsys)[0] == 0
    # 100000 x 3 x 451 x 451 = 61,020,300,000 > 2^31 - 1
    code, out, _ = run(["--isolated", "--input", "data=100000,3,451,451", alexnet6], capsys)
    assert code == 1 and out.startswith(f"{alexnet6}:10:3: E211 data: ")


def test_input_override_usage_errors(alexnet6, tmp_path, capsys):
    code, _, err = run(["--input", "dta=1,3,9,9", alexnet6], capsys)
    assert code == 2 and "has no input of that name (inputs: data)" in err
    code, _, err = run(["--input", "data=1,3,a", alexnet6], capsys)
    assert code == 2 and "dimensions must be integers" in err
    other = tmp_path / "other.prototxt"
    other.write_text(alexnet6.read_text())
    code, _, err = run(["--input", "data=1,3,9,9", alexnet6, other], capsys)
    assert code == 2 and "--input needs exactly one net" in err


# -- real Caffe: what it built, what it refused ----------------------------------------------------

def caffe_results() -> dict:
    if not corpus_available():
        return {}
    return json.loads((CORPUS / "caffe_shapes" / "shapes.json").read_text())


BUILT = sorted(k for k, v in caffe_results().items() if v["built"])


@pytest.mark.parametrize("name", BUILT or ["<corpus absent>"])
def test_no_shape_findings_on_nets_caffe_built(name):
    if not BUILT:
        pytest.skip("../shared/corpus is absent")
    assert codes(CORPUS / name, SHAPE_CODES) == []


# Caffe's failed CHECK -> the rule that reports it
CAFFE_SHAPE_CHECKS = [(r"blob size exceeds INT_MAX", "E211"),
                      (r"pad_h_ < kernel_h_|pad_w_ < kernel_w_", "E203"),
                      (r"channels_ % group_|multiples of group", "E209"),
                      (r"out-of-bounds", "E206"),
                      (r"Incompatible number of blobs", "E303"),
                      (r"Cannot copy param", "E304")]
REFUSED = sorted((k, code) for k, v in caffe_results().items() if not v["built"]
                 for pattern, code in CAFFE_SHAPE_CHECKS if re.search(pattern, v["caffe_error"]))


@pytest.mark.parametrize("name,code", REFUSED or [("<corpus absent>", "")])
def test_shape_refusals_of_real_caffe_are_reported(name, code):
    if not REFUSED:
        pytest.skip("../shared/corpus is absent")
    assert code in {c for c, _, _ in codes(CORPUS / name, SHAPE_CODES)}


def test_linemod_triplet_int_max(corpus):
    """Caffe: 'shape[i] <= 0x7fffffff / count_ (126 vs. 73) blob size exceeds INT_MAX'."""
    path = corpus / "opencv_opencv_contrib/modules/cnn_3dobj/samples/build/linemod_triplet.prototxt"
    found = lint_source(str(path), SHAPE_CODES)
    assert [d.code for d in found] == ["E211"]
    assert "(126 vs. 73)" in found[0].message


class CaffeShapes:
    """Blob shapes real Caffe computed, by blob name (the final version of each name)."""

    def __init__(self, shapes: dict):
        self.shapes = shapes

    def shape_of(self, blob):
        shape = self.shapes.get(blob.name)
        return tuple(shape) if shape is not None else None


@pytest.mark.parametrize("name", BUILT or ["<corpus absent>"])
def test_w414_through_our_shapes_equals_w414_through_caffes(name, monkeypatch):
    """W414 reads a pooling layer's input shape; ours must give what Caffe's gives.  (In-place
    layers never change shapes, so Caffe's final shape per name is every version's shape.)"""
    if not BUILT:
        pytest.skip("../shared/corpus is absent")
    path = str(CORPUS / name)
    ours = [(d.line, d.col, d.message) for d in lint_source(path, frozenset({"W414"}))]
    shapes = caffe_results()[name]["shapes"]
    monkeypatch.setitem(lint_context.PROVIDERS, "shapes", lambda ctx: CaffeShapes(shapes))
    theirs = [(d.line, d.col, d.message) for d in lint_source(path, frozenset({"W414"}))]
    assert ours == theirs


# -- weights: the fixtures, with hand-specified caffemodels ----------------------------------------

def blobs(*shapes) -> list:
    return [np.zeros(s, "<f4") for s in shapes]


# fixture -> caffemodel layers (name, type, blob shapes), expected (code, line, col)
WEIGHT_CASES = {
    "E301": ([("conv1", "Convolution", [(4, 3, 3, 3), (4,)]),
              ("conv2_old", "Convolution", [(4, 4, 3, 3), (4,)]), ("loss", "SoftmaxWithLoss", [])],
             [("E301", 7, 9), ("E301", 8, 9)]),  # conv2, bn; not relu1, not the bilinear up
    "W302": ([("conv1", "Convolution", [(4, 3, 3, 3), (4,)]),
              ("conv2_x", "Convolution", [(4, 4, 3, 3), (4,)]),
              ("fc_old", "InnerProduct", [(10, 20), (10,)]), ("relu", "ReLU", [])],
             [("W302", 4, 1), ("W302", 7, 9)]),  # fc_old at the net's name, conv2_x at conv2
    "E303": ([("conv1", "Convolution", [(4, 3, 3, 3)]),
              ("conv2", "Convolution", [(4, 4, 3, 3), (4,)]),
              ("bn", "BatchNorm", [(4,), (4,), (1,)])],
             [("E303", 5, 9), ("E303", 6, 121)]),  # conv1's name, conv2's bias_term
    "E304": ([("fc6", "InnerProduct", [(8, 144), (8,)]),
              ("conv1", "Convolution", [(4, 3, 5, 5), (4,)]),
              ("fc7", "InnerProduct", [(1, 1, 10, 144), (1, 1, 1, 10)]),
              ("fc8", "InnerProduct", [(10, 144), (1, 10)])],
             [("E304", 5, 9), ("E304", 7, 9), ("E304", 11, 9)]),  # not the legacy fc7
    "E305": ([("fc", "InnerProduct", [(10, 144), (10,)])], [("E305", 5, 41)]),
}
LEGACY = {("fc7", 0), ("fc7", 1)}  # stored with num/channels/height/width


def write_model(path: Path, layers: list) -> Path:
    net = NetParameter(name="trained")
    weights = {}
    for name, kind, shapes in layers:
        layer = net.layer.add(name=name, type=kind)
        for j, shape in enumerate(shapes):
            blob = layer.blobs.add()
            if (name, j) in LEGACY:
                blob.num, blob.channels, blob.height, blob.width = shape
        weights[name] = blobs(*shapes)
    write_caffemodel(path, net, weights)
    return path


@pytest.mark.parametrize("fixture", sorted(WEIGHT_CASES))
def test_weight_rule_fixture(fixture, tmp_path):
    layers, expected = WEIGHT_CASES[fixture]
    model = write_model(tmp_path / "w.caffemodel", layers)
    assert codes(FIXTURES / f"{fixture}.prototxt", {fixture}, weights=str(model)) == expected


def test_weight_messages(tmp_path):
    def messages(fixture: str) -> list[str]:
        model = write_model(tmp_path / f"{fixture}.caffemodel", WEIGHT_CASES[fixture][0])
        found = lint_source(str(FIXTURES / f"{fixture}.prototxt"), frozenset({fixture}),
                            LintOptions(weights=str(model)))
        return [d.message for d in found]
    conv2, bn = messages("E301")
    assert "layer 'conv2_old' has weights of exactly its shapes" in conv2
    assert "random" not in conv2 and "all zeros (no weight_filler)" in conv2
    assert "mean, variance and scale factor are zeros" in bn
    fc6, conv1, fc8 = messages("E304")
    assert ("Source param shape is 8 144 (1152); target param shape is 8 4 6 6 (1152)" in fc6
            and "prototxt-tools fix --fc-to-conv" in fc6)
    assert "3 5 5 (300)" in conv1 and "the counts agree" not in conv1
    assert "parameter blob 1 is 1×10" in fc8 and "the counts agree (10)" in fc8
    (fc,) = messages("E305")
    assert "data is 4×7×7 = 196 values per item" in fc and "expect 144" in fc
    assert "(4×6×6: a 6×6 map where this net has 7×7)" in fc


def test_unreadable_weights(tmp_path, capsys):
    garbage = tmp_path / "garbage.caffemodel"
    garbage.write_bytes(b"\xff\xff\xff not a caffemodel")
    path = FIXTURES / "E300.prototxt"
    found = lint_source(str(path), frozenset({"E300"}) | WEIGHT_CODES,
                        LintOptions(weights=str(garbage)))
    assert [(d.code, d.line, d.col) for d in found] == [("E300", 1, 1)]
    assert "byte 0" in found[0].message
    code, _, err = run(["--weights", tmp_path / "absent.caffemodel", path], capsys)
    assert code == 2 and "no such file" in err


def test_weight_rules_need_weights():
    assert codes(FIXTURES / "E304.prototxt", WEIGHT_CODES) == []


# -- weights: real trained caffemodels -------------------------------------------------------------

def real_pairs() -> list[tuple[str, str]]:
    if not corpus_available():
        return []
    mtcnn = sorted(CORPUS.glob("kpzhang93_MTCNN_face_detection_alignment/code/codes/MTCNNv*/"
                               "model/det*.prototxt"))
    pairs = [(str(p.relative_to(CORPUS)), str(p.with_suffix(".caffemodel").relative_to(CORPUS)))
             for p in mtcnn]
    index = json.loads((CORPUS / "caffe_reference" / "index.json").read_text())
    return pairs + sorted((v["prototxt"], v["weights"]) for v in index.values())


PAIRS = real_pairs()


@pytest.mark.parametrize("prototxt,weights", PAIRS or [("<corpus absent>", "")])
def test_real_weights_fit_their_nets(prototxt, weights):
    """Nets real Caffe loaded these weights into: no weight error; W302 only for trained layers
    the prototxt really lacks (MTCNN RNet's landmark head conv5-3 is not in det2's deploy)."""
    if not PAIRS:
        pytest.skip("../shared/corpus is absent")
    found = lint_source(str(CORPUS / prototxt), WEIGHT_CODES | SHAPE_CODES,
                        LintOptions(weights=str(CORPUS / weights)))
    assert [d for d in found if d.code != "W302"] == []
    in_net = {layer.name for layer in load_net(str(CORPUS / prototxt)).network.layers}
    with_blobs = {layer.name for layer in read_caffemodel(CORPUS / weights).layers if layer.blobs}
    assert {d.layer for d in found} == with_blobs - in_net


DET1 = "kpzhang93_MTCNN_face_detection_alignment/code/codes/MTCNNv1/model/det1"


def name_position(prototxt: Path, layer: str) -> tuple[int, int]:
    """Line and column of `name: "<layer>"` in the file, found by plain text search."""
    for number, line in enumerate(prototxt.read_text().splitlines(), 1):
        col = line.find(f'name: "{layer}"')
        if col >= 0:
            return number, col + 1
    raise AssertionError(layer)


def mutated(tmp_path: Path, change) -> str:
    """det1.caffemodel (real PNet weights) rewritten after ``change(net, weights)``."""
    model = read_caffemodel(CORPUS / f"{DET1}.caffemodel")
    net = NetParameter()
    net.CopyFrom(model.net)
    weights = {layer.name: [np.array(b) for b in layer.blobs] for layer in model.layers}
    change(net, weights)
    out = tmp_path / "det1.caffemodel"
    write_caffemodel(out, net, {k: v for k, v in weights.items()
                                if any(layer.name == k for layer in net.layer)})
    return str(out)


def drop_layer(name):
    def change(net, weights):
        index = next(i for i, layer in enumerate(net.layer) if layer.name == name)
        del net.layer[index]
    return change


def add_layer(net, weights):
    net.layer.add(name="conv9", type="Convolution").blobs.add()
    weights["conv9"] = [np.ones((2, 32, 1, 1), "<f4")]


def extra_blob(net, weights):
    net.layer[[layer.name for layer in net.layer].index("conv3")].blobs.add()
    weights["conv3"].append(np.zeros(32, "<f4"))


def flatten_weights(net, weights):
    weights["conv4-1"][0] = weights["conv4-1"][0].reshape(2, 32)  # 2x32x1x1 -> 2x32


def legacy_prelu(trailing: tuple):
    def change(net, weights):
        blob = net.layer[[layer.name for layer in net.layer].index("PReLU1")].blobs[0]
        blob.num, blob.channels, blob.height, blob.width = (1, 1) + trailing
        weights["PReLU1"][0] = weights["PReLU1"][0].reshape((1, 1) + trailing)
    return change


MUTATIONS = [("missing conv2", drop_layer("conv2"), "E301", "conv2"),
             ("extra layer", add_layer, "W302", None),
             ("extra blob", extra_blob, "E303", "conv3"),
             ("wrong shape", flatten_weights, "E304", "conv4-1"),
             ("legacy 1x1x10x1", legacy_prelu((10, 1)), "E304", "PReLU1")]


@pytest.mark.parametrize("what,change,code,layer", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutated_real_weights(what, change, code, layer, tmp_path, corpus):
    prototxt = corpus / f"{DET1}.prototxt"
    weights = mutated(tmp_path, change)
    found = lint_source(str(prototxt), WEIGHT_CODES, LintOptions(weights=weights))
    where = name_position(prototxt, layer) if layer else (1, 1)  # det1 has name: "PNet" at 1:1
    assert [(d.code, d.line, d.col) for d in found] == [(code, *where)]


def test_flattened_conv_weights_are_a_reshape_away(tmp_path, corpus):
    weights = mutated(tmp_path, flatten_weights)
    (found,) = lint_source(str(corpus / f"{DET1}.prototxt"), WEIGHT_CODES,
                           LintOptions(weights=weights))
    assert "Source param shape is 2 32 (64); target param shape is 2 32 1 1 (64)" in found.message
    assert "the counts agree (64)" in found.message and "--fc-to-conv" in found.message


def test_legacy_blob_shapes_follow_blob_shape_equals(tmp_path, corpus):
    """Blob::ShapeEquals: legacy 1x1x1x10 fits PReLU1's (10,) blob -- the legacy axes are
    matched from the end -- while 1x1x10x1 does not (see MUTATIONS)."""
    weights = mutated(tmp_path, legacy_prelu((1, 10)))
    assert read_caffemodel(weights).weights("PReLU1")[0].shape == (1, 1, 1, 10)
    assert codes(corpus / f"{DET1}.prototxt", WEIGHT_CODES, weights=weights) == []


def test_v1_caffemodel_is_matched_after_caffes_upgrade(tmp_path):
    """A V1 caffemodel (``layers { type: CONVOLUTION }``) for the V1 LeNet sample: Caffe upgrades
    it before matching names.  28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4: ip1 reads
    50*4*4 = 800 values."""
    net = NetParameter()
    net.name = "LeNet"
    shapes = {"conv1": [(20, 1, 5, 5), (20,)], "conv2": [(50, 20, 5, 5), (50,)],
              "ip1": [(500, 800), (500,)], "ip2": [(10, 500), (10,)]}
    for name in shapes:
        kind = V1LayerParameter.CONVOLUTION if name.startswith("conv") else \
            V1LayerParameter.INNER_PRODUCT
        net.layers.add(name=name, type=kind)
    model = tmp_path / "lenet_v1.caffemodel"
    write_caffemodel(model, net, {name: blobs(*s) for name, s in shapes.items()})
    assert read_caffemodel(model).format == "V1"
    sample = REPO / "samples" / "lenet_v1.prototxt"
    assert codes(sample, WEIGHT_CODES, weights=str(model)) == []
    shapes["ip1"] = [(500, 801), (500,)]
    write_caffemodel(model, net, {name: blobs(*s) for name, s in shapes.items()})
    assert codes(sample, WEIGHT_CODES, weights=str(model)) == [
        ("E305", *_bottom_position(sample, "ip1"))]


def _bottom_position(prototxt: Path, layer: str) -> tuple[int, int]:
    """The first `bottom:` after `name: "<layer>"`."""
    lines = prototxt.read_text().splitlines()
    start = name_position(prototxt, layer)[0]
    for number in range(start, len(lines) + 1):
        col = lines[number - 1].find("bottom:")
        if col >= 0:
            return number, col + 1
    raise AssertionError(layer)
