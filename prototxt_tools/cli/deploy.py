"""``prototxt-tools deploy TRAIN_VAL [-o OUT] [--input data=N,C,H,W]``: the deploy net.

TEST phase, data layers replaced by Input layers, loss/accuracy layers (and what only fed them)
removed, the activation a loss applied (Softmax/Sigmoid ``prob``) after the classifier, one note
per loss on stderr; kept layers keep their comments.  See prototxt_tools.surgery.deploy.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PrototxtToolsError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the train_val .prototxt")
    p.add_argument("-o", "--output", help="where to write the deploy net (default, or -: "
                                          "standard output)")
    p.add_argument("--input", dest="overrides", action="append", default=[],
                   metavar="NAME=N,C,H,W", help="shape of a data-layer top (repeatable), needed "
                   "when the prototxt cannot tell it (an LMDB's channels)")
    p.add_argument("--stage", action="append", default=[], help="TEST net stage (repeatable)")
    p.add_argument("--level", type=int, default=0, help="TEST net level (default: 0)")


def execute(args: argparse.Namespace) -> int:
    from ..ir import NetState
    from ..load import load_net
    from ..shapes.network import parse_input_override
    from ..fileio import refuse_overwriting
    from ..surgery import make_deploy, write_net_text

    try:
        overrides = dict(parse_input_override(o) for o in args.overrides)
    except ValueError as exc:
        raise PrototxtToolsError(str(exc), args.input) from None
    refuse_overwriting(args.output, args.input)
    state = NetState.of("TEST", args.level, args.stage)
    loaded = load_net(args.input, state)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    result = make_deploy(loaded, overrides, state)
    where = write_net_text(args.output, result.text, loaded.parsed.document.encoding)
    for note in result.notes:
        print(note, file=sys.stderr)
    for name, shape in result.inputs.items():
        print(f"{args.input}: Input '{name}': {'x'.join(map(str, shape))}", file=sys.stderr)
    if result.removed:
        removed = ", ".join(f"{name} ({why})" for name, why in result.removed)
        print(f"{args.input}: removed {removed}", file=sys.stderr)
    print(f"{args.input}: deploy net written to {where}", file=sys.stderr)
    return 0
