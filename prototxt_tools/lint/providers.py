"""The facts the shape and weight rules ask for: ``ctx.shapes`` and ``ctx.weights``.

Both are registered with :func:`~.context.provider` and run at most once per file, the first time
a rule asks.  The shapes and caffemodel packages are imported inside the providers, so a lint run
whose selected rules never ask pays for neither.

- ``shapes``: :class:`ShapeFacts`, the net's :func:`~prototxt_tools.shapes.network.infer_shapes`
  result (with the ``--input`` overrides of :class:`~.context.LintOptions` that name an input of
  this net) behind the small interface rules use (``shape_of(blob)``, ``params_of(layer)``).
- ``weights``: :class:`StoredWeights`, the ``--weights`` caffemodel's layer names, types and
  parameter-blob shapes after Caffe's own upgrade of the binary net (``UpgradeNetAsNeeded``), so
  V0/V1 models are matched by the names Caffe matches them by.  Values are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from .context import provider

LEGACY_DIMS = ("num", "channels", "height", "width")


# -- shapes ----------------------------------------------------------------------------------------

@dataclass
class ShapeFacts:
    """Inferred shapes of one linted net.

    ``result`` is the :class:`~prototxt_tools.shapes.network.NetworkShapes`; ``ignored_inputs``
    the ``--input`` names this net has no input for (their overrides were not applied).
    """

    result: object
    ignored_inputs: tuple = ()

    def shape_of(self, blob) -> tuple | None:
        """Shape of a :class:`~prototxt_tools.ir.BlobVersion`, None when unknown."""
        return self.result.shape(blob)

    def outcome(self, layer):
        """The :class:`~prototxt_tools.shapes.infer.LayerResult` of an IR layer (or None)."""
        return self.result.layers.get(layer)

    def params_of(self, layer) -> list | None:
        """Shapes of the parameter blobs Caffe creates for ``layer`` (in Caffe's order), or
        None when they cannot be told (shapes unknown, a failed layer, an ambiguous fork)."""
        outcome = self.outcome(layer)
        if outcome is None or outcome.shapes is None or outcome.shapes.params is None:
            return None
        return [tuple(p) for p in outcome.shapes.params]

    @property
    def errors(self) -> list:
        """LayerShapeErrors in layer order, each with ``field_path`` in the user's file."""
        return self.result.errors


@provider("shapes")
def provide_shapes(ctx) -> ShapeFacts:
    from ..shapes.network import infer_shapes
    network = ctx.network
    inputs = dict(getattr(ctx.options, "inputs", ()) or ())
    known = {b.name for b in network.inputs}
    ignored = tuple(sorted(name for name in inputs if name not in known))
    applied = {name: tuple(shape) for name, shape in inputs.items() if name in known}
    return ShapeFacts(infer_shapes(network, applied), ignored)


# -- weights ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredBlob:
    """A parameter blob as the caffemodel stores it: the shape ``Blob::FromProto`` reads, and
    whether it is written with the legacy ``num``/``channels``/``height``/``width`` fields."""

    shape: tuple
    legacy: bool = False

    @classmethod
    def of(cls, proto) -> "StoredBlob":
        if any(proto.HasField(f) for f in LEGACY_DIMS):
            return cls(tuple(getattr(proto, f) for f in LEGACY_DIMS), True)  # absent ones: 0
        return cls(tuple(proto.shape.dim))

    def fits(self, target: tuple) -> bool:
        """``Blob::ShapeEquals``: a legacy blob matches a target of at most 4 axes whose
        trailing axes equal it, missing leading axes counting as 1 (so a stored 1x1xMxN
        InnerProduct weight fits an (M, N) blob); otherwise the shapes must be equal."""
        target = tuple(target)
        if self.legacy:
            return len(target) <= 4 and (1,) * (4 - len(target)) + target == self.shape
        return target == self.shape

    @property
    def count(self) -> int:
        return prod(self.shape)


@dataclass
class StoredLayer:
    """One layer of the caffemodel (after Caffe's upgrade): name, type and blob shapes."""

    index: int
    name: str
    type: str
    blobs: list = field(default_factory=list)


@dataclass
class StoredWeights:
    """The ``--weights`` caffemodel as Caffe's ``Net::CopyTrainedLayersFrom`` sees it."""

    path: str
    format: str  # as written: V0, V1 or V2
    layers: list

    def named(self, name: str) -> list:
        """Every caffemodel layer called ``name``, in file order (Caffe copies each in turn)."""
        return [layer for layer in self.layers if layer.name == name]


@provider("weights")
def provide_weights(ctx) -> StoredWeights | None:
    """None without ``--weights``; raises CaffemodelError (kept by the context) when the file
    cannot be read."""
    path = ctx.options.weights
    if not path:
        return None
    return read_stored_weights(path)


def read_stored_weights(path: str) -> StoredWeights:
    from ..caffemodel import CaffemodelError, read_caffemodel
    from ..upgrade import upgrade_caffemodel_net
    try:
        model = read_caffemodel(path)
    except OSError as exc:  # a directory, no permission: a fact that cannot be had
        raise CaffemodelError(exc.strerror or str(exc), str(path)) from None
    net = upgrade_caffemodel_net(model.net).net
    layers = [StoredLayer(i, lp.name, lp.type, [StoredBlob.of(b) for b in lp.blobs])
              for i, lp in enumerate(net.layer)]
    return StoredWeights(str(path), model.format, layers)
