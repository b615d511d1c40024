"""``prototxt-tools fc-to-conv NET [-o OUT] [--weights IN --weights-out OUT]``: net surgery.

Every InnerProduct becomes the equivalent Convolution (kernel = its input's H×W, then 1×1), by
minimal edits of the file; with ``--weights`` the caffemodel is converted too (weights reshaped,
layer names kept).  On a larger input (``prototxt-tools shapes OUT --input data=1,3,451,451``)
the converted net gives a score map.  See prototxt_tools.surgery.fc_to_conv.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PrototxtToolsError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the .prototxt net")
    p.add_argument("-o", "--output", help="where to write the converted net (default, or -: "
                                          "standard output)")
    p.add_argument("--weights", metavar="IN.caffemodel", help="the net's weights, to convert too")
    p.add_argument("--weights-out", metavar="OUT.caffemodel",
                   help="where to write the converted weights (a new file)")
    p.add_argument("--input", dest="overrides", action="append", default=[],
                   metavar="NAME=D1,D2,...", help="net input shape to convert for (repeatable); "
                   "default: the shapes the net declares")
    p.add_argument("--phase", choices=("TRAIN", "TEST"), default="TEST", type=str.upper)
    p.add_argument("--stage", action="append", default=[], help="net state stage (repeatable)")
    p.add_argument("--force", action="store_true",
                   help="allow replacing the input prototxt or caffemodel")


def execute(args: argparse.Namespace) -> int:
    from ..ir import NetState
    from ..progress import TerminalProgress
    from ..shapes.network import parse_input_override
    from ..surgery import fc_to_conv_files

    try:
        overrides = dict(parse_input_override(o) for o in args.overrides)
    except ValueError as exc:
        raise PrototxtToolsError(str(exc), args.input) from None
    state = NetState.of(args.phase, stages=args.stage)
    with TerminalProgress(f"writing {args.weights_out}") as progress:
        result, notes = fc_to_conv_files(args.input, args.output, args.weights,
                                         args.weights_out, overrides, state, args.force,
                                         progress)
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    for note in notes:
        print(f"{args.input}: {note}", file=sys.stderr)
    return 0
