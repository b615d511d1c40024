"""A caffemodel over 2 GB: ONNX export with external data, onnxruntime on the result, surgery.

    python benchmarks/big_model.py [--repeat 3] [--workdir DIR] [--repo DIR]

Writes a made-up classifier with ~616 M float32 parameters (two small convolutions, then fully
connected layers 32768 -> 8192 -> 16384 -> 12288 -> 1000; caffemodel 2.46 GB, over protobuf's
2 GiB message limit, so neither Caffe nor a single ONNX file can hold it), then measures in
fresh processes (bare ``python -S`` launcher, ``ru_maxrss`` of the child):

- ``cp`` and ``cp`` + ``sync`` of the caffemodel;
- ``prototxt-tools onnx`` (external data is chosen automatically above 2 GiB), as a new
  file is written (no fsync) and with ``PROTOTXT_TOOLS_FSYNC=always`` (durable);
- onnxruntime loading and running that model, in a process of its own: its time and RSS are
  onnxruntime's, reported apart from ours; its output is compared with a numpy forward pass
  of the caffemodel's weights (Caffe's InnerProduct/Convolution/ReLU/max Pooling/Softmax);
- ``prototxt-tools fc-to-conv --weights`` and ``upgrade`` of a V1 copy of the caffemodel.

Needs ~10 GB free in the working folder (checked first); every file is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import _harness as h
import _nets

RSS_X_FILE = 1.3
TIME_X_CP = 3.0

_ORT_RUN = """
import json, sys, time
import numpy as np
import onnxruntime as ort
start = time.perf_counter()
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
loaded = time.perf_counter()
x = np.random.default_rng(0).standard_normal((1, 3, 64, 64), dtype=np.float32)
(prob,) = session.run(["prob"], {"data": x})
np.save(sys.argv[2], prob)
print(json.dumps({"load": loaded - start, "run": time.perf_counter() - loaded}))
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def numpy_forward(caffemodel: str) -> np.ndarray:
    """The big net's output on the seeded input, computed from the caffemodel's blobs."""
    from prototxt_tools.caffemodel import read_caffemodel

    model = read_caffemodel(caffemodel)
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64), dtype=np.float32)
    for name in ("conv1", "conv2"):
        weight, bias = model.weights(name)
        padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
        y = np.einsum("chwij,ocij->ohw", windows, weight, optimize=True) + bias[:, None, None]
        y = np.maximum(y, 0)
        c, hh, ww = y.shape
        x = y.reshape(c, hh // 2, 2, ww // 2, 2).max(axis=(2, 4))[None]
    v = x.reshape(-1).astype(np.float64)
    for name in ("fc1", "fc2", "fc3", "classifier"):
        weight, bias = model.weights(name)
        v = weight @ v.astype(np.float32) + bias
        if name != "classifier":
            v = np.maximum(v, 0)
    e = np.exp(v - v.max())
    return (e / e.sum())[None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, help="working folder (default: temporary)")
    ap.add_argument("--repo", type=Path, default=h.REPO)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="big-model-bench-") as tmp:
        work = opts.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        h.require_free_space(work, 10_000_000_000)
        env = h.child_env(repo=opts.repo, pycache=str(work / "pycache"))
        log("writing the 616 M-parameter net ...")
        prototxt, caffemodel, params = _nets.write_net("big", work)
        v1 = str(work / "big_v1.caffemodel")
        _nets.write_v1_caffemodel(caffemodel, v1)
        size = os.path.getsize(caffemodel)
        h.settle()
        try:
            rows, checks = run(work, env, prototxt, caffemodel, v1, size, opts.repeat)
        finally:
            for path in (caffemodel, v1):
                h.remove(path)
    print(f"# {h.machine()}")
    print(f"prototxt_tools from {opts.repo}\n")
    print(f"## 616 M-parameter net: {params:,} parameters, caffemodel {size / 1e6:,.0f} MB; "
          f"median of {opts.repeat} rounds\n")
    print(rows + "\n")
    print(checks)


