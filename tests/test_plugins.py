"""Plugins: the sample Mish plugin (samples/plugin_example) loaded by --plugin and by an entry
point, its shapes, its ONNX export against the Mish formula, lint's view of its type, and
plugins that fail.

Loading a plugin registers layer types for the rest of the process, so every run that loads one
happens in a subprocess (the README tables are generated from the registries of this one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SAMPLES

EXAMPLE = SAMPLES / "plugin_example"
PLUGIN_FILE = EXAMPLE / "prototxt_mish.py"
MISH_NET = EXAMPLE / "mish_net.prototxt"


def run(args: list, env_extra: dict | None = None, path: list | None = None,
        module: str = "prototxt_tools") -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PROTOTXT_TOOLS_DISABLE_PLUGIN_AUTOLOAD", None)
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in (path or [])] + [str(REPO)])
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120)


def layer_rows(stdout: str) -> dict:
    return {row["name"]: row for row in json.loads(stdout)["layers"]}


def test_plugin_file_gives_shapes():
    done = run(["--plugin", PLUGIN_FILE, "shapes", "--format", "json", MISH_NET])
    assert done.returncode == 0, done.stderr
    rows = layer_rows(done.stdout)
    # conv 3x3, no pad, on 8x8: 8 - 3 + 1 = 6; Mish keeps it; 2x2/2 max pooling: 6 / 2 = 3
    assert rows["mish1"]["tops"] == ["1x4x6x6"] and rows["mish1"]["status"] == "ok"
    assert rows["pool1"]["tops"] == ["1x4x3x3"]


def test_without_plugin_shapes_stop_at_the_fork_layer():
    rows = layer_rows(run(["shapes", "--format", "json", MISH_NET]).stdout)
    assert rows["mish1"]["status"] == "unknown" and rows["pool1"]["tops"] == ["?"]


def test_plugin_flag_after_the_command_name():
    done = run(["shapes", "--plugin", PLUGIN_FILE, "--format", "json", MISH_NET])
    assert layer_rows(done.stdout)["pool1"]["tops"] == ["1x4x3x3"], done.stderr


def test_lint_knows_the_plugin_type_and_imports_no_onnx():
    code = ("import sys\nfrom prototxt_tools.cli.lint import main\n"
            f"rc = main(['--plugin', 'prototxt_mish', '--format', 'json', {str(MISH_NET)!r}])\n"
            "print('ONNX-IMPORTED' if 'onnx' in sys.modules else 'NO-ONNX')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(EXAMPLE), str(REPO)]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    found = json.loads(done.stdout.rsplit("\n", 2)[0])
    codes = {d["code"]: d for d in found}
    assert "E106" not in codes
    assert "W101" in codes and "Mish fork layer" in codes["W101"]["message"]
    assert codes["W101"]["line"] == 18  # `type: "Mish"` in mish_net.prototxt
    assert done.stdout.rstrip().endswith("NO-ONNX")


def test_unknown_type_without_plugin_says_how_to_add_one():
    done = run(["--format", "json", MISH_NET], module="prototxt_tools.cli.lint")
    (diag,) = [d for d in json.loads(done.stdout) if d["code"] == "E106"]
    assert diag["line"] == 18
    assert "register it with a plugin (--plugin MODULE" in diag["message"]
    explain = run(["--explain", "E106"], module="prototxt_tools.cli.lint").stdout
    assert "--plugin MODULE" in explain and "prototxt_tools.plugins" in explain


def test_parallel_lint_workers_load_the_plugins_too():
    """spawn-started workers (macOS, Windows, Python 3.14's forkserver) do not inherit the
    parent's registries: the pool's initializer loads the same plugins."""
    code = textwrap.dedent(f"""
        import multiprocessing, sys
        multiprocessing.set_start_method("spawn")
        from prototxt_tools.cli.lint import main
        sys.exit(main(["--plugin", {str(PLUGIN_FILE)!r}, "-j", "2", "--format", "json",
                       {str(MISH_NET)!r}, {str(MISH_NET)!r}]))
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    codes = [d["code"] for d in json.loads(done.stdout)]
    assert codes == ["W101"], done.stderr  # one file given twice is linted once


def write_dist_info(site: Path, value: str = "prototxt_mish") -> None:
    """What pip leaves for an installed plugin: a dist-info with an entry_points.txt."""
    info = site / "prototxt_tools_mish-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: prototxt-tools-mish\n"
                                   "Version: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[prototxt_tools.plugins]\nmish = {value}\n")


def test_entry_point_plugin_is_loaded_by_every_command(tmp_path):
    write_dist_info(tmp_path)
    done = run(["shapes", "--format", "json", MISH_NET], path=[tmp_path, EXAMPLE])
    assert layer_rows(done.stdout)["pool1"]["tops"] == ["1x4x3x3"], done.stderr
    lint = run(["--format", "json", MISH_NET], path=[tmp_path, EXAMPLE],
               module="prototxt_tools.cli.lint")
    assert [d["code"] for d in json.loads(lint.stdout)] == ["W101"]


