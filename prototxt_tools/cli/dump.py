"""``prototxt-tools dump FILE``: what a prototxt or caffemodel holds, without interpreting it.

For a prototxt: its format, the layers after the upgrade and Caffe's phase filter, each with the
line it was written on, and the net's inputs and outputs.  For a caffemodel: its format and
every layer's blob shapes.  ``--format json`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .upgrade import is_binary_net


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help=".prototxt or .caffemodel")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--phase", choices=("TRAIN", "TEST"), default="TEST",
                   help="net state phase used to filter layers (default TEST, as deploy)")
    p.add_argument("--stage", action="append", default=[], help="net state stage (repeatable)")
    p.add_argument("--level", type=int, default=0, help="net state level")


def execute(args: argparse.Namespace) -> int:
    if is_binary_net(args.input):
        report = _caffemodel_report(args.input)
    else:
        report = _prototxt_report(args)
    for warning in report.get("warnings", ()):
        print(warning, file=sys.stderr)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(_as_text(report))
    return 0


def _prototxt_report(args) -> dict:
    from ..ir import NetState
    from ..load import load_net

    loaded = load_net(args.input, NetState.of(args.phase, args.level, args.stage))
    network, smap = loaded.network, loaded.source_map

    def line_of(path):
        span = smap.position(path)
        return span.line if span else None

    return {
        "file": args.input, "kind": "prototxt", "format": loaded.format, "name": loaded.net.name,
        "inputs": [b.name for b in network.inputs], "outputs": [b.name for b in network.outputs],
        "layers": [{"name": l.name, "type": l.type, "bottom": list(l.param.bottom),
                    "top": list(l.param.top), "line": line_of(l.origin)} for l in network.layers],
        "excluded_layers": len(network.excluded),
        "warnings": [str(w) for w in loaded.warnings],
        "graph_issues": [i.message for i in network.issues],
    }


def _caffemodel_report(path: str) -> dict:
    from ..caffemodel import read_caffemodel

    model = read_caffemodel(path)
    layers = [{"name": l.name, "type": l.type,
               "blobs": [{"shape": list(b.shape), "dtype": str(b.dtype)} for b in l.blobs]}
              for l in model.layers]
    return {"file": path, "kind": "caffemodel", "format": model.format, "name": model.net.name,
            "bytes": os.path.getsize(path), "layers": layers,
            "parameters": int(sum(b.size for l in model.layers for b in l.blobs))}


def _as_text(r: dict) -> str:
    out = [f"{r['file']}: {r['kind']}, {r['format']} format, net {r['name']!r}"]
    if r["kind"] == "prototxt":
        out.append(f"inputs: {', '.join(r['inputs']) or '-'}    outputs: {', '.join(r['outputs']) or '-'}")
        for i, l in enumerate(r["layers"]):
            out.append(f"{i:4d}  line {l['line'] or '?':>5}  {l['name']:<24} {l['type']:<20} "
                       f"{', '.join(l['bottom']) or '-'} -> {', '.join(l['top']) or '-'}")
        if r["excluded_layers"]:
            out.append(f"({r['excluded_layers']} layers excluded by the net state)")
        out += [f"graph: {g}" for g in r["graph_issues"]]
    else:
        for i, l in enumerate(r["layers"]):
            blobs = "  ".join("x".join(map(str, b["shape"])) + ("" if b["dtype"] == "float32" else f" {b['dtype']}")
                              for b in l["blobs"])
            out.append(f"{i:4d}  {l['name']:<24} {l['type']:<20} {blobs or '-'}")
        out.append(f"{r['parameters']:,} parameters in {r['bytes']:,} bytes")
    return "\n".join(out)
