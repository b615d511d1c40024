"""``--random-weights`` refuses a net whose parameters would not fit in memory, before drawing
any of them: one positioned line, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import pytest

from prototxt_tools.cli import main
from prototxt_tools.errors import PrototxtToolsError
from prototxt_tools.export import export_onnx
from prototxt_tools.export import weights as weights_module

GIB = 1 << 30


def huge_net(layers: int) -> str:
    """``layers`` InnerProducts of 2,000,000 x 1024 float32 (7.6 GiB each, just under Caffe's
    INT_MAX elements per blob), all on one input, so only their sum is absurd."""
    lines = ['name: "huge"',
             'layer { name: "data" type: "Input" top: "data" '
             'input_param { shape { dim: 1 dim: 1024 } } }']
    lines += [f'layer {{ name: "fc{i}" type: "InnerProduct" bottom: "data" top: "fc{i}"\n'
              f'  inner_product_param {{ num_output: 2000000 }} }}' for i in range(layers)]
    return "\n".join(lines) + "\n"


def test_cli_refuses_terabytes_of_random_weights_fast(tmp_path):
    net = tmp_path / "huge.prototxt"
    net.write_text(huge_net(1000))  # 7.5 TiB (8.2 TB): more than any machine's memory
    out = tmp_path / "huge.onnx"
    result = subprocess.run([sys.executable, "-m", "prototxt_tools", "onnx", str(net),
                             "--random-weights", "0", "-o", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"{net}:3:9: error: random weights for this net would take "
                               "7,636.8 GiB (float32), more than the ")
    assert "layer 'fc0' (InnerProduct) 7.6 GiB; 5:9: layer 'fc1'" in lines[0]
    assert lines[0].endswith("; and 997 more layers")
    assert not out.exists()


def test_16_gb_net_fails_without_allocating(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(weights_module, "memory_limit", lambda: 8 * GIB)
    net = tmp_path / "big.prototxt"
    net.write_text(huge_net(2))  # 16.4 GB
    out = tmp_path / "big.onnx"
    tracemalloc.start()
    try:
        code = main(["onnx", str(net), "--random-weights", "0", "-o", str(out)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 2 and peak < 64 << 20
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"{net}:3:9: error: random weights for this net would take 15.3 GiB "
                            "(float32), more than the 8.0 GiB of memory of this machine: layer "
                            "'fc0' (InnerProduct) 7.6 GiB; 5:9: layer 'fc1' (InnerProduct) "
                            "7.6 GiB\n")
    assert not out.exists()


def test_the_limit_counts_every_blob_and_a_net_under_it_exports(tmp_path, monkeypatch):
    net = tmp_path / "small.prototxt"
    net.write_text(huge_net(0) + 'layer { name: "fc" type: "InnerProduct" bottom: "data" '
                   'top: "fc" inner_product_param { num_output: 10 } }\n')
    need = 4 * (10 * 1024 + 10)  # weights and bias
    monkeypatch.setattr(weights_module, "memory_limit", lambda: need)
    assert export_onnx(str(net), random_seed=0).weight_bytes == need
    monkeypatch.setattr(weights_module, "memory_limit", lambda: need - 1)
    with pytest.raises(PrototxtToolsError) as info:
        export_onnx(str(net), random_seed=0)
    assert (info.value.line, info.value.col) == (3, 9)
    assert "layer 'fc' (InnerProduct) 0.0 GiB" in info.value.message
