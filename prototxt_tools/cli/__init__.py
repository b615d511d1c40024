"""The ``prototxt-tools`` command line: one entry point, one module per subcommand.

Exit codes follow ruff/eslint: 0 ok, 1 findings (lint problems, a diff to apply), 2 could not run
(bad input, usage error).  User errors print one line ``path:line:col: error: message`` on stderr
and never a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, Sequence

from .. import __version__
from ..errors import PrototxtToolsError

# name -> (module, help).  Modules are imported only when their command runs, so `lint` never
# pays for (or imports) the ONNX exporter.
COMMANDS: dict[str, tuple[str, str]] = {
    "dump": ("dump", "show what a .prototxt or .caffemodel holds: format, layers, blobs"),
    "upgrade": ("upgrade", "upgrade a V0/V1 .prototxt or .caffemodel to the current format"),
    "shapes": ("shapes", "every layer's blob shapes, parameters and multiply-accumulates"),
    "lint": ("lint", "check .prototxt files against Caffe's rules (also: prototxt-lint)"),
    "fix": ("fix", "apply the lint fixes to .prototxt files by minimal edits (also: prototxt-fix)"),
    "fc-to-conv": ("fc_to_conv", "turn InnerProduct layers into Convolutions (and their weights)"),
    "deploy": ("deploy", "make the deploy net of a train_val net"),
    "onnx": ("onnx", "export a net (and its weights) to ONNX, exact to Caffe's forward pass"),
}

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prototxt-tools",
        description="Read, check, fix and convert Caffe models exactly as Caffe does.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks for errors")
        _command_module(module).add_arguments(p)
    return parser


def _command_module(module: str):
    return importlib.import_module(f"{__name__}.{module}")


def run(func: Callable[[], int], debug: bool) -> int:
    """Run a command body, turning user errors into one line on stderr and exit code 2."""
    try:
        return func()
    except PrototxtToolsError as exc:
        if debug:
            raise
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        if debug:
            raise
        where = exc.filename if exc.filename is not None else "<io>"
        print(f"{where}: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    module = _command_module(COMMANDS[args.command][0])
    return run(lambda: module.execute(args), args.debug)
