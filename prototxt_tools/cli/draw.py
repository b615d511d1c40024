"""``prototxt-tools draw NET -o net.svg``: the layer graph with blob shapes, errors in red.

The output's extension picks the format: ``.dot``/``.gv`` is Graphviz's text (written by us,
nothing to install), ``.svg`` and ``.png`` are rendered by Graphviz's ``dot`` program when it is
installed.  Without ``-o`` the DOT text goes to standard output.  A net with graph or shape
errors is still drawn -- the failing layers in red -- and the errors are listed on stderr at
their lines (exit 1), as ``prototxt-tools shapes`` does.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PrototxtToolsError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the .prototxt net")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="the picture: .svg or .png (need Graphviz), .dot/.gv; default: DOT on "
                        "standard output")
    p.add_argument("--format", choices=("dot", "svg", "png"),
                   help="picture format (default: from the output's extension)")
    p.add_argument("--input", dest="overrides", action="append", default=[],
                   metavar="NAME=D1,D2,...", help="override a net input's shape (repeatable)")
    p.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB",
                   help="layout direction (default TB: top to bottom)")
    p.add_argument("--phase", choices=("TRAIN", "TEST"), default="TEST", type=str.upper)
    p.add_argument("--stage", action="append", default=[], help="net state stage (repeatable)")


def execute(args: argparse.Namespace) -> int:
    from ..draw import drawing_of, format_of, render, to_dot
    from ..fileio import atomic_output, refuse_overwriting
    from ..ir import NetState
    from ..load import load_net
    from ..shapes.network import parse_input_override

    fmt = _format(args, format_of)
    refuse_overwriting(args.output, args.input)
    try:
        overrides = dict(parse_input_override(o) for o in args.overrides)
    except ValueError as exc:
        raise PrototxtToolsError(str(exc), args.input) from None
    loaded = load_net(args.input, NetState.of(args.phase, stages=args.stage))
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    drawing, shapes = drawing_of(loaded, overrides)
    text = to_dot(drawing, args.rankdir)
    data = text.encode("utf-8") if fmt == "dot" else render(text, fmt, args.input)
    if args.output is None:
        sys.stdout.write(text)
    else:
        with atomic_output(args.output) as out:
            out.write(data)
        print(f"wrote {args.output} ({len(drawing.nodes)} nodes)", file=sys.stderr)
    return _report_errors(loaded, shapes)


def _format(args: argparse.Namespace, format_of) -> str:
    if args.output is None:
        if args.format not in (None, "dot"):
            raise PrototxtToolsError(f"{args.format.upper()} is binary: name the output with "
                                     f"-o NAME.{args.format}", "prototxt-tools draw")
        return "dot"
    if args.format:
        return args.format
    try:
        return format_of(args.output)
    except ValueError as exc:
        raise PrototxtToolsError(str(exc), "prototxt-tools draw") from None


def _report_errors(loaded, shapes) -> int:
    """Graph and shape errors on stderr at their lines; 1 when there are any."""
    network = loaded.network
    problems = []
    for issue in network.errors():
        problems.append((issue.field_path, issue.message))
    for error in shapes.errors:
        problems.append((error.field_path, f"{error.layer_name}: {error.message}"))
    for field_path, message in problems:
        print(f"{loaded.source_map.where(field_path)}: error: {message}", file=sys.stderr)
    return 1 if problems else 0
