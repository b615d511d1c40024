"""``prototxt-tools onnx NET -o net.onnx``: export to ONNX, exactly as Caffe computes.

Weights come from ``--weights net.caffemodel`` (matched by layer name, as Caffe does) or are
seeded random ones (``--random-weights SEED``) for checking a net without trained weights.
``--verify`` runs the export in onnxruntime on seeded random input and compares each net output
with OpenCV's Caffe importer on the same prototxt and weights (exit 1 beyond ``--tolerance``).
``--optimize`` folds BatchNorm/Scale/Bias into the preceding layer and drops identities.
``--check`` runs onnx's full checker before the file is put in place (``--verify`` does too).
The model is written without importing onnx; onnx and onnxruntime are imported only for
``--check`` and ``--verify``.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import PrototxtToolsError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="the .prototxt net")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="CAFFEMODEL", help="trained weights")
    source.add_argument("--random-weights", metavar="SEED", type=int,
                        help="seeded random weights from the inferred parameter shapes")
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset (default 17; 13 to 21)")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="make the batch axis (axis 0) of every input and output symbolic")
    p.add_argument("--input", dest="overrides", action="append", default=[],
                   metavar="NAME=D1,D2,...", help="override a net input's shape (repeatable)")
    p.add_argument("--stage", action="append", default=[], help="net state stage (repeatable)")
    p.add_argument("--external-data", choices=("auto", "always", "never"), default="auto",
                   help="store weights in <output>.data (auto: when over 2 GiB)")
    p.add_argument("--optimize", action="store_true",
                   help="fold BatchNorm/Scale/Bias into the preceding Convolution/InnerProduct/"
                        "Deconvolution and drop identities (Split, Dropout)")
    p.add_argument("--check", action="store_true",
                   help="run onnx's full checker (schemas, types, shape inference) before "
                        "writing; needs the onnx package")
    p.add_argument("--verify", action="store_true",
                   help="check, then compare onnxruntime with OpenCV's Caffe importer on "
                        "random input")
    p.add_argument("--seed", type=int, default=0, help="seed of the --verify input (default 0)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest relative error --verify accepts (default 1e-4)")


def execute(args: argparse.Namespace) -> int:
    from ..export import DEFAULT_OPSET, export_onnx
    from ..fileio import refuse_overwriting
    from ..ir import NetState
    from ..load import load_net
    from ..progress import TerminalProgress
    from ..shapes.network import parse_input_override

    # the model, and its external data file when there is one, never replace an input
    refuse_overwriting(args.output, args.input, args.weights)
    refuse_overwriting(args.output + ".data", args.input, args.weights, what="-o's .data file")
    try:
        overrides = dict(parse_input_override(o) for o in args.overrides)
    except ValueError as exc:
        raise PrototxtToolsError(str(exc), args.input) from None
    loaded = load_net(args.input, NetState.of("TEST", stages=args.stage))
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    exported = export_onnx(loaded, args.weights, random_seed=args.random_weights,
                           opset=args.opset or DEFAULT_OPSET, dynamic_batch=args.dynamic_batch,
                           input_shapes=overrides, optimize=args.optimize)
    external = {"auto": None, "always": True, "never": False}[args.external_data]
    with TerminalProgress(f"writing {args.output}") as progress:
        written = exported.save(args.output, external_data=external, progress=progress,
                                check=args.check or args.verify)
    print(f"wrote {', '.join(written)} (opset {args.opset or DEFAULT_OPSET}, "
          f"{len(exported.model.graph.node)} nodes, {exported.weight_bytes:,} bytes of weights)")
    if not args.verify:
        return 0
    from ..export.verify import verify_export
    report = verify_export(args.output, loaded, exported, weights=args.weights,
                           seed=args.seed, tolerance=args.tolerance)
    sys.stdout.write(report.render())
    return 0 if report.ok else 1
