"""The prototxt-fix command line: the AlexNet demo, --diff for git apply, exit codes, -o,
selection, and never losing data (parse errors, read-only files, CRLF, symlinks, permissions,
encodings, a fix that breaks the file)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from prototxt_tools.cli.fix import main
from prototxt_tools.fix import Fix
from prototxt_tools.text import TextEdit

from conftest import REPO, SAMPLES

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fix"
ALEXNET = SAMPLES / "alexnet.prototxt"


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def tools(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "prototxt_tools", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8")


def copy(src: Path, dst_dir: Path, name: str | None = None) -> Path:
    dst = dst_dir / (name or src.name)
    shutil.copyfile(src, dst)
    return dst


# -- the AlexNet demo ------------------------------------------------------------------------------

def test_alexnet_diff_is_the_kernel_line_and_git_applies_it(tmp_path):
    result = tools("fix", "--diff", "samples/alexnet.prototxt")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:3] == ["--- a/samples/alexnet.prototxt", "+++ b/samples/alexnet.prototxt",
                         "@@ -216,7 +216,7 @@"]  # line 219 with 3 lines of context each side
    changed = [line for line in lines[3:] if line[:1] in "+-"]
    assert changed == ["-    kernel_size: 7", "+    kernel_size: 6"]
    assert "alexnet.prototxt:219:5: E201 [would fix]" in result.stderr
    assert "    kernel_size: 7\n" in ALEXNET.read_text(), "--diff must not write"

    repo = tmp_path / "repo"
    (repo / "samples").mkdir(parents=True)
    copy(ALEXNET, repo / "samples")
    git = ["git", "-c", "core.autocrlf=false"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    for extra in (["--check"], []):
        applied = subprocess.run(git + ["apply", *extra, "-"], cwd=repo, input=result.stdout,
                                 text=True, capture_output=True)
        assert applied.returncode == 0, applied.stderr
    text = ALEXNET.read_text().splitlines(keepends=True)
    text[218] = "    kernel_size: 6\n"
    assert (repo / "samples" / "alexnet.prototxt").read_text() == "".join(text)


def test_alexnet_fixed_in_place_is_lint_clean(tmp_path):
    net = copy(ALEXNET, tmp_path)
    result = tools("fix", str(net))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{net}:219:5: E201 [fixed] fc6: kernel 7×7 -> 6×6, the whole of its input pool5 "
        "(256×6×6)", "Found 1 problem (1 fixed, 0 remaining)."]
    assert tools("lint", str(net)).returncode == 0
    again = tools("fix", str(net))
    assert (again.returncode, again.stdout) == (0, "All checks passed!\n")


def test_console_script_entry_point(tmp_path, capsys):
    net = copy(ALEXNET, tmp_path)
    code, out, err = run([net], capsys)
    assert code == 0 and "E201 [fixed]" in out and err == ""


# -- modes and exit codes --------------------------------------------------------------------------

def test_diff_with_nothing_to_fix_exits_0(tmp_path, capsys):
    net = copy(FIXTURES / "e201_square.fixed.prototxt", tmp_path, "clean.prototxt")
    assert run(["--diff", net], capsys)[:2] == (0, "")


def test_remaining_findings_exit_1(tmp_path, capsys):
    net = copy(FIXTURES / "e201_padded_no_fix.prototxt", tmp_path)
    code, out, _ = run([net], capsys)
    assert code == 1
    assert out.splitlines()[-1] == "Found 1 problem (0 fixed, 1 remaining)."


def test_unsafe_fixes_are_hinted_then_applied(tmp_path, capsys):
    net = copy(FIXTURES / "w413_deploy_bn.prototxt", tmp_path)
    code, out, _ = run([net], capsys)
    assert code == 1 and " W413 [unsafe fix] " in out
    assert out.splitlines()[-1] == "1 unsafe fix not applied: run with --unsafe-fixes to apply it."
    code, out, _ = run(["--unsafe-fixes", net], capsys)
    assert code == 0
    assert net.read_text() == (FIXTURES / "w413_deploy_bn.unsafe.prototxt").read_text()


def test_output_file_leaves_the_input_alone(tmp_path, capsys):
    net = copy(SAMPLES / "lenet_v1.prototxt", tmp_path)
    before = net.read_bytes()
    out_path = tmp_path / "out" / "lenet.prototxt"
    out_path.parent.mkdir()
    code, out, _ = run([net, "-o", out_path], capsys)
    assert code == 0 and net.read_bytes() == before
    assert "\nlayers {" not in out_path.read_text() and "W401" in out


def test_output_needs_one_file(tmp_path, capsys):
    a, b = copy(ALEXNET, tmp_path, "a.prototxt"), copy(ALEXNET, tmp_path, "b.prototxt")
    code, _, err = run([a, b, "-o", tmp_path / "out.prototxt"], capsys)
    assert code == 2 and err.startswith("prototxt-fix: error: -o/--output needs exactly one")


def test_select_and_ignore(tmp_path, capsys):
    net = copy(SAMPLES / "lenet_v1.prototxt", tmp_path)
    before = net.read_text()
    assert run(["--ignore", "W4", net], capsys)[:2] == (0, "All checks passed!\n")
    assert net.read_text() == before
    code, out, _ = run(["--select", "W405", net], capsys)  # the format upgrade is one fix
    assert code == 0 and "\nlayers {" not in net.read_text()


def test_directories_are_searched(tmp_path, capsys):
    copy(ALEXNET, tmp_path)
    copy(SAMPLES / "lenet_v1.prototxt", tmp_path)
    code, out, _ = run([tmp_path], capsys)
    assert code == 0 and out.splitlines()[-1] == "Found 6 problems (6 fixed, 0 remaining)."


def test_tools_fix_is_registered():
    result = tools("fix", "--help")
    assert result.returncode == 0 and "--unsafe-fixes" in result.stdout


def test_lint_json_carries_the_fix():
    result = tools("lint", "--format", "json", "samples/alexnet.prototxt")
    (finding,) = json.loads(result.stdout)
    fix = finding["fix"]
    assert fix["applicability"] == "safe"
    assert fix["edits"] == [{"content": "6", "start": fix["edits"][0]["start"],
                             "end": fix["edits"][0]["start"] + 1,
                             "location": {"row": 219, "column": 18},
                             "end_location": {"row": 219, "column": 19}}]


# -- never lose data -------------------------------------------------------------------------------

def test_a_file_that_does_not_parse_is_left_alone(tmp_path, capsys):
    net = tmp_path / "broken.prototxt"
    net.write_bytes(b'layer { name: "a" type: "ReLU"\n  bottom: "x" top: "y" \n')  # no }
    before = net.read_bytes()
    code, out, err = run([net], capsys)
    assert code == 2 and net.read_bytes() == before
    assert len(err.splitlines()) == 1 and err.startswith(f"{net}:") and ": error: " in err
    assert sorted(os.listdir(tmp_path)) == ["broken.prototxt"]


def test_read_only_file_is_refused(tmp_path, capsys):
    net = copy(ALEXNET, tmp_path)
    net.chmod(0o444)
    before = net.read_bytes()
    code, out, err = run([net], capsys)
    assert code == 2 and net.read_bytes() == before and "[fixed]" not in out
    assert "read-only" in err and "unchanged" in err
    assert stat.S_IMODE(net.stat().st_mode) == 0o444
    assert sorted(os.listdir(tmp_path)) == ["alexnet.prototxt"]


def test_crlf_and_permissions_are_kept(tmp_path, capsys):
    net = tmp_path / "lenet.prototxt"
    net.write_bytes((SAMPLES / "lenet_v1.prototxt").read_bytes().replace(b"\n", b"\r\n"))
    net.chmod(0o640)
    assert run([net], capsys)[0] == 0
    data = net.read_bytes()
    assert b"\nlayers {" not in data and data.count(b"\n") == data.count(b"\r\n")
    assert stat.S_IMODE(net.stat().st_mode) == 0o640


def test_symlink_is_followed(tmp_path, capsys):
    real = copy(ALEXNET, tmp_path, "real.prototxt")
    link = tmp_path / "link.prototxt"
    link.symlink_to(real)
    assert run([link], capsys)[0] == 0
    assert link.is_symlink() and "kernel_size: 6" in real.read_text()


def test_latin1_file_keeps_its_bytes(tmp_path, capsys):
    net = tmp_path / "latin1.prototxt"
    original = (FIXTURES / "e201_square.prototxt").read_bytes().replace(
        b"# A fully", b"# caf\xe9: a fully")
    net.write_bytes(original)
    assert run([net], capsys)[0] == 0
    assert net.read_bytes() == original.replace(b"kernel_size: 7", b"kernel_size: 6")


def test_a_fix_that_breaks_the_file_is_an_internal_error(tmp_path, capsys, monkeypatch):
    from prototxt_tools.lint.rules import shapes

    def broken(ctx, layer, *args):
        return Fix("break it", (TextEdit(0, 0, "}}}"),))
    monkeypatch.setattr(shapes, "covering_kernel_fix", broken)
    net = copy(ALEXNET, tmp_path)
    before = net.read_bytes()
    code, _, err = run([net], capsys)
    assert code == 2 and net.read_bytes() == before
    assert "internal error" in err and "E201" in err
    assert sorted(os.listdir(tmp_path)) == ["alexnet.prototxt"]


@pytest.mark.parametrize("sample", ["lenet_v1.prototxt", "cifar_small_v0.prototxt"])
def test_legacy_samples_become_lint_clean(tmp_path, sample):
    net = copy(SAMPLES / sample, tmp_path)
    assert tools("fix", str(net)).returncode == 0
    assert tools("lint", str(net)).returncode == 0
    assert tools("fix", "--diff", str(net)).stdout == ""
