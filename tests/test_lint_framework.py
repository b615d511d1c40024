"""The lint framework: rule registry, selection, suppression comments, config files, formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prototxt_tools.lint import Diagnostic, Rule, all_rules, default_codes, lint_source, rule
from prototxt_tools.lint import config as lint_config
from prototxt_tools.lint.config import ConfigError, ConfigFinder
from prototxt_tools.fix.model import UNSAFE, Fix
from prototxt_tools.lint.output import (escape_data, escape_property, fix_summary, render,
                                       summary)
from prototxt_tools.lint.registry import DOC_SECTIONS, RULES
from prototxt_tools.lint.selection import Selection, SelectionError, SelectionLevel, parse_selectors
from prototxt_tools.lint.suppress import parse_directives
from prototxt_tools.text import TextEdit

CODES = sorted(RULES) if RULES else [r.code for r in all_rules()]

# -- registry ------------------------------------------------------------------------------------

DOC = """Checks nothing.

## What it does
Nothing.

## Why is this bad?
It is not.

## Example
```
name: "x"
```

## Fix
None.
"""


def make_rule(code: str, name: str, doc: str = DOC) -> type:
    return type("Probe", (Rule,), {"code": code, "name": name, "summary": "probe", "__doc__": doc})


@pytest.mark.parametrize("code,name,doc,why", [
    ("E101", "another-name", DOC, "already registered"),
    ("E999", "undefined-bottom", DOC, "already used"),
    ("X101", "probe-rule", DOC, "must look like"),
    ("E998", "Probe_Rule", DOC, "kebab-case"),
    ("E997", "probe-rule", "Checks nothing.\n\n## What it does\nNothing.", "lacks section"),
], ids=["duplicate-code", "duplicate-name", "bad-code", "bad-name", "missing-doc"])
def test_bad_registrations_raise(code, name, doc, why):
    all_rules()
    before = dict(RULES)
    with pytest.raises(ValueError, match=why):
        rule(make_rule(code, name, doc))
    assert RULES == before


@pytest.mark.parametrize("r", all_rules(), ids=lambda r: r.code)
def test_rule_metadata(r):
    assert r.severity == {"E": "error", "W": "warning", "I": "info"}[r.code[0]]
    assert "\n" not in r.summary and len(r.summary) <= 90
    for heading in DOC_SECTIONS:
        assert r.section(heading[3:]), f"{r.code}: empty section {heading}"
    text = r.explain()
    assert text.startswith(f"{r.code} {r.name} ({r.severity}")


def test_rule_names_are_unique():
    names = [r.name for r in all_rules()]
    assert len(names) == len(set(names))


# -- selection -----------------------------------------------------------------------------------

def resolve(*levels: SelectionLevel) -> frozenset:
    return Selection(list(levels)).resolve(CODES, default_codes())


def test_default_selection_is_every_default_rule():
    assert resolve() == default_codes()
    assert "W414" not in resolve() and "E101" in resolve()


def test_select_replaces_and_prefixes_match():
    assert resolve(SelectionLevel(select=("E1",))) == {c for c in CODES if c.startswith("E1")}
    assert resolve(SelectionLevel(select=("ALL",))) == set(CODES)


def test_ignore_removes_and_specific_select_beats_broad_ignore():
    assert resolve(SelectionLevel(select=("E",), ignore=("E101",))) == \
        {c for c in CODES if c.startswith("E") and c != "E101"}
    assert resolve(SelectionLevel(select=("E101",), ignore=("E1",))) == {"E101"}
    # equally specific: ignore wins
    assert "E101" not in resolve(SelectionLevel(select=("E101",), ignore=("E101",)))


def test_extend_select_adds_to_the_lower_level():
    assert resolve(SelectionLevel(extend_select=("W414",))) == default_codes() | {"W414"}


def test_command_line_select_overrides_config():
    config = SelectionLevel(select=("W4",), extend_select=("E101",))
    cli = SelectionLevel(select=("E102",))
    assert resolve(config, cli) == {"E102"}
    assert resolve(config, SelectionLevel(ignore=("W401",))) == \
        {c for c in CODES if c.startswith("W4") and c != "W401"} | {"E101"}


def test_unknown_selector_is_an_error():
    assert parse_selectors(["e1, w401", "ALL"], CODES) == ("E1", "W401", "ALL")
    with pytest.raises(SelectionError, match="X9"):
        parse_selectors(["E101,X9"], CODES)


# -- suppression comments ------------------------------------------------------------------------

NET = """name: "n"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
{relu1}
{relu2}
"""


def lint_text(text: str, codes=("E101", "E102", "W901", "W902")) -> list[tuple]:
    return [(d.code, d.line) for d in lint_source("mem.prototxt", frozenset(codes), text=text)]


def test_noqa_is_only_a_comment_outside_strings():
    text = 'layer { name: "a # noqa: E101" type: "ReLU" bottom: "missing" top: "a" }\n'
    assert parse_directives(text) == []
    assert lint_text(text) == [("E101", 1)]
    assert lint_text(text + "# noqa\n") == [("E101", 1), ("W901", 2)]


@pytest.mark.parametrize("comment,expected", [
    ("# noqa", []),
    ("# NOQA: E101", []),
    ("# noqa: E1", []),
    ("# noqa: E102", [("E101", 3), ("W901", 3)]),
    ("# noqa: E101, E102", [("W901", 3)]),
    ("# noqa: E101, W401", []),  # W401 is not selected: its use cannot be judged
    ("# noqa: E16", [("E101", 3), ("W902", 3)]),
    ("# just a comment", [("E101", 3)]),
], ids=["blanket", "upper", "prefix", "other-code", "extra-code", "unselected-code",
        "unknown-code", "plain"])
def test_noqa_on_the_line(comment, expected):
    relu = f'layer {{ name: "r" type: "ReLU" bottom: "dta" top: "r" }}  {comment}'
    assert lint_text(NET.replace("{relu1}", relu).replace("{relu2}", "")) == expected


def test_block_directive_covers_the_next_layer_only():
    relu1 = ('# prototxt-lint: disable=E101\n'
             'layer {\n  name: "r1"\n  type: "ReLU"\n  bottom: "dta"\n  top: "r1"\n}')
    relu2 = 'layer { name: "r2" type: "ReLU" bottom: "dta" top: "r2" }'
    text = NET.replace("{relu1}", relu1).replace("{relu2}", relu2)
    assert lint_text(text) == [("E101", 10)]


def test_block_directive_at_the_end_of_a_block_opening_line():
    relu1 = 'layer {  # prototxt-lint: disable=E101\n  name: "r1"\n  bottom: "dta"\n  top: "r1"\n}'
    text = NET.replace("{relu1}", relu1).replace("{relu2}", "")
    assert lint_text(text) == []


def test_file_directive_before_the_first_field():
    relu = 'layer { name: "r" type: "ReLU" bottom: "dta" top: "r" }'
    body = NET.replace("{relu1}", relu).replace("{relu2}", relu.replace('"r"', '"s"'))
    assert lint_text("# prototxt-lint: disable-file=E101\n" + body) == []
    assert lint_text("# prototxt-lint: disable-file\n" + body) == []
    assert lint_text("# prototxt-lint: disable-file=E102\n" + body) == \
        [("W901", 1), ("E101", 4), ("E101", 5)]


def test_blanket_noqa_does_not_hide_its_own_unused_report():
    text = NET.replace("{relu1}", "# noqa").replace("{relu2}", "")
    assert lint_text(text) == [("W901", 3)]


def test_syntax_error_still_honours_noqa():
    assert lint_text('name: "x"\nlayer {  # noqa: E001\n', ("E001", "W901")) == []
    assert lint_text('name: "x"\nlayer {\n', ("E001", "W901")) == [("E001", 2)]


# -- config files --------------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_nearest_config_wins_and_tables_are_required(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.prototxt-lint]\nselect = ["E1"]\nignore = ["E101"]\n')
    write(tmp_path / "a" / "setup.cfg", "[prototxt-lint]\nextend-select = W414\n")
    write(tmp_path / "a" / "b" / "pyproject.toml", "[tool.other]\nx = 1\n")  # skipped
    finder = ConfigFinder()
    top = finder.for_file(str(tmp_path / "n.prototxt"))
    deep = finder.for_file(str(tmp_path / "a" / "b" / "n.prototxt"))
    assert (top.select, top.ignore) == (["E1"], ["E101"])
    assert deep.path == tmp_path / "a" / "setup.cfg" and deep.extend_select == ["W414"]


def test_per_file_ignores_and_exclude(tmp_path):
    write(tmp_path / "setup.cfg", "[prototxt-lint]\nexclude = build/*\nper-file-ignores =\n"
          "    legacy/*: W4, E101\n    *_v1.prototxt: W401\n")
    config = ConfigFinder().for_file(str(tmp_path / "x.prototxt"))
    assert config.ignores_for(str(tmp_path / "legacy" / "n.prototxt")) == ["W4", "E101"]
    assert config.ignores_for(str(tmp_path / "deep" / "lenet_v1.prototxt")) == ["W401"]
    assert config.ignores_for(str(tmp_path / "n.prototxt")) == []
    assert config.excludes(str(tmp_path / "build" / "n.prototxt"))


@pytest.mark.parametrize("text,why", [
    ("[tool.prototxt-lint]\nselekt = ['E1']\n", "unknown key"),
    ("[tool.prototxt-lint]\nselect = 'E1'\n", "list of strings"),
    ("[tool.prototxt-lint\n", "invalid TOML"),
])
def test_bad_config_is_an_error(tmp_path, text, why):
    write(tmp_path / "pyproject.toml", text)
    with pytest.raises(ConfigError, match=why):
        ConfigFinder().for_file(str(tmp_path / "n.prototxt"))


def test_pyproject_needs_tomllib(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: the table is skipped with a note, setup.cfg still counts."""
    write(tmp_path / "pyproject.toml", "[tool.prototxt-lint]\nselect = ['E1']\n")
    write(tmp_path / "setup.cfg", "[prototxt-lint]\nselect = W4\n")
    monkeypatch.setattr(lint_config, "tomllib", None)
    notes: list = []
    config = ConfigFinder(notes).for_file(str(tmp_path / "n.prototxt"))
    assert config.select == ["W4"] and "Python 3.11" in notes[0]


