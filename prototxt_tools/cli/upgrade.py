"""``prototxt-tools upgrade IN [-o OUT]``: V0/V1 nets and caffemodels to the current format.

A prototxt is rewritten in Caffe's current syntax (the file's leading comment block is kept;
``prototxt-fix`` upgrades by minimal edits instead, keeping every comment).  A caffemodel is
upgraded with the same rules Caffe applies when it loads one, its blobs carried over untouched.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PrototxtToolsError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help=".prototxt or .caffemodel (binary) to upgrade")
    p.add_argument("-o", "--output", help="where to write (default for a prototxt: standard output)")
    p.add_argument("-v", "--verbose", action="store_true", help="list every change on stderr")


def is_binary_net(path: str) -> bool:
    """Binary NetParameter by extension, else by content (text prototxt is printable)."""
    if path.endswith((".caffemodel", ".binaryproto", ".pb")):
        return True
    if path.endswith((".prototxt", ".pbtxt", ".txt")):
        return False
    with open(path, "rb") as f:
        head = f.read(4096)
    return b"\0" in head or any(b > 0x7F for b in head[:64]) and not _utf8(head)


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def execute(args: argparse.Namespace) -> int:
    if is_binary_net(args.input):
        changes, source_format = _upgrade_caffemodel(args.input, args.output)
    else:
        changes, source_format = _upgrade_prototxt(args.input, args.output)
    where = args.output or "standard output"
    if source_format == "V2" and not changes:
        print(f"{args.input}: already in the current format", file=sys.stderr)
    else:
        print(f"{args.input}: upgraded {source_format} -> current format ({len(changes)} changes)"
              f", written to {where}", file=sys.stderr)
    if args.verbose:
        for change in changes:
            print(f"  {change}", file=sys.stderr)
    return 0


def _upgrade_prototxt(path: str, output: str | None) -> tuple[list, str]:
    from ..fileio import atomic_write_text
    from ..load import current_format_text, load_net

    loaded = load_net(path)
    for warning in loaded.warnings:  # an unknown field is not in the rewritten net: say so
        print(warning, file=sys.stderr)
    text = current_format_text(loaded)
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(output, text)
    return loaded.upgrade_changes, loaded.format


def _upgrade_caffemodel(path: str, output: str | None) -> tuple[list, str]:
    from ..caffemodel import LayerWeights, read_caffemodel, write_caffemodel
    from ..progress import TerminalProgress
    from ..upgrade import upgrade_caffemodel_net

    if output is None:
        raise PrototxtToolsError("a caffemodel is binary: name the output with -o OUT", path)
    model = read_caffemodel(path)
    result = upgrade_caffemodel_net(model.net)
    weights = []
    for layer, origin in zip(result.net.layer, result.layer_origin):
        # the upgrade keeps each layer's blobs with it; synthesized layers (Input) have none
        if origin and origin[0] in ("layer", "layers"):
            weights.append(LayerWeights(layer.name, layer.type, model.layers[origin[1]].blobs))
        else:
            weights.append(LayerWeights(layer.name, layer.type, []))
    with TerminalProgress(f"writing {output}") as progress:
        write_caffemodel(output, result.net, weights, progress=progress)
    dropped = model.dropped_diff_note()
    if dropped:
        print(f"{path}: {dropped}", file=sys.stderr)
    return list(result.changes), result.source_format
