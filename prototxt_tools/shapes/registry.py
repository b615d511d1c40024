"""Registry of Caffe shape rules: one small function per layer type, found by the type name.

A rule has the signature ``rule(layer, bottoms) -> LayerShapes`` where ``layer`` is a V2
``LayerParameter`` and ``bottoms`` the shapes (tuples of ints) of its bottom blobs, in order.  It
computes what Caffe's ``LayerSetUp()`` + ``Reshape()`` compute for that layer and raises
:class:`LayerShapeError` where Caffe would stop with a ``CHECK`` failure, or :class:`ShapeUnknown`
where the shape depends on something a prototxt does not say (a database, a Python class, the
number of detections at run time).  Rules are registered with :func:`shape_rule`; the README's
coverage table is generated from :data:`SHAPE_RULES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..errors import ShapeError

Shape = tuple  # tuple[int, ...]
FieldPath = tuple  # field path relative to the layer, e.g. ("convolution_param", "kernel_size", 0)


@dataclass
class LayerShapes:
    """What one layer produces: top shapes, parameter-blob shapes in Caffe's order, and MACs.

    ``params`` is ``None`` only when the parameter shapes cannot be told from the prototxt (a fork
    layer whose flavour is ambiguous); ``notes`` carries facts worth showing a user (e.g. Caffe's
    truncating division gave an output a floor would not).
    """

    tops: list
    params: Optional[list] = field(default_factory=list)
    macs: int = 0
    notes: list = field(default_factory=list)


class LayerShapeError(ShapeError):
    """A layer Caffe would refuse (a CHECK in LayerSetUp/Reshape, or Blob::Reshape).

    ``field`` is the field path inside the layer that is to blame (``()`` for the layer as a
    whole, ``("bottom", 1)`` for a bottom blob); ``code`` a short machine id such as
    ``"kernel-larger-than-input"``.  The driver fills ``layer_index``/``layer_name``.
    """

    def __init__(self, message: str, field: FieldPath = (), code: str = "invalid-layer",
                 **location):
        super().__init__(message, **location)
        self.field = tuple(field)
        self.code = code
        self.layer_index: int | None = None
        self.layer_name: str | None = None


class ShapeUnknown(Exception):
    """The shape cannot be known from the prototxt alone (never a guess).

    ``partial`` lists, per top, what is known: a tuple whose unknown dimensions are ``None``, or
    ``None`` when nothing is known about that top.  A partial top without ``None`` inside is fully
    known (e.g. the label top of a Data layer).
    """

    def __init__(self, reason: str, code: str = "unknown", partial: Sequence | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.partial = list(partial) if partial is not None else []
        self.layer_index: int | None = None
        self.layer_name: str | None = None

    def __str__(self) -> str:
        return f"unknown shape: {self.reason}"


ShapeFunction = Callable[..., LayerShapes]


@dataclass(frozen=True)
class ShapeRule:
    """A registered rule and the facts the coverage table shows."""

    types: tuple
    function: ShapeFunction
    bottoms: tuple  # (min, max) number of bottom blobs; max None = unbounded
    tops: tuple  # (min, max) number of top blobs
    equal_bottom_top: bool = False
    fork: str | None = None  # None = BVLC Caffe; else the fork whose source defines the layer
    restrictions: str | None = None

    @property
    def summary(self) -> str:
        doc = (self.function.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


SHAPE_RULES: dict[str, ShapeRule] = {}


def shape_rule(*types: str, bottoms: tuple = (1, 1), tops: tuple = (1, 1),
               equal_bottom_top: bool = False, fork: str | None = None,
               restrictions: str | None = None) -> Callable[[ShapeFunction], ShapeFunction]:
    """Register ``function`` for each Caffe type name; registering a name twice is a bug."""
    if not types:
        raise ValueError("shape_rule needs at least one layer type")

    def register(function: ShapeFunction) -> ShapeFunction:
        rule = ShapeRule(tuple(types), function, tuple(bottoms), tuple(tops), equal_bottom_top,
                         fork, restrictions)
        for name in types:
            if name in SHAPE_RULES:
                raise ValueError(f"shape rule for layer type {name!r} registered twice "
                                 f"({SHAPE_RULES[name].function.__qualname__} and "
                                 f"{function.__qualname__})")
            SHAPE_RULES[name] = rule
        return function

    return register


def coverage_markdown() -> str:
    """The README's coverage table: one row per rule (types sharing a rule share a row)."""
    rows = ["| Caffe layer type | defined by | shape rule | restrictions |",
            "|---|---|---|---|"]
    seen = set()
    for name in sorted(SHAPE_RULES, key=str.lower):
        rule = SHAPE_RULES[name]
        if id(rule) in seen:
            continue
        seen.add(id(rule))
        cells = [", ".join(f"`{t}`" for t in rule.types), rule.fork or "BVLC Caffe",
                 rule.summary, rule.restrictions or ""]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
