"""The ``prototxt-tools`` command line: one entry point, one module per subcommand.

Exit codes follow ruff/eslint: 0 ok, 1 findings (lint problems, a diff to apply), 2 could not run
(bad input, usage error).  User errors print one line ``path:line:col: error: message`` on stderr
and never a traceback unless ``--debug`` is given.

Plugins (see :mod:`prototxt_tools.plugins`) are loaded before a command runs: the installed
``prototxt_tools.plugins`` entry points, then each ``--plugin MODULE`` (before or after the
command name).
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "draw": ("draw", "draw the layer graph with blob shapes: DOT, or SVG/PNG with Graphviz"),
    "completion": ("completion", "print a shell completion script (bash)"),
}
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only that subcommand's options are added (the
    other commands' modules are not imported: ``onnx`` does not pay for the linter's)."""
    parser = argparse.ArgumentParser(
        prog="prototxt-tools",
        description="Read, check, fix and convert Caffe models exactly as Caffe does.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    add_plugin_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks for errors")
        # a separate dest: argparse replaces, not extends, the top level's list
        add_plugin_option(p, dest="command_plugins")
        if command in (None, name):
            _command_module(module).add_arguments(p)
    return parser


def add_plugin_option(parser: argparse.ArgumentParser, dest: str = "plugins") -> None:
    """``--plugin MODULE`` (repeatable): a module name or a .py file registering layer types."""
    parser.add_argument("--plugin", dest=dest, action="append", default=[], metavar="MODULE",
                        help="load a plugin (a module name or a .py file) that registers shape "
                             "rules / ONNX exporters for your own layer types (repeatable)")


def _command_module(module: str):
    return importlib.import_module(f"{__name__}.{module}")


def run(func: Callable[[], int], debug: bool, plugins: Sequence[str] = ()) -> int:
    """Load the plugins, then run a command body, turning user errors into one line on stderr
    and exit code 2."""
    try:
        from ..plugins import load_plugins
        load_plugins(plugins)
        return func()
    except PrototxtToolsError as exc:
        if debug:
            raise
        print(str(exc), file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return _reader_went_away()
    except MemoryError as exc:
        # a net Caffe accepts can still be too big for this machine (2e9 random weights)
        if debug:
            raise
        print(f"prototxt-tools: error: out of memory: {exc or 'allocation failed'}",
              file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        if debug:
            raise
        where = exc.filename if exc.filename is not None else "<io>"
        print(f"{where}: error: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return interrupted()


def _reader_went_away() -> int:
    """``prototxt-tools dump big.prototxt | head``: the reader closed the pipe.  Quiet, as
    ``cat`` is: no error line, exit 141 (128 + SIGPIPE); stdout goes to /dev/null so the
    interpreter's final flush cannot complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def interrupted() -> int:
    """Ctrl-C is an answer, not a crash: one line, exit 130 (128 + SIGINT) as shells do."""
    print("interrupted", file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    try:  # building the parser imports every command: Ctrl-C can land there too
        return _main(argv)
    except KeyboardInterrupt:
        return interrupted()


def _requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is no option nor a --plugin's
    value), or None."""
    words = iter(argv)
    for word in words:
        if word == "--plugin":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_requested_command(argv))
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    module = _command_module(COMMANDS[args.command][0])
    plugins = list(args.plugins) + list(getattr(args, "command_plugins", []))
    # plugins' ONNX exporters reach the exporter when prototxt_tools.export is imported
    return run(lambda: module.execute(args), args.debug, plugins)
