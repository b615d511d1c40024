"""The README's generated tables match the registries, and its commands name real things."""

from __future__ import annotations

import re
import subprocess
import sys

from prototxt_tools import _readme

from conftest import REPO


def test_generated_tables_are_current():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert _readme.render(text) == text, "run: python -m prototxt_tools._readme"


def test_every_shape_rule_and_lint_rule_is_listed():
    from prototxt_tools.lint.registry import all_rules
    from prototxt_tools.shapes import SHAPE_RULES
    text = (REPO / "README.md").read_text(encoding="utf-8")
    from prototxt_tools.export import EXPORTERS
    for layer_type in set(SHAPE_RULES) | set(EXPORTERS):
        assert f"| `{layer_type}` |" in text, layer_type
    codes = [r.code for r in all_rules()]
    assert codes
    for code in codes:
        assert re.search(rf"\| {code} \|", text), code


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'python3 -m pip install ".[test]" && python3 -m pytest' in readme
    assert 'python3 -m pip install --quiet ".[test]"' in ci and "python3 -m pytest" in ci


def test_readme_demo_output_is_what_lint_prints():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```\n(samples/alexnet\.prototxt:\d+:\d+: E201 .*?\n)```", readme,
                      re.S).group(1)
    out = subprocess.run([sys.executable, "-m", "prototxt_tools", "lint", "samples/alexnet.prototxt"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 1
    assert shown == out.stdout
