"""Caffe-exact shape inference: one rule per layer type, see :mod:`.registry`.

Importing the package registers every rule (the rule modules fill ``SHAPE_RULES`` as they load).
"""

from . import conv, data, dense, detection, elementwise, losses, pooling, structure  # noqa: F401
from .infer import LayerResult, NetShapes, infer_layer, infer_net, infer_net_shapes
from .registry import (SHAPE_RULES, LayerShapeError, LayerShapes, ShapeRule, ShapeUnknown,
                       coverage_markdown, shape_rule)

__all__ = ["SHAPE_RULES", "LayerResult", "LayerShapeError", "LayerShapes", "NetShapes",
           "ShapeRule", "ShapeUnknown", "coverage_markdown", "infer_layer", "infer_net",
           "infer_net_shapes", "shape_rule"]
