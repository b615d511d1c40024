"""Graph quality: onnxruntime CPU latency and node counts of our export vs caffe2onnx's.

    python benchmarks/graph_latency.py [--rounds 5] [--runs 30] [--threads 1] [--workdir DIR]

For ResNet-50 and GoogLeNet (deploy prototxts of the shared corpus, batch 1) the script writes one
caffemodel of seeded random weights (BatchNorm variances positive, Scale factors near 1), exports
it with ``prototxt-tools onnx`` (default, and ``--optimize`` when the command has it) and with
caffe2onnx 2.0.1 (a virtual environment in the working folder, see ``_peer.py``; the column is
skipped with a message when it cannot be installed; its models get opset 11, what it produces
under the onnx 1.6 it pins), then times each model in onnxruntime:
a fresh process per model and round (CPU provider, ``--threads`` intra-op threads, onnxruntime's
default graph optimizations), ``--runs`` timed runs after 5 warm-up runs, their median; the
table gives the median over ``--rounds`` rounds, which run the models in turn so machine noise
hits all alike.  Every model gets the same seeded input; the net outputs are compared with ours.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

import _harness as h
import _nets
import _peer

CORPUS = h.REPO.parent / "shared" / "corpus"
NETS = {"ResNet-50": CORPUS / "KaimingHe_deep-residual-networks/prototxt/ResNet-50-deploy.prototxt",
        "GoogLeNet": CORPUS / "BVLC_caffe/models/bvlc_googlenet/deploy.prototxt"}

_TIMER = """
import json, statistics, sys, time
import numpy as np
import onnxruntime as ort
path, threads, runs, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
feed = {}
for i in session.get_inputs():
    feed[i.name] = np.random.default_rng(0).standard_normal(i.shape, dtype=np.float32)
for _ in range(5):
    session.run(None, feed)
times = []
for _ in range(runs):
    start = time.perf_counter()
    outputs = session.run(None, feed)
    times.append(time.perf_counter() - start)
