"""The public API of ``import prototxt_tools``: light to import, every name resolves, the
functions do what their docstrings say (their examples run as doctests), readable reprs."""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import prototxt_tools as pt
from conftest import REPO, SAMPLES

LENET_V1 = SAMPLES / "lenet_v1.prototxt"
TINY = SAMPLES / "tiny_convnet.prototxt"
ALEXNET = SAMPLES / "alexnet.prototxt"


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_is_light():
    loaded = json.loads(python(
        "import sys, json, prototxt_tools\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('prototxt_tools', 'onnx', 'onnxruntime', 'numpy', 'google'))))"))
    assert loaded == ["prototxt_tools", "prototxt_tools.errors"]


def test_only_to_onnx_and_exported_model_import_onnx():
    names = [n for n in pt.__all__ if n not in ("to_onnx", "ExportedModel")]
    out = python("import sys, prototxt_tools as pt\n"
                 f"for name in {names!r}: getattr(pt, name)\n"
                 "pt.lint('samples/alexnet.prototxt'); pt.draw('samples/tiny_convnet.prototxt')\n"
                 "print('onnx' in sys.modules)")
    assert out.strip() == "False"


def test_every_public_name_resolves_and_dir_lists_them():
    if importlib.util.find_spec("onnx") is None:
        names = [n for n in pt.__all__ if n != "ExportedModel"]
    else:
        names = pt.__all__
    for name in names:
        assert getattr(pt, name) is not None
    assert dir(pt) == sorted(pt.__all__)
    with pytest.raises(AttributeError):
        pt.no_such_name


def test_api_functions_survive_importing_the_same_named_subpackages():
    import prototxt_tools.draw.dot  # noqa: F401
    import prototxt_tools.fix.engine  # noqa: F401
    import prototxt_tools.lint.runner  # noqa: F401
    import prototxt_tools.load  # noqa: F401
    import prototxt_tools.upgrade.pipeline  # noqa: F401
    for name in ("load", "lint", "fix", "upgrade", "draw"):
        assert callable(getattr(pt, name)), name
    from prototxt_tools.lint.runner import lint_source
    assert lint_source.__module__ == "prototxt_tools.lint.runner"


def test_docstring_examples():
    """The examples in the functions' docstrings, run from the repository root."""
    import prototxt_tools._api as api
    skip = set() if importlib.util.find_spec("onnx") else {"to_onnx"}
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
        for test in finder.find(api, "prototxt_tools._api"):
            if test.examples and test.name.rsplit(".", 1)[-1] not in skip:
                runner.run(test)
    finally:
        os.chdir(cwd)
    assert runner.failures == 0 and runner.tries >= 8


def test_load_and_reprs():
    net = pt.load(LENET_V1)
    assert isinstance(net, pt.LoadedNet) and net.format == "V1"
    # lenet_v1.prototxt: legacy input + 8 `layers` (conv, pool, conv, pool, ip, relu, ip, prob)
    assert repr(net) == f"<LoadedNet {str(LENET_V1)!r} (V1, upgraded): 9 layers>"
    assert repr(net.network) == "<Network 'LeNet': 9 layers, inputs data, outputs prob>"
    assert repr(net.network.layers[1]) == "<Layer 1 'conv1' (Convolution)>"
    train = pt.load(SAMPLES / "alexnet.prototxt", phase="TRAIN")
    assert isinstance(train.network, pt.Network)


def test_infer_shapes_with_an_input_override():
    shapes = pt.infer_shapes(TINY, {"data": [2, 3, 32, 32]})
    by_name = shapes.by_name()
    # conv1 3x3 pad 1 keeps 32x32; 2x2/2 pooling -> 16x16; fc 10
    assert by_name["conv1"] == (2, 8, 32, 32) and by_name["pool1"] == (2, 8, 16, 16)
    assert by_name["prob"] == (2, 10)
    # conv 8*3*3*3 + 8 = 224, BatchNorm 8 + 8 + 1 = 17, Scale with bias 8 + 8 = 16,
    # fc 10 * (8*16*16) + 10 = 20490
    assert shapes.total_params == 224 + 17 + 16 + 20490
    assert repr(shapes).startswith("<NetworkShapes 'tiny_convnet': 8 layers, 20,747 params")


