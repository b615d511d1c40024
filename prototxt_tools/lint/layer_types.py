"""Facts about layer types: which ones BVLC Caffe knows, which forks add which, what they are for.

BVLC_TYPES is the layer registry of BVLC Caffe master (``REGISTER_LAYER_CLASS`` /
``REGISTER_LAYER_CREATOR`` in ``src/caffe/layers/*.cpp`` and ``layer_factory.cpp``); ``ImageData``
and ``WindowData`` need a build with OpenCV, ``Python`` one with ``WITH_PYTHON_LAYER``.
FORK_TYPES maps layer types of well-known Caffe forks to the fork(s) that register them (from the
forks' own sources; the corpus ``fork_protos/`` holds their schemas).
"""

from __future__ import annotations

BVLC_TYPES = frozenset({
    "AbsVal", "Accuracy", "ArgMax", "BNLL", "BatchNorm", "BatchReindex", "Bias", "Clip", "Concat",
    "ContrastiveLoss", "Convolution", "Crop", "Data", "Deconvolution", "Dropout", "DummyData",
    "ELU", "Eltwise", "Embed", "EuclideanLoss", "Exp", "Filter", "Flatten", "HDF5Data",
    "HDF5Output", "HingeLoss", "Im2col", "ImageData", "InfogainLoss", "InnerProduct", "Input",
    "LRN", "LSTM", "LSTMUnit", "Log", "MVN", "MemoryData", "MultinomialLogisticLoss", "PReLU",
    "Parameter", "Pooling", "Power", "Python", "RNN", "ReLU", "Reduction", "Reshape", "SPP",
    "Scale", "Sigmoid", "SigmoidCrossEntropyLoss", "Silence", "Slice", "Softmax",
    "SoftmaxWithLoss", "Split", "Swish", "TanH", "Threshold", "Tile", "WindowData",
})

SSD = "SSD (weiliu89/caffe)"
FASTER_RCNN = "Fast/Faster R-CNN (rbgirshick/caffe-fast-rcnn)"
PSPNET = "PSPNet (hszhao/PSPNet)"
SEGNET = "SegNet (alexgkendall/caffe-segnet)"
MOBILENET_YOLO = "MobileNet-YOLO (eric612/MobileNet-YOLO)"
DEEPLAB = "DeepLab (deeplab-public)"
DEPTHWISE = "DepthwiseConvolution (yonghenglh6/DepthwiseConvolution)"
SHUFFLENET = "ShuffleNet (farmingyard/ShuffleNet)"
SENET = "SENet (hujie-frank/SENet)"
RFCN = "R-FCN (daijifeng001/caffe-rfcn)"

FORK_TYPES: dict[str, tuple[str, ...]] = {
    # SSD
    "AnnotatedData": (SSD, MOBILENET_YOLO), "DetectionEvaluate": (SSD, MOBILENET_YOLO),
    "DetectionOutput": (SSD, MOBILENET_YOLO), "MultiBoxLoss": (SSD, MOBILENET_YOLO),
    "Normalize": (SSD, MOBILENET_YOLO), "Permute": (SSD, MOBILENET_YOLO),
    "PriorBox": (SSD, MOBILENET_YOLO), "SmoothL1Loss": (SSD, FASTER_RCNN), "VideoData": (SSD,),
    # Fast/Faster R-CNN
    "ROIPooling": (FASTER_RCNN,),
    # R-FCN
    "PSROIPooling": (RFCN,),
    # PSPNet / DeepLab
    "Interp": (PSPNET, DEEPLAB), "BN": (PSPNET, SEGNET), "BiasChannel": (PSPNET, DEEPLAB),
    "AdaptiveBiasChannel": (PSPNET, DEEPLAB), "DenseCRF": (PSPNET, DEEPLAB),
    "DomainTransform": (PSPNET, DEEPLAB), "MatRead": (PSPNET, DEEPLAB),
    "MatWrite": (PSPNET, DEEPLAB), "SegAccuracy": (PSPNET, DEEPLAB),
    "UniqueLabel": (PSPNET, DEEPLAB), "ImageSegData": (PSPNET, DEEPLAB),
    # SegNet
    "Upsample": (SEGNET, MOBILENET_YOLO), "DenseImageData": (SEGNET,),
    # MobileNet-YOLO
    "DepthwiseConvolution": (MOBILENET_YOLO,), "ReLU6": (MOBILENET_YOLO,),
    "Yolov3": (MOBILENET_YOLO,), "Yolov3DetectionOutput": (MOBILENET_YOLO,),
    "YoloDetectionOutput": (MOBILENET_YOLO,), "RegionLoss": (MOBILENET_YOLO,),
    "Reorg": (MOBILENET_YOLO,), "YoloSeg": (MOBILENET_YOLO,),
    "SegmentationEvaluate": (MOBILENET_YOLO,), "GaussianYolov3": (MOBILENET_YOLO,),
    "HardSigmoid": (MOBILENET_YOLO,), "AssistedExcitation": (MOBILENET_YOLO,),
    # others whose parameters the schema carries
    "ConvolutionDepthwise": (DEPTHWISE,), "ShuffleChannel": (SHUFFLENET,), "Axpy": (SENET,),
}

DATA_TYPES = frozenset({
    "Data", "ImageData", "HDF5Data", "WindowData", "MemoryData", "AnnotatedData", "VideoData",
    "DenseImageData", "ImageSegData",
})
"""Layers that read a training/test database (not ``Input``, ``DummyData`` or ``Parameter``)."""

TRAINING_ONLY_TYPES = frozenset({"Accuracy", "SegAccuracy", "DetectionEvaluate",
                                 "SegmentationEvaluate"})
"""Layers (besides the ``*Loss`` family) that only make sense while training/evaluating."""

PASS_THROUGH_TYPES = frozenset({
    "ReLU", "PReLU", "ELU", "Dropout", "BatchNorm", "Scale", "Bias", "Clip", "Swish", "AbsVal",
    "BNLL", "Power", "ReLU6", "BN",
})
"""Element-wise layers normally written in place: their output replaces their input."""


def is_loss(layer_type: str) -> bool:
    """Caffe's loss layers all end in ``Loss`` (SoftmaxWithLoss, EuclideanLoss, MultiBoxLoss...)."""
    return layer_type.endswith("Loss")


def is_training_only(layer_type: str) -> bool:
    return is_loss(layer_type) or layer_type in TRAINING_ONLY_TYPES or layer_type in DATA_TYPES


def is_deploy_net(network) -> bool:
    """A deploy net: fed through ``Input`` layers (legacy ``input:`` fields become one) and
    reading no database -- what a runtime is given."""
    types = {layer.type for layer in network.layers}
    return "Input" in types and not types & DATA_TYPES
