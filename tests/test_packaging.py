"""The wheel: it builds (``python -m build``), holds what the package needs, installs into a
clean virtual environment and every console script runs from there.

The environment sees this interpreter's site-packages (protobuf, numpy: nothing downloaded) and
the wheel is installed with ``--no-deps``.  The build runs without isolation when the backend
needs nothing new (setuptools >= 70.1, or ``wheel`` installed); otherwise ``build`` fetches
setuptools from the package index as a user's build would.  Skips when ``build`` is absent.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, SAMPLES

pytestmark = pytest.mark.skipif(importlib.util.find_spec("build") is None,
                                reason="the build package is not installed")

SOURCES = ("prototxt_tools", "setup.cfg", "pyproject.toml", "README.md")


def _backend_ready() -> bool:
    """Can setuptools build a wheel here without installing anything?"""
    if importlib.util.find_spec("wheel") is not None:
        return True
    version = tuple(int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    return version >= (70, 1)  # bdist_wheel moved into setuptools


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, venv path) -- the wheel built from a copy of the sources (so the build
    leaves nothing in the checkout) and installed into a fresh virtual environment."""
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, src / name)
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(base / "dist"), str(src)]
    if _backend_ready():
        build.append("--no-isolation")
    done = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = (base / "dist").glob("*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    python = _bin(venv, "python")
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                           "--no-deps", "--no-index", "--force-reinstall", "--quiet", str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return wheel, venv


def run_in(venv: Path, *args, cwd=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = str(_bin(venv, "")) + os.pathsep + env.get("PATH", "")
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd or venv, env=env, timeout=120)


def wheel_console_scripts(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        parser = configparser.ConfigParser()
        parser.read_string(z.read(name).decode())
    return dict(parser["console_scripts"])


def test_wheel_contents(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "prototxt_tools/_proto/prototxt_tools_caffe_pb2.py" in names
    assert "prototxt_tools/py.typed" in names and "prototxt_tools/__main__.py" in names
    assert not any(n.startswith(("tests/", "samples/", "benchmarks/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    assert "Requires-Dist: protobuf" in metadata and "Requires-Dist: numpy" in metadata
    scripts = wheel_console_scripts(wheel)
    assert {"prototxt-tools", "prototxt-lint"} <= set(scripts)


def test_every_console_script_runs_from_the_install(installed):
    wheel, venv = installed
    for script in wheel_console_scripts(wheel):
        done = run_in(venv, _bin(venv, script), "--help")
        assert done.returncode == 0 and done.stdout.startswith("usage: "), (script, done.stderr)
    done = run_in(venv, _bin(venv, "python"), "-m", "prototxt_tools", "--help")
    assert done.returncode == 0 and "usage: " in done.stdout


def test_every_command_help(installed):
    _, venv = installed
    from prototxt_tools.cli import COMMANDS
    for command in COMMANDS:
        done = run_in(venv, _bin(venv, "prototxt-tools"), command, "--help")
        assert done.returncode == 0 and done.stdout.startswith("usage: "), (command, done.stderr)


def test_installed_package_is_used_and_works(installed):
    _, venv = installed
    where = run_in(venv, _bin(venv, "python"), "-c",
                   "import prototxt_tools; print(prototxt_tools.__file__)").stdout.strip()
    assert Path(where).resolve().is_relative_to(venv.resolve())
    done = run_in(venv, _bin(venv, "prototxt-lint"), SAMPLES / "alexnet.prototxt")
    assert done.returncode == 1 and ":219:5: E201 [*] fc6:" in done.stdout
    done = run_in(venv, _bin(venv, "prototxt-tools"), "completion", "bash")
    assert done.returncode == 0 and "complete -o filenames" in done.stdout
