"""Coverage-guided fuzzing (atheris) of the binary caffemodel reader and its upgrade.

Property: ``read_caffemodel(bytes)`` either returns a model whose blobs have the shapes their
BlobProtos state, or raises CaffemodelError (with a byte offset inside the input); the binary
upgrade (``upgrade_caffemodel_net``) of what was read raises nothing but PrototxtToolsError.
No other exception, no hang (libFuzzer ``-timeout``), no allocation beyond ``-rss_limit_mb`` /
``-malloc_limit_mb`` (lying length prefixes must be refused before anything is allocated).

Run (10 minutes, seeded with the small corpus caffemodels on first run)::

    pip install atheris
    mkdir -p /tmp/fuzz-caffemodel
    python tests/fuzz/fuzz_caffemodel.py /tmp/fuzz-caffemodel -max_total_time=600 \
        -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1
"""

from __future__ import annotations

import sys
from math import prod

import atheris

from _common import REPO, corpus_glob, seed_directory, setup_path

setup_path()

with atheris.instrument_imports(include=["prototxt_tools"]):
    from prototxt_tools.caffemodel import CaffemodelError, read_caffemodel
    from prototxt_tools.errors import PrototxtToolsError
    from prototxt_tools.upgrade import upgrade_caffemodel_net


def check(data: bytes) -> None:
    try:
        model = read_caffemodel(data)
    except CaffemodelError as error:
        if error.offset is None or not 0 <= error.offset <= len(data):
            raise AssertionError(f"error offset {error.offset} outside the input") from error
        return
    for layer in model.layers:
        for blob in layer.blobs:
            if blob.size != prod(blob.shape):
                raise AssertionError("blob size differs from its shape")
    try:
        upgrade_caffemodel_net(model.net)
    except PrototxtToolsError:
        pass


def main() -> None:
    seeds = corpus_glob("**/*.caffemodel") + sorted((REPO / "samples").glob("*.caffemodel"))
    argv = seed_directory(sys.argv, seeds, max_bytes=65536)
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
