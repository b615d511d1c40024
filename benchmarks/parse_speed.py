"""Benchmark our prototxt reader against google.protobuf.text_format, in one process.

Measures (best of ``--repeat`` runs, wall time):

- ResNet-152 deploy from the corpus (6,775 lines, 98 kB): ``text_format.Parse`` vs our
  ``parse_prototxt`` (tokens + CST + message + source map), plus our stages alone;
- generated nets of 5,000 and 50,000 Convolution layers (7 lines each): the same two parsers, and
  microseconds per layer, which stays flat when the work is linear in the file size.

    python benchmarks/parse_speed.py              # ResNet-152 + 5,000 + 50,000 layers
    python benchmarks/parse_speed.py --layers 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import google.protobuf  # noqa: E402
from google.protobuf import text_format  # noqa: E402

from prototxt_tools.schema import NetParameter  # noqa: E402
from prototxt_tools.text import parse_document, parse_prototxt, to_message, tokenize  # noqa: E402

RESNET = (REPO.parent / "shared" / "corpus" / "KaimingHe_deep-residual-networks" / "prototxt"
          / "ResNet-152-deploy.prototxt")


def generated_net(layers: int) -> str:
    """A chain of ``layers`` Convolution layers, in the layout Caffe's examples use."""
    parts = ['name: "generated"\ninput: "x0"\ninput_shape { dim: 1 dim: 16 dim: 32 dim: 32 }\n']
    for i in range(1, layers + 1):
        parts.append(f'layer {{\n  name: "conv{i}"\n  type: "Convolution"\n  bottom: "x{i - 1}"\n'
                     f'  top: "x{i}"\n  convolution_param {{ num_output: 16 kernel_size: 3 '
                     f"pad: 1 }}\n}}\n")
    return "".join(parts)


def best_time(func, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def compare(label: str, text: str, repeat: int, stages: bool) -> None:
    protobuf = best_time(lambda: text_format.Parse(text, NetParameter()), repeat)
    ours = best_time(lambda: parse_prototxt(text), repeat)
    lines = text.count("\n")
    print(f"| {label} | {lines:,} | {protobuf:.3f} | {ours:.3f} | {ours / protobuf:.2f} |")
    if stages:
        document = parse_document(text)
        for name, func in [("tokenize", lambda: tokenize(text)),
                           ("tokenize + CST", lambda: parse_document(text)),
                           ("CST -> message + source map",
                            lambda: to_message(document, NetParameter))]:
            print(f"|   our {name} | | | {best_time(func, repeat):.3f} | |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, nargs="*", default=[5000, 50000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}, protobuf {google.protobuf.__version__} "
          f"({__import__('google.protobuf.internal.api_implementation', fromlist=['Type']).Type()}"
          f"), {platform.machine()}\n")
    print("| input | lines | text_format.Parse (s) | parse_prototxt (s) | ours / protobuf |")
    print("|---|---:|---:|---:|---:|")
    if RESNET.is_file():
        compare("ResNet-152 deploy", RESNET.read_text(), args.repeat, stages=True)
    per_layer = []
    for n in args.layers:
        text = generated_net(n)
        repeat = max(1, args.repeat if n <= 10000 else 2)
        ours = best_time(lambda: parse_prototxt(text), repeat)
        protobuf = best_time(lambda: text_format.Parse(text, NetParameter()), repeat)
        print(f"| generated, {n:,} layers | {text.count(chr(10)):,} | {protobuf:.3f} | {ours:.3f} "
              f"| {ours / protobuf:.2f} |")
        per_layer.append((n, ours / n * 1e6))
    if per_layer:
        print("\nour time per layer: " + ", ".join(f"{n:,} layers {us:.1f} us"
                                                    for n, us in per_layer))


if __name__ == "__main__":
    main()
