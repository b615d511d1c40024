"""Coverage-guided fuzzing (atheris) of the prototxt path: bytes -> parse -> upgrade -> IR ->
shapes -> lint, plus the printer round trip.

Property: for any input bytes, every stage either succeeds or raises a PrototxtToolsError
subclass (shape problems are LayerShapeError/ShapeUnknown facts, never exceptions out of
``infer_shapes``); the linter never raises; a net that parses prints (``format_message``) to
text that parses back to the same message.  Anything else is a crash (libFuzzer writes the
input to ``crash-*``; turn it into a regression test in tests/test_reliability_*.py).

Run (10 minutes, corpus seeded from ../shared/corpus prototxts on first run)::

    pip install atheris
    mkdir -p /tmp/fuzz-prototxt
    python tests/fuzz/fuzz_prototxt.py /tmp/fuzz-prototxt -max_total_time=600 \
        -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1

Add ``-jobs=2 -workers=2`` on a 2-core machine to fuzz with both cores.  ``FUZZ_LINT=0`` leaves
the linter out (about twice the executions per second for the parser, loader and shapes).
"""

from __future__ import annotations

import os
import sys

import atheris

from _common import corpus_glob, seed_directory, setup_path

setup_path()

with atheris.instrument_imports(include=["prototxt_tools"]):
    from prototxt_tools.errors import PrototxtToolsError
    from prototxt_tools.lint import default_codes
    from prototxt_tools.lint.runner import lint_source
    from prototxt_tools.load import load_net
    from prototxt_tools.shapes.network import infer_shapes
    from prototxt_tools.text import decode_prototxt, format_message, parse_prototxt

CODES = default_codes()
LINT = os.environ.get("FUZZ_LINT", "1") != "0"


def check(data: bytes) -> None:
    try:
        loaded = load_net("<fuzz>", text=data)
    except PrototxtToolsError:
        loaded = None
    if loaded is not None:
        # the printer's output is Caffe syntax that parses back to the same upgraded net
        again = parse_prototxt(format_message(loaded.net), "<printed>").message
        if again != loaded.net:
            raise AssertionError("format_message output does not parse back to the same net")
        infer_shapes(loaded.network)  # errors are facts in the result, never exceptions
    if LINT:  # every file gives diagnostics, never an exception (decoded as lint reads files)
        lint_source("<fuzz>", CODES, text=decode_prototxt(data)[0])


def main() -> None:
    seeds = corpus_glob("**/*.prototxt")
    argv = seed_directory(sys.argv, seeds, max_bytes=8192)
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
