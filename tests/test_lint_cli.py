"""The lint command line: exit codes, formats, selection, config discovery, parallel runs."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prototxt_tools.cli.lint import main
from prototxt_tools.lint import all_rules

from conftest import REPO, SAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lint"
SARIF_SCHEMA = Path(__file__).resolve().parent / "fixtures" / "sarif-schema-2.1.0.json"

CLEAN = """name: "clean"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "prob" type: "Softmax" bottom: "data" top: "prob" }
"""
BROKEN = CLEAN + 'layer { name: "relu" type: "ReLU" bottom: "dta" top: "relu" }\n'


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def nets(tmp_path) -> Path:
    (tmp_path / "clean.prototxt").write_text(CLEAN)
    (tmp_path / "broken.prototxt").write_text(BROKEN)
    return tmp_path


def test_exit_codes(nets, capsys):
    assert run([nets / "clean.prototxt"], capsys) == (0, "All checks passed!\n", "")
    code, out, _ = run([nets / "broken.prototxt"], capsys)
    assert code == 1 and out.splitlines() == [
        f"{nets / 'broken.prototxt'}:4:35: E101 bottom 'dta' of layer 'relu' is not produced by "
        "any layer or net input", "Found 1 problem (1 error)."]
    assert run(["--exit-zero", nets / "broken.prototxt"], capsys)[0] == 0


def test_information_does_not_fail_a_run(capsys):
    code, out, _ = run([FIXTURES / "I001.prototxt"], capsys)
    assert code == 0 and out.splitlines()[-1] == "Found 1 problem (1 info)."


def test_missing_path_exits_2_but_lints_the_rest(nets, capsys):
    code, out, err = run([nets / "nope.prototxt", nets / "broken.prototxt"], capsys)
    assert code == 2
    assert err == f"{nets / 'nope.prototxt'}: error: no such file or directory\n"
    assert "E101" in out
    assert run(["--exit-zero", nets / "nope.prototxt"], capsys)[0] == 2


def test_syntax_error_is_a_finding_not_a_crash(nets, capsys):
    code, out, err = run([FIXTURES / "E001.prototxt", nets / "clean.prototxt"], capsys)
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == f"{FIXTURES / 'E001.prototxt'}:4:7: E001 '{{' is never closed: " \
        "expected '}' before the end of the file"


def test_usage_errors_exit_2(nets, capsys):
    code, _, err = run(["--select", "X9", nets / "clean.prototxt"], capsys)
    assert code == 2 and "unknown rule selector 'X9'" in err
    code, _, err = run(["--weights", "w.caffemodel", nets / "clean.prototxt",
                        nets / "broken.prototxt"], capsys)
    assert code == 2 and err == "prototxt-lint: error: --weights needs exactly one net to lint\n"
    assert run(["--explain", "E999"], capsys)[0] == 2


def test_select_ignore_extend_select(capsys):
    lenet = SAMPLES / "lenet_v1.prototxt"
    codes = lambda argv: {line.split()[1] for line in run(argv + [lenet], capsys)[1].splitlines()
                          if line.startswith(f"{lenet}:")}
    assert codes([]) == {"W401", "W403", "W405"}
    assert codes(["--select", "W40", "--ignore", "W403"]) == {"W401", "W405"}
    assert codes(["--select", "E"]) == set()
    assert codes(["--ignore", "W4", "--extend-select", "W405"]) == {"W405"}


def test_text_counts_a_fix_that_only_unsafe_fixes_applies(tmp_path, capsys):
    """E201's fix is unsafe when --weights holds the old kernel's weights: no [*], and the
    summary says how to apply it anyway."""
    import numpy as np

    from prototxt_tools.caffemodel import write_caffemodel
    from prototxt_tools.text import parse_prototxt
    net = REPO / "tests" / "fixtures" / "fix" / "e201_square.prototxt"
    weights = tmp_path / "net.caffemodel"
    write_caffemodel(weights, parse_prototxt(net.read_text()).message,
                     {"fc6": [np.zeros((16, 8, 7, 7), np.float32), np.zeros(16, np.float32)]})
    code, out, _ = run(["--isolated", net], capsys)
    assert code == 1 and f"{net}:16:5: E201 [*] fc6:" in out
    assert out.endswith("Found 1 problem (1 error).\n[*] 1 fixable with `prototxt-fix`.\n")
    code, out, _ = run(["--isolated", "--weights", weights, net], capsys)
    assert code == 1 and f"{net}:16:5: E201 fc6:" in out
    assert out.endswith("Found 1 problem (1 error).\nNo safe fixes available (1 more with "
                        "`prototxt-fix --unsafe-fixes`).\n")


def test_net_state_options(capsys):
    """E101.prototxt in TRAIN: the label input exists and the TEST-only accuracy does not."""
    fixture = FIXTURES / "E101.prototxt"
    lines = lambda argv: [line.split(": ")[0].split(":", 1)[1]
                          for line in run(argv + [fixture], capsys)[1].splitlines()[:-1]]
    assert lines(["--select", "E101"]) == ["9:36", "10:55", "16:57"]
    assert lines(["--select", "E101", "--phase", "train"]) == ["9:36", "10:55"]


def test_config_discovery_and_precedence(nets, capsys):
    (nets / "pyproject.toml").write_text('[tool.prototxt-lint]\nignore = ["E1"]\n')
    broken = nets / "broken.prototxt"
    assert run([broken], capsys)[0] == 0
    assert run(["--select", "E101", broken], capsys)[0] == 1  # the command line wins
    assert run(["--isolated", broken], capsys)[0] == 1
    (nets / "pyproject.toml").write_text('[tool.prototxt-lint]\nper-file-ignores = '
                                         '{"broken.*" = ["E101"]}\n')
    assert run([broken], capsys)[0] == 0
    cfg = nets / "other.cfg"
    cfg.write_text("[prototxt-lint]\nselect = W4\n")
    assert run(["--config", cfg, broken], capsys)[0] == 0


def test_directories_and_globs(nets, capsys):
    (nets / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(nets / "broken.prototxt", nets / "sub" / "deeper" / "b2.prototxt")
    (nets / "sub" / "notes.txt").write_text("not a net")
    (nets / ".hidden").mkdir()
    shutil.copy(nets / "broken.prototxt", nets / ".hidden" / "b3.prototxt")
    out = run(["--format", "json", nets], capsys)[1]
    assert sorted({d["path"] for d in json.loads(out)}) == [
        str(nets / "broken.prototxt"), str(nets / "sub" / "deeper" / "b2.prototxt")]
    out = run(["--format", "json", f"{nets}/**/b*.prototxt"], capsys)[1]
    assert [d["path"] for d in json.loads(out)] == [str(nets / "broken.prototxt"),
                                                    str(nets / "sub" / "deeper" / "b2.prototxt")]
    (nets / "setup.cfg").write_text("[prototxt-lint]\nexclude = sub\n")
    out = run(["--format", "json", nets], capsys)[1]
    assert [d["path"] for d in json.loads(out)] == [str(nets / "broken.prototxt")]


def test_parallel_output_equals_serial(capsys):
    serial = run(["--select", "ALL", FIXTURES], capsys)
    parallel = run(["--select", "ALL", "-j", "2", FIXTURES], capsys)
    assert parallel == serial and serial[1].count("\n") > 30


def test_statistics(capsys):
    code, out, _ = run(["--statistics", SAMPLES / "lenet_v1.prototxt"], capsys)
    assert code == 1
    assert out.splitlines() == ["    3  W403  legacy-param-fields", "    1  W401  legacy-layer-format",
                                "    1  W405  legacy-input-fields"]


def test_explain_and_list_rules(capsys):
    code, out, _ = run(["--explain", "e101"], capsys)
    assert code == 0 and out.startswith("E101 undefined-bottom (error)")
    assert "## Why is this bad?" in out and "## Fix" in out
    out = run(["--list-rules"], capsys)[1]
    assert [line.split()[0] for line in out.splitlines()] == [r.code for r in all_rules()]


def test_github_format(nets, capsys):
    out = run(["--format", "github", nets / "broken.prototxt"], capsys)[1]
    path = str(nets / "broken.prototxt")
    assert out == (f"::error title=prototxt-lint (E101),file={path.replace(':', '%3A')},line=4,"
                   f"col=35,endLine=4,endColumn=48::{path}:4:35: E101 bottom 'dta' of layer "
                   "'relu' is not produced by any layer or net input\n")


def sarif_of(argv, capsys) -> dict:
    return json.loads(run(["--format", "sarif"] + argv, capsys)[1])


def test_sarif_structure(capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # relative paths give relative URIs (stable code-scanning alerts)
    log = sarif_of(["--select", "ALL", "tests/fixtures/lint"], capsys)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert run_["tool"]["driver"]["name"] == "prototxt-lint"
    assert [r["id"] for r in rules] == sorted(r.code for r in all_rules())
    for r in rules:
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
        assert r["shortDescription"]["text"] and r["name"]
    assert run_["results"]
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
        (loc,) = result["locations"]
        region = loc["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert loc["physicalLocation"]["artifactLocation"]["uri"].startswith("tests/fixtures/lint/")
    absolute = sarif_of([SAMPLES / "lenet_v1.prototxt"], capsys)["runs"][0]["results"][0]
    uri = absolute["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (SAMPLES / "lenet_v1.prototxt").as_uri()


@pytest.mark.skipif(not SARIF_SCHEMA.is_file() or importlib.util.find_spec("jsonschema") is None,
                    reason="needs jsonschema and tests/fixtures/sarif-schema-2.1.0.json")
def test_sarif_validates_against_the_oasis_schema(capsys):
    import jsonschema
    schema = json.loads(SARIF_SCHEMA.read_text())
    checker = jsonschema.FormatChecker()
    for argv in (["--select", "ALL", FIXTURES], [SAMPLES / "alexnet.prototxt"]):
        jsonschema.validate(sarif_of(argv, capsys), schema, format_checker=checker)
    broken = sarif_of([FIXTURES / "E101.prototxt"], capsys)
    broken["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level: must be refused
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, format_checker=checker)


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def test_lint_never_imports_onnx(nets):
    script = ("import sys\nfrom prototxt_tools.cli.lint import main\n"
              f"code = main(['--select', 'ALL', {str(nets)!r}, {str(FIXTURES)!r}])\n"
              "print('IMPORTED', sorted(m for m in ('onnx', 'onnxruntime') if m in sys.modules))\n"
              "sys.exit(code)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=subprocess_env(), cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[-1] == "IMPORTED []"


def test_console_entry_point(nets):
    proc = subprocess.run([sys.executable, "-m", "prototxt_tools.cli.lint", "--format", "json",
                           nets / "broken.prototxt"], capture_output=True, text=True,
                          env=subprocess_env(), cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert [d["code"] for d in json.loads(proc.stdout)] == ["E101"]


@pytest.mark.skipif(any(importlib.util.find_spec(f"prototxt_tools.cli.{m}") is None
                        for m in ("dump", "upgrade")),
                    reason="the prototxt-tools command needs all its subcommand modules")
def test_prototxt_tools_lint_subcommand(nets):
    proc = subprocess.run([sys.executable, "-m", "prototxt_tools", "lint", "--select", "E1",
                           nets / "broken.prototxt"], capture_output=True, text=True,
                          env=subprocess_env(), cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[-1] == "Found 1 problem (1 error)."
