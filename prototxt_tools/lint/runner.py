"""Linting files: load, run the selected rules, position, suppress, sort.

:func:`lint_source` lints one file (or text) with a given set of selected codes;
:func:`lint_files` lints many, optionally in worker processes, returning results in input order
so output is the same whatever ``jobs`` is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import PrototxtToolsError
from ..load import load_net
from .context import LintContext, LintOptions
from .diagnostic import Diagnostic
from .registry import all_rules
from .suppress import Suppressions


@dataclass
class FileResult:
    """The outcome for one path: its diagnostics, or why it could not be linted at all."""

    path: str
    diagnostics: list = field(default_factory=list)
    error: str | None = None  # "path: error: reason" when the file could not be read


def lint_source(path: str, selected: frozenset, options: LintOptions | None = None,
                text: str | None = None) -> list[Diagnostic]:
    """Diagnostics of one file, sorted.  ``text`` lints that text under the name ``path``
    instead of reading the file.  A file that does not parse gives a finding, not an exception;
    a path that cannot be read raises the PrototxtToolsError saying why."""
    options = options or LintOptions()
    loaded, error = None, None
    try:
        loaded = load_net(path, options.state, text=text)
    except PrototxtToolsError as exc:
        error = exc
    if loaded is not None:
        text = loaded.text
    elif text is None:
        try:
            text = _read_text(path)
        except OSError:  # missing, a directory: no file to report findings in
            raise error from None
    ctx = LintContext(path, text, loaded, error, options)
    rules = [r for r in all_rules() if r.code in selected]
    found = _run(ctx, [r for r in rules if not r.runs_last])
    ctx.suppressions = Suppressions.of(text, ctx.document)
    ctx.selected = selected
    kept = [d for d in found if not ctx.suppressions.suppressed(d.code, d.line)]
    for d in _run(ctx, [r for r in rules if r.runs_last]):
        # a blanket `# noqa` must not hide the report that it is itself unused
        if not ctx.suppressions.suppressed(d.code, d.line, explicit_only=True):
            kept.append(d)
    return sorted(kept, key=Diagnostic.sort_key)


def _run(ctx: LintContext, rules: list) -> list[Diagnostic]:
    out = []
    skip_net_rules = ctx.not_a_net is not None
    for r in rules:
        if skip_net_rules and not (r.any_file or r.runs_last):
            continue
        if all(ctx.has(req) for req in r.requires):
            out.extend(ctx.diagnostic(r, finding) for finding in r.check(ctx))
    return out


def _read_text(path: str) -> str:
    """The file's text for suppression comments when loading failed (bytes kept 1:1)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def lint_file(path: str, selected: frozenset, options: LintOptions | None = None) -> FileResult:
    """Lint one path; an unreadable path is a FileResult with ``error`` (the run exits 2)."""
    if os.path.isdir(path):
        return FileResult(path, error=f"{path}: error: is a directory")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return FileResult(path, error=f"{path}: error: {exc.strerror or exc}")
    return FileResult(path, lint_source(path, selected, options))


def _lint_job(job: tuple) -> FileResult:
    return lint_file(*job)


def lint_files(jobs: Sequence[tuple], processes: int = 1) -> list[FileResult]:
    """``jobs`` are ``(path, selected, options)``; results come back in the same order."""
    if processes <= 1 or len(jobs) <= 1:
        return [_lint_job(job) for job in jobs]
    import multiprocessing

    from ..plugins import load_plugins, loaded_plugins
    # workers started by spawn/forkserver do not inherit this process's plugins: load them again
    with multiprocessing.Pool(min(processes, len(jobs)), initializer=load_plugins,
                              initargs=(loaded_plugins(),)) as pool:
        return pool.map(_lint_job, jobs, chunksize=1)
