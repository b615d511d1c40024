"""Issue 7, mutation test on real nets: typed faults written into real deploy nets as text edits
(prototxt_tools.text.Editor) must each be reported by the linter (all default rules) with the
right code at the edited line -- and the unmutated nets must give no error.

The nets are the shared corpus's V2 deploy nets that real BVLC Caffe built
(``caffe_shapes/shapes.json``, ``built: true``).  Blob shapes used to make a fault (the input
height a kernel must exceed, the channels a group must not divide, a blob of another shape for
Eltwise/Concat) are Caffe's own, from that file, never our inference's.  The weight fault uses
nets with real caffemodels (MTCNN, caffe_reference).

Faults and the code expected at the edited line:
  kernel larger than input -> E201 (the kernel_size line), renamed bottom -> E101 (the bottom),
  duplicated top -> E102 (the top), wrong group -> E209 (the group line),
  mismatched Eltwise / Concat -> E204 / E205 (the edited bottom's layer), removed layer -> E101
  (the consumer's bottom), num_output changed against the caffemodel -> E304 (the layer).
The default run samples six nets covering every fault; ``-m slow`` runs all of them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache

import pytest

from prototxt_tools.lint import default_codes
from prototxt_tools.lint.context import LintOptions
from prototxt_tools.lint.runner import lint_source
from prototxt_tools.load import load_net
from prototxt_tools.text import Editor

from conftest import CORPUS, corpus_available

CODES = default_codes()
SAMPLED = {  # the default run: every fault applies to at least one of these
    "BVLC_caffe/examples/mnist/lenet.prototxt",
    "BVLC_caffe/models/bvlc_googlenet/deploy.prototxt",                # Concat
    "KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt",  # Eltwise
    "shicai_MobileNet-Caffe/mobilenet_deploy.prototxt",                # grouped convolutions
    "DeepScale_SqueezeNet/SqueezeNet_v1.1/deploy.prototxt",
    "kpzhang93_MTCNN_face_detection_alignment/code/codes/MTCNNv1/model/det1.prototxt",  # legacy input
}


@lru_cache(maxsize=1)
def caffe_shapes() -> dict:
    return json.loads((CORPUS / "caffe_shapes" / "shapes.json").read_text())


def built_deploy_nets() -> list[str]:
    if not corpus_available():
        return []
    with open(CORPUS / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    shapes = caffe_shapes()
    return [r["local_path"] for r in rows if r["kind"] == "prototxt-deploy"
            and r["format"] == "V2" and shapes.get(r["local_path"], {}).get("built")]


def weight_pairs() -> list[tuple[str, str]]:
    """(prototxt, caffemodel) of the caffe_reference index: MTCNN's real weights and seeded
    random weights of the BVLC/SqueezeNet/MobileNet nets."""
    if not corpus_available():
        return []
    index = json.loads((CORPUS / "caffe_reference" / "index.json").read_text())
    return [(entry["prototxt"], entry["weights"]) for entry in index.values()]


@dataclass
class Mutation:
    text: str
    line: int          # where the finding must be
    code: str
    layer: str


# -- helpers over the loaded net ----------------------------------------------------------------

def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def node(loaded, path):
    return loaded.parsed.node(tuple(path))


def blob_shape(net_path: str, blob: str) -> list | None:
    return caffe_shapes()[net_path]["shapes"].get(blob)


def layers_of(loaded, *types):
    return [l for l in loaded.network.layers if not types or l.type in types]


def replaced(loaded, path, value: str) -> tuple[str, int]:
    """The text with the value at ``path`` replaced, and that value's line."""
    field = node(loaded, path)
    editor = Editor(loaded.parsed.document)
    editor.replace_value(field, value)
    return editor.apply(), line_of(loaded.text, field.value.start)


# -- the faults -----------------------------------------------------------------------------------