np.save(out, outputs[-1])
print(json.dumps(statistics.median(times)))
"""


PEER_OPSET = 11  # what caffe2onnx 2.0.1 produces with its pinned onnx 1.6 (see _peer.py)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def batch_one(source: Path, target: Path) -> None:
    """The deploy net with batch 1 (GoogLeNet's deploy file feeds 10 images)."""
    text = source.read_text()
    text = re.sub(r"(input_param\s*\{\s*shape\s*:?\s*\{\s*dim:\s*)\d+", r"\g<1>1", text, count=1)
    text = re.sub(r"(input_dim:\s*)\d+", r"\g<1>1", text, count=1)
    target.write_text(text)


def has_optimize(env: dict) -> bool:
    help_text = subprocess.run(h.python_cli("onnx", "--help"), capture_output=True, text=True,
                               env=env, cwd=h.neutral_cwd()).stdout
    return "--optimize" in help_text


def exports(net: Path, weights: Path, work: Path, env: dict, peer) -> dict:
    """label -> ONNX path (or the reason it is missing)."""
    stem = net.stem
    models = {}
    variants = [("prototxt-tools", [])]
    if has_optimize(env):
        variants.append(("prototxt-tools --optimize", ["--optimize"]))
    for label, extra in variants:
        out = work / f"{stem}{'-opt' if extra else ''}.onnx"
        h.run_measured(h.python_cli("onnx", str(net), "--weights", str(weights), "-o", str(out),
                                    *extra), env=env)
        models[label] = out
    if isinstance(peer, _peer.Peer):
        out = work / f"{stem}-caffe2onnx.onnx"
        log(f"  caffe2onnx on {stem} (minutes: pure-Python protobuf) ...")
        try:
            run = h.run_measured(_peer.convert_argv(peer, str(net), str(weights), str(out),
                                                    opset=PEER_OPSET),
                                 env=h.child_env(repo=None), timeout=3600)
            problem = _peer.failure(run.stdout, str(out))
        except (h.CommandFailed, subprocess.TimeoutExpired) as error:
            problem = str(error).strip().splitlines()[-1][:200]
        models[f"caffe2onnx {_peer.VERSION}"] = problem or out
    return models


def node_summary(path: Path) -> tuple[int, str]:
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    counts = Counter(node.op_type for node in model.graph.node)
    top = ", ".join(f"{op} {n}" for op, n in counts.most_common(6))
    return len(model.graph.node), top


def time_models(models: dict, work: Path, rounds: int, runs: int, threads: int) -> dict:
    """label -> (median latency s, output array); a model onnxruntime refuses gets the reason
    in ``models`` instead of its path."""
    per_round: dict = {label: [] for label, path in models.items() if isinstance(path, Path)}
    outputs = {}
    for round_ in range(rounds):
        for label in [label for label in per_round if isinstance(models[label], Path)]:
            out = work / f"out-{len(outputs)}-{round_}.npy"
            try:
                run = h.run_measured([sys.executable, "-c", _TIMER, str(models[label]),
                                      str(threads), str(runs), str(out)],
                                     env=h.child_env(repo=None))
            except h.CommandFailed as failed:
                models[label] = "onnxruntime refuses it: " + str(failed).splitlines()[-1][-200:]
                log(f"  {label}: {models[label]}")
                continue
            per_round[label].append(json.loads(run.stdout.strip().splitlines()[-1]))
            outputs[label] = np.load(out)
            h.remove(out)
            log(f"  round {round_ + 1}/{rounds}  {label}: {per_round[label][-1] * 1e3:.2f} ms")
    return {label: (float(np.median(times)), outputs[label]) for label, times in per_round.items()
            if times and isinstance(models[label], Path)}


def report(name: str, params: int, models: dict, timed: dict) -> tuple[str, list]:
    ours = timed.get("prototxt-tools")
    rows, goals = [], []
    for label, path in models.items():
        if not isinstance(path, Path):
            rows.append([label, "", "", "failed", "", "", path])
            continue
        nodes, top = node_summary(path)
        latency, output = timed[label]
        diff = float(np.abs(output - ours[1]).max()) if output.shape == ours[1].shape else None
        rows.append([label, nodes, top, f"{latency * 1e3:.2f}", f"{latency / ours[0]:.2f}",
                     "" if label == "prototxt-tools" else
                     (f"{diff:.1e}" if diff is not None else f"shape {output.shape}"), ""])
    peer = next((timed[l] for l in timed if l.startswith("caffe2onnx")), None)
    if peer is not None:
        for label in (l for l in timed if l.startswith("prototxt-tools")):
            ratio = timed[label][0] / peer[0]
            goals.append([f"{name}: {label} latency vs caffe2onnx", f"{ratio:.2f}×", "≤ 1×",
                          "yes" if ratio <= 1.0 else "no"])
    table = h.markdown(["export", "nodes", "most frequent ops", "median latency (ms)",
                        "× ours (default)", "max abs diff of the output vs ours", "note"], rows,
                       "lrlrrrl")
    return f"## {name}: {params:,} parameters (random), batch 1\n\n{table}\n", goals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30, help="timed runs per process (median)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--peer-python", help="interpreter for the peer's venv (default: this one)")
    ap.add_argument("--workdir", type=Path, help="working folder, kept; the peer's venv there "
                                                 "is reused (default: temporary)")
    ap.add_argument("--repo", type=Path, default=h.REPO)
    opts = ap.parse_args()
    missing = [str(p) for p in NETS.values() if not p.exists()]
    if missing:
        raise SystemExit(f"the shared corpus is needed: {missing[0]} is missing")
    with tempfile.TemporaryDirectory(prefix="graph-latency-") as tmp:
        work = opts.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = h.child_env(repo=opts.repo, pycache=str(work / "pycache"))
        peer = None
        if not opts.no_peer:
            log(f"installing caffe2onnx {_peer.VERSION} into {work / 'caffe2onnx-venv'} ...")
            peer = _peer.install(work, opts.peer_python)
            if isinstance(peer, str):
                log(f"skipping the caffe2onnx column: {peer}")
        sections, goals = [], []
        for name, source in NETS.items():
            log(f"{name}: weights and exports ...")
            net = work / f"{name}.prototxt"
            batch_one(source, net)
            weights = work / f"{name}.caffemodel"
            params = _nets.write_weights(str(net), str(weights))
            models = exports(net, weights, work, env, peer)
            h.settle()
            timed = time_models(models, work, opts.rounds, opts.runs, opts.threads)
            section, net_goals = report(name, params, models, timed)
            sections.append(section)
            goals += net_goals
    print(f"# {h.machine()}")
    print(f"prototxt_tools from {opts.repo}; peer: "
          f"{peer.description if isinstance(peer, _peer.Peer) else peer or 'not run'}; "
          f"onnxruntime CPU, {opts.threads} intra-op thread(s), {opts.runs} runs per process, "
          f"median of {opts.rounds} rounds\n")
    print("\n".join(sections))
    if goals:
        print("## goals\n")
        print(h.markdown(["goal", "measured", "bound", "met"], goals, "llll"))


if __name__ == "__main__":
    main()
