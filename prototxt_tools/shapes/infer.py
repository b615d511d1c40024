"""Running the shape rules: one layer (:func:`infer_layer`) or a whole net in file order.

The net driver is deliberately simple — it takes already phase-filtered V2 layers and the net
input shapes, tracks blobs by name (an in-place top replaces its bottom's shape), and stops at
the first error unless asked to collect them.  The network IR builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .common import check_blob_shape
from .registry import SHAPE_RULES, LayerShapeError, LayerShapes, ShapeRule, ShapeUnknown


def _check_counts(rule: ShapeRule, layer, n_bottoms: int) -> None:
    """Layer::CheckBlobCounts (before LayerSetUp)."""
    n_tops = len(layer.top)
    for what, n, (low, high), field in (("bottom", n_bottoms, rule.bottoms, ("bottom",)),
                                        ("top", n_tops, rule.tops, ("top",))):
        if low == high and n != low:
            raise LayerShapeError(f"{layer.type} Layer takes {low} {what} blob(s); got {n}",
                                  field, "bad-blob-count")
        if n < low:
            raise LayerShapeError(f"{layer.type} Layer takes at least {low} {what} blob(s); "
                                  f"got {n}", field, "bad-blob-count")
        if high is not None and n > high:
            raise LayerShapeError(f"{layer.type} Layer takes at most {high} {what} blob(s); "
                                  f"got {n}", field, "bad-blob-count")
    if rule.equal_bottom_top and n_bottoms != n_tops:
        raise LayerShapeError(f"{layer.type} Layer takes as many tops as bottoms ({n_bottoms} "
                              f"vs {n_tops})", ("top",), "bad-blob-count")


def infer_layer(layer, bottoms: Iterable[tuple]) -> LayerShapes:
    """Shapes of one layer's tops and parameter blobs from its bottom shapes.

    Raises LayerShapeError where Caffe would fail, ShapeUnknown where the prototxt does not
    determine the shape (including layer types without a rule).
    """
    rule = SHAPE_RULES.get(layer.type)
    if rule is None:
        raise ShapeUnknown(f"no shape rule for layer type {layer.type!r}",
                           code="unsupported-type", partial=[None] * len(layer.top))
    bottoms = [tuple(int(d) for d in b) for b in bottoms]
    _check_counts(rule, layer, len(bottoms))
    result = rule.function(layer, bottoms)
    for i, top in enumerate(result.tops):
        check_blob_shape(top, f"top[{i}]", ("top", min(i, max(len(layer.top) - 1, 0))))
    for i, blob in enumerate(result.params or []):
        check_blob_shape(blob, f"parameter blob {i}")
    return result


@dataclass
class LayerResult:
    """What the driver found for one layer: shapes, or why they are unknown, or the error."""

    index: int
    name: str
    type: str
    shapes: LayerShapes | None = None
    unknown: ShapeUnknown | None = None
    error: LayerShapeError | None = None


@dataclass
class NetShapes:
    """Final shape of every blob name (None = unknown) and the per-layer results in order."""

    blobs: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    @property
    def macs(self) -> int:
        return sum(r.shapes.macs for r in self.layers if r.shapes is not None)


def _attach(exc, index: int, layer):
    exc.layer_index = index
    exc.layer_name = layer.name
    return exc


def _run_layer(index: int, layer, blobs: dict) -> LayerResult:
    result = LayerResult(index, layer.name, layer.type)
    shapes = []
    for i, name in enumerate(layer.bottom):
        if name not in blobs:
            raise _attach(LayerShapeError(f"layer {layer.name!r} reads blob {name!r}, which no "
                                          f"earlier layer or net input produces",
                                          ("bottom", i), "undefined-bottom"), index, layer)
        if blobs[name] is None:
            result.unknown = _attach(ShapeUnknown(f"bottom {name!r} has an unknown shape",
                                                  code="unknown-input"), index, layer)
            return result
        shapes.append(blobs[name])
    try:
        result.shapes = infer_layer(layer, shapes)
    except ShapeUnknown as unknown:
        result.unknown = _attach(unknown, index, layer)
    except LayerShapeError as error:
        raise _attach(error, index, layer)
    return result


def _record_tops(layer, result: LayerResult, blobs: dict) -> None:
    if result.shapes is not None:
        tops = list(result.shapes.tops)
    elif result.unknown is not None:
        tops = [p if p is not None and None not in p else None for p in result.unknown.partial]
    else:
        tops = []
    for i, name in enumerate(layer.top):
        blobs[name] = tuple(tops[i]) if i < len(tops) and tops[i] is not None else None


def infer_net(layers: Iterable, input_shapes: Mapping[str, tuple],
              stop_on_error: bool = True) -> NetShapes:
    """Every layer in file order; with stop_on_error=False errors are collected and the failed
    layer's tops become unknown so later layers still get checked."""
    net = NetShapes(blobs={name: tuple(shape) for name, shape in input_shapes.items()})
    for index, layer in enumerate(layers):
        try:
            result = _run_layer(index, layer, net.blobs)
        except LayerShapeError as error:
            if stop_on_error:
                raise
            net.errors.append(error)
            result = LayerResult(index, layer.name, layer.type, error=error)
        net.layers.append(result)
        _record_tops(layer, result, net.blobs)
    return net


def infer_net_shapes(layers: Iterable, input_shapes: Mapping[str, tuple]) -> dict:
    """Blob name -> final shape (None where unknown); raises the first LayerShapeError."""
    return infer_net(layers, input_shapes).blobs
