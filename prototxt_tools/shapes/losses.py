"""Losses, Accuracy, ArgMax and Reduction: layers that reduce their input.

Loss tops are scalars, shape ``()`` (LossLayer::Reshape); Caffe adds a top itself when a loss
layer lists none (AutoTopBlobs), so these rules always return at least one top.  MACs are 0.
"""

from __future__ import annotations

from .common import canonical_axis, count, legacy4, require, shape_string, top_count
from .registry import LayerShapes, shape_rule


def loss_base(layer, bottoms) -> None:
    """LossLayer::Reshape: data and label share the first dimension."""
    data, label = bottoms[0], bottoms[1]
    require(len(data) >= 1 and len(label) >= 1 and data[0] == label[0],
            f"The data and label should have the same first dimension: {shape_string(data)} vs "
            f"{shape_string(label)}", ("bottom", 1), "shape-mismatch")


def _labels_match(layer, bottoms, axis_value: int, axis_field: tuple) -> int:
    """outer * inner predictions must equal the label count; returns the class axis."""
    data, label = bottoms[0], bottoms[1]
    axis = canonical_axis(data, axis_value, axis_field)
    predictions = count(data, 0, axis) * count(data, axis + 1)
    require(predictions == count(label), f"Number of labels must match number of predictions: "
            f"{shape_string(data)} with class axis {axis} has {predictions} predictions, the "
            f"label {shape_string(label)} has {count(label)}", ("bottom", 1), "count-mismatch")
    return axis


@shape_rule("SoftmaxWithLoss", bottoms=(2, 2), tops=(0, 2))
def softmax_with_loss(layer, bottoms):
    """Softmax + multinomial log loss along softmax_param.axis; optional top[1] = probabilities."""
    loss_base(layer, bottoms)
    _labels_match(layer, bottoms, layer.softmax_param.axis, ("softmax_param", "axis"))
    tops = [()] + [tuple(bottoms[0])] * (top_count(layer) - 1)
    return LayerShapes(tops)


@shape_rule("InfogainLoss", bottoms=(2, 3), tops=(0, 2))
def infogain_loss(layer, bottoms):
    """Softmax + infogain-weighted log loss; H from bottom[2] (num_labels^2) or a file."""
    loss_base(layer, bottoms)
    param = layer.infogain_loss_param
    axis_value = getattr(param, "axis", 1)
    axis = _labels_match(layer, bottoms, axis_value, ("infogain_loss_param", "axis"))
    labels = bottoms[0][axis]
    if len(bottoms) == 3:
        require(count(bottoms[2]) == labels * labels, f"infogain matrix {shape_string(bottoms[2])}"
                f" must have num_labels^2 = {labels * labels} elements", ("bottom", 2),
                "count-mismatch")
    tops = [()] + [tuple(bottoms[0])] * (top_count(layer) - 1)
    return LayerShapes(tops)


@shape_rule("EuclideanLoss", bottoms=(2, 2), tops=(0, 1))
def euclidean_loss(layer, bottoms):
    """Sum of squared differences / 2N; inputs must agree beyond the first axis."""
    loss_base(layer, bottoms)
    require(count(bottoms[0], 1) == count(bottoms[1], 1), "Inputs must have the same dimension.",
            ("bottom", 1), "count-mismatch")
    return LayerShapes([()])


@shape_rule("SigmoidCrossEntropyLoss", bottoms=(2, 2), tops=(0, 1))
def sigmoid_cross_entropy_loss(layer, bottoms):
    """Sigmoid + cross-entropy; inputs must have the same count."""
    loss_base(layer, bottoms)
    require(count(bottoms[0]) == count(bottoms[1]), "SIGMOID_CROSS_ENTROPY_LOSS layer inputs must "
            "have the same count.", ("bottom", 1), "count-mismatch")
    return LayerShapes([()])


@shape_rule("MultinomialLogisticLoss", bottoms=(2, 2), tops=(0, 1))
def multinomial_logistic_loss(layer, bottoms):
    """Log loss on probabilities; the label is (N, 1, 1, 1) by legacy accessors."""
    loss_base(layer, bottoms)
    _, c, h, w = legacy4(bottoms[1], ("bottom", 1))
    require((c, h, w) == (1, 1, 1), f"label must be N x 1 x 1 x 1; got "
            f"{shape_string(bottoms[1])}", ("bottom", 1), "shape-mismatch")
    return LayerShapes([()])


@shape_rule("HingeLoss", bottoms=(2, 2), tops=(0, 1))
def hinge_loss(layer, bottoms):
    """One-vs-all hinge loss (L1 or L2)."""
    loss_base(layer, bottoms)
    return LayerShapes([()])


@shape_rule("ContrastiveLoss", bottoms=(3, 3), tops=(0, 1))
def contrastive_loss(layer, bottoms):
    """Siamese loss on two (N, C, 1, 1) features and an (N, 1, 1, 1) similarity label."""
    loss_base(layer, bottoms)
    a, b, y = (legacy4(s, ("bottom", i)) for i, s in enumerate(bottoms))
    require(a[1] == b[1], "the two features must have the same channels", ("bottom", 1),
            "shape-mismatch")
    for i, shape in enumerate((a, b)):
        require(shape[2:] == (1, 1), "features must be N x C x 1 x 1", ("bottom", i),
                "shape-mismatch")
    require(y[1:] == (1, 1, 1), "the similarity label must be N x 1 x 1 x 1", ("bottom", 2),
            "shape-mismatch")
    return LayerShapes([()])


@shape_rule("Accuracy", bottoms=(2, 2), tops=(1, 2))
def accuracy(layer, bottoms):
    """Top-k accuracy: scalar (); optional second top has per-class accuracy (num_labels,)."""
    param = layer.accuracy_param
    data, label = bottoms
    require(count(label) > 0 and param.top_k <= count(data) // count(label),
            "top_k must be less than or equal to the number of classes.",
            ("accuracy_param", "top_k"), "invalid-param")
    axis = _labels_match(layer, bottoms, param.axis, ("accuracy_param", "axis"))
    tops = [()] + [(data[axis],)] * (len(layer.top) - 1)
    return LayerShapes(tops)


@shape_rule("ArgMax")
def argmax(layer, bottoms):
    """Indices (and values) of the top_k maxima: per axis, or over each item's flattened data."""
    param = layer.argmax_param
    bottom = bottoms[0]
    require(param.top_k >= 1, "top k must not be less than 1.", ("argmax_param", "top_k"),
            "invalid-param")
    if param.HasField("axis"):
        axis = canonical_axis(bottom, param.axis, ("argmax_param", "axis"))
        require(param.top_k <= bottom[axis], "top_k must be less than or equal to the dimension "
                "of the axis.", ("argmax_param", "top_k"), "invalid-param")
        top = list(bottom)
        top[axis] = param.top_k
        return LayerShapes([tuple(top)])
    require(param.top_k <= count(bottom, 1), "top_k must be less than or equal to the dimension "
            "of the flattened bottom blob per instance.", ("argmax_param", "top_k"),
            "invalid-param")
    top = [1] * max(len(bottom), 3)
    top[0] = bottom[0]
    top[2] = param.top_k
    if param.out_max_val:
        top[1] = 2
    return LayerShapes([tuple(top)])


@shape_rule("Reduction")
def reduction(layer, bottoms):
    """SUM/ASUM/SUMSQ/MEAN over all axes from axis on: top keeps shape[:axis] (default axis 0)."""
    bottom = bottoms[0]
    axis = canonical_axis(bottom, layer.reduction_param.axis, ("reduction_param", "axis"))
    return LayerShapes([tuple(bottom[:axis])])
