"""Whole-process time and peak memory of ONNX export, fc-to-conv and upgrade of big caffemodels.

    python benchmarks/export_speed.py                       # CaffeNet + VGG-16; caffe2onnx: CaffeNet
    python benchmarks/export_speed.py --nets vgg16 --no-peer --repeat 5
    python benchmarks/export_speed.py --workdir /tmp/bench  # keeps (and reuses) the peer's venv

For each net the script writes a deploy prototxt (BVLC CaffeNet, 60,965,224 parameters, 244 MB;
VGG-16, 138,357,544 parameters, 553 MB) and a caffemodel of random float32 weights with our
``write_caffemodel``, plus the same weights as a V1 caffemodel (BVLC's own downloads are V1),
then measures, each in a fresh process spawned by a bare ``python -S`` launcher (peak RSS =
``ru_maxrss`` of that process; time = spawn to exit, imports included):

- ``cp`` and ``cp`` + ``sync`` of the caffemodel: the floor;
- ``python -c import ...``: interpreter and the modules the export imports (numpy, protobuf, ours;
  no onnx);
- ``prototxt-tools onnx NET --weights MODEL -o out.onnx``;
- ``prototxt-tools fc-to-conv NET --weights MODEL --weights-out OUT`` (net surgery);
- ``prototxt-tools upgrade V1MODEL -o OUT`` (V1 -> current format);
- ``onnx --weights --check``: the same export with onnx's full checker (imports onnx);
- the same three with ``PROTOTXT_TOOLS_FSYNC=always``: durable writes, as when the output
  replaces an existing file (a new output is written as ``cp`` writes, without fsync);
- ``caffe2onnx`` 2.0.1 on the same prototxt and caffemodel (``--peer-nets``), installed into a
  virtual environment in the working folder (see ``_peer.py``); skipped with a message when it
  cannot be installed.

Rounds run every command once in turn (``--repeat`` rounds; times are medians, RSS the maximum),
so noise from other work on the machine hits all columns alike.  The page cache is warm (the
inputs were just written) and our modules are byte-compiled once before timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import _harness as h
import _nets
import _peer

GOALS_TIME_X_CP = 3.0
GOALS_RSS_X_FILE = 1.3
GOAL_PEER_SPEED = 50.0
GOAL_PEER_MEMORY = 10.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def our_commands(files: dict, work: Path, env: dict, durable_rows: bool,
                 check_row: bool = True) -> list[h.Command]:
    """The measured commands for one net (``files`` from :func:`prepare`)."""
    src, v1, net = files["caffemodel"], files["v1"], files["prototxt"]
    copy, onnx_out = str(work / "copy.caffemodel"), str(work / "out.onnx")
    conv_net, conv_model = str(work / "conv.prototxt"), str(work / "conv.caffemodel")
    upgraded = str(work / "upgraded.caffemodel")
    ours = [("prototxt-tools onnx --weights", ["onnx", net, "--weights", src, "-o", onnx_out],
             (onnx_out,)),
            ("prototxt-tools fc-to-conv --weights", ["fc-to-conv", net, "-o", conv_net,
             "--weights", src, "--weights-out", conv_model], (conv_net, conv_model)),
            ("prototxt-tools upgrade (V1 caffemodel)", ["upgrade", v1, "-o", upgraded],
             (upgraded,))]
    commands = [
        h.Command("cp", ["cp", src, copy], cleanup=(copy,)),
        h.Command("cp + sync", ["sh", "-c", 'cp "$1" "$2" && sync "$2"', "sh", src, copy],
                  cleanup=(copy,)),
        h.Command("python + imports of the export", [sys.executable, "-c", "import "
                  "prototxt_tools.cli.onnx, prototxt_tools.export, prototxt_tools.caffemodel"],
                  env=env)]
    commands += [h.Command(label, h.python_cli(*args), env=env, cleanup=out)
                 for label, args, out in ours]
    if check_row:
        label, args, out = ours[0]
        commands.append(h.Command(f"{label} --check", h.python_cli(*args, "--check"),
                                  env=env, cleanup=out))
    if durable_rows:
        commands += [h.Command(f"{label}, PROTOTXT_TOOLS_FSYNC=always", h.python_cli(*args),
                               env=h.durable(env), cleanup=out) for label, args, out in ours]
    return commands


def prepare(kind: str, work: Path) -> dict:
    prototxt, caffemodel, params = _nets.write_net(kind, work)
    v1 = str(work / f"{kind}_v1.caffemodel")
    _nets.write_v1_caffemodel(caffemodel, v1)
    return {"prototxt": prototxt, "caffemodel": caffemodel, "v1": v1, "params": params,
            "size": os.path.getsize(caffemodel)}


def peer_command(peer: _peer.Peer, files: dict, work: Path) -> h.Command:
    out = str(work / "caffe2onnx.onnx")
    return h.Command(f"caffe2onnx {_peer.VERSION}", _peer.convert_argv(
        peer, files["prototxt"], files["caffemodel"], out), env=h.child_env(repo=None),
        cleanup=(out,), timeout=3600, check=lambda run: _peer.failure(run.stdout, out))


def table(results: list[h.Measurement], size: int) -> str:
    by = {r.label: r for r in results}
    cp, synced = by["cp"].seconds, by["cp + sync"].seconds
    rows = []
    for r in results:
        if not r.ok:
            rows.append([r.label, "failed", "", "", "", "", r.note])
            continue
        rows.append([r.label, f"{r.seconds:.2f}", f"{r.seconds / cp:.1f}",
                     f"{r.seconds / synced:.2f}", h.mb(r.rss), f"{r.rss / size:.2f}", ""])
    return h.markdown(["command", "median time (s)", "× cp", "× (cp + sync)", "peak RSS (MB)",
                       "RSS / file size", "note"], rows, "lrrrrrl")


def goals(kind: str, results: list[h.Measurement], size: int) -> list[list]:
    by = {r.label: r for r in results}
    cp, synced = by["cp"].seconds, by["cp + sync"].seconds
    rows = []
    if kind == "vgg16":
        for label in [r.label for r in results if r.label.startswith("prototxt-tools")]:
            r = by[label]
            if not r.ok:
                rows.append([f"VGG-16 {label}", "failed", "", "no"])
                continue
            x_cp, x_file = r.seconds / cp, r.rss / size
            rows.append([f"VGG-16 {label}: time", f"{x_cp:.1f}× cp ({r.seconds / synced:.2f}× "
                         "cp + sync)", f"≤ {GOALS_TIME_X_CP:g}× cp",
                         "yes" if x_cp <= GOALS_TIME_X_CP else "no"])
            rows.append([f"VGG-16 {label}: peak RSS", f"{x_file:.2f}× file",
                         f"≤ {GOALS_RSS_X_FILE:g}× file",
                         "yes" if x_file <= GOALS_RSS_X_FILE else "no"])
    peer = next((r for r in results if r.label.startswith("caffe2onnx")), None)
    ours = by["prototxt-tools onnx --weights"]
    if peer is not None and peer.ok and ours.ok:
        speed, memory = peer.seconds / ours.seconds, peer.rss / ours.rss
        name = {"caffenet": "CaffeNet", "vgg16": "VGG-16"}.get(kind, kind)
        rows.append([f"{name} export vs caffe2onnx: time", f"{speed:.0f}× faster",
                     f"≥ {GOAL_PEER_SPEED:g}×", "yes" if speed >= GOAL_PEER_SPEED else "no"])
        rows.append([f"{name} export vs caffe2onnx: peak RSS", f"{memory:.0f}× less",
                     f"≥ {GOAL_PEER_MEMORY:g}×", "yes" if memory >= GOAL_PEER_MEMORY else "no"])
    return rows


def warm_up(commands: list[h.Command]) -> None:
    """One unmeasured run of each of our commands: byte-compiles the modules into the cache."""
    for command in commands[2:]:
        try:
            h.run_measured(command.argv, env=command.env)
        finally:
            for path in command.cleanup:
                h.remove(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["caffenet", "vgg16"],
                    choices=["caffenet", "vgg16"])
    ap.add_argument("--repeat", type=int, default=3, help="rounds of our commands (median)")
    ap.add_argument("--no-peer", action="store_true", help="skip caffe2onnx")
    ap.add_argument("--peer-nets", nargs="+", default=["caffenet"], help="nets caffe2onnx converts")
    ap.add_argument("--peer-repeat", type=int, default=1, help="caffe2onnx runs (minutes each)")
    ap.add_argument("--peer-python", help="interpreter for the peer's venv (default: this one)")
    ap.add_argument("--workdir", type=Path, help="working folder, kept (default: a temporary "
                    "one, deleted); the peer's venv there is reused")
    ap.add_argument("--no-check-row", action="store_true", help="skip `onnx --check` (for "
                    "checkouts older than that option)")
    ap.add_argument("--no-durable-rows", action="store_true", help="skip the rows that run "
                    "our commands with PROTOTXT_TOOLS_FSYNC=always (what durable writes cost)")
    ap.add_argument("--repo", type=Path, default=h.REPO, help="the prototxt_tools checkout to "
                    "measure (default: this one)")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        work = opts.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        h.require_free_space(work, 4_000_000_000 if "vgg16" in opts.nets else 1_500_000_000)
        env = h.child_env(repo=opts.repo, pycache=str(work / "pycache"))
        peer = None
        if not opts.no_peer:
            log(f"installing caffe2onnx {_peer.VERSION} into {work / 'caffe2onnx-venv'} ...")
            peer = _peer.install(work, opts.peer_python)
            if isinstance(peer, str):
                log(f"skipping the caffe2onnx column: {peer}")
        print(f"# {h.machine()}")
        print(f"prototxt_tools from {opts.repo}; peer: "
              f"{peer.description if isinstance(peer, _peer.Peer) else peer or 'not run'}\n")
        summary = []
        for kind in opts.nets:
            log(f"{kind}: writing the nets ...")
            files = prepare(kind, work)
            commands = our_commands(files, work, env, not opts.no_durable_rows,
                                    not opts.no_check_row)
            warm_up(commands)
            h.settle()
            results = h.measure_rounds(commands, opts.repeat, log)
            if isinstance(peer, _peer.Peer) and kind in opts.peer_nets:
                results += h.measure_rounds([peer_command(peer, files, work)],
                                            opts.peer_repeat, log)
            print(f"## {kind}: {files['params']:,} parameters, caffemodel "
                  f"{files['size'] / 1e6:.1f} MB; median of {opts.repeat} rounds\n")
            print(table(results, files["size"]) + "\n", flush=True)
            summary += goals(kind, results, files["size"])
            for path in (files["caffemodel"], files["v1"]):
                h.remove(path)
        print("## goals\n")
        print(h.markdown(["goal", "measured", "bound", "met"], summary, "llll"))


if __name__ == "__main__":
    main()
