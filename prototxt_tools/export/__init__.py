"""Caffe -> ONNX export, exact to Caffe's forward pass (the ``onnx`` command).

    from prototxt_tools.export import export_onnx
    exported = export_onnx("deploy.prototxt", "net.caffemodel", opset=17)
    exported.save("net.onnx")                 # external data automatically above 2 GiB
    exported.save("net.onnx", check=True)     # onnx's full checker first (imports onnx)
    onnx_bytes = exported.serialize()         # checked bytes, for onnxruntime.InferenceSession
    folded = export_onnx("deploy.prototxt", "net.caffemodel", optimize=True)  # BN/Scale folded

One exporter per Caffe layer type (:mod:`.registry`); the families live in :mod:`.nn`,
:mod:`.pooling`, :mod:`.activations`, :mod:`.normalization`, :mod:`.tensor`, :mod:`.resize`,
:mod:`.detection`, :mod:`.roi`, :mod:`.recurrent`, :mod:`.constants`; the types refused, with
their reasons, in :mod:`.refused` (:data:`REFUSED`).
Models are built with our own copy of ONNX's schema (:mod:`.onnx_proto`): the onnx package is
imported only to check a model, and nothing before this package in the pipeline (lint, shapes,
ir, load) imports anything of ONNX.
"""

from . import (activations, constants, detection, nn, normalization, pooling,  # noqa: F401
               recurrent, refused, resize, roi, tensor)  # (modules register their layer types)
from .build import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, check_supported, export_onnx
from .context import ExportContext, LayerUnsupported
from .model import ExportedModel
from .registry import EXPORTERS, REFUSED, Exporter, exporter, supported, supported_markdown

from ..plugins import register_pending_exporters as _register_plugin_exporters

# exporters that plugins registered before this package was imported (they wait so that a
# plugin never makes the linter import onnx); direct export_onnx users get them too
_register_plugin_exporters()

SUPPORTED: dict = supported()  # Caffe layer type -> restrictions note

__all__ = ["DEFAULT_OPSET", "EXPORTERS", "REFUSED", "ExportContext", "ExportedModel", "Exporter",
           "LayerUnsupported", "MAX_OPSET", "MIN_OPSET", "SUPPORTED", "check_supported",
           "export_onnx", "exporter", "supported", "supported_markdown"]
