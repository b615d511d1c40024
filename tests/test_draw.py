"""``prototxt-tools draw``: DOT we write ourselves, SVG/PNG through Graphviz when installed.

Expected facts are the published architectures (ResNet-50: 16 residual blocks, 53 convolutions
each followed by BatchNorm + Scale; GoogLeNet: 9 inception modules, 1024×7×7 before pool5) and
hand-made nets; rendering tests skip when Graphviz's ``dot`` is absent.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import prototxt_tools as pt
from conftest import CORPUS, REPO, SAMPLES

GOOGLENET = CORPUS / "BVLC_caffe/models/bvlc_googlenet/deploy.prototxt"
RESNET50 = CORPUS / "KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$', re.M)
EDGE = re.compile(r'^  (\w+) -> (\w+) \[(.*)\];$', re.M)


def nodes(dot: str) -> dict:
    """node id -> (label lines, other attributes)"""
    return {m[1]: (m[2].split("\\n"), m[3]) for m in NODE.finditer(dot)}


def edge_labels(dot: str) -> list:
    return [re.search(r'label=" (.*) "', m[3])[1] for m in EDGE.finditer(dot) if "label=" in m[3]]


def cli(*args, env=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "prototxt_tools", "draw", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, env=full_env, timeout=120)


def test_resnet50(corpus):
    dot = pt.draw(RESNET50)
    labels = [lines for lines, _ in nodes(dot).values()]
    eltwise = [lines for lines in labels if lines[1:2] == ["Eltwise SUM"]]
    assert len(eltwise) == 16 and all(lines[2] == "+ ReLU" for lines in eltwise)
    convs = [lines for lines in labels if lines[1:2] and lines[1].startswith("Convolution")]
    assert len(convs) == 53 and all(lines[2].startswith("+ BatchNorm + Scale") for lines in convs)
    # BatchNorm, Scale and ReLU are all in place here: none keeps a node of its own
    assert not [lines for lines in labels if lines[1:2] in (["BatchNorm"], ["Scale"], ["ReLU"])]
    assert ["conv1", "Convolution 7×7/2, 64", "+ BatchNorm + Scale + ReLU"] in labels
    shapes = edge_labels(dot)
    for shape in ("1×3×224×224", "1×64×112×112", "1×256×56×56", "1×2048×7×7", "1×1000"):
        assert shape in shapes
    # each block's input feeds its shortcut and its branch: one split point per block
    assert dot.count('shape="point"') == 16


def test_googlenet(corpus):
    dot = pt.draw(GOOGLENET)
    labels = [lines for lines, _ in nodes(dot).values()]
    concats = [lines for lines in labels if lines[1:2] == ["Concat"]]
    assert len(concats) == 9
    assert ["conv1/7x7_s2", "Convolution 7×7/2, 64", "+ ReLU"] in labels
    assert ["pool5/7x7_s1", "AVE pool 7×7", "+ Dropout"] in labels
    shapes = edge_labels(dot)
    assert "10×1024×7×7" in shapes and "10×1000" in shapes
    # every inception module's input splits four ways
    splits = [n for n, (lines, attrs) in nodes(dot).items() if 'shape="point"' in attrs]
    outgoing = [sum(1 for m in EDGE.finditer(dot) if m[1] == s) for s in splits]
    assert outgoing == [4] * 9


def test_in_place_chain_folds_into_its_producer():
    labels = [lines for lines, _ in nodes(pt.draw(SAMPLES / "tiny_convnet.prototxt")).values()]
    assert ["conv1", "Convolution 3×3, 8", "+ BatchNorm + Scale + ReLU"] in labels
    assert len(labels) == 6  # data, conv1 (+3), pool1, fc, prob, the output blob


def test_in_place_layer_after_another_reader_keeps_its_node():
    """pool_pre reads conv1 *before* relu1 overwrites it: folding relu1 into conv1 would show
    pool_pre reading the activated values."""
    text = ('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 '
            'dim: 8 dim: 8 } } }\n'
            'layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" '
            'convolution_param { num_output: 4 kernel_size: 3 } }\n'
            'layer { name: "pool_pre" type: "Pooling" bottom: "conv1" top: "pool_pre" '
            'pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n'
            'layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }\n')
    dot = pt.draw(pt.load("net.prototxt", text=text))
    labels = {lines[0]: lines for lines, _ in nodes(dot).values() if len(lines) > 1}  # layers
    assert labels["conv1"] == ["conv1", "Convolution 3×3, 4"]
    assert labels["relu1"] == ["relu1", "ReLU"]
    # conv 3x3 on 8x8 -> 6x6 (hand-computed): once into the split point that feeds both
    # readers, once from relu1 to the net output; 2x2/2 pooling -> 3x3
    assert edge_labels(dot) == ["1×3×8×8", "1×4×6×6", "1×4×6×6", "1×4×3×3"]


def test_shape_error_is_red_and_reported():
    dot = pt.draw(SAMPLES / "alexnet.prototxt")
    fc6 = next((lines, attrs) for lines, attrs in nodes(dot).values() if lines[0] == "fc6")
    assert 'color="#d62728"' in fc6[1] and any("kernel extent 7" in line for line in fc6[0])
    # nothing after fc6 has a shape
    assert edge_labels(dot)[-1] == "?"
    done = cli(SAMPLES / "alexnet.prototxt")
    assert done.returncode == 1 and done.stdout.startswith('digraph "AlexNet-fully-conv"')
    assert "samples/alexnet.prototxt:219:5: error: fc6:" in done.stderr.replace(os.sep, "/")


def test_undefined_bottom_is_a_red_blob(tmp_path):
    net = tmp_path / "bad.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 '
                   'dim: 2 } } }\nlayer { name: "fc" type: "InnerProduct" bottom: "dta" top: "fc" '
                   'inner_product_param { num_output: 3 } }\n')
    done = cli(net, "-o", tmp_path / "bad.dot")
    dot = (tmp_path / "bad.dot").read_text()
    missing = [(lines, attrs) for lines, attrs in nodes(dot).values() if lines[0] == "dta"]
    assert missing and 'style="dashed", color="#d62728"' in missing[0][1]
    assert re.search(r'M0 -> L1 \[color="#d62728", style="dashed"', dot)
    assert done.returncode == 1 and f"{net}:2:" in done.stderr and "'dta'" in done.stderr


def test_dot_to_stdout_and_rankdir():
    done = cli(SAMPLES / "tiny_convnet.prototxt", "--rankdir", "LR")
    assert done.returncode == 0 and "rankdir=LR" in done.stdout


def test_missing_graphviz_says_how_to_install_it(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = cli(SAMPLES / "tiny_convnet.prototxt", "-o", tmp_path / "net.png",
               env={"PATH": str(empty)})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "apt-get install graphviz" in done.stderr and "-o NAME.dot" in done.stderr
    assert not (tmp_path / "net.png").exists()


def test_unknown_extension(tmp_path):
    done = cli(SAMPLES / "tiny_convnet.prototxt", "-o", tmp_path / "net.jpg")
    assert done.returncode == 2 and "must end in .dot, .gv, .svg or .png" in done.stderr


@needs_dot
def test_png_and_svg(tmp_path):
    done = cli(SAMPLES / "tiny_convnet.prototxt", "-o", tmp_path / "net.png")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "net.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = pt.draw(SAMPLES / "alexnet.prototxt", "svg")
    root = ET.fromstring(svg)
    titles = {g.findtext("{http://www.w3.org/2000/svg}title"): g for g in root.iter()
              if g.get("class") == "node"}
    fc6 = titles[next(k for k in titles if nodes(pt.draw(SAMPLES / "alexnet.prototxt"))[k][0][0] == "fc6")]
    strokes = {e.get("stroke") for e in fc6.iter() if e.get("stroke")}
    assert "#d62728" in strokes


@needs_dot
def test_awkward_names_are_valid_dot():
    text = ('name: "a \\"quoted\\" net"\n'
            'layer { name: "in\\\\put {x}" type: "Input" top: "data" input_param { shape { '
            'dim: 1 dim: 2 } } }\n'
            'layer { name: "fc \\"1\\"" type: "InnerProduct" bottom: "data" top: "fc" '
            'inner_product_param { num_output: 3 } }\n')
    dot = pt.draw(pt.load("net.prototxt", text=text))
    done = subprocess.run(["dot", "-Tcanon"], input=dot, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'fc \\"1\\"' in done.stdout


# --- `prototxt-tools shapes --format markdown`: a table for a README or a pull-request comment

def markdown_cells(line: str) -> list:
    """A GitHub table row's cells (``\\|`` is a pipe inside a cell)."""
    assert line.startswith("| ") and line.endswith(" |")
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def shapes_markdown(path) -> list:
    done = subprocess.run([sys.executable, "-m", "prototxt_tools", "shapes", "--format",
                           "markdown", str(path)], capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_shapes_markdown_is_a_github_table():
    lines = shapes_markdown(SAMPLES / "tiny_convnet.prototxt")
    assert markdown_cells(lines[0]) == ["layer", "type", "bottom", "top", "params", "MACs"]
    assert lines[1] == "|---|---|---|---|---:|---:|"  # numbers right-aligned
    rows = {cells[0]: cells for cells in map(markdown_cells, lines[2:])}
    assert all(len(cells) == 6 for cells in rows.values())
    # conv1: 8 filters of 3x3x3 + 8 biases = 224; 8 * 16*16 outputs * 27 MACs = 55,296
    assert rows["conv1"] == ["conv1", "Convolution", "1x3x16x16", "1x8x16x16", "224", "55,296"]
    assert rows["data"][2] == "-"
    # + BatchNorm 17 + Scale 16 + fc 10 * 512 + 10 = 5,387; MACs + fc 5,120 = 60,416
    assert rows["**total**"] == ["**total**", "", "", "", "**5,387**", "**60,416**"]


def test_shapes_markdown_escapes_pipes(tmp_path):
    net = tmp_path / "pipes.prototxt"
    net.write_text('layer { name: "in|put" type: "Input" top: "data" input_param { shape { '
                   'dim: 1 dim: 2 } } }\n')
    (row,) = [markdown_cells(line) for line in shapes_markdown(net)[2:-1]]
    assert row[0] == "in\\|put" and len(row) == 6


def test_draw_never_writes_over_its_input(tmp_path, capsys):
    from prototxt_tools.cli import main
    net = tmp_path / "net.prototxt"
    net.write_bytes((SAMPLES / "tiny_convnet.prototxt").read_bytes())
    before = net.read_bytes()
    assert main(["draw", str(net), "--format", "dot", "-o", str(net)]) == 2
    assert "names the input file" in capsys.readouterr().err
    assert net.read_bytes() == before and os.listdir(tmp_path) == ["net.prototxt"]
