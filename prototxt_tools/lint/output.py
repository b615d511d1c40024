"""Output formats: ``text`` (ruff's concise lines, ``[*]`` on safe fixes, a summary), ``json``
(each finding's ``fix`` with its applicability), ``github``, ``sarif``.

Each formatter is registered with ``@formatter(name)`` and turns the sorted diagnostics of a run
into the text written to stdout.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import PurePath
from typing import Callable
from urllib.parse import quote

from .. import __version__
from .diagnostic import Diagnostic

TOOL = "prototxt-lint"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FORMATTERS: dict[str, Callable[[list, list], str]] = {}


def formatter(name: str):
    def register(func):
        if name in FORMATTERS:
            raise ValueError(f"output format {name!r} is already registered")
        FORMATTERS[name] = func
        return func
    return register


def render(fmt: str, diagnostics: list[Diagnostic], rules: list) -> str:
    """``rules``: the selected Rule objects (SARIF describes them)."""
    return FORMATTERS[fmt](diagnostics, rules)


# -- text ----------------------------------------------------------------------------------------

def _safe_fix(d: Diagnostic) -> bool:
    return d.fix is not None and d.fix.safe


@formatter("text")
def text_format(diagnostics: list[Diagnostic], rules: list) -> str:
    """ruff's concise lines: ``[*]`` after the code marks what plain ``prototxt-fix`` repairs."""
    lines = [f"{d.location()}: {d.code}{' [*]' if _safe_fix(d) else ''} {d.message}"
             for d in diagnostics]
    lines.append(summary(diagnostics))
    fixes = fix_summary(diagnostics)
    if fixes:
        lines.append(fixes)
    return "\n".join(lines) + "\n"


def summary(diagnostics: list[Diagnostic]) -> str:
    if not diagnostics:
        return "All checks passed!"
    counts = Counter(d.severity for d in diagnostics)
    parts = [f"{counts[s]} {s}{'' if counts[s] == 1 else 's'}"
             for s in ("error", "warning", "info") if counts[s]]
    n = len(diagnostics)
    return f"Found {n} problem{'' if n == 1 else 's'} ({', '.join(parts)})."


def fix_summary(diagnostics: list[Diagnostic]) -> str:
    """ruff's second summary line: how many findings prototxt-fix repairs ("" when none)."""
    safe = sum(_safe_fix(d) for d in diagnostics)
    unsafe = sum(d.fix is not None for d in diagnostics) - safe
    hidden = f"{unsafe} more with `prototxt-fix --unsafe-fixes`" if unsafe else ""
    if safe:
        return f"[*] {safe} fixable with `prototxt-fix`{f' ({hidden})' if hidden else ''}."
    return f"No safe fixes available ({hidden})." if hidden else ""


def statistics(diagnostics: list[Diagnostic], fmt: str) -> str:
    """``--statistics``: findings per rule, most frequent first (JSON list for ``json``)."""
    counts = Counter((d.code, d.name) for d in diagnostics)
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0]))
    if fmt == "json":
        return json.dumps([{"code": c, "name": n, "count": k} for (c, n), k in rows],
                          indent=2) + "\n"
    return "".join(f"{k:>5}  {c}  {n}\n" for (c, n), k in rows)


# -- json ----------------------------------------------------------------------------------------

@formatter("json")
def json_format(diagnostics: list[Diagnostic], rules: list) -> str:
    """A list of findings, each with its ``fix`` (ruff's shape).  Several findings can share
    one fix (a V1 net's format upgrade fixes W401 and every per-layer W403): its edits are
    given on the first of them only, the others say ``"same_as": <index of that finding>``
    with no edits, so a consumer applies it once (and a 180-file corpus is 1 MB, not 20)."""
    items, first = [], {}
    for index, d in enumerate(diagnostics):
        key = (d.path, id(d.fix)) if d.fix is not None else None
        item = d.to_dict(fix_edits=key not in first)
        if key in first:
            item["fix"]["same_as"] = first[key]
        elif key is not None:
            first[key] = index
        items.append(item)
    return json.dumps(items, indent=2) + "\n"


# -- GitHub Actions workflow commands -----------------------------------------------------------

GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(value: str) -> str:
    """actions/toolkit command.ts escapeData: % first, then CR and LF."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """escapeProperty: escapeData plus ':' and ','."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


@formatter("github")
def github_format(diagnostics: list[Diagnostic], rules: list) -> str:
    out = []
    for d in diagnostics:
        props = [("title", f"{TOOL} ({d.code})"), ("file", d.path), ("line", str(d.line))]
        end_line = d.end_line if d.end_line is not None else d.line
        if end_line == d.line:  # col/endColumn only for single-line ranges (toolkit rule)
            props.append(("col", str(d.col)))
        props.append(("endLine", str(end_line)))
        if end_line == d.line and d.end_col is not None:
            props.append(("endColumn", str(d.end_col)))  # exclusive, as ruff writes it
        prop_text = ",".join(f"{k}={escape_property(v)}" for k, v in props)
        message = escape_data(f"{d.location()}: {d.code} {d.message}")
        out.append(f"::{GITHUB_LEVEL[d.severity]} {prop_text}::{message}\n")
    return "".join(out)


# -- SARIF 2.1.0 --------------------------------------------------------------------------------

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    """A relative (or file:) URI reference with forward slashes and percent-escapes."""
    p = PurePath(path)
    if p.is_absolute():
        return "file://" + quote(p.as_posix())
    return quote(p.as_posix())


def _sarif_rule(rule) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.section("What it does") or rule.summary},
        "help": {"text": rule.doc(), "markdown": rule.doc()},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
    }


def _sarif_region(d: Diagnostic) -> dict:
    region = {"startLine": d.line, "startColumn": d.col}
    if d.end_line is not None:
        region["endLine"] = d.end_line
        if d.end_col is not None:
            region["endColumn"] = d.end_col  # SARIF's endColumn is exclusive, as ours
    return region


@formatter("sarif")
def sarif_format(diagnostics: list[Diagnostic], rules: list) -> str:
    described = {r.code: r for r in rules}
    for d in diagnostics:  # a finding of a rule not in ``rules`` still gets its descriptor
        if d.code not in described:
            from .registry import get_rule
            found = get_rule(d.code)
            if found is not None:
                described[d.code] = found
    ordered = [described[c] for c in sorted(described)]
    index = {r.code: i for i, r in enumerate(ordered)}
    results = []
    for d in diagnostics:
        result = {
            "ruleId": d.code,
            "level": SARIF_LEVEL[d.severity],
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(d.path)},
                "region": _sarif_region(d)}}],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "version": __version__,
                                "rules": [_sarif_rule(r) for r in ordered]}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
