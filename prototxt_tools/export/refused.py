"""Layer types the exporter refuses, each with the reason the user sees (up front, with the
layer's position, together with every other problem of the net).

A type is refused only when no exact ONNX expression of Caffe's forward pass exists, or when
the layer has no business in an inference graph (losses, accuracy, data readers).
"""

from __future__ import annotations

from .registry import refuse

TRAINING_ONLY = "training-only layer; make a deploy net with `prototxt-tools deploy`"

refuse("SoftmaxWithLoss", "InfogainLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss",
       "MultinomialLogisticLoss", "HingeLoss", "ContrastiveLoss", "Accuracy",
       reason=TRAINING_ONLY)

refuse("Data", "ImageData", "WindowData", "HDF5Data", "MemoryData",
       reason="a data layer reads its batches from a database, files or memory, which an ONNX "
              "graph cannot; " + TRAINING_ONLY + " (it replaces the data layer by an Input)")

refuse("HDF5Output",
       reason="writes its bottoms to an HDF5 file as a side effect; an ONNX graph has no file "
              "output (remove the layer: its bottoms then become net outputs)")

refuse("Filter",
       reason="keeps the items whose selector is non-zero, so its output's first axis is known "
              "only at run time (a data-dependent shape); the exporter writes Caffe's static "
              "shapes")

refuse("DetectionOutput",
       reason="SSD's detections are (1, 1, N, 7) with N, the boxes kept after NMS and "
              "keep_top_k, known only at run time, and no fixed-size ONNX output equals that; "
              "beyond the shape, keep_top_k ranks detections with std::sort, whose order for "
              "equal scores no ONNX op reproduces, and nms_param.eta < 1 (an adaptive NMS "
              "threshold) has no NonMaxSuppression equivalent.  Remove the layer to export the "
              "net up to its bottoms (box deltas, confidences and the PriorBox constants) and "
              "decode + NMS outside the graph")
