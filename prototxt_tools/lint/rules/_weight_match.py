"""Matching a caffemodel's layers to the net's, as ``Net::CopyTrainedLayersFrom`` does.

Caffe walks the caffemodel's layers in order; each is copied into the *first* layer of the net
with the same name (none: "Ignoring source layer", silently).  The blob counts must be equal
(``CHECK_EQ ... Incompatible number of blobs``) and every blob must pass ``Blob::ShapeEquals``
(else ``Cannot copy param j weights from layer 'x'; shape mismatch``).  A net layer no source
layer names keeps the values its fillers gave it -- without any message.

What the net expects per layer comes from shape inference (the parameter-blob shapes Caffe's
``LayerSetUp`` creates); where shapes are unknown (a Data layer upstream) only the count is
known, from the layer's own parameters (:func:`declared_blob_count`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...shapes.common import shape_string

PARAMETER_FREE = frozenset((
    "Input", "Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData",
    "ReLU", "Sigmoid", "TanH", "AbsVal", "BNLL", "ELU", "Power", "Exp", "Log", "Threshold",
    "Dropout", "Pooling", "LRN", "MVN", "Softmax", "Concat", "Slice", "Split", "Eltwise",
    "Flatten", "Reshape", "Crop", "Silence", "ArgMax", "Accuracy", "SoftmaxWithLoss",
    "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss", "InfogainLoss",
    "MultinomialLogisticLoss", "ContrastiveLoss", "Im2col", "SPP", "Tile", "Reduction"))
"""Types Caffe creates no parameter blobs for, whatever their shapes."""
RANDOM_FILLERS = frozenset(("gaussian", "uniform", "xavier", "msra", "positive_unitball"))


@dataclass
class Expected:
    """What the net makes of one layer: its parameter-blob shapes (None: unknown) and count
    (None: unknown)."""

    shapes: list | None
    count: int | None


def declared_blob_count(param) -> int | None:
    """How many parameter blobs ``LayerSetUp`` creates, from the layer's own parameters."""
    t, bottoms = param.type, len(param.bottom)
    if t in ("Convolution", "Deconvolution", "DepthwiseConvolution", "ConvolutionDepthwise"):
        return 1 + bool(param.convolution_param.bias_term)
    if t == "InnerProduct":
        return 1 + bool(param.inner_product_param.bias_term)
    if t == "Embed":
        return 1 + bool(param.embed_param.bias_term)
    if t == "BatchNorm":
        return 3
    if t == "PReLU":
        return 1
    if t == "Scale":
        return (bottoms == 1) + bool(param.scale_param.bias_term)
    if t == "Bias":
        return int(bottoms == 1)
    if t in PARAMETER_FREE:
        return 0
    return None


def expected(shapes, layer) -> Expected:
    params = shapes.params_of(layer)
    if params is not None:
        return Expected(params, len(params))
    return Expected(None, declared_blob_count(layer.param))


def targets(network) -> dict:
    """Layer name -> the first net layer of that name (the one Caffe copies into)."""
    out: dict = {}
    for layer in network.layers:
        out.setdefault(layer.name, layer)
    return out


def initial_values(param) -> str:
    """What a layer that gets no weights computes with, in words."""
    for name in ("convolution_param", "inner_product_param", "embed_param"):
        if param.HasField(name):
            block = getattr(param, name)
            if not block.HasField("weight_filler"):
                return "its weights are all zeros (no weight_filler)"
            kind = block.weight_filler.type
            if kind in RANDOM_FILLERS:
                return f"its weights are random numbers from the '{kind}' weight_filler"
            return f"its weights come from the '{kind}' weight_filler"
    if param.type == "BatchNorm":
        return "its mean, variance and scale factor are zeros (the output is not normalized)"
    return "its parameters keep their initial values"


def deliberately_filled(param) -> bool:
    """A layer whose filler *is* its intended value: FCN's fixed bilinear upsampling."""
    return param.convolution_param.weight_filler.type == "bilinear"


def blobs_text(shapes) -> str:
    return ", ".join("×".join(map(str, s)) if s else "scalar" for s in shapes) or "no blobs"


def caffe_copy_error(name: str, j: int, stored, target: tuple) -> str:
    return (f"Caffe stops: \"Cannot copy param {j} weights from layer '{name}'; shape mismatch. "
            f"Source param shape is {shape_string(stored.shape)}; target param shape is "
            f"{shape_string(target)}\"")


def effective(stored) -> tuple:
    """A legacy 4-D blob without the leading 1s legacy padding added (at least 2 axes)."""
    shape = tuple(stored.shape)
    while stored.legacy and len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    return shape


def reshape_hint(stored, target: tuple) -> str:
    """Why the counts agree but Caffe still refuses, and what to do."""
    src = effective(stored)
    if len(src) == 2 and len(target) >= 3 and src[0] == target[0]:
        return ("these are fully connected (InnerProduct) weights and this layer is a "
                "convolution: they are a reshape away -- convert them with net surgery "
                "(`prototxt-tools fix --fc-to-conv`), or rename the layer to learn it from "
                "scratch")
    if len(src) >= 3 and len(target) == 2 and src[0] == target[0]:
        return ("these are convolution weights and this layer is an InnerProduct: they are a "
                "reshape away (net surgery), or rename the layer to learn it from scratch")
    if len(src) == 2 and src == tuple(reversed(target)):
        return "the two axes are swapped: check inner_product_param's `transpose`"
    return "only the layout differs: reshape the weights (net surgery) or rename the layer"
