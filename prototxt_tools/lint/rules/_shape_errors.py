"""The one table from shape errors to E2xx rule codes, and the base class of those rules.

The ``shapes`` provider (:mod:`prototxt_tools.lint.providers`) runs shape inference, which raises
a :class:`~prototxt_tools.shapes.registry.LayerShapeError` wherever Caffe's ``LayerSetUp`` /
``Reshape`` would stop with a failed CHECK.  Every such error gets exactly one rule code from
:data:`ERROR_RULES` (by layer type and the error's machine code), the rest E299, so no shape
error is silent.  Positions are the errors' field paths in the user's file.
"""

from __future__ import annotations

from typing import Iterator

from .. import providers  # noqa: F401  (registers the shapes provider these rules need)
from ..diagnostic import Finding
from ..registry import Rule
from ._windows import dims

WINDOW_TYPES = ("Convolution", "Deconvolution", "DepthwiseConvolution", "ConvolutionDepthwise",
                "Im2col", "Pooling", "SPP")

ERROR_RULES: dict[tuple, str] = {
    # (layer type, or None for any type; LayerShapeError.code) -> rule code
    (None, "kernel-larger-than-input"): "E201",
    (None, "nonpositive-output"): "E202",
    (None, "negative-dimension"): "E202",
    (None, "pad-not-less-than-kernel"): "E203",
    ("Eltwise", "shape-mismatch"): "E204",
    ("Concat", "shape-mismatch"): "E205",
    (None, "crop-out-of-bounds"): "E206",
    ("Crop", "wrong-axes"): "E206",
    ("Reshape", "count-mismatch"): "E207",
    ("Reshape", "negative-dimension"): "E207",
    (None, "group-mismatch"): "E209",
    (None, "conflicting-params"): "E210",
    (None, "missing-param"): "E210",
    **{(t, "invalid-param"): "E210" for t in WINDOW_TYPES},
    (None, "blob-too-large"): "E211",
    (None, "bad-blob-count"): "E212",
}
"""Which rule reports a shape error; anything not listed is E299's."""
CATCH_ALL = "E299"


def rule_code(layer_type: str, error_code: str) -> str:
    return (ERROR_RULES.get((layer_type, error_code)) or ERROR_RULES.get((None, error_code))
            or CATCH_ALL)


def shape_text(shape) -> str:
    return dims(shape) if shape else "a scalar"


class ShapeErrorRule(Rule):
    """Reports the shape errors :func:`rule_code` gives this rule's code."""

    requires = ("network", "shapes")

    def check(self, ctx) -> Iterator[Finding]:
        layers = ctx.network.layers
        for error in ctx.shapes.errors:
            layer = layers[error.layer_index]
            if rule_code(layer.type, error.code) == self.code:
                yield Finding(self.message(ctx, layer, error),
                              at=self.position(ctx, layer, error), layer=layer.name,
                              fix=self.fix(ctx, layer, error))

    def message(self, ctx, layer, error) -> str:
        return f"{layer.name}: {error.message}"

    def fix(self, ctx, layer, error):
        """The :class:`~prototxt_tools.fix.Fix` of this finding, if the rule has one."""
        return None

    def position(self, ctx, layer, error) -> tuple:
        """The error's field path; a repeated field named without an index (``pad``) points
        at its first occurrence."""
        path = tuple(error.field_path)
        smap = ctx.source_map
        if smap is not None and smap.get(path) is None and smap.get(path + (0,)) is not None:
            return path + (0,)
        return path


def bottom_shapes(ctx, layer) -> list:
    return [ctx.shapes.shape_of(b) for b in layer.bottoms]

