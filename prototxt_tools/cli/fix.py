"""``prototxt-fix`` / ``prototxt-tools fix``: apply the linter's fixes to .prototxt files.

By default the safe fixes are written back in place, atomically, and each fix is listed
(``path:line:col: CODE [fixed] what it did``, lines of the fixed file) followed by what remains.
``--diff`` prints a ``git apply``-able diff instead and writes nothing; ``-o OUT`` writes the
fixed text of one file elsewhere.  Rules are selected as for ``prototxt-lint`` (``--select``,
``--ignore``, the ``[tool.prototxt-lint]`` configuration).

Exit codes: 0 nothing left to report after fixing (``--diff``: nothing to change), 1 findings
remain (``--diff``: the diff is not empty), 2 a file could not be fixed (it does not load, it
is read-only, a fix failed) -- such a file is never modified.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .. import __version__
from ..errors import PrototxtToolsError
from ..ir import NetState
from ..lint.context import LintOptions
from ..lint.registry import all_rules
from ..lint.selection import SelectionLevel, parse_selectors
from .lint import (_config_source, _input_overrides, _selected, add_net_options,
                   add_selection_options, discover)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(PrototxtToolsError):
    """Bad command-line usage (renders as ``prototxt-fix: error: ...``)."""

    def __init__(self, message: str):
        super().__init__(message, "prototxt-fix")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="files, directories (searched for *.prototxt) or globs")
    p.add_argument("--diff", action="store_true",
                   help="print a unified diff (for git apply) instead of writing; exit 1 if "
                        "it is not empty")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write the fixed text of the one input file to OUT")
    p.add_argument("--unsafe-fixes", action="store_true",
                   help="also apply fixes that change the net's meaning or its weights' shapes")
    add_selection_options(p, "rule selection (as prototxt-lint)",
                          "rules whose findings are fixed and reported")
    add_net_options(p, "net state and inputs (as prototxt-lint)",
                    "the net's weights: fixes that would no longer fit them are unsafe",
                    "shape of net input NAME, e.g. data=1,3,384,384 (one net only)")

def execute(args: argparse.Namespace) -> int:
    rules = all_rules()
    codes = [r.code for r in rules]
    defaults = [r.code for r in rules if r.default]
    cli_level = SelectionLevel(
        parse_selectors(args.select, codes) if args.select else None,
        parse_selectors(args.extend_select, codes), parse_selectors(args.ignore, codes))
    notes: list[str] = []
    configs = _config_source(args, notes)
    files, errors = discover(args.paths, configs)
    _check_usage(args, files, errors)
    state = NetState.of(args.phase, args.level, args.stage)
    options = LintOptions(state, args.weights, _input_overrides(args.input, files, state))
    from ..fix.files import DIFF, WRITE, fix_path
    results = [fix_path(f, _selected(f, configs(f), cli_level, codes, defaults), options,
                        args.unsafe_fixes, DIFF if args.diff else WRITE, args.output)
               for f in files]
    for note in notes:
        print(f"prototxt-fix: note: {note}", file=sys.stderr)
    errors += [r.error for r in results if r.error]
    report = _report_diff if args.diff else _report_fixes
    fixed = [r for r in results if r.outcome is not None]
    # "All checks passed!" only when something was checked and nothing could not be read
    code = report(fixed) if fixed or not errors else EXIT_OK
    for message in errors:
        print(message, file=sys.stderr)
    return EXIT_ERROR if errors else code


def _check_usage(args, files: list, errors: list) -> None:
    if args.output and (len(files) != 1 or errors):
        raise UsageError("-o/--output needs exactly one input file")
    if args.output and args.diff:
        raise UsageError("--diff writes nothing: do not combine it with -o/--output")
    if args.weights and len(files) > 1:
        raise UsageError("--weights needs exactly one net to fix")
    if args.weights and not os.path.isfile(args.weights):
        raise UsageError(f"--weights {args.weights}: no such file")


def _report_fixes(results: list) -> int:
    """Default and ``-o``: each applied fix, then the findings left, then a summary."""
    from ..lint.output import text_format
    fixed = remaining = hidden = 0
    out = sys.stdout
    for r in results:
        outcome = r.outcome
        for a in outcome.applied:
            out.write(f"{_where(r.path, a)}: {', '.join(a.codes)} [fixed] {a.description}\n")
        fixed += outcome.fixed_count
        for d in outcome.remaining:
            mark = " [unsafe fix]" if d.fix is not None and not d.fix.safe else ""
            hidden += bool(mark)
            out.write(f"{d.location()}: {d.code}{mark} {d.message}\n")
        remaining += len(outcome.remaining)
        if not outcome.converged:
            print(f"{r.path}: warning: the fixes did not settle after their last round; "
                  "run prototxt-fix again", file=sys.stderr)
    if fixed or remaining:
        out.write(f"Found {fixed + remaining} problem{'' if fixed + remaining == 1 else 's'} "
                  f"({fixed} fixed, {remaining} remaining).\n")
    else:
        out.write(text_format([], []))
    if hidden:
        out.write(f"{hidden} unsafe fix{'' if hidden == 1 else 'es'} not applied: run with "
                  "--unsafe-fixes to apply {}.\n".format("it" if hidden == 1 else "them"))
    failing = any(d.fails for r in results for d in r.outcome.remaining)
    return EXIT_FINDINGS if failing else EXIT_OK


def _report_diff(results: list) -> int:
    """``--diff``: the diffs on stdout, what they fix on stderr; 1 if anything would change."""
    from ..fix.files import unified_diff
    changed = [r for r in results if r.outcome.changed]
    for r in changed:
        sys.stdout.write(unified_diff(r.path, r.outcome.original, r.outcome.text))
        for a in r.outcome.applied:
            print(f"{_where(r.path, a)}: {', '.join(a.codes)} [would fix] {a.description}",
                  file=sys.stderr)
    n = sum(r.outcome.fixed_count for r in changed)
    if changed:
        print(f"Would fix {n} problem{'' if n == 1 else 's'} in {len(changed)} "
              f"file{'' if len(changed) == 1 else 's'}.", file=sys.stderr)
    else:
        print("No fixes available.", file=sys.stderr)
    return EXIT_FINDINGS if changed else EXIT_OK


def _where(path: str, applied) -> str:
    return f"{path}:{applied.line}:{applied.col}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prototxt-fix",
        description="Apply prototxt-lint's fixes to Caffe .prototxt files, by minimal edits.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    from . import add_plugin_option
    add_plugin_option(parser)
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``prototxt-fix`` console script."""
    from . import run
    args = build_parser().parse_args(argv)
    return run(lambda: execute(args), args.debug, args.plugins)


if __name__ == "__main__":
    sys.exit(main())