def test_entry_point_autoload_can_be_turned_off(tmp_path):
    write_dist_info(tmp_path)
    done = run(["shapes", "--format", "json", MISH_NET], path=[tmp_path, EXAMPLE],
               env_extra={"PROTOTXT_TOOLS_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert layer_rows(done.stdout)["mish1"]["status"] == "unknown"


def test_entry_point_plugin_in_the_python_api(tmp_path):
    write_dist_info(tmp_path)
    code = (f"import prototxt_tools as pt\n"
            f"print(pt.infer_shapes({str(MISH_NET)!r}).by_name()['pool1'])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(EXAMPLE), str(REPO)]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stdout.strip() == "(1, 4, 3, 3)", done.stderr


def mish(x: np.ndarray) -> np.ndarray:
    """The Mish activation in float64: x * tanh(ln(1 + e^x))."""
    x = x.astype(np.float64)
    return x * np.tanh(np.log1p(np.exp(x)))


def test_plugin_onnx_export_computes_mish(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    net = tmp_path / "mish_only.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data"\n'
                   '  input_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 } } }\n'
                   'layer { name: "act" type: "Mish" bottom: "data" top: "act" }\n')
    out = tmp_path / "mish.onnx"
    done = run(["--plugin", PLUGIN_FILE, "onnx", net, "-o", out])
    assert done.returncode == 0, done.stderr
    x = np.random.default_rng(0).normal(0, 3, (2, 3, 4, 5)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (y,) = session.run(["act"], {"data": x})
    np.testing.assert_allclose(y, mish(x), rtol=1e-5, atol=1e-6)


def test_export_without_plugin_refuses_the_fork_layer():
    pytest.importorskip("onnx")
    done = run(["onnx", MISH_NET, "--random-weights", "0", "-o", os.devnull])
    assert done.returncode == 2 and "Mish" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("body, message", [
    ("raise RuntimeError('boom')\n", "failed: RuntimeError: boom"),
    ("from prototxt_tools.plugins import shape_rule\n\n@shape_rule('ReLU')\n"
     "def again(layer, bottoms):\n    return None\n", "registered twice"),
])
def test_failing_plugin_points_at_its_own_line(tmp_path, body, message):
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("# a plugin that fails while loading\n" + body)
    done = run(["--plugin", plugin, "shapes", MISH_NET])
    line = 2 if "boom" in body else 4  # the raise / the decorator line
    assert done.returncode == 2
    assert done.stderr.startswith(f"{plugin}:{line}: error: plugin ") and message in done.stderr
    assert "Traceback" not in done.stderr


def test_plugin_with_a_syntax_error(tmp_path):
    plugin = tmp_path / "bad_syntax.py"
    plugin.write_text("x = 1\ndef f(:\n")
    done = run(["--plugin", plugin, "shapes", MISH_NET])
    assert done.returncode == 2 and done.stderr.startswith(f"{plugin}:2:")


def test_missing_plugin_module():
    done = run(["--plugin", "no_such_plugin_module", "shapes", MISH_NET])
    assert done.returncode == 2
    assert "'no_such_plugin_module' cannot be loaded: ModuleNotFoundError" in done.stderr
    assert "PYTHONPATH" in done.stderr and "Traceback" not in done.stderr


def test_missing_plugin_file():
    done = run(["--plugin", "plugins/none.py", "lint", MISH_NET])
    assert done.returncode == 2 and "plugins/none.py: error: plugin file not found" in done.stderr


@pytest.fixture
def clean_registries():
    """Undo what a plugin registers in this process (the README tables read the registries)."""
    from prototxt_tools import plugins
    from prototxt_tools.lint.layer_types import FORK_TYPES
    from prototxt_tools.shapes.registry import SHAPE_RULES
    saved = dict(SHAPE_RULES), dict(FORK_TYPES), list(plugins._pending_exporters)
    yield plugins
    SHAPE_RULES.clear(), SHAPE_RULES.update(saved[0])
    FORK_TYPES.clear(), FORK_TYPES.update(saved[1])
    plugins._pending_exporters[:] = saved[2]


def test_exporters_wait_for_the_export_package(clean_registries):
    plugins = clean_registries
    if "prototxt_tools.export" in sys.modules:
        pytest.skip("the export package is already imported in this process")

    @plugins.exporter("TestOnlyLayer", fork="test fork")
    def export(ctx, layer):
        """Nothing."""

    from prototxt_tools.lint.layer_types import FORK_TYPES
    assert plugins.pending_exporters() == ["TestOnlyLayer"]
    assert FORK_TYPES["TestOnlyLayer"] == ("test fork",)
    assert "prototxt_tools.export" not in sys.modules


def test_layer_type_declares_a_lint_only_type(clean_registries):
    plugins = clean_registries
    import prototxt_tools as pt
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
            'layer { name: "norm" type: "OurNorm" bottom: "x" top: "l" }\n')
    assert [d.code for d in pt.lint("net.prototxt", text=text, config=False)] == ["E106"]
    plugins.layer_type("OurNorm", fork="our lab's Caffe")
    (diag,) = pt.lint("net.prototxt", text=text, config=False)
    assert diag.code == "W101" and "our lab's Caffe" in diag.message and diag.line == 2