# -- output formats -------------------------------------------------------------------------------

def diag(**kw) -> Diagnostic:
    base = dict(code="E101", severity="error", message="bottom 'conv1' of layer 'relu1' is not "
                "produced by any earlier layer", path="models/deploy.prototxt", line=12, col=3,
                end_line=12, end_col=9, name="undefined-bottom")
    base.update(kw)
    return Diagnostic(**base)


def test_github_annotation_exact_format():
    out = render("github", [diag()], all_rules())
    assert out == ("::error title=prototxt-lint (E101),file=models/deploy.prototxt,line=12,col=3,"
                   "endLine=12,endColumn=9::models/deploy.prototxt:12:3: E101 bottom 'conv1' of "
                   "layer 'relu1' is not produced by any earlier layer\n")


def test_github_escaping_and_multiline_ranges():
    assert escape_data("100% a\r\nb") == "100%25 a%0D%0Ab"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    d = diag(code="W401", severity="warning", path="odd:dir,x/n.prototxt", message="50%\nnext",
             line=3, col=1, end_line=9, end_col=2)
    out = render("github", [d], all_rules())
    assert out == ("::warning title=prototxt-lint (W401),file=odd%3Adir%2Cx/n.prototxt,line=3,"
                   "endLine=9::odd:dir,x/n.prototxt:3:1: W401 50%25%0Anext\n")


