"""Lint rules, one fixture per rule (hadolint's ruleCatches / ruleCatchesNot).

Each fixture in tests/fixtures/lint/ holds cases the rule must catch and cases it must not; the
expected (code, line, column) were counted by hand from the fixture text.  Corpus tests check
the rules against what real BVLC Caffe did with real nets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prototxt_tools.lint import all_rules, default_codes, lint_source
from prototxt_tools.lint import context as lint_context

from conftest import CORPUS, corpus_available

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lint"

# fixture, codes selected (default: the fixture's code), expected findings
CASES = [
    ("E001", None, [("E001", 4, 7)]),  # the unclosed '{'
    ("E002", None, [("E002", 15, 5), ("E002", 24, 3)]),  # not the fork-only bias_channel_param
    ("E003", None, [("E003", 9, 25)]),  # the value AVG
    ("E004", None, [("E004", 10, 17)]),  # the value 64.5
    ("E005", None, [("E005", 15, 3)]),  # relu1's bottom: the padding layer's output
    ("E101", None, [("E101", 9, 36), ("E101", 10, 55), ("E101", 16, 57)]),
    ("E102", None, [("E102", 7, 58)]),  # not the in-place relu1
    ("E103", None, [("E103", 6, 9)]),  # not the 'drop' twin excluded in TEST
    ("E104", None, [("E104", 4, 50)]),
    ("E105", None, [("E105", 9, 3)]),
    ("E106", None, [("E106", 4, 22), ("E106", 5, 22)]),  # PriorBox is W101
    ("W001", None, [("W001", 9, 54)]),  # ceil_mode; Normalize's norm_param is W101's
    ("W002", None, [("W002", 1, 45)]),  # the Latin-1 e-acute
    ("W101", None, [("W101", 6, 23), ("W101", 8, 26)]),
    ("W102", None, [("W102", 7, 3)]),
    ("W102_legacy", "W102", [("W102", 5, 1)]),  # the second `input:` field
    ("W103", None, [("W103", 7, 52)]),
    ("W401", None, [("W401", 8, 1)]),
    ("W402", None, [("W402", 9, 24)]),
    ("W403", None, [("W403", 13, 3)]),  # one finding per layer, at its first blobs_lr
    ("W404", None, [("W404", 12, 5), ("W404", 13, 5)]),
    ("W405", None, [("W405", 3, 1)]),
    ("W406", None, [("W406", 10, 3)]),  # bn1's param 1; bn2 already says 0
    ("W407", None, [("W407", 8, 1)]),  # the fifth input_dim
    ("W411", None, [("W411", 6, 3)]),
    ("W412", None, [("W412", 6, 20), ("W412", 10, 22), ("W412", 13, 21)]),
    ("W413", None, [("W413", 5, 28)]),
    # relu2's E101 is suppressed by its noqa (used); the other two suppress nothing
    ("W901", "E101,W411,W901", [("W901", 4, 66), ("W901", 6, 1)]),
    ("W902", None, [("W902", 3, 1), ("W902", 4, 91)]),
    ("I001", "I001,E002", [("I001", 1, 1)]),  # and no E002 for the solver's fields
    # shapes (E2xx/W2xx), through the shapes provider; positions: the field the check names
    ("E201", None, [("E201", 6, 43), ("E201", 9, 55), ("E201", 12, 43), ("E201", 15, 35)]),
    ("W201", None, [("W201", 6, 43)]),  # kernel_size of fc6; not the clipped pooling
    ("W202", None, [("W202", 6, 9)]),  # sub's pooling_param; not half's, nor padded's
    ("E202", None, [("E202", 6, 68), ("E202", 8, 59)]),  # up's pad, cut's empty top 'b'
    ("E203", None, [("E203", 5, 60)]),  # pool1's pad
    ("E204", None, [("E204", 6, 55)]),  # sum's bottom branch2
    ("E205", None, [("E205", 7, 60)]),  # cat's bottom b (c differs on the concat axis only)
    ("E206", None, [("E206", 5, 97)]),  # crop's offset
    ("E207", None, [("E207", 5, 85), ("E207", 6, 99)]),  # r1's shape, r2's -1
    ("E209", None, [("E209", 4, 99), ("E209", 5, 99)]),  # the group fields
    ("E210", None, [("E210", 5, 43), ("E210", 7, 9), ("E210", 9, 50)]),
    ("E211", None, [("E211", 10, 58)]),  # conv1's top
    ("E212", None, [("E212", 4, 37), ("E212", 5, 38)]),  # the last bottom written
    ("E299", None, [("E299", 4, 81)]),  # softmax_param's axis
    ("W414", None, [("W414", 7, 9)]),  # pool_a, now through the real shapes provider
    # weights (E3xx/W302) need --weights: skipped here; test_lint_shapes.py lints these
    # fixtures with the caffemodels they describe
    ("E300", None, []),
    ("E301", None, []),
    ("W302", None, []),
    ("E303", None, []),
    ("E304", None, []),
    ("E305", None, []),
]


def findings(path: Path, codes: str) -> list[tuple]:
    selected = frozenset(codes.split(","))
    return [(d.code, d.line, d.col) for d in lint_source(str(path), selected)]


@pytest.mark.parametrize("fixture,codes,expected", CASES, ids=[c[0] for c in CASES])
def test_rule_fixture(fixture, codes, expected):
    path = FIXTURES / f"{fixture}.prototxt"
    assert findings(path, codes or fixture[:4]) == expected


def test_every_rule_has_a_fixture():
    fixtures = {p.stem[:4] for p in FIXTURES.glob("*.prototxt")}
    missing = [r.code for r in all_rules() if r.code not in fixtures]
    assert missing == []


def test_fixture_expectations_cover_every_fixture():
    listed = {c[0] for c in CASES} | {"W414"}  # W414 needs shapes: see below
    assert {p.stem for p in FIXTURES.glob("*.prototxt")} == listed


class InputShapes:
    """A shapes provider that knows only what Input layers declare (enough for W414.prototxt)."""

    def __init__(self, network):
        self.shapes = {}
        for layer in network.layers:
            if layer.type == "Input":
                for blob, shape in zip(layer.tops, layer.param.input_param.shape):
                    self.shapes[blob] = tuple(shape.dim)

    def shape_of(self, blob):
        return self.shapes.get(blob)


def test_pooling_ceil_rounding_needs_shapes(monkeypatch):
    path = str(FIXTURES / "W414.prototxt")
    monkeypatch.delitem(lint_context.PROVIDERS, "shapes", raising=False)
    assert lint_source(path, frozenset({"W414"})) == []  # no provider: the rule is skipped
    monkeypatch.setitem(lint_context.PROVIDERS, "shapes", lambda ctx: InputShapes(ctx.network))
    found = lint_source(path, frozenset({"W414"}))
    # pool_a only: 112 -> 56 (ceil) vs 55 (floor); pool_b 113 -> 56 either way
    assert [(d.code, d.line, d.col, d.layer) for d in found] == [("W414", 7, 9, "pool_a")]
    assert "56x56" in found[0].message and "55x55" in found[0].message


def test_pooling_ceil_rounding_is_opt_in():
    assert "W414" not in default_codes()


# -- corpus: real Caffe --------------------------------------------------------------------------

def caffe_results() -> dict:
    if not corpus_available():
        return {}
    return json.loads((CORPUS / "caffe_shapes" / "shapes.json").read_text())


BUILT = sorted(k for k, v in caffe_results().items() if v["built"])
# Warnings kept on nets real Caffe built: all are legacy-format facts of old files (V0/V1
# layers, blobs_lr, padding layers, `input:` fields) -- true, and fixable by `upgrade`.
ALLOWED_WARNINGS_ON_BUILT = {"W401", "W402", "W403", "W405"}


@pytest.mark.parametrize("name", BUILT or ["<corpus absent>"])
def test_no_errors_on_nets_caffe_built(name):
    if not BUILT:
        pytest.skip("../shared/corpus is absent")
    found = lint_source(str(CORPUS / name), default_codes())
    assert [d for d in found if d.severity == "error"] == []
    assert {d.code for d in found} <= ALLOWED_WARNINGS_ON_BUILT


def refused(pattern: str) -> list[tuple[str, str]]:
    return sorted((k, m.group(1)) for k, v in caffe_results().items() if not v["built"]
                  for m in [re.search(pattern, v["caffe_error"])] if m)


UNKNOWN_BOTTOM = refused(r"Unknown bottom blob '([^']+)'")


@pytest.mark.parametrize("name,blob", UNKNOWN_BOTTOM or [("<corpus absent>", "")])
def test_undefined_bottom_where_caffe_stopped(name, blob):
    if not UNKNOWN_BOTTOM:
        pytest.skip("../shared/corpus is absent")
    found = lint_source(str(CORPUS / name), frozenset({"E101"}))
    assert any(f"'{blob}'" in d.message for d in found)


NO_FIELD = refused(r'has no field named "(\w+)"')


@pytest.mark.parametrize("name,field", NO_FIELD or [("<corpus absent>", "")])
def test_unknown_or_fork_field_where_caffe_stopped(name, field):
    """Caffe's parser refused the file: the field is unknown (E002) or a fork's (W001/W101)."""
    if not NO_FIELD:
        pytest.skip("../shared/corpus is absent")
    found = lint_source(str(CORPUS / name), frozenset({"E002", "W001", "W101"}))
    assert found, f"Caffe refused field {field!r} but nothing was reported"


class CaffeShapes:
    """Blob shapes real Caffe computed (by blob name) as a shapes provider."""

    def __init__(self, shapes: dict):
        self.shapes = shapes

    def shape_of(self, blob):
        shape = self.shapes.get(blob.name)
        return tuple(shape) if shape is not None else None


# (net, does any pooling round up?) -- AlexNet's windows all fit exactly
CEIL_NETS = [("BVLC_caffe/models/bvlc_googlenet/deploy.prototxt", True),
             ("KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt", True),
             ("BVLC_caffe/models/bvlc_alexnet/deploy.prototxt", False)]


@pytest.mark.parametrize("name,rounds_up", CEIL_NETS, ids=[n.split("/")[-2] for n, _ in CEIL_NETS])
def test_pooling_ceil_rounding_matches_caffe_shapes(name, rounds_up, monkeypatch, corpus):
    """W414 fires exactly on the Pooling layers whose real Caffe output is larger than the floor
    formula (H + 2p - k) // s + 1 applied to the real input."""
    from prototxt_tools.load import load_net
    shapes = caffe_results()[name]["shapes"]
    monkeypatch.setitem(lint_context.PROVIDERS, "shapes", lambda ctx: CaffeShapes(shapes))
    path = str(corpus / name)
    expected = set()
    for layer in load_net(path).network.layers:
        p = layer.param.pooling_param
        if layer.type != "Pooling" or p.global_pooling:
            continue
        k, s, pad = (p.kernel_size or p.kernel_h), p.stride, p.pad
        height = shapes[layer.param.bottom[0]][2]
        if shapes[layer.param.top[0]][2] != (height + 2 * pad - k) // s + 1:
            expected.add(layer.name)
    found = {d.layer for d in lint_source(path, frozenset({"W414"}))}
    assert found == expected
    assert bool(expected) == rounds_up


