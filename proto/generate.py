"""Regenerate ``prototxt_tools/_proto/prototxt_tools_{caffe,onnx}_pb2.py`` and ``.pyi``.

Run from anywhere::

    python proto/generate.py            # rewrite the committed module
    python proto/generate.py --out DIR  # write into DIR instead (used by the tests)

The generator is pinned: grpcio-tools 1.76.0 bundles protoc with Python gencode
6.31.1, and gencode of that version runs on every protobuf >= 6.31.1 (our floor
in setup.cfg).  A newer generator would emit code that refuses to import on
older runtimes, so any other version is rejected instead of silently used.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

PINNED_GRPCIO_TOOLS = "1.76.0"
PROTO_DIR = Path(__file__).resolve().parent
PROTO_FILES = (PROTO_DIR / "prototxt_tools_caffe.proto", PROTO_DIR / "prototxt_tools_onnx.proto")
PACKAGE_DIR = PROTO_DIR.parent / "prototxt_tools" / "_proto"
OUTPUT_NAMES = tuple(f"{proto.stem}_pb2{suffix}" for proto in PROTO_FILES for suffix in (".py", ".pyi"))


class GeneratorError(RuntimeError):
    """The pinned generator is missing, has the wrong version, or failed."""


def installed_generator_version() -> str | None:
    """Version of the installed grpcio-tools distribution, or None if absent."""
    try:
        return metadata.version("grpcio-tools")
    except metadata.PackageNotFoundError:
        return None


def check_generator() -> None:
    """Raise GeneratorError unless exactly the pinned grpcio-tools is installed."""
    version = installed_generator_version()
    if version is None:
        raise GeneratorError(
            f"grpcio-tools is not installed; run: pip install grpcio-tools=={PINNED_GRPCIO_TOOLS}")
    if version != PINNED_GRPCIO_TOOLS:
        raise GeneratorError(
            f"grpcio-tools {version} is installed but the generated module must come from "
            f"{PINNED_GRPCIO_TOOLS}; run: pip install grpcio-tools=={PINNED_GRPCIO_TOOLS}")


def generate(out_dir: Path) -> list[Path]:
    """Compile the schema into out_dir and return the paths of the written files.

    ``-I`` is the proto directory itself, so the file registers in the
    descriptor pool as ``prototxt_tools_caffe.proto`` (not ``proto/...``), and
    likewise ``prototxt_tools_onnx.proto``.
    """
    check_generator()
    from grpc_tools import protoc  # imported late: only needed when generating

    out_dir.mkdir(parents=True, exist_ok=True)
    status = protoc.main([
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *map(str, PROTO_FILES),
    ])
    if status != 0:
        raise GeneratorError(f"protoc failed with status {status} on {PROTO_FILES}")
    return [out_dir / name for name in OUTPUT_NAMES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR,
                        help=f"output directory (default: {PACKAGE_DIR})")
    args = parser.parse_args(argv)
    try:
        written = generate(args.out)
    except GeneratorError as exc:
        print(f"generate.py: error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
