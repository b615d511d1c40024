"""prototxt-fix on real files: every corpus prototxt, and Caffe's own upgrade fixtures.

For each corpus net (every rule selected, unsafe fixes on -- the widest run) the fixed copy must
load, a second run must change nothing, every comment must survive, and where the applied fixes
keep the net's meaning the fixed file must upgrade to the same net as the original.  V0/V1 nets
must read, after fixing, as exactly the message Caffe's upgrade makes of them; Caffe's
test_upgrade_proto.cpp fixtures check that against the outputs Caffe's own tests expect.
"""

from __future__ import annotations

import re
import shutil

import pytest

from prototxt_tools.fix import fix_path, fix_text
from prototxt_tools.lint import LintOptions, all_rules
from prototxt_tools.load import load_net
from prototxt_tools.text import decode_prototxt, parse_prototxt, read_prototxt
from prototxt_tools.upgrade import upgrade_net

from conftest import CORPUS, SAMPLES, corpus_manifest

ALL = frozenset(r.code for r in all_rules())
MEANING_PRESERVING = {"W401", "W402", "W403", "W404", "W405", "W406", "W407", "W901"}
LEGACY = {"W401", "W402", "W403", "W404", "W405", "W407"}
ROWS = [r for r in corpus_manifest() if r["kind"].startswith("prototxt")]
UPGRADE_FIXTURES = CORPUS / "BVLC_caffe" / "_extracted" / "test_upgrade_proto"
# Caffe's test_upgrade_proto.cpp: input -> what its test expects after the upgrade it tests
CAFFE_UPGRADE_CASES = {
    "NetUpgradeTest_TestSimple": ("v0_proto", "expected_v2_proto"),
    "NetUpgradeTest_TestImageNet": ("v0_proto", "expected_v2_proto"),
    "NetUpgradeTest_TestAllParams": ("input_proto", "expected_output_proto"),
    "PaddingLayerUpgradeTest_TestSimple": ("input_proto", "expected_output_proto"),
    "PaddingLayerUpgradeTest_TestTwoTops": ("input_proto", "expected_output_proto"),
    "PaddingLayerUpgradeTest_TestImageNet": ("input_proto", "expected_output_proto"),
}


def fixed_copy(src, tmp_path, selected=ALL, unsafe=True):
    """Fix a copy of ``src`` in place; returns (FileFix, copy path)."""
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    return fix_path(str(dst), selected, LintOptions(), unsafe_fixes=unsafe), dst


def comments(text: str) -> list[str]:
    return [c.text for c in parse_prototxt(text).document.comments]


@pytest.mark.parametrize("row", ROWS, ids=[r["local_path"] for r in ROWS])
def test_corpus_net_fixes_cleanly(row, tmp_path):
    src = CORPUS / row["local_path"]
    result, dst = fixed_copy(src, tmp_path)
    assert result.error is None, result.error
    outcome = result.outcome
    assert outcome.converged
    original, _, _ = decode_prototxt(src.read_bytes())
    if not outcome.changed:
        assert dst.read_bytes() == src.read_bytes()
        return
    new = load_net(str(dst))  # the fixed file loads
    again = fix_path(str(dst), ALL, LintOptions(), unsafe_fixes=True)
    assert again.error is None and not again.outcome.changed and again.written is None
    applied = {code for a in outcome.applied for code in a.codes}
    if "W901" not in applied:
        assert sorted(comments(outcome.text)) == sorted(comments(original))
    if applied <= MEANING_PRESERVING:
        assert new.net == load_net(str(src)).net
    if applied <= LEGACY and row["format"] in ("V0", "V1"):
        assert new.format == "V2"
        assert new.parsed.message == upgrade_net(read_prototxt(src).message).net


def test_corpus_has_legacy_nets():
    formats = {r["format"] for r in ROWS}
    if not ROWS:
        pytest.skip("../shared/corpus is absent")
    assert {"V0", "V1", "V2"} <= formats


@pytest.mark.parametrize("case", sorted(CAFFE_UPGRADE_CASES))
def test_caffe_upgrade_fixture(case, tmp_path, corpus):
    source, expected = CAFFE_UPGRADE_CASES[case]
    result, dst = fixed_copy(UPGRADE_FIXTURES / f"{case}__{source}.prototxt", tmp_path,
                             frozenset({"W401"}), unsafe=False)
    assert result.error is None and result.outcome.changed
    want = read_prototxt(UPGRADE_FIXTURES / f"{case}__{expected}.prototxt").message
    # Caffe's expected outputs stop at the stage each test checks (V1, or V0 without padding);
    # the rest of UpgradeNetAsNeeded takes them to the current format.
    assert read_prototxt(dst).message == upgrade_net(want).net
    text = dst.read_text()
    assert not re.search(r"^\s*layers\s*\{", text, re.M)


@pytest.mark.parametrize("sample", ["lenet_v1.prototxt", "cifar_small_v0.prototxt"])
def test_legacy_samples_read_as_their_upgrade(sample, tmp_path):
    result, dst = fixed_copy(SAMPLES / sample, tmp_path, unsafe=False)
    assert result.error is None and result.written == str(dst)
    assert read_prototxt(dst).message == upgrade_net(read_prototxt(SAMPLES / sample).message).net
    assert sorted(comments(dst.read_text())) == sorted(comments((SAMPLES / sample).read_text()))


LEGACY_ROWS = [r for r in ROWS if r["format"] in ("V0", "V1")]


@pytest.mark.parametrize("row", LEGACY_ROWS, ids=[r["local_path"] for r in LEGACY_ROWS])
def test_legacy_net_written_on_one_line(row):
    """The same nets with comments dropped and all whitespace one space: every block inline."""
    text = re.sub(r"\s+", " ", re.sub(r"#[^\n]*", "", (CORPUS / row["local_path"]).read_text(
        encoding="utf-8", errors="replace")))
    outcome = fix_text("net.prototxt", text, ALL, unsafe_fixes=True)
    assert "\n" not in outcome.text.strip()
    assert parse_prototxt(outcome.text).message == upgrade_net(parse_prototxt(text).message).net
    assert not fix_text("net.prototxt", outcome.text, ALL, unsafe_fixes=True).changed