def upstream_fields(proto_text: str) -> dict[str, set]:
    """Message name -> field names of a .proto file (nested messages by their own name)."""
    text = re.sub(r"//[^\n]*", "", proto_text)
    fields: dict[str, set] = {}
    stack: list = []
    token = re.compile(r"(message|enum|oneof)\s+(\w+)\s*\{|\}|"
                       r"(?:optional|repeated|required)\s+[\w.]+\s+(\w+)\s*=")
    for m in token.finditer(text):
        if m.group(1):
            stack.append((m.group(1), m.group(2)))
            if m.group(1) == "message":
                fields.setdefault(m.group(2), set())
        elif m.group(0) == "}":
            stack.pop()
        else:
            message = next(name for kind, name in reversed(stack) if kind == "message")
            fields[message].add(m.group(3))
    return fields


def test_fork_field_table_matches_the_schema(corpus):
    """Every field our schema has beyond BVLC master's caffe.proto is in FORK_FIELDS (W001)."""
    from prototxt_tools.lint.fork_fields import FORK_FIELDS
    from prototxt_tools.schema import caffe_pb2
    upstream = upstream_fields((corpus / "BVLC_caffe/src/caffe/proto/caffe.proto").read_text())
    extra = {}
    for name, descriptor in caffe_pb2.DESCRIPTOR.message_types_by_name.items():
        if name in upstream:
            added = {f.name for f in descriptor.fields} - upstream[name]
            if added:
                extra[name] = added
    assert extra == {name: set(table) for name, table in FORK_FIELDS.items()}
