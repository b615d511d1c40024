"""Regenerate the README's tables from the registries, so they cannot drift from the code.

    python -m prototxt_tools._readme          # rewrite README.md in place
    python -m prototxt_tools._readme --check  # exit 1 if README.md is out of date (a test runs this)

Each generated section sits between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

README = Path(__file__).resolve().parents[1] / "README.md"


def _shape_coverage() -> str:
    from .shapes import coverage_markdown
    return coverage_markdown()


def _lint_rules() -> str:
    from .lint.registry import rules_table_markdown
    return rules_table_markdown()


SECTIONS: dict[str, Callable[[], str]] = {
    "layer-coverage": _shape_coverage,
    "lint-rules": _lint_rules,
}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README has no <!-- BEGIN {name} --> ... <!-- END {name} --> section")
        body = make().rstrip("\n") + "\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    fresh = render(current)
    if "--check" in argv:
        if fresh != current:
            print("README.md is out of date: run python -m prototxt_tools._readme", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
