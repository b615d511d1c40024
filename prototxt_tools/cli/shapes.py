"""``prototxt-tools shapes NET``: every layer's shapes, parameters and multiply-accumulates.

Shapes are Caffe's own (see prototxt_tools.shapes).  ``--input data=1,3,384,384`` answers "what
happens at 384x384".  Layers Caffe would refuse are reported on stderr at their line (exit 1),
and the table goes on with unknown (``?``) shapes after them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from ..errors import PrototxtToolsError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the .prototxt net")
    p.add_argument("--input", dest="overrides", action="append", default=[], metavar="NAME=D1,D2,...",
                   help="override a net input's shape (repeatable), e.g. data=1,3,384,384")
    p.add_argument("--format", choices=("table", "json", "markdown", "csv"), default="table")
    p.add_argument("--phase", choices=("TRAIN", "TEST"), default="TEST")
    p.add_argument("--stage", action="append", default=[], help="net state stage (repeatable)")


def execute(args: argparse.Namespace) -> int:
    from ..ir import NetState
    from ..load import load_net
    from ..shapes.network import infer_shapes, parse_input_override

    try:
        overrides = dict(parse_input_override(o) for o in args.overrides)
    except ValueError as exc:
        raise PrototxtToolsError(str(exc), args.input) from None
    loaded = load_net(args.input, NetState.of(args.phase, stages=args.stage))
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    loaded.network.raise_for_errors()
    result = infer_shapes(loaded.network, overrides)
    rows = summary_rows(result)
    totals = {"parameters": result.total_params, "macs": result.total_macs}
    sys.stdout.write(RENDER[args.format](rows, totals))
    for error in result.errors:
        where = loaded.source_map.where(error.field_path)
        print(f"{where}: error: {error.layer_name}: {error.message}", file=sys.stderr)
    unknown_types = _unknown_types(result)
    for layer in unknown_types:
        # Caffe stops at such a layer ("Unknown layer type"); the table only shows '?' after it
        where = loaded.source_map.where(tuple(layer.origin) + ("type",))
        print(f"{where}: error: {layer.name}: Caffe has no layer type '{layer.type}' (nor do "
              "the known forks); shapes after it are unknown", file=sys.stderr)
    return 1 if result.errors or unknown_types else 0


def _unknown_types(result) -> list:
    """Layers without a shape rule whose type neither BVLC Caffe nor a known fork registers."""
    from ..lint.layer_types import BVLC_TYPES, FORK_TYPES

    return [layer for layer in result.network.layers
            if (outcome := result.layers[layer]).unknown is not None
            and outcome.unknown.code == "unsupported-type"
            and layer.type not in BVLC_TYPES and layer.type not in FORK_TYPES]


def _shape_text(shape) -> str:
    return "?" if shape is None else "x".join(str(d) for d in shape) or "scalar"


def summary_rows(result) -> list[dict]:
    rows = []
    for layer in result.network.layers:
        outcome = result.layers[layer]
        params = outcome.shapes.params if outcome.shapes is not None else None
        rows.append({
            "name": layer.name, "type": layer.type,
            "bottoms": [_shape_text(result.blobs.get(b)) for b in layer.bottoms],
            "tops": [_shape_text(result.blobs.get(t)) for t in layer.tops],
            "param_shapes": [_shape_text(p) for p in params or []],
            "parameters": result.param_count(layer),
            "macs": outcome.shapes.macs if outcome.shapes is not None else None,
            "status": "error" if outcome.error else "unknown" if outcome.unknown else "ok",
        })
    return rows


def _cells(row: dict) -> list[str]:
    return [row["name"], row["type"], ", ".join(row["bottoms"]) or "-", ", ".join(row["tops"]) or "-",
            f"{row['parameters']:,}", "?" if row["macs"] is None else f"{row['macs']:,}"]


HEADER = ["layer", "type", "bottom", "top", "params", "MACs"]


def render_table(rows: list[dict], totals: dict) -> str:
    body = [HEADER] + [_cells(r) for r in rows]
    body.append(["total", "", "", "", f"{totals['parameters']:,}", f"{totals['macs']:,}"])
    widths = [max(len(r[i]) for r in body) for i in range(len(HEADER))]
    right = {4, 5}
    lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    return "\n".join(lines) + "\n"


def render_markdown(rows: list[dict], totals: dict) -> str:
    def esc(c: str) -> str:
        return c.replace("|", "\\|")
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---|---|---:|---:|"]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    lines.append(f"| **total** | | | | **{totals['parameters']:,}** | **{totals['macs']:,}** |")
    return "\n".join(lines) + "\n"


def render_csv(rows: list[dict], totals: dict) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["layer", "type", "bottom", "top", "param_shapes", "params", "macs", "status"])
    for r in rows:
        w.writerow([r["name"], r["type"], " ".join(r["bottoms"]), " ".join(r["tops"]),
                    " ".join(r["param_shapes"]), r["parameters"], "" if r["macs"] is None else r["macs"],
                    r["status"]])
    return out.getvalue()


def render_json(rows: list[dict], totals: dict) -> str:
    return json.dumps({"layers": rows, "totals": totals}, indent=2) + "\n"


RENDER = {"table": render_table, "markdown": render_markdown, "csv": render_csv, "json": render_json}
