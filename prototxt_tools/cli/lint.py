"""``prototxt-tools lint`` / ``prototxt-lint``: check .prototxt files against Caffe's rules.

Exit codes: 0 no findings, 1 findings (errors or warnings after selection; ``--exit-zero``
turns this into 0), 2 could not run (usage or configuration error, unreadable path).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import Sequence

from .. import __version__
from ..errors import PrototxtToolsError
from ..ir import NetState
from ..lint.config import ConfigFinder, LintConfig, load_config
from ..lint.context import LintOptions
from ..lint.output import FORMATTERS, render, statistics
from ..lint.registry import all_rules, get_rule
from ..lint.runner import lint_files
from ..lint.selection import Selection, SelectionLevel, parse_selectors

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
GLOB_CHARS = set("*?[")


class UsageError(PrototxtToolsError):
    """Bad command-line usage (renders as ``prototxt-lint: error: ...``)."""

    def __init__(self, message: str):
        super().__init__(message, "prototxt-lint")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files, directories (searched for *.prototxt) or globs; default: .")
    add_selection_options(p, "rule selection (codes, prefixes such as E1, or ALL)",
                          "rules to check (replaces the default set and the config's)")
    add_net_options(p, "net state and inputs",
                    "weights for the weight rules (lint a single net)",
                    "shape of net input NAME for the shape rules, e.g. data=1,3,384,384 "
                    "(repeatable; lint a single net)")
    out = p.add_argument_group("output")
    out.add_argument("--format", "--output-format", dest="format", default="text",
                     choices=sorted(FORMATTERS), help="output format (default: text)")
    out.add_argument("--statistics", action="store_true",
                     help="print the number of findings per rule instead of the findings")
    out.add_argument("--exit-zero", action="store_true",
                     help="exit 0 even when there are findings")
    info = p.add_argument_group("rules")
    info.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    info.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="lint N files in parallel (0: one per CPU); output order is unchanged")


def add_selection_options(p: argparse.ArgumentParser, title: str, select_help: str) -> None:
    """--select/--extend-select/--ignore/--config/--isolated, shared with prototxt-fix."""
    sel = p.add_argument_group(title)
    sel.add_argument("--select", action="append", metavar="CODES", help=select_help)
    sel.add_argument("--extend-select", action="append", metavar="CODES",
                     help="rules to add to the selection")
    sel.add_argument("--ignore", action="append", metavar="CODES", help="rules to leave out")
    sel.add_argument("--config", metavar="FILE",
                     help="use this pyproject.toml / setup.cfg instead of discovering one")
    sel.add_argument("--isolated", action="store_true", help="ignore configuration files")


def add_net_options(p: argparse.ArgumentParser, title: str, weights_help: str,
                    input_help: str) -> None:
    """--phase/--stage/--level/--weights/--input, shared with prototxt-fix."""
    net = p.add_argument_group(title)
    net.add_argument("--phase", choices=("TRAIN", "TEST"), default="TEST", type=str.upper,
                     help="net phase the layers are filtered for (default: TEST)")
    net.add_argument("--stage", action="append", default=[], metavar="NAME",
                     help="net stage (repeatable)")
    net.add_argument("--level", type=int, default=0, help="net level (default: 0)")
    net.add_argument("--weights", metavar="CAFFEMODEL", help=weights_help)
    net.add_argument("--input", action="append", default=[], metavar="NAME=DIMS", help=input_help)


def execute(args: argparse.Namespace) -> int:
    if args.explain:
        return _explain(args.explain)
    if args.list_rules:
        return _list_rules()
    rules = all_rules()
    codes = [r.code for r in rules]
    defaults = [r.code for r in rules if r.default]
    cli_level = SelectionLevel(
        parse_selectors(args.select, codes) if args.select else None,
        parse_selectors(args.extend_select, codes), parse_selectors(args.ignore, codes))
    notes: list[str] = []
    configs = _config_source(args, notes)
    files, path_errors = discover(args.paths or ["."], configs)
    if args.weights and len(files) > 1:
        raise UsageError("--weights needs exactly one net to lint")
    if args.weights and not os.path.isfile(args.weights):
        raise UsageError(f"--weights {args.weights}: no such file")
    state = NetState.of(args.phase, args.level, args.stage)
    options = LintOptions(state, args.weights, _input_overrides(args.input, files, state))
    jobs = [(f, _selected(f, configs(f), cli_level, codes, defaults), options) for f in files]
    processes = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    results = lint_files(jobs, processes)
    for note in notes:
        print(f"prototxt-lint: note: {note}", file=sys.stderr)
    errors = path_errors + [r.error for r in results if r.error]
    diagnostics = [d for r in results for d in r.diagnostics]
    for message in errors:
        print(message, file=sys.stderr)
    if args.statistics:
        sys.stdout.write(statistics(diagnostics, args.format))
    else:
        selected_codes = set().union(*(job[1] for job in jobs)) if jobs else set()
        sys.stdout.write(render(args.format, diagnostics,
                                [r for r in rules if r.code in selected_codes]))
    if errors:
        return EXIT_ERROR
    if any(d.fails for d in diagnostics) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _input_overrides(texts: list, files: list, state: NetState) -> tuple:
    """``--input NAME=DIMS`` as (name, shape) pairs, each naming an input of the one net."""
    if not texts:
        return ()
    if len(files) > 1:
        raise UsageError("--input needs exactly one net to lint")
    from ..load import load_net
    from ..shapes.network import parse_input_override
    try:
        pairs = tuple(parse_input_override(text) for text in texts)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        inputs = {b.name for b in load_net(files[0], state).network.inputs} if files else set()
    except PrototxtToolsError:  # the lint run reports why the net does not load
        return pairs
    unknown = [name for name, _ in pairs if name not in inputs]
    if unknown:
        raise UsageError(f"--input {unknown[0]}: {files[0]} has no input of that name "
                         f"(inputs: {', '.join(sorted(inputs)) or 'none'})")
    return pairs


def _explain(code: str) -> int:
    found = get_rule(code)
    if found is None:
        raise UsageError(f"no rule {code!r}; see `prototxt-lint --list-rules`")
    sys.stdout.write(found.explain())
    return EXIT_OK


def _list_rules() -> int:
    for r in all_rules():
        flag = "" if r.default else "  (opt-in)"
        print(f"{r.code}  {r.name:<28} {r.severity:<8} {r.summary}{flag}")
    return EXIT_OK


def _config_source(args, notes: list):
    """A function file -> LintConfig: fixed (--config / --isolated) or discovered per file."""
    if args.isolated:
        fixed = LintConfig()
        return lambda path: fixed
    if args.config:
        fixed = load_config(args.config)
        return lambda path: fixed
    finder = ConfigFinder(notes)
    return finder.for_file


def _selected(path: str, config: LintConfig, cli_level: SelectionLevel, codes: list,
              defaults: list) -> frozenset:
    where = str(config.path) if config.path else "config"
    levels = [SelectionLevel(
        parse_selectors(config.select, codes, where) if config.select is not None else None,
        parse_selectors(config.extend_select, codes, where),
        parse_selectors(config.ignore, codes, where)), cli_level]
    per_file = config.ignores_for(path)
    if per_file:
        levels.append(SelectionLevel(ignore=parse_selectors(per_file, codes, where)))
    return Selection(levels).resolve(codes, defaults)


def discover(paths: Sequence[str], configs) -> tuple[list[str], list[str]]:
    """Expand paths into prototxt files (sorted within a directory, duplicates dropped) and
    messages for paths that do not exist.  Config ``exclude`` globs prune directory walks and
    glob matches; a file named explicitly is always linted."""
    files: list[str] = []
    errors: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(_walk(path, configs))
        elif os.path.exists(path):
            files.append(path)
        elif GLOB_CHARS & set(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                errors.append(f"{path}: error: no file matches this pattern")
            for m in matches:
                if os.path.isdir(m):
                    files.extend(_walk(m, configs))
                elif not configs(m).excludes(m):
                    files.append(m)
        else:
            errors.append(f"{path}: error: no such file or directory")
    return list(dict.fromkeys(files)), errors


def _walk(root: str, configs) -> list[str]:
    out = []
    for directory, dirs, names in os.walk(root):
        # hidden directories (.git, .tox) and excluded ones are not entered
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and
                         not configs(os.path.join(directory, d)).excludes(os.path.join(directory, d)))
        for name in sorted(names):
            # normpath: `./x.prototxt` would reach GitHub annotations and SARIF as a path
            full = os.path.normpath(os.path.join(directory, name))
            if name.endswith(".prototxt") and not configs(full).excludes(full):
                out.append(full)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prototxt-lint", description="Check Caffe .prototxt files against Caffe's own rules.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    from . import add_plugin_option
    add_plugin_option(parser)
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``prototxt-lint`` console script."""
    from . import interrupted, run
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        return interrupted()
    return run(lambda: execute(args), args.debug, args.plugins)


if __name__ == "__main__":
    sys.exit(main())