def test_text_format_and_summary():
    out = render("text", [diag(), diag(code="W401", severity="warning", line=13)], all_rules())
    assert out.splitlines() == [
        "models/deploy.prototxt:12:3: E101 bottom 'conv1' of layer 'relu1' is not produced by "
        "any earlier layer",
        "models/deploy.prototxt:13:3: W401 bottom 'conv1' of layer 'relu1' is not produced by "
        "any earlier layer",
        "Found 2 problems (1 error, 1 warning)."]
    assert summary([]) == "All checks passed!"


def test_text_marks_safe_fixes_like_ruff_and_counts_them():
    safe = Fix("rename", (TextEdit(0, 1, "x"),))
    unsafe = Fix("drop", (TextEdit(2, 3, ""),), UNSAFE, "changes the outputs")
    found = [diag(fix=safe), diag(line=13, fix=unsafe), diag(line=14), diag(line=15, fix=safe)]
    out = render("text", found, all_rules()).splitlines()
    assert [line.split(": ")[1].split(" bottom")[0] for line in out[:4]] == [
        "E101 [*]", "E101", "E101", "E101 [*]"]
    assert out[4:] == ["Found 4 problems (4 errors).",
                       "[*] 2 fixable with `prototxt-fix` (1 more with `prototxt-fix "
                       "--unsafe-fixes`)."]
    assert fix_summary(found[:1]) == "[*] 1 fixable with `prototxt-fix`."
    assert fix_summary(found[1:3]) == ("No safe fixes available (1 more with `prototxt-fix "
                                       "--unsafe-fixes`).")
    assert fix_summary(found[2:3]) == fix_summary([]) == ""
    # the machine formats are unchanged: JSON carries the fix and its applicability
    assert "[*]" not in render("github", found, all_rules())
    assert [d["fix"] and d["fix"]["applicability"]
            for d in json.loads(render("json", found, all_rules()))] == ["safe", "unsafe", None,
                                                                         "safe"]


def test_json_format_round_trips():
    data = json.loads(render("json", [diag()], all_rules()))
    assert data == [{"code": "E101", "severity": "error", "message": diag().message,
                     "path": "models/deploy.prototxt", "line": 12, "col": 3, "end_line": 12,
                     "end_col": 9, "layer": None, "name": "undefined-bottom", "fix": None}]


def test_json_gives_a_shared_fix_once():
    """A V1 net's format upgrade is the fix of W401 and of every per-layer W403: the JSON
    carries its edits once, the other findings point at that finding."""
    path = Path(__file__).resolve().parents[1] / "samples" / "lenet_v1.prototxt"
    found = lint_source(str(path), default_codes())
    data = json.loads(render("json", found, all_rules()))
    shared = [(i, d) for i, d in enumerate(data) if d["fix"] and "same_as" in d["fix"]]
    assert shared, [d["code"] for d in data]
    for i, d in shared:
        owner = data[d["fix"]["same_as"]]
        assert d["fix"]["same_as"] < i and d["fix"]["edits"] == [] and owner["fix"]["edits"]
        assert d["fix"]["message"] == owner["fix"]["message"]
        assert found[i].fix is found[d["fix"]["same_as"]].fix  # the very same fix
    # every finding with a fix of its own still has it in full
    assert all(d["fix"]["edits"] for d in data if d["fix"] and "same_as" not in d["fix"])
