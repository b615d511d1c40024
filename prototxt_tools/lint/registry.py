"""The rule registry: every lint rule is a small class registered by code with ``@rule``.

A rule has a code (``E101``: letter = default severity, first digit = family), a kebab-case name,
a one-line summary, a docstring with ``## What it does`` / ``## Why is this bad?`` / ``## Example``
/ ``## Fix`` sections (shown by ``prototxt-lint --explain CODE``), the facts it needs
(``requires``), and a ``check(ctx)`` generator yielding :class:`~.diagnostic.Finding` objects.

Code families (the first digit):

====  =====================================================================
E0xx  parse / schema: the file is not a NetParameter Caffe would read
E1xx  graph: bottoms, tops, layer names, layer types
E2xx  shapes (reserved for the shape rules: need ``ctx.shapes``)
E3xx  weights (reserved for the weight rules: need ``ctx.weights``)
W4xx  legacy formats and portability
W9xx  the linter itself (suppression comments)
I0xx  information that never fails a run (a file that is not a net)
====  =====================================================================
"""

from __future__ import annotations

import inspect
import re
from typing import ClassVar, Iterable, Iterator

from .diagnostic import SEVERITIES, Finding

CODE_RE = re.compile(r"^[EWI][0-9]{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
SEVERITY_BY_LETTER = {"E": "error", "W": "warning", "I": "info"}
DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Fix")
REQUIREMENTS = ("document", "network", "shapes", "weights")
"""What a rule may require: the parsed file (CST, comments, message as written), the upgraded
net and its IR, inferred shapes, loaded weights.  A rule whose requirement is unavailable (a file
that does not parse, no shape provider, no ``--weights``) is skipped for that file."""


class Rule:
    """Base class of lint rules; subclasses set the class attributes and implement ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    severity: ClassVar[str] = ""  # defaults to the code letter's severity
    requires: ClassVar[tuple] = ("network",)
    default: ClassVar[bool] = True  # selected when the user selects nothing
    runs_last: ClassVar[bool] = False  # after the other rules (suppression bookkeeping)
    any_file: ClassVar[bool] = False  # also runs on files that are not nets (see I001)

    def check(self, ctx) -> Iterable[Finding]:
        raise NotImplementedError(f"rule {self.code} has no check()")

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def section(cls, heading: str) -> str:
        """The text under one ``## heading`` of the docstring (heading matched by prefix)."""
        lines = cls.doc().splitlines()
        out: list[str] = []
        inside = False
        for line in lines:
            if line.startswith("## "):
                inside = line.startswith("## " + heading)
                continue
            if inside:
                out.append(line)
        return "\n".join(out).strip()

    def explain(self) -> str:
        """The rule's documentation as ``--explain`` prints it."""
        flags = "" if self.default else ", not selected by default"
        return (f"{self.code} {self.name} ({self.severity}{flags})\n\n{self.summary}\n\n"
                f"{self.doc()}\n")

    def __repr__(self) -> str:
        return f"<Rule {self.code} {self.name}>"


RULES: dict[str, Rule] = {}


def rule(cls: type) -> type:
    """Class decorator: validate a rule and register one instance under its code.

    Raises ``ValueError`` for a malformed rule or a code or name registered twice (as
    onnx2torch's converter registry does: a silent overwrite would hide a rule).
    """
    code = getattr(cls, "code", "")
    if not CODE_RE.match(code):
        raise ValueError(f"{cls.__name__}: rule code {code!r} must look like E101 / W401")
    if code in RULES:
        raise ValueError(f"rule code {code} is already registered by {type(RULES[code]).__name__}")
    if not NAME_RE.match(getattr(cls, "name", "")):
        raise ValueError(f"{code}: rule name {getattr(cls, 'name', '')!r} must be kebab-case")
    if any(r.name == cls.name for r in RULES.values()):
        raise ValueError(f"{code}: rule name {cls.name!r} is already used")
    if not getattr(cls, "summary", ""):
        raise ValueError(f"{code}: rule needs a one-line summary")
    if not cls.severity:
        cls.severity = SEVERITY_BY_LETTER[code[0]]
    if cls.severity not in SEVERITIES:
        raise ValueError(f"{code}: severity {cls.severity!r} is not one of {SEVERITIES}")
    missing = [h for h in DOC_SECTIONS if h not in cls.doc()]
    if missing:
        raise ValueError(f"{code}: docstring lacks section(s) {', '.join(missing)}")
    unknown = set(cls.requires) - set(REQUIREMENTS)
    if unknown:
        raise ValueError(f"{code}: unknown requirement(s) {sorted(unknown)}")
    RULES[code] = cls()
    return cls


def all_rules() -> list[Rule]:
    """Every registered rule (the built-in families are imported on first use), by code."""
    _load_builtin_rules()
    return [RULES[c] for c in sorted(RULES)]


def get_rule(code: str) -> Rule | None:
    _load_builtin_rules()
    return RULES.get(code.upper())


def codes_matching(selector: str) -> Iterator[str]:
    """Codes a selector names: ``ALL``, a full code, or a code prefix (``E1``, ``W``)."""
    selector = selector.upper()
    for code in sorted(RULES):
        if selector == "ALL" or code.startswith(selector):
            yield code


_LOADED = False


def _load_builtin_rules() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import rules  # noqa: F401  (imports every family module, filling RULES)


def rules_table_markdown() -> str:
    """The rule list as a Markdown table (for the README; regenerate rather than hand-edit)."""
    lines = ["| code | name | severity | summary |", "|---|---|---|---|"]
    for r in all_rules():
        opt = " (opt-in)" if not r.default else ""
        needs = [q for q in r.requires if q in ("shapes", "weights")]
        extra = f" (needs {', '.join(needs)})" if needs else ""
        lines.append(f"| {r.code} | `{r.name}` | {r.severity}{opt} | {r.summary}{extra} |")
    return "\n".join(lines) + "\n"
