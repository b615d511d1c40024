"""prototxt-fix, fix by fix: fixtures in tests/fixtures/fix/ (hand-written expected text).

Each case ``<id>.prototxt`` has ``<id>.fixed.prototxt``, the text expected from the safe fixes,
and, when ``--unsafe-fixes`` does more, ``<id>.unsafe.prototxt``.  Every case is also checked to
be idempotent, to keep CRLF line endings, and -- where the applied fixes keep the net's meaning
-- to give the same net after Caffe's upgrade as the original (the independent check: our
upgrade of the original against our parse of the fixed text).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prototxt_tools.caffemodel import write_caffemodel
from prototxt_tools.fix import UNSAFE, fix_text
from prototxt_tools.fix.engine import map_offset
from prototxt_tools.fix.model import edits_overlap
from prototxt_tools.lint import LintOptions, all_rules, default_codes
from prototxt_tools.text import TextEdit, parse_prototxt
from prototxt_tools.upgrade import upgrade_net

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fix"
CASES = sorted(p.name[:-len(".prototxt")] for p in FIXTURES.glob("*.prototxt")
               if p.name.count(".") == 1)
MEANING_PRESERVING = {"W401", "W402", "W403", "W404", "W405", "W406", "W407", "W901"}
"""Fixes after which Caffe runs the same net (its upgrade of the file is unchanged)."""
LEGACY = {"W401", "W402", "W403", "W404", "W405", "W407"}


def read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def expected_text(case: str, unsafe: bool) -> str:
    unsafe_file = FIXTURES / f"{case}.unsafe.prototxt"
    return read(unsafe_file.name if unsafe and unsafe_file.exists() else f"{case}.fixed.prototxt")


def fix(text: str, unsafe: bool = False, name: str = "case.prototxt", **options):
    return fix_text(name, text, default_codes(), LintOptions(**options), unsafe_fixes=unsafe)


def upgraded(text: str):
    return upgrade_net(parse_prototxt(text).message).net


def test_fixtures_are_complete():
    assert len(CASES) >= 15
    for case in CASES:
        assert (FIXTURES / f"{case}.fixed.prototxt").exists(), case


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("case", CASES)
def test_fix_gives_the_expected_text(case, unsafe):
    original = read(f"{case}.prototxt")
    outcome = fix(original, unsafe)
    assert outcome.text == expected_text(case, unsafe)
    assert not fix(outcome.text, unsafe).changed, "a second run must change nothing"
    applied = {code for a in outcome.applied for code in a.codes}
    if outcome.changed and applied <= MEANING_PRESERVING:
        assert upgraded(outcome.text) == upgraded(original)
    if applied and applied <= LEGACY:  # the file reads as exactly what Caffe's upgrade makes
        assert parse_prototxt(outcome.text).message == upgraded(original)


@pytest.mark.parametrize("case", CASES)
def test_crlf_line_endings_are_kept(case):
    original = read(f"{case}.prototxt").replace("\n", "\r\n")
    outcome = fix(original, unsafe=True)
    assert outcome.text == expected_text(case, True).replace("\n", "\r\n")


def test_unsafe_fixes_are_reported_not_applied():
    outcome = fix(read("w413_deploy_bn.prototxt"))
    (left,) = outcome.remaining
    assert left.code == "W413" and left.fix.applicability == UNSAFE
    assert "outputs" in left.fix.reason


def test_legacy_lossy_upgrade_is_unsafe():
    outcome = fix(read("w407_extra_input_dim.prototxt"))
    assert {d.code for d in outcome.remaining} == {"W405", "W407"}
    assert all(d.fix.applicability == UNSAFE for d in outcome.remaining)
    assert "input_dim value ignored" in outcome.remaining[0].fix.reason


def test_e201_in_v0_waits_for_the_upgrade():
    """The V0 block holds no `kernel_size` to edit: the upgrade comes first, E201 next round."""
    outcome = fix(read("e201_in_v0.prototxt"))
    rounds = {code: a.round for a in outcome.applied for code in a.codes}
    assert rounds["W401"] == 1 and rounds["E201"] == 2


def test_e201_in_v1_goes_with_the_upgrade():
    outcome = fix(read("e201_in_v1.prototxt"))
    assert {a.round for a in outcome.applied} == {1}


def test_every_fix_is_documented():
    fixable = {"E201", "E210", "W401", "W402", "W403", "W404", "W405", "W406", "W407", "W413",
               "W901"}
    for r in all_rules():
        if r.code in fixable:
            assert "prototxt-fix" in r.section("Fix"), r.code


# -- E201 and the weights --------------------------------------------------------------------------

def _caffemodel(tmp_path, kernel: int | None):
    net = parse_prototxt(read("e201_square.prototxt")).message
    weights = {} if kernel is None else {
        "fc6": [np.zeros((16, 8, kernel, kernel), np.float32), np.zeros(16, np.float32)]}
    path = tmp_path / "net.caffemodel"
    write_caffemodel(path, net, weights)
    return str(path)


def test_e201_fix_is_unsafe_when_the_weights_have_the_old_kernel(tmp_path):
    weights = _caffemodel(tmp_path, 7)
    outcome = fix(read("e201_square.prototxt"), weights=weights)
    assert not outcome.changed
    (finding,) = [d for d in outcome.remaining if d.code == "E201"]
    assert finding.fix.applicability == UNSAFE
    assert "16×8×7×7" in finding.fix.reason and "E304" in finding.fix.reason
    forced = fix(read("e201_square.prototxt"), unsafe=True, weights=weights)
    assert forced.text == read("e201_square.fixed.prototxt")


@pytest.mark.parametrize("kernel", [6, None], ids=["weights-of-the-new-kernel", "no-weights"])
def test_e201_fix_is_safe_when_the_weights_do_not_object(tmp_path, kernel):
    outcome = fix(read("e201_square.prototxt"), weights=_caffemodel(tmp_path, kernel))
    assert outcome.text == read("e201_square.fixed.prototxt")


# -- engine pieces ---------------------------------------------------------------------------------

def test_map_offset_through_edits():
    # "abcdef": replace "b" by "XX" (1..2), insert "!" at 4, delete "f" (5..6)
    edits = [TextEdit(1, 2, "XX"), TextEdit(4, 4, "!"), TextEdit(5, 6, "")]
    assert map_offset(0, edits) == 0      # before everything
    assert map_offset(1, edits) == 1      # start of the replaced "b"
    assert map_offset(3, edits) == 4      # "d": shifted by +1
    assert map_offset(4, edits) == 5      # "e": at the inserted "!"... which starts at 5
    assert map_offset(6, edits) == 7      # end: +1 +1 -1


def test_edits_overlap():
    assert edits_overlap(TextEdit(0, 5, ""), TextEdit(4, 6, "x"))
    assert not edits_overlap(TextEdit(0, 5, ""), TextEdit(5, 6, "x"))
    assert not edits_overlap(TextEdit(0, 5, ""), TextEdit(5, 5, "x"))   # insertion at its end
    assert edits_overlap(TextEdit(0, 5, ""), TextEdit(3, 3, "x"))       # insertion inside
    assert edits_overlap(TextEdit(3, 3, "a"), TextEdit(3, 3, "b"))      # order would be arbitrary