def kernel_larger_than_input(loaded, net_path):
    for layer in layers_of(loaded, "Convolution"):
        path = tuple(layer.origin) + ("convolution_param", "kernel_size", 0)
        shape = blob_shape(net_path, layer.param.bottom[0]) if layer.param.bottom else None
        if node(loaded, path) is None or shape is None or len(shape) != 4:
            continue
        p = layer.param.convolution_param
        if any(d != 1 for d in p.dilation):
            continue
        pad = p.pad[0] if p.pad else 0
        stride = p.stride[0] if p.stride else 1
        # (H + 2 pad - k) / stride + 1 <= 0 in C's truncating division: k >= H + 2 pad + stride
        # (k = H + 2 pad + 1 with stride 2 still gives an output of 1 in Caffe)
        text, line = replaced(loaded, path, str(shape[2] + 2 * pad + stride))
        return Mutation(text, line, "E201", layer.name)
    return None


def renamed_bottom(loaded, net_path):
    candidates = [l for l in layers_of(loaded) if l.param.bottom]
    if not candidates:
        return None
    layer = candidates[len(candidates) // 2]
    text, line = replaced(loaded, tuple(layer.origin) + ("bottom", 0), '"no_such_blob"')
    return Mutation(text, line, "E101", layer.name)


def duplicated_top(loaded, net_path):
    produced: list[str] = []
    for layer in layers_of(loaded):
        if produced and layer.param.top and not layer.in_place(0):
            other = [b for b in produced if b not in layer.param.bottom[:1]]
            if other:
                text, line = replaced(loaded, tuple(layer.origin) + ("top", 0), f'"{other[0]}"')
                return Mutation(text, line, "E102", layer.name)
        produced.extend(layer.param.top)
    return None


def wrong_group(loaded, net_path):
    for layer in layers_of(loaded, "Convolution"):
        shape = blob_shape(net_path, layer.param.bottom[0]) if layer.param.bottom else None
        if shape is None or len(shape) != 4:
            continue
        p = layer.param.convolution_param
        group = max(shape[1], p.num_output) + 1  # divides neither channels nor num_output
        group_node = node(loaded, tuple(layer.origin) + ("convolution_param", "group"))
        if group_node is not None:
            text, line = replaced(loaded, tuple(layer.origin) + ("convolution_param", "group"),
                                  str(group))
            return Mutation(text, line, "E209", layer.name)
        block = node(loaded, tuple(layer.origin) + ("convolution_param",))
        if block is None:
            continue
        editor = Editor(loaded.parsed.document)
        edit = editor.insert_at_end(block, f"group: {group}")
        text = editor.apply()
        return Mutation(text, line_of(text, edit.start + edit.text.index("group")), "E209",
                        layer.name)
    return None


def mismatched_join(loaded, net_path, layer_type: str, code: str):
    """Give an Eltwise/Concat a second bottom of a shape it cannot take (Caffe's shapes)."""
    produced: list[str] = []
    shapes = caffe_shapes()[net_path]["shapes"]
    for layer in layers_of(loaded):
        if layer.type == layer_type and len(layer.param.bottom) >= 2:
            first = shapes.get(layer.param.bottom[0])
            for blob in produced:
                other = shapes.get(blob)
                if first is None or other is None or blob in layer.param.bottom:
                    continue
                if _breaks(layer_type, first, other):
                    text, line = replaced(loaded, tuple(layer.origin) + ("bottom", 1), f'"{blob}"')
                    return Mutation(text, line, code, layer.name)
        produced.extend(layer.param.top)
    return None


def _breaks(layer_type: str, first: list, other: list) -> bool:
    if layer_type == "Eltwise":
        return first != other
    # Concat on axis 1: every other axis must agree
    return len(first) != len(other) or any(a != b for i, (a, b) in enumerate(zip(first, other))
                                           if i != 1)


def removed_layer(loaded, net_path):
    layers = layers_of(loaded)
    for layer in layers[1:]:
        if layer.type == "Input" or not layer.param.top or layer.in_place(0):
            continue
        top = layer.param.top[0]
        producers = [l for l in layers
                     if top in l.param.top and not l.in_place(list(l.param.top).index(top))]
        consumers = [l for l in layers if l.index > layer.index and top in l.param.bottom]
        if len(producers) != 1 or not consumers:
            continue
        consumer = consumers[0]
        j = list(consumer.param.bottom).index(top)
        bottom_node = node(loaded, tuple(consumer.origin) + ("bottom", j))
        editor = Editor(loaded.parsed.document)
        edit = editor.delete(node(loaded, layer.origin))
        text = editor.apply()
        removed_lines = loaded.text.count("\n", edit.start, edit.end)
        line = line_of(loaded.text, bottom_node.value.start) - removed_lines
        return Mutation(text, line, "E101", consumer.name)
    return None


FAULTS = {
    "kernel-larger-than-input": kernel_larger_than_input,
    "renamed-bottom": renamed_bottom,
    "duplicated-top": duplicated_top,
    "wrong-group": wrong_group,
    "mismatched-eltwise": lambda l, p: mismatched_join(l, p, "Eltwise", "E204"),
    "mismatched-concat": lambda l, p: mismatched_join(l, p, "Concat", "E205"),
    "removed-layer": removed_layer,
}


# -- the tests --------------------------------------------------------------------------------------

def net_params(sampled_only: bool):
    out = []
    for net in built_deploy_nets():
        if sampled_only != (net in SAMPLED):
            continue
        marks = [] if sampled_only else [pytest.mark.slow]
        out.append(pytest.param(net, id=net, marks=marks))
    return out


def errors_of(diagnostics) -> list:
    return [d for d in diagnostics if d.severity == "error"]


def check_net(net_path: str) -> set:
    path = str(CORPUS / net_path)
    assert errors_of(lint_source(path, CODES)) == [], "the unmutated net has lint errors"
    loaded = load_net(path)
    applied = set()
    for name, fault in FAULTS.items():
        mutation = fault(loaded, net_path)
        if mutation is None:
            continue
        found = errors_of(lint_source(path, CODES, text=mutation.text))
        hits = [d for d in found if d.code == mutation.code and d.line == mutation.line]
        assert hits, (f"{name} on layer {mutation.layer!r}: expected {mutation.code} at line "
                      f"{mutation.line}; got {[(d.code, d.line, d.message) for d in found][:6]}")
        applied.add(name)
    return applied


@pytest.mark.parametrize("net_path", net_params(sampled_only=True))
def test_faults_in_sampled_nets_are_reported_at_the_edit(net_path):
    check_net(net_path)


@pytest.mark.parametrize("net_path", net_params(sampled_only=False))
def test_faults_in_every_built_net_are_reported_at_the_edit(net_path):
    check_net(net_path)


def test_the_sample_covers_every_fault():
    if not corpus_available():
        pytest.skip("../shared/corpus is absent")
    covered = set()
    for net_path in sorted(SAMPLED):
        loaded = load_net(str(CORPUS / net_path))
        covered |= {name for name, fault in FAULTS.items() if fault(loaded, net_path) is not None}
    assert covered == set(FAULTS)


# -- weights: a caffemodel blob of the wrong shape ----------------------------------------------------

def changed_num_output(loaded):
    """num_output + 1 on the first Convolution/InnerProduct writing it explicitly."""
    for layer in layers_of(loaded, "Convolution", "InnerProduct"):
        param = "convolution_param" if layer.type == "Convolution" else "inner_product_param"
        path = tuple(layer.origin) + (param, "num_output")
        if node(loaded, path) is None:
            continue
        value = getattr(layer.param, param).num_output
        text, _ = replaced(loaded, path, str(value + 1))
        name_line = line_of(loaded.text, node(loaded, tuple(layer.origin) + ("name",)).start)
        return Mutation(text, name_line, "E304", layer.name)
    return None


def pair_params():
    return [pytest.param(p, w, id=p, marks=[] if "mtcnn" in p.lower() or "lenet" in p
                         else [pytest.mark.slow]) for p, w in weight_pairs()]


@pytest.mark.parametrize("net_path, weights", pair_params())
def test_weight_of_wrong_shape_is_reported_at_its_layer(net_path, weights):
    path = str(CORPUS / net_path)
    options = LintOptions(weights=str(CORPUS / weights))
    assert errors_of(lint_source(path, CODES, options)) == []
    mutation = changed_num_output(load_net(path))
    assert mutation is not None
    found = errors_of(lint_source(path, CODES, options, text=mutation.text))
    assert [d for d in found if d.code == "E304" and d.line == mutation.line
            and d.layer == mutation.layer], [(d.code, d.line, d.layer) for d in found]
