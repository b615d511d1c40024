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


def _support_matrix() -> str:
    """One row per Caffe layer type: does shape inference know it, does ONNX export take it."""
    from .export import EXPORTERS, REFUSED
    from .shapes import SHAPE_RULES

    rows = ["| Caffe layer type | defined by | shapes | ONNX export | restrictions |",
            "|---|---|:---:|:---:|---|"]
    for name in sorted(set(SHAPE_RULES) | set(EXPORTERS), key=str.lower):
        shape, export = SHAPE_RULES.get(name), EXPORTERS.get(name)
        fork = (shape and shape.fork) or (export and export.fork) or "BVLC Caffe"
        notes = []
        if shape and shape.restrictions:
            notes.append(f"shapes: {shape.restrictions}")
        if export and export.restrictions:
            notes.append(f"ONNX: {export.restrictions}")
        elif not export and name in REFUSED:
            notes.append(f"ONNX refuses: {REFUSED[name].split(';')[0]}")
        cells = [f"`{name}`", fork, "yes" if shape else "no", "yes" if export else "refused",
                 "; ".join(notes)]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def _onnx_coverage() -> str:
    from .export import supported_markdown
    return supported_markdown()


def _lint_rules() -> str:
    from .lint.registry import rules_table_markdown
    return rules_table_markdown()


SECTIONS: dict[str, Callable[[], str]] = {
    "support-matrix": _support_matrix,
    "layer-coverage": _shape_coverage,
    "onnx-coverage": _onnx_coverage,
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