def test_lint_selection_and_configuration(tmp_path):
    (diag,) = pt.lint(ALEXNET)
    assert (diag.code, diag.line, diag.col) == ("E201", 219, 5)
    assert repr(diag).startswith(f"<Diagnostic E201 {ALEXNET}:219:5 'fc6: kernel 7×7")
    assert pt.lint(ALEXNET, ignore="E2") == []
    assert [d.code for d in pt.lint(LENET_V1, select=["W401"])] == ["W401"]
    vendored = tmp_path / "third_party" / "alexnet.prototxt"
    vendored.parent.mkdir()
    shutil.copy(ALEXNET, vendored)
    shutil.copy(ALEXNET, tmp_path / "ours.prototxt")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.prototxt-lint]\nper-file-ignores = { "third_party/*" = ["E2"] }\n')
    assert pt.lint(vendored) == []
    assert [d.code for d in pt.lint(vendored, config=False)] == ["E201"]
    assert [d.code for d in pt.lint(tmp_path / "ours.prototxt")] == ["E201"]


def test_lint_text_and_errors():
    (diag,) = pt.lint("x.prototxt", text="layer { name: 'a' type: 'Input' top: 'a' ", config=False)
    assert diag.code == "E001" and diag.path == "x.prototxt"
    with pytest.raises(pt.ParseError) as info:
        pt.load("x.prototxt", text="layer { name: }")
    assert str(info.value).startswith("x.prototxt:1:15: error: ")  # at the '}'

    assert isinstance(info.value, pt.PrototxtToolsError)


def test_fix_leaves_the_file_alone_unless_asked(tmp_path):
    net = tmp_path / "lenet.prototxt"
    shutil.copy(LENET_V1, net)
    before = net.read_text()
    outcome = pt.fix(net)
    assert isinstance(outcome, pt.FixOutcome) and outcome.changed
    assert net.read_text() == before
    assert pt.load(net, text=outcome.text).format == "V2"
    written = pt.fix(net, write=True)
    assert net.read_text() == written.text and pt.load(net).format == "V2"
    assert not pt.fix(net).changed
    with pytest.raises(ValueError):
        pt.fix(net, text="", write=True)


def test_upgrade_keeps_the_net():
    text = pt.upgrade(LENET_V1)
    assert "\nlayers {" not in text and 'type: "Convolution"' in text
    assert text.startswith("# LeNet for 28x28 digits in the V1 format")
    old, new = pt.load(LENET_V1).network, pt.load("up.prototxt", text=text).network
    assert [(l.name, l.type) for l in old.layers] == [(l.name, l.type) for l in new.layers]


def test_upgrade_caffemodel_carries_the_blobs(tmp_path):
    """A V1 caffemodel made from lenet_v1.prototxt with known arrays comes back as a current
    net with the same arrays."""
    v1 = pt.load(LENET_V1).parsed.message
    rng = np.random.default_rng(1)
    weights = {"conv1": [rng.normal(size=(20, 1, 5, 5)).astype(np.float32),
                         np.arange(20, dtype=np.float32)]}
    path = tmp_path / "lenet_v1.caffemodel"
    pt.write_caffemodel(path, v1, weights)
    assert pt.read_caffemodel(path).format == "V1"
    model = pt.upgrade_caffemodel(path)
    assert isinstance(model, pt.CaffeModel) and model.format == "V2"
    # conv1: 20*1*5*5 + 20 values; the other layers keep the (empty) blobs the prototxt has
    assert repr(model) == f"<CaffeModel {str(path)!r} (V2): 9 layers, 2 blobs, 520 values>"
    conv1 = model.net.layer[[l.name for l in model.net.layer].index("conv1")]
    assert conv1.type == "Convolution"
    for got, want in zip(model.weights("conv1"), weights["conv1"]):
        np.testing.assert_array_equal(got, want)
    out = tmp_path / "up.caffemodel"
    pt.write_caffemodel(out, model.net, model.layers)
    np.testing.assert_array_equal(pt.read_caffemodel(out).weights("conv1")[1], weights["conv1"][1])


def test_to_onnx_runs_as_exported(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    exported = pt.to_onnx(TINY, SAMPLES / "tiny_convnet.caffemodel", inputs={"data": (2, 3, 16, 16)})
    assert isinstance(exported, pt.ExportedModel)
    session = ort.InferenceSession(exported.serialize(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(2, 3, 16, 16)).astype(np.float32)
    (prob,) = session.run(["prob"], {"data": x})
    np.testing.assert_allclose(prob.sum(axis=1), [1.0, 1.0], rtol=1e-5)  # Softmax rows


def test_draw_returns_dot_text():
    assert pt.draw(TINY).startswith('digraph "tiny_convnet" {')
    assert "rankdir=LR" in pt.draw(pt.load(TINY), rankdir="LR")