def run(work: Path, env: dict, prototxt: str, caffemodel: str, v1: str, size: int,
        repeat: int) -> tuple[str, str]:
    copy, onnx_out = str(work / "copy.caffemodel"), str(work / "big.onnx")
    data = onnx_out + ".data"
    conv_net, conv_model = str(work / "conv.prototxt"), str(work / "conv.caffemodel")
    upgraded = str(work / "upgraded.caffemodel")
    ours = [("prototxt-tools onnx --weights (external data)",
             ["onnx", prototxt, "--weights", caffemodel, "-o", onnx_out], (onnx_out, data)),
            ("prototxt-tools fc-to-conv --weights", ["fc-to-conv", prototxt, "-o", conv_net,
             "--weights", caffemodel, "--weights-out", conv_model], (conv_net, conv_model)),
            ("prototxt-tools upgrade (V1 caffemodel)", ["upgrade", v1, "-o", upgraded],
             (upgraded,))]
    commands = [h.Command("cp", ["cp", caffemodel, copy], cleanup=(copy,)),
                h.Command("cp + sync", ["sh", "-c", 'cp "$1" "$2" && sync "$2"', "sh",
                                        caffemodel, copy], cleanup=(copy,))]
    commands += [h.Command(label, h.python_cli(*args), env=env, cleanup=out)
                 for label, args, out in ours]
    commands += [h.Command(f"{label}, PROTOTXT_TOOLS_FSYNC=always", h.python_cli(*args),
                           env=h.durable(env), cleanup=out) for label, args, out in ours]
    for command in commands[2:5]:  # byte-compile our modules before timing
        h.run_measured(command.argv, env=command.env)
    results = h.measure_rounds(commands, repeat, log)
    # the model onnxruntime loads: exported once more, kept
    h.run_measured(h.python_cli("onnx", prototxt, "--weights", caffemodel, "-o", onnx_out), env=env)
    written = {os.path.basename(p): os.path.getsize(p) for p in (onnx_out, data)
               if os.path.exists(p)}
    prob_path = str(work / "prob.npy")
    ort_runs = h.measure_rounds([h.Command("onnxruntime: load + run (its own process)",
                                           [sys.executable, "-c", _ORT_RUN, onnx_out, prob_path],
                                           env=h.child_env(repo=None))], repeat, log)
    ort_times = [json.loads(r.stdout.strip().splitlines()[-1]) for r in ort_runs[0].runs]
    expected = numpy_forward(caffemodel)
    got = np.load(prob_path)
    for path in (onnx_out, data, prob_path):
        h.remove(path)
    return table(results + ort_runs, size), checks(results, size, written, ort_times, got, expected)


def table(results: list, size: int) -> str:
    by = {r.label: r for r in results}
    cp, synced = by["cp"].seconds, by["cp + sync"].seconds
    rows = [[r.label, f"{r.seconds:.2f}", f"{r.seconds / cp:.1f}", f"{r.seconds / synced:.2f}",
             h.mb(r.rss), f"{r.rss / size:.2f}"] if r.ok else [r.label, "failed: " + r.note,
                                                                  "", "", "", ""]
            for r in results]
    return h.markdown(["command", "median time (s)", "× cp", "× (cp + sync)", "peak RSS (MB)",
                       "RSS / caffemodel size"], rows)


def checks(results: list, size: int, written: dict, ort_times: list, got: np.ndarray,
           expected: np.ndarray) -> str:
    by = {r.label: r for r in results}
    cp = by["cp"].seconds
    lines = ["files written by the export: " + ", ".join(f"{name} {n / 1e6:,.1f} MB"
                                                        for name, n in written.items())]
    if ort_times:
        load = sorted(t["load"] for t in ort_times)[len(ort_times) // 2]
        run = sorted(t["run"] for t in ort_times)[len(ort_times) // 2]
        lines.append(f"onnxruntime: session {load:.2f} s, one run {run:.3f} s (medians); "
                     f"output vs numpy forward pass of the caffemodel: max |diff| "
                     f"{np.abs(got - expected).max():.2e}, argmax {int(got.argmax())} vs "
                     f"{int(expected.argmax())}")
    lines.append("")
    goals = []
    for r in results:
        if not r.label.startswith("prototxt-tools"):
            continue
        if not r.ok:
            goals.append([r.label, "failed", "", "no"])
            continue
        goals.append([f"{r.label}: peak RSS", f"{r.rss / size:.2f}× file", f"≤ {RSS_X_FILE:g}×",
                      "yes" if r.rss / size <= RSS_X_FILE else "no"])
        goals.append([f"{r.label}: time", f"{r.seconds / cp:.1f}× cp", f"≤ {TIME_X_CP:g}×",
                      "yes" if r.seconds / cp <= TIME_X_CP else "no"])
    return "\n".join(lines) + "\n" + h.markdown(["goal", "measured", "bound", "met"], goals,
                                                "llll")


if __name__ == "__main__":
    main()
