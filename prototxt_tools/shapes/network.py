"""Shapes of a whole network IR: every blob version, every layer's parameters and MACs.

This is the driver the linter, ``shapes`` command and exporter use.  It walks the IR's layers in
order (bottoms are already resolved to blob versions), runs each layer's rule, and records
problems with the field path in the user's file (``layer.origin`` + the rule's field), so they
can be shown at the right line.  It never stops at the first problem: a failed or unknown layer
makes its tops unknown and the walk goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..ir import BlobVersion, Layer, Network
from .infer import LayerResult, infer_layer
from .common import check_blob_shape
from .registry import LayerShapeError, LayerShapes, ShapeUnknown


@dataclass
class NetworkShapes:
    """Result of :func:`infer_shapes`.

    ``blobs`` maps each BlobVersion to its shape (``None`` when unknown); ``layers`` maps each IR
    Layer to its :class:`LayerResult`; ``errors`` lists the LayerShapeErrors, each with
    ``field_path`` set to the path in the user's file.
    """

    network: Network
    blobs: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    def __repr__(self) -> str:
        errors = f", {len(self.errors)} error{'s' * (len(self.errors) != 1)}" if self.errors else ""
        return (f"<NetworkShapes {self.network.name!r}: {len(self.network.layers)} layers, "
                f"{self.total_params:,} params, {self.total_macs:,} MACs{errors}>")

    def shape(self, blob: BlobVersion) -> tuple | None:
        return self.blobs.get(blob)

    def by_name(self) -> dict:
        """Blob name -> final shape, as Caffe's blob table (in-place versions collapsed)."""
        return {b.name: self.blobs.get(b) for b in self.network.blobs}

    def param_count(self, layer: Layer) -> int:
        result = self.layers.get(layer)
        if result is None or result.shapes is None or not result.shapes.params:
            return 0
        return sum(_count(p) for p in result.shapes.params)

    @property
    def total_params(self) -> int:
        return sum(self.param_count(layer) for layer in self.network.layers)

    @property
    def total_macs(self) -> int:
        return sum(r.shapes.macs for r in self.layers.values() if r.shapes is not None)


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def parse_input_override(text: str) -> tuple[str, tuple]:
    """``data=1,3,384,384`` -> ("data", (1, 3, 384, 384)); raises ValueError when malformed."""
    name, sep, dims = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"input override {text!r} is not NAME=D1,D2,...")
    parts = dims.replace("x", ",").split(",")
    if dims.strip() and any(not d.strip() for d in parts):
        # "1,3,,8" or "1,3,x,8": a dimension left out must not silently drop an axis
        raise ValueError(f"input override {text!r}: a dimension is missing between separators")
    try:
        shape = tuple(int(d) for d in parts if d.strip())
    except ValueError:
        raise ValueError(f"input override {text!r}: dimensions must be integers") from None
    if not shape or any(d < 0 for d in shape):
        raise ValueError(f"input override {text!r}: give one or more non-negative dimensions")
    return name.strip(), shape


def infer_shapes(network: Network, inputs: Mapping[str, tuple] | None = None) -> NetworkShapes:
    """Shapes of every blob of ``network``; ``inputs`` overrides the shape of named net inputs."""
    inputs = dict(inputs or {})
    known_inputs = {b.name for b in network.inputs}
    unknown_names = sorted(set(inputs) - known_inputs)
    if unknown_names:
        from ..errors import ShapeError
        raise ShapeError(f"--input names {', '.join(unknown_names)}, which is not a net input "
                         f"(net inputs: {', '.join(sorted(known_inputs)) or 'none'})",
                         network.source_map.path if network.source_map else None)
    result = NetworkShapes(network)
    for layer in network.layers:
        outcome = _run(layer, result, inputs)
        result.layers[layer] = outcome
        tops = _top_shapes(outcome, len(layer.tops))
        for blob, shape in zip(layer.tops, tops):
            result.blobs[blob] = shape
    return result


def _run(layer: Layer, result: NetworkShapes, inputs: Mapping[str, tuple]) -> LayerResult:
    outcome = LayerResult(layer.index, layer.name, layer.type)
    if layer.type == "Input" and any(t.name in inputs for t in layer.tops):
        return _overridden_input(layer, outcome, inputs, result)
    if len(layer.bottoms) != len(layer.param.bottom):
        outcome.unknown = ShapeUnknown("a bottom is not produced by any earlier layer",
                                       code="unknown-input")
        return outcome
    shapes = [result.blobs.get(b) for b in layer.bottoms]
    if any(s is None for s in shapes):
        missing = next(b.name for b, s in zip(layer.bottoms, shapes) if s is None)
        outcome.unknown = ShapeUnknown(f"bottom {missing!r} has an unknown shape", code="unknown-input")
        return outcome
    try:
        outcome.shapes = infer_layer(layer.param, shapes)
    except ShapeUnknown as unknown:
        outcome.unknown = unknown
    except LayerShapeError as error:
        _record_error(error, layer, outcome, result)
    return outcome


def _record_error(error: LayerShapeError, layer: Layer, outcome: LayerResult,
                  result: NetworkShapes) -> None:
    """Attach a rule's error to its layer, with the field path in the user's file."""
    error.layer_index, error.layer_name = layer.index, layer.name
    error.field_path = tuple(layer.origin) + error.field
    outcome.error = error
    result.errors.append(error)


def _overridden_input(layer: Layer, outcome: LayerResult, inputs: Mapping[str, tuple],
                      result: NetworkShapes) -> LayerResult:
    """An Input layer whose shape the user overrides (``--input data=1,3,384,384``)."""
    try:
        declared = list(infer_layer(layer.param, []).tops)
    except (ShapeUnknown, LayerShapeError):
        declared = [None] * len(layer.tops)
    tops = [tuple(inputs[t.name]) if t.name in inputs else declared[i] for i, t in enumerate(layer.tops)]
    try:
        for i, top in enumerate(tops):
            if top is not None:
                check_blob_shape(top, f"input {layer.tops[i].name!r}", ("top", i))
    except LayerShapeError as error:
        _record_error(error, layer, outcome, result)
        return outcome
    if any(t is None for t in tops):
        outcome.unknown = ShapeUnknown("an Input top without a declared or overridden shape",
                                       code="runtime-input", partial=tops)
    else:
        outcome.shapes = LayerShapes(tops)
    return outcome


def _top_shapes(outcome: LayerResult, n: int) -> list:
    if outcome.shapes is not None:
        tops = [tuple(t) for t in outcome.shapes.tops]
    elif outcome.unknown is not None:
        tops = [tuple(p) if p is not None and None not in p else None for p in outcome.unknown.partial]
    else:
        tops = []
    return (tops + [None] * n)[:n]
