"""A prototxt-tools plugin for a fork layer: ``Mish`` (x * tanh(softplus(x))).

Some Caffe forks add a ``Mish`` activation (for YOLOv4 ports) that BVLC Caffe does not have.
This module teaches prototxt-tools its shapes and its ONNX export; loading it also makes the
linter know the type (W101 "fork layer" instead of E106 "unknown layer type").

Use it without installing anything::

    prototxt-tools --plugin samples/plugin_example/prototxt_mish.py shapes mish_net.prototxt
    PYTHONPATH=samples/plugin_example prototxt-lint --plugin prototxt_mish mish_net.prototxt

or install this directory (``pip install samples/plugin_example``): its ``pyproject.toml``
registers the module in the ``prototxt_tools.plugins`` entry-point group, so every command
loads it.
"""

from prototxt_tools.plugins import LayerShapeError, LayerShapes, exporter, shape_rule

FORK = "Mish fork layer (mish_layer.cpp, prototxt-tools sample plugin)"


@shape_rule("Mish", fork=FORK)
def mish_shapes(layer, bottoms):
    """x * tanh(softplus(x)), element-wise; top = bottom (in place allowed)."""
    if len(bottoms[0]) == 0:
        raise LayerShapeError("Mish needs a bottom with at least one axis", ("bottom", 0))
    return LayerShapes([tuple(bottoms[0])])


@exporter("Mish", fork=FORK)
def mish_onnx(ctx, layer):
    """x * Tanh(Softplus(x)): three ONNX ops, any opset (ONNX's own Mish needs opset 18)."""
    x = ctx.bottom(layer)
    softplus = ctx.op("Softplus", x)
    ctx.op("Mul", x, ctx.op("Tanh", softplus), out=ctx.top(layer))
