"""Which rules run: ``select`` / ``extend-select`` / ``ignore`` with code prefixes, as in ruff.

A selector is ``ALL``, a full code (``E101``) or a prefix (``E1``, ``W``).  Settings come in
levels, lowest priority first (the config file, then the command line, then a per-file ignore);
at each level a ``select`` replaces the choice so far, ``extend-select`` adds and ``ignore``
removes.  Within one level the most specific selector decides a code, and ``ignore`` wins a tie:
``--select E --ignore E101`` keeps every E rule but E101, ``--ignore E1 --select E101`` keeps
E101.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import PrototxtToolsError


class SelectionError(PrototxtToolsError):
    """A selector names no rule (a typo in --select / --ignore or the config)."""


@dataclass(frozen=True)
class SelectionLevel:
    select: tuple | None = None  # None: keep the lower levels' choice
    extend_select: tuple = ()
    ignore: tuple = ()


@dataclass
class Selection:
    """Selection levels in priority order; ``resolve`` gives the selected codes."""

    levels: list = field(default_factory=list)

    def resolve(self, codes: Iterable[str], defaults: Iterable[str]) -> frozenset:
        selected = set(defaults)
        codes = list(codes)
        for level in self.levels:
            selected = _apply(level, codes, selected)
        return frozenset(selected)

    def with_level(self, level: SelectionLevel) -> "Selection":
        return Selection(self.levels + [level])


def parse_selectors(values: Iterable[str] | str | None, known: Iterable[str],
                    where: str = "command line") -> tuple:
    """Split comma/space-separated selectors, upper-case them and check each names a rule."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    known = list(known)
    out = []
    for value in values:
        for sel in re.split(r"[\s,]+", str(value).strip()):
            if not sel:
                continue
            sel = sel.upper()
            if sel != "ALL" and not any(code.startswith(sel) for code in known):
                raise SelectionError(f"unknown rule selector {sel!r} ({where}); see "
                                     "`prototxt-lint --list-rules`")
            out.append(sel)
    return tuple(out)


def _specificity(selector: str) -> int:
    return 0 if selector == "ALL" else len(selector)


def _matches(selector: str, code: str) -> bool:
    return selector == "ALL" or code.startswith(selector)


def _apply(level: SelectionLevel, codes: list, selected: set) -> set:
    on = list(level.extend_select) + list(level.select or ())
    out = set()
    for code in codes:
        best_on = max((_specificity(s) for s in on if _matches(s, code)), default=-1)
        best_off = max((_specificity(s) for s in level.ignore if _matches(s, code)), default=-1)
        if best_off >= 0 and best_off >= best_on:
            continue
        if best_on >= 0 or (level.select is None and code in selected):
            out.add(code)
    return out
