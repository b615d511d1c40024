"""The pre-commit hooks (.pre-commit-hooks.yaml) run by pre-commit itself on a model repository.

``pre-commit try-repo`` installs this repository (with its uncommitted changes) into a fresh
hook environment, as a model repository's CI would.  The environment sees this interpreter's
site-packages and pip is told not to reach an index, so the test needs no network; it skips
when pre-commit, git or a git checkout of this repository is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SAMPLES

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None,
                       reason="pre-commit is not installed"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

PYPROJECT = '[tool.prototxt-lint]\nper-file-ignores = { "third_party/*" = ["E2"] }\n'


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def tracked(path: str) -> bool:
    done = subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=REPO,
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture(scope="module")
def hook_run(tmp_path_factory):
    """A model repository with a net Caffe refuses, a V1 net, a vendored copy of the refused
    net ignored by per-file-ignores, and a text file; both hooks run over all of it."""
    if not tracked(".pre-commit-hooks.yaml"):
        pytest.skip("this checkout has no committed .pre-commit-hooks.yaml")
    base = tmp_path_factory.mktemp("precommit")
    repo = base / "models"
    (repo / "third_party").mkdir(parents=True)
    shutil.copy(SAMPLES / "alexnet.prototxt", repo / "alexnet.prototxt")
    shutil.copy(SAMPLES / "lenet_v1.prototxt", repo / "lenet_v1.prototxt")
    shutil.copy(SAMPLES / "alexnet.prototxt", repo / "third_party" / "vendored.prototxt")
    (repo / "notes.txt").write_text("layer { type: 'Relu' }\n")
    (repo / "pyproject.toml").write_text(PYPROJECT)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    env = dict(os.environ, PRE_COMMIT_HOME=str(base / "cache"),
               VIRTUALENV_SYSTEM_SITE_PACKAGES="1",  # dependencies from this interpreter
               PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0",  # no network, no build env
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    env.pop("PROTOTXT_TOOLS_DISABLE_PLUGIN_AUTOLOAD", None)
    # lint first, on the files as committed; then the fix (the hook environment is reused
    # when this checkout has no uncommitted changes)
    hooks = ["prototxt-lint"] + (["prototxt-fix"] if tracked("prototxt_tools/cli/fix.py") else [])
    runs = {}
    for hook in hooks:
        runs[hook] = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO),
                                     hook, "--all-files", "--color", "never"], cwd=repo, env=env,
                                    capture_output=True, text=True, timeout=600)
        assert f"- hook id: {hook}" in runs[hook].stdout, runs[hook].stdout + runs[hook].stderr
    return repo, runs


def test_lint_hook_reports_with_positions_and_honours_the_configuration(hook_run):
    repo, runs = hook_run
    done = runs["prototxt-lint"]
    out = done.stdout
    assert done.returncode == 1 and "- exit code: 1" in out
    assert "alexnet.prototxt:219:5: E201" in out
    assert "lenet_v1.prototxt:10:1: W401" in out
    assert "vendored.prototxt" not in out  # third_party/* ignores E2 (pyproject.toml)
    assert "notes.txt" not in out  # only *.prototxt files are passed


def test_fix_hook_upgrades_the_legacy_net(hook_run):
    repo, runs = hook_run
    if "prototxt-fix" not in runs:
        pytest.skip("prototxt-fix is not in this checkout")
    done = runs["prototxt-fix"]
    assert done.returncode == 1 and "files were modified by this hook" in done.stdout
    text = (repo / "lenet_v1.prototxt").read_text()
    assert "\nlayers {" not in text and 'type: "Convolution"' in text
    import prototxt_tools as pt
    assert pt.load(repo / "lenet_v1.prototxt").format == "V2"
    # the configuration's per-file-ignores keep the fixes out of vendored nets too
    vendored = repo / "third_party" / "vendored.prototxt"
    assert vendored.read_text() == (SAMPLES / "alexnet.prototxt").read_text()
